"""`vestibule provision install --root DIR`: everything staged, the units pass `systemd-analyze verify`
(no warnings either), hardened as promised, modes right, udev rules parse."""
from __future__ import annotations

import os
import shutil
import stat
import subprocess

import pytest
import tomlkit

from kiosk.cli import main
from provisioning import udev
from tests.conftest import ROOT

UNITS = "etc/systemd/system"


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def staged(tmp_path, capsys):
    doc = tomlkit.parse((ROOT / "config" / "example.toml").read_text(encoding="utf-8"))
    doc["devices"] = {
        "oximeter-1": {"kind": "oximeter", "protocol": "contec", "url": "serial:///dev/vestibule/oximeter-1",
                       "role": "screening-1"},
        "printer-1": {"kind": "printer", "protocol": "escpos", "url": "usb://04b8:0e15/PRN42", "role": "kiosk-1"},
        "scanner-1": {"kind": "scanner", "protocol": "hid", "url": "serial:///dev/vestibule/scanner-1",
                      "role": "kiosk-1"},
    }
    config = tmp_path / "node.toml"
    config.write_text(tomlkit.dumps(doc))
    rules = tmp_path / "70-vestibule.rules"
    udev.write_binding(udev.Binding("oximeter-1", "tty", 0x10C4, 0xEA60, "OX-0001"), rules)
    udev.write_binding(udev.Binding("printer-1", "usb", 0x04B8, 0x0E15, "PRN42"), rules)
    udev.write_binding(udev.Binding("scanner-1", "input", 0x0C2E, 0x0B61, None, "1-4"), rules)
    root = tmp_path / "root"
    assert main(["provision", "install", "--config", str(config), "--root", str(root), "--rules", str(rules)]) == 0
    out = capsys.readouterr().out
    return root, out, config


def unit_names(root) -> list[str]:
    return sorted(p.name for p in (root / UNITS).glob("vestibule-*.service"))


def test_staged_units_pass_systemd_analyze_verify_without_a_warning(staged):
    root, _, _ = staged
    assert shutil.which("systemd-analyze"), "systemd-analyze is installed by scripts/bootstrap.sh"
    wants = sorted(p.name for d in (root / UNITS).glob("*.target.wants") for p in d.iterdir())
    # the config's screens: its kiosk and post (device roles) and its TV boards ([boards.*])
    assert wants == ["vestibule-board@tv-1.service", "vestibule-board@tv-lab.service",
                     "vestibule-controller.service", "vestibule-kiosk@kiosk-1.service",
                     "vestibule-screening@screening-1.service"]
    env = {**os.environ, "SYSTEMD_UNIT_PATH": f"{root / UNITS}:"}
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", *wants], env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0 and result.stderr == "" and result.stdout == "", result.stderr


def test_a_broken_unit_is_caught_by_the_same_check(staged):
    root, _, _ = staged
    unit = root / UNITS / "vestibule-controller.service"
    unit.write_text(unit.read_text().replace("Type=notify", "Type=notifyy"))
    env = {**os.environ, "SYSTEMD_UNIT_PATH": f"{root / UNITS}:"}
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", "vestibule-controller.service"], env=env,
                            capture_output=True, text=True, check=False)
    assert "notifyy" in result.stderr


def test_controller_unit_is_notify_with_watchdog_hardened_and_allowed_only_its_device_classes(staged):
    root, _, _ = staged
    lines = (root / UNITS / "vestibule-controller.service").read_text().splitlines()
    for line in ("Type=notify", "WatchdogSec=30", "NoNewPrivileges=true", "ProtectSystem=strict",
                 "DevicePolicy=closed", "User=vestibule", "CapabilityBoundingSet="):
        assert line in lines
    assert sorted(x for x in lines if x.startswith("DeviceAllow=")) == [
        "DeviceAllow=char-input r", "DeviceAllow=char-ttyACM rw", "DeviceAllow=char-ttyUSB rw",
        "DeviceAllow=char-usb_device rw"]
    kiosk = (root / UNITS / "vestibule-kiosk@.service").read_text().splitlines()
    assert "NoNewPrivileges=true" in kiosk and "User=vestibule-ui" in kiosk
    assert not any("tty" in x for x in kiosk if x.startswith("DeviceAllow="))  # screens never open a device


