"""`vestibule provision test DEVICE-ID`: each kind exercised against its simulator, PASS/FAIL in words."""
from __future__ import annotations

import threading

import tomlkit

from devices.display.sim import AlphaBoardSim, ModbusBoardSim
from devices.oximeter.sim import ContecSim
from devices.printer.sim import EscposPrinterSim
from devices.scanner.sim import LineScannerSim
from devices.thermometer.bridge_sim import BridgeBoardSim
from kiosk.cli import main
from tests.conftest import ROOT


def config_with(tmp_path, **devices):
    doc = tomlkit.parse((ROOT / "config" / "example.toml").read_text(encoding="utf-8"))
    doc["node"]["store"] = str(tmp_path / "node.db")
    doc["devices"] = devices
    path = tmp_path / "node.toml"
    path.write_text(tomlkit.dumps(doc), encoding="utf-8")
    return path


def started(sim_cls, tmp_path, name, **settings):
    sim = sim_cls(link_path=str(tmp_path / name), **settings)
    sim.start()
    return sim


def run(config, device_id, capsys, *extra):
    code = main(["provision", "test", device_id, "--config", str(config), *extra])
    return code, capsys.readouterr().out


def test_printer_test_page_is_printed_and_passes(tmp_path, capsys):
    sim = started(EscposPrinterSim, tmp_path, "printer")
    try:
        config = config_with(tmp_path, **{"printer-1": {"kind": "printer", "protocol": "escpos",
                                                        "url": f"serial://{sim.link_path}"}})
        code, out = run(config, "printer-1", capsys)
        assert code == 0, out
        assert out.startswith("PASS printer-1") and "test page printed" in out
        assert len(sim.wait_for_documents(1)) == 1
    finally:
        sim.stop()


def test_printer_out_of_paper_fails_in_words(tmp_path, capsys):
    sim = started(EscposPrinterSim, tmp_path, "printer", paper_out=True)
    try:
        config = config_with(tmp_path, **{"printer-1": {"kind": "printer", "protocol": "escpos",
                                                        "url": f"serial://{sim.link_path}"}})
        code, out = run(config, "printer-1", capsys)
        assert code == 1 and out.startswith("FAIL printer-1") and "paper_out" in out
    finally:
        sim.stop()


def test_oximeter_gives_five_readings(tmp_path, capsys):
    sim = started(ContecSim, tmp_path, "oxi", spo2=96, pulse=64)
    try:
        config = config_with(tmp_path, **{"oximeter-1": {"kind": "oximeter", "protocol": "contec",
                                                         "url": f"serial://{sim.link_path}"}})
        code, out = run(config, "oximeter-1", capsys)
        assert code == 0, out
        assert out.count("SpO2 96 % pulse 64") == 5
    finally:
        sim.stop()


def test_oximeter_with_the_finger_out_fails_and_says_why(tmp_path, capsys):
    sim = started(ContecSim, tmp_path, "oxi", finger_out=True)
    try:
        config = config_with(tmp_path, **{"oximeter-1": {"kind": "oximeter", "protocol": "contec",
                                                         "url": f"serial://{sim.link_path}"}})
        code, out = run(config, "oximeter-1", capsys, "--timeout", "2")
        assert code == 1 and "0 of 5 readings" in out and "finger in the clip" in out
    finally:
        sim.stop()


def test_thermometer_gives_five_temperatures(tmp_path, capsys):
    sim = started(BridgeBoardSim, tmp_path, "thermo", celsius=36.61)
    try:
        config = config_with(tmp_path, **{"thermometer-1": {"kind": "thermometer", "protocol": "bridge",
                                                            "url": f"serial://{sim.link_path}",
                                                            "options": {"rate_hz": 10}}})
        code, out = run(config, "thermometer-1", capsys)
        assert code == 0, out
        assert out.count("36.61 °C") == 5
    finally:
        sim.stop()


def test_boards_show_the_test_text(tmp_path, capsys):
    alpha = started(AlphaBoardSim, tmp_path, "alpha", addresses="01")
    numbers = started(ModbusBoardSim, tmp_path, "modbus", addresses="3")
    try:
        config = config_with(tmp_path, **{
            "board-1": {"kind": "display", "protocol": "alpha", "url": f"serial://{alpha.link_path}",
                        "rooms": ["12"], "options": {"address": "01"}},
            "board-2": {"kind": "display", "protocol": "modbus", "url": f"serial://{numbers.link_path}",
                        "rooms": ["5"], "options": {"address": 3}}})
        assert run(config, "board-1", capsys)[0] == 0
        assert alpha.shows("01").text == "TEST 123"
        assert run(config, "board-2", capsys)[0] == 0
        assert numbers.shows(3).text == "888"
    finally:
        alpha.stop()
        numbers.stop()


def test_scanner_passes_on_a_scan_and_fails_without_one(tmp_path, capsys):
    sim = started(LineScannerSim, tmp_path, "scanner")
    try:
        config = config_with(tmp_path, **{"scanner-1": {"kind": "scanner", "protocol": "cdc",
                                                        "url": f"serial://{sim.link_path}"}})
        code, out = run(config, "scanner-1", capsys, "--timeout", "1")
        assert code == 1 and "no code scanned" in out
        timer = threading.Timer(0.5, sim.scan, args=("BK-12345",))
        timer.start()
        code, out = run(config, "scanner-1", capsys, "--timeout", "10")
        assert code == 0 and "scanned 'BK-12345'" in out
    finally:
        sim.stop()


def test_a_missing_device_fails_with_the_fix(tmp_path, capsys):
    config = config_with(tmp_path, **{"oximeter-1": {"kind": "oximeter", "protocol": "contec",
                                                     "url": f"serial://{tmp_path}/vestibule/oximeter-1"}})
    code, out = run(config, "oximeter-1", capsys)
    assert code == 1 and "does not exist" in out
    code, out = run(config, "oximeter-9", capsys)
    assert code == 1 and "not in" in out and "provision assign oximeter-9" in out
