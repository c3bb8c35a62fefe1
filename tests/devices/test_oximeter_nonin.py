"""Nonin serial Data Format 2: golden packet, checksums, SYNC resynchronisation, garbage properties."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.base import OximeterReading
from devices.oximeter import nonin
from devices.oximeter.nonin import NoninDecoder

# A Data Format 2 packet written out frame by frame per the OEM III specification (the table
# pez-globo/pufferfish-software tests against): HR 72, SpO2 97, firmware revision 0x30.
GOLDEN_FRAMES = [
    "01 81 01 00 83",  # 1 HR MSB (SYNC)
    "01 80 01 48 CA",  # 2 HR LSB = 72
    "01 80 01 61 E3",  # 3 SpO2 = 97
    "01 80 01 30 B2",  # 4 firmware revision
    "01 80 01 00 82", "01 80 01 00 82", "01 80 01 00 82", "01 80 01 00 82",  # 5-8 reserved
    "01 80 01 61 E3", "01 80 01 61 E3", "01 80 01 61 E3",  # 9-11 SpO2-D, fast, beat-to-beat
    "01 80 01 00 82", "01 80 01 00 82",  # 12-13 reserved
    "01 80 01 00 82", "01 80 01 48 CA",  # 14-15 E-HR
    "01 80 01 61 E3", "01 80 01 61 E3",  # 16-17 E-SpO2, E-SpO2-D
    "01 80 01 00 82", "01 80 01 00 82",  # 18-19 reserved
    "01 80 01 00 82", "01 80 01 48 CA",  # 20-21 HR-D
    "01 80 01 00 82", "01 80 01 48 CA",  # 22-23 E-HR-D
    "01 80 01 00 82", "01 80 01 00 82",  # 24-25 reserved
]
GOLDEN = bytes.fromhex(" ".join(GOLDEN_FRAMES))


def decode(data: bytes) -> list[OximeterReading]:
    return NoninDecoder().feed(data, 1.0)


def test_nonin_golden_packet_decodes_hr_72_spo2_97():
    assert decode(GOLDEN) == [OximeterReading(spo2=97, pulse=72, signal=None, probe="ok", ts=1.0)]


def test_nonin_encoder_reproduces_the_golden_packet():
    assert nonin.encode_packet(97, 72, status=0, pleth=1, revision=0x30) == GOLDEN


@pytest.mark.parametrize("frame", ["01 81 01 00 83", "01 80 01 48 CA", "01 FF FF 7F 7E"])
def test_nonin_frame_checksum_is_the_sum_of_the_first_four_bytes(frame):
    data = bytes.fromhex(frame)
    assert nonin.encode_frame(data[1], data[2], data[3]) == data


def test_nonin_packet_with_one_wrong_checksum_yields_nothing():
    bad = bytearray(GOLDEN)
    bad[9] = 0xCB  # frame 2's checksum off by one
    assert decode(bytes(bad)) == []
    assert decode(bytes(bad) + GOLDEN)[0].pulse == 72  # the next packet is read again


def test_nonin_frame_with_status_bit7_low_is_rejected():
    bad = bytearray(GOLDEN)
    bad[6], bad[9] = 0x7F, (0x01 + 0x7F + 0x01 + 0x48) & 0xFF  # checksum right, bit7 wrong
    assert decode(bytes(bad)) == []


def test_nonin_missing_values_511_and_127_become_none():
    packet = nonin.encode_packet(None, None, status=0)
    assert packet[3] == 0x03 and packet[8] == 0x7F and packet[13] == 0x7F  # 511 and 127 on the wire
    [reading] = decode(packet)
    assert (reading.probe, reading.spo2, reading.pulse) == ("ok", None, None)


def test_nonin_heart_rate_above_127_uses_the_msb_frame():
    [reading] = decode(nonin.encode_packet(98, 200))
    assert reading.pulse == 200


def golden_with(hr: int, spo2: int) -> bytes:
    """The golden packet with frames 1-3 (HR MSB, HR LSB, SpO2) carrying other values, each
    frame's checksum recomputed as the specification defines it."""
    frames = [bytearray.fromhex(f) for f in GOLDEN_FRAMES]
    for frame, value in zip(frames[:3], ((hr >> 7) & 0x03, hr & 0x7F, spo2)):
        frame[3] = value
        frame[4] = sum(frame[:4]) & 0xFF
    return b"".join(frames)


