"""BridgeThermometer (the driver) against BridgeBoardSim (the real firmware) over a pty."""
from __future__ import annotations

import time

import pytest

from devices import status
from devices.base import ThermometerReading
from devices.errors import DeviceNotAnswering, DeviceUnavailable
from devices.thermometer.driver import BridgeThermometer, SensorFault
from devices.url import DeviceURL
from devices.thermometer.bridge_sim import BridgeBoardSim

DEADLINE = 8.0


@pytest.fixture
def sim():
    s = BridgeBoardSim(celsius=36.6, ambient_celsius=22.0, sensor_id="00112233aabbccdd")
    s.start()
    yield s
    s.stop()


@pytest.fixture
def thermo(sim):
    t = BridgeThermometer("thermometer-1", DeviceURL("serial", path=sim.link_path), {"rate_hz": 10})
    t.open()
    yield t
    t.close()


def read_until(device, until, deadline=DEADLINE) -> list[ThermometerReading]:
    got: list[ThermometerReading] = []
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        got += device.read(0.3)
        if until(got):
            return got
    raise AssertionError(f"condition not met within {deadline} s; last readings {got[-3:]}")


def test_open_handshakes_and_identify_gives_firmware_and_sensor_id(thermo):
    ident = thermo.identify()
    assert ident.firmware_version == "1.0.0"
    assert ident.sensor_id == "00112233aabbccdd"
    assert thermo.unique_id() == "mlx90614-00112233aabbccdd"
    assert thermo.status().state.value == "ready"


def test_readings_stream_at_rate_and_follow_set_temperature(thermo, sim):
    got = read_until(thermo, lambda r: len(r) >= 3)
    assert all(isinstance(r, ThermometerReading) for r in got)
    assert got[0].celsius == pytest.approx(36.6, abs=0.02)
    assert got[0].ambient_celsius == pytest.approx(22.0, abs=0.02)
    assert got[0].out_of_human_range is False
    sim.set_temperature(24.0)  # aimed at a wall
    later = read_until(thermo, lambda r: any(x.celsius is not None and abs(x.celsius - 24.0) < 0.03 for x in r))
    assert later[-1].out_of_human_range is True


def test_rate_hz_sets_the_stream_period(sim):
    t = BridgeThermometer("t", DeviceURL("serial", path=sim.link_path), {"rate_hz": 2})
    t.open()
    try:
        read_until(t, lambda r: len(r) >= 1)
        start = time.monotonic()
        got = read_until(t, lambda r: len(r) >= 3)
        elapsed = time.monotonic() - start
        assert elapsed >= 1.2  # 3 readings at 2 Hz take about 1.5 s; 10 Hz would take 0.3 s
        assert [r.ts for r in got] == sorted(r.ts for r in got)
    finally:
        t.close()


def test_measure_once_while_streaming(thermo, sim):
    sim.set_temperature(37.2)
    r = thermo.measure_once()
    assert r.celsius == pytest.approx(37.2, abs=0.02)
    assert r.out_of_human_range is False


def test_pec_fault_gives_sensor_fault_and_no_reading(thermo, sim):
    read_until(thermo, lambda r: len(r) >= 1)
    sim.inject(corrupt_pec=True)
    thermo.read(0.3)  # a reading already on its way may still arrive
    end = time.monotonic() + 1.0
    during = []
    while time.monotonic() < end:
        during += thermo.read(0.2)
    assert during == []
    assert status.SENSOR_FAULT in thermo.problems()
    assert thermo.last_error.name == "pec_error"
    with pytest.raises(SensorFault, match="pec_error"):
        thermo.measure_once()
    sim.inject(corrupt_pec=False)
    read_until(thermo, lambda r: len(r) >= 1)
    assert thermo.problems() == []


