"""The controller with every simulated device of the example config: statuses, readings,
unplug and replug, printer faults, and calls on the LED boards."""
from __future__ import annotations

import json
import threading
import time
import tomllib

import pytest

from kiosk.app import build_controller
from kiosk.node.config import parse_node_config as parse_config
from mqtt.client import MqttClient
from booking_core.service import DevCore
from mqtt.models import BoardState, CallCommand, DeviceStatusMessage
from tests.conftest import ROOT
from tests.support.waiting import wait_until



class Watcher:
    """A screen's view: retained device statuses, readings, board state."""

    def __init__(self, port: int, topics):
        self.statuses: dict[str, DeviceStatusMessage] = {}
        self.readings: dict[str, list[dict]] = {}
        self.board: BoardState | None = None
        self.lock = threading.Lock()
        self.client = MqttClient("127.0.0.1", port, "watcher", role="core")
        self.client.subscribe(topics.base + "/dev/+/status", self._status)
        self.client.subscribe(topics.device_readings_all, self._reading, qos=0)
        self.client.subscribe(topics.board_state, self._board)
        self.client.start()
        assert self.client.wait_connected(5)

    def _status(self, msg):
        status = DeviceStatusMessage.model_validate_json(msg.payload)
        with self.lock:
            self.statuses[status.device] = status

    def _reading(self, msg):
        with self.lock:
            self.readings.setdefault(msg.topic.split("/")[-2], []).append(json.loads(msg.payload))

    def _board(self, msg):
        self.board = BoardState.model_validate_json(msg.payload)

    def state(self, device: str) -> str | None:
        with self.lock:
            status = self.statuses.get(device)
        return status.state if status else None


@pytest.fixture
def entrance(tmp_path, broker):
    data = tomllib.loads((ROOT / "config" / "example.toml").read_text(encoding="utf-8"))
    data["node"]["store"] = str(tmp_path / "node.db")
    data["broker"]["url"] = broker.url
    config = parse_config(data)
    core = DevCore(config, tmp_path / "core.db", demo=False, call_interval_s=None, seed=2, client_id="core-devtest")
    core.start()
    controller = build_controller(config)
    watcher = Watcher(broker.port, controller.topics)
    controller.start()
    assert controller.client.wait_connected(10)  # calls are not retained: subscribe before the core calls
    yield controller, core, watcher
    controller.stop()
    watcher.client.stop()
    core.stop()


def test_every_simulated_device_becomes_ready_and_is_published_retained(entrance):
    controller, core, watcher = entrance
    devices = list(controller.config.devices)
    assert wait_until(lambda: all(watcher.state(d) in ("ready", "degraded") for d in devices), 30), watcher.statuses


def test_readings_reach_the_screens_throttled(entrance):
    controller, core, watcher = entrance
    assert wait_until(lambda: len(watcher.readings.get("oximeter-1", [])) >= 3
                      and len(watcher.readings.get("thermometer-1", [])) >= 2, 30)
    ox = watcher.readings["oximeter-1"][-1]
    assert ox["kind"] == "oximeter" and 90 <= ox["spo2"] <= 100 and ox["probe"] == "ok"
    time.sleep(2)
    before = len(watcher.readings["oximeter-1"])
    time.sleep(2)
    per_second = (len(watcher.readings["oximeter-1"]) - before) / 2
    assert per_second <= 5, "60 packets/s must be thinned for the screens"


def test_scanned_code_is_published_for_the_kiosk(entrance):
    controller, core, watcher = entrance
    assert wait_until(lambda: watcher.state("scanner-1") == "ready", 30)
    controller.devices.simulators["scanner-1"].scan("BK-7Q4M2")
    assert wait_until(lambda: any(r["code"] == "BK-7Q4M2" for r in watcher.readings.get("scanner-1", [])), 10)


def test_unplugged_oximeter_goes_offline_reports_a_problem_and_recovers_after_replug(entrance):
    controller, core, watcher = entrance
    assert wait_until(lambda: watcher.state("oximeter-1") == "ready", 30)
    sim = controller.devices.simulators["oximeter-1"]
    sim.unplug()
    assert wait_until(lambda: watcher.state("oximeter-1") == "offline", 15)
    sim.replug()
    assert wait_until(lambda: watcher.state("oximeter-1") == "ready", 30)

    def problems():
        return [e.data for e in core.inbox() if e.type == "device.problem" and e.data["device"] == "oximeter-1"]
    assert wait_until(lambda: any(p["problem"] == "disconnected" and not p["cleared"] for p in problems())
                      and any(p["problem"] == "disconnected" and p["cleared"] for p in problems()), 15), problems()


