"""Barcode scanners in USB HID keyboard mode: input event devices that look like a scanner.

Enumerated from SYSFS/class/input/eventN (the input device's `name`, the USB device above it),
so a fake tree works in tests; where the event node can be opened, evdev confirms that it types
(has Enter and digit keys). A keyboard is told from a scanner by the vendor (usb_ids) or by a
name that says scanner / barcode; a scanner cannot be probed without a scan, so `test` asks for one.
"""
from __future__ import annotations

import re
from pathlib import Path

from provisioning.sysfs import (
    Candidate,
    _by_id_names,
    _fill_usb,
    _read,
    usb_device_above,
)

_SCANNER_NAME = re.compile(r"scan|barcode|bar code|imager|2d|qr", re.IGNORECASE)


def types_codes(node: str) -> bool | None:
    """True/False when evdev can read the device's keys; None when it cannot open it."""
    try:
        import evdev
        device = evdev.InputDevice(node)
    except (ImportError, OSError):
        return None
    try:
        keys = set(device.capabilities().get(evdev.ecodes.EV_KEY, []))
        return evdev.ecodes.KEY_ENTER in keys and evdev.ecodes.KEY_1 in keys
    finally:
        device.close()


def hid_scanner_candidates(sysfs: Path = Path("/sys"), dev: Path = Path("/dev")) -> list[Candidate]:
    input_class = sysfs / "class" / "input"
    if not input_class.is_dir():
        return []
    by_id = _by_id_names(dev)
    found: list[Candidate] = []
    for entry in sorted(input_class.iterdir()):
        if not entry.name.startswith("event") or not (entry / "device").exists():
            continue
        name = _read(entry / "device" / "name") or ""
        usb_dir = usb_device_above((entry / "device").resolve(), sysfs)
        candidate = Candidate(entry.name, str(dev / "input" / entry.name), "input", product=name or None)
        if usb_dir is None:
            continue  # built-in keyboards, power buttons
        _fill_usb(candidate, usb_dir)
        candidate.product = candidate.product or name or None
        if "scanner" not in candidate.likely_kinds and not _SCANNER_NAME.search(f"{name} {candidate.product or ''}"):
            continue
        if types_codes(candidate.port) is False:
            continue
        candidate.likely_kinds = ("scanner",)
        candidate.by_id = by_id.get(str(Path(candidate.port).resolve()))
        found.append(candidate)
    return found
