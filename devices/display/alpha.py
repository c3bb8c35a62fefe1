"""Alpha Sign Communications Protocol (Adaptive Micro Systems, doc 9708-8061F): pure bytes in/out.

Packet on the wire:

    00 00 00 00 00  01   T    A A   02   C   data   03   K K K K   04
    sync (auto-baud) SOH type addr  STX  cmd        ETX  checksum  EOT

- type: "Z" = all sign types; "0" marks a sign's reply to a read.
- addr: two ASCII hex digits, "00" = broadcast ("?" is a wildcard digit).
- checksum: 4 uppercase ASCII hex digits of the sum of the bytes from STX through ETX
  inclusive, mod 65536. The protocol makes it optional; we always send one, and the decoder
  requires it, so a corrupted packet can never change what a sign shows.
- Several STX..ETX+checksum segments may be nested before one EOT.

Commands used here:
- "A" Write TEXT: label, ESC, position, mode, text.
- "F" Read SPECIAL FUNCTION, label "*" (2AH) = Read Serial Error Status Register. It is our
  health check: read-only, a one-byte answer, and answered only by an addressed sign. The sign
  replies as if writing it back: type "0", address "00", command "E", label "*", then one
  status byte (bit 6 always set, so it is printable; bits 0..5 are errors seen since the last
  read: parity, framing, serial timeout, buffer overflow, checksum, illegal command). Reading
  clears the register.
- "B" Read TEXT file: answered with the file as a Write TEXT ("A") packet (used by the simulator).
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass

NUL, SOH, STX, ETX, EOT, ESC = 0x00, 0x01, 0x02, 0x03, 0x04, 0x1B
SYNC = b"\x00" * 5

TYPE_ALL = "Z"
TYPE_RESPONSE = "0"
BROADCAST = "00"

WRITE_TEXT, READ_TEXT = "A", "B"
WRITE_SPECIAL, READ_SPECIAL = "E", "F"
SERIAL_ERROR_STATUS = "*"  # special function label 2AH
DEFAULT_LABEL = "A"  # the TEXT file every sign has without memory configuration

POSITIONS = {"middle": 0x20, "top": 0x22, "bottom": 0x26, "fill": 0x30}
MODES = {"rotate": "a", "hold": "b", "flash": "c"}
SPECIAL_MODE = "n"  # followed by one specifier byte
_POSITION_NAMES = {v: k for k, v in POSITIONS.items()}
_MODE_NAMES = {v: k for k, v in MODES.items()}

# Serial Error Status Register bits.
STATUS_ALWAYS = 0x40
STATUS_PARITY = 0x01
STATUS_FRAMING = 0x02
STATUS_TIMEOUT = 0x04
STATUS_OVERFLOW = 0x08
STATUS_CHECKSUM = 0x10
STATUS_ILLEGAL = 0x20
STATUS_ERRORS = 0x3F
_STATUS_NAMES = {STATUS_PARITY: "parity", STATUS_FRAMING: "framing", STATUS_TIMEOUT: "serial timeout",
                 STATUS_OVERFLOW: "buffer overflow", STATUS_CHECKSUM: "checksum",
                 STATUS_ILLEGAL: "illegal command or file label"}

MAX_TEXT = 125  # characters; the size msparks/alphasign gives a default TEXT file
MAX_PACKET = 4096  # decoder bound: longer without ETX is garbage, not a packet

_HEX = frozenset(b"0123456789ABCDEFabcdef")
_ADDR = _HEX | {ord("?")}


class AlphaEncodeError(ValueError):
    """Text or a setting that cannot be put in an Alpha packet; the message says which."""


# ----------------------------------------------------------------------------------------
# Encoding
# ----------------------------------------------------------------------------------------
def checksum(segment: bytes) -> bytes:
    """4 uppercase hex digits of the byte sum of STX..ETX inclusive, mod 65536."""
    return b"%04X" % (sum(segment) & 0xFFFF)


def normalize_address(address: str | int | None) -> str:
    """'1' / 1 / '0a' -> '01' / '01' / '0A'. Ints are read as their decimal digits ('10' stays '10')."""
    text = BROADCAST if address is None else str(address).strip().upper()
    if len(text) == 1:
        text = "0" + text
    if len(text) != 2 or not all(c in "0123456789ABCDEF?" for c in text):
        raise AlphaEncodeError(f"Alpha sign address {address!r}: expected two hex digits, 00 = all signs")
    return text


def frame(command: bytes, *, address: str = BROADCAST, type_code: str = TYPE_ALL) -> bytes:
    """One packet: sync, SOH, type, address, STX, command+data, ETX, checksum, EOT."""
    if len(type_code) != 1:
        raise AlphaEncodeError(f"type code {type_code!r} must be one character")
    segment = b"\x02" + command + b"\x03"
    header = b"\x01" + type_code.encode("ascii") + normalize_address(address).encode("ascii")
    return SYNC + header + segment + checksum(segment) + b"\x04"


# Typographic characters a call text may carry, with an ASCII stand-in.
_TRANSLIT = {
    "\u2192": "->", "\u2190": "<-", "\u21d2": "=>", "\u2013": "-", "\u2014": "-", "\u2012": "-",
    "\u2212": "-", "\u2010": "-", "\u2011": "-", "\u2018": "'", "\u2019": "'", "\u201a": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"', "\u2026": "...",
    "\u2116": "No", "\u00a0": " ", "\u2009": " ", "\u202f": " ", "\u00d7": "x", "\u00b7": ".",
    "\u2022": "*", "\u00df": "ss", "\u00e6": "ae", "\u00c6": "AE", "\u00f8": "o", "\u00d8": "O",
    "\u0142": "l", "\u0141": "L", "\u0111": "d", "\u0110": "D",
}


def to_sign_text(text: str) -> bytes:
    """ASCII bytes for a sign: accents dropped, typographic marks replaced, anything else refused."""
    if not isinstance(text, str):
        raise AlphaEncodeError(f"text must be a string, got {type(text).__name__}")
    out = []
    for index, ch in enumerate(text):
        if " " <= ch <= "~":
            out.append(ch)
            continue
        if ch in _TRANSLIT:
            out.append(_TRANSLIT[ch])
            continue
        base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
        if base and all(" " <= c <= "~" for c in base):
            out.append(base)
            continue
        what = "control character" if unicodedata.category(ch).startswith("C") else "character"
        raise AlphaEncodeError(
            f"{what} {ch!r} (U+{ord(ch):04X}) at position {index} cannot be shown: "
            f"Alpha signs take ASCII only")
    encoded = "".join(out).encode("ascii")
    if len(encoded) > MAX_TEXT:
        raise AlphaEncodeError(f"text is {len(encoded)} characters; an Alpha TEXT file holds at most {MAX_TEXT}")
    return encoded


def write_text(text: str, *, address: str = BROADCAST, label: str = DEFAULT_LABEL,
               position: str = "middle", mode: str = "hold") -> bytes:
    """Write TEXT packet: 'A', label, ESC, position, mode, text."""
    if position not in POSITIONS:
        raise AlphaEncodeError(f"position {position!r}: expected one of {', '.join(POSITIONS)}")
    if mode not in MODES:
        raise AlphaEncodeError(f"mode {mode!r}: expected one of {', '.join(MODES)}")
    _check_label(label)
    body = (WRITE_TEXT + label).encode("ascii") + bytes([ESC, POSITIONS[position]]) + MODES[mode].encode("ascii")
    return frame(body + to_sign_text(text), address=address)


def read_serial_error_status(address: str) -> bytes:
    """The health-check request: Read SPECIAL FUNCTION '*' addressed to one sign."""
    return frame((READ_SPECIAL + SERIAL_ERROR_STATUS).encode("ascii"), address=address)


def read_text(address: str, label: str = DEFAULT_LABEL) -> bytes:
    _check_label(label)
    return frame((READ_TEXT + label).encode("ascii"), address=address)


def serial_error_status_reply(status: int) -> bytes:
    """What a sign sends back to a serial-error-status read (used by the simulator)."""
    return frame(b"E*" + bytes([STATUS_ALWAYS | (status & STATUS_ERRORS)]),
                 address=BROADCAST, type_code=TYPE_RESPONSE)


def text_file_reply(label: str, data: bytes) -> bytes:
    """A sign's answer to Read TEXT: the file as a Write TEXT command (data = after the label)."""
    return frame(b"A" + label.encode("ascii") + data, address=BROADCAST, type_code=TYPE_RESPONSE)


