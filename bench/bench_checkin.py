"""Kiosk check-in latency, from the scan (the `checkin` node command leaving the kiosk UI) to the
LAST byte of the receipt (its cut) arriving at the printer simulator, vs a bare MQTT 5
request/response round trip to a trivial echo responder, in the same run on the same broker.

Everything real but the hardware: a private Mosquitto, the stand-in core (DevCore), the controller
with the kiosk flow, an ESC/POS printer simulator on a pty reached through serial://, and an
MqttClient as the kiosk UI (also the echo's requester). Echo and check-in alternate request by
request, so load on this shared machine hits both. Then the offline path: the core is stopped and
the same number of check-ins is answered from the cached schedule.

A check-in is more than a round trip: the UI's command, the core's booking.lookup and checkin
requests (three round trips), two SQLite transactions, rendering, and the driver's status queries
to the printer before the job. Goal: p99 <= 3x the bare round trip's p99.
Usage: bench_checkin.py [--count N]
"""
from __future__ import annotations

import argparse
import json
import threading
import time
from datetime import datetime, timedelta

import _common  # noqa: F401  (sets sys.path)
from _common import node_config, percentile, workdir
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from devices.printer.sim import EscposPrinterSim
from kiosk.app import build_controller
from mqtt.broker import Broker
from mqtt.client import MqttClient
from booking_core.service import DevCore

ECHO = "bench/echo"
KIOSK = "kiosk-1"


class TimedPrinterSim(EscposPrinterSim):
    """Notes the moment each document is complete (its cut has arrived)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.cut_at: list[float] = []
        self.cut = threading.Condition()

    def on_bytes(self, data: bytes) -> None:
        super().on_bytes(data)
        done = len(self.documents)
        if done > len(self.cut_at):
            now = time.perf_counter()
            with self.cut:
                self.cut_at.extend([now] * (done - len(self.cut_at)))
                self.cut.notify_all()

    def wait_cut(self, index: int, timeout: float = 30.0) -> float:
        with self.cut:
            if not self.cut.wait_for(lambda: len(self.cut_at) > index, timeout):
                raise TimeoutError(f"receipt {index} was not printed")
            return self.cut_at[index]


def start_echo(port: int) -> MqttClient:
    """A trivial responder: answers every request at once, from the network thread."""
    echo = MqttClient("127.0.0.1", port, "bench-echo", role="echo")

    def answer(msg) -> None:
        props = Properties(PacketTypes.PUBLISH)
        props.CorrelationData = msg.properties.CorrelationData
        body = json.loads(msg.payload)
        echo.paho.publish(msg.properties.ResponseTopic,
                          json.dumps({"status": "ok", "data": {}, "transaction": body.get("transaction")}),
                          qos=1, properties=props)

    echo.subscribe(ECHO, answer)
    echo.start()
    assert echo.wait_connected(10)
    return echo


def wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.01)


def run(count: int) -> None:
    wd = workdir("bench-checkin-")
    broker = Broker(workdir=str(wd / "broker"))
    (wd / "broker").mkdir()
    broker.start()
    sim = TimedPrinterSim(link_path=str(wd / "printer-1"))
    sim.start()
    config = node_config(wd, broker.url, devices={"printer-1": {
        "kind": "printer", "protocol": "escpos", "url": f"serial://{sim.link_path}", "role": KIOSK,
        "options": {"scripts": ["latin", "cyrillic", "cjk"]}}})
    core = DevCore(config, wd / "core.db", demo=True, call_interval_s=None, seed=3)
    core.start()
    assert core.wait_ready(20)
    controller = build_controller(config)
    controller.start()
    ui = MqttClient("127.0.0.1", broker.port, "bench-kiosk-ui", role="kiosk",
                    reply_topic=controller.topics.reply("kiosk", "bench-kiosk-ui"))
    ui.start()
    echo = start_echo(broker.port)
    try:
        assert ui.wait_connected(10)
        wait(lambda: controller.relay.core_online, 20, "core online")
        wait(lambda: any(s.device == "printer-1" and s.state.value == "ready" for s in controller.devices.statuses()),
             20, "printer ready")
        # 2 x count bookings starting in a few minutes, off the 15-minute grid (no clash with the demo day)
        base = datetime.now(controller.tz) + timedelta(minutes=5)
        doctors = ["d-therapist-1", "d-therapist-2", "d-therapist-3", "d-cardiologist-1", "d-neurologist-1"]
        codes = [core.add_appointment(doctor_id=doctors[i % len(doctors)], start=base + timedelta(seconds=i + 1),
                                      phone=f"+7921{i:07d}").booking for i in range(2 * count)]
        today = datetime.now(controller.tz).date()
        wait(lambda: controller.schedule.find_code(today, codes[-1]), 60, "bookings cached")

        command = controller.topics.command("checkin")
        printed = 0

        def checkin(code: str) -> float:
            nonlocal printed
            t0 = time.perf_counter()
            answer = ui.request(command, {"kiosk": KIOSK, "by": "code", "code": code, "lang": "ru"}, 30)
            assert answer.status == "ok" and answer.data["printed"], answer
            cut = sim.wait_cut(printed)
            printed += 1
            return cut - t0

        def echo_rtt() -> float:
            t0 = time.perf_counter()
            answer = ui.request(ECHO, {"ping": 1}, 10)
            assert answer.status == "ok"
            return time.perf_counter() - t0

        for _ in range(20):  # warm-up: connections, caches, the printer's first jobs
            echo_rtt()
        online, offline, bare = [], [], []
        for code in codes[:count]:
            bare.append(echo_rtt())
            online.append(checkin(code))
        core.stop()
        wait(lambda: not controller.relay.core_online, 20, "core offline")
        for code in codes[count:]:
            bare.append(echo_rtt())
            offline.append(checkin(code))
    finally:
        ui.stop()
        echo.stop()
        controller.stop()
        sim.stop()
        broker.cleanup()

    def ms(values, p):
        return percentile(values, p) * 1000

    print(f"check-in: scan -> last receipt byte at the printer simulator, {count} check-ins per path")
    print(f"  bare MQTT 5 request/response (echo)  p50 {ms(bare, 50):7.2f} ms   p99 {ms(bare, 99):7.2f} ms")
    print(f"  check-in, core online                p50 {ms(online, 50):7.2f} ms   p99 {ms(online, 99):7.2f} ms")
    print(f"  check-in, core away (cached)         p50 {ms(offline, 50):7.2f} ms   p99 {ms(offline, 99):7.2f} ms")
    for name, values in (("online", online), ("offline", offline)):
        ratio = percentile(values, 99) / percentile(bare, 99)
        verdict = "met" if ratio <= 3 else "MISSED"
        print(f"  ratio p99 {name:7s} / bare p99: {ratio:5.2f}x   (p50 ratio {percentile(values, 50) / percentile(bare, 50):5.2f}x)"
              f"   goal <= 3x: {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="check-ins per path (online, offline)")
    run(parser.parse_args().count)


if __name__ == "__main__":
    main()
