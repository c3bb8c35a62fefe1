"""`vestibule device read thermometer` and `vestibule sim thermometer`, end to end."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from devices.errors import DeviceNotAnswering, DeviceUnavailable
from devices.thermometer import tool
from devices.thermometer.sim import OptrisSim
from devices.thermometer.bridge_sim import BridgeBoardSim

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "kiosk.cli"]


def run_cli(*args: str, timeout: float = 25.0) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


@pytest.mark.parametrize("sim_cls,protocol", [(BridgeBoardSim, "bridge"), (OptrisSim, "optris")])
def test_read_json_prints_one_object_per_reading(sim_cls, protocol):
    sim = sim_cls(celsius=37.0, ambient_celsius=21.0)
    sim.start()
    try:
        result = run_cli("device", "read", "thermometer", "--port", f"serial://{sim.link_path}",
                         "--protocol", protocol, "--count", "3", "--json")
    finally:
        sim.stop()
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 3
    for line in lines:
        obj = json.loads(line)
        assert obj["celsius"] == pytest.approx(37.0, abs=0.02)
        assert obj["ambient_celsius"] == pytest.approx(21.0, abs=0.02)
        assert obj["out_of_human_range"] is False
        assert datetime.fromisoformat(obj["ts"]).tzinfo is not None


def test_sim_command_and_read_command_together(tmp_path):
    link = tmp_path / "thermometer"
    sim = subprocess.Popen([*CLI, "sim", "thermometer", "--protocol", "bridge", "--link", str(link),
                            "--set", "celsius=38.2", "--set", "sensor_id=00000000000004d2"],
                           cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert "serving on" in sim.stdout.readline()
        result = run_cli("device", "read", "thermometer", "--port", str(link), "--protocol", "bridge",
                         "--count", "2")
    finally:
        sim.terminate()
        sim.wait(timeout=10)
    assert result.returncode == 0, result.stderr
    header, *readings = result.stdout.strip().splitlines()
    assert "sensor_id 00000000000004d2" in header and "firmware_version 1.0.0" in header
    assert len(readings) == 2 and all("38.19 °C" in r for r in readings)


def test_missing_port_exits_1_with_a_clear_message():
    result = run_cli("device", "read", "thermometer", "--port", "/nonexistent/ttyTHERMO",
                     "--protocol", "optris", "--count", "1")
    assert result.returncode == 1
    assert "error: serial port /nonexistent/ttyTHERMO does not exist" in result.stderr
    assert "Traceback" not in result.stderr


def test_silent_device_exits_1_with_a_clear_message():
    sim = BridgeBoardSim()
    sim.answering = False
    sim.start()
    try:
        result = run_cli("device", "read", "thermometer", "--port", sim.link_path, "--protocol", "bridge",
                         "--count", "1", "--timeout", "2")
    finally:
        sim.stop()
    assert result.returncode == 1
    assert "did not answer HELLO" in result.stderr and "Traceback" not in result.stderr


def test_read_in_process_counts_and_flags_out_of_range():
    sim = OptrisSim(celsius=25.0)
    sim.start()
    out = io.StringIO()
    try:
        assert tool.read(sim.link_path, "optris", 2, True, out, timeout=5) == 0
    finally:
        sim.stop()
    objs = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [o["out_of_human_range"] for o in objs] == [True, True]


def test_read_raises_not_answering_when_readings_stop():
    sim = BridgeBoardSim()
    sim.start()
    out = io.StringIO()
    sim.inject(corrupt_pec=True)  # the board answers, but never with a reading
    try:
        with pytest.raises(DeviceNotAnswering, match="no reading"):
            tool.read(sim.link_path, "bridge", 1, True, out, timeout=1.5)
    finally:
        sim.stop()
    assert out.getvalue() == ""


def test_read_sim_url_runs_the_simulator_in_process():
    out = io.StringIO()
    assert tool.read("sim://thermometer", "bridge", 1, True, out, timeout=5) == 0
    assert json.loads(out.getvalue())["celsius"] == pytest.approx(36.6, abs=0.02)


def test_empty_port_is_unavailable():
    with pytest.raises(DeviceUnavailable, match="no port given"):
        tool.read("", "bridge", 1, True, io.StringIO())
