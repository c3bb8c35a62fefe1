"""The generated production broker config: anonymous refused, each role reads and writes exactly its topics."""
from __future__ import annotations

import threading
import time

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from mqtt.broker import Broker
from mqtt.broker_config import ROLES, acl_rules, write_broker_config

SITE, NODE = "spb-dunaisky", "entrance-1"
R = f"clinic/v1/{SITE}"
N = f"{R}/node/{NODE}"
TOPICS = [
    f"{R}/core/status", f"{R}/core/schedule/2026-11-23", f"{R}/core/cmd/call", f"{R}/core/req/booking.lookup",
    f"{N}/status", f"{N}/dev/printer-1/status", f"{N}/dev/scanner-1/reading", f"{N}/evt/ticket.issued",
    f"{N}/cmd/checkin", f"{N}/board/state", f"{R}/reply/controller/c1", f"{R}/reply/kiosk/k1",
    f"{R}/reply/screening/s1", f"{R}/reply/core/x1", f"{R}/node/entrance-2/cmd/checkin",
    "clinic/v1/other-site/core/status",
]


def allowed(role: str, topic: str, want: str) -> bool:
    return any(access in (want, "readwrite") and paho.topic_matches_sub(pattern, topic)
               for access, pattern in acl_rules(SITE, NODE)[role])


@pytest.fixture(scope="module")
def secured_broker(tmp_path_factory):
    conf_dir = tmp_path_factory.mktemp("broker-conf")
    passwords = write_broker_config(conf_dir, SITE, NODE, passwords={**{r: f"pw-{r}" for r in ROLES}, "probe": "pw-probe"})
    # a test-only observer that may read and write everything
    with open(conf_dir / "acl", "a") as acl:
        acl.write("\nuser probe\ntopic readwrite #\n")
    broker = Broker(workdir=str(tmp_path_factory.mktemp("broker")), persistence=False,
                    extra_conf=f"allow_anonymous false\npassword_file {conf_dir / 'passwords'}\nacl_file {conf_dir / 'acl'}\n")
    broker.start()
    yield broker, passwords
    broker.cleanup()


def connect(broker, user=None, password=None):
    result = {}
    done = threading.Event()
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"t-{user}-{time.monotonic_ns()}", protocol=paho.MQTTv5)
    if user:
        c.username_pw_set(user, password)

    def on_connect(client, userdata, flags, reason_code, properties):
        result["rc"] = reason_code
        done.set()
    c.on_connect = on_connect
    c.connect("127.0.0.1", broker.port)
    c.loop_start()
    assert done.wait(5), "no CONNACK"
    return c, result["rc"]


def collect(client, topic_filter: str, seconds: float) -> set[str]:
    seen: set[str] = set()
    client.on_message = lambda c, u, m: seen.add(m.topic)
    client.subscribe(topic_filter, qos=1)
    time.sleep(seconds)
    return seen


def test_anonymous_client_is_refused(secured_broker):
    broker, _ = secured_broker
    client, rc = connect(broker)
    client.loop_stop()
    assert rc.is_failure


def test_wrong_password_is_refused(secured_broker):
    broker, _ = secured_broker
    client, rc = connect(broker, "controller", "not-the-password")
    client.loop_stop()
    assert rc.is_failure


@pytest.mark.parametrize("role", ROLES)
def test_each_role_reads_exactly_its_topics(secured_broker, role):
    broker, passwords = secured_broker
    probe, rc = connect(broker, "probe", "pw-probe")
    assert not rc.is_failure
    for topic in TOPICS:
        probe.publish(topic, b"{}", qos=1, retain=True).wait_for_publish(5)
    client, rc = connect(broker, role, passwords[role])
    assert not rc.is_failure
    seen = collect(client, "clinic/#", 1.5)
    client.disconnect(); probe.disconnect()
    expected = {t for t in TOPICS if allowed(role, t, "read")}
    assert seen == expected
    if role == "board":
        assert not any("/core/schedule/" in t for t in seen)


@pytest.mark.parametrize("role", ROLES)
def test_each_role_writes_exactly_its_topics(secured_broker, role):
    broker, passwords = secured_broker
    probe, _ = connect(broker, "probe", "pw-probe")
    arrived: set[str] = set()
    probe.on_message = lambda c, u, m: arrived.add(m.topic) if m.payload == role.encode() else None
    probe.subscribe("clinic/#", qos=1)
    time.sleep(0.5)
    client, _ = connect(broker, role, passwords[role])
    for topic in TOPICS:
        client.publish(topic, role.encode(), qos=1).wait_for_publish(5)
    deadline = time.monotonic() + 3
    expected = {t for t in TOPICS if allowed(role, t, "write")}
    while time.monotonic() < deadline and arrived != expected:
        time.sleep(0.1)
    client.disconnect(); probe.disconnect()
    assert arrived == expected
