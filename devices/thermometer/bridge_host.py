"""Host side of the bridge link: handshake, requests matched by sequence number, streaming.

`BridgeLink` wraps an open pyserial-like port (read/write/in_waiting/reset_input_buffer).
Frames that fail COBS, CRC or their payload layout are dropped and counted; they never
produce a reading. Port errors become DeviceUnavailable, silence DeviceNotAnswering.
"""
from __future__ import annotations

import math
import struct
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable, NamedTuple

import serial

try:
    import termios

    # pyserial lets termios.error (not an OSError) escape from flush() on an unplugged tty
    PORT_ERRORS: tuple = (serial.SerialException, OSError, termios.error)
except ImportError:  # not a POSIX system
    PORT_ERRORS = (serial.SerialException, OSError)

from devices.errors import DeviceError, DeviceNotAnswering, DeviceUnavailable
from firmware_bridge import link, mlx90614

REQUIRED_MESSAGES = ("HELLO", "IDENTIFY", "MEASURE", "STREAM", "ACK", "ERROR", "READING")


class ProtocolMismatch(DeviceError):
    """The board speaks another protocol version (or lacks a message we need): reflash it."""


class BoardError(DeviceError):
    """The board answered a request with ERROR."""

    def __init__(self, error: "LinkError"):
        super().__init__(f"bridge board reports {error.name}: {error.text}")
        self.error = error


@dataclass(frozen=True, slots=True)
class Identity:
    firmware_version: str
    protocol_version: int
    sensor_id: str | None  # 16 hex digits from the MLX90614's factory id registers: a unique id
    emissivity: float | None
    sensor_error: str | None = None  # why sensor_id is None (pec_error, i2c_nack)


class Measurement(NamedTuple):  # a NamedTuple, not a frozen dataclass: built once per streamed frame
    object_raw: int
    ambient_raw: int
    object_celsius: float
    ambient_celsius: float
    seq: int
    ts: float


@dataclass(frozen=True, slots=True)
class LinkError:
    code: int
    name: str  # pec_error, sensor_error, i2c_nack, bad_frame, unknown_message
    ref: str  # the message it is about ("READING" for the stream), or "" if unknown
    text: str
    ts: float


_MEASUREMENT = struct.Struct(">HH")  # the raw words; the hundredths after them are for humans
_FLAG = mlx90614.ERROR_FLAG
_K = mlx90614.KELVIN_OFFSET

# What an MLX90614 can measure (datasheet: object -70..+380 °C, its own die -40..+125 °C), as raw
# words. A word outside is a sensor glitch, never a temperature: the board does not judge ranges,
# so the host does, and reports it as the sensor's error.
OBJECT_RANGE_C = (-70.0, 380.0)
AMBIENT_RANGE_C = (-40.0, 125.0)


def _raw_bounds(lo: float, hi: float) -> tuple[int, int]:
    """The raw words whose temperature lies inside lo..hi (the sensor's step is 0.02 K)."""
    return math.ceil(round((lo + _K) / 0.02, 6)), math.floor(round((hi + _K) / 0.02, 6))


_OBJ_LO, _OBJ_HI = _raw_bounds(*OBJECT_RANGE_C)
_AMB_LO, _AMB_HI = _raw_bounds(*AMBIENT_RANGE_C)


class OutOfSensorRange(Exception):
    """A measurement whose words the sensor cannot have produced; the message says which."""


def _measurement(payload: bytes, seq: int, ts: float) -> Measurement | None:
    """The host's hot path (one call per streamed frame): inlined link.unpack_measurement.

    None for flagged words (the board reports those as ERROR: a READING carrying one is not to be
    trusted); OutOfSensorRange for words outside what the sensor measures."""
    if len(payload) != 12:
        raise link.PayloadError(f"MEASURE payload must be 12 bytes, got {len(payload)}")
    obj, amb = _MEASUREMENT.unpack_from(payload)
    if (obj | amb) & _FLAG:
        return None
    if not (_OBJ_LO <= obj <= _OBJ_HI and _AMB_LO <= amb <= _AMB_HI):
        raise OutOfSensorRange(
            f"object {obj * 0.02 - _K:.2f} °C / ambient {amb * 0.02 - _K:.2f} °C is outside the MLX90614's "
            f"{OBJECT_RANGE_C[0]:g}..{OBJECT_RANGE_C[1]:g} °C / {AMBIENT_RANGE_C[0]:g}..{AMBIENT_RANGE_C[1]:g} °C")
    return Measurement(obj, amb, round(obj * 0.02 - _K, 2), round(amb * 0.02 - _K, 2), seq, ts)


