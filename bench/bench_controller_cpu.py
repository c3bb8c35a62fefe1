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
from firmware_bridge.sim import BridgeBoardSim
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


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    oximeter = ContecSim(spo2=97, pulse=72)
    thermometer = BridgeBoardSim(celsius=36.7)
    ox_path, th_path = oximeter.start(), thermometer.start()
    with Broker(workdir=str(workdir("bench-cpu-broker-")), persistence=False) as broker:
        busy_cfg = controller_config(broker, {
            "oximeter-1": {"kind": "oximeter", "protocol": "contec", "url": f"serial://{ox_path}", "role": "screening-1"},
            "thermometer-1": {"kind": "thermometer", "protocol": "bridge", "url": f"serial://{th_path}",
                              "role": "screening-1"},
        }, "entrance-1")
        idle_cfg = controller_config(broker, {}, "entrance-idle")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        procs = {name: subprocess.Popen([sys.executable, "-m", "kiosk.cli", "controller", "--config", cfg,
                                          "--log-level", "WARNING"], env=env, cwd=ROOT,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                 for name, cfg in (("with devices", busy_cfg), ("idle", idle_cfg))}
        readings = {"oximeter-1": 0, "thermometer-1": 0}
        topics = NodeTopics("spb-dunaisky", "entrance-1")
        watcher = MqttClient("127.0.0.1", broker.port, "bench-watch", role="screening")
        lock = threading.Lock()

        def count(msg):
            with lock:
                device = msg.topic.split("/")[-2]
                readings[device] = readings.get(device, 0) + 1
        watcher.subscribe(topics.device_readings_all, count, qos=0)
        watcher.start()
        time.sleep(8)  # start-up (imports, device handshakes) is not the steady state
        before = {n: cpu_seconds(p.pid) for n, p in procs.items()}
        with lock:
            r0 = dict(readings)
        t0 = time.monotonic()
        time.sleep(args.seconds)
        wall = time.monotonic() - t0
        after = {n: cpu_seconds(p.pid) for n, p in procs.items()}
        with lock:
            r1 = dict(readings)
        for p in procs.values():
            p.send_signal(signal.SIGTERM)
        for p in procs.values():
            p.wait(timeout=20)
        watcher.stop()
    oximeter.stop(); thermometer.stop()
    print(f"controller CPU over {wall:.0f} s (share of one core), measured side by side")
    for name in procs:
        share = (after[name] - before[name]) / wall * 100
        print(f"  {name:13s}: {share:5.2f} %")
    busy = (after["with devices"] - before["with devices"]) / wall * 100
    idle = (after["idle"] - before["idle"]) / wall * 100
    print(f"  devices' own cost: {busy - idle:5.2f} %   (goal: controller with devices < 2 %)")
    print(f"  readings published: oximeter {r1['oximeter-1'] - r0['oximeter-1']}, "
          f"thermometer {r1['thermometer-1'] - r0['thermometer-1']} (screens get <= 4/s per device)")
    if r1["oximeter-1"] == r0["oximeter-1"] or r1["thermometer-1"] == r0["thermometer-1"]:
        print("  WARNING: a device produced no readings; the figure is not meaningful")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
