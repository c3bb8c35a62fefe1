"""Shared bits for the benchmark scripts: a private broker, a node config, timing helpers."""
from __future__ import annotations

import atexit
import os
import shutil
import statistics
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kiosk.node.config import parse_node_config as parse_config  # noqa: E402

import logging  # noqa: E402

logging.basicConfig(level=logging.ERROR)  # benchmarks print figures, not the daemons' logs


def node_config(workdir: Path, broker_url: str, **overrides):
    data = tomllib.loads((ROOT / "config" / "example.toml").read_text(encoding="utf-8"))
    data["node"]["store"] = str(workdir / "node.db")
    data["broker"]["url"] = broker_url
    data["devices"] = overrides.pop("devices", {})
    for section, values in overrides.items():
        data.setdefault(section, {}).update(values)
    return parse_config(data)


def workdir(prefix: str) -> Path:
    """A fresh temporary folder, removed when the benchmark ends (a 100,000-appointment site
    leaves ~180 MB of databases and payloads)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def median(values):
    return statistics.median(values)


class NoDevices:
    """The controller without hardware: for benchmarks of the MQTT path only."""

    def start(self): pass
    def stop(self): pass
    def statuses(self): return []
    def healthy(self): return True
    def show_call(self, room, ticket): return []


def wait_until(predicate, timeout: float, interval: float = 0.005) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


class StolenTime:
    """CPU time the hypervisor gave to other machines while a benchmark ran (/proc/stat `steal`):
    on a shared virtual machine every process, the baseline's too, stops now and then for a few
    milliseconds; a path that takes 35 ms is caught by such a stop more often than one of 1 ms."""

    def __init__(self):
        self.started = time.monotonic(), self._steal()

    @staticmethod
    def _steal() -> float | None:
        try:
            fields = Path("/proc/stat").read_text().splitlines()[0].split()
            return int(fields[8]) / os.sysconf("SC_CLK_TCK")  # seconds, over all CPUs
        except (OSError, IndexError, ValueError):
            return None

    def summary(self) -> str:
        (t0, s0), s1 = self.started, self._steal()
        if s0 is None or s1 is None:
            return "stolen CPU time: not known here"
        wall = (time.monotonic() - t0) * (os.cpu_count() or 1)
        return f"CPU time stolen by the hypervisor meanwhile: {(s1 - s0) * 1e3:.0f} ms of {wall:.0f} CPU-s ({(s1 - s0) / wall:.2%})"
