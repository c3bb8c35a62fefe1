"""`vestibule device read oximeter` end to end against the simulators."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from devices.oximeter.sim import ContecSim, NoninSim
from kiosk.cli import main

VESTIBULE = str(Path(sys.executable).with_name("vestibule"))


@pytest.fixture
def sim(tmp_path, request):
    cls = request.param if hasattr(request, "param") else ContecSim
    s = cls(link_path=str(tmp_path / "oximeter"))
    s.start()
    yield s
    s.stop()


def test_cli_prints_n_consecutive_contec_readings_as_json(sim, capsys):
    assert main(["device", "read", "oximeter", "--port", sim.link_path, "--protocol", "contec",
                 "--count", "5", "--json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 5
    for line in lines:
        reading = json.loads(line)
        assert {k: reading[k] for k in ("spo2", "pulse", "signal", "probe")} == \
            {"spo2": 97, "pulse": 72, "signal": 8, "probe": "ok"}
        stamp = datetime.fromisoformat(reading["ts"])
        assert stamp.tzinfo is not None and abs(stamp.timestamp() - time.time()) < 10


@pytest.mark.parametrize("sim", [NoninSim], indirect=True)
def test_cli_text_mode_prints_readable_nonin_lines(sim, capsys):
    sim.set_finger_out(True)
    assert main(["device", "read", "oximeter", "--port", sim.link_path, "--protocol", "nonin",
                 "--count", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert all("SpO2  -- %" in line and "probe finger_out" in line for line in lines), lines


def test_cli_missing_port_exits_1_with_a_clear_message(tmp_path, capsys):
    assert main(["device", "read", "oximeter", "--port", str(tmp_path / "ttyUSB9"), "--count", "1"]) == 1
    err = capsys.readouterr().err
    assert "does not exist" in err and "Traceback" not in err


def test_cli_silent_device_exits_1_without_traceback(sim):
    sim.answering = False
    started = time.monotonic()
    proc = subprocess.run([VESTIBULE, "device", "read", "oximeter", "--port", sim.link_path,
                           "--count", "1", "--timeout", "1.5"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1
    assert "no contec oximeter data within 1.5 s" in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert time.monotonic() - started < 20


def test_cli_unknown_protocol_exits_1(sim, capsys):
    assert main(["device", "read", "oximeter", "--port", sim.link_path, "--protocol", "masimo"]) == 1
    assert "unknown oximeter protocol 'masimo'" in capsys.readouterr().err


def test_cli_without_count_prints_changes_but_at_most_two_lines_per_second(sim):
    # Ctrl-C reaches a terminal's foreground job: SIGINT at its default, whatever this run inherited
    # (an asynchronous job of a shell without job control starts with SIGINT ignored)
    proc = subprocess.Popen([VESTIBULE, "device", "read", "oximeter", "--port", sim.link_path, "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # noqa: PLW1509
    try:
        first = json.loads(proc.stdout.readline())  # blocks until the stream is up
        assert first["spo2"] == 97
        started = time.monotonic()
        time.sleep(1.5)
        sim.set_values(spo2=90)
        lines = [first]
        while True:
            lines.append(json.loads(proc.stdout.readline()))
            if lines[-1]["spo2"] == 90 or time.monotonic() - started > 10:
                break
        elapsed = time.monotonic() - started
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
    assert lines[-1]["spo2"] == 90
    # 60 readings/s arrive; unchanged ones are shown about once a second (so at least once here).
    assert len(lines) <= 2 * elapsed + 2, (len(lines), elapsed)
    assert sum(line["spo2"] == 97 for line in lines) >= 2
    assert proc.returncode == 130 and "Traceback" not in err
