"""Oximeter drivers: thin serial I/O around the pure decoders in contec.py and nonin.py.

Options (config section or URL-independent dict):
  open_timeout_s  seconds open() waits for the first reading (default 3)
  silence_s       read() raises DeviceNotAnswering after this long without a byte (default 5)
  keepalive_s     Contec only: resend A1 this often; the device stops after ~30 s (default 10)
  resend_after_s  Contec only: resend A1 as soon as the stream has been quiet this long, e.g. after
                  the oximeter switched itself off and on again (default 1; 60 packets/s never
                  leave a gap that long)
"""
from __future__ import annotations

import time
from typing import Any, Callable, Mapping

import serial

from devices.base import OximeterReading, StreamingDevice
from devices.errors import DeviceNotAnswering, DeviceUnavailable
from devices.oximeter import contec
from devices.oximeter.contec import ContecDecoder, Identity
from devices.oximeter.nonin import NoninDecoder
from devices.serial_port import close_quietly, open_serial
from devices.status import PROBE_OFF
from devices.url import DeviceURL

_PROBE_OFF_STATES = frozenset(("finger_out", "sensor_fault"))
_POLL_S = 0.05  # serial read timeout: the granularity of read(timeout) and of keepalives


class _SerialOximeter(StreamingDevice):
    kind = "oximeter"
    baud: int

    def __init__(self, device_id: str, url: DeviceURL, options: Mapping[str, Any] | None = None):
        super().__init__(device_id, url, options)
        self.open_timeout_s = self._seconds("open_timeout_s", 3.0)
        self.silence_s = self._seconds("silence_s", 5.0)
        self._port: serial.Serial | None = None
        self._decoder = self._new_decoder()
        self._pending: list[OximeterReading] = []
        self._last: OximeterReading | None = None
        self._last_bytes = 0.0  # monotonic time of the last byte received

    def _seconds(self, name: str, default: float) -> float:
        value = self.options.get(name, default)
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"oximeter option {name}={value!r}: expected a number of seconds") from None
        if value <= 0:
            raise ValueError(f"oximeter option {name}={value!r}: expected more than 0 seconds")
        return value

    # -- subclass hooks ----------------------------------------------------------------------
    def _new_decoder(self):
        raise NotImplementedError

    def _start_stream(self) -> None:
        """Ask the device to stream (nothing to do for devices that always stream)."""

    def _keep_streaming(self, now: float) -> None:
        """Called before every poll in read()."""

    # -- Device ------------------------------------------------------------------------------
    def open(self) -> None:
        self.close()
        self._port = open_serial(self.url, baud=self.baud, timeout=_POLL_S)
        self._decoder = self._new_decoder()
        self._pending = []
        self._last = None
        self._io(self._port.reset_input_buffer)  # bytes queued while nobody listened are stale
        self._last_bytes = time.monotonic()
        self._start_stream()
        self._collect_until(lambda: bool(self._pending), time.monotonic() + self.open_timeout_s)
        if not self._pending:
            self.close()
            raise DeviceNotAnswering(
                f"{self.url}: no {self.protocol} oximeter data within {self.open_timeout_s:g} s "
                f"(switched off, wrong protocol, or wrong port?)")

    def close(self) -> None:
        port, self._port = self._port, None
        close_quietly(port)

    @property
    def is_open(self) -> bool:
        return self._port is not None

    def read(self, timeout: float) -> list[OximeterReading]:
        if self._port is None:
            raise DeviceUnavailable(f"{self.url} is not open")
        if self._pending:
            readings, self._pending = self._pending, []
            return readings
        deadline = time.monotonic() + timeout
        while True:
            now = time.monotonic()
            if now - self._last_bytes > self.silence_s:
                raise DeviceNotAnswering(f"{self.url}: the oximeter stopped sending for "
                                         f"{now - self._last_bytes:.1f} s")
            self._keep_streaming(now)
            readings = self._poll()
            if readings or time.monotonic() >= deadline:
                return readings

    def problems(self) -> list[str]:
        if self._last is not None and self._last.probe in _PROBE_OFF_STATES:
            return [PROBE_OFF]
        return []

    # -- I/O ---------------------------------------------------------------------------------
    def _poll(self) -> list[OximeterReading]:
        """Wait up to one poll interval for bytes and decode them."""
        port = self._port
        if port is None:
            raise DeviceUnavailable(f"{self.url} is not open")
        data = self._io(lambda: port.read(max(1, port.in_waiting)))
        if not data:
            return []
        self._last_bytes = time.monotonic()
        readings = self._decoder.feed(data, time.time())
        if readings:
            self._last = readings[-1]
        return readings

    def _collect_until(self, done: Callable[[], bool], deadline: float) -> None:
        """Poll until done() or the deadline; readings wait in _pending for the next read()."""
        while not done() and time.monotonic() < deadline:
            self._pending.extend(self._poll())

    def _write(self, data: bytes) -> None:
        port = self._port
        if port is None:
            raise DeviceUnavailable(f"{self.url} is not open")
        self._io(lambda: port.write(data))

    def _io(self, fn: Callable):
        try:
            return fn()
        except (serial.SerialException, OSError) as exc:
            # pyserial reports a pulled USB cable (or an unplugged pty) as a failed read/write.
            self.close()
            raise DeviceUnavailable(f"{self.url}: port lost ({exc})") from exc


