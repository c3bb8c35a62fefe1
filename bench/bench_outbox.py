"""Outbox relay throughput and backlog drain, each side by side with raw paho QoS 1 publishing.

  raw:    a process of its own where bare paho publishes the same envelope bytes at QoS 1,
          pipelined with the relay's in-flight window, timed from the first publish to the last
          PUBACK.
  outbox: a controller process whose SQLite outbox already holds the events (they waited while
          the core was offline), timed by its relay thread from the moment the core's status says
          online to the last row marked delivered on its PUBACK.
Both talk to one private broker; rounds alternate outbox/raw so drift on this shared machine hits
both alike. Goals (issue 12): throughput >= 0.8x raw; a 100,000-event backlog drains within 1.2x
of raw's time.
Usage: bench_outbox.py [--count N] [--drain N] [--rounds R]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime

import _common  # noqa: F401  (sets sys.path)
from _common import ROOT, NoDevices, median, node_config, workdir

from foundation.children import die_with_parent
from mqtt.broker import Broker
from mqtt.client import MqttClient
from mqtt.topics import SiteTopics

WINDOW = 500  # the relay's default window
DATA = {"ticket": "A023", "service": "registration", "priority": False, "channel": "kiosk",
        "booking": None, "kiosk": "kiosk-1", "printed": True}


# -- the two children --------------------------------------------------------------------------
def child_raw(port: int, count: int, payload_path: str, topic: str) -> None:
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    from mqtt.client import set_nodelay
    with open(payload_path, "rb") as f:
        payload = f.read()
    slots = threading.Semaphore(WINDOW)
    connected = threading.Event()
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"raw-{os.getpid()}", protocol=paho.MQTTv5)
    c.max_inflight_messages_set(WINDOW * 2)
    c.on_publish = lambda *a: slots.release()
    c.on_connect = lambda client, *a: (set_nodelay(client), connected.set())
    c.connect("127.0.0.1", port)
    c.loop_start()
    connected.wait(10)
    start = time.perf_counter()
    for _ in range(count):
        slots.acquire()
        c.publish(topic, payload, qos=1)
    for _ in range(WINDOW):
        slots.acquire()
    elapsed = time.perf_counter() - start
    c.disconnect()
    c.loop_stop()
    print(f"ELAPSED {elapsed}", flush=True)


def child_relay(broker_url: str, count: int, payload_path: str) -> None:
    from kiosk.node.controller import Controller
    cfg = node_config(workdir("bench-outbox-"), broker_url)
    ctl = Controller(cfg, devices=NoDevices())
    for start in range(0, count, 5000):
        with ctl.store.transaction() as tx:
            for _ in range(min(5000, count - start)):
                ctl.outbox.append(tx, "ticket.issued", DATA)
    sample = ctl.outbox.pending(0, 1)[0]
    with open(payload_path, "wb") as f:
        f.write(ctl.relay._encode(sample, True))
    ctl.start()
    ctl.client.wait_connected(10)
    print(f"READY {ctl.topics.event(sample.type)}", flush=True)
    while not ctl.relay.core_online:
        time.sleep(0.0005)
    start = time.perf_counter()
    while ctl.relay.delivered_count < count:
        time.sleep(0.0005)
    elapsed = time.perf_counter() - start
    assert ctl.outbox.backlog() == 0, "relay did not drain the outbox"
    print(f"ELAPSED {elapsed}", flush=True)
    ctl.stop()


# -- the parent --------------------------------------------------------------------------------
def spawn(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, __file__, "--child", *args], stdout=subprocess.PIPE, text=True,
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            preexec_fn=die_with_parent)  # noqa: PLW1509 (only sets PDEATHSIG)


def read_line(proc: subprocess.Popen, tag: str) -> str:
    for line in proc.stdout:
        if line.startswith(tag + " "):
            return line.split(" ", 1)[1].strip()
    raise RuntimeError(f"child ended without {tag} (exit {proc.wait()})")


def core_status(core: MqttClient, site: SiteTopics, online: bool) -> None:
    core.publish(site.core_status, {"online": online, "ts": datetime.now(UTC).isoformat()},
                 retain=True).wait_for_publish(5)


def relay_round(broker: Broker, core: MqttClient, site: SiteTopics, count: int, payload_path: str) -> tuple[float, str]:
    core_status(core, site, False)
    proc = spawn("relay", broker.url, str(count), payload_path)
    topic = read_line(proc, "READY")
    time.sleep(0.3)
    core_status(core, site, True)
    elapsed = float(read_line(proc, "ELAPSED"))
    proc.wait(30)
    return elapsed, topic


def raw_round(broker: Broker, count: int, payload_path: str, topic: str) -> float:
    proc = spawn("raw", str(broker.port), str(count), payload_path, topic)
    elapsed = float(read_line(proc, "ELAPSED"))
    proc.wait(30)
    return elapsed


def compare(broker: Broker, core: MqttClient, site: SiteTopics, count: int, rounds: int) -> tuple[float, float]:
    relay_times, raw_times = [], []
    payload_path = tempfile.mktemp(prefix="bench-outbox-payload-")
    for _ in range(rounds):
        elapsed, topic = relay_round(broker, core, site, count, payload_path)
        relay_times.append(elapsed)
        raw_times.append(raw_round(broker, count, payload_path, topic))
    os.unlink(payload_path)
    return median(relay_times), median(raw_times)


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        kind, *rest = sys.argv[2:]
        if kind == "raw":
            child_raw(int(rest[0]), int(rest[1]), rest[2], rest[3])
        else:
            child_relay(rest[0], int(rest[1]), rest[2])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--drain", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with Broker(workdir=str(workdir("bench-broker-")), persistence=False) as broker:
        site = SiteTopics(node_config(workdir("bench-outbox-site-"), broker.url).site.id)
        core = MqttClient("127.0.0.1", broker.port, "bench-core-status", role="core")
        core.start()
        core.wait_connected(5)
        try:
            relay_t, raw_t = compare(broker, core, site, args.count, args.rounds)
            ratio = raw_t / relay_t
            print(f"Outbox throughput: {args.count} events, window {WINDOW}, median of {args.rounds} round(s), "
                  f"each side in its own process")
            print(f"  outbox relay : {relay_t:8.2f} s  {args.count / relay_t:9.0f} events/s")
            print(f"  raw paho QoS1: {raw_t:8.2f} s  {args.count / raw_t:9.0f} msgs/s")
            print(f"  ratio relay/raw throughput = {ratio:.2f}x   goal >= 0.8x: {'met' if ratio >= 0.8 else 'MISSED'}")
            relay_t, raw_t = compare(broker, core, site, args.drain, 1)
            ratio = relay_t / raw_t
            print(f"Backlog drain after the core was away: {args.drain} events")
            print(f"  outbox relay : {relay_t:8.2f} s  {args.drain / relay_t:9.0f} events/s")
            print(f"  raw paho QoS1: {raw_t:8.2f} s  {args.drain / raw_t:9.0f} msgs/s")
            print(f"  ratio relay/raw drain time = {ratio:.2f}x   goal <= 1.2x: {'met' if ratio <= 1.2 else 'MISSED'}")
        finally:
            core.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
