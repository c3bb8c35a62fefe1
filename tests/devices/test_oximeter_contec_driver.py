"""Contec driver against ContecSim over a real pty: readings, probe state, keepalive, identity,
silence, unplug and replug. Fixtures: tests/devices/conftest.py."""
from __future__ import annotations

import time

import pytest

from devices.errors import DeviceNotAnswering, DeviceUnavailable
from devices.oximeter import contec
from devices.oximeter.driver import ContecOximeter
from devices.oximeter.sim import ContecSim
from devices.status import PROBE_OFF, DeviceState
from tests.devices.conftest import DEADLINE_S, read_until

def arrival_times(dev, seconds):
    """Monotonic times at which read() returned readings, over `seconds`."""
    times = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if dev.read(0.1):
            times.append(time.monotonic())
    return times


def test_contec_driver_reads_the_simulated_values_and_follows_changes(make_sim, make_driver):
    sim = make_sim(ContecSim, spo2=97, pulse=72, signal=9)
    dev = make_driver(ContecOximeter, sim)
    dev.open()
    first = read_until(dev, lambda r: True)
    assert (first.spo2, first.pulse, first.signal, first.probe) == (97, 72, 9, "ok")
    assert abs(first.ts - time.time()) < 5
    sim.set_values(spo2=91, pulse=131)  # 131 needs the high-bit byte
    read_until(dev, lambda r: (r.spo2, r.pulse) == (91, 131))
    assert dev.problems() == [] and dev.status().state is DeviceState.READY


def test_contec_open_sends_a1_before_any_data_flows(make_sim, make_driver):
    sim = make_sim(ContecSim)
    time.sleep(0.3)
    assert not sim.streaming  # the device is quiet until asked
    dev = make_driver(ContecOximeter, sim)
    dev.open()
    assert sim.count(contec.CMD_START_LIVE) >= 1 and sim.streaming


def test_contec_open_refuses_a_device_that_does_not_answer(make_sim, make_driver):
    sim = make_sim(ContecSim)
    sim.answering = False
    dev = make_driver(ContecOximeter, sim, open_timeout_s=1.0)
    started = time.monotonic()
    with pytest.raises(DeviceNotAnswering, match="no contec oximeter data"):
        dev.open()
    assert time.monotonic() - started < DEADLINE_S
    assert not dev.is_open


def test_contec_finger_out_reports_probe_off_and_no_numbers(make_sim, make_driver):
    sim = make_sim(ContecSim)
    dev = make_driver(ContecOximeter, sim)
    dev.open()
    read_until(dev, lambda r: r.probe == "ok")
    sim.set_finger_out(True)
    reading = read_until(dev, lambda r: r.probe == "finger_out")
    assert (reading.spo2, reading.pulse) == (None, None)
    assert dev.problems() == [PROBE_OFF]
    assert dev.status().state is DeviceState.DEGRADED
    sim.set_finger_out(False)
    read_until(dev, lambda r: r.probe == "ok" and r.spo2 == 97)
    assert dev.problems() == []


def test_contec_keepalive_a1_keeps_data_flowing_past_the_device_stream_timeout(make_sim, make_driver):
    sim = make_sim(ContecSim, stream_timeout_s=0.8)
    # Only the periodic keepalive may restart the stream here: the quiet-stream resend is off.
    dev = make_driver(ContecOximeter, sim, keepalive_s=0.25, resend_after_s=60, silence_s=60)
    dev.open()
    times = arrival_times(dev, 3.2)  # four times the device's own timeout
    assert times and times[-1] > time.monotonic() - 0.7, "stream stopped despite keepalive"
    assert sim.count(contec.CMD_START_LIVE) >= 5


def test_contec_stream_stops_after_the_device_timeout_without_keepalive(make_sim, make_driver):
    # The control for the keepalive test: without A1 the simulated device really stops.
    sim = make_sim(ContecSim, stream_timeout_s=0.8)
    dev = make_driver(ContecOximeter, sim, keepalive_s=60, resend_after_s=60, silence_s=60)
    dev.open()
    times = arrival_times(dev, 2.4)
    assert times and times[-1] < time.monotonic() - 0.9
    assert sim.count(contec.CMD_START_LIVE) == 1


def test_contec_driver_resends_a1_when_the_stream_goes_quiet(make_sim, make_driver):
    sim = make_sim(ContecSim, stream_timeout_s=0.8)
    dev = make_driver(ContecOximeter, sim, keepalive_s=60, resend_after_s=0.3, silence_s=60)
    dev.open()
    times = arrival_times(dev, 2.8)
    assert times and times[-1] > time.monotonic() - 1.0
    assert sim.count(contec.CMD_START_LIVE) >= 2


def test_contec_simulator_paces_about_60_packets_per_second(make_sim, make_driver):
    sim = make_sim(ContecSim)
    dev = make_driver(ContecOximeter, sim)
    dev.open()
    dev.read(1.0)
    count, start = 0, time.monotonic()
    while time.monotonic() - start < 1.5:
        count += len(dev.read(0.2))
    rate = count / (time.monotonic() - start)
    assert 45 <= rate <= 75, rate


def test_contec_identify_returns_model_vendor_and_device_id(make_sim, make_driver):
    sim = make_sim(ContecSim, model="CMS50D+", vendor="CONTEC", device_id="KIOSK1")
    dev = make_driver(ContecOximeter, sim)
    dev.open()
    assert dev.identify() == {"model": "CMS50D+", "vendor": "CONTEC", "device_id": "KIOSK1"}
    assert [sim.commands.count(c) for c in (0xA2, 0xA8, 0xA9, 0xAA)] == [1, 1, 1, 1]
    read_until(dev, lambda r: r.spo2 == 97)  # live data resumes afterwards


def test_contec_identify_on_a_device_that_does_not_answer_raises_not_answering(make_sim, make_driver):
    sim = make_sim(ContecSim)
    dev = make_driver(ContecOximeter, sim)
    dev.open()
    sim.answering = False
    with pytest.raises(DeviceNotAnswering, match="model/vendor/device id"):
        dev.identify(timeout=0.5)


def test_contec_silent_stream_during_read_raises_not_answering(make_sim, make_driver):
    sim = make_sim(ContecSim)
    dev = make_driver(ContecOximeter, sim, silence_s=1.0)
    dev.open()
    read_until(dev, lambda r: True)
    sim.answering = False
    with pytest.raises(DeviceNotAnswering, match="stopped sending"):
        read_until(dev, lambda r: False)


def test_contec_unplug_raises_unavailable_and_replug_reopens(make_sim, make_driver):
    sim = make_sim(ContecSim)
    dev = make_driver(ContecOximeter, sim)
    dev.open()
    read_until(dev, lambda r: True)
    sim.unplug()
    with pytest.raises(DeviceUnavailable):
        read_until(dev, lambda r: False)
    dev.close()
    with pytest.raises(DeviceUnavailable, match="does not exist"):
        dev.open()
    sim.replug()
    dev.open()  # re-initialises: a fresh device is quiet until A1
    assert read_until(dev, lambda r: True).spo2 == 97