class ContecOximeter(_SerialOximeter):
    """Contec CMS50D+ (fw 4.6+) / CMS50E/F over the packet protocol V7.0, 115200 8N1."""

    protocol = "contec"
    baud = 115200

    def __init__(self, device_id: str, url: DeviceURL, options: Mapping[str, Any] | None = None):
        super().__init__(device_id, url, options)
        self.keepalive_s = self._seconds("keepalive_s", 10.0)
        self.resend_after_s = self._seconds("resend_after_s", 1.0)
        self._last_a1 = 0.0

    def _new_decoder(self) -> ContecDecoder:
        return ContecDecoder()

    def _start_stream(self) -> None:
        self._write(contec.encode_command(contec.CMD_START_LIVE))
        self._last_a1 = time.monotonic()

    def _keep_streaming(self, now: float) -> None:
        since_a1 = now - self._last_a1
        quiet = now - self._last_bytes
        if since_a1 >= self.keepalive_s or (quiet >= self.resend_after_s and since_a1 >= self.resend_after_s):
            self._start_stream()

    def identify(self, timeout: float = 2.0) -> dict[str, str | None]:
        """Model, vendor and device id (A8/A9/AA) of an open oximeter.

        Like OSCAR: stop live data, then one request at a time, each waiting for its answer;
        live data is restarted afterwards. Readings that arrive meanwhile go to the next read()."""
        if self._port is None:
            raise DeviceUnavailable(f"{self.url} is not open")
        identity = self._decoder.identity = Identity()
        deadline = time.monotonic() + timeout
        self._write(contec.encode_command(contec.CMD_STOP_LIVE))
        self._collect_until(lambda: False, min(deadline, time.monotonic() + 0.1))
        for cmd, field in ((contec.CMD_MODEL, "model"), (contec.CMD_VENDOR, "vendor"),
                           (contec.CMD_DEVICE_ID, "device_id")):
            self._write(contec.encode_command(cmd))
            self._collect_until(lambda field=field: getattr(identity, field) is not None, deadline)
        self._start_stream()
        if identity.model is None and identity.vendor is None and identity.device_id is None:
            raise DeviceNotAnswering(f"{self.url}: no answer to the model/vendor/device id requests "
                                     f"within {timeout:g} s")
        return {"model": identity.model, "vendor": identity.vendor, "device_id": identity.device_id}


class NoninOximeter(_SerialOximeter):
    """Nonin OEM III / Xpod in serial Data Format 2, 9600 8N1; streams without being asked."""

    protocol = "nonin"
    baud = 9600

    def _new_decoder(self) -> NoninDecoder:
        return NoninDecoder()
