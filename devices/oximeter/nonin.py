"""Nonin serial Data Format 2 (OEM III, Xpod): pure encoders and an incremental decoder.

A frame is 5 bytes `01 STATUS PLETH FLOAT CHK`, CHK = (sum of the first four) & 0xFF; 75 frames/s;
25 frames make a packet whose first frame has STATUS bit0 (SYNC) set. FLOAT by frame (0-based here):
0 HR MSB, 1 HR LSB (HR = ((msb & 3) << 7) | (lsb & 0x7F), 511 = missing), 2 SpO2 (127 = missing),
3 firmware revision, then display/extended averages we do not use.

STATUS bits, as the OEM III specification words them (quoted in pez-globo/pufferfish-software):
  0x40 SNSD sensor disconnect: "sensor is not connected to oximeter or sensor is inoperable"
  0x20 ARTF artifact: "a detected pulse beat didn't match the current pulse interval"
  0x10 OOT out of track: "an absence of consecutive good pulse signals"
  0x08 SNSA sensor alarm: "sensor is providing unusable data for analysis"
  0x04 / 0x02 perfusion (red / green; both = yellow), 0x01 SYNC
Our probe mapping, OR-ing the flags of the packet's 25 frames (one packet = one reading):
  SNSD -> "sensor_fault" (the sensor itself is unplugged or broken: a technician's job),
  SNSA -> "finger_out" (a connected sensor giving unusable data: at a kiosk, an empty clip),
  OOT -> "searching" (no consecutive good pulses yet), ARTF alone -> "ok" (one odd beat; the
  averaged values stay valid). Precedence in that order. As for Contec, SpO2 and pulse are only
  reported when the probe is "ok", and judged by devices.oximeter.vitals: HR 511 and SpO2 127 are
  "no value"; a number outside 50..100 % or 25..250 bpm voids the packet's numbers.
"""
from __future__ import annotations

from collections.abc import Sequence

from devices.base import OximeterReading
from devices.oximeter.vitals import checked

FRAME_LEN = 5
FRAMES_PER_PACKET = 25
PACKET_LEN = FRAME_LEN * FRAMES_PER_PACKET

STATUS_BIT7 = 0x80
SNSD = 0x40
ARTF = 0x20
OOT = 0x10
SNSA = 0x08
RPRF = 0x04
GPRF = 0x02
YPRF = RPRF | GPRF
SYNC = 0x01

HR_MISSING = 511
SPO2_MISSING = 127
_NO_HR = frozenset((HR_MISSING,))
_NO_SPO2 = frozenset((SPO2_MISSING,))

# FLOAT positions (0-based frame index) we fill when encoding; the decoder reads 0..2.
HR_MSB, HR_LSB, SPO2, SREV = 0, 1, 2, 3
_SPO2_COPIES = (8, 9, 10, 15, 16)  # SpO2-D, SpO2 fast, SpO2 beat-to-beat, E-SpO2, E-SpO2-D
_HR_COPIES = (13, 19, 21)  # E-HR, HR-D, E-HR-D (MSB here, LSB in the next frame)


def probe_from_status(flags: int) -> str:
    if flags & SNSD:
        return "sensor_fault"
    if flags & SNSA:
        return "finger_out"
    if flags & OOT:
        return "searching"
    return "ok"


def encode_frame(status: int, pleth: int, value: int) -> bytes:
    b = (0x01, STATUS_BIT7 | (status & 0x7F), pleth & 0xFF, value & 0xFF)
    return bytes((*b, sum(b) & 0xFF))


def encode_packet(spo2: int | None, pulse: int | None, *, status: int = GPRF,
                  pleth: int | Sequence[int] = 0, revision: int = 0x2A) -> bytes:
    """25 frames (125 bytes) as the device sends them; `status` flags go in every frame."""
    hr = HR_MISSING if pulse is None else pulse
    sat = SPO2_MISSING if spo2 is None else spo2 & 0x7F
    floats = [0] * FRAMES_PER_PACKET
    for i in (HR_MSB, *_HR_COPIES):
        floats[i], floats[i + 1] = (hr >> 7) & 0x03, hr & 0x7F
    for i in (SPO2, *_SPO2_COPIES):
        floats[i] = sat
    floats[SREV] = revision & 0x7F
    waves = [pleth] * FRAMES_PER_PACKET if isinstance(pleth, int) else list(pleth)
    status &= 0x7E
    return b"".join(encode_frame(status | (SYNC if i == 0 else 0), waves[i], floats[i])
                    for i in range(FRAMES_PER_PACKET))


class NoninDecoder:
    """Bytes in, one reading per complete, fully checksummed 25-frame packet out.

    A packet is judged only once all 125 bytes are in. If any frame is damaged (or a SYNC frame
    turns up early) the hunt for SYNC resumes one byte after the packet's start, so a real packet
    that overlaps a false start is still found. At most 124 bytes wait between feeds."""

    def __init__(self) -> None:
        self._tail = b""

    def feed(self, data: bytes, ts: float) -> list[OximeterReading]:
        buf = self._tail + data if self._tail else data
        n = len(buf)
        readings: list[OximeterReading] = []
        i = 0
        while True:
            s = self._hunt(buf, i)
            if s < 0:
                self._tail = b""
                return readings
            if s + PACKET_LEN > n:
                self._tail = buf[s:]
                return readings
            reading = self._packet(buf, s, ts)
            if reading is None:
                i = s + 1
            else:
                readings.append(reading)
                i = s + PACKET_LEN

    @staticmethod
    def _hunt(buf: bytes, i: int) -> int:
        """Index of the next valid SYNC frame, or of a possible one cut by the buffer end, or -1."""
        n = len(buf)
        i = buf.find(b"\x01", i)
        while i >= 0 and i + FRAME_LEN <= n:
            status = buf[i + 1]
            if status & 0x81 == 0x81 and (1 + status + buf[i + 2] + buf[i + 3]) & 0xFF == buf[i + 4]:
                return i
            i = buf.find(b"\x01", i + 1)
        return i

    @staticmethod
    def _packet(buf: bytes, s: int, ts: float) -> OximeterReading | None:
        """The reading of the packet whose (valid) SYNC frame is at s, or None if a frame fails."""
        flags = buf[s + 1]
        for j in range(s + FRAME_LEN, s + PACKET_LEN, FRAME_LEN):
            b0, status, pleth, value, chk = buf[j:j + FRAME_LEN]
            if (b0 != 0x01 or status & 0x81 != 0x80
                    or (b0 + status + pleth + value) & 0xFF != chk):
                return None
            flags |= status
        probe = probe_from_status(flags)
        if probe != "ok":
            return OximeterReading(None, None, None, probe, ts)
        hr = ((buf[s + 3] & 0x03) << 7) | (buf[s + 8] & 0x7F)
        sat = buf[s + 13] & 0x7F
        sat, hr = checked(sat, hr, _NO_SPO2, _NO_HR)
        return OximeterReading(sat, hr, None, probe, ts)
