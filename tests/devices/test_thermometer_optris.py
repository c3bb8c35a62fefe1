"""Optris CT protocol codec, and OptrisThermometer against OptrisSim over a pty."""
from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices import status
from devices.errors import DeviceNotAnswering, DeviceUnavailable
from devices.thermometer import optris
from devices.thermometer.driver import OptrisThermometer
from devices.thermometer.sim import OptrisSim
from devices.url import DeviceURL

# (reply bytes, °C): the manual's examples and our own anchors
TEMPERATURE_GOLDEN = [
    ("055a", 37.0),
    ("04d3", 23.5),  # Optris manual: 04 D3 -> 1235 -> 23.5 °C
    ("03e8", 0.0),
    ("03b8", -4.8),  # Optris CS manual burst example: 03B8 -> -4.8 °C
    ("0000", -100.0),
    ("ffff", 6453.5),
]


@pytest.mark.parametrize("hexbytes,celsius", TEMPERATURE_GOLDEN)
def test_temperature_golden_values(hexbytes, celsius):
    assert optris.decode_temperature(bytes.fromhex(hexbytes)) == pytest.approx(celsius, abs=1e-9)
    if celsius < 6000:
        assert optris.encode_temperature(celsius) == bytes.fromhex(hexbytes)


def test_csmicro_hs_hundredths():
    assert optris.decode_temperature(bytes.fromhex("303e"), hundredths=True) == pytest.approx(23.5)
    assert optris.encode_temperature(23.5, hundredths=True) == bytes.fromhex("303e")


@pytest.mark.parametrize("cmd,address,wire", [
    (optris.READ_TARGET, None, "01"),
    (optris.READ_TARGET, 5, "b501"),  # the manual's example: B5 01 reads device 5
    (optris.READ_HEAD, 1, "b102"),
    (optris.READ_SERIAL, None, "0e"),
])
def test_commands_and_rs485_prefix(cmd, address, wire):
    assert optris.command(cmd, address) == bytes.fromhex(wire)
    assert optris.split_command(bytes.fromhex(wire)) == (address, cmd)


@pytest.mark.parametrize("address", [0, 80, -1])
def test_bad_rs485_address_is_refused(address):
    with pytest.raises(optris.OptrisError):
        optris.command(optris.READ_TARGET, address)


def test_serial_and_firmware_replies():
    assert optris.decode_serial(bytes.fromhex("12d687")) == 1234567
    assert optris.decode_firmware(bytes.fromhex("0203")) == 0x0203


@given(st.binary(max_size=8))
@settings(max_examples=300, deadline=None)
def test_decoders_only_raise_optris_error_and_only_for_wrong_lengths(data):
    for fn, n in ((optris.decode_temperature, 2), (optris.decode_serial, 3), (optris.decode_firmware, 2)):
        if len(data) == n:
            fn(data)
        else:
            with pytest.raises(optris.OptrisError):
                fn(data)


@pytest.mark.parametrize("reply, limits, want", [
    ("055a", optris.TARGET_RANGE_C, 37.0),
    ("0000", optris.TARGET_RANGE_C, None),  # -100 °C: below any LT model's -50
    ("ffff", optris.TARGET_RANGE_C, None),  # 6453.5 °C
    ("01f4", optris.TARGET_RANGE_C, -50.0),  # the floor itself
    ("2c24", optris.TARGET_RANGE_C, 1030.0),  # the ceiling itself
    ("2c25", optris.TARGET_RANGE_C, None),
    ("2c25", (250.0, 1600.0), 1030.1),  # a high-temperature model configured for it
    ("0ea6", optris.HEAD_RANGE_C, None),  # a head at 275 °C
])
def test_replies_outside_what_the_sensor_measures_are_not_temperatures(reply, limits, want):
    assert optris.plausible(optris.decode_temperature(bytes.fromhex(reply)), limits) == \
        (None if want is None else pytest.approx(want))


@given(st.binary(min_size=2, max_size=2), st.booleans())
@settings(max_examples=300, deadline=None)
def test_any_reply_is_a_temperature_inside_the_range_or_none(reply, hundredths):
    celsius = optris.plausible(optris.decode_temperature(reply, hundredths=hundredths), optris.TARGET_RANGE_C)
    assert celsius is None or -50.0 <= celsius <= 1030.0


@given(st.lists(st.integers(0, 0xFFFF), max_size=50))
@settings(max_examples=200, deadline=None)
def test_bulk_decode_matches_single_decode(values):
    data = b"".join(v.to_bytes(2, "big") for v in values)
    assert optris.decode_temperatures(data) == [optris.decode_temperature(v.to_bytes(2, "big")) for v in values]


