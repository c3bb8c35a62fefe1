"""`vestibule device` and `vestibule sim` behave as command-line tools: quiet in a pipeline,
helpful about bad settings, and self-describing. Each test runs the real console script."""
from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from devices import registry
from devices.oximeter.sim import ContecSim

VESTIBULE = str(Path(sys.executable).with_name("vestibule"))


def run(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run([VESTIBULE, *args], check=False, capture_output=True, text=True, timeout=timeout)


def piped_into_head(args: list[str], lines: int) -> tuple[int, str, str]:
    """Run `vestibule ARGS | head -n LINES` in bash: (vestibule's exit code, head's output, stderr)."""
    command = shlex.join([VESTIBULE, *args]) + f" | head -n {lines}; echo \"rc=${{PIPESTATUS[0]}}\" >&2"
    proc = subprocess.run(["bash", "-c", command], check=False, capture_output=True, text=True, timeout=60)
    err_lines = proc.stderr.splitlines()
    rc_line = next(line for line in reversed(err_lines) if line.startswith("rc="))
    return int(rc_line[3:]), proc.stdout, "\n".join(line for line in err_lines if line != rc_line)


@pytest.fixture
def contec(tmp_path):
    sim = ContecSim(link_path=str(tmp_path / "oximeter"))
    sim.start()
    yield sim
    sim.stop()


@pytest.mark.parametrize("as_json", [True, False])
def test_oximeter_read_piped_into_head_ends_quietly_with_exit_0(contec, as_json):
    # Without --count the tool would print forever: only the closed pipe can end it.
    rc, out, err = piped_into_head(["device", "read", "oximeter", "--port", contec.link_path,
                                    *(["--json"] if as_json else [])], 2)
    assert len(out.splitlines()) == 2
    assert (rc, err) == (0, "")


def test_thermometer_read_piped_into_head_ends_quietly_with_exit_0():
    rc, out, err = piped_into_head(["device", "read", "thermometer", "--port", "sim://thermometer",
                                    "--protocol", "optris"], 3)
    assert "36.60 °C" in out.splitlines()[-1]
    assert (rc, err) == (0, "")


@pytest.mark.parametrize("kind, protocol, valid", [
    ("oximeter", "contec", ["spo2", "pulse", "stream_timeout_s"]),
    ("thermometer", "bridge", ["celsius", "ambient_celsius", "sensor_error"]),
    ("display", "alpha", ["addresses", "answering"]),
])
def test_sim_with_an_unknown_setting_lists_the_valid_ones_and_exits_2(tmp_path, kind, protocol, valid):
    proc = run("sim", kind, "--protocol", protocol, "--link", str(tmp_path / "dev"), "--set", "spo3=97")
    assert proc.returncode == 2
    assert "no setting 'spo3'" in proc.stderr and "Traceback" not in proc.stderr
    listed = proc.stderr.split("valid settings:")[1]
    assert all(key in listed for key in valid), proc.stderr
    assert not (tmp_path / "dev").exists()  # nothing was started


def test_sim_setting_without_a_value_exits_2_with_the_expected_form(tmp_path):
    proc = run("sim", "oximeter", "--protocol", "nonin", "--link", str(tmp_path / "dev"), "--set", "spo2")
    assert proc.returncode == 2
    assert "--set expects KEY=VALUE, got 'spo2'" in proc.stderr and "Traceback" not in proc.stderr


def test_sim_help_lists_the_protocols_of_each_kind():
    proc = run("sim", "--help")
    assert proc.returncode == 0
    listing = proc.stdout.split("simulators (kind: protocols):")[1]
    rows = {line.split()[0]: line.split(None, 1)[1] for line in listing.splitlines()[1:]
            if line.startswith("  ")}
    for kind, protocol in registry.SIMULATORS:
        assert protocol in rows[kind].replace(",", " ").split(), (kind, protocol, rows)
    assert set(rows) == set(registry.KINDS)