def test_sensor_error_bit_gives_a_reading_without_temperature(thermo, sim):
    sim.inject(sensor_error=True)
    got = read_until(thermo, lambda r: any(x.celsius is None for x in r))
    flagged = [r for r in got if r.celsius is None][0]
    assert flagged.out_of_human_range is True and flagged.ambient_celsius is None
    assert thermo.status().state.value == "fault"
    assert thermo.measure_once().celsius is None


def test_a_temperature_the_sensor_cannot_measure_is_a_fault_without_temperature(thermo, sim):
    sim.set_temperature(381.0)  # above the MLX90614's 380 °C: a glitching sensor, not a forehead
    got = read_until(thermo, lambda r: any(x.celsius is None for x in r))
    assert all(x.celsius is None or x.celsius < 45 for x in got)
    assert thermo.status().state.value == "fault" and status.SENSOR_FAULT in thermo.problems()
    assert thermo.measure_once().celsius is None
    sim.set_temperature(36.6)
    read_until(thermo, lambda r: any(x.celsius is not None and abs(x.celsius - 36.6) < 0.03 for x in r))
    assert thermo.problems() == []


def test_unplug_raises_unavailable_then_close_open_rehandshakes(thermo, sim):
    read_until(thermo, lambda r: len(r) >= 1)
    sim.unplug()
    with pytest.raises(DeviceUnavailable):
        end = time.monotonic() + DEADLINE
        while time.monotonic() < end:
            thermo.read(0.2)
    assert thermo.problems() == [status.DISCONNECTED]
    thermo.close()
    with pytest.raises(DeviceUnavailable):
        thermo.open()  # still unplugged: the link path is gone
    sim.set_temperature(38.0)
    sim.replug()
    thermo.open()
    assert thermo.identify().sensor_id == "00112233aabbccdd"
    got = read_until(thermo, lambda r: len(r) >= 1)
    assert got[-1].celsius == pytest.approx(38.0, abs=0.02)


def test_board_that_goes_silent_is_not_answering(sim):
    t = BridgeThermometer("t", DeviceURL("serial", path=sim.link_path), {"rate_hz": 10})
    t.silence_bound = 1.0
    t.open()
    try:
        read_until(t, lambda r: len(r) >= 1)
        sim.answering = False
        with pytest.raises(DeviceNotAnswering, match="sent nothing"):
            end = time.monotonic() + DEADLINE
            while time.monotonic() < end:
                t.read(0.2)
        assert t.status().state.value == "offline"
    finally:
        t.close()


def test_open_refuses_a_board_that_does_not_answer(sim):
    sim.answering = False
    t = BridgeThermometer("t", DeviceURL("serial", path=sim.link_path), {"reply_timeout": 0.3})
    with pytest.raises(DeviceNotAnswering, match="thermometer bridge on serial://"):
        t.open()
    assert t.problems() == [status.NOT_ANSWERING]


def test_open_accepts_a_board_whose_sensor_is_missing_and_reports_sensor_fault(sim):
    sim.inject(i2c_nack=True)
    t = BridgeThermometer("t", DeviceURL("serial", path=sim.link_path), {"rate_hz": 10})
    t.open()
    try:
        assert t.identify().firmware_version == "1.0.0"
        assert (t.identify().sensor_id, t.identify().sensor_error) == (None, "i2c_nack")
        assert t.status().state.value == "fault"
        with pytest.raises(SensorFault, match="sensor id"):
            t.unique_id()
        sim.inject(i2c_nack=False)
        read_until(t, lambda r: len(r) >= 1)
        assert t.problems() == []
    finally:
        t.close()


def test_missing_port_is_unavailable():
    t = BridgeThermometer("t", DeviceURL("serial", path="/nonexistent/ttyVESTIBULE"), {})
    with pytest.raises(DeviceUnavailable, match="does not exist"):
        t.open()


@pytest.mark.parametrize("rate", [0, -1, 100, "fast"])
def test_bad_rate_is_refused_at_construction(rate):
    with pytest.raises(ValueError, match="rate_hz"):
        BridgeThermometer("t", DeviceURL("serial", path="/dev/null"), {"rate_hz": rate})
