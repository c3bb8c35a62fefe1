"""`ping` latency with an empty outbox vs a 200,000-event backlog, side by side in one run.

Two controller processes on one private broker, each its own node id: one with an empty outbox,
one whose outbox was filled with a backlog before it started (no core status is retained, so the
relay holds the backlog). One MqttClient pings them alternately, request by request, so load on
this shared machine hits both. `ping` answers the backlog size: it must read a counter, not count
rows. Goal: p99 with the backlog within 1.5x of p99 without (flat, O(1)).
Usage: bench_ping_backlog.py [--backlog N] [--pings N]
"""
from __future__ import annotations

import argparse
import time

import _common  # noqa: F401  (sets sys.path)
from _common import percentile, workdir
from bench_controller_cpu import controller_config, spawn_controller, stop_all

from foundation.config import load_config
from foundation.store import Store
from mqtt.broker import Broker
from mqtt.client import MqttClient, RequestTimeout
from mqtt.models import TicketIssued
from mqtt.outbox import Outbox
from mqtt.topics import NodeTopics

SITE = "spb-dunaisky"
EVENT = TicketIssued(ticket="A023", service="registration", priority=False, channel="kiosk", booking=None,
                     kiosk="kiosk-1", printed=True)


def fill(config_path: str, count: int) -> None:
    config = load_config(config_path)
    store = Store(config.node.store)
    outbox = Outbox(store, site=config.site.id, node=config.node.id, tz=config.site.tz)
    for start in range(0, count, 10_000):
        with store.transaction() as tx:
            for _ in range(min(10_000, count - start)):
                outbox.append(tx, "ticket.issued", EVENT)
    store.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backlog", type=int, default=200_000)
    parser.add_argument("--pings", type=int, default=500)
    args = parser.parse_args()
    with Broker(workdir=str(workdir("bench-ping-broker-")), persistence=False) as broker:
        empty_cfg = controller_config(broker, {}, "entrance-empty")
        full_cfg = controller_config(broker, {}, "entrance-backlog")
        t0 = time.perf_counter()
        fill(full_cfg, args.backlog)
        print(f"filled the outbox with {args.backlog} events in {time.perf_counter() - t0:.1f} s")
        procs = {"empty": spawn_controller(empty_cfg), "backlog": spawn_controller(full_cfg)}
        topics = {"empty": NodeTopics(SITE, "entrance-empty"), "backlog": NodeTopics(SITE, "entrance-backlog")}
        # asks as a kiosk: the node answers only the roles that send it commands
        tech = MqttClient("127.0.0.1", broker.port, "kiosk-bench", role="kiosk",
                          reply_topic=topics["empty"].reply("kiosk", "kiosk-bench"))
        tech.start()
        times: dict[str, list[float]] = {"empty": [], "backlog": []}
        seen: dict[str, int] = {}
        try:
            assert tech.wait_connected(10)

            def ping(name: str) -> float:
                t = time.perf_counter()
                answer = tech.request(topics[name].command("ping"), {}, 10)
                assert answer.status == "ok", answer
                seen[name] = answer.data["backlog"]
                return time.perf_counter() - t

            deadline = time.monotonic() + 60
            for name in times:  # both up and answering
                while True:
                    try:
                        ping(name)
                        break
                    except RequestTimeout:
                        if time.monotonic() > deadline:
                            raise
            for _ in range(50):  # warm-up
                ping("empty"), ping("backlog")
            for _ in range(args.pings):
                for name, taken in times.items():
                    taken.append(ping(name))
        finally:
            tech.stop()
            stop_all(procs)

    def ms(name, p):
        return percentile(times[name], p) * 1000

    print(f"ping round trip, {args.pings} each, alternated (backlog answered: {seen})")
    for name in times:
        print(f"  {name:8s} outbox: p50 {ms(name, 50):6.2f} ms   p99 {ms(name, 99):6.2f} ms")
    ratio = ms("backlog", 99) / ms("empty", 99)
    print(f"  ratio p99 {args.backlog} backlog / empty: {ratio:.2f}x   (p50 {ms('backlog', 50) / ms('empty', 50):.2f}x)"
          f"   goal <= 1.5x: {'met' if ratio <= 1.5 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
