"""Outbox relay throughput and backlog drain, each side by side with raw paho QoS 1 publishing.

  raw:    paho publishes the same envelopes at QoS 1, pipelined (up to the same in-flight window),
          timed until the last PUBACK.
  outbox: the same number of events already durable in the SQLite outbox (held while the core was
          offline), relayed by the controller's relay thread once the core says online, timed until
          the last row is deleted on its PUBACK.
Rounds alternate raw/outbox so drift on this shared machine hits both alike.
Usage: bench_outbox.py [--count N] [--drain N] [--rounds R]
"""
from __future__ import annotations

import argparse
import json
import threading
import time
from datetime import datetime, timezone

import _common  # noqa: F401  (sets sys.path)
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from _common import NoDevices, median, node_config, wait_until, workdir
from kiosk.node.controller import Controller
from mqtt.broker import Broker
from mqtt.client import MqttClient, set_nodelay
from mqtt.topics import SiteTopics

DATA = {"ticket": "A023", "service": "registration", "priority": False, "channel": "kiosk",
        "booking": None, "kiosk": "kiosk-1", "printed": True}


def raw_publish(broker: Broker, payloads: list[bytes], topic: str, window: int) -> float:
    """Bare paho at QoS 1, pipelined with the relay's window: at most `window` unacknowledged.
    (Handing paho 100,000 messages at once stalls paho's own queue; a window is how one
    publishes a backlog with paho in practice, and it is what the relay does.)"""
    slots = threading.Semaphore(window)
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"raw-{time.monotonic_ns()}", protocol=paho.MQTTv5)
    c.max_inflight_messages_set(window * 2)
    c.on_publish = lambda *a: slots.release()
    c.on_connect = lambda client, *a: set_nodelay(client)
    c.connect("127.0.0.1", broker.port)
    c.loop_start()
    time.sleep(0.2)
    start = time.perf_counter()
    for p in payloads:
        slots.acquire()
        c.publish(topic, p, qos=1)
    for _ in range(window):
        slots.acquire()
    elapsed = time.perf_counter() - start
    c.disconnect(); c.loop_stop()
    return elapsed


def fill_outbox(ctl: Controller, count: int) -> None:
    chunk = 5000
    for start in range(0, count, chunk):
        with ctl.store.transaction() as tx:
            for _ in range(min(chunk, count - start)):
                ctl.outbox.append(tx, "ticket.issued", DATA)


def relay_drain(broker: Broker, count: int) -> tuple[float, bytes, str]:
    wd = workdir("bench-outbox-")
    cfg = node_config(wd, broker.url)
    site = SiteTopics(cfg.site.id)
    core = MqttClient("127.0.0.1", broker.port, f"core-{time.monotonic_ns()}", role="core")
    core.start(); core.wait_connected(5)
    core.publish(site.core_status, {"online": False, "ts": datetime.now(timezone.utc).isoformat()}, retain=True)
    ctl = Controller(cfg, devices=NoDevices())
    fill_outbox(ctl, count)
    sample = ctl.outbox.pending(0, 1)[0]
    payload = ctl.relay._encode(sample, True)
    topic = ctl.topics.event(sample.type)
    ctl.start()
    ctl.client.wait_connected(5)
    time.sleep(0.3)
    start = time.perf_counter()
    core.publish(site.core_status, {"online": True, "ts": datetime.now(timezone.utc).isoformat()}, retain=True)
    ok = wait_until(lambda: ctl.relay.delivered_count >= count, timeout=600, interval=0.002)
    elapsed = time.perf_counter() - start
    assert ok and ctl.outbox.backlog() == 0, "relay did not drain the outbox"
    ctl.stop(); core.stop()
    return elapsed, payload, topic


def append_rate(broker: Broker, count: int) -> float:
    """Durable appends, one transaction (fsync) each: what one kiosk action costs."""
    cfg = node_config(workdir("bench-append-"), broker.url)
    ctl = Controller(cfg, devices=NoDevices())
    start = time.perf_counter()
    for _ in range(count):
        ctl.outbox.emit("ticket.issued", DATA)
    elapsed = time.perf_counter() - start
    ctl.store.close()
    return count / elapsed


def compare(broker: Broker, count: int, rounds: int, label: str) -> None:
    relay_times, raw_times = [], []
    for _ in range(rounds):
        elapsed, payload, topic = relay_drain(broker, count)
        relay_times.append(elapsed)
        raw_times.append(raw_publish(broker, [payload] * count, topic, window=500))
    relay_t, raw_t = median(relay_times), median(raw_times)
    print(f"{label}: {count} events, median of {rounds} round(s)")
    print(f"  outbox relay : {relay_t:8.2f} s  {count / relay_t:9.0f} events/s")
    print(f"  raw paho QoS1: {raw_t:8.2f} s  {count / raw_t:9.0f} msgs/s")
    print(f"  ratio relay/raw throughput = {raw_t / relay_t:.2f}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--drain", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with Broker(workdir=str(workdir("bench-broker-")), persistence=False) as broker:
        compare(broker, args.count, args.rounds, "Outbox throughput (goal ratio >= 0.5)")
        compare(broker, args.drain, 1, "Backlog drain after the core was away")
        rate = append_rate(broker, 300)
        print(f"Durable append (own transaction, synchronous=FULL): {rate:.0f} events/s "
              f"(one kiosk action; not part of the ratio above)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
