"""Opening serial ports: a port another program holds is named with its holder, not a bare errno."""
from __future__ import annotations

import subprocess
import sys

import pytest

from devices.errors import DeviceUnavailable
from devices.oximeter.sim import ContecSim
from devices.serial_port import open_serial
from devices.url import parse_device_url


def test_port_held_by_another_process_names_the_holder(tmp_path):
    sim = ContecSim(link_path=str(tmp_path / "ox"))
    path = sim.start()
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import serial, time; s = serial.Serial({path!r}, exclusive=True); "
                               "print('held', flush=True); time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(DeviceUnavailable) as refused:
            open_serial(parse_device_url(f"serial://{path}"), baud=115200)
        assert f"PID {holder.pid}" in str(refused.value) and "in use" in str(refused.value)
    finally:
        holder.kill()
        holder.wait()
        sim.stop()


def test_port_released_by_its_holder_opens_on_the_next_try(tmp_path):
    sim = ContecSim(link_path=str(tmp_path / "ox"))
    path = sim.start()
    try:
        first = open_serial(parse_device_url(f"serial://{path}"), baud=115200)
        first.close()
        second = open_serial(parse_device_url(f"serial://{path}"), baud=115200)
        second.close()
    finally:
        sim.stop()


def test_missing_port_says_so(tmp_path):
    with pytest.raises(DeviceUnavailable, match="does not exist"):
        open_serial(parse_device_url(f"serial://{tmp_path}/no-such-port"), baud=9600)
