"""`vestibule device status printer` / `vestibule device print` end to end against the simulator."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from devices.printer.sim import EscposPrinterSim
from kiosk.cli import main

VESTIBULE = str(Path(sys.executable).with_name("vestibule"))


def run(*args, timeout=60) -> subprocess.CompletedProcess:
    """The installed `vestibule` command in its own process."""
    return subprocess.run([VESTIBULE, *args], capture_output=True, text=True, timeout=timeout)


def run_here(capsys, *args) -> subprocess.CompletedProcess:
    """The same entry point in this process (faster; used where a second process adds nothing)."""
    code = main(list(args))
    captured = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, captured.out, captured.err)


@pytest.fixture
def sim(tmp_path):
    s = EscposPrinterSim(link_path=str(tmp_path / "printer"))
    s.start()
    yield s
    s.stop()


def test_status_json_reports_ready(sim):
    result = run("device", "status", "printer", "--printer", f"serial://{sim.link_path}", "--json")
    assert result.returncode == 0, result.stderr
    assert [json.loads(line) for line in result.stdout.splitlines()] == [{"state": "ready", "problems": []}]


def test_status_json_reports_paper_near_end_as_degraded(sim, capsys):
    sim.paper_near_end = True
    result = run_here(capsys, "device", "status", "printer", "--printer", f"serial://{sim.link_path}", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"state": "degraded", "problems": ["paper_near_end"]}


def test_status_with_paper_out_prints_the_fault_and_exits_1(sim, capsys):
    sim.set_paper("out")
    result = run_here(capsys, "device", "status", "printer", "--printer", f"serial://{sim.link_path}")
    assert result.returncode == 1
    assert "fault" in result.stdout and "paper_out" in result.stdout
    assert "Traceback" not in result.stderr


def test_print_chinese_receipt_sample_reaches_the_printer(sim):
    url = f"serial://{sim.link_path}?scripts=latin,cyrillic,cjk"
    result = run("device", "print", "--printer", url, "--sample", "receipt", "--lang", "zh")
    assert result.returncode == 0, result.stderr
    assert "printed sample receipt (zh" in result.stdout
    [doc] = sim.wait_for_documents(1)
    assert "诊室 214, 2 楼" in doc.text_lines and doc.qr_payloads == ["BK-7F3K2Q"]


def test_print_with_a_vendor_profile_uses_its_cyrillic_code_page(tmp_path, capsys):
    s = EscposPrinterSim(link_path=str(tmp_path / "rongta"), profile="RP326")
    s.start()
    try:
        result = run_here(capsys, "device", "print", "--printer", s.link_path, "--sample", "ticket",
                          "--lang", "ru", "--profile", "RP326")
        assert result.returncode == 0, result.stderr
        [doc] = s.wait_for_documents(1)
        assert "Перед вами: 3" in doc.text_lines
    finally:
        s.stop()


def test_print_refused_when_cover_open_exits_1(sim, capsys):
    sim.cover_open = True
    result = run_here(capsys, "device", "print", "--printer", sim.link_path, "--sample", "ticket", "--lang", "en")
    assert result.returncode == 1
    assert "not printed" in result.stdout and "cover_open" in result.stdout
    time.sleep(0.2)
    assert sim.documents == []


def test_missing_port_exits_1_without_traceback(tmp_path):
    result = run("device", "status", "printer", "--printer", f"serial://{tmp_path}/ttyUSB9", "--json")
    assert result.returncode == 1
    assert "does not exist" in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""
    result = run("device", "print", "--printer", str(tmp_path / "ttyUSB9"), "--sample", "receipt")
    assert result.returncode == 1 and "Traceback" not in result.stderr


def test_silent_printer_exits_1_without_traceback(sim, capsys):
    sim.answering = False
    result = run_here(capsys, "device", "status", "printer", "--printer",
                      f"serial://{sim.link_path}?status_timeout=0.5")
    assert result.returncode == 1
    assert "did not answer" in result.stderr and "Traceback" not in result.stderr


def test_unknown_profile_exits_1_naming_it(sim, capsys):
    result = run_here(capsys, "device", "print", "--printer", sim.link_path, "--profile", "NoSuchPrinter")
    assert result.returncode == 1
    assert "NoSuchPrinter" in result.stderr and "Traceback" not in result.stderr


def test_simulator_runs_from_the_cli_with_settings(tmp_path):
    link = tmp_path / "printer"
    proc = subprocess.Popen([VESTIBULE, "sim", "printer", "--protocol", "escpos", "--link", str(link),
                             "--set", "paper_near_end=true"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        deadline = time.monotonic() + 15
        while not link.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        result = run("device", "status", "printer", "--printer", str(link), "--json")
        assert json.loads(result.stdout) == {"state": "degraded", "problems": ["paper_near_end"]}
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_print_preview_renders_what_the_printer_would_print_to_a_png_without_a_printer(tmp_path, capsys):
    from PIL import Image
    out = tmp_path / "receipt.png"
    result = run_here(capsys, "device", "print", "--preview", str(out), "--sample", "receipt", "--lang", "zh")
    assert result.returncode == 0, result.stderr
    assert f"written to {out}" in result.stdout
    image = Image.open(out)
    assert image.width == 576 and image.height > 400  # 80 mm paper at 203 dpi, a whole receipt
