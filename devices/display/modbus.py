"""Modbus RTU number boards: function 06 on register 0 shows a signed 16-bit number.

The board answers a write with an echo of the request frame. Framing and CRC-16/Modbus come
from pymodbus (never hand-written here): the client for the driver, and FramerRTU/DecodePDU
for the simulator's request splitter. Health check: read holding register 0 (function 03);
any well-formed answer, even a Modbus exception ("illegal function" from a board that only
knows 06), proves the unit is there.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import serial
from pymodbus.client import ModbusSerialClient
from pymodbus.framer import FramerRTU
from pymodbus.pdu import DecodePDU, ModbusPDU
from pymodbus.pdu.register_message import ReadHoldingRegistersRequest, WriteSingleRegisterRequest

# pymodbus logs a missed answer as an error; ours becomes DeviceNotAnswering with a clear message.
# Without any handler Python would print it raw on stderr; the application's handlers still get it.
logging.getLogger("pymodbus").addHandler(logging.NullHandler())

REGISTER = 0
DEFAULT_UNIT = 1
MIN_NUMBER, MAX_NUMBER = -32768, 32767
MAX_BUFFER = 512  # simulator splitter bound: more than this without a frame is noise


def to_register(number: int) -> int:
    """Signed 16-bit number -> register value (two's complement)."""
    if isinstance(number, bool) or not isinstance(number, int):
        raise ValueError(f"a number board shows whole numbers, got {number!r}")
    if not MIN_NUMBER <= number <= MAX_NUMBER:
        raise ValueError(f"{number} does not fit a signed 16-bit register ({MIN_NUMBER}..{MAX_NUMBER})")
    return number & 0xFFFF


def from_register(value: int) -> int:
    return value - 0x10000 if value & 0x8000 else value


def check_unit(unit: int) -> int:
    if isinstance(unit, bool) or not isinstance(unit, int) or not 1 <= unit <= 247:
        raise ValueError(f"Modbus unit id {unit!r}: expected 1..247 (0 is broadcast, which never answers)")
    return unit


def frame_gap(baud: int, bits_per_char: int = 10) -> float:
    """Modbus RTU silent interval: 3.5 character times, fixed 1.75 ms above 19200 baud."""
    if baud > 19200:
        return 0.00175
    return 3.5 * bits_per_char / baud


def _framer() -> FramerRTU:
    return FramerRTU(DecodePDU(is_server=False))


def write_number_request(unit: int, number: int) -> bytes:
    """The exact bytes the driver's client sends to show `number` (golden tests, simulator)."""
    pdu = WriteSingleRegisterRequest(address=REGISTER, registers=[to_register(number)], dev_id=unit)
    return _framer().buildFrame(pdu)


def read_number_request(unit: int) -> bytes:
    return _framer().buildFrame(ReadHoldingRegistersRequest(address=REGISTER, count=1, dev_id=unit))


def build_frame(pdu: ModbusPDU) -> bytes:
    """A response frame (address, PDU, CRC) built by pymodbus; pdu.dev_id is the unit."""
    return _framer().buildFrame(pdu)


# ----------------------------------------------------------------------------------------
# Simulator side: split a request stream into frames, hunting byte by byte on a bad CRC.
# ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RtuRequest:
    unit: int
    pdu: ModbusPDU
    raw: bytes  # the whole frame, CRC included (a board echoes it for function 06)


class RtuRequestSplitter:
    """Requests out of a byte stream. A pty has no 3.5-character silences, so frames are found
    by content: a known function code, its frame length, and a matching CRC (all from pymodbus).
    Garbage is skipped one byte at a time; a frame with a wrong CRC is never returned."""

    def __init__(self):
        self._buf = bytearray()
        self._decoder = DecodePDU(is_server=True)

    def reset(self) -> None:
        self._buf.clear()

    def feed(self, data: bytes) -> list[RtuRequest]:
        buf = self._buf
        buf += data
        out: list[RtuRequest] = []
        while True:
            found, keep_from = self._next_frame(buf)
            if found is None:
                del buf[:keep_from]
                break
            start, size, pdu = found
            out.append(RtuRequest(buf[start], pdu, bytes(buf[start:start + size])))
            del buf[:start + size]
        if len(buf) > MAX_BUFFER:
            del buf[:len(buf) - MAX_BUFFER // 2]
        return out

    def _next_frame(self, buf: bytearray):
        """((start, size, pdu), _) for the first frame with a good CRC, else (None, keep_from)."""
        first_incomplete = None
        for start in range(0, max(0, len(buf) - FramerRTU.MIN_SIZE + 1)):
            view = bytes(buf[start:])
            try:
                cls = self._decoder.lookupPduClass(view)
                size = cls.calculateRtuFrameSize(view) if cls else 0
            except Exception:  # pymodbus raises assorted errors on garbage; garbage is skipped
                continue
            if not cls:
                continue
            if not size or size > len(view):
                if first_incomplete is None:
                    first_incomplete = start
                continue
            crc = int.from_bytes(view[size - 2:size], "big")
            if not FramerRTU.check_CRC(view[:size - 2], crc):
                continue
            try:
                pdu = self._decoder.decode(view[1:size - 2])
            except Exception:
                pdu = None
            if pdu is None:
                continue
            pdu.dev_id = view[0]
            return (start, size, pdu), start
        if first_incomplete is not None:
            return None, first_incomplete
        return None, max(0, len(buf) - FramerRTU.MIN_SIZE + 1)


# ----------------------------------------------------------------------------------------
# Driver side: pymodbus's own serial client, on a port we opened.
# ----------------------------------------------------------------------------------------
class PortClient(ModbusSerialClient):
    """pymodbus's sync serial client on a port opened by devices.serial_port.open_serial
    (clear errors, exclusive lock, URL overrides). It never reopens the port by itself:
    reconnecting is the line's and the device manager's job."""

    def __init__(self, port: serial.Serial, timeout: float):
        super().__init__(port.port, baudrate=port.baudrate, bytesize=port.bytesize,
                         parity=port.parity, stopbits=port.stopbits, timeout=timeout, retries=0)
        self.socket = port
        port.inter_byte_timeout = self.inter_byte_timeout or None

    def connect(self) -> bool:
        return self.socket is not None
