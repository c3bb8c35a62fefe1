"""CDC-ACM scanner driver against the pty simulator, and `vestibule device read scanner`."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from devices.errors import DeviceUnavailable
from devices.scanner.driver import LineScanner
from devices.scanner.sim import LineScannerSim
from devices.status import DeviceState
from devices.url import parse_device_url
from kiosk.cli import main

VESTIBULE = str(Path(sys.executable).with_name("vestibule"))


@pytest.fixture
def sim(tmp_path, request):
    settings = getattr(request, "param", {})
    s = LineScannerSim(link_path=str(tmp_path / "scanner"), **settings)
    s.start()
    yield s
    s.stop()


def _read_codes(scanner, n, deadline=10.0):
    got, end = [], time.monotonic() + deadline
    while len(got) < n and time.monotonic() < end:
        got += scanner.read(0.5)
    return got


def test_scanned_codes_arrive_as_readings(sim):
    with LineScanner("scanner-1", parse_device_url(sim.link_path), {}) as scanner:
        assert scanner.status().state == DeviceState.READY
        before = time.time()
        sim.scan("BK-2024-0042")
        sim.scan("https://clinic.example/b/7")
        readings = _read_codes(scanner, 2)
        assert [r.code for r in readings] == ["BK-2024-0042", "https://clinic.example/b/7"]
        assert all(before <= r.ts <= time.time() for r in readings)


@pytest.mark.parametrize("sim", [{"suffix": "crlf"}, {"suffix": "lf"}], indirect=True)
def test_scanners_configured_with_crlf_or_lf_work_too(sim):
    with LineScanner("scanner-1", parse_device_url(sim.link_path), {}) as scanner:
        sim.scan("A1")
        sim.scan("B2")
        assert [r.code for r in _read_codes(scanner, 2)] == ["A1", "B2"]


def test_line_noise_is_dropped_and_counted(sim):
    with LineScanner("scanner-1", parse_device_url(sim.link_path), {}) as scanner:
        sim.send_raw(b"\x00\xf8\x13garbage\r")
        sim.scan("OK-1")
        assert [r.code for r in _read_codes(scanner, 1)] == ["OK-1"]
        assert scanner.rejected == 1


def test_unplug_raises_unavailable_and_replug_reads_again(sim):
    scanner = LineScanner("scanner-1", parse_device_url(sim.link_path), {})
    scanner.open()
    try:
        sim.unplug()
        with pytest.raises(DeviceUnavailable, match="is gone"):
            _read_codes(scanner, 1)
        assert scanner.status().state == DeviceState.OFFLINE
        sim.replug()
        scanner.close()
        scanner.open()
        sim.scan("AFTER-1")
        assert [r.code for r in _read_codes(scanner, 1)] == ["AFTER-1"]
        assert scanner.status().state == DeviceState.READY
    finally:
        scanner.close()


def test_missing_port_is_unavailable(tmp_path):
    with pytest.raises(DeviceUnavailable, match="does not exist"):
        LineScanner("scanner-1", parse_device_url(str(tmp_path / "ttyACM3")), {}).open()


# -- CLI ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("sim", [{"code": "BK-7781", "every": 0.2}], indirect=True)
def test_cli_prints_one_json_object_per_scan(sim, capsys):
    assert main(["device", "read", "scanner", "--port", sim.link_path, "--count", "2", "--json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    for line in lines:
        reading = json.loads(line)
        assert set(reading) == {"code", "ts"} and reading["code"] == "BK-7781"
        stamp = datetime.fromisoformat(reading["ts"])
        assert stamp.tzinfo is not None and abs(stamp.timestamp() - time.time()) < 10


def test_cli_with_no_scan_within_the_timeout_exits_1(sim, capsys):
    assert main(["device", "read", "scanner", "--port", sim.link_path, "--timeout", "0.5"]) == 1
    err = capsys.readouterr().err
    assert "no code scanned within 0.5 s" in err and "Traceback" not in err


def test_cli_missing_port_exits_1_without_traceback(tmp_path, capsys):
    assert main(["device", "read", "scanner", "--port", str(tmp_path / "ttyACM9"), "--count", "1"]) == 1
    err = capsys.readouterr().err
    assert "does not exist" in err and "Traceback" not in err


def test_cli_simulator_and_reader_work_together_as_processes(tmp_path):
    link = tmp_path / "scanner"
    sim = subprocess.Popen([VESTIBULE, "sim", "scanner", "--protocol", "cdc", "--link", str(link),
                            "--set", "code=BK-5150", "--set", "every=0.3"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 10
        while not os.path.lexists(link):
            assert sim.poll() is None and time.monotonic() < deadline, "simulator did not come up"
            time.sleep(0.05)
        reader = subprocess.run([VESTIBULE, "device", "read", "scanner", "--port", f"serial://{link}",
                                 "--count", "1", "--json"], capture_output=True, text=True, timeout=30)
        assert reader.returncode == 0, reader.stderr
        assert json.loads(reader.stdout)["code"] == "BK-5150"
    finally:
        sim.send_signal(signal.SIGTERM)
        sim.wait(timeout=10)
