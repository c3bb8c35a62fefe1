"""The core gets every event whatever order the broker, the core and the controller restart in.

All three are real processes: Mosquitto, the stand-in core (`vestibule devcore`) and a controller
that emits events steadily and prints each id once committed (tests/support/producer.py). The
broker always comes back WITHOUT its persistence (killed -9, its file removed): no retained core
status, no queued events, no session for the core. Just before the crash the core is frozen
(SIGSTOP), so the broker acknowledges events it then loses: only the node's redelivery can bring
them to the core. The stand-in core deduplicates by event id.
"""
from __future__ import annotations

import itertools
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mqtt.client import MqttClient, RequestTimeout
from mqtt.topics import NodeTopics
from tests.conftest import ROOT
from tests.support.processes import popen_child
from tests.support.waiting import wait_until

ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
PAUSE_S = 1.5  # each step leaves the others running this long: events pile up or flow


def write_config(tmp_path: Path, broker_url: str) -> Path:
    from kiosk.demo import write_runtime_config
    run = tmp_path / "run"
    run.mkdir(exist_ok=True)
    path = write_runtime_config(ROOT / "config" / "example.toml", run, broker_url)
    path.write_text(path.read_text().split("[devices.")[0])  # events only: no simulated devices
    return path


class Controller:
    """The producer process; `committed` collects every id it printed, across restarts."""

    def __init__(self, config: Path):
        self.config = config
        self.committed: list[str] = []
        self.proc: subprocess.Popen | None = None
        self.log = config.parent / "controller.log"

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.proc = popen_child([sys.executable, "-m", "tests.support.producer", str(self.config), "1000000",
                                     "0.01"], stdout=subprocess.PIPE, stderr=log, text=True, cwd=ROOT, env=ENV)
        threading.Thread(target=self._read, args=(self.proc,), daemon=True).start()

    def _read(self, proc) -> None:
        for line in proc.stdout:
            self.committed.append(line.strip())

    def kill(self) -> None:
        if self.proc:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
            self.proc = None


class Core:
    """`vestibule devcore` as its own process; its inbox is read from its SQLite file."""

    def __init__(self, config: Path, db: Path):
        self.config, self.db = config, db
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.db.with_suffix(".log"), "ab") as log:
            self.proc = popen_child([sys.executable, "-m", "kiosk.cli", "devcore", "--config", str(self.config),
                                     "--db", str(self.db), "--log-level", "INFO"],
                                    stdout=subprocess.DEVNULL, stderr=log, cwd=ROOT, env=ENV)

    def freeze(self) -> None:
        if self.proc:
            self.proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        if self.proc:
            self.proc.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        if self.proc:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
            self.proc = None

    def inbox_ids(self) -> set[str]:
        if not self.db.exists():
            return set()
        try:
            with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=5) as conn:
                return {row[0] for row in conn.execute("SELECT id FROM inbox")}
        except sqlite3.OperationalError:  # the core has not created its tables yet
            return set()


def crash_broker(broker) -> None:
    broker.kill()
    for leftover in broker.workdir.glob("mosquitto.db*"):
        leftover.unlink()  # no snapshot: the broker comes back knowing nothing


@pytest.fixture
def node(tmp_path, broker):
    config = write_config(tmp_path, broker.url)
    controller, core = Controller(config), Core(config, tmp_path / "core.db")
    yield controller, core
    controller.kill()
    if core.proc:
        core.proc.send_signal(signal.SIGCONT)
    core.kill()


def flowing(controller: Controller, core: Core, more: int = 30) -> bool:
    """True once `more` new ids were committed and all committed so far reached the core."""
    target = len(controller.committed) + more
    return wait_until(lambda: len(controller.committed) >= target and set(controller.committed) <= core.inbox_ids(),
                      60)


def assert_every_event_arrived(controller: Controller, core: Core) -> None:
    flowing(controller, core)
    expected = set(controller.committed)  # it keeps committing: judge a snapshot
    wait_until(lambda: expected <= core.inbox_ids(), 30)
    missing = expected - core.inbox_ids()
    assert not missing, f"{len(missing)} of {len(controller.committed)} committed events never reached the core"


@pytest.mark.parametrize("order", list(itertools.permutations(["broker", "core", "controller"])),
                         ids=lambda order: "-".join(order))
def test_crash_of_all_three_then_back_in_any_order_loses_no_event(broker, node, order):
    controller, core = node
    core.start()
    controller.start()
    assert flowing(controller, core), "events never flowed before the crash"
    core.freeze()  # the broker now acknowledges events and queues them for the core in memory only
    time.sleep(PAUSE_S)
    crash_broker(broker)
    core.kill()
    controller.kill()
    for name in order:
        {"broker": broker.start, "core": core.start, "controller": controller.start}[name]()
        time.sleep(PAUSE_S)
    assert_every_event_arrived(controller, core)


@pytest.mark.parametrize("order", list(itertools.permutations(["broker", "core", "controller"])),
                         ids=lambda order: "-".join(order))
def test_one_restart_after_another_in_any_order_loses_no_event(broker, node, order):
    """Each is killed and started again while the other two keep running, the next one
    going down before the previous one is back."""
    controller, core = node
    core.start()
    controller.start()
    assert flowing(controller, core), "events never flowed before the restarts"
    kill = {"broker": lambda: crash_broker(broker), "core": core.kill, "controller": controller.kill}
    start = {"broker": broker.start, "core": core.start, "controller": controller.start}
    previous = None
    for name in order:
        if name == "broker":
            core.freeze()  # what the broker acknowledges from here on dies with it
            time.sleep(PAUSE_S)
        kill[name]()
        if name == "broker":
            core.thaw()  # its connection died with the broker: it reconnects to a broker that forgot it
        if previous:
            start[previous]()
        previous = name
        time.sleep(PAUSE_S)
    start[previous]()
    assert_every_event_arrived(controller, core)


def test_broker_and_core_crash_controller_holds_events_then_resends_when_the_core_returns(tmp_path, broker, node):
    """The reported loss: the broker died before its first snapshot together with the core, and only
    the broker came back. The controller, still running, must not publish into a broker with no core
    status, and must send again what the dead broker acknowledged once the core says online."""
    controller, core = node
    core.start()
    controller.start()
    assert flowing(controller, core), "events never flowed"
    core.freeze()
    time.sleep(PAUSE_S)
    lost_by_broker = set(controller.committed) - core.inbox_ids()
    assert lost_by_broker, "the frozen core should have left events only the broker held"
    crash_broker(broker)
    core.kill()
    broker.start()
    topics = NodeTopics("spb-dunaisky", "entrance-1")
    # asks as a kiosk would: the node answers only the roles that send it commands
    tech = MqttClient("127.0.0.1", broker.port, "kiosk-1", role="kiosk", reply_topic=topics.reply("kiosk", "kiosk-1"))
    tech.start()
    try:
        assert tech.wait_connected(10)

        def ping() -> dict:
            try:
                answer = tech.request(topics.command("ping"), {}, 5)
            except RequestTimeout:  # the controller has not reconnected yet
                return {}
            assert answer.status == "ok", answer
            return answer.data
        assert wait_until(lambda: ping().get("backlog", 0) >= 50, 30), "new events must wait in the outbox"
        status = ping()
        assert status["core_online"] is False, "no core status on this connection: the core is not online"
        core.start()
        assert_every_event_arrived(controller, core)
        assert lost_by_broker <= core.inbox_ids()
    finally:
        tech.stop()