def test_stand_in_core_only_when_asked(staged, tmp_path, capsys):
    root, _, config = staged
    assert "vestibule-devcore.service" not in unit_names(root)
    other = tmp_path / "with-core"
    assert main(["provision", "install", "--config", str(config), "--root", str(other), "--with-devcore",
                 "--rules", str(tmp_path / "none.rules")]) == 0
    assert "vestibule-devcore.service" in unit_names(other)
    assert (other / UNITS / "multi-user.target.wants" / "vestibule-devcore.service").is_symlink()


def test_directories_config_and_secrets_have_their_modes(staged):
    root, out, _ = staged
    assert mode(root / "etc/vestibule") == 0o750
    assert mode(root / "var/lib/vestibule") == 0o750
    assert mode(root / "etc/vestibule/node.toml") == 0o640
    for secret in (root / "etc/vestibule/broker").glob("*.password"):
        assert mode(secret) == 0o600, secret
    node = (root / "etc/vestibule/node.toml").read_text()
    assert node.startswith("# Vestibule node configuration")
    assert 'store = "/var/lib/vestibule/entrance-1.db"' in node
    assert 'password_file = "/etc/vestibule/broker/controller.password"' in node
    conf = (root / "etc/vestibule/broker/mosquitto.conf").read_text()
    assert "password_file /etc/vestibule/broker/passwords" in conf and "allow_anonymous false" in conf
    dropin = (root / UNITS / "mosquitto.service.d/vestibule.conf").read_text()
    assert "-c /etc/vestibule/broker/mosquitto.conf" in dropin
    sysusers = (root / "usr/lib/sysusers.d/vestibule.conf").read_text()
    assert "m vestibule dialout" in sysusers
    assert "m vestibule-ui vestibule" in sysusers  # the screens read node.toml (0640 root:vestibule)
    assert "m vestibule-ui dialout" not in sysusers  # and never a device
    assert "[7] systemd units" in out and "(staged: would run `systemctl daemon-reload`)" in out


def test_staged_udev_rules_parse_with_group_mode_and_modemmanager_ignore(staged):
    root, _, _ = staged
    text = (root / "etc/udev/rules.d/70-vestibule.rules").read_text()
    rules = {}
    current = None
    for line in text.splitlines():
        if line.startswith("# vestibule: "):
            current = line.split(": ", 1)[1]
        elif line and not line.startswith("#"):
            rules[current] = udev.parse_rule(line)
    assert set(rules) == {"oximeter-1", "printer-1", "scanner-1"}
    assert (rules["oximeter-1"]["GROUP"], rules["printer-1"]["GROUP"], rules["scanner-1"]["GROUP"]) == (
        "dialout", "plugdev", "input")
    assert rules["scanner-1"]["KERNELS"] == "1-4"
    for rule in rules.values():
        assert rule["ENV{ID_MM_DEVICE_IGNORE}"] == "1" and rule["SYMLINK"].startswith("vestibule/")
        assert set(rule) <= {"SUBSYSTEM", "ENV{DEVTYPE}", "KERNEL", "KERNELS", "ATTRS{idVendor}",
                             "ATTRS{idProduct}", "ATTRS{serial}", "SYMLINK", "GROUP", "MODE",
                             "ENV{ID_MM_DEVICE_IGNORE}"}


def test_an_invalid_config_installs_nothing(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('[site]\nid = "Not Valid"\n')
    assert main(["provision", "install", "--config", str(bad), "--root", str(tmp_path / "root")]) == 2
    assert "nothing was installed" in capsys.readouterr().out
    assert not (tmp_path / "root").exists()


def test_a_demo_node_on_simulators_gets_pseudo_terminals_and_still_verifies(tmp_path, capsys):
    root = tmp_path / "root"
    assert main(["provision", "install", "--config", str(ROOT / "config" / "example.toml"), "--root", str(root),
                 "--rules", str(tmp_path / "none.rules")]) == 0
    lines = (root / UNITS / "vestibule-controller.service").read_text().splitlines()
    assert sorted(x for x in lines if x.startswith("DeviceAllow=")) == ["DeviceAllow=/dev/ptmx rw",
                                                                        "DeviceAllow=char-pts rw"]
    wants = sorted(p.name for d in (root / UNITS).glob("*.target.wants") for p in d.iterdir())
    env = {**os.environ, "SYSTEMD_UNIT_PATH": f"{root / UNITS}:"}
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", *wants], env=env, capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0 and result.stderr == "", result.stderr
