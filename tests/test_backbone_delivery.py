"""The core never loses an event: controller killed, broker restarted, core away."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from booking_core.service import DevCore
from kiosk.node.controller import Controller
from mqtt.client import MqttClient
from mqtt.models import NodeStatus
from tests.conftest import ROOT, make_config
from tests.support.processes import popen_child
from tests.support.waiting import wait_until

TICKET = {"ticket": "A001", "service": "registration", "priority": False, "channel": "kiosk",
          "booking": None, "kiosk": "kiosk-1", "printed": True}



@pytest.fixture
def core(tmp_path, broker):
    config = make_config(tmp_path, broker.url)
    devcore = DevCore(config, tmp_path / "core.db", demo=False, call_interval_s=None, seed=1, client_id="devcore-test")
    devcore.start()
    yield devcore
    devcore.stop()


def write_config(tmp_path: Path, broker_url: str) -> Path:
    from kiosk.demo import write_runtime_config
    run = tmp_path / "run"
    run.mkdir(exist_ok=True)
    path = write_runtime_config(ROOT / "config" / "example.toml", run, broker_url)
    # no simulated devices: this test is about events only
    text = path.read_text()
    path.write_text(text.split("[devices.")[0])
    return path


def test_controller_killed_at_random_moments_loses_no_event(tmp_path, broker, core):
    config_path = write_config(tmp_path, broker.url)
    committed: list[str] = []
    rng = random.Random(42)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for round_no in range(4):
        committed_before = len(committed)
        proc = popen_child([sys.executable, "-m", "tests.support.producer", str(config_path), "400"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT, env=env)
        kill_after = rng.uniform(0.3, 1.2) if round_no < 3 else None
        reader_done = threading.Event()

        def read(p=proc, reader_done=reader_done):
            for line in p.stdout:
                line = line.strip()
                if line == "BURST-DONE":
                    break
                committed.append(line)
            reader_done.set()
        threading.Thread(target=read, daemon=True).start()
        if kill_after is not None:
            # from its first commit on: start-up on a loaded machine can take longer than the delay
            wait_until(lambda n=committed_before: len(committed) > n, 30)
            time.sleep(kill_after)
            proc.send_signal(signal.SIGKILL)  # no clean shutdown, no flush, no goodbye
            proc.wait()
            reader_done.wait(5)
        else:
            assert reader_done.wait(60), "last burst did not finish"
            ok = wait_until(lambda: set(committed) <= set(core.inbox_ids()), 60)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            missing = set(committed) - set(core.inbox_ids())
            assert ok and not missing, f"{len(missing)} of {len(committed)} committed events lost"
    assert len(committed) > 400


def test_power_cut_killing_broker_and_controller_together_loses_no_event(tmp_path, broker):
    """The node loses power: Mosquitto dies without saving, the controller dies mid-burst. What the
    broker had acknowledged but not yet handed to the core is gone; the outbox still has it."""
    config_path = write_config(tmp_path, broker.url)
    from foundation.config import load_config
    config = load_config(config_path)
    core_a = DevCore(config, tmp_path / "core.db", demo=False, call_interval_s=None, seed=1, client_id="core-pc")
    core_a.start()
    committed: list[str] = []
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    burst_done = threading.Event()

    def producer():
        proc = popen_child([sys.executable, "-m", "tests.support.producer", str(config_path), "600"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT, env=env)

        def read():
            for line in proc.stdout:
                if line.strip() == "BURST-DONE":
                    burst_done.set()
                else:
                    committed.append(line.strip())
        threading.Thread(target=read, daemon=True).start()
        return proc
    first = producer()
    assert wait_until(lambda: len(committed) > 100, 30)
    # The core drops off without a goodbye (its retained status still says online): the broker
    # acknowledges the next events and queues them for the core's session, in memory only.
    core_a.client.paho.disconnect()
    core_a.client.paho.loop_stop()
    time.sleep(1.0)
    broker.kill()  # power cut: no persistence save...
    first.send_signal(signal.SIGKILL)  # ...and the controller dies with it
    first.wait()
    broker.start()
    core_b = DevCore(config, tmp_path / "core.db", demo=False, call_interval_s=None, seed=1, client_id="core-pc")
    core_b.start()
    second = producer()
    try:
        assert burst_done.wait(60), "the second burst did not finish"
        expected = set(committed)  # everything either process committed
        ok = wait_until(lambda: expected <= set(core_b.inbox_ids()), 60)
        missing = expected - set(core_b.inbox_ids())
        assert ok and not missing, f"{len(missing)} of {len(committed)} committed events lost"
    finally:
        second.send_signal(signal.SIGKILL)
        second.wait()
        core_b.stop()


def test_broker_restart_during_burst_loses_no_event(tmp_path, broker, core):
    config = make_config(tmp_path, broker.url)
    controller = Controller(config)
    controller.start()
    ids: list[str] = []

    def burst():
        for _ in range(600):
            ids.append(controller.outbox.emit("ticket.issued", TICKET))
            time.sleep(0.003)
    producer = threading.Thread(target=burst)
    producer.start()
    time.sleep(0.6)
    broker.stop()  # graceful: Mosquitto saves its persistence
    time.sleep(1.0)
    broker.start()
    producer.join()
    try:
        assert wait_until(lambda: set(ids) <= set(core.inbox_ids()), 60), \
            f"{len(set(ids) - set(core.inbox_ids()))} events lost"
    finally:
        controller.stop()


def test_events_held_while_core_away_arrive_historical_in_seq_order(tmp_path, broker):
    config = make_config(tmp_path, broker.url)
    core_db = tmp_path / "core.db"
    first = DevCore(config, core_db, demo=False, call_interval_s=None, seed=1, client_id="devcore-a")
    first.start()
    controller = Controller(config)
    controller.start()
    assert wait_until(lambda: controller.relay.live_since_ns is not None, 15), "relay never went live"
    live_id = controller.outbox.emit("ticket.issued", TICKET)
    assert wait_until(lambda: live_id in first.inbox_ids(), 15)
    first.stop()  # the core goes away and says so (retained online: false)
    assert wait_until(lambda: not controller.relay.core_online, 10)
    held = [controller.outbox.emit("ticket.issued", TICKET) for _ in range(25)]
    time.sleep(1.0)
    assert controller.outbox.backlog() == 25, "events must wait while the core is away"
    second = DevCore(config, core_db, demo=False, call_interval_s=None, seed=1, client_id="devcore-b")
    second.start()
    try:
        assert wait_until(lambda: set(held) <= set(second.inbox_ids()), 30)
        arrived = [e for e in second.inbox() if e.id in held]
        assert all(e.historical for e in arrived)
        seqs = [e.seq for e in arrived]
        assert seqs == sorted(seqs) and len(set(seqs)) == 25
        live = [e for e in second.inbox() if e.id == live_id]  # same inbox database
        assert live and live[0].historical is False
    finally:
        controller.stop()
        second.stop()


def test_session_increments_per_connection_and_will_carries_it(tmp_path, broker):
    config = make_config(tmp_path, broker.url)
    statuses: list[NodeStatus] = []
    watcher = MqttClient("127.0.0.1", broker.port, "watcher", role="core")
    controller = Controller(config)
    watcher.subscribe(controller.topics.status, lambda m: statuses.append(NodeStatus.model_validate_json(m.payload)))
    watcher.start()
    assert watcher.wait_connected(5)
    controller.start()
    assert wait_until(lambda: any(s.online for s in statuses), 10)
    first = [s for s in statuses if s.online][-1].session
    broker.stop()
    broker.start()  # the controller reconnects: a new session
    assert wait_until(lambda: any(s.online and s.session == first + 1 for s in statuses), 30)
    # a connection that dies without a goodbye: the broker publishes the will, same session
    controller.client.paho.socket().close()
    assert wait_until(lambda: any((not s.online) and s.session == first + 1 for s in statuses), 40)
    controller.stop()
    watcher.stop()
    restarted = Controller(config)
    assert restarted.session > first + 1, "the session counter persists across restarts"
    restarted.store.close()
