"""What a bare Mosquitto does to a small request while a 36 MB message (a 100,000-appointment
day) passes through it: the context for bench_schedule_scale's "during" maxima.

    .venv/bin/python bench/bench_broker_large_publish.py [--rounds 5] [--mb 36]

No Vestibule code on the path: a private Mosquitto, `mosquitto_sub` (C) subscribed at QoS 1 to
the large topic, a trivial echo responder in its own process, and this process pinging it every
20 ms (QoS 1, TCP_NODELAY, like our clients). Each round publishes the large message retained
with `mosquitto_pub`, replacing the last one, and prints the ping's p50 and max before and
during the 5 s after it, and when the slowest ping was sent.
"""
from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import threading
import time

import paho.mqtt.client as paho
from _common import percentile, workdir

from mqtt.broker import Broker

GAP_S = 0.02
ECHO = r"""
import socket, sys
import paho.mqtt.client as paho
c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="echo", protocol=paho.MQTTv5)
c.on_connect = lambda c, u, f, r, p: c.subscribe("bench/ping", qos=1)
c.on_message = lambda c, u, m: c.publish("bench/pong", m.payload, qos=1)
c.connect("127.0.0.1", int(sys.argv[1]))
c.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
c.loop_forever()
"""


class Pinger:
    def __init__(self, port: int):
        self.answered: dict[str, float] = {}
        self.changed = threading.Condition()
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="pinger", protocol=paho.MQTTv5)
        self.client.on_connect = lambda c, u, f, r, p: c.subscribe("bench/pong", qos=1)
        self.client.on_message = self._answer
        self.client.connect("127.0.0.1", port)
        self.client.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.client.loop_start()
        self.n = 0

    def _answer(self, client, userdata, msg) -> None:
        with self.changed:
            self.answered[msg.payload.decode()] = time.perf_counter()
            self.changed.notify_all()

    def ping(self) -> float:
        self.n += 1
        key = str(self.n)
        sent = time.perf_counter()
        self.client.publish("bench/ping", key, qos=1)
        with self.changed:
            assert self.changed.wait_for(lambda: key in self.answered, 30), "no answer"
        return self.answered.pop(key) - sent


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--mb", type=float, default=36.0, help="size of the large message")
    args = parser.parse_args()
    work = workdir("bench-broker-")
    (work / "broker").mkdir()
    broker = Broker(workdir=str(work / "broker"))
    broker.start()
    large = work / "large.json"
    large.write_bytes(b'{"x":"' + b"a" * int(args.mb * 1e6) + b'"}')
    subscriber = subprocess.Popen(["mosquitto_sub", "-p", str(broker.port), "-V", "mqttv5", "-q", "1",
                                   "-t", "bench/large", "-i", "large-sub"], stdout=subprocess.DEVNULL)
    echo = subprocess.Popen([sys.executable, "-c", ECHO, str(broker.port)])
    try:
        pinger = Pinger(broker.port)
        time.sleep(1.0)
        print(f"a {args.mb:.0f} MB retained publish through a bare Mosquitto; a ping every {GAP_S * 1000:.0f} ms")
        for round_ in range(1, args.rounds + 1):
            before = []
            until = time.perf_counter() + 2.0
            while time.perf_counter() < until:
                before.append(pinger.ping())
                time.sleep(GAP_S)
            published = time.perf_counter()
            subprocess.Popen(["mosquitto_pub", "-p", str(broker.port), "-V", "mqttv5", "-q", "1", "-r",
                              "-t", "bench/large", "-f", str(large)])
            during: list[tuple[float, float]] = []
            while time.perf_counter() < published + 5.0:
                sent = time.perf_counter()
                during.append((sent - published, pinger.ping()))
                time.sleep(GAP_S)
            at, slowest = max(during, key=lambda x: x[1])
            values = [v for _, v in during]
            print(f"  round {round_}: before p50 {percentile(before, 50) * 1e3:5.1f} max {max(before) * 1e3:5.1f} ms"
                  f"   during p50 {percentile(values, 50) * 1e3:5.1f} max {slowest * 1e3:5.1f} ms"
                  f" (sent {at:.2f} s after the publish began)")
    finally:
        subscriber.kill()
        echo.kill()
        broker.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
