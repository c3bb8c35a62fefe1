"""`vestibule provision discover` and `assign` against simulators on ptys behind a fake /sys tree."""
from __future__ import annotations

import json
import os

import pytest

from devices.display.sim import AlphaBoardSim, ModbusBoardSim
from devices.oximeter.sim import ContecSim, NoninSim
from devices.printer.sim import EscposPrinterSim
from devices.pty import open_raw_pty
from devices.scanner.sim import LineScannerSim
from devices.thermometer.bridge_sim import BridgeBoardSim
from devices.thermometer.sim import OptrisSim
from kiosk.cli import main
from provisioning import udev
from tests.support.fake_sysfs import FakeUsbTree

# name, simulator, VID, PID, serial, what discover must say
BENCH = [
    ("ttyUSB0", ContecSim, 0x10C4, 0xEA60, "OX-0001", ("oximeter", "contec", {"model": "CMS50D+", "device_id": "SIM0001"})),
    ("ttyUSB1", NoninSim, 0x0403, 0x6001, "A10NN1", ("oximeter", "nonin", {})),
    ("ttyACM0", BridgeBoardSim, 0x2E8A, 0x0005, "E6605838", ("thermometer", "bridge", {"sensor_id": "0b1e2a3c4d5e6f70"})),
    ("ttyUSB2", OptrisSim, 0x0403, 0x6015, "OP77", ("thermometer", "optris", {"serial": 1234567})),
    ("ttyUSB3", EscposPrinterSim, 0x04B8, 0x0E15, "PRN42", ("printer", "escpos", {"status": "ok"})),
    ("ttyUSB4", AlphaBoardSim, 0x067B, 0x2303, None, ("display", "alpha", {})),
    ("ttyUSB5", ModbusBoardSim, 0x1A86, 0x7523, "MB5", ("display", "modbus", {"unit": 1})),
]


@pytest.fixture
def bench(tmp_path):
    tree = FakeUsbTree(tmp_path / "root")
    sims = []
    for name, cls, vid, pid, serial, _ in BENCH:
        tree.add_tty(name, vid, pid, serial)
        sim = cls(link_path=tree.node(name))
        sim.start()
        sims.append(sim)
    # a scanner in CDC mode says nothing until it scans; a dead adapter says nothing at all
    tree.add_tty("ttyACM1", 0x0C2E, 0x0B61, "SCN1", manufacturer="Honeywell", product_name="Xenon 1900")
    scanner = LineScannerSim(link_path=tree.node("ttyACM1"))
    scanner.start()
    sims.append(scanner)
    tree.add_tty("ttyUSB9", 0x10C4, 0xEA60, "DEAD")
    dead = open_raw_pty()
    os.symlink(dead.path, tree.node("ttyUSB9"))
    yield tree
    for sim in sims:
        sim.stop()
    dead.close()


def run_discover(tree, capsys, *extra) -> dict[str, dict]:
    assert main(["provision", "discover", "--json", "--sysfs", str(tree.sysfs), "--dev", str(tree.dev), *extra]) == 0
    return {row["name"]: row for row in json.loads(capsys.readouterr().out)}


def test_discover_finds_and_identifies_every_simulated_device(bench, capsys):
    rows = run_discover(bench, capsys)
    assert set(rows) == {name for name, *_ in BENCH} | {"ttyACM1", "ttyUSB9"}
    for name, _, vid, pid, serial, (kind, protocol, identity) in BENCH:
        row = rows[name]
        assert (row["kind"], row["protocol"]) == (kind, protocol), row
        assert row["vid_pid"] == f"{vid:04x}:{pid:04x}"
        assert row["serial"] == serial
        assert row["port"] == str(bench.dev / name)
        for key, value in identity.items():
            assert row["identity"][key] == value, row
    assert rows["ttyUSB0"]["adapter"] == "Silicon Labs CP210x USB-serial"
    assert rows["ttyUSB3"]["adapter"] == "Seiko Epson printer"
    assert rows["ttyUSB0"]["by_id"].endswith("OX-0001-if00-port0")
    for silent in ("ttyACM1", "ttyUSB9"):
        assert rows[silent]["answered"] is False and rows[silent]["error"] is None
    assert "scanner" in rows["ttyACM1"]["note"]


