"""A retried command (same `transaction`, same client) answers the first result and issues nothing
new: in one controller, with two copies at once, and across a kill -9 of a controller process.
Real broker, real SQLite, the printer simulator on a pty, the stand-in core."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import tomllib
import uuid
from pathlib import Path

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from booking_core.service import DevCore
from devices.printer.sim import EscposPrinterSim
from foundation.store import Store
from kiosk.demo import dump_toml
from kiosk.node.config import load_node_config
from mqtt.client import MqttClient, RequestTimeout
from mqtt.models import OkAnswer
from mqtt.replies import ReplyBook
from mqtt.topics import NodeTopics
from tests.kiosk_env import KIOSK, kiosk_env, wait_until
from tests.support.processes import popen_child

ROOT = Path(__file__).resolve().parents[1]


def _retry(env, name, body, transaction, ui=None):
    return env.ok(name, {**body, "transaction": transaction}, ui=ui)


def test_a_retried_ticket_answers_the_first_ticket_and_issues_nothing_new(tmp_path, broker):
    with kiosk_env(tmp_path, broker) as env:
        txn = uuid.uuid4().hex
        first = _retry(env, "ticket", {"service": "lab"}, txn)
        printed = env.printed()
        again = _retry(env, "ticket", {"service": "lab"}, txn)
        assert again == first
        assert env.printed() == printed  # not printed again
        other = env.ok("ticket", {"service": "lab"})  # a new transaction is a new ticket
        assert other["ticket"] != first["ticket"]
        env.wait_events("ticket.issued", 2)
        assert sorted(e.data["ticket"] for e in env.events("ticket.issued")) == sorted([first["ticket"], other["ticket"]])


def test_the_same_transaction_from_another_client_is_another_request(tmp_path, broker):
    with kiosk_env(tmp_path, broker) as env:
        txn = uuid.uuid4().hex
        first = _retry(env, "ticket", {"service": "cashier"}, txn)
        second = _retry(env, "ticket", {"service": "cashier"}, txn, ui=env.new_ui("kiosk-ui-2"))
        assert second["ticket"] != first["ticket"]


def test_two_copies_at_once_issue_one_ticket(tmp_path, broker):
    with kiosk_env(tmp_path, broker) as env:
        txn = uuid.uuid4().hex
        answers = []
        threads = [threading.Thread(target=lambda: answers.append(_retry(env, "ticket", {"service": "lab"}, txn)))
                   for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(answers) == 4 and len({a["ticket"] for a in answers}) == 1
        assert env.controller.store.query("SELECT COUNT(*) AS n FROM tickets")[0]["n"] == 1


def test_retried_checkin_feedback_and_same_day_booking_answer_their_first_results(tmp_path, broker):
    with kiosk_env(tmp_path, broker) as env:
        appt = env.booking(minutes=5)
        txn = uuid.uuid4().hex
        first = _retry(env, "checkin", {"by": "code", "code": appt.booking}, txn)
        assert _retry(env, "checkin", {"by": "code", "code": appt.booking}, txn) == first
        assert first["repeated"] is False  # the retry was not a second check-in ("repeated")

        txn = uuid.uuid4().hex
        assert _retry(env, "feedback", {"score": 3}, txn) == _retry(env, "feedback", {"score": 3}, txn)
        assert env.controller.store.query("SELECT COUNT(*) AS n FROM feedback")[0]["n"] == 1

        slot = env.ok("sameday.slots", {"specialty": "therapist"})["slots"][0]
        body = {"doctor_id": slot["doctor_id"], "start": slot["start"], "room": slot["room"],
                "phone": "+79215550101", "birth_date": "1984-07-21"}
        txn = uuid.uuid4().hex
        booked = _retry(env, "sameday.book", body, txn)
        assert _retry(env, "sameday.book", body, txn) == booked
        created = [a for a in env.core.appointments() if a.origin == "created" and a.phone.endswith("5550101")]
        assert len(created) == 1
        env.wait_events("checkin.completed", 2)
        assert len(env.events("booking.same_day")) == 1 and len(env.events("checkin.completed")) == 2


def test_a_first_attempt_that_changed_nothing_runs_again(tmp_path, broker):
    with kiosk_env(tmp_path, broker) as env:
        slot = env.ok("sameday.slots", {"specialty": "therapist"})["slots"][0]
        body = {"doctor_id": slot["doctor_id"], "start": slot["start"], "room": slot["room"],
                "phone": "+79215550101", "birth_date": "1984-07-21", "transaction": uuid.uuid4().hex}
        env.stop_core()
        assert env.error("sameday.book", body).code == "core_offline"  # nothing booked, nothing kept
        env.start_core()
        wait_until(lambda: env.controller.relay.core_online, what="core back")
        assert env.ok("sameday.book", body)["booking"]


def test_effects_committed_without_a_recorded_answer_are_in_doubt_and_never_repeated(tmp_path):
    store = Store(tmp_path / "node.db")
    book = ReplyBook(store)
    key = ("clinic/v1/s/reply/kiosk/k1", "ticket", "t-1")
    with book.recording(key), store.transaction() as tx:
        tx.execute("CREATE TABLE effects (n INTEGER)")
        tx.execute("INSERT INTO effects VALUES (1)")
    # the controller died here: the effects and the mark are committed, the answer is not
    doubt = book.first(key)
    assert doubt.status == "error" and doubt.error.code == "in_doubt"
    assert book.first(("clinic/v1/s/reply/kiosk/k2", "ticket", "t-1")) is None
    store.close()


# -- kill -9 of a controller process ---------------------------------------------------------
def _node_config(tmp_path: Path, broker_url: str, printer_link: str) -> Path:
    data = tomllib.loads((ROOT / "config" / "example.toml").read_text(encoding="utf-8"))
    data["node"]["store"] = str(tmp_path / "node.db")
    data["broker"]["url"] = broker_url
    data["devices"] = {"printer-1": {"kind": "printer", "protocol": "escpos", "url": f"serial://{printer_link}",
                                     "role": KIOSK, "options": {"scripts": ["latin", "cyrillic"],
                                                                "cyrillic_codepage": 17}}}
    path = tmp_path / "node.toml"
    path.write_text(dump_toml(data), encoding="utf-8")
    return path


def _start_controller(config: Path, log: Path) -> subprocess.Popen:
    return popen_child([sys.executable, "-m", "kiosk.cli", "controller", "--config", str(config)], cwd=ROOT,
                       env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=open(log, "ab"), stderr=subprocess.STDOUT)


def _kiosk(broker, topics: NodeTopics) -> MqttClient:
    ui = MqttClient("127.0.0.1", broker.port, "kiosk-ui-1", role="kiosk", reply_topic=topics.reply("kiosk", "kiosk-ui-1"))
    ui.start()
    assert ui.wait_connected(20)
    def pong() -> bool:
        try:
            return ui.request(topics.command("ping"), {}, 2).status == "ok"
        except RequestTimeout:
            return False

    wait_until(pong, 60, "the controller answering")
    return ui


def _answered(db: Path, transaction: str) -> bool:
    """The first attempt's answer is stored (it is published right after)."""
    conn = sqlite3.connect(db, timeout=10)
    try:
        return bool(conn.execute("SELECT 1 FROM replies WHERE txn = ? AND answer IS NOT NULL", (transaction,)).fetchall())
    except sqlite3.OperationalError:
        return False
    finally:
        conn.close()


