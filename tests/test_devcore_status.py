"""The stand-in's retained topics: core/status (and its will) and the day's schedule snapshot;
and the `vestibule devcore` command end to end."""
from __future__ import annotations

import json
import signal
from datetime import datetime, time, timedelta
import socket
import sqlite3
import subprocess

import sys
from pathlib import Path

import pytest

from mqtt.broker import Broker
from mqtt.broker_config import ROLES, write_broker_config
from booking_core.harness import Peer, envelope, start_core
from booking_core.schedule import bucket_of
from mqtt.models import Appointment, CoreStatus, ScheduleSnapshot
from tests.support.processes import popen_child

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 20.0


def status_of(msg) -> CoreStatus:
    return CoreStatus.model_validate_json(msg.payload)


def is_status(peer, online: bool):
    return lambda m: m.topic == peer.topics.core_status and m.payload and status_of(m).online is online


@pytest.fixture
def peer(broker, node_config):
    p = Peer("127.0.0.1", broker.port, node_config.site.id)
    p.watch(p.topics.core_status)
    p.watch(p.topics.core_schedule_all)
    p.start()
    yield p
    p.stop()


def test_snapshot_is_retained_valid_and_has_the_days_mix_with_patients_due_now(node_config, tmp_path, broker):
    core = start_core(node_config, tmp_path / "core.db")  # the real clock: the demo is about now
    try:
        # wait_ready means the publish was handed to paho, not that the broker has it: a first
        # subscriber sees it arrive, so the late one below certainly subscribes after it is retained
        first = Peer("127.0.0.1", broker.port, node_config.site.id)
        first.watch(first.topics.core_schedule_all)
        first.start()
        try:
            first.wait_for(lambda m: "/core/schedule/" in m.topic, TIMEOUT)
        finally:
            first.stop()
        late = Peer("127.0.0.1", broker.port, node_config.site.id)  # subscribes after it was published
        late.watch(late.topics.core_schedule_all)
        late.start()
        try:
            msg = late.wait_for(lambda m: "/core/schedule/" in m.topic, TIMEOUT)
        finally:
            late.stop()
        now = core.now()
        stored = {a.booking: a for a in core.appointments(all_sites=True)}
    finally:
        core.stop()
    assert msg.retain and msg.topic == late.topics.core_schedule(now.date())
    raw = json.loads(msg.payload)
    snapshot = ScheduleSnapshot.model_validate(raw)
    assert snapshot.date == now.date() and snapshot.version >= 1
    appointments = [Appointment.model_validate(a) for a in raw["appointments"]]
    assert 90 <= len(appointments) <= 110
    assert {a.status for a in appointments} == {"booked", "cancelled"}
    assert any(a.is_box for a in appointments) and any(a.is_child for a in appointments)
    assert any(a.patient.first_visit for a in appointments)
    assert any(a.status == "booked" and bucket_of(a.start, now) == "due_now" for a in appointments)
    for a, body in zip(appointments, raw["appointments"]):
        assert set(body["patient"]) == {"display", "birth_date", "phone_last4", "first_visit"}
        assert a.patient.phone_last4 == stored[a.booking].phone[-4:]
        assert stored[a.booking].phone not in msg.payload.decode()
    others = [b for b, a in stored.items() if a.site != node_config.site.id]
    assert others and not set(others) & {a.booking for a in appointments}


def test_core_status_is_online_retained_on_connect_and_offline_retained_after_a_clean_stop(
        node_config, tmp_path, broker, peer):
    core = start_core(node_config, tmp_path / "core.db")
    online = peer.wait_for(is_status(peer, True), TIMEOUT)
    core.stop()
    peer.wait_for(is_status(peer, False), TIMEOUT)
    newcomer = Peer("127.0.0.1", broker.port, node_config.site.id)
    newcomer.watch(newcomer.topics.core_status)
    newcomer.start()
    try:
        retained = newcomer.wait_for(lambda m: m.topic == newcomer.topics.core_status, TIMEOUT)
    finally:
        newcomer.stop()
    assert retained.retain and status_of(retained).online is False
    assert status_of(retained).ts >= status_of(online).ts


def test_broker_publishes_the_offline_will_when_the_cores_connection_dies_and_the_core_comes_back(
        node_config, tmp_path, peer):
    core = start_core(node_config, tmp_path / "core.db")
    try:
        peer.wait_for(is_status(peer, True), TIMEOUT)
        mark = len(peer.received)
        # a crash as the broker sees it: the TCP connection ends without an MQTT DISCONNECT
        core.client.paho.socket().shutdown(socket.SHUT_RDWR)
        will = peer.wait_for(is_status(peer, False), TIMEOUT, after=mark)
        assert status_of(will).ts < core.now()
        mark = peer.received.index(will) + 1
        peer.wait_for(is_status(peer, True), TIMEOUT * 2, after=mark)  # paho reconnects and re-announces
        snapshot = peer.wait_for(lambda m: "/core/schedule/" in m.topic, TIMEOUT, after=mark)
        assert ScheduleSnapshot.model_validate_json(snapshot.payload).version == core.snapshot_version()
    finally:
        core.stop()


