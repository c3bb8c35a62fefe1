"""A USB printer at the pyusb seam, for tests and demos without hardware.

python-escpos's Usb printer calls `usb.core.find(...)` and then uses the device object it gets:
is_kernel_driver_active / detach_kernel_driver (libusb1 backend only), set_configuration,
reset, write(out_ep, data, timeout), read(in_ep, size, timeout), and usb.util.dispose_resources.
FakeUsbPrinter implements exactly that surface over the same PrinterModel the pty simulator
runs, so the driver's real usb:// code path is exercised end to end. Install it with
`FakeUsbBus([...]).install(monkeypatch)` (or assign usb.core.find yourself).

`holder` reproduces what a technician meets: "denied" (no udev rule: every operation that
opens the device raises errno 13) and "busy" (usblp or CUPS has claimed the interface: writes
and reads raise errno 16).
"""
from __future__ import annotations

import errno
import threading
from array import array

import usb.core

from devices.printer.escpos_parser import codepage_table
from devices.printer.printer_model import PrinterModel


class _Libusb1Backend:
    """python-escpos checks `backend.__module__.endswith("libusb1")` before touching kernel drivers."""


_Libusb1Backend.__module__ = "usb.backend.libusb1"


class _Context:
    def dispose(self, device) -> None:
        device.disposed += 1


class FakeUsbPrinter:
    def __init__(self, vendor_id: int = 0x04B8, product_id: int = 0x0E15, serial_number: str = "FAKE0001",
                 in_ep: int = 0x82, out_ep: int = 0x01, holder: str | None = None, **model_settings):
        self.idVendor = vendor_id
        self.idProduct = product_id
        self._serial_number = serial_number
        self.in_ep, self.out_ep = in_ep, out_ep
        self.holder = holder  # None | "denied" | "busy"
        self.backend = _Libusb1Backend()
        self._ctx = _Context()
        self.disposed = 0
        self.default_timeout = 1000
        self.plugged = True
        self.kernel_driver_detached = False
        self.model = PrinterModel(codepage_table(), **model_settings)
        self._answers = bytearray()
        self._cond = threading.Condition()

    # -- what pyusb offers and python-escpos uses ------------------------------------------------
    @property
    def serial_number(self) -> str:
        self._opening()
        return self._serial_number

    def is_kernel_driver_active(self, interface: int) -> bool:
        self._opening()
        return not self.kernel_driver_detached

    def detach_kernel_driver(self, interface: int) -> None:
        self._opening()
        self.kernel_driver_detached = True

    def set_configuration(self, configuration=None) -> None:
        self._opening()
        self._claiming()

    def reset(self) -> None:
        self._opening()

    def write(self, endpoint, data, timeout=None) -> int:
        self._opening()
        self._claiming()
        if endpoint != self.out_ep:
            raise usb.core.USBError("Invalid parameter", error_code=-2, errno=errno.EINVAL)
        data = bytes(data)
        with self._cond:
            self._answers += self.model.receive(data)
            self._cond.notify_all()
        return len(data)

    def read(self, endpoint, size_or_buffer, timeout=None):
        self._opening()
        self._claiming()
        if endpoint != self.in_ep:
            raise usb.core.USBError("Invalid parameter", error_code=-2, errno=errno.EINVAL)
        size = size_or_buffer if isinstance(size_or_buffer, int) else len(size_or_buffer)
        wait = (self.default_timeout if timeout is None else timeout) / 1000.0
        with self._cond:
            if not self._answers:
                self._cond.wait_for(lambda: self._answers or not self.plugged, wait)
            self._opening()
            if not self._answers:
                raise usb.core.USBTimeoutError("Operation timed out", error_code=-7, errno=errno.ETIMEDOUT)
            chunk = bytes(self._answers[:size])
            del self._answers[:size]
        return array("B", chunk)

    # -- controls for tests ------------------------------------------------------------------------
    def set_state(self, **changes) -> None:
        with self._cond:
            self._answers += self.model.set_state(**changes)
            self._cond.notify_all()

    def unplug(self) -> None:
        with self._cond:
            self.plugged = False
            self._cond.notify_all()

    def replug(self) -> None:
        with self._cond:
            self.plugged = True
            self._answers.clear()
            self.model.power_on()

    @property
    def documents(self):
        with self._cond:
            return list(self.model.documents)

    def _opening(self) -> None:
        if not self.plugged:
            raise usb.core.USBError("No such device (it may have been disconnected)", error_code=-4,
                                    errno=errno.ENODEV)
        if self.holder == "denied":
            raise usb.core.USBError("Access denied (insufficient permissions)", error_code=-3,
                                    errno=errno.EACCES)

    def _claiming(self) -> None:
        if self.holder == "busy":
            raise usb.core.USBError("Resource busy", error_code=-6, errno=errno.EBUSY)


class FakeUsbBus:
    """Stands in for `usb.core.find`: matches devices by keyword attributes and custom_match."""

    def __init__(self, devices: list[FakeUsbPrinter]):
        self.devices = list(devices)

    def find(self, find_all: bool = False, backend=None, custom_match=None, **attrs):
        found = [d for d in self.devices if d.plugged
                 and all(getattr(d, k) == v for k, v in attrs.items())
                 and (custom_match is None or custom_match(d))]
        if find_all:
            return iter(found)
        return found[0] if found else None

    def install(self, monkeypatch) -> "FakeUsbBus":
        monkeypatch.setattr(usb.core, "find", self.find)
        return self
