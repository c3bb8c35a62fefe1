"""`vestibule provision discover`: every serial/USB candidate, probed in parallel, matched to the config.

Ports are probed at the same time, one thread each (a probe mostly waits for an answer); the
probes of one port run one after another, since a serial line can be opened by one program at a
time and at one line setting.
"""
from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from provisioning import probes
from provisioning.hid import hid_scanner_candidates
from provisioning.sysfs import Candidate, serial_candidates, usb_printer_candidates


@dataclass
class Found:
    candidate: Candidate
    result: probes.PortResult = field(default_factory=probes.PortResult)
    configured: str | None = None  # the config's device id it matches
    note: str | None = None

    def to_dict(self) -> dict:
        ident = self.result.identification
        return {**self.candidate.to_dict(),
                "kind": ident.kind if ident else None,
                "protocol": ident.protocol if ident else None,
                "identity": ident.identity if ident else {},
                "answered": ident is not None,
                "tried": self.result.tried,
                "error": self.result.error,
                "probe_seconds": round(self.result.seconds, 3),
                "configured": self.configured,
                "note": self.note}


def candidates(sysfs: Path, dev: Path) -> list[Candidate]:
    return serial_candidates(sysfs, dev) + usb_printer_candidates(sysfs) + hid_scanner_candidates(sysfs, dev)


def _probe_one(found: Found, timeouts: probes.Timeouts, on_step) -> Found:
    c = found.candidate
    if c.subsystem == "input":
        found.note = "HID keyboard-mode scanner: scan a code with `vestibule provision test`"
        return found
    names = probes.plan(c.likely_kinds)
    if c.subsystem == "usb":
        names = ["escpos"]
    found.result = probes.probe_port(c.port, names, timeouts, on_step=lambda p: on_step(c, p))
    if found.result.identification is None and found.result.error is None:
        if "scanner" in c.likely_kinds or c.name.startswith("ttyACM"):
            found.note = "silent; a CDC scanner only speaks when it scans (`provision test` asks for a scan)"
        else:
            found.note = "nothing answered (switched off, or a protocol we do not speak)"
    return found


def explicit_candidates(ports: list[str], sysfs: Path, dev: Path) -> list[Candidate]:
    """Ports named on the command line: their USB details where the tree has them, else just the path."""
    from provisioning.sysfs import candidate_for_port
    found = []
    for port in ports:
        c = candidate_for_port(port, sysfs, dev)
        if c is not None:
            c.port = port
        found.append(c or Candidate(Path(port).name, port, "tty"))
    return found


def discover(sysfs: Path = Path("/sys"), dev: Path = Path("/dev"), *, timeouts: probes.Timeouts = probes.DEFAULT_TIMEOUTS,
             ports: list[str] | None = None,
             bindings: dict[tuple, str] | None = None, config_ports: dict[str, str] | None = None,
             on_step: Callable[[Candidate, str], None] = lambda c, p: None,
             on_done: Callable[[Found], None] = lambda f: None) -> list[Found]:
    """Probe every candidate at once; `bindings` maps (vid, pid, serial) -> device id (udev rules),
    `config_ports` maps a device path's realpath -> device id (the config's serial URLs)."""
    found = [Found(c) for c in (explicit_candidates(ports, sysfs, dev) if ports else candidates(sysfs, dev))]
    if not found:
        return []
    # a silent port makes pymodbus log an ERROR per probe; the table already says "nothing answered"
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    logging.getLogger("pymodbus.logging").setLevel(logging.CRITICAL)
    with ThreadPoolExecutor(max_workers=min(64, len(found)), thread_name_prefix="probe") as pool:
        futures = [pool.submit(_probe_one, f, timeouts, on_step) for f in found]
        for future in futures:
            on_done(future.result())
    for f in found:
        f.configured = match_configured(f.candidate, bindings or {}, config_ports or {})
    return found


def match_configured(c: Candidate, bindings: dict[tuple, str], config_ports: dict[str, str]) -> str | None:
    if c.vendor_id is not None:
        key = (c.vendor_id, c.product_id, c.serial or f"@{c.usb_path}")
        if key in bindings:
            return bindings[key]
    if c.subsystem in ("tty", "input"):
        return config_ports.get(os.path.realpath(c.port))
    return config_ports.get(c.port)


def config_ports(devices: dict) -> dict[str, str]:
    """realpath of each configured device's port (or its usb:// URL) -> device id."""
    from devices.errors import BadDeviceURL
    from devices.url import parse_device_url
    ports: dict[str, str] = {}
    for device_id, section in (devices or {}).items():
        try:
            url = parse_device_url(str(section.get("url", "")))
        except BadDeviceURL:
            continue
        if url.scheme == "serial" and os.path.exists(url.path):
            ports[os.path.realpath(url.path)] = device_id
        elif url.scheme == "usb":
            ports[str(url)] = device_id
    return ports


def timed_discover(*args, **kwargs) -> tuple[list[Found], float]:
    start = time.monotonic()
    found = discover(*args, **kwargs)
    return found, time.monotonic() - start
