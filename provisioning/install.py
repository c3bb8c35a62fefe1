"""`vestibule provision install --config FILE [--root DIR]`: from a configured checkout to a node.

Steps, each printed as it runs: system users and groups (systemd-sysusers), /etc/vestibule and
/var/lib/vestibule with their modes, the node config, broker credentials, the Mosquitto drop-in,
the udev rules, the systemd units (enabled). With --root everything is staged under DIR and
nothing on this machine changes: no chown, no systemctl, no udevadm.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TextIO

import tomlkit

from provisioning import udev, units
from provisioning.credentials import write_credentials

SYSUSERS = f"""# Vestibule's service users (systemd-sysusers)
g {units.SERVICE_USER} -
u {units.SERVICE_USER} -:{units.SERVICE_USER} "Vestibule node controller" {units.STATE}
g {units.UI_USER} -
u {units.UI_USER} -:{units.UI_USER} "Vestibule screens" {units.STATE}/ui
g plugdev -
m {units.SERVICE_USER} dialout
m {units.SERVICE_USER} plugdev
m {units.SERVICE_USER} input
m {units.UI_USER} {units.SERVICE_USER}
m {units.UI_USER} video
m {units.UI_USER} render
"""


def default_exe() -> str:
    return shutil.which("vestibule") or str(Path(sys.prefix) / "bin" / "vestibule")


class Installer:
    def __init__(self, root: Path, out: TextIO):
        self.root = root
        self.staged = root.resolve() != Path("/")
        self.out = out
        self.step_no = 0

    def path(self, absolute: Path | str) -> Path:
        return self.root / str(absolute).lstrip("/")

    def step(self, text: str) -> None:
        self.step_no += 1
        print(f"[{self.step_no}] {text}", file=self.out, flush=True)

    def write(self, absolute: Path | str, text: str, mode: int = 0o644) -> Path:
        target = self.path(absolute)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        target.chmod(mode)
        print(f"    wrote {target} ({mode:04o})", file=self.out)
        return target

    def mkdir(self, absolute: Path, mode: int, owner: str | None = None, group: str | None = None) -> None:
        target = self.path(absolute)
        target.mkdir(parents=True, exist_ok=True)
        target.chmod(mode)
        self.chown(target, owner, group)
        who = f" {owner or 'root'}:{group}" if group else ""
        print(f"    {target}/ ({mode:04o}{who})", file=self.out)

    def chown(self, target: Path, owner: str | None, group: str | None) -> None:
        if not self.staged and (owner or group):
            shutil.chown(target, user=owner, group=group)

    def run(self, *argv: str) -> None:
        if self.staged:
            print(f"    (staged: would run `{' '.join(argv)}`)", file=self.out)
            return
        needs_systemd = argv[0] in ("systemctl", "udevadm")
        if not shutil.which(argv[0]) or needs_systemd and not os.path.isdir("/run/systemd/system"):
            print(f"    (not possible here: run `{' '.join(argv)}` once systemd and udev run)", file=self.out)
            return
        print(f"    $ {' '.join(argv)}", file=self.out)
        subprocess.run(list(argv), check=True)


def node_config_text(source: Path, node_id: str) -> str:
    """The technician's config as it lives on the node: its store under /var/lib/vestibule and the
    controller's broker identity; comments and order kept."""
    doc = tomlkit.parse(source.read_text(encoding="utf-8"))
    doc["node"]["store"] = str(units.STATE / f"{node_id}.db")
    doc["broker"]["username"] = "controller"
    doc["broker"]["password_file"] = str(units.BROKER_DIR / "controller.password")
    return tomlkit.dumps(doc)


