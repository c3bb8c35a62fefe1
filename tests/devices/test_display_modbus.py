"""Modbus RTU number boards: golden frames from pymodbus, the simulator's splitter and boards."""
from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pymodbus.framer import FramerRTU

from devices.display import modbus
from devices.display.sim import ModbusUnits


def test_pymodbus_crc_matches_the_crc16_modbus_check_value():
    # CRC-16/MODBUS of "123456789" is 0x4B37, sent low byte first: 37 4B.
    assert FramerRTU.compute_CRC(b"123456789") == 0x374B


@pytest.mark.parametrize("unit,number,frame", [
    (1, 23, "01 06 00 00 00 17 c9 c4"),  # write register 0 = 23 for unit 1
    (1, -1, "01 06 00 00 ff ff 88 7a"),
    (2, 32767, "02 06 00 00 7f ff e9 89"),
    (1, -32768, "01 06 00 00 80 00 e8 0a"),
])
def test_write_number_frames_are_the_full_eight_bytes(unit, number, frame):
    assert modbus.write_number_request(unit, number) == bytes.fromhex(frame)


def test_the_health_check_reads_holding_register_0():
    assert modbus.read_number_request(1) == bytes.fromhex("01 03 00 00 00 01 84 0a")


@pytest.mark.parametrize("number,register", [(0, 0), (23, 23), (-1, 0xFFFF), (-32768, 0x8000), (32767, 0x7FFF)])
def test_signed_numbers_map_to_registers_and_back(number, register):
    assert modbus.to_register(number) == register
    assert modbus.from_register(register) == number


@pytest.mark.parametrize("bad", [32768, -32769, 1.5, "7", True])
def test_numbers_a_register_cannot_hold_are_refused(bad):
    with pytest.raises(ValueError):
        modbus.to_register(bad)


@pytest.mark.parametrize("unit", [0, 248, -1])
def test_unit_ids_outside_1_to_247_are_refused(unit):
    with pytest.raises(ValueError, match="1..247"):
        modbus.check_unit(unit)


def test_frame_gap_is_three_and_a_half_characters():
    assert modbus.frame_gap(9600) == pytest.approx(3.5 * 10 / 9600)
    assert modbus.frame_gap(115200) == 0.00175


# -- the simulator's request splitter -------------------------------------------------------------
def test_splitter_finds_frames_after_garbage_and_across_reads():
    splitter = modbus.RtuRequestSplitter()
    one, two = modbus.write_number_request(1, 23), modbus.write_number_request(2, -5)
    stream = b"\xff\x13\x00" + one + two
    got = []
    for i in range(len(stream)):
        got += splitter.feed(stream[i:i + 1])
    assert [(r.unit, r.raw) for r in got] == [(1, one), (2, two)]


def test_splitter_skips_a_frame_with_a_bad_crc_and_keeps_the_next():
    bad = bytearray(modbus.write_number_request(1, 23))
    bad[-1] ^= 0x01
    good = modbus.write_number_request(1, 24)
    got = modbus.RtuRequestSplitter().feed(bytes(bad) + good)
    assert [r.raw for r in got] == [good]


# -- the simulated boards ----------------------------------------------------------------------------
def test_a_board_echoes_a_write_and_shows_the_signed_number():
    units = ModbusUnits("1,2")
    request = modbus.write_number_request(2, -42)
    assert units.receive(request) == request
    assert units.number(2) == -42 and units.number(1) is None


def test_a_board_answers_a_read_of_register_0_with_its_number():
    units = ModbusUnits("1")
    units.receive(modbus.write_number_request(1, 300))
    assert units.receive(modbus.read_number_request(1)) == bytes.fromhex("01 03 02 01 2c b8 09")


def test_a_write_to_another_register_gets_an_illegal_address_exception():
    units = ModbusUnits("1")
    frame = bytes.fromhex("01 06 00 05 00 01")
    frame += FramerRTU.compute_CRC(frame).to_bytes(2, "big")
    reply = units.receive(frame)
    assert reply[:3] == bytes.fromhex("01 86 02") and units.number(1) is None


def test_broadcast_writes_reach_every_board_and_nobody_answers():
    units = ModbusUnits("1,2")
    assert units.receive(bytes.fromhex("00 06 00 00 00 07") + FramerRTU.compute_CRC(
        bytes.fromhex("00 06 00 00 00 07")).to_bytes(2, "big")) == b""
    assert units.number(1) == units.number(2) == 7


def test_an_absent_unit_does_not_answer():
    assert ModbusUnits("1").receive(modbus.write_number_request(9, 1)) == b""


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=40), max_size=15))
def test_random_streams_never_raise(chunks):
    units = ModbusUnits("1,2")
    for chunk in chunks:
        units.receive(chunk)


@settings(max_examples=300, deadline=None)
@given(st.integers(-32768, 32767), st.integers(0, 7), st.integers(1, 255), st.binary(max_size=6))
def test_a_frame_with_a_wrong_crc_never_changes_what_a_board_shows(number, index, flip, noise):
    units = ModbusUnits("1")
    units.receive(modbus.write_number_request(1, 5))
    frame = bytearray(modbus.write_number_request(1, number))
    frame[index] ^= flip
    assume(not FramerRTU.check_CRC(bytes(frame[:-2]), int.from_bytes(frame[-2:], "big")))
    units.receive(noise + bytes(frame))
    assert units.number(1) == 5