class BridgeLink:
    def __init__(self, port, *, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time, reply_timeout: float = 0.5, attempts: int = 3):
        self.port = port
        self.clock = clock
        self.wall = wall
        self.reply_timeout = reply_timeout
        self.attempts = attempts
        self.decoder = link.FrameDecoder()
        self.ids: dict[str, int] = dict(link.MESSAGES)  # replaced by the board's at connect
        self.names: dict[int, str] = {v: k for k, v in self.ids.items()}
        self.version = link.PROTOCOL_VERSION
        self.identity: Identity | None = None
        self.events: deque = deque()  # stream Measurements and LinkErrors, oldest first
        self.last_frame_at: float | None = None
        self.payload_errors = 0
        self._seq = 0

    @property
    def dropped(self) -> int:
        return self.decoder.dropped + self.payload_errors

    # -- connect -----------------------------------------------------------------------------
    def connect(self) -> Identity:
        """HELLO (version and dictionary check), then IDENTIFY."""
        self._io(self.port.reset_input_buffer)
        self.decoder.reset()
        self.events.clear()
        self._write(b"\x00")  # ends whatever partial frame the board may be holding
        _, payload = self.request("HELLO", link.pack_hello_request(self.version))
        try:
            board_version, dictionary = link.unpack_hello_reply(payload)
        except link.PayloadError as exc:
            raise ProtocolMismatch(f"bridge board sent an unreadable HELLO reply ({exc})") from None
        if board_version != self.version:
            raise ProtocolMismatch(
                f"bridge firmware speaks link protocol version {board_version}, this host speaks "
                f"{self.version}: flash the firmware shipped with this Vestibule release")
        missing = [m for m in REQUIRED_MESSAGES if m not in dictionary]
        if missing:
            raise ProtocolMismatch(f"bridge firmware lacks messages {', '.join(missing)}")
        self.ids = dictionary
        self.names = {v: k for k, v in dictionary.items()}
        self.events.clear()  # readings a previous session's stream left on the line
        _, payload = self.request("IDENTIFY")
        try:
            fw, proto, sensor_status, sensor_id, emissivity = link.unpack_identify(payload)
        except link.PayloadError as exc:
            raise ProtocolMismatch(f"bridge board sent an unreadable IDENTIFY reply ({exc})") from None
        if sensor_status:
            self.identity = Identity("%d.%d.%d" % fw, proto, None, None,
                                     link.ERROR_NAMES.get(sensor_status, f"error_{sensor_status}"))
        else:
            self.identity = Identity("%d.%d.%d" % fw, proto, sensor_id.hex(), round(emissivity / 0xFFFF, 3))
        return self.identity

    # -- requests ----------------------------------------------------------------------------
    def request(self, name: str, payload: bytes = b"") -> tuple[int, bytes]:
        """Send a request and wait for the frame answering it: (reply id, payload).

        Each attempt uses a fresh sequence number, so a late answer to an earlier attempt is
        ignored instead of being taken for the current one. ERROR answers raise BoardError.
        """
        mid = link.HELLO if name == "HELLO" else self.ids[name]
        for _ in range(self.attempts):
            self._seq = self._seq % 255 + 1
            seq = self._seq
            self._write(link.encode_frame(self.version, seq, mid, payload))
            deadline = self.clock() + self.reply_timeout
            answer = None
            while answer is None:
                remaining = deadline - self.clock()
                if remaining <= 0:
                    break
                for frame in self._receive(remaining):  # all of them: stream events stay queued
                    got = self._dispatch(frame, pending=seq)
                    if got is not None and answer is None:
                        answer = got
            if answer is not None:
                reply_id, reply = answer
                if reply_id == self.ids.get("ERROR") and mid != link.HELLO:
                    raise BoardError(self._error(reply))
                return reply_id, reply
        raise DeviceNotAnswering(f"bridge board did not answer {name} "
                                 f"({self.attempts} attempts, {self.reply_timeout:.1f} s each)")

    def measure(self) -> Measurement:
        _, payload = self.request("MEASURE")
        try:
            m = _measurement(payload, self._seq, self.wall())
        except link.PayloadError as exc:
            raise BoardError(LinkError(link.BAD_FRAME, "bad_frame", "MEASURE", str(exc), self.wall())) from None
        except OutOfSensorRange as exc:
            raise BoardError(LinkError(link.SENSOR_ERROR, "sensor_error", "MEASURE", str(exc), self.wall())) from None
        if m is None:
            raise BoardError(LinkError(link.SENSOR_ERROR, "sensor_error", "MEASURE", "flagged word", self.wall()))
        return m

    def start_stream(self, rate_hz: float) -> None:
        period = max(link.MIN_STREAM_PERIOD_MS, min(0xFFFF, int(round(1000 / rate_hz))))
        self.request("STREAM", link.pack_stream(period))

    def stop_stream(self) -> None:
        self.request("STREAM", link.pack_stream(0))

    # -- streaming ---------------------------------------------------------------------------
    def poll(self, timeout: float) -> list:
        """Stream events (Measurement / LinkError) that arrived within `timeout` seconds."""
        deadline = self.clock() + timeout
        while not self.events:
            remaining = deadline - self.clock()
            if remaining <= 0:
                break
            for frame in self._receive(remaining):
                self._dispatch(frame, pending=None)
        out = list(self.events)
        self.events.clear()
        return out

    # -- internals ---------------------------------------------------------------------------
    def _dispatch(self, frame, pending: int | None):
        """Queue stream events; return (id, payload) if the frame answers request `pending`."""
        version, seq, mid, payload = frame
        self.last_frame_at = self.clock()
        if mid == link.HELLO:  # HELLO answers are read whatever their version
            return (mid, payload) if seq == pending else None
        if version != self.version:
            self.payload_errors += 1
            return None
        name = self.names.get(mid)
        try:
            if name == "READING":
                try:
                    m = _measurement(payload, seq, self.wall())
                except OutOfSensorRange as exc:  # as if the board had flagged it: the post must know
                    self.events.append(LinkError(link.SENSOR_ERROR, "sensor_error", "READING", str(exc), self.wall()))
                    return None
                if m is None:
                    self.payload_errors += 1
                else:
                    self.events.append(m)
                return None
            if name == "ERROR":
                error = self._error(payload)
                if pending is not None and seq == pending and error.ref != "READING":
                    return mid, payload
                self.events.append(error)  # stream errors and bad_frame reports
                return None
        except link.PayloadError:
            self.payload_errors += 1
            return None
        if pending is not None and seq == pending:
            return mid, payload
        return None  # a late answer to an earlier attempt, or an id we do not know

    def _error(self, payload: bytes) -> LinkError:
        code, ref, text = link.unpack_error(payload)
        return LinkError(code, link.ERROR_NAMES.get(code, f"error_{code}"), self.names.get(ref, ""), text, self.wall())

    def _receive(self, timeout: float) -> list:
        """Frames from what arrives within about min(timeout, the port's read timeout)."""
        # the port's own read timeout (short, set at open) bounds each wait
        port = self.port
        waiting = self._io(lambda: port.in_waiting)
        data = self._io(lambda: port.read(max(1, waiting)))
        return self.decoder.feed(data) if data else []

    def _write(self, data: bytes) -> None:
        self._io(lambda: port_write(self.port, data))

    @staticmethod
    def _io(fn):
        try:
            return fn()
        except PORT_ERRORS as exc:
            raise DeviceUnavailable(f"bridge board port lost: {exc}") from exc


def port_write(port, data: bytes) -> None:
    port.write(data)
    port.flush()
