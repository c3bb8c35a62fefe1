"""A tree laid out like /sys and /dev, with USB serial adapters whose device nodes are links to
simulator ptys: what `vestibule provision discover --sysfs ROOT --dev ROOT` reads on a real node."""
from __future__ import annotations

import os
import shutil
from pathlib import Path


class FakeUsbTree:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.sysfs = self.root / "sys"
        self.dev = self.root / "dev"
        self._bus = self.sysfs / "devices" / "pci0000:00" / "0000:00:14.0" / "usb1"
        for d in (self.sysfs / "class" / "tty", self.sysfs / "class" / "input", self._bus,
                  self.dev / "serial" / "by-id"):
            d.mkdir(parents=True, exist_ok=True)
        self._next_port = 1

    def node(self, name: str) -> str:
        """Where a simulator should put its link: dev/NAME."""
        return str(self.dev / name)

    def add_tty(self, name: str, vendor: int, product: int, serial: str | None = None,
                manufacturer: str = "Silicon Labs", product_name: str = "CP2102 USB to UART Bridge Controller",
                usb_path: str | None = None) -> Path:
        """A USB device with one interface, and class/tty/NAME/device pointing at that interface."""
        usb_path = usb_path or f"1-{self._next_port}"
        self._next_port += 1
        usb = self._bus / usb_path
        iface = usb / f"{usb_path}:1.0"
        iface.mkdir(parents=True, exist_ok=True)
        (usb / "idVendor").write_text(f"{vendor:04x}\n")
        (usb / "idProduct").write_text(f"{product:04x}\n")
        (usb / "manufacturer").write_text(manufacturer + "\n")
        (usb / "product").write_text(product_name + "\n")
        if serial is not None:
            (usb / "serial").write_text(serial + "\n")
        (iface / "bInterfaceClass").write_text("ff\n")
        tty = self.sysfs / "class" / "tty" / name
        tty.mkdir(parents=True, exist_ok=True)
        os.symlink(iface, tty / "device")
        if serial is not None:
            by_id = self.dev / "serial" / "by-id" / f"usb-{manufacturer}_{product_name}_{serial}-if00-port0".replace(" ", "_")
            os.symlink(f"../../{name}", by_id)
        return usb

    def add_input(self, event: str, vendor: int, product: int, name: str, serial: str | None = None) -> Path:
        """A USB HID keyboard-mode device: class/input/EVENT/device -> its input device, whose
        `name` file says what it is; the USB device sits above the interface."""
        usb_path = f"1-{self._next_port}"
        self._next_port += 1
        usb = self._bus / usb_path
        iface = usb / f"{usb_path}:1.0"
        node = iface / "0003:0C2E:0B61.0001" / "input" / f"input{self._next_port}"
        node.mkdir(parents=True, exist_ok=True)
        (usb / "idVendor").write_text(f"{vendor:04x}\n")
        (usb / "idProduct").write_text(f"{product:04x}\n")
        (usb / "product").write_text(name + "\n")
        if serial is not None:
            (usb / "serial").write_text(serial + "\n")
        (node / "name").write_text(name + "\n")
        entry = self.sysfs / "class" / "input" / event
        entry.mkdir(parents=True, exist_ok=True)
        os.symlink(node, entry / "device")
        (self.dev / "input").mkdir(exist_ok=True)
        (self.dev / "input" / event).touch()
        return usb

    def add_usb_printer(self, vendor: int, product: int, serial: str, product_name: str = "TM-T20II") -> Path:
        """A USB printer driven through pyusb: a printer-class interface (07), no tty."""
        usb_path = f"1-{self._next_port}"
        self._next_port += 1
        usb = self._bus / usb_path
        iface = usb / f"{usb_path}:1.0"
        iface.mkdir(parents=True, exist_ok=True)
        for key, value in (("idVendor", f"{vendor:04x}"), ("idProduct", f"{product:04x}"), ("serial", serial),
                           ("manufacturer", "EPSON"), ("product", product_name)):
            (usb / key).write_text(value + "\n")
        (iface / "bInterfaceClass").write_text("07\n")
        devices = self.sysfs / "bus" / "usb" / "devices"
        devices.mkdir(parents=True, exist_ok=True)
        os.symlink(usb, devices / usb_path)
        os.symlink(iface, devices / iface.name)
        return usb

    def remove_tty(self, name: str) -> None:
        """The adapter is unplugged: its sysfs entries and by-id link go."""
        tty = self.sysfs / "class" / "tty" / name
        iface = (tty / "device").resolve()
        shutil.rmtree(tty)
        shutil.rmtree(iface.parent, ignore_errors=True)
        for link in (self.dev / "serial" / "by-id").iterdir():
            if os.readlink(link).endswith(f"/{name}"):
                link.unlink()