def test_discover_table_goes_to_stdout_and_progress_to_stderr(bench, capsys):
    assert main(["provision", "discover", "--sysfs", str(bench.sysfs), "--dev", str(bench.dev)]) == 0
    out, err = capsys.readouterr()
    assert "oximeter/contec" in out and "CP210x" in out and "printer/escpos" in out
    assert "9 candidate(s), 7 identified" in err
    assert "identified" not in out


def test_assign_binds_the_probed_device_in_config_and_udev_rule(bench, capsys, tmp_path):
    config = tmp_path / "node.toml"
    config.write_text('# the node\n[site]\nid = "s"  # site id\n\n[devices.printer-1]\n# the kiosk printer\n'
                      'kind = "printer"\nprotocol = "escpos"\nurl = "usb://04b8:0e15"\n')
    rules = tmp_path / "rules" / "70-vestibule.rules"
    assert main(["provision", "assign", "oximeter-1", "--port", str(bench.dev / "ttyUSB0"), "--role", "screening-1",
                 "--config", str(config), "--sysfs", str(bench.sysfs), "--dev", str(bench.dev),
                 "--rules", str(rules)]) == 0
    out = capsys.readouterr().out
    assert "oximeter/contec" in out and "udevadm control --reload-rules" in out
    text = config.read_text()
    assert text.startswith('# the node\n[site]\nid = "s"  # site id\n')  # comments and order kept
    assert "# the kiosk printer" in text
    assert text.index("[devices.printer-1]") < text.index("[devices.oximeter-1]")
    assert f'url = "serial://{bench.dev}/vestibule/oximeter-1"' in text and 'role = "screening-1"' in text
    rule = udev.parse_rule(rules.read_text().split("# vestibule: oximeter-1\n")[1].splitlines()[0])
    assert rule == {"SUBSYSTEM": "tty", "ATTRS{idVendor}": "10c4", "ATTRS{idProduct}": "ea60",
                    "ATTRS{serial}": "OX-0001", "SYMLINK": "vestibule/oximeter-1", "GROUP": "dialout",
                    "MODE": "0660", "ENV{ID_MM_DEVICE_IGNORE}": "1"}
    assert os.path.realpath(bench.dev / "vestibule" / "oximeter-1") == os.path.realpath(bench.dev / "ttyUSB0")
    rows = run_discover(bench, capsys, "--rules", str(rules), "--config", str(config))
    assert rows["ttyUSB0"]["configured"] == "oximeter-1"
    assert rows["ttyUSB1"]["configured"] is None


def test_assign_without_a_serial_number_binds_the_usb_port(bench, capsys, tmp_path):
    config = tmp_path / "node.toml"
    config.write_text("[devices]\n")
    rules = tmp_path / "70-vestibule.rules"
    assert main(["provision", "assign", "board-1", "--port", str(bench.dev / "ttyUSB4"), "--config", str(config),
                 "--sysfs", str(bench.sysfs), "--dev", str(bench.dev), "--rules", str(rules)]) == 0
    binding = udev.read_bindings(rules)["board-1"]
    assert (binding.serial, binding.usb_path) == (None, "1-6")
    assert 'KERNELS=="1-6"' in rules.read_text()


def test_assign_refuses_a_port_where_nothing_answers(bench, capsys, tmp_path):
    config = tmp_path / "node.toml"
    config.write_text("[devices]\n")
    code = main(["provision", "assign", "oximeter-2", "--port", str(bench.dev / "ttyUSB9"), "--kind", "oximeter",
                 "--config", str(config), "--sysfs", str(bench.sysfs), "--dev", str(bench.dev),
                 "--rules", str(tmp_path / "r.rules")])
    assert code == 1
    err = capsys.readouterr().err
    assert "nothing answered" in err and "provision discover" in err
    assert config.read_text() == "[devices]\n"