def test_printer_out_of_paper_is_a_fault_with_a_problem_event(entrance):
    controller, core, watcher = entrance
    assert wait_until(lambda: watcher.state("printer-1") == "ready", 30)
    controller.devices.simulators["printer-1"].paper_out = True
    assert wait_until(lambda: watcher.state("printer-1") == "fault", 20)
    assert "paper_out" in watcher.statuses["printer-1"].problems
    assert wait_until(lambda: any(e.type == "device.problem" and e.data["problem"] == "paper_out"
                                  for e in core.inbox()), 15)


def test_call_shows_on_the_rooms_boards_updates_board_state_and_reports_displayed(entrance):
    controller, core, watcher = entrance
    assert wait_until(lambda: watcher.state("board-floor2") == "ready" and watcher.state("board-lab") == "ready", 30)
    site = controller.topics
    core.client.publish(site.core_cmd_call, CallCommand(call_id="c-1", ticket="T014", room="12", service="therapist"))
    alpha = controller.devices.simulators["board-floor2"]
    assert wait_until(lambda: "T014" in alpha.shows("02").text, 10)
    assert alpha.shows("02").mode == "flash"
    assert wait_until(lambda: watcher.board is not None and watcher.board.calls[0].ticket == "T014", 10)
    core.client.publish(site.core_cmd_call, CallCommand(call_id="c-2", ticket="L007", room="5", service="lab"))
    numbers = controller.devices.simulators["board-lab"]
    assert wait_until(lambda: numbers.number(1) == 7, 10)

    def displayed():
        return {e.data["call_id"]: e.data for e in core.inbox() if e.type == "call.displayed"}
    assert wait_until(lambda: {"c-1", "c-2"} <= set(displayed()), 15)
    assert displayed()["c-1"]["boards"] == ["board-floor2"] and displayed()["c-1"]["announced"]
    assert displayed()["c-2"]["boards"] == ["board-lab"]
    assert "name" not in json.dumps(watcher.board.model_dump(mode="json"))


def test_same_call_twice_within_seconds_is_not_announced_again_unless_repeat(entrance):
    controller, core, watcher = entrance
    topic = controller.topics.core_cmd_call
    core.client.publish(topic, CallCommand(call_id="c-10", ticket="R001", room="1"))
    core.client.publish(topic, CallCommand(call_id="c-11", ticket="R001", room="1"))
    core.client.publish(topic, CallCommand(call_id="c-12", ticket="R001", room="1", repeat=True))

    def displayed():
        return {e.data["call_id"]: e.data for e in core.inbox() if e.type == "call.displayed"}
    assert wait_until(lambda: {"c-10", "c-11", "c-12"} <= set(displayed()), 15)
    d = displayed()
    assert d["c-10"]["announced"] and not d["c-11"]["announced"] and d["c-12"]["announced"]
    assert [c.ticket for c in watcher.board.calls].count("R001") == 1 if watcher.board else True


def test_malformed_call_is_ignored_and_calls_keep_working(entrance):
    controller, core, watcher = entrance
    topic = controller.topics.core_cmd_call
    core.client.publish(topic, b"{not json")
    core.client.publish(topic, {"call_id": "c-20", "ticket": "lowercase", "room": "12"})
    core.client.publish(topic, CallCommand(call_id="c-21", ticket="T099", room="14"))
    assert wait_until(lambda: any(e.type == "call.displayed" and e.data["call_id"] == "c-21" for e in core.inbox()), 15)
    assert not any(e.type == "call.displayed" and e.data["call_id"] == "c-20" for e in core.inbox())


def test_device_missing_at_start_is_reported_once_not_on_every_retry(tmp_path, broker):
    from devices.manager import DeviceManager
    from tests.conftest import make_config
    config = make_config(tmp_path, broker.url, devices={
        "oximeter-9": {"kind": "oximeter", "protocol": "contec", "url": "serial:///dev/vestibule/no-such-oximeter"}})
    problems = []
    manager = DeviceManager(config, on_problem=lambda *p: problems.append(p))
    manager.start()
    try:
        assert wait_until(lambda: problems, 10)
        time.sleep(3.5)  # several reopen attempts on the backoff
        assert problems == [("oximeter-9", "oximeter", "disconnected", False)]
        assert manager.statuses()[0].state.value == "offline"
        assert manager.healthy()
    finally:
        manager.stop()
