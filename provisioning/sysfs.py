"""Serial and USB candidates read from a tree laid out like /sys and /dev.

The real node reads /sys and /dev; tests and simulators pass their own roots:
  SYSFS/class/tty/NAME/device  -> the USB interface (or, for ttyUSB, a port below it); walking up
                                  from there the first directory with idVendor is the USB device
  DEV/NAME                     -> the device node (a pty link for a simulator)
  DEV/serial/by-id/*           -> udev's persistent names, where udev made them
  SYSFS/bus/usb/devices/*      -> USB devices; those with a printer interface (class 07) and no
                                  tty are printers driven through pyusb
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from provisioning import usb_ids

USB_CLASS_PRINTER = "07"


@dataclass
class Candidate:
    name: str  # ttyUSB0, event5, usb 1-1.2
    port: str  # the path a driver opens, or usb://VID:PID/SERIAL
    subsystem: str  # tty | usb | input
    by_id: str | None = None
    vendor_id: int | None = None
    product_id: int | None = None
    serial: str | None = None
    manufacturer: str | None = None
    product: str | None = None
    usb_path: str | None = None  # the USB device's bus path (1-1.2): binds by port when no serial
    adapter: str | None = None  # a known name for the VID:PID
    likely_kinds: tuple[str, ...] = field(default_factory=tuple)

    @property
    def vid_pid(self) -> str | None:
        if self.vendor_id is None or self.product_id is None:
            return None
        return f"{self.vendor_id:04x}:{self.product_id:04x}"

    def to_dict(self) -> dict:
        data = asdict(self)
        data["vid_pid"] = self.vid_pid
        data["likely_kinds"] = list(self.likely_kinds)
        return data


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip() or None
    except OSError:
        return None


def _hex(text: str | None) -> int | None:
    try:
        return int(text, 16) if text else None
    except ValueError:
        return None


def usb_device_above(start: Path, sysfs: Path) -> Path | None:
    """The nearest directory at or above `start` that holds idVendor (the USB device)."""
    here = start
    root = sysfs.resolve()
    while True:
        if (here / "idVendor").exists():
            return here
        if here == root or here.parent == here or not str(here).startswith(str(root)):
            return None
        here = here.parent


def _fill_usb(candidate: Candidate, usb_dir: Path) -> None:
    candidate.vendor_id = _hex(_read(usb_dir / "idVendor"))
    candidate.product_id = _hex(_read(usb_dir / "idProduct"))
    candidate.serial = _read(usb_dir / "serial")
    candidate.manufacturer = _read(usb_dir / "manufacturer")
    candidate.product = _read(usb_dir / "product")
    candidate.usb_path = usb_dir.name
    candidate.adapter, candidate.likely_kinds = usb_ids.lookup(candidate.vendor_id, candidate.product_id)


def _by_id_names(dev: Path) -> dict[str, str]:
    """realpath of a device node -> its /dev/serial/by-id name."""
    names: dict[str, str] = {}
    by_id = dev / "serial" / "by-id"
    if by_id.is_dir():
        for link in sorted(by_id.iterdir()):
            try:
                names.setdefault(os.path.realpath(link), str(link))
            except OSError:
                continue
    return names


def serial_candidates(sysfs: Path = Path("/sys"), dev: Path = Path("/dev")) -> list[Candidate]:
    """Every tty backed by hardware: USB serial adapters, CDC-ACM devices, and on-board UARTs that
    exist (a platform ttyS whose `type` is 0 has no UART behind it and is left out)."""
    tty_class = sysfs / "class" / "tty"
    if not tty_class.is_dir():
        return []
    by_id = _by_id_names(dev)
    found: list[Candidate] = []
    for entry in sorted(tty_class.iterdir()):
        link = entry / "device"
        if not link.exists():
            continue  # virtual terminals, ptys: nothing behind them
        node = dev / entry.name
        candidate = Candidate(entry.name, str(node), "tty")
        usb_dir = usb_device_above(link.resolve(), sysfs)
        if usb_dir is not None:
            _fill_usb(candidate, usb_dir)
        elif _read(entry / "type") in (None, "0"):
            continue
        candidate.by_id = by_id.get(os.path.realpath(node))
        found.append(candidate)
    return found


def usb_printer_candidates(sysfs: Path = Path("/sys")) -> list[Candidate]:
    """USB devices with a printer-class interface (driven through pyusb, not a tty)."""
    devices = sysfs / "bus" / "usb" / "devices"
    if not devices.is_dir():
        return []
    found: list[Candidate] = []
    for entry in sorted(devices.iterdir()):
        if ":" not in entry.name or _read(entry / "bInterfaceClass") != USB_CLASS_PRINTER:
            continue
        usb_dir = usb_device_above(entry.resolve(), sysfs)
        if usb_dir is None:
            continue
        candidate = Candidate(f"usb {usb_dir.name}", "", "usb")
        _fill_usb(candidate, usb_dir)
        port = f"usb://{candidate.vid_pid}"
        candidate.port = port + (f"/{candidate.serial}" if candidate.serial else "")
        if not any(c.usb_path == candidate.usb_path for c in found):
            found.append(candidate)
    return found


def candidate_for_port(port: str, sysfs: Path, dev: Path) -> Candidate | None:
    """The candidate a technician named by its path (/dev/ttyUSB1, a by-id name) or usb:// URL."""
    from provisioning.hid import hid_scanner_candidates
    real = os.path.realpath(port) if not port.startswith("usb://") else port
    for candidate in serial_candidates(sysfs, dev) + usb_printer_candidates(sysfs) + hid_scanner_candidates(sysfs, dev):
        if candidate.port == port or (candidate.subsystem != "usb" and os.path.realpath(candidate.port) == real):
            return candidate
        if candidate.subsystem in ("tty", "input") and Path(port).name == candidate.name:
            return candidate
    return None
