"""Live simulator settings: `set(**values)` on the oximeter and thermometer simulators, checked
against the keys they declare, seen by the real drivers over ptys; and the same settings from
`vestibule sim --set` at start and `set k=v` typed into a running `vestibule sim`."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from devices import status
from devices.oximeter.driver import ContecOximeter, NoninOximeter
from devices.oximeter.sim import ContecSim, NoninSim
from devices.thermometer.bridge_sim import BridgeBoardSim
from devices.thermometer.driver import BridgeThermometer, OptrisThermometer
from devices.thermometer.sim import OptrisSim
from devices.url import parse_device_url
from tests.devices.conftest import read_until

VESTIBULE = str(Path(sys.executable).with_name("vestibule"))


# -- set() itself ----------------------------------------------------------------------------

@pytest.mark.parametrize("cls, keys", [
    (ContecSim, ["spo2", "pulse", "signal", "probe"]),
    (NoninSim, ["spo2", "pulse", "signal", "probe"]),
    (OptrisSim, ["object", "ambient", "aim"]),
    (BridgeBoardSim, ["object", "ambient", "aim", "sensor"]),
])
def test_an_unknown_key_is_refused_with_the_valid_ones(cls, keys):
    with pytest.raises(ValueError) as err:
        cls().set(temperature=37)
    assert "'temperature'" in str(err.value)
    assert str(err.value).endswith("valid: " + ", ".join(keys))


@pytest.mark.parametrize("values, message", [
    ({"spo2": 90, "probe": "wet"}, "probe: expected one of ok, finger_out, searching, off"),
    ({"spo2": 90, "pulse": "fast"}, "pulse: expected a whole number 0..255"),
    ({"spo2": 90, "pulse": 300}, "pulse: expected a whole number 0..255"),
    ({"spo2": 90, "signal": True}, "signal: expected a whole number 0..15"),
])
def test_a_bad_value_changes_nothing(values, message):
    sim = ContecSim(spo2=97, pulse=72)
    with pytest.raises(ValueError, match=message):
        sim.set(**values)
    assert (sim.spo2, sim.pulse, sim.probe) == (97, 72, "ok")


def test_values_typed_as_text_are_converted():
    sim = NoninSim()
    assert sim.set(spo2="93", pulse="301", probe="Searching") == {"spo2": 93, "pulse": 301, "probe": "searching"}
    optris = OptrisSim()
    assert optris.set(object="38.25", aim="AIR") == {"object": 38.25, "aim": "air"}


# -- what the drivers see -----------------------------------------------------------------------

@pytest.mark.parametrize("cls, driver, probe, seen", [
    (ContecSim, ContecOximeter, "finger_out", "finger_out"),
    (ContecSim, ContecOximeter, "searching", "searching"),
    (ContecSim, ContecOximeter, "off", "finger_out"),  # one probe-error bit for both
    (NoninSim, NoninOximeter, "finger_out", "finger_out"),
    (NoninSim, NoninOximeter, "searching", "searching"),
    (NoninSim, NoninOximeter, "off", "sensor_fault"),
])
def test_oximeter_probe_states_reach_the_driver(make_sim, make_driver, cls, driver, probe, seen):
    sim = make_sim(cls)
    dev = make_driver(driver, sim)
    dev.open()
    read_until(dev, lambda r: r.probe == "ok" and r.spo2 == 97)
    sim.set(probe=probe)
    reading = read_until(dev, lambda r: r.probe == seen)
    assert (reading.spo2, reading.pulse) == (None, None)
    sim.set(probe="ok", spo2=92, pulse=130)
    read_until(dev, lambda r: (r.probe, r.spo2, r.pulse) == ("ok", 92, 130))


@pytest.mark.parametrize("cls, driver", [(ContecSim, ContecOximeter), (NoninSim, NoninOximeter)])
def test_a_pulse_no_patient_has_is_sent_and_never_reported(make_sim, make_driver, cls, driver):
    sim = make_sim(cls)
    dev = make_driver(driver, sim)
    dev.open()
    read_until(dev, lambda r: r.pulse == 72)
    sim.set(pulse=254)
    reading = read_until(dev, lambda r: r.pulse != 72)
    assert (reading.probe, reading.spo2, reading.pulse) == ("ok", None, None)


@pytest.fixture
def thermometer(request, tmp_path):
    sim_cls, driver_cls = request.param
    sim = sim_cls(link_path=str(tmp_path / "thermometer"), celsius=36.6, ambient_celsius=22.0)
    sim.start()
    dev = driver_cls("thermometer-1", parse_device_url(sim.link_path), {"rate_hz": 10})
    dev.open()
    yield sim, dev
    dev.close()
    sim.stop()


BOTH = [(BridgeBoardSim, BridgeThermometer), (OptrisSim, OptrisThermometer)]


@pytest.mark.parametrize("thermometer", BOTH, indirect=True, ids=["bridge", "optris"])
def test_thermometer_object_and_aim_reach_the_driver(thermometer):
    sim, dev = thermometer
    sim.set(object=38.4)
    read_until(dev, lambda r: r.celsius is not None and abs(r.celsius - 38.4) < 0.03)
    sim.set(aim="air")  # the room, not a forehead
    reading = read_until(dev, lambda r: r.celsius is not None and abs(r.celsius - 22.0) < 0.03)
    assert reading.out_of_human_range is True
    sim.set(aim="forehead", ambient=24.0)
    reading = read_until(dev, lambda r: r.celsius is not None and abs(r.celsius - 38.4) < 0.03)
    assert reading.ambient_celsius == pytest.approx(24.0, abs=0.03)


@pytest.mark.parametrize("thermometer", BOTH[:1], indirect=True, ids=["bridge"])
def test_bridge_sensor_state_reaches_the_driver(thermometer):
    sim, dev = thermometer
    sim.set(sensor="error")
    read_until(dev, lambda r: r.celsius is None)
    assert dev.problems() == [status.SENSOR_FAULT]
    sim.set(sensor="ok")
    read_until(dev, lambda r: r.celsius is not None)
    assert dev.problems() == []


# -- `vestibule sim`: --set at start, `set k=v` while running ---------------------------------

class RunningSim:
    def __init__(self, link: Path, *args: str):
        self.proc = subprocess.Popen([VESTIBULE, "sim", *args, "--link", str(link)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
        deadline = time.monotonic() + 10
        while not os.path.lexists(link):
            assert self.proc.poll() is None, self.proc.stderr.read()
            assert time.monotonic() < deadline, "simulator did not come up"
            time.sleep(0.05)
        self.proc.stdout.readline()  # "... serving on ..."
        self.proc.stdout.readline()  # "type `set KEY=VALUE ...`"

    def type(self, line: str) -> None:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def answer(self) -> str:
        return self.proc.stdout.readline().strip()

    def error(self) -> str:
        return self.proc.stderr.readline().strip()

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=10)


def read_one(link: Path, kind: str, protocol: str, until) -> dict:
    deadline = time.monotonic() + 15
    while True:
        proc = subprocess.run([VESTIBULE, "device", "read", kind, "--port", str(link), "--protocol", protocol,
                               "--count", "3", "--json"], check=False, capture_output=True, text=True, timeout=30)
        assert proc.returncode == 0, proc.stderr
        last = json.loads(proc.stdout.splitlines()[-1])
        if until(last):
            return last
        assert time.monotonic() < deadline, last
        time.sleep(0.2)


def test_oximeter_sim_process_takes_settings_at_start_and_typed_while_running(tmp_path):
    link = tmp_path / "oximeter"
    sim = RunningSim(link, "oximeter", "--protocol", "contec", "--set", "probe=finger_out", "--set", "spo2=91")
    try:
        read_one(link, "oximeter", "contec", lambda r: r["probe"] == "finger_out")
        sim.type("set probe=ok pulse=118")
        assert sim.answer() == "ok probe=ok pulse=118"
        got = read_one(link, "oximeter", "contec", lambda r: r["probe"] == "ok")
        assert (got["spo2"], got["pulse"]) == (91, 118)
        sim.type("set pulse=fast")
        assert sim.error() == "error: pulse: expected a whole number 0..255, got 'fast'"
        sim.type("set spo3=90")
        assert "valid: spo2, pulse, signal, probe" in sim.error()
        sim.type("dance")
        assert "unknown command 'dance'" in sim.error()
        sim.type("help")
        assert sim.answer() == "set KEY=VALUE ... with:"
        assert sim.answer().startswith("spo2")
    finally:
        assert sim.stop() == 0
    assert "Traceback" not in sim.proc.stderr.read()


def test_thermometer_sim_process_points_at_the_air_when_told(tmp_path):
    link = tmp_path / "thermometer"
    sim = RunningSim(link, "thermometer", "--protocol", "bridge", "--set", "object=38.5")
    try:
        read_one(link, "thermometer", "bridge", lambda r: abs(r["celsius"] - 38.5) < 0.03)
        sim.type("set aim=air")
        assert sim.answer() == "ok aim=air"
        got = read_one(link, "thermometer", "bridge", lambda r: abs(r["celsius"] - 22.0) < 0.03)
        assert got["out_of_human_range"] is True
    finally:
        assert sim.stop() == 0


def test_a_sim_started_without_stdin_keeps_running_until_stopped(tmp_path):
    link = tmp_path / "oximeter"
    proc = subprocess.Popen([VESTIBULE, "sim", "oximeter", "--protocol", "nonin", "--link", str(link)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 10
        while not os.path.lexists(link):
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
        time.sleep(1.0)
        assert proc.poll() is None  # the end of stdin is not the end of the simulator
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


def test_a_sim_started_in_the_background_of_a_shell_keeps_serving(tmp_path, make_driver):
    # `vestibule sim ... &` in an interactive shell: reading the terminal from the background
    # would stop the whole simulator (SIGTTIN), as docs/firmware-flashing.md starts one.
    import pty
    import select

    link = tmp_path / "oximeter"
    shell, fd = pty.fork()
    if shell == 0:
        os.execvp("bash", ["bash", "--norc", "--noprofile", "-i"])
    sim_pid = None
    try:
        os.write(fd, f"{VESTIBULE} sim oximeter --protocol contec --link {link} & echo PID=$!\n".encode())
        seen, deadline = b"", time.monotonic() + 15
        while (sim_pid is None or not os.path.lexists(link)) and time.monotonic() < deadline:
            if select.select([fd], [], [], 0.1)[0]:
                seen += os.read(fd, 4096)
            found = [w for w in seen.split() if w.startswith(b"PID=") and w[4:].isdigit()]
            sim_pid = int(found[0][4:]) if found else None
        assert sim_pid is not None and os.path.lexists(link), seen
        time.sleep(1.0)  # long enough for its control thread to have tried the terminal
        state = Path(f"/proc/{sim_pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        assert state != "T", "the background simulator was stopped by the terminal"
        dev = make_driver(ContecOximeter, SimpleNamespace(link_path=str(link)))
        dev.open()
        read_until(dev, lambda r: r.spo2 == 97)
    finally:
        if sim_pid is not None:
            os.kill(sim_pid, signal.SIGTERM)
        os.write(fd, b"exit\n")
        deadline = time.monotonic() + 5
        while os.waitpid(shell, os.WNOHANG) == (0, 0):
            if time.monotonic() > deadline:
                os.kill(shell, signal.SIGKILL)
            time.sleep(0.05)
        os.close(fd)
