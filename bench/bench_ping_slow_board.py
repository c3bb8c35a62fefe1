"""`ping` while the core's calls reach a call board that has stopped answering, vs without.

A controller process with one Alpha text board (room 1) on a simulated serial line, on a private
broker. In each cycle the board stops answering for 5 s (its simulator swallows every byte) while
the core publishes a call to room 1 every second on `core/cmd/call`; a technician client pings the
node (`node/{node}/cmd/ping`) every 20 ms all along, open loop. Pings sent while the board is silent count as
"during calls"; after the board answers again and the node has caught up, pings for 5 s count as
"without". Cycles repeat so drift on this shared machine hits both. Goal (issue 12): a slow board
delays no other answer by more than 50 ms: p99 during calls <= p99 without + 50 ms.
Usage: bench_ping_slow_board.py [--cycles N]
"""
from __future__ import annotations

import argparse
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import _common  # noqa: F401  (sets sys.path)
from _common import percentile, workdir
from bench_controller_cpu import controller_config, spawn_controller, stop_all

from devices.display.sim import AlphaBoardSim
from mqtt.broker import Broker
from mqtt.client import MqttClient, RequestTimeout
from mqtt.topics import NodeTopics

SITE, NODE = "spb-dunaisky", "entrance-slow"
SILENT_S = 5.0
CALL_EVERY_S = 1.0
QUIET_S = 5.0
PING_EVERY_S = 0.02


class Pinger(threading.Thread):
    """Sends a ping every PING_EVERY_S whatever the earlier ones are doing (open loop: a stalled
    node collects many late answers, as a kiosk waiting on it would), each from a worker thread;
    records (sent at, round trip) for every answer."""

    def __init__(self, client: MqttClient, topic: str):
        super().__init__(daemon=True)
        self.client, self.topic = client, topic
        self.samples: list[tuple[float, float]] = []
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1024, thread_name_prefix="ping")

    def ping(self, timeout: float = 60) -> float:
        t0 = time.monotonic()
        answer = self.client.request(self.topic, {}, timeout)
        assert answer.status == "ok", answer
        return time.monotonic() - t0

    def _one(self) -> None:
        t0 = time.monotonic()
        try:
            rtt = self.ping()
        except RequestTimeout:
            rtt = 60.0
        with self._lock:
            self.samples.append((t0, rtt))

    def answered(self) -> list[tuple[float, float]]:
        with self._lock:
            return sorted(self.samples)

    def run(self) -> None:
        next_at = time.monotonic()
        while not self.stop.is_set():
            self._pool.submit(self._one)
            next_at += PING_EVERY_S
            time.sleep(max(0.0, next_at - time.monotonic()))
        self._pool.shutdown(wait=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=2)
    args = parser.parse_args()
    board = AlphaBoardSim(link_path=str(workdir("bench-slow-board-") / "boards"), addresses="01")
    board.start()
    topics = NodeTopics(SITE, NODE)
    during: list[float] = []
    without: list[float] = []
    calls_sent = 0
    try:
        with Broker(workdir=str(workdir("bench-slow-broker-")), persistence=False) as broker:
            cfg = controller_config(broker, {"board-floor1": {
                "kind": "display", "protocol": "alpha", "url": f"serial://{board.link_path}", "rooms": ["1"],
                "options": {"address": "01"}}}, NODE)
            procs = {"controller": spawn_controller(cfg)}
            # asks as a kiosk: the node answers only the roles that send it commands
            tech = MqttClient("127.0.0.1", broker.port, "kiosk-bench", role="kiosk",
                              reply_topic=topics.reply("kiosk", "kiosk-bench"))
            core = MqttClient("127.0.0.1", broker.port, "bench-core", role="core")
            tech.start()
            core.start()
            pinger = Pinger(tech, topics.command("ping"))
            try:
                assert tech.wait_connected(10) and core.wait_connected(10)
                deadline = time.monotonic() + 60
                while True:  # the controller is up and answering
                    try:
                        pinger.ping(timeout=1)
                        break
                    except RequestTimeout:
                        if time.monotonic() > deadline:
                            raise
                pinger.start()
                for cycle in range(args.cycles):
                    quiet_from = time.monotonic()
                    time.sleep(QUIET_S)
                    quiet_to = time.monotonic()
                    board.answering = False
                    silent_from = time.monotonic()
                    while time.monotonic() - silent_from < SILENT_S:
                        calls_sent += 1
                        core.publish(topics.core_cmd_call, {"call_id": f"c-{cycle}-{calls_sent}",
                                                           "ticket": f"A{calls_sent:03d}", "room": "1"})
                        time.sleep(CALL_EVERY_S)
                    silent_to = time.monotonic()
                    board.answering = True
                    # until the node has caught up: a fast answer again (or a generous bound)
                    settle_deadline = time.monotonic() + 60
                    time.sleep(1.0)
                    while time.monotonic() < settle_deadline:
                        recent = [rtt for t, rtt in pinger.answered()[-5:] if t > silent_to]
                        if len(recent) == 5 and max(recent) < 0.05:
                            break
                        time.sleep(0.1)
                    samples = pinger.answered()
                    without += [rtt for t, rtt in samples if quiet_from <= t < quiet_to]
                    during += [rtt for t, rtt in samples if silent_from <= t < silent_to]
            finally:
                pinger.stop.set()
                if pinger.is_alive():
                    pinger.join(timeout=70)
                tech.stop()
                core.stop()
                stop_all(procs)
    finally:
        board.stop()

    def ms(values, p):
        return percentile(values, p) * 1000

    print(f"ping while calls reach a board silent for {SILENT_S:g} s ({calls_sent} calls, {args.cycles} cycles)")
    print(f"  without calls : {len(without):5d} pings   p50 {ms(without, 50):8.2f} ms   p99 {ms(without, 99):8.2f} ms")
    print(f"  during calls  : {len(during):5d} pings   p50 {ms(during, 50):8.2f} ms   p99 {ms(during, 99):8.2f} ms"
          f"   max {max(during) * 1000:8.1f} ms")
    delay = ms(during, 99) - ms(without, 99)
    print(f"  p99 delay added by the slow board: {delay:.1f} ms = {delay / 50:.2f}x goal   "
          f"(goal <= 50 ms: {'met' if delay <= 50 else 'MISSED'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