def minimal_config(tmp_path: Path, broker_url: str) -> Path:
    path = tmp_path / "node.toml"
    path.write_text(f"""
[site]
id = "spb-dunaisky"
timezone = "Europe/Moscow"
[node]
id = "entrance-1"
store = "{tmp_path / 'node.db'}"
[broker]
url = "{broker_url}"
[[services]]
id = "registration"
prefix = "R"
names = {{ ru = "Регистратура" }}
room = "1"
""", encoding="utf-8")
    return path


def test_devcore_command_serves_until_sigterm_then_leaves_status_offline_and_logs_no_personal_data(
        tmp_path, broker, peer):
    db = tmp_path / "core.db"
    proc = popen_child([sys.executable, "-m", "kiosk.cli", "devcore", "--config", str(minimal_config(tmp_path, broker.url)),
                             "--demo", "--db", str(db), "--call-interval", "1", "--seed", "3"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        peer.wait_for(is_status(peer, True), TIMEOUT * 2)
        snapshot = ScheduleSnapshot.model_validate_json(
            peer.wait_for(lambda m: "/core/schedule/" in m.topic, TIMEOUT).payload)
        code = snapshot.appointments[0].booking
        assert peer.request("booking.lookup", {"by": "code", "code": code}, timeout=TIMEOUT).status == "ok"
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    peer.wait_for(is_status(peer, False), TIMEOUT)
    assert code in err and "stopped" in err
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT display, full_name, phone, birth_date FROM appointments").fetchall()
    assert len(rows) > 90
    for row in rows:
        for secret in row:
            assert secret not in err and secret not in out


def test_devcore_command_refuses_a_bad_config_with_exit_code_2(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[site]\nid = 'Not An Id'\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "kiosk.cli", "devcore", "--config", str(bad)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "site.id" in proc.stderr


def test_stand_in_serves_under_the_production_broker_acl_as_user_core(tmp_path, node_config, caplog):
    site, node = node_config.site.id, node_config.node.id
    conf = tmp_path / "broker-conf"
    write_broker_config(conf, site, node, passwords={r: f"pw-{r}" for r in ROLES})
    secured = Broker(workdir=str(tmp_path / "secured"), persistence=False,
                     extra_conf=f"allow_anonymous false\npassword_file {conf / 'passwords'}\nacl_file {conf / 'acl'}\n")
    (tmp_path / "secured").mkdir()
    secured.start()
    config = node_config.model_copy(update={"broker": node_config.broker.model_copy(update={"url": secured.url})})
    core = peer = None
    try:
        core = start_core(config, tmp_path / "core.db", username="core", password="pw-core")
        peer = Peer("127.0.0.1", secured.port, site, username="controller", password="pw-controller")
        peer.watch(peer.topics.core_schedule_all)
        peer.start()
        peer.wait_core_online(TIMEOUT)
        snapshot = ScheduleSnapshot.model_validate_json(
            peer.wait_for(lambda m: "/core/schedule/" in m.topic, TIMEOUT).payload)
        code = snapshot.appointments[0].booking
        assert peer.request("booking.lookup", {"by": "code", "code": code}, timeout=TIMEOUT).status == "ok"
        peer.publish_event(envelope("feedback.submitted", {"score": 9, "follow_up": False}, site=site, node=node))
        assert core.wait_for_events(1, TIMEOUT)
    finally:
        for c in (peer, core):
            if c:
                c.stop()
        secured.cleanup()
    assert "refused" not in caplog.text


def test_at_midnight_the_new_day_is_published_and_yesterdays_patients_are_cleared(node_config, tmp_path, peer):
    tz = node_config.site.tz
    today = datetime.now(tz).date()
    current = [datetime.combine(today, time(23, 50), tzinfo=tz)]
    # calls on a short timer make the housekeeping tick short too
    core = start_core(node_config, tmp_path / "core.db", clock=lambda: current[0], call_interval_s=0.2)
    try:
        old_topic = peer.topics.core_schedule(today)
        peer.wait_for(lambda m: m.topic == old_topic and m.payload, TIMEOUT)
        mark = len(peer.received)
        current[0] = datetime.combine(today + timedelta(days=1), time(8, 0), tzinfo=tz)
        cleared = peer.wait_for(lambda m: m.topic == old_topic and not m.payload, TIMEOUT, after=mark)
        new = peer.wait_for(lambda m: m.topic == peer.topics.core_schedule(today + timedelta(days=1)), TIMEOUT,
                            after=mark)
        assert ScheduleSnapshot.model_validate_json(new.payload).date == today + timedelta(days=1)
        assert cleared.payload == b""
        assert {a.start.date() for a in core.appointments(all_sites=True)} == {today + timedelta(days=1)}
    finally:
        core.stop()