@pytest.mark.parametrize("hr, spo2, want", [
    (72, 97, (97, 72)),
    (511, 97, (97, None)),  # HR missing: the saturation stands
    (72, 127, (None, 72)),  # SpO2 missing: the pulse stands
    (511, 127, (None, None)),
    (254, 97, (None, None)),  # no patient has it: the packet's numbers are void
    (251, 97, (None, None)),
    (250, 97, (97, 250)),
    (25, 97, (97, 25)),
    (24, 97, (None, None)),
    (0, 97, (None, None)),
    (321, 97, (None, None)),  # inside the Nonin's own range, outside the reportable one
    (72, 50, (50, 72)),
    (72, 49, (None, None)),
    (72, 101, (None, None)),
    (72, 0, (None, None)),
])
def test_nonin_values_outside_the_reportable_ranges_are_never_reported(hr, spo2, want):
    packet = golden_with(hr, spo2)
    if (hr, spo2) == (72, 97):
        assert packet == GOLDEN
    [reading] = decode(packet)
    assert (reading.spo2, reading.pulse) == want


@pytest.mark.parametrize("flags, probe", [
    (nonin.SNSD, "sensor_fault"),
    (nonin.SNSA, "finger_out"),
    (nonin.SNSA | nonin.OOT, "finger_out"),
    (nonin.OOT, "searching"),
    (nonin.ARTF, "ok"),
    (nonin.SNSD | nonin.SNSA | nonin.OOT, "sensor_fault"),
])
def test_nonin_status_flags_map_to_probe_states(flags, probe):
    [reading] = decode(nonin.encode_packet(96, 70, status=flags))
    assert reading.probe == probe
    assert (reading.spo2, reading.pulse) == ((96, 70) if probe == "ok" else (None, None))


def test_nonin_flag_in_a_single_frame_marks_the_whole_packet():
    frames = [GOLDEN[i:i + 5] for i in range(0, len(GOLDEN), 5)]
    frames[17] = nonin.encode_frame(nonin.SNSA, 1, 0)
    [reading] = decode(b"".join(frames))
    assert reading.probe == "finger_out"


def test_nonin_resynchronises_on_sync_after_garbage():
    stream = b"\x01\x81\x00" + GOLDEN[37:] + b"\xff\x01\x01" + GOLDEN  # junk, a packet's tail, junk
    assert [r.pulse for r in decode(stream)] == [72]


def test_nonin_packet_cut_short_by_an_early_sync_is_dropped():
    stream = GOLDEN[:60] + GOLDEN + nonin.encode_packet(95, 65)
    assert [(r.spo2, r.pulse) for r in decode(stream)] == [(97, 72), (95, 65)]


def test_nonin_bytes_fed_one_at_a_time_give_one_reading_per_packet():
    decoder = NoninDecoder()
    readings = [r for b in GOLDEN * 3 for r in decoder.feed(bytes([b]), 0.0)]
    assert len(readings) == 3


# -- properties ------------------------------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600), st.lists(st.integers(1, 80), max_size=20))
def test_nonin_random_bytes_never_raise(data, cuts):
    decoder, pos = NoninDecoder(), 0
    for cut in cuts:
        decoder.feed(data[pos:pos + cut], 0.0)
        pos += cut
    for r in decoder.feed(data[pos:], 0.0):
        assert r.spo2 is None or 50 <= r.spo2 <= 100
        assert r.pulse is None or 25 <= r.pulse <= 250


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 511), st.integers(0, 127), st.sampled_from([0, nonin.ARTF, nonin.OOT, nonin.SNSA]))
def test_nonin_any_values_in_a_valid_packet_give_in_range_numbers_or_none(hr, spo2, status):
    [reading] = decode(nonin.encode_packet(spo2, hr, status=status))
    reportable = status in (0, nonin.ARTF) and 25 <= hr <= 250 and 50 <= spo2 <= 100
    if reportable:
        assert (reading.spo2, reading.pulse) == (spo2, hr)
    else:
        assert reading.spo2 is None or reading.pulse is None
    assert reading.spo2 is None or 50 <= reading.spo2 <= 100
    assert reading.pulse is None or 25 <= reading.pulse <= 250


@settings(max_examples=300, deadline=None)
@given(st.integers(2, 8), st.data())
def test_nonin_never_yields_a_reading_from_a_packet_with_a_wrong_checksum(count, data):
    # Every packet carries its own pulse, so a reading tells which packet it came from.
    pulses = [40 + i for i in range(count)]
    packets = [bytearray(nonin.encode_packet(data.draw(st.integers(70, 100)), pulse,
                                             pleth=data.draw(st.lists(st.integers(0, 255),
                                                                      min_size=25, max_size=25))))
               for pulse in pulses]
    damaged = set(data.draw(st.lists(st.integers(0, count - 1), max_size=count - 1)))
    for k in damaged:  # one byte of one frame changed: the frame's checksum no longer holds
        pos = data.draw(st.integers(0, nonin.PACKET_LEN - 1))
        packets[k][pos] ^= data.draw(st.integers(1, 255))
    garbage = data.draw(st.binary(max_size=30))
    readings = decode(garbage + b"".join(packets))
    got = [r.pulse for r in readings]
    assert set(got) <= {pulses[k] for k in range(count) if k not in damaged}
    # Every intact packet is found again, whatever the damage before it.
    assert got == [pulses[k] for k in range(count) if k not in damaged]
