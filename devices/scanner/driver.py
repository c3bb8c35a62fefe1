"""2D/QR scanner drivers: CDC-ACM serial lines (protocol "cdc") and HID keyboard mode ("hid").

A scanner speaks only when something is scanned, so open() can only prove the port opens
(and, for HID, that we own the keyboard device); there is no question it answers.
"""
from __future__ import annotations

import errno
import logging
import os
import select
import time
from typing import Any, Mapping

import evdev
import serial

from devices import status as problems_
from devices.base import ScanReading, StreamingDevice
from devices.errors import DeviceUnavailable
from devices.scanner.hid_keys import HidDecoder
from devices.scanner.lines import LineSplitter
from devices.serial_port import close_quietly, open_serial
from devices.url import DeviceURL

log = logging.getLogger(__name__)


class _Scanner(StreamingDevice):
    kind = "scanner"

    def __init__(self, device_id: str, url: DeviceURL, options: Mapping[str, Any] | None = None):
        super().__init__(device_id, url, options)
        self.rejected = 0  # lines/codes thrown away as noise since open()
        self._problems: list[str] = [problems_.DISCONNECTED]

    def problems(self) -> list[str]:
        return list(self._problems)

    def _unplugged(self, exc: BaseException) -> DeviceUnavailable:
        self.close()
        self._problems = [problems_.DISCONNECTED]
        return DeviceUnavailable(f"scanner {self.device_id} at {self.url.path} is gone: {exc}")

    def _keep(self, items: list, out: list[ScanReading]) -> None:
        for item in items:
            if isinstance(item, ScanReading):
                out.append(item)
            elif item is not None:
                self.rejected += 1
                log.info("scanner %s: dropped input (%s)", self.device_id, item.reason)


class LineScanner(_Scanner):
    """USB CDC-ACM scanner (/dev/ttyACM*) sending each code followed by CR; 9600 8N1 default."""

    protocol = "cdc"

    def __init__(self, device_id: str, url: DeviceURL, options: Mapping[str, Any] | None = None):
        super().__init__(device_id, url, options)
        self._port: serial.Serial | None = None
        self._splitter = LineSplitter()

    def open(self) -> None:
        if self._port is not None:
            return
        self._port = open_serial(self.url, baud=9600, timeout=0.1)
        self._splitter.reset()
        self.rejected = 0
        self._problems = []

    def close(self) -> None:
        port, self._port = self._port, None
        close_quietly(port)

    def read(self, timeout: float) -> list[ScanReading]:
        """Codes scanned within `timeout` s; returns as soon as one batch has arrived."""
        if self._port is None:
            raise DeviceUnavailable(f"scanner {self.device_id} is not open")
        out: list[ScanReading] = []
        deadline = time.monotonic() + timeout
        try:
            while not out and time.monotonic() < deadline:
                data = self._port.read(max(1, self._port.in_waiting))
                if data:
                    self._keep(self._splitter.feed(data, time.time()), out)
        except (serial.SerialException, OSError) as exc:
            raise self._unplugged(exc) from None
        return out


class HidScanner(_Scanner):
    """A scanner in USB HID keyboard mode, read from /dev/input/eventN with evdev.

    The device is grabbed (EVIOCGRAB) while open, so its key presses reach only us and never
    type into the kiosk UI. `input_device_factory` is the I/O seam (evdev.InputDevice)."""

    protocol = "hid"
    input_device_factory = staticmethod(evdev.InputDevice)

    def __init__(self, device_id: str, url: DeviceURL, options: Mapping[str, Any] | None = None):
        super().__init__(device_id, url, options)
        self._dev = None
        self._decoder = HidDecoder()

    def open(self) -> None:
        if self._dev is not None:
            return
        path = self.url.path
        if self.url.scheme not in ("serial", "file") or not path:
            raise DeviceUnavailable(f"{self.url}: expected the path of an input device, e.g. /dev/input/event3")
        if not os.path.exists(path):
            raise DeviceUnavailable(f"input device {path} does not exist (unplugged, or wrong path?)")
        try:
            dev = self.input_device_factory(path)
        except PermissionError as exc:
            raise DeviceUnavailable(f"no permission to read {path} (the service user needs the 'input' "
                                    f"group): {exc}") from None
        except OSError as exc:
            raise DeviceUnavailable(f"cannot open {path}: {exc}") from None
        try:
            dev.grab()
        except OSError as exc:
            try:
                dev.close()
            except Exception:
                pass
            hint = " (another program grabbed it)" if exc.errno == errno.EBUSY else ""
            raise DeviceUnavailable(f"cannot grab {path}{hint}: {exc}") from None
        self._dev = dev
        self._decoder.reset()
        self.rejected = 0
        self._problems = []

    def close(self) -> None:
        dev, self._dev = self._dev, None
        if dev is None:
            return
        for step in (dev.ungrab, dev.close):
            try:
                step()
            except Exception:  # an unplugged device fails both; nothing left to release
                pass

    def read(self, timeout: float) -> list[ScanReading]:
        if self._dev is None:
            raise DeviceUnavailable(f"scanner {self.device_id} is not open")
        out: list[ScanReading] = []
        deadline = time.monotonic() + timeout
        try:
            while not out:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                ready, _, _ = select.select([self._dev.fileno()], [], [], remaining)
                if not ready:
                    break
                try:
                    events = list(self._dev.read())
                except BlockingIOError:
                    continue
                self._keep([self._decoder.feed_event(ev) for ev in events], out)
        except (OSError, ValueError) as exc:  # ENODEV on unplug; ValueError: fd closed under us
            raise self._unplugged(exc) from None
        return out

