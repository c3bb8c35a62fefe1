"""`vestibule provision assign DEVICE-ID --port PATH`: probe, then bind the device for good.

Three effects: [devices.DEVICE-ID] in the node's TOML (comments and order kept), a udev rule
binding the USB device's VID:PID + serial to /dev/vestibule/DEVICE-ID, and the command that
reloads the rules. With a staged --dev tree (tests, simulators) no udev runs there, so the stable
link is made directly, as udev would make it once the rule is loaded.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from foundation.config import ID_PATTERN
from provisioning import config_edit, probes, udev
from provisioning.sysfs import Candidate, candidate_for_port

SYSTEM_DEV = Path("/dev")


class AssignError(Exception):
    """Why a device could not be assigned, in words a technician acts on."""


@dataclass
class Assignment:
    device_id: str
    kind: str
    protocol: str
    url: str
    port: str
    candidate: Candidate | None
    identification: probes.Identification | None
    replaced: list[str] = field(default_factory=list)
    created: bool = False
    rule: str | None = None
    linked: str | None = None  # the stable link made in a staged --dev tree


def _identify(port: str, candidate: Candidate | None, kind: str | None, protocol: str | None,
              timeouts: probes.Timeouts) -> probes.Identification | None:
    if protocol and protocol not in probes.PROBES:
        return None  # nothing to probe with (scanners only speak when they scan)
    if kind == "scanner":
        return None
    names = probes.plan(candidate.likely_kinds if candidate else (), kind, protocol)
    result = probes.probe_port(port, names, timeouts)
    if result.error:
        raise AssignError(f"cannot open {port}: {result.error}")
    if result.identification is None:
        what = f"{kind or 'a device'}{'/' + protocol if protocol else ''}"
        raise AssignError(f"nothing answered on {port} as {what} (tried {', '.join(result.tried) or 'nothing'}); "
                          "is it switched on? run `vestibule provision discover` to see what answers where")
    return result.identification


def assign(device_id: str, port: str, config: Path, *, kind: str | None = None, protocol: str | None = None,
           role: str | None = None, sysfs: Path = Path("/sys"), dev: Path = SYSTEM_DEV,
           rules: Path = udev.RULES_FILE, timeouts: probes.Timeouts = probes.DEFAULT_TIMEOUTS) -> Assignment:

    if not re.match(ID_PATTERN, device_id):
        raise AssignError(f"device id {device_id!r}: use lowercase letters, digits and dashes, e.g. oximeter-1")
    if not config.exists():
        raise AssignError(f"config {config} does not exist")
    if not port.startswith("usb://") and not os.path.exists(port):
        raise AssignError(f"no device at {port}: unplugged, or another path? `vestibule provision discover` lists them")
    candidate = candidate_for_port(port, sysfs, dev)
    if candidate is not None and candidate.subsystem == "input":  # a keyboard-mode scanner: nothing to probe
        kind, protocol = kind or "scanner", protocol or "hid"
    ident = _identify(port, candidate, kind, protocol, timeouts)
    if ident is not None:
        if kind and ident.kind != kind or protocol and ident.protocol != protocol:
            raise AssignError(f"{port} answers as {ident.kind}/{ident.protocol}, not as "
                              f"{kind or ident.kind}/{protocol or ident.protocol}")
        kind, protocol = ident.kind, ident.protocol
    elif not (kind and protocol):
        raise AssignError(f"{port} cannot be probed; give --kind and --protocol (e.g. --kind scanner --protocol cdc)")
    out = Assignment(device_id, kind, protocol, "", port, candidate, ident)
    if candidate is not None and candidate.vendor_id is not None and (candidate.serial or candidate.usb_path):
        binding = udev.Binding(device_id, candidate.subsystem, candidate.vendor_id, candidate.product_id,
                               candidate.serial, None if candidate.serial else candidate.usb_path)
        out.replaced = udev.write_binding(binding, rules)
        out.rule = udev.render_rule(binding)
        if candidate.subsystem == "usb":
            out.url = candidate.port
        else:
            stable = dev / udev.STABLE_DIR / device_id
            out.url = f"serial://{stable}"
            if dev.resolve() != SYSTEM_DEV:
                out.linked = _stage_link(stable, Path(port), dev, out.replaced)
    else:
        out.url = port if port.startswith("usb://") else f"serial://{port}"  # on-board UART: its name is stable
    out.created = config_edit.set_device(config, device_id, kind=kind, protocol=protocol, url=out.url, role=role)
    return out


def _stage_link(stable: Path, target: Path, dev: Path, replaced: list[str]) -> str:
    """What udev does on `trigger` in a staged /dev: the new link, and old ids' links removed."""
    stable.parent.mkdir(parents=True, exist_ok=True)
    for old in replaced:
        old_link = dev / udev.STABLE_DIR / old
        if old_link != stable and os.path.lexists(old_link):
            old_link.unlink()
    tmp = stable.with_name(stable.name + ".new")
    if os.path.lexists(tmp):
        tmp.unlink()
    os.symlink(os.path.abspath(target), tmp)
    os.replace(tmp, stable)
    return str(stable)
