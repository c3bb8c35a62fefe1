"""CPU and memory of the controller with every device of the example config streaming from
simulators, each simulator in a process of its own (as real devices are outside the controller).

The example config's devices (two printers, a scanner, a pulse oximeter at 60 packets/s, an IR
thermometer board, four Alpha boards on one RS-485 line and a Modbus number board) each get a
`vestibule sim` process on a pty; the scanner scans a code every few seconds. The controller runs
as its own process (as under systemd). Its CPU time is read from /proc over the same window as an
idle controller (no devices) measured alongside it, and its resident memory (VmRSS, and the peak
VmHWM) at the end. Goals (issue 12): < 2 % of one core and RSS <= 60 MB with the devices.
Usage: bench_controller_cpu.py [--seconds S]
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
import tomllib

import _common  # noqa: F401
from _common import ROOT, workdir

from devices.url import parse_device_url
from foundation.children import die_with_parent
from kiosk.demo import dump_toml, write_runtime_config
from mqtt.broker import Broker
from mqtt.client import MqttClient
from mqtt.topics import NodeTopics

CLK_TCK = os.sysconf("SC_CLK_TCK")
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
SCAN_EVERY_S = 3


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def memory_mb(pid: int) -> dict[str, float]:
    values = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) / 1024
    return values


def controller_config(broker: Broker, devices: dict[str, dict], node_id: str) -> str:
    """The example config on this broker, with its own node id and store, and `devices`."""
    run = workdir("bench-cpu-")
    path = write_runtime_config(ROOT / "config" / "example.toml", run, broker.url)
    data = tomllib.loads(path.read_text())
    data["node"]["id"] = node_id  # each controller its own node id: one client id per node
    data["devices"] = devices
    path.write_text(dump_toml(data))
    return str(path)


def spawn_controller(config: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "kiosk.cli", "controller", "--config", config,
                             "--log-level", "WARNING"], env=ENV, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, preexec_fn=die_with_parent)  # noqa: PLW1509


def spawn_simulators(devices: dict[str, dict], sim_dir) -> tuple[dict[str, dict], list[subprocess.Popen]]:
    """One `vestibule sim` process per serial line of the example config's sim:// devices; returns
    the devices pointed at the simulators' ptys, and the processes."""
    lines: dict[str, str] = {}  # line key -> link path
    procs = []
    wired = {}
    for device_id, dev in devices.items():
        url = parse_device_url(dev["url"])
        key = url.option("line") or device_id
        if key not in lines:
            link = str(sim_dir / key)
            settings = []
            if dev["kind"] == "display":
                same_line = [d for d in devices.values() if d["kind"] == "display"
                             and parse_device_url(d["url"]).option("line") == url.option("line")]
                default = "01" if dev["protocol"] == "alpha" else 1
                settings.append("addresses=" + ",".join(str(d.get("options", {}).get("address", default))
                                                       for d in same_line))
            if dev["kind"] == "scanner":
                settings += ["code=BK-0000", f"every={SCAN_EVERY_S}"]
            args = [sys.executable, "-m", "kiosk.cli", "sim", dev["kind"], "--protocol", dev["protocol"],
                    "--link", link, *[a for s in settings for a in ("--set", s)]]
            procs.append(subprocess.Popen(args, env=ENV, cwd=ROOT, stdout=subprocess.DEVNULL,
                                          preexec_fn=die_with_parent))  # noqa: PLW1509
            lines[key] = link
        wired[device_id] = {**dev, "url": f"serial://{lines[key]}"}
    deadline = time.monotonic() + 30
    while not all(os.path.exists(p) for p in lines.values()):
        if time.monotonic() > deadline:
            raise RuntimeError("simulators did not start")
        time.sleep(0.1)
    return wired, procs


def stop_all(procs) -> None:
    procs = list(procs.values()) if isinstance(procs, dict) else list(procs)
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()


def measure(procs, broker: Broker, node_id: str, seconds: float):
    """CPU seconds of each controller over the same window, memory at its end, readings seen."""
    readings: dict[str, int] = {}
    lock = threading.Lock()

    def count(msg):
        with lock:
            device = msg.topic.split("/")[-2]
            readings[device] = readings.get(device, 0) + 1
    watcher = MqttClient("127.0.0.1", broker.port, "bench-watch", role="screening")
    watcher.subscribe(NodeTopics("spb-dunaisky", node_id).device_readings_all, count, qos=0)
    watcher.start()
    try:
        time.sleep(8)  # start-up (imports, device handshakes) is not the steady state
        before = {n: cpu_seconds(p.pid) for n, p in procs.items()}
        with lock:
            r0 = dict(readings)
        t0 = time.monotonic()
        time.sleep(seconds)
        wall = time.monotonic() - t0
        after = {n: cpu_seconds(p.pid) for n, p in procs.items()}
        memory = {n: memory_mb(p.pid) for n, p in procs.items()}
        with lock:
            r1 = dict(readings)
    finally:
        watcher.stop()
    shares = {n: (after[n] - before[n]) / wall * 100 for n in procs}
    seen = {d: r1[d] - r0.get(d, 0) for d in r1}
    return wall, shares, memory, seen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    example = tomllib.loads((ROOT / "config" / "example.toml").read_text(encoding="utf-8"))["devices"]
    sim_dir = workdir("bench-cpu-sims-")
    devices, sims = spawn_simulators(example, sim_dir)
    try:
        with Broker(workdir=str(workdir("bench-cpu-broker-")), persistence=False) as broker:
            busy_cfg = controller_config(broker, devices, "entrance-1")
            idle_cfg = controller_config(broker, {}, "entrance-idle")
            procs = {"with devices": spawn_controller(busy_cfg), "idle": spawn_controller(idle_cfg)}
            try:  # never leave a controller behind holding the simulators' ports
                wall, shares, memory, seen = measure(procs, broker, "entrance-1", args.seconds)
            finally:
                stop_all(procs)
    finally:
        stop_all(sims)
    print(f"controller over {wall:.0f} s, {len(devices)} devices of the example config on {len(sims)} "
          f"simulator processes, measured side by side with an idle controller")
    for name, share in shares.items():
        mem = memory[name]
        print(f"  {name:13s}: CPU {share:5.2f} % of one core   RSS {mem['VmRSS']:5.1f} MB (peak {mem['VmHWM']:5.1f} MB)")
    busy, rss = shares["with devices"], memory["with devices"]["VmRSS"]
    print(f"  devices' own cost: {busy - shares['idle']:5.2f} %")
    print(f"  CPU with devices {busy:.2f} % = {busy / 2:.2f}x goal   (goal < 2 %: {'met' if busy < 2 else 'MISSED'})")
    print(f"  RSS with devices {rss:.1f} MB = {rss / 60:.2f}x goal   (goal <= 60 MB: {'met' if rss <= 60 else 'MISSED'})")
    print(f"  readings published: {dict(sorted(seen.items()))} (screens get <= 4/s per streaming device)")
    if not seen.get("oximeter-1") or not seen.get("thermometer-1") or not seen.get("scanner-1"):
        print("  WARNING: a streaming device produced no readings; the figure is not meaningful")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