# -- driver vs simulator -----------------------------------------------------------------

@pytest.fixture
def sim():
    s = OptrisSim(celsius=36.6, ambient_celsius=23.0)
    s.start()
    yield s
    s.stop()


def make(sim, **options) -> OptrisThermometer:
    return OptrisThermometer("thermometer-2", DeviceURL("serial", path=sim.link_path), options)


def test_driver_reads_target_and_head_temperature(sim):
    with make(sim, rate_hz=10) as t:
        r = t.measure_once()
        assert (r.celsius, r.ambient_celsius, r.out_of_human_range) == (36.6, 23.0, False)
        sim.set_temperature(39.5)
        assert t.measure_once().celsius == 39.5
        assert t.identify().serial_number == 1234567


def test_driver_reports_a_target_outside_the_models_range_as_sensor_fault(sim):
    with make(sim) as t:
        sim.set_temperature(-80.0)
        r = t.measure_once()
        assert r.celsius is None and r.out_of_human_range is True and r.ambient_celsius == 23.0
        assert t.status().state == status.DeviceState.FAULT and t.problems() == [status.SENSOR_FAULT]
        sim.set_temperature(36.6)
        assert t.measure_once().celsius == 36.6 and t.problems() == []


@pytest.mark.parametrize("value", ["1000..10", "hot", "5", "1..2..3", [5]])
def test_a_target_range_that_is_not_low_high_is_refused_at_construction(sim, value):
    with pytest.raises(ValueError, match="target_range_c"):
        make(sim, target_range_c=value)


def test_a_high_temperature_model_reads_inside_its_configured_range(sim):
    with make(sim, target_range_c="250..1600") as t:
        sim.set_temperature(1200.0)
        assert t.measure_once().celsius == 1200.0
        sim.set_temperature(36.6)  # below this model's range: not a measurement
        assert t.measure_once().celsius is None and t.problems() == [status.SENSOR_FAULT]


def test_driver_polls_at_rate_hz(sim):
    with make(sim, rate_hz=5) as t:
        t.read(0.05)  # the first poll is due at once
        start = time.monotonic()
        got = []
        while len(got) < 5 and time.monotonic() - start < 8:
            got += t.read(0.3)
        elapsed = time.monotonic() - start
        assert len(got) >= 5
        assert elapsed >= 0.8  # 5 readings at 5 Hz: about a second, not a burst
        assert all(r.celsius == 36.6 for r in got)


def test_driver_with_rs485_address_prefixes_commands(sim):
    sim.address = 7
    with make(sim, address=7) as t:
        assert t.measure_once().celsius == 36.6
    assert (7, optris.READ_TARGET) in sim.commands and (7, optris.READ_HEAD) in sim.commands


def test_wrong_rs485_address_is_not_answering(sim):
    sim.address = 7
    t = make(sim, address=3, answer_timeout=0.2)
    with pytest.raises(DeviceNotAnswering, match="address 3"):
        t.open()
    assert t.problems() == [status.NOT_ANSWERING]


def test_silent_device_is_not_answering_at_open(sim):
    sim.answering = False
    with pytest.raises(DeviceNotAnswering, match="did not answer"):
        make(sim, answer_timeout=0.2).open()


def test_device_that_stops_answering_raises_not_answering_on_read(sim):
    t = make(sim, rate_hz=10, answer_timeout=0.2)
    t.open()
    try:
        assert t.read(0.2)
        sim.answering = False
        with pytest.raises(DeviceNotAnswering):
            t.read(1.0)
        assert t.status().state.value == "offline"
        sim.answering = True
        assert t.measure_once().celsius == 36.6
        assert t.problems() == []
    finally:
        t.close()


def test_unplug_is_unavailable_and_reopen_after_replug(sim):
    t = make(sim, rate_hz=10, answer_timeout=0.2)
    t.open()
    sim.unplug()
    with pytest.raises(DeviceUnavailable):
        for _ in range(20):
            t.read(0.2)
    t.close()
    sim.replug()
    t.open()
    assert t.measure_once().celsius == 36.6
    t.close()


def test_missing_port_is_unavailable():
    t = OptrisThermometer("t", DeviceURL("serial", path="/nonexistent/ttyOPTRIS"), {})
    with pytest.raises(DeviceUnavailable, match="does not exist"):
        t.open()


def test_bad_address_option_is_refused_at_construction():
    with pytest.raises(ValueError, match="address"):
        OptrisThermometer("t", DeviceURL("serial", path="/dev/null"), {"address": 99})
