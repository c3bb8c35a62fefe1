"""CPU used by the controller while it reads an oximeter at 60 packets/s and a thermometer at 2 Hz.

The simulators run in this process; the controller runs as its own process (as under systemd),
and its CPU time is read from /proc over the same window as an idle controller (no devices)
measured alongside it. Prints each as a share of one core. Goal < 2 % with the devices.
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

import _common  # noqa: F401
from _common import ROOT, workdir
from devices.oximeter.sim import ContecSim
from devices.thermometer.bridge_sim import BridgeBoardSim
from foundation.children import die_with_parent
from kiosk.demo import write_runtime_config
from mqtt.broker import Broker
from mqtt.client import MqttClient
from mqtt.topics import NodeTopics

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def controller_config(broker: Broker, devices: dict[str, dict], node_id: str) -> str:
    run = workdir("bench-cpu-")
    path = write_runtime_config(ROOT / "config" / "example.toml", run, broker.url)
    # each controller its own node id: one client id per node, or they evict each other
    text = path.read_text().split("[devices.")[0].replace('id = "entrance-1"', f'id = "{node_id}"')
    for name, dev in devices.items():
        text += f"\n[devices.{name}]\n" + "".join(
            f"{k} = {v!r}\n".replace("'", '"') for k, v in dev.items())
    path.write_text(text)
    return str(path)


def spawn_controller(config: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "kiosk.cli", "controller", "--config", config,
                             "--log-level", "WARNING"], env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=die_with_parent)


def stop_all(procs) -> None:
    for p in procs.values():
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs.values():
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()


def measure(procs, broker: Broker, seconds: float):
    """CPU seconds of each controller over the same window, and readings seen on the wire."""
    readings = {"oximeter-1": 0, "thermometer-1": 0}
    lock = threading.Lock()

    def count(msg):
        with lock:
            device = msg.topic.split("/")[-2]
            readings[device] = readings.get(device, 0) + 1
    watcher = MqttClient("127.0.0.1", broker.port, "bench-watch", role="screening")
    watcher.subscribe(NodeTopics("spb-dunaisky", "entrance-1").device_readings_all, count, qos=0)
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
        with lock:
            r1 = dict(readings)
    finally:
        watcher.stop()
    shares = {n: (after[n] - before[n]) / wall * 100 for n in procs}
    seen = {d: r1[d] - r0[d] for d in r0}
    return wall, shares, seen


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    oximeter = ContecSim(spo2=97, pulse=72)
    thermometer = BridgeBoardSim(celsius=36.7)
    ox_path, th_path = oximeter.start(), thermometer.start()
    try:
        with Broker(workdir=str(workdir("bench-cpu-broker-")), persistence=False) as broker:
            busy_cfg = controller_config(broker, {
                "oximeter-1": {"kind": "oximeter", "protocol": "contec", "url": f"serial://{ox_path}",
                               "role": "screening-1"},
                "thermometer-1": {"kind": "thermometer", "protocol": "bridge", "url": f"serial://{th_path}",
                                  "role": "screening-1"},
            }, "entrance-1")
            idle_cfg = controller_config(broker, {}, "entrance-idle")
            procs = {"with devices": spawn_controller(busy_cfg), "idle": spawn_controller(idle_cfg)}
            try:  # never leave a controller behind holding the simulators' ports
                wall, shares, seen = measure(procs, broker, args.seconds)
            finally:
                stop_all(procs)
    finally:
        oximeter.stop()
        thermometer.stop()
    print(f"controller CPU over {wall:.0f} s (share of one core), measured side by side")
    for name, share in shares.items():
        print(f"  {name:13s}: {share:5.2f} %")
    print(f"  devices' own cost: {shares['with devices'] - shares['idle']:5.2f} %   "
          f"(goal: controller with devices < 2 %)")
    print(f"  readings published: oximeter {seen['oximeter-1']}, thermometer {seen['thermometer-1']} "
          f"(screens get <= 4/s per device)")
    if not seen["oximeter-1"] or not seen["thermometer-1"]:
        print("  WARNING: a device produced no readings; the figure is not meaningful")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
