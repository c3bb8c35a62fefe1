"""Thermometer drivers: our MLX90614 bridge board (pushes readings) and Optris CT (polled).

Both return devices.base.ThermometerReading. Options (config section `options`):
  rate_hz         readings per second (default 2)
  address         Optris RS-485 multidrop address 1..79 (leave out on RS-232/USB)
  target_range_c  Optris: "LOW..HIGH" °C the model measures (default "-50..1030", the LT models)
A temperature outside what the sensor measures (MLX90614: object -70..380 °C, die -40..125 °C;
Optris: target_range_c, head -40..250 °C) is never a reading's temperature: it is reported as a
reading without one and as the sensor_fault problem until a plausible value comes again.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Mapping

from devices import status
from devices.base import StreamingDevice, ThermometerReading, outside_human_range
from devices.errors import DeviceError, DeviceNotAnswering, DeviceUnavailable
from devices.serial_port import close_quietly, open_serial
from devices.thermometer import optris
from devices.url import DeviceURL
from devices.thermometer.bridge_host import PORT_ERRORS, BoardError, BridgeLink, Identity, LinkError, Measurement

MAX_RATE_HZ = 20.0
SENSOR_FAULTS = ("sensor_error", "pec_error", "i2c_nack")


class SensorFault(DeviceError):
    """The device answered, but its sensor could not give a temperature."""


def _rate(options: Mapping[str, Any]) -> float:
    value = options.get("rate_hz", 2)
    try:
        rate = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"thermometer option rate_hz={value!r} is not a number") from None
    if not 0 < rate <= MAX_RATE_HZ:
        raise ValueError(f"thermometer option rate_hz={value!r}: expected more than 0 and at most {MAX_RATE_HZ:g}")
    return rate


def _range(value) -> tuple[float, float]:
    """"250..1600" (as the config writes it) or a (low, high) pair."""
    parts = value.split("..") if isinstance(value, str) else value
    try:
        lo, hi = (float(v) for v in parts)
    except (TypeError, ValueError):
        raise ValueError(f"thermometer option target_range_c={value!r}: expected \"LOW..HIGH\" in °C") from None
    if not lo < hi:
        raise ValueError(f"thermometer option target_range_c={value!r}: low must be below high")
    return lo, hi


def _reading(celsius: float | None, ambient: float | None, ts: float) -> ThermometerReading:
    return ThermometerReading(celsius, ambient, outside_human_range(celsius), ts)


class BridgeThermometer(StreamingDevice):
    """The MicroPython bridge board with an MLX90614 (firmware_bridge/)."""

    kind = "thermometer"
    protocol = "bridge"
    BAUD = 115200

    def __init__(self, device_id: str, url: DeviceURL, options: Mapping[str, Any] | None = None):
        super().__init__(device_id, url, options)
        self.rate_hz = _rate(self.options)
        self.reply_timeout = float(self.options.get("reply_timeout", 0.5))
        # a stream that stays silent this long means the board hung (port still there)
        self.silence_bound = max(2.0, 4.0 / self.rate_hz)
        self._port = None
        self._link: BridgeLink | None = None
        self._problems: set[str] = set()
        self.last_error: LinkError | None = None  # the board's last ERROR report, for logs

    # -- lifecycle -----------------------------------------------------------------------
    def open(self) -> None:
        self.close()
        try:
            self._port = open_serial(self.url, baud=self.BAUD, timeout=0.05)
        except DeviceUnavailable:
            self._problems = {status.DISCONNECTED}
            raise
        try:
            self._link = BridgeLink(self._port, reply_timeout=self.reply_timeout)
            identity = self._link.connect()
            self._link.start_stream(self.rate_hz)
        except DeviceUnavailable:
            self._problems = {status.DISCONNECTED}
            self.close()
            raise
        except DeviceNotAnswering as exc:
            self._problems = {status.NOT_ANSWERING}
            self.close()
            raise DeviceNotAnswering(f"thermometer bridge on {self.url}: {exc}") from None
        except DeviceError:
            self.close()
            raise
        # the board answers; a sensor it cannot read is a fault of the device, not an absence
        self._problems = {status.SENSOR_FAULT} if identity.sensor_error else set()

    def close(self) -> None:
        port, self._port, self._link = self._port, None, None
        if port is not None:
            try:
                port.close()
            except Exception:  # closing an unplugged port may fail; it is closed either way
                pass

    # -- data ------------------------------------------------------------------------------
    def read(self, timeout: float) -> list[ThermometerReading]:
        link = self._require()
        try:
            events = link.poll(timeout)
        except DeviceUnavailable:
            self._problems = {status.DISCONNECTED}
            raise
        readings = []
        for event in events:
            if isinstance(event, Measurement):
                readings.append(_reading(event.object_celsius, event.ambient_celsius, event.ts))
                self._problems.discard(status.SENSOR_FAULT)
            elif isinstance(event, LinkError):
                self.last_error = event
                if event.name == "sensor_error":  # the sensor says it cannot measure: tell the post
                    readings.append(_reading(None, None, event.ts))
                if event.name in SENSOR_FAULTS:
                    self._problems.add(status.SENSOR_FAULT)
        last = link.last_frame_at
        if last is None or link.clock() - last > self.silence_bound:
            self._problems.add(status.NOT_ANSWERING)
            raise DeviceNotAnswering(f"thermometer bridge on {self.url} sent nothing for "
                                     f"{self.silence_bound:.1f} s")
        self._problems.discard(status.NOT_ANSWERING)
        return readings

    def measure_once(self) -> ThermometerReading:
        """One reading on demand (the screening post's button), also while streaming."""
        link = self._require()
        try:
            m = link.measure()
        except BoardError as exc:
            self.last_error = exc.error
            self._problems.add(status.SENSOR_FAULT)
            if exc.error.name == "sensor_error":
                return _reading(None, None, exc.error.ts)
            raise SensorFault(f"thermometer bridge on {self.url}: {exc}") from None
        except DeviceUnavailable:
            self._problems = {status.DISCONNECTED}
            raise
        self._problems.discard(status.SENSOR_FAULT)
        return _reading(m.object_celsius, m.ambient_celsius, m.ts)

    def identify(self) -> Identity:
        """Firmware version and the MLX90614 factory id (provisioning's unique id)."""
        link = self._require()
        assert link.identity is not None  # set by connect() in open()
        return link.identity

    def unique_id(self) -> str:
        identity = self.identify()
        if identity.sensor_id is None:
            raise SensorFault(f"thermometer bridge on {self.url} cannot read its sensor id ({identity.sensor_error})")
        return f"mlx90614-{identity.sensor_id}"

    def problems(self) -> list[str]:
        if self._link is None and not self._problems:
            return [status.DISCONNECTED]
        return sorted(self._problems)

    def _require(self) -> BridgeLink:
        if self._link is None:
            raise DeviceUnavailable(f"thermometer bridge on {self.url} is not open")
        return self._link


@dataclass(frozen=True, slots=True)
class OptrisIdentity:
    serial_number: int
    firmware: int


class OptrisThermometer(StreamingDevice):
    """Optris CT / CSmicro, polled with the binary read commands at rate_hz."""

    kind = "thermometer"
    protocol = "optris"

    def __init__(self, device_id: str, url: DeviceURL, options: Mapping[str, Any] | None = None):
        super().__init__(device_id, url, options)
        self.rate_hz = _rate(self.options)
        address = self.options.get("address")
        self.address = None if address in (None, "") else int(address)
        if self.address is not None and not 1 <= self.address <= optris.MAX_ADDRESS:
            raise ValueError(f"thermometer option address={address!r}: expected 1..{optris.MAX_ADDRESS}")
        self.hundredths = bool(self.options.get("hundredths", False))  # CSmicro "hs" models
        self.target_range = _range(self.options.get("target_range_c", optris.TARGET_RANGE_C))
        self.answer_timeout = float(self.options.get("answer_timeout", 0.3))
        self.attempts = 2
        self._port = None
        self._problems: set[str] = set()
        self._head_supported = True
        self._next_due = 0.0

    def open(self) -> None:
        self.close()
        try:
            self._port = open_serial(self.url, baud=optris.DEFAULT_BAUD, timeout=self.answer_timeout)
        except DeviceUnavailable:
            self._problems = {status.DISCONNECTED}
            raise
        self._head_supported = True
        try:
            self._ask(optris.READ_TARGET)  # accept only a device that answers
        except DeviceError:
            self.close()
            raise
        self._problems = set()
        self._next_due = time.monotonic()

    def close(self) -> None:
        port, self._port = self._port, None
        close_quietly(port)

    def read(self, timeout: float) -> list[ThermometerReading]:
        """Poll at rate_hz for `timeout` seconds."""
        self._require()
        deadline = time.monotonic() + timeout
        readings = []
        while True:
            now = time.monotonic()
            if now >= self._next_due:
                readings.append(self.measure_once())
                self._next_due = max(self._next_due + 1.0 / self.rate_hz, now)
                continue
            if self._next_due > deadline:
                return readings
            time.sleep(self._next_due - now)

    def measure_once(self) -> ThermometerReading:
        target = optris.decode_temperature(self._ask(optris.READ_TARGET), hundredths=self.hundredths)
        celsius = optris.plausible(target, self.target_range)
        ambient = None
        if self._head_supported:
            try:
                head = optris.decode_temperature(self._ask(optris.READ_HEAD), hundredths=self.hundredths)
                ambient = optris.plausible(head, optris.HEAD_RANGE_C)
            except DeviceNotAnswering:
                self._head_supported = False  # a model without the head command: stop asking
        if celsius is None:
            self._problems.add(status.SENSOR_FAULT)
        else:
            self._problems.discard(status.SENSOR_FAULT)
        return _reading(celsius, ambient, time.time())

    def identify(self) -> OptrisIdentity:
        return OptrisIdentity(optris.decode_serial(self._ask(optris.READ_SERIAL)),
                              optris.decode_firmware(self._ask(optris.READ_FIRMWARE)))

    def problems(self) -> list[str]:
        if self._port is None and not self._problems:
            return [status.DISCONNECTED]
        return sorted(self._problems)

    # -- internals -------------------------------------------------------------------------
    def _ask(self, cmd: int) -> bytes:
        port = self._require()
        request = optris.command(cmd, self.address)
        want = optris.REPLY_LEN[cmd]
        try:
            for _ in range(self.attempts):
                port.reset_input_buffer()  # no framing: a stale byte would shift every reply
                port.write(request)
                port.flush()
                reply = port.read(want)
                if len(reply) == want:
                    self._problems.discard(status.NOT_ANSWERING)
                    return reply
        except PORT_ERRORS as exc:
            self._problems = {status.DISCONNECTED}
            raise DeviceUnavailable(f"Optris thermometer port {self.url} lost: {exc}") from exc
        self._problems.add(status.NOT_ANSWERING)
        where = f" at RS-485 address {self.address}" if self.address is not None else ""
        raise DeviceNotAnswering(f"Optris thermometer on {self.url}{where} did not answer command "
                                 f"0x{cmd:02x} within {self.answer_timeout:g} s ({self.attempts} tries)")

    def _require(self):
        if self._port is None:
            raise DeviceUnavailable(f"Optris thermometer on {self.url} is not open")
        return self._port