def _check_label(label: str) -> None:
    if len(label) != 1 or not (0x20 <= ord(label) <= 0x7E):
        raise AlphaEncodeError(f"file label {label!r} must be one printable ASCII character")


def describe_status(status: int) -> str:
    errors = [name for bit, name in _STATUS_NAMES.items() if status & bit]
    return ", ".join(errors) if errors else "no errors"


# ----------------------------------------------------------------------------------------
# Decoding
# ----------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class AlphaPacket:
    """One STX..ETX command segment of a packet whose checksum was right."""
    type_code: str
    address: str
    command: str
    data: bytes


@dataclass(frozen=True, slots=True)
class AlphaReject:
    """Bytes the decoder threw away, and why; address when the header was readable."""
    reason: str
    address: str | None = None


@dataclass(frozen=True, slots=True)
class TextFile:
    label: str
    text: str
    position: str | None  # "middle" | "top" | "bottom" | "fill" | "0xNN" | None (not given)
    mode: str | None  # "hold" | "flash" | "rotate" | other mode letter | None (not given)


def parse_text_file(data: bytes) -> TextFile | None:
    """Data of a Write TEXT command (after 'A') -> the file; None if it has no label."""
    if not data:
        return None
    label, rest = chr(data[0]), data[1:]
    position = mode = None
    if rest[:1] == b"\x1b" and len(rest) >= 3:
        position = _POSITION_NAMES.get(rest[1], f"0x{rest[1]:02X}")
        letter = chr(rest[2])
        mode = _MODE_NAMES.get(letter, letter)
        rest = rest[4:] if letter == SPECIAL_MODE else rest[3:]
    return TextFile(label, rest.decode("latin-1"), position, mode)


