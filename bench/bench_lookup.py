"""booking.lookup round trip through the stand-in core vs a bare MQTT 5 request/response echo.

Both use the same requester (mqtt.client.MqttClient.request: ResponseTopic + CorrelationData),
the same broker, and alternate request by request, so load on this shared machine hits both.
The echo is a bare paho client that answers at once from its network thread.
Goal: lookup p99 <= 2x echo p99.   Usage: bench_lookup.py [--count N]
"""
from __future__ import annotations

import argparse
import json
import time

import _common  # noqa: F401
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from _common import node_config, percentile, workdir
from mqtt.broker import Broker
from mqtt.client import MqttClient, set_nodelay
from booking_core.service import DevCore
from mqtt.topics import SiteTopics

ECHO_TOPIC = "bench/echo"


def start_echo(port: int) -> paho.Client:
    echo = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-echo", protocol=paho.MQTTv5)

    def on_message(client, userdata, msg):
        body = json.loads(msg.payload)
        props = Properties(PacketTypes.PUBLISH)
        props.CorrelationData = msg.properties.CorrelationData
        answer = {"status": "ok", "data": {}, "transaction": body.get("transaction")}
        client.publish(msg.properties.ResponseTopic, json.dumps(answer), qos=1, properties=props)

    echo.on_message = on_message
    def on_connect(client, userdata, flags, rc, props):
        set_nodelay(client)  # same socket options as our client: the comparison is fair
        client.subscribe(ECHO_TOPIC, qos=1)
    echo.on_connect = on_connect
    echo.connect("127.0.0.1", port)
    echo.loop_start()
    return echo


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=1000)
    args = parser.parse_args()
    with Broker(workdir=str(workdir("bench-lookup-broker-")), persistence=False) as broker:
        wd = workdir("bench-lookup-")
        config = node_config(wd, broker.url)
        core = DevCore(config, wd / "core.db", demo=False, call_interval_s=None, seed=3, client_id="bench-core")
        core.start()
        core.wait_ready(10)
        codes = [a.booking for a in core.store.day(core.today(), config.site.id)]
        echo = start_echo(broker.port)
        requester = MqttClient("127.0.0.1", broker.port, "bench-req", role="controller",
                               reply_topic=SiteTopics(config.site.id).reply("controller", "bench-req"))
        requester.start()
        requester.wait_connected(5)
        time.sleep(0.5)
        lookup_topic = SiteTopics(config.site.id).core_request("booking.lookup")
        lookups, echoes = [], []
        for i in range(args.count + 50):
            code = codes[i % len(codes)]
            t0 = time.perf_counter()
            answer = requester.request(lookup_topic, {"by": "code", "code": code}, timeout=10)
            t1 = time.perf_counter()
            assert answer.status == "ok", answer
            requester.request(ECHO_TOPIC, {"by": "code", "code": code}, timeout=10)
            t2 = time.perf_counter()
            if i >= 50:  # warm-up excluded
                lookups.append((t1 - t0) * 1000)
                echoes.append((t2 - t1) * 1000)
        requester.stop()
        echo.disconnect()
        echo.loop_stop()
        core.stop()
    print(f"booking.lookup round trip, {args.count} requests each, alternating")
    for name, values in (("stand-in lookup", lookups), ("bare MQTT 5 echo", echoes)):
        print(f"  {name:17s} p50 {percentile(values, 50):6.2f} ms   p99 {percentile(values, 99):6.2f} ms")
    print(f"  ratio p50 = {percentile(lookups, 50) / percentile(echoes, 50):.2f}   "
          f"ratio p99 = {percentile(lookups, 99) / percentile(echoes, 99):.2f} (goal <= 2)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
