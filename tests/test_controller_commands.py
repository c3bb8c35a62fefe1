"""Node commands on the real controller: malformed input gets an error answer, serving goes on."""
from __future__ import annotations

import json
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.app import build_controller
from mqtt.client import MqttClient

import pytest

COMMANDS = ["ping", "checkin", "ticket", "sameday.slots", "sameday.book", "feedback", "kiosk.info", "no.such.command"]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=10,
)
payloads = st.one_of(
    st.binary(max_size=64),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.dictionaries(st.sampled_from(["kiosk", "by", "code", "phone", "birth_date", "service", "score", "lang",
                                     "transaction", "priority", "doctor_id", "start", "room"]),
                    json_values, max_size=6).map(lambda d: json.dumps(d).encode()),
)


@pytest.fixture
def running(node_config):
    controller = build_controller(node_config)
    controller.start()
    ui = MqttClient("127.0.0.1", node_config.broker.port, "ui-test", role="kiosk",
                    reply_topic=controller.topics.reply("kiosk", "ui-test"))
    ui.start()
    assert ui.wait_connected(5) and controller.client.wait_connected(5)
    yield controller, ui
    ui.stop()
    controller.stop()


def raw_request(ui: MqttClient, topic: str, payload: bytes, timeout: float = 10):
    from concurrent.futures import Future
    import uuid
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties
    correlation = uuid.uuid4().bytes
    future: Future = Future()
    with ui._pending_lock:
        ui._pending[correlation] = future
    props = Properties(PacketTypes.PUBLISH)
    props.ResponseTopic = ui.reply_topic
    props.CorrelationData = correlation
    ui.paho.publish(topic, payload, qos=1, properties=props)
    return future.result(timeout=timeout)


def test_ping_answers_with_node_and_session(running):
    controller, ui = running
    answer = ui.request(controller.topics.command("ping"), {}, timeout=10)
    assert answer.status == "ok" and answer.data["node"] == "entrance-1" and answer.data["session"] >= 1


def test_unknown_command_gets_an_error_answer_naming_it(running):
    controller, ui = running
    answer = ui.request(controller.topics.command("launch.rocket"), {}, timeout=10)
    assert answer.status == "error" and answer.error.code == "unknown_request"
    assert "launch.rocket" in answer.error.message


def test_answer_copies_the_transaction(running):
    controller, ui = running
    answer = ui.request(controller.topics.command("ping"), {"transaction": "tx-42"}, timeout=10)
    assert answer.transaction == "tx-42"


def test_malformed_payloads_on_every_command_get_error_answers_and_serving_goes_on(running):
    controller, ui = running

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(name=st.sampled_from(COMMANDS), payload=payloads)
    def check(name, payload):
        answer = raw_request(ui, controller.topics.command(name), payload)
        assert answer.status in ("ok", "error")
        if name == "no.such.command":
            assert answer.status == "error"
        if answer.status == "error":
            assert answer.error.code and answer.error.message
    check()
    after = ui.request(controller.topics.command("ping"), {}, timeout=10)
    assert after.status == "ok"


def test_controller_is_unhealthy_when_the_relay_loop_stalls_so_the_watchdog_is_withheld(running):
    controller, ui = running
    assert controller.healthy()
    controller.relay.last_progress -= 60  # as if the relay thread hung a minute ago
    assert not controller.healthy()
    time.sleep(1.2)  # the relay loop turns at least every 0.5 s and marks progress again
    assert controller.healthy()