def test_assign_refuses_a_device_of_another_kind(bench, capsys, tmp_path):
    config = tmp_path / "node.toml"
    config.write_text("[devices]\n")
    code = main(["provision", "assign", "oximeter-2", "--port", str(bench.dev / "ttyUSB3"), "--protocol", "escpos",
                 "--kind", "oximeter", "--config", str(config), "--sysfs", str(bench.sysfs), "--dev", str(bench.dev),
                 "--rules", str(tmp_path / "r.rules")])
    assert code == 1
    assert "not as oximeter/escpos" in capsys.readouterr().err


def test_a_silent_cdc_scanner_is_assigned_by_kind_and_protocol(bench, capsys, tmp_path):
    config = tmp_path / "node.toml"
    config.write_text("[devices]\n")
    rules = tmp_path / "r.rules"
    assert main(["provision", "assign", "scanner-1", "--port", str(bench.dev / "ttyACM1"), "--kind", "scanner",
                 "--protocol", "cdc", "--config", str(config), "--sysfs", str(bench.sysfs), "--dev", str(bench.dev),
                 "--rules", str(rules)]) == 0
    assert udev.read_bindings(rules)["scanner-1"].serial == "SCN1"
    assert 'protocol = "cdc"' in config.read_text()


def test_discover_probes_only_the_ports_named(bench, capsys, tmp_path):
    rows = run_discover(bench, capsys, "--port", str(bench.dev / "ttyUSB2"), "--port", str(tmp_path / "gone"))
    assert set(rows) == {"ttyUSB2", "gone"}
    assert (rows["ttyUSB2"]["protocol"], rows["ttyUSB2"]["serial"]) == ("optris", "OP77")
    assert "does not exist" in rows["gone"]["error"]


def test_hid_scanners_and_usb_printers_are_listed_and_keyboards_are_not(tmp_path, capsys):
    tree = FakeUsbTree(tmp_path / "root")
    tree.add_input("event3", 0x0C2E, 0x0B61, "Honeywell Imaging & Mobility 1900", serial="HID77")
    tree.add_input("event4", 0x046D, 0xC31C, "Logitech USB Keyboard")
    tree.add_input("event5", 0x1234, 0x0001, "Generic 2D Barcode Scanner")
    tree.add_usb_printer(0x04B8, 0x0E15, "PRN42")
    rows = run_discover(tree, capsys)
    assert set(rows) == {"event3", "event5", "usb 1-4"}
    assert rows["event3"]["subsystem"] == "input" and rows["event3"]["adapter"] == "Honeywell (Metrologic) scanner"
    assert "HID keyboard-mode scanner" in rows["event3"]["note"]
    printer = rows["usb 1-4"]
    assert (printer["port"], printer["adapter"], printer["product"]) == (
        "usb://04b8:0e15/PRN42", "Seiko Epson printer", "TM-T20II")
    assert printer["tried"] == ["escpos"]  # through pyusb; no USB hardware here, so it cannot answer

    config = tmp_path / "node.toml"
    config.write_text("[devices]\n")
    rules = tmp_path / "r.rules"
    roots = ["--sysfs", str(tree.sysfs), "--dev", str(tree.dev), "--rules", str(rules), "--config", str(config)]
    assert main(["provision", "assign", "scanner-1", "--port", str(tree.dev / "input" / "event3"), *roots]) == 0
    rule = udev.read_bindings(rules)["scanner-1"]
    assert (rule.subsystem, rule.serial) == ("input", "HID77")
    assert 'GROUP="input"' in rules.read_text()
    assert 'protocol = "hid"' in config.read_text()


def test_a_port_held_by_another_program_names_the_holder(bench, capsys):
    from devices.serial_port import open_serial
    from devices.url import parse_device_url
    held = open_serial(parse_device_url(f"serial://{bench.dev / 'ttyUSB0'}"), baud=115200)
    try:
        rows = run_discover(bench, capsys, "--port", str(bench.dev / "ttyUSB0"))
    finally:
        held.close()
    assert rows["ttyUSB0"]["answered"] is False
    assert f"in use by PID {os.getpid()}" in rows["ttyUSB0"]["error"]
