"""Contec packet protocol V7.0 (CMS50D+ fw 4.6+, CMS50E/F): pure encoders and an incremental decoder.

Framing (both directions): byte0 = packet type with bit7 = 0; byte1 = "high-bit byte" (bit7 = 1;
bit i holds bit7 of data byte i+2); data bytes travel with bit7 forced to 1. A pty has no timing,
so the decoder resynchronises on content only: a packet starts at a byte with bit7 = 0 and
continues while bytes have bit7 = 1. There is no checksum, so every value is range-checked.

Live data (type 0x01, 9 bytes, 60/s), decoded data bytes:
  [2] bits 0-3 signal strength, bit4 "searching too long", bit5 "SpO2 dropping", bit6 beat,
      bit7 probe error (finger out)
  [3] bits 0-6 pleth, bit7 "searching for pulse"
  [4] bar graph / PI-valid bits (unused here)
  [5] pulse rate in bpm (0xFF = no value)    [6] SpO2 in % (0x7F = no value)
  Values are judged by devices.oximeter.vitals: 0, 0x7F and 0xFF are "no value" for either number
  (decoders that ignore the high-bit byte see 0xFF as 0x7F); a number outside 50..100 % or
  25..250 bpm voids the packet's numbers (a pulse of 254 is no reading).
  [7],[8] perfusion index, little endian (0xFFFF = no value)
Finger-out and searching are reverse-engineered. Our choice, where the public sources agree:
  * finger out = decoded [2] bit7, i.e. bit0 of the high-bit byte. MarkMLl/Contec_cms50dplus reads
    "byte 1 LSB: 0 if OK, 1 if finger out"; celiponcio's CMS50D+ 4.6 reader uses the same bit;
    timegrid/CMS50Dplus7 names decoded [2] bit7 "probe error".
  * searching = decoded [3] bit7 (high-bit byte bit1; "searching" in celiponcio, "searching pulse"
    in timegrid) or decoded [2] bit4 ("searching too long", timegrid; the old 5-byte protocol).
A reading carries SpO2 and pulse only when the probe is "ok": while the finger is out or the device
is still searching the numbers are stale carry-overs, and a screening kiosk must not show them.
Answers to A8/A9/AA (OSCAR cms50f37_loader.cpp): type 0x02 model in two segments (decoded [2] = 0
for the first, 6 characters in [3..8]; otherwise a continuation), 0x03 vendor and 0x04 device id
(7 characters in [2..8]).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from devices.base import OximeterReading
from devices.oximeter.vitals import checked

# Host commands (byte 2 of the 9-byte command packet).
CMD_START_LIVE = 0xA1
CMD_STOP_LIVE = 0xA2
CMD_MODEL = 0xA8
CMD_VENDOR = 0xA9
CMD_DEVICE_ID = 0xAA
CMD_INFO = 0xB0

COMMAND_TYPE = 0x7D
LIVE = 0x01
MODEL = 0x02
VENDOR = 0x03
DEVICE_ID = 0x04
ACK = 0x0C  # the answer to A2/A7 ("c,80" in OSCAR)
INFO = 0x11  # the answer to B0

# Packet lengths the device sends, by type (OSCAR's table, plus live data). Types not listed are
# skipped: without a length we cannot tell where their payload ends.
DEVICE_PACKET_LENGTHS = {
    0x01: 9, 0x02: 9, 0x03: 9, 0x04: 9, 0x05: 9, 0x06: 4, 0x07: 8, 0x08: 8, 0x09: 6,
    0x0A: 4, 0x0B: 4, 0x0C: 2, 0x0E: 3, 0x0F: 8, 0x10: 3, 0x11: 9, 0x12: 8, 0x13: 9, 0x14: 9,
}
HOST_PACKET_LENGTHS = {COMMAND_TYPE: 9}

PROBE_OK = "ok"
PROBE_FINGER_OUT = "finger_out"
PROBE_SEARCHING = "searching"

# A candidate packet: a type byte followed by every high-bit byte after it. findall does the
# scanning in C, which is what keeps the decoder far above the line rate.
_CANDIDATE = re.compile(rb"[\x00-\x7f][\x80-\xff]*")
NO_VALUE = frozenset((0, 0x7F, 0xFF))  # for SpO2 and pulse alike


def encode_packet(ptype: int, payload: bytes | list[int] = b"") -> bytes:
    """Frame up to 7 data bytes: move each bit7 into the high-bit byte, force bit7 on the wire."""
    if not 0 <= ptype <= 0x7F:
        raise ValueError(f"packet type {ptype:#x} must have bit7 clear")
    if len(payload) > 7:
        raise ValueError("a packet carries at most 7 data bytes")
    hb = 0x80
    for i, b in enumerate(payload):
        hb |= ((b >> 7) & 1) << i
    return bytes([ptype, hb, *(b | 0x80 for b in payload)])


def decode_payload(packet: bytes) -> bytes:
    """Data bytes of a framed packet with their bit7 restored from the high-bit byte."""
    hb = packet[1]
    return bytes((b & 0x7F) | (((hb >> i) & 1) << 7) for i, b in enumerate(packet[2:]))


def encode_command(cmd: int, arg: int = 0) -> bytes:
    """A 9-byte host command: 7D 81 (0x80|cmd) 80 80 80 80 80 80 (arg goes in byte 3)."""
    return encode_packet(COMMAND_TYPE, bytes([cmd & 0xFF, arg & 0x7F, 0, 0, 0, 0, 0]))


def encode_live(spo2: int | None, pulse: int | None, *, signal: int = 8, finger_out: bool = False,
                searching: bool = False, beat: bool = False, pleth: int = 0, bar: int = 0,
                pi: int | None = None) -> bytes:
    """A 9-byte live-data packet as the device sends it (None = the device's "no value")."""
    b2 = (signal & 0x0F) | (0x40 if beat else 0) | (0x80 if finger_out else 0)
    b3 = (pleth & 0x7F) | (0x80 if searching else 0)
    pulse_byte = 0xFF if pulse is None else pulse & 0xFF
    spo2_byte = 0x7F if spo2 is None else spo2 & 0xFF  # bit7 rides in the high-bit byte
    pi_word = 0xFFFF if pi is None else pi & 0xFFFF
    return encode_packet(LIVE, bytes([b2, b3, bar & 0xFF, pulse_byte, spo2_byte,
                                      pi_word & 0xFF, pi_word >> 8]))


def encode_text(ptype: int, text: str, segment: int | None = None) -> bytes:
    """An identity answer: 7 characters, or a 6-character model segment after its index byte."""
    width = 7 if segment is None else 6
    data = text.encode("ascii", "replace")[:width].ljust(width, b" ")
    if segment is not None:
        data = bytes([segment]) + data
    return encode_packet(ptype, data)


def encode_model(model: str) -> list[bytes]:
    """The model answer: OSCAR expects two segments (index 0, then a continuation)."""
    return [encode_text(MODEL, model[:6], 0), encode_text(MODEL, model[6:12], 1)]


def _text(data: bytes) -> str:
    return data.decode("ascii", "replace").strip(" \x00")


@dataclass
class Identity:
    model: str | None = None
    vendor: str | None = None
    device_id: str | None = None

    @property
    def complete(self) -> bool:
        return None not in (self.model, self.vendor, self.device_id)


class ContecDecoder:
    """Bytes in, readings out; keeps at most one partial packet between feeds."""

    def __init__(self) -> None:
        self._tail = b""
        self.identity = Identity()  # filled in as answers to A8/A9/AA arrive

    def feed(self, data: bytes, ts: float) -> list[OximeterReading]:
        buf = self._tail + data if self._tail else data
        self._tail = b""
        candidates = _CANDIDATE.findall(buf)
        if not candidates:
            return []
        # The last candidate runs to the end of the buffer: if short, the rest may come next feed.
        last = candidates[-1]
        need = DEVICE_PACKET_LENGTHS.get(last[0])
        if need is not None and len(last) < need:
            self._tail = bytes(last)
            candidates.pop()
        readings: list[OximeterReading] = []
        append = readings.append
        for c in candidates:
            if c[0] == LIVE and len(c) >= 9:
                hb = c[1]
                b2 = c[2]
                if hb & 0x01:
                    append(OximeterReading(None, None, b2 & 0x0F, PROBE_FINGER_OUT, ts))
                elif hb & 0x02 or b2 & 0x10:
                    append(OximeterReading(None, None, b2 & 0x0F, PROBE_SEARCHING, ts))
                else:
                    pulse = (c[5] & 0x7F) | ((hb & 0x08) << 4)
                    spo2 = (c[6] & 0x7F) | ((hb & 0x10) << 3)
                    spo2, pulse = checked(spo2, pulse, NO_VALUE, NO_VALUE)
                    append(OximeterReading(spo2, pulse, b2 & 0x0F, PROBE_OK, ts))
            else:
                self._other(c)
        return readings

    def _other(self, c: bytes) -> None:
        need = DEVICE_PACKET_LENGTHS.get(c[0])
        if need is None or len(c) < need:
            return  # an unknown type or a truncated packet: garbage
        ptype = c[0]
        if ptype in (MODEL, VENDOR, DEVICE_ID):
            data = decode_payload(c[:need])
            if ptype == MODEL:
                if data[0] == 0:
                    self.identity.model = _text(data[1:7])
                else:
                    self.identity.model = (self.identity.model or "") + _text(data[1:7])
            elif ptype == VENDOR:
                self.identity.vendor = _text(data[0:7])
            else:
                self.identity.device_id = _text(data[0:7])