def install(config_path: Path, root: Path, *, with_devcore: bool, screens: list[str] | None, out: TextIO,
            rules: Path = udev.RULES_FILE, exe: str | None = None) -> Installer:
    from kiosk.node.config import load_node_config
    config = load_node_config(config_path)  # ConfigError if the file is not valid: nothing is written
    exe = exe or default_exe()
    if screens is None:  # the screens the config names: device roles, and every TV board
        screens = sorted({d.role for d in config.devices.values()
                          if d.role and d.role.split("-", 1)[0] in units.SCREEN_APPS} | set(config.boards))
    by_app = units.screens_by_app(screens, frozenset(config.boards))
    inst = Installer(root, out)

    inst.step("system users and groups")
    inst.write("/usr/lib/sysusers.d/vestibule.conf", SYSUSERS)
    inst.run("systemd-sysusers", "/usr/lib/sysusers.d/vestibule.conf")

    inst.step("directories")
    inst.mkdir(units.ETC, 0o750, None, units.SERVICE_USER)
    inst.mkdir(units.STATE, 0o750, units.SERVICE_USER, units.SERVICE_USER)
    inst.mkdir(units.STATE / "ui", 0o750, units.UI_USER, units.UI_USER)

    inst.step("node configuration")
    target = inst.write(units.CONFIG, node_config_text(config_path, config.node.id), 0o640)
    inst.chown(target, None, units.SERVICE_USER)

    inst.step("broker users, ACL and password files")
    broker_dir = inst.path(units.BROKER_DIR)
    outcome = write_credentials(broker_dir, config, chown=not inst.staged, conf_dir=units.BROKER_DIR)
    broker_dir.chmod(0o755)  # each file inside is 0600 and owned by its service user
    for user, what in outcome.items():
        print(f"    {user}: {what}", file=out)

    inst.step("Mosquitto on the Vestibule configuration")
    inst.write("/etc/systemd/system/mosquitto.service.d/vestibule.conf", units.mosquitto_dropin())

    inst.step("udev rules")
    if inst.staged and rules.exists():
        inst.write(udev.RULES_FILE, rules.read_text(encoding="utf-8"))
    elif not rules.exists():
        print(f"    no device bindings yet ({rules}); `vestibule provision assign` writes them", file=out)
    inst.run("udevadm", "control", "--reload-rules")
    inst.run("udevadm", "trigger", "--action=add")

    inst.step("systemd units")
    all_units = [units.controller_unit(exe, config.devices)]
    all_units += [units.screen_unit(app, exe, names) for app, names in by_app.items() if names]
    if with_devcore:
        all_units.append(units.devcore_unit(exe))
    enabled = []
    for unit in all_units:
        inst.write(f"/etc/systemd/system/{unit.name}", unit.text)
        names = [unit.name.replace("@.", f"@{i}.") for i in unit.instances] or [unit.name]
        for name in names:
            link = inst.path(f"/etc/systemd/system/{unit.wanted_by}.wants/{name}")
            if inst.staged:
                link.parent.mkdir(parents=True, exist_ok=True)
                if os.path.lexists(link):
                    link.unlink()
                link.symlink_to(f"../{unit.name}")
            enabled.append(name)
    print(f"    enabled: {', '.join(enabled)}", file=out)
    inst.run("systemctl", "daemon-reload")
    inst.run("systemctl", "restart", "mosquitto.service")
    inst.run("systemctl", "enable", "--now", *enabled)
    inst.enabled = enabled
    return inst


def run_install(config_path: Path, root: Path, *, with_devcore: bool, screens: list[str] | None,
                out: TextIO, rules: Path = udev.RULES_FILE) -> int:
    from kiosk.node.config import ConfigError
    try:
        inst = install(config_path, root, with_devcore=with_devcore, screens=screens, out=out, rules=rules)
    except ConfigError as exc:
        print(f"error: {exc}\nfix the file (`vestibule config check {config_path}`); nothing was installed", file=out)
        return 2
    except (ValueError, OSError, subprocess.CalledProcessError) as exc:
        print(f"error: {exc}", file=out)
        return 1
    where = f"staged under {root}" if inst.staged else "installed"
    print(f"done: {where}; check the node with `vestibule provision doctor --config {units.CONFIG}`", file=out)
    return 0
