"""Kiosk check-in latency, from the scan (the `checkin` node command leaving the kiosk UI) to the
LAST byte of the receipt (its cut) arriving at a printer simulator paced at its serial line rate,
vs a bare MQTT 5 request/response round trip, in the same run on the same broker.

Everything real but the hardware: a private Mosquitto, the stand-in core (DevCore), the controller
with the kiosk flow, an ESC/POS printer simulator on a pty reached through serial:// and paced at
`--baud` (10 bits a byte), and an MqttClient as the kiosk UI. The baseline is two processes of
its own: a trivial echo responder and a requester that makes one round trip each time this
script asks, between check-ins, so load on this shared machine hits both alike. Then the offline
path: the core is stopped and the same number of check-ins is answered from the cached schedule.

A check-in is more than a round trip: the UI's command, the core's booking.lookup and checkin
requests, SQLite transactions, rendering, the driver's status queries and the receipt's bytes on
the line. Goal (issue 12): p99 <= 2x the bare round trip's p99 plus the receipt's line time.
Usage: bench_checkin.py [--count N] [--baud B]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta

import _common  # noqa: F401  (sets sys.path)
from _common import ROOT, percentile, workdir

from devices.printer.sim import EscposPrinterSim
from foundation.children import die_with_parent
from mqtt.client import MqttClient

ECHO = "bench/echo"
KIOSK = "kiosk-1"


class TimedPrinterSim(EscposPrinterSim):
    """Notes the moment each document is complete (its cut has arrived) and the bytes it took on
    the line (the driver's status queries included: they cross the same wire)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.cut_at: list[float] = []
        self.doc_bytes: list[int] = []
        self._bytes = 0
        self.cut = threading.Condition()

    def on_bytes(self, data: bytes) -> None:
        super().on_bytes(data)  # paced: returns once the chunk's last byte could have arrived
        self._bytes += len(data)
        done = len(self.documents)
        if done > len(self.cut_at):
            now = time.perf_counter()
            with self.cut:
                self.cut_at.extend([now] * (done - len(self.cut_at)))
                self.doc_bytes.append(self._bytes)
                self._bytes = 0
                self.cut.notify_all()

    def wait_cut(self, index: int, timeout: float = 30.0) -> tuple[float, int]:
        with self.cut:
            if not self.cut.wait_for(lambda: len(self.cut_at) > index, timeout):
                raise TimeoutError(f"receipt {index} was not printed")
            return self.cut_at[index], self.doc_bytes[index]


# -- the baseline's two processes ----------------------------------------------------------------
def child_echo(port: int) -> None:
    """A trivial responder: answers every request at once, from the network thread."""
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties
    echo = MqttClient("127.0.0.1", port, f"bench-echo-{os.getpid()}", role="echo")

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
    print("READY", flush=True)
    sys.stdin.read()  # until the parent closes our stdin
    echo.stop()


def child_ask(port: int) -> None:
    """One round trip to the echo per line on stdin; prints its time."""
    client_id = f"bench-asker-{os.getpid()}"
    asker = MqttClient("127.0.0.1", port, client_id, role="kiosk", reply_topic=f"bench/reply/{client_id}")
    asker.start()
    assert asker.wait_connected(10)
    print("READY", flush=True)
    for _ in sys.stdin:
        t0 = time.perf_counter()
        answer = asker.request(ECHO, {"ping": 1}, 10)
        elapsed = time.perf_counter() - t0
        assert answer.status == "ok"
        print(f"RTT {elapsed}", flush=True)
    asker.stop()


def spawn(*args: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, __file__, "--child", *args], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            preexec_fn=die_with_parent)  # noqa: PLW1509 (only sets PDEATHSIG)
    if proc.stdout.readline().strip() != "READY":
        raise RuntimeError(f"baseline child {args[0]} did not start")
    return proc


def bare_rtt(asker: subprocess.Popen) -> float:
    asker.stdin.write("go\n")
    asker.stdin.flush()
    line = asker.stdout.readline()
    if not line.startswith("RTT "):
        raise RuntimeError("the baseline requester died")
    return float(line.split()[1])


def wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.01)


def run(count: int, baud: int) -> None:
    from _common import node_config

    from booking_core.service import DevCore
    from kiosk.app import build_controller
    from mqtt.broker import Broker
    wd = workdir("bench-checkin-")
    broker = Broker(workdir=str(wd / "broker"))
    (wd / "broker").mkdir()
    broker.start()
    sim = TimedPrinterSim(link_path=str(wd / "printer-1"), baud=baud)
    sim.start()
    config = node_config(wd, broker.url, devices={"printer-1": {
        "kind": "printer", "protocol": "escpos", "url": f"serial://{sim.link_path}?baud={baud}", "role": KIOSK,
        "options": {"scripts": ["latin", "cyrillic", "cjk"]}}})
    core = DevCore(config, wd / "core.db", demo=True, call_interval_s=None, seed=3)
    core.start()
    assert core.wait_ready(20)
    controller = build_controller(config)
    controller.start()
    ui = MqttClient("127.0.0.1", broker.port, "bench-kiosk-ui", role="kiosk",
                    reply_topic=controller.topics.reply("kiosk", "bench-kiosk-ui"))
    ui.start()
    echo = spawn("echo", str(broker.port))
    asker = spawn("ask", str(broker.port))
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

        def checkin(code: str) -> tuple[float, float]:
            """(scan to last receipt byte, the receipt's line time)"""
            nonlocal printed
            t0 = time.perf_counter()
            answer = ui.request(command, {"kiosk": KIOSK, "by": "code", "code": code, "lang": "ru"}, 30)
            assert answer.status == "ok" and answer.data["printed"], answer
            cut, nbytes = sim.wait_cut(printed)
            printed += 1
            return cut - t0, nbytes * 10 / baud

        for _ in range(20):  # warm-up: connections, caches
            bare_rtt(asker)
        online, offline, bare = [], [], []
        for code in codes[:count]:
            bare.append(bare_rtt(asker))
            online.append(checkin(code))
        core.stop()
        wait(lambda: not controller.relay.core_online, 20, "core offline")
        for code in codes[count:]:
            bare.append(bare_rtt(asker))
            offline.append(checkin(code))
    finally:
        for child in (asker, echo):
            child.stdin.close()
            child.wait(10)
        ui.stop()
        controller.stop()
        sim.stop()
        broker.cleanup()

    def ms(values, p):
        return percentile(values, p) * 1000

    bare_p99 = percentile(bare, 99)
    print(f"check-in: scan -> last receipt byte at the printer simulator paced at {baud} baud, "
          f"{count} check-ins per path")
    print(f"  bare MQTT 5 request/response (echo, own processes)  p50 {ms(bare, 50):7.2f} ms   p99 {ms(bare, 99):7.2f} ms")
    for name, samples in (("core online", online), ("core away (cached)", offline)):
        total = [t for t, _ in samples]
        line = [lt for _, lt in samples]
        beyond_line = [t - lt for t, lt in samples]
        goal = 2 * bare_p99 + percentile(line, 50)
        ratio = percentile(beyond_line, 99) / bare_p99
        print(f"  check-in, {name:19s} p50 {ms(total, 50):7.2f} ms   p99 {ms(total, 99):7.2f} ms   "
              f"(receipt line time {ms(line, 50):6.1f} ms)")
        print(f"    p99 beyond the line time = {ratio:5.2f}x bare p99   "
              f"[p99 {ms(total, 99):.1f} ms vs goal 2 x {bare_p99 * 1000:.2f} + {ms(line, 50):.1f} = {goal * 1000:.1f} ms]"
              f"   goal <= 2x: {'met' if ratio <= 2 else 'MISSED'}")


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        {"echo": child_echo, "ask": child_ask}[sys.argv[2]](int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100, help="check-ins per path (online, offline)")
    parser.add_argument("--baud", type=int, default=115200, help="the printer's serial line rate")
    args = parser.parse_args()
    run(args.count, args.baud)


if __name__ == "__main__":
    main()
