"""The firmware's Board driven directly (no pty): what it answers to each frame."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge import link, mlx90614
from firmware_bridge.firmware.main import FIRMWARE_VERSION, Board
from devices.thermometer.bridge_sim import FakeMlx90614Bus, FakeUart

IDS = dict(link.MESSAGES)


class ManualClock:
    def __init__(self):
        self.now = 0

    def ticks_ms(self):
        return self.now

    def ticks_diff(self, a, b):
        return a - b

    def ticks_add(self, a, d):
        return a + d

    def sleep_ms(self, ms):
        self.now += ms


def make_board(**bus_settings):
    sent = []
    uart = FakeUart(sent.append)
    bus = FakeMlx90614Bus(**bus_settings)
    clock = ManualClock()
    return Board(uart, bus, clock), uart, bus, clock, sent


def exchange(board, uart, sent, frame: bytes):
    sent.clear()
    uart.feed(frame)
    board.poll()
    d = link.FrameDecoder()
    frames = d.feed(b"".join(sent))
    assert d.dropped == 0
    return frames


def test_hello_answers_version_and_dictionary_even_for_another_version():
    board, uart, _, _, sent = make_board()
    [(version, seq, mid, payload)] = exchange(board, uart, sent, link.encode_frame(9, 42, link.HELLO, b"\x09"))
    assert (version, seq, mid) == (link.PROTOCOL_VERSION, 42, link.HELLO)
    assert link.unpack_hello_reply(payload) == (link.PROTOCOL_VERSION, IDS)


def test_identify_reports_firmware_version_sensor_id_and_emissivity():
    board, uart, _, _, sent = make_board(sensor_id="0011223344556677", emissivity=0.98)
    [(_, seq, mid, payload)] = exchange(board, uart, sent, link.encode_frame(1, 3, IDS["IDENTIFY"]))
    assert (seq, mid) == (3, IDS["IDENTIFY"])
    fw, proto, sensor_status, sensor_id, emissivity = link.unpack_identify(payload)
    assert fw == FIRMWARE_VERSION and proto == link.PROTOCOL_VERSION and sensor_status == 0
    assert sensor_id == bytes.fromhex("0011223344556677")
    assert emissivity == round(0.98 * 0xFFFF)


def test_measure_answers_raw_words_of_object_and_ambient():
    board, uart, _, _, sent = make_board(celsius=36.61, ambient_celsius=22.0)
    [(_, seq, mid, payload)] = exchange(board, uart, sent, link.encode_frame(1, 7, IDS["MEASURE"]))
    obj, amb, obj_centi, _ = link.unpack_measurement(payload)
    assert (seq, mid, obj, obj_centi) == (7, IDS["MEASURE"], 0x3C80, 3661)
    assert mlx90614.raw_to_celsius(amb) == pytest.approx(22.0, abs=0.02)


def error_of(frames):
    [(_, seq, mid, payload)] = frames
    assert mid == IDS["ERROR"]
    code, ref, text = link.unpack_error(payload)
    return seq, link.ERROR_NAMES[code], ref, text


def test_bad_pec_on_every_attempt_is_reported_as_pec_error_after_three_reads():
    board, uart, bus, _, sent = make_board()
    bus.corrupt_pec = True
    seq, name, ref, _ = error_of(exchange(board, uart, sent, link.encode_frame(1, 8, IDS["MEASURE"])))
    assert (seq, name, ref) == (8, "pec_error", IDS["MEASURE"])
    assert bus.reads == 3


def test_one_pec_glitch_is_retried_and_the_reading_is_good():
    board, uart, bus, _, sent = make_board(celsius=36.61)
    bus.pec_glitches = 1
    [(_, _, mid, payload)] = exchange(board, uart, sent, link.encode_frame(1, 8, IDS["MEASURE"]))
    assert mid == IDS["MEASURE"] and link.unpack_measurement(payload)[0] == 0x3C80


def test_error_flag_bit15_is_reported_as_sensor_error():
    board, uart, bus, _, sent = make_board()
    bus.sensor_error = True
    _, name, _, text = error_of(exchange(board, uart, sent, link.encode_frame(1, 9, IDS["MEASURE"])))
    assert name == "sensor_error" and "bit15" in text


def test_missing_sensor_is_reported_as_i2c_nack():
    board, uart, bus, _, sent = make_board()
    bus.nack = True
    assert error_of(exchange(board, uart, sent, link.encode_frame(1, 9, IDS["MEASURE"])))[1] == "i2c_nack"


def test_identify_answers_for_the_board_when_the_sensor_cannot_be_read():
    board, uart, bus, _, sent = make_board()
    bus.nack = True
    [(_, _, mid, payload)] = exchange(board, uart, sent, link.encode_frame(1, 9, IDS["IDENTIFY"]))
    fw, _, sensor_status, sensor_id, _ = link.unpack_identify(payload)
    assert (mid, fw, sensor_status, sensor_id) == (IDS["IDENTIFY"], FIRMWARE_VERSION, link.I2C_NACK, bytes(8))


def test_unknown_message_and_wrong_version_are_refused():
    board, uart, _, _, sent = make_board()
    assert error_of(exchange(board, uart, sent, link.encode_frame(1, 4, 0x55)))[1] == "unknown_message"
    seq, name, _, text = error_of(exchange(board, uart, sent, link.encode_frame(2, 5, IDS["MEASURE"])))
    assert (seq, name) == (5, "bad_frame") and "version 2" in text


def test_corrupted_frame_is_reported_as_bad_frame_not_answered():
    board, uart, _, _, sent = make_board()
    frame = bytearray(link.encode_frame(1, 4, IDS["MEASURE"]))
    frame[2] ^= 0x40
    seq, name, ref, _ = error_of(exchange(board, uart, sent, bytes(frame)))
    assert (seq, name, ref) == (0, "bad_frame", 0)


def test_stream_sends_readings_at_the_requested_period_until_stopped():
    board, uart, bus, clock, sent = make_board(celsius=36.61)
    frames = exchange(board, uart, sent, link.encode_frame(1, 2, IDS["STREAM"], link.pack_stream(100)))
    (_, seq, mid, payload), first = frames[0], frames[1:]
    assert (seq, mid, link.unpack_ack(payload)) == (2, IDS["ACK"], IDS["STREAM"])
    assert [f[2] for f in first] == [IDS["READING"]]  # the first reading comes right away
    sent.clear()
    for _ in range(1000):  # one simulated second, polled every millisecond
        clock.sleep_ms(1)
        board.poll()
    frames = first + link.FrameDecoder().feed(b"".join(sent))
    assert len(frames) == 11  # t = 0, 100, ..., 1000 ms
    assert {f[2] for f in frames} == {IDS["READING"]}
    assert [f[1] for f in frames] == list(range(1, 12))  # the board's own stream counter
    assert all(link.unpack_measurement(f[3])[0] == 0x3C80 for f in frames)
    exchange(board, uart, sent, link.encode_frame(1, 3, IDS["STREAM"], link.pack_stream(0)))
    sent.clear()
    for _ in range(300):
        clock.sleep_ms(1)
        board.poll()
    assert sent == []


def test_hello_stops_a_running_stream():
    board, uart, _, clock, sent = make_board()
    exchange(board, uart, sent, link.encode_frame(1, 2, IDS["STREAM"], link.pack_stream(50)))
    exchange(board, uart, sent, link.encode_frame(1, 3, link.HELLO, b"\x01"))
    sent.clear()
    for _ in range(200):
        clock.sleep_ms(1)
        board.poll()
    assert sent == []


@given(st.binary(max_size=400))
@settings(max_examples=200, deadline=None)
def test_board_survives_any_bytes_from_the_host(data):
    board, uart, _, _, sent = make_board()
    uart.feed(data + b"\x00")
    board.poll()
    # whatever it answers is well-formed frames
    d = link.FrameDecoder()
    d.feed(b"".join(sent))
    assert d.dropped == 0


def test_sensor_id_setting_given_as_digits_keeps_its_hex_meaning():
    # `vestibule sim ... --set sensor_id=0011223344556677` turns all-digit values into ints
    bus = FakeMlx90614Bus(sensor_id=11223344556677)
    assert mlx90614.Sensor(bus).sensor_id() == bytes.fromhex("0011223344556677")
    with pytest.raises(ValueError, match="16 hex digits"):
        FakeMlx90614Bus(sensor_id="abcd")
