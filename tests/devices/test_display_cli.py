"""`vestibule device show` and `vestibule sim display` end to end."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from devices.display.sim import AlphaBoardSim, ModbusBoardSim, Shown
from kiosk.cli import main

VESTIBULE = str(Path(sys.executable).with_name("vestibule"))


@pytest.fixture
def signs(tmp_path):
    sim = AlphaBoardSim(link_path=str(tmp_path / "signs"), addresses="01,02")
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
def numbers(tmp_path):
    sim = ModbusBoardSim(link_path=str(tmp_path / "numbers"), addresses="1")
    sim.start()
    yield sim
    sim.stop()


def test_show_puts_the_call_on_the_addressed_sign(signs, capsys):
    assert main(["device", "show", "--display", signs.link_path, "--protocol", "alpha",
                 "--address", "02", "--text", "A023 → 12"]) == 0
    assert signs.shows("02") == Shown("A023 -> 12", "hold", "middle")
    assert "shown on alpha sign 02" in capsys.readouterr().out


def test_show_puts_a_number_on_a_modbus_board(numbers, capsys):
    assert main(["device", "show", "--display", f"serial://{numbers.link_path}", "--protocol", "modbus",
                 "--text", "-23"]) == 0
    assert numbers.number(1) == -23
    assert "unit 1" in capsys.readouterr().out


@pytest.mark.parametrize("text,message", [("12a", "whole number"), ("40000", "signed 16-bit")])
def test_modbus_text_that_is_not_a_16_bit_integer_exits_1(numbers, capsys, text, message):
    assert main(["device", "show", "--display", numbers.link_path, "--protocol", "modbus", "--text", text]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert numbers.number(1) is None


def test_text_a_sign_cannot_show_exits_1(signs, capsys):
    assert main(["device", "show", "--display", signs.link_path, "--protocol", "alpha",
                 "--address", "01", "--text", "Кабинет 3"]) == 1
    err = capsys.readouterr().err
    assert "ASCII" in err and "Traceback" not in err


def test_a_sign_that_does_not_answer_exits_1_with_a_clear_message(signs, capsys):
    assert main(["device", "show", "--display", signs.link_path, "--protocol", "alpha",
                 "--address", "05", "--text", "A1"]) == 1
    err = capsys.readouterr().err
    assert "error: Alpha sign 05" in err and "did not answer" in err and "Traceback" not in err


def test_missing_port_exits_1_without_traceback(tmp_path, capsys):
    assert main(["device", "show", "--display", str(tmp_path / "ttyUSB7"), "--protocol", "alpha",
                 "--text", "A1"]) == 1
    err = capsys.readouterr().err
    assert "does not exist" in err and "Traceback" not in err


def _start_sim(link: Path, *args: str) -> subprocess.Popen:
    proc = subprocess.Popen([VESTIBULE, "sim", "display", "--link", str(link), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 10
    while not os.path.lexists(link):
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, "simulator did not come up"
        time.sleep(0.05)
    return proc


@pytest.mark.parametrize("protocol,settings,address,text", [
    ("alpha", ["--set", "addresses=01,02"], "02", "B7 -> 4"),
    ("modbus", ["--set", "addresses=3"], "3", "42"),
])
def test_simulator_and_show_commands_work_together_as_processes(tmp_path, protocol, settings, address, text):
    link = tmp_path / "board"
    sim = _start_sim(link, "--protocol", protocol, *settings)
    try:
        shown = subprocess.run([VESTIBULE, "device", "show", "--display", str(link), "--protocol", protocol,
                                "--address", address, "--text", text], capture_output=True, text=True, timeout=30)
        assert shown.returncode == 0, shown.stderr
        assert text in shown.stdout
        absent = subprocess.run([VESTIBULE, "device", "show", "--display", str(link), "--protocol", protocol,
                                 "--address", "9", "--text", "1"], capture_output=True, text=True, timeout=30)
        assert absent.returncode == 1 and "did not answer" in absent.stderr and "Traceback" not in absent.stderr
    finally:
        sim.send_signal(signal.SIGTERM)
        sim.wait(timeout=10)
