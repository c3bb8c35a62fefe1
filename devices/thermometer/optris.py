"""Optris CT / CSmicro binary serial protocol: pure encoders and decoders (no I/O).

From Optris' "CT/CTlaser/CTvideo communication interface" and the CSmicro manuals' digital
command set (binary protocol, 8N1, factory default 115200 baud):
  01  READ Temp-Target (the processed object temperature)   -> 2 bytes
  02  READ Temp-Head (the sensing head's own temperature)    -> 2 bytes
  03  READ current Temp-Target (before signal processing)    -> 2 bytes
  0E  READ serial number                                     -> 3 bytes, big-endian
  0F  READ firmware revision                                 -> 2 bytes, big-endian
Temperatures are big-endian, T °C = (hi*256 + lo - 1000) / 10 (37.0 °C = 05 5A). The
CSmicro "hs" models send hundredths instead: (value - 10000) / 100.
There is no framing, checksum or ACK on read commands: replies are found by length.
RS-485 multidrop: each command is prefixed with 0xB0 + address (B5 01 reads device 5);
RS-232/USB devices answer whatever the prefix. Checksums exist only for SET commands.
The protocol has no error code either: a reply outside what the sensor measures (TARGET_RANGE_C,
HEAD_RANGE_C; `plausible()`) is not a temperature, whatever its bytes decode to.
"""
from __future__ import annotations

import struct

READ_TARGET = 0x01
READ_HEAD = 0x02
READ_CURRENT_TARGET = 0x03
READ_SERIAL = 0x0E
READ_FIRMWARE = 0x0F

REPLY_LEN = {READ_TARGET: 2, READ_HEAD: 2, READ_CURRENT_TARGET: 2, READ_SERIAL: 3, READ_FIRMWARE: 2}
ADDRESS_PREFIX = 0xB0
MAX_ADDRESS = 0xFF - ADDRESS_PREFIX  # the prefix must stay a single byte
DEFAULT_BAUD = 115200

# What the models we drive measure: CT LT -50..975 °C, CSmicro LT -40..1030 °C. A high-temperature
# model sets its own range with the driver option `target_range_c`.
TARGET_RANGE_C = (-50.0, 1030.0)
# The sensing head's own temperature: our bound is wider than any CT/CSmicro head's rated ambient.
HEAD_RANGE_C = (-40.0, 250.0)


class OptrisError(ValueError):
    pass


def command(cmd: int, address: int | None = None) -> bytes:
    """Bytes for a read command; `address` (1..79) adds the RS-485 multidrop prefix."""
    if cmd not in REPLY_LEN:
        raise OptrisError(f"unsupported read command 0x{cmd:02x}")
    if address is None:
        return bytes((cmd,))
    if not 1 <= address <= MAX_ADDRESS:
        raise OptrisError(f"RS-485 address must be 1..{MAX_ADDRESS}, got {address}")
    return bytes((ADDRESS_PREFIX + address, cmd))


def split_command(data: bytes) -> tuple[int | None, int] | None:
    """(address or None, command) from a command as the device receives it; for simulators."""
    if len(data) == 2 and data[0] > ADDRESS_PREFIX:
        return data[0] - ADDRESS_PREFIX, data[1]
    if len(data) == 1:
        return None, data[0]
    return None


def decode_temperature(reply: bytes, *, hundredths: bool = False) -> float:
    """°C from a 2-byte temperature reply."""
    if len(reply) != 2:
        raise OptrisError(f"temperature reply must be 2 bytes, got {len(reply)}")
    value = (reply[0] << 8) | reply[1]
    if hundredths:
        return (value - 10000) / 100
    return (value - 1000) / 10


def plausible(celsius: float, limits: tuple[float, float]) -> float | None:
    """`celsius` when it lies inside `limits` (inclusive), else None: not a measurement."""
    return celsius if limits[0] <= celsius <= limits[1] else None


def encode_temperature(celsius: float, *, hundredths: bool = False) -> bytes:
    """The 2 bytes a device sends for `celsius` (for simulators and tests)."""
    value = round(celsius * 100) + 10000 if hundredths else round(celsius * 10) + 1000
    if not 0 <= value <= 0xFFFF:
        raise OptrisError(f"{celsius} °C cannot be encoded")
    return struct.pack(">H", value)


def decode_temperatures(replies: bytes) -> list[float]:
    """Many back-to-back 2-byte temperature replies at once (captures, benchmarks)."""
    if len(replies) % 2:
        raise OptrisError("odd number of bytes in a run of temperature replies")
    return [(v - 1000) / 10 for (v,) in struct.iter_unpack(">H", replies)]


def decode_serial(reply: bytes) -> int:
    if len(reply) != 3:
        raise OptrisError(f"serial number reply must be 3 bytes, got {len(reply)}")
    return (reply[0] << 16) | (reply[1] << 8) | reply[2]


def encode_serial(number: int) -> bytes:
    return number.to_bytes(3, "big")


def decode_firmware(reply: bytes) -> int:
    if len(reply) != 2:
        raise OptrisError(f"firmware reply must be 2 bytes, got {len(reply)}")
    return (reply[0] << 8) | reply[1]