def parse_serial_error_status(packet: AlphaPacket) -> int | None:
    """The status byte of a sign's reply to the health check, or None if it is not one."""
    if packet.type_code != TYPE_RESPONSE or packet.command != WRITE_SPECIAL:
        return None
    if len(packet.data) != 2 or packet.data[:1] != b"*" or not packet.data[1] & STATUS_ALWAYS:
        return None
    return packet.data[1]


class AlphaDecoder:
    """Splits a byte stream into checked packets; resynchronises on SOH, never on timing."""

    def __init__(self, max_packet: int = MAX_PACKET):
        self._buf = bytearray()
        self._max = max_packet

    def reset(self) -> None:
        self._buf.clear()

    def feed(self, data: bytes) -> list[AlphaPacket | AlphaReject]:
        buf = self._buf
        buf += data
        out: list[AlphaPacket | AlphaReject] = []
        start = 0
        while True:
            soh = buf.find(b"\x01", start)
            end = len(buf) if soh < 0 else soh
            if buf[start:end].strip(b"\x00"):
                out.append(AlphaReject("bytes outside a packet"))
            if soh < 0:
                start = len(buf)
                break
            items, consumed = self._parse_at(buf, soh)
            if items is None:  # incomplete: keep from SOH
                start = soh
                break
            out.extend(items)
            start = consumed
        del buf[:start]
        return out

    def _parse_at(self, buf: bytearray, i: int):
        """(items, index after them) for the packet at SOH index i; (None, i) if incomplete."""
        n = len(buf)
        if n - i < 5:
            return None, i
        type_byte, addr = buf[i + 1], buf[i + 2:i + 4]
        if not (0x20 <= type_byte <= 0x7E) or addr[0] not in _ADDR or addr[1] not in _ADDR or buf[i + 4] != STX:
            return [AlphaReject("malformed header")], i + 1
        type_code, address = chr(type_byte), addr.decode("ascii").upper()
        segments: list[AlphaPacket] = []
        pos = i + 4  # at an STX
        while True:
            etx = buf.find(b"\x03", pos + 1)
            cut = buf.find(b"\x01", pos + 1, etx if etx >= 0 else n)
            if cut >= 0:
                return [AlphaReject("packet cut short by a new SOH", address)], cut
            if etx < 0:
                if n - i > self._max:
                    return [AlphaReject("packet too long", address)], n
                return None, i
            digits = buf[etx + 1:etx + 5]
            if not all(b in _HEX for b in digits):
                skip = etx + 2 if buf[etx + 1:etx + 2] == b"\x04" else etx + 1
                return [AlphaReject("missing checksum", address)], skip
            if n < etx + 6:  # the checksum or its terminator is still to come
                return None, i
            end = etx + 5
            terminator = buf[end]
            skip = end + 1 if terminator == EOT else end  # a rejected packet takes its EOT along
            if sum(buf[pos:etx + 1]) & 0xFFFF != int(digits, 16):
                return [AlphaReject("checksum mismatch", address)], skip
            if etx == pos + 1:
                return [AlphaReject("empty command", address)], skip
            segments.append(AlphaPacket(type_code, address, chr(buf[pos + 1]), bytes(buf[pos + 2:etx])))
            if terminator == EOT:
                return segments, end + 1
            if terminator != STX:
                return [AlphaReject("no EOT after checksum", address)], end
            pos = end  # a nested segment follows