def _tickets(db: Path) -> list[str]:
    conn = sqlite3.connect(db, timeout=10)
    try:
        return [r[0] for r in conn.execute("SELECT number FROM tickets ORDER BY id")]
    except sqlite3.OperationalError:  # the controller has not created its tables yet
        return []
    finally:
        conn.close()


def test_a_ticket_committed_before_a_kill_9_is_answered_again_after_the_restart(tmp_path, broker):
    sim = EscposPrinterSim(link_path=str(tmp_path / "printer-1"))
    sim.start()
    config_path = _node_config(tmp_path, broker.url, sim.link_path)
    config = load_node_config(config_path)
    topics = NodeTopics(config.site.id, config.node.id)
    core = DevCore(config, tmp_path / "core.db", demo=True, call_interval_s=None, seed=7)
    core.start()
    proc = _start_controller(config_path, tmp_path / "controller.log")
    ui = None
    try:
        ui = _kiosk(broker, topics)
        txn = uuid.uuid4().hex
        # The first attempt is sent and the kiosk leaves at once: its answer reaches nobody.
        props = Properties(PacketTypes.PUBLISH)
        props.ResponseTopic = ui.reply_topic
        props.CorrelationData = b"first"
        ui.publish(topics.command("ticket"), {"kiosk": KIOSK, "service": "lab", "transaction": txn},
                   properties=props).wait_for_publish(10)
        ui.stop()
        wait_until(lambda: _answered(tmp_path / "node.db", txn), 30, "the ticket committed and answered")
        proc.kill()  # SIGKILL: nothing of the controller's memory survives
        proc.wait(timeout=10)

        issued = _tickets(tmp_path / "node.db")
        assert len(issued) == 1
        proc = _start_controller(config_path, tmp_path / "controller.log")
        ui = _kiosk(broker, topics)
        retry = ui.request(topics.command("ticket"), {"kiosk": KIOSK, "service": "lab", "transaction": txn}, 20)
        assert retry.status == "ok" and retry.data["ticket"] == issued[0]
        assert _tickets(tmp_path / "node.db") == issued  # nothing issued again
        after = ui.request(topics.command("ticket"), {"kiosk": KIOSK, "service": "lab"}, 20)
        assert after.status == "ok" and after.data["ticket"] != issued[0]
        # events are relayed in order: once the later ticket's event is in, the first's is too
        wait_until(lambda: any(e.data["ticket"] == after.data["ticket"] for e in core.inbox()
                               if e.type == "ticket.issued"), 30, "the later ticket's event")
        numbers = [e.data["ticket"] for e in core.inbox() if e.type == "ticket.issued"]
        assert sorted(numbers) == sorted([issued[0], after.data["ticket"]])
        assert len(sim.documents) == 2  # the retry printed nothing
    finally:
        if ui:
            ui.stop()
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        core.stop()
        sim.stop()


def test_answers_are_kept_past_the_kiosk_retry_window_then_pruned(tmp_path):
    store = Store(tmp_path / "node.db")
    book = ReplyBook(store, keep_s=0.2)
    key = ("r", "ticket", "t")
    with book.recording(key), store.transaction() as tx:
        tx.execute("SELECT 1")
    assert book.keep(key, OkAnswer(data={"ticket": "L001"}, transaction="t"))
    assert book.first(key).data == {"ticket": "L001"}
    wait_until(lambda: book.first(key) is None, 5, "the answer expired")
    assert book.prune() == 1
    store.close()
