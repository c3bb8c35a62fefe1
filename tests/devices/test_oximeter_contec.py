"""Contec packet protocol V7.0: golden bytes, framing, resynchronisation, and garbage properties."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.base import OximeterReading
from devices.oximeter import contec
from devices.oximeter.contec import ContecDecoder

# A real CMS50D+ 4.6 capture (devices.md; MarkMLl/Contec_cms50dplus "nominal operation").
GOLDEN = bytes.fromhex("01 E0 85 D5 9A BD E3 FF FF")
PROBES = {"ok", "finger_out", "searching", "sensor_fault"}


def decode(data: bytes) -> list[OximeterReading]:
    return ContecDecoder().feed(data, 1.0)


def test_contec_golden_capture_decodes_signal_5_pulse_61_spo2_99():
    assert decode(GOLDEN) == [OximeterReading(spo2=99, pulse=61, signal=5, probe="ok", ts=1.0)]


def test_contec_encoder_reproduces_the_golden_capture():
    assert contec.encode_live(99, 61, signal=5, pleth=0x55, bar=0x1A) == GOLDEN


def test_contec_high_bit_byte_restores_bit7_of_each_data_byte():
    assert contec.decode_payload(GOLDEN) == bytes.fromhex("05 55 1A 3D 63 FF FF")
    # Pulse 200 needs bit7: it travels in bit3 of the high-bit byte.
    packet = bytes.fromhex("01 88 85 D5 9A C8 E3 FF FF")
    assert contec.decode_payload(packet)[3] == 200
    assert decode(packet)[0].pulse == 200


@pytest.mark.parametrize("cmd, wire", [
    (contec.CMD_START_LIVE, "7D 81 A1 80 80 80 80 80 80"),
    (contec.CMD_STOP_LIVE, "7D 81 A2 80 80 80 80 80 80"),
    (contec.CMD_MODEL, "7D 81 A8 80 80 80 80 80 80"),
    (contec.CMD_VENDOR, "7D 81 A9 80 80 80 80 80 80"),
    (contec.CMD_DEVICE_ID, "7D 81 AA 80 80 80 80 80 80"),
    (contec.CMD_INFO, "7D 81 B0 80 80 80 80 80 80"),
])
def test_contec_host_commands_are_the_documented_nine_bytes(cmd, wire):
    assert contec.encode_command(cmd) == bytes.fromhex(wire)


def test_contec_frame_with_finger_out_yields_no_spo2():
    # High-bit byte bit0 = decoded byte 2 bit7 = finger out; the device still sends old numbers.
    [reading] = decode(bytes.fromhex("01 E1 80 80 9A BD E3 FF FF"))
    assert (reading.probe, reading.spo2, reading.pulse) == ("finger_out", None, None)


@pytest.mark.parametrize("packet", [
    "01 E2 85 D5 9A BD E3 FF FF",  # high-bit byte bit1: searching for a pulse
    "01 E0 95 D5 9A BD E3 FF FF",  # decoded byte 2 bit4: searching too long
])
def test_contec_searching_frame_yields_no_numbers(packet):
    [reading] = decode(bytes.fromhex(packet))
    assert (reading.probe, reading.spo2, reading.pulse, reading.signal) == ("searching", None, None, 5)


# Live frames as they travel on the wire (the golden capture with [5] pulse and [6] SpO2 changed;
# bit7 of each rides in the high-bit byte: 0xE8 carries the pulse's, 0xF0 the SpO2's).
@pytest.mark.parametrize("frame, want", [
    ("01 E0 85 D5 9A BD E3 FF FF", (99, 61)),  # the real capture
    ("01 E8 85 D5 9A FE E3 FF FF", (None, None)),  # pulse 254: no device measures it
    ("01 E8 85 D5 9A FB E3 FF FF", (None, None)),  # pulse 251
    ("01 E8 85 D5 9A FA E3 FF FF", (99, 250)),  # the top of the range
    ("01 E0 85 D5 9A 99 E3 FF FF", (99, 25)),  # the bottom of the range
    ("01 E0 85 D5 9A 98 E3 FF FF", (None, None)),  # pulse 24
    ("01 E0 85 D5 9A BD B2 FF FF", (50, 61)),  # SpO2 50: the floor is reportable
    ("01 E0 85 D5 9A BD B1 FF FF", (None, None)),  # SpO2 49
    ("01 E0 85 D5 9A BD E5 FF FF", (None, None)),  # SpO2 101
    ("01 F0 85 D5 9A BD C8 FF FF", (None, None)),  # SpO2 200
    ("01 E0 85 D5 9A BD FF FF FF", (None, 61)),  # SpO2 0x7F: no value yet, the pulse stands
    ("01 F0 85 D5 9A BD FF FF FF", (None, 61)),  # SpO2 0xFF
    ("01 E0 85 D5 9A BD 80 FF FF", (None, 61)),  # SpO2 0
    ("01 E8 85 D5 9A FF E3 FF FF", (99, None)),  # pulse 0xFF: no value
    ("01 E0 85 D5 9A FF E3 FF FF", (99, None)),  # 0xFF seen without its high bit
    ("01 E0 85 D5 9A 80 E3 FF FF", (99, None)),  # pulse 0
    ("01 E8 85 D5 9A FF FF FF FF", (None, None)),  # neither
    ("01 E8 85 D5 9A FE FF FF FF", (None, None)),  # pulse 254 with no SpO2 is still no pulse
])
def test_contec_values_no_device_measures_are_never_reported(frame, want):
    [reading] = decode(bytes.fromhex(frame))
    assert (reading.spo2, reading.pulse) == want


def test_contec_encoder_writes_the_table_frames():
    assert contec.encode_live(99, 254, signal=5, pleth=0x55, bar=0x1A) == bytes.fromhex("01 E8 85 D5 9A FE E3 FF FF")
    assert contec.encode_live(49, 61, signal=5, pleth=0x55, bar=0x1A) == bytes.fromhex("01 E0 85 D5 9A BD B1 FF FF")


def test_contec_packet_split_across_feeds_decodes_once():
    decoder = ContecDecoder()
    stream = GOLDEN * 3
    readings = [r for b in stream for r in decoder.feed(bytes([b]), 2.0)]
    assert [(r.spo2, r.pulse) for r in readings] == [(99, 61)] * 3


def test_contec_resynchronises_after_garbage_and_drops_truncated_packets():
    stream = (b"\xff\xfe\x13\x80\x80"  # garbage, incl. an unknown type byte
              + GOLDEN[:5]  # a packet cut short by the next type byte ...
              + GOLDEN  # ... then a good one
              + b"\x81\x82"  # stray high-bit bytes after a packet
              + contec.encode_live(95, 80))
    assert [(r.spo2, r.pulse) for r in decode(stream)] == [(99, 61), (95, 80)]


def test_contec_identity_answers_decode_model_vendor_and_device_id():
    decoder = ContecDecoder()
    # Written out by hand from OSCAR's layout: vendor "CONTEC " and a right-aligned device id.
    vendor = bytes.fromhex("03 80 C3 CF CE D4 C5 C3 A0")
    device_id = bytes.fromhex("04 80 A0 A0 A0 D5 D3 C5 D2")  # "   USER"
    model = b"".join(contec.encode_model("CMS50D+"))
    assert model[:3] == bytes.fromhex("02 80 80")  # segment 0 ...
    assert model[9:12] == bytes.fromhex("02 80 81")  # ... then the continuation
    assert decoder.feed(model + GOLDEN + vendor + device_id, 0.0)[0].spo2 == 99
    assert decoder.identity == contec.Identity("CMS50D+", "CONTEC", "USER")


def test_contec_identity_text_with_high_bit_characters_roundtrips_through_the_high_bit_byte():
    packet = contec.encode_packet(contec.VENDOR, "Ab\xe9cdef".encode("latin-1"))
    assert contec.decode_payload(packet) == "Ab\xe9cdef".encode("latin-1")
    assert packet[1] == 0x84  # bit2 carries the 0xE9's high bit


# -- properties ------------------------------------------------------------------------------

def assert_sane(readings: list[OximeterReading]) -> None:
    for r in readings:
        assert r.probe in PROBES
        assert r.spo2 is None or 50 <= r.spo2 <= 100
        assert r.pulse is None or 25 <= r.pulse <= 250
        assert r.signal is None or 0 <= r.signal <= 15
        if r.probe != "ok":
            assert r.spo2 is None and r.pulse is None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.lists(st.integers(1, 40), max_size=20))
def test_contec_random_bytes_never_raise_and_never_yield_out_of_range_values(data, cuts):
    decoder = ContecDecoder()
    readings, pos = [], 0
    for cut in cuts:
        readings += decoder.feed(data[pos:pos + cut], 0.0)
        pos += cut
    readings += decoder.feed(data[pos:], 0.0)
    assert_sane(readings)


live_packets = st.builds(
    lambda spo2, pulse, signal, out, pleth: contec.encode_live(spo2, pulse, signal=signal,
                                                               finger_out=out, pleth=pleth),
    st.integers(0, 127), st.integers(0, 255), st.integers(0, 15), st.booleans(), st.integers(0, 127))


@settings(max_examples=300, deadline=None)
@given(st.lists(live_packets, min_size=1, max_size=30), st.data())
def test_contec_mutated_streams_never_raise_and_never_yield_out_of_range_values(packets, data):
    stream = bytearray(b"".join(packets))
    inserts = 0
    for _ in range(data.draw(st.integers(0, 8))):
        pos = data.draw(st.integers(0, len(stream) - 1))
        action = data.draw(st.sampled_from(["flip", "insert", "delete"]))
        if action == "flip":
            stream[pos] ^= data.draw(st.integers(1, 255))
        elif action == "insert":
            stream[pos:pos] = data.draw(st.binary(min_size=1, max_size=12))
            inserts += 1
        elif len(stream) > 1:
            del stream[pos]
    readings = decode(bytes(stream))
    assert_sane(readings)
    assert len(readings) <= len(packets) + inserts  # an insert can forge at most one packet


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 255), st.integers(0, 255), st.integers(0, 15))
def test_contec_any_byte_values_give_in_range_numbers_or_none(spo2, pulse, signal):
    [reading] = decode(contec.encode_packet(contec.LIVE, bytes([signal, 0, 0, pulse, spo2, 0xFF, 0xFF])))
    assert_sane([reading])
    # 0x7F is the "no value" marker even where it could be a pulse (see contec.py)
    in_range = 50 <= spo2 <= 100 and 25 <= pulse <= 250 and pulse != 0x7F
    assert (reading.spo2 is not None and reading.pulse is not None) == in_range


@settings(max_examples=200, deadline=None)
@given(st.lists(live_packets, max_size=20), st.binary(max_size=60),
       st.lists(st.integers(1, 30), max_size=15))
def test_contec_chunking_does_not_change_what_is_decoded(packets, garbage, cuts):
    stream = garbage + b"".join(packets)
    whole = ContecDecoder().feed(stream, 0.0)
    decoder, pieces, pos = ContecDecoder(), [], 0
    for cut in cuts:
        pieces += decoder.feed(stream[pos:pos + cut], 0.0)
        pos += cut
    pieces += decoder.feed(stream[pos:], 0.0)
    assert pieces == whole
