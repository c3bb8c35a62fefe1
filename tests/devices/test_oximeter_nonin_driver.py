"""Nonin driver against NoninSim over a real pty: readings, pacing, probe state, silence, unplug."""
from __future__ import annotations

import time

import pytest

from devices.errors import DeviceNotAnswering, DeviceUnavailable
from devices.oximeter.driver import NoninOximeter
from devices.oximeter.sim import NoninSim
from devices.status import PROBE_OFF
from tests.devices.conftest import read_until


def test_nonin_driver_reads_the_simulated_values_and_follows_changes(make_sim, make_driver):
    sim = make_sim(NoninSim, spo2=96, pulse=64)
    dev = make_driver(NoninOximeter, sim)
    dev.open()
    first = read_until(dev, lambda r: True)
    assert (first.spo2, first.pulse, first.probe) == (96, 64, "ok")
    sim.set_values(spo2=89, pulse=150)
    read_until(dev, lambda r: (r.spo2, r.pulse) == (89, 150))


def test_nonin_simulator_paces_75_frames_per_second(make_sim, make_driver):
    sim = make_sim(NoninSim)
    dev = make_driver(NoninOximeter, sim)
    dev.open()
    count, start = 0, time.monotonic()
    while time.monotonic() - start < 3.0:
        count += len(dev.read(0.2))
    packets_per_s = count / (time.monotonic() - start)
    assert 2.0 <= packets_per_s <= 4.0, packets_per_s  # 75 frames/s = 3 packets/s


def test_nonin_finger_out_and_sensor_fault_report_probe_off(make_sim, make_driver):
    sim = make_sim(NoninSim)
    dev = make_driver(NoninOximeter, sim)
    dev.open()
    sim.set_finger_out(True)
    reading = read_until(dev, lambda r: r.probe == "finger_out")
    assert (reading.spo2, reading.pulse) == (None, None) and dev.problems() == [PROBE_OFF]
    sim.set_finger_out(False)
    sim.set_sensor_fault(True)
    read_until(dev, lambda r: r.probe == "sensor_fault")
    assert dev.problems() == [PROBE_OFF]
    sim.set_sensor_fault(False)
    read_until(dev, lambda r: r.probe == "ok")
    assert dev.problems() == []


def test_nonin_open_refuses_a_silent_port(make_sim, make_driver):
    sim = make_sim(NoninSim)
    sim.answering = False
    dev = make_driver(NoninOximeter, sim, open_timeout_s=1.0)
    with pytest.raises(DeviceNotAnswering, match="no nonin oximeter data"):
        dev.open()


def test_nonin_unplug_raises_unavailable_and_replug_reopens(make_sim, make_driver):
    sim = make_sim(NoninSim)
    dev = make_driver(NoninOximeter, sim)
    dev.open()
    read_until(dev, lambda r: True)
    sim.unplug()
    with pytest.raises(DeviceUnavailable):
        read_until(dev, lambda r: False)
    dev.close()
    sim.replug()
    dev.open()
    assert read_until(dev, lambda r: True).pulse == 72
