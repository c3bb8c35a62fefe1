"""Queue state: waiting counts, last called tickets and wait estimates (rolling median of today's
issue -> call intervals) per service and room, from a scripted day with known times."""
from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta

import pytest

from foundation.clock import ManualClock
from foundation.config import QueueConfig
from foundation.store import Store
from kiosk.app import build_controller
from kiosk.features.lobby import tickets as lobby_tickets
from kiosk.features.queue.book import QueueBook
from kiosk.features.queue.feature import QueueFeature
from mqtt.client import MqttClient
from mqtt.models import QueueState
from tests.kiosk_env import TZ, kiosk_env, wait_until

NINE = datetime(2026, 11, 23, 9, 0, tzinfo=TZ)

# (ticket, issued minutes after 9:00, called minutes after 9:00 or None): intervals 7, 10, 12, 20
LAB_DAY = [("L001", 0, 7), ("L002", 5, 15), ("L003", 10, 22), ("L004", 20, 40), ("L005", 30, None)]


def at(minutes: float) -> datetime:
    return NINE + timedelta(minutes=minutes)


def lab_entry(state: QueueState):
    return next(q for q in state.queues if q.service == "lab" and q.room == "5")


def play(book: QueueBook, day, upto_call: int) -> None:
    for number, issued, _ in day:
        book.issued(number, "lab", "5", at(issued))
    calls = sorted((c, n) for n, _, c in day if c is not None)[:upto_call]
    for minute, number in calls:
        book.called(number, "5", at(minute))


@pytest.mark.parametrize("calls, median", [(0, None), (2, None), (3, 10.0), (4, 11.0)])
def test_scripted_day_gives_the_median_of_issue_to_call_once_there_are_enough_calls(calls, median):
    book = QueueBook(NINE.date(), window=15, min_calls=3)
    play(book, LAB_DAY, calls)
    entry = lab_entry(book.state(at(45)))
    assert entry.wait_minutes == median
    assert entry.waiting == 5 - calls
    assert entry.calls_today == calls


def test_only_the_latest_intervals_count_so_the_estimate_follows_the_day():
    book = QueueBook(NINE.date(), window=3, min_calls=3)
    play(book, LAB_DAY, 4)  # intervals 7, 10, 12, 20: the window keeps 10, 12, 20
    assert lab_entry(book.state(at(45))).wait_minutes == 12.0


def test_a_call_takes_the_oldest_waiting_ticket_and_sets_the_rooms_last_called():
    book = QueueBook(NINE.date(), window=15, min_calls=1)
    book.issued("R001", "registration", "1", at(0))
    book.issued("T001", "therapist", "12", at(1))
    assert book.called("T001", "12", at(9)) is True
    assert book.called("X999", "7", at(10), service=None) is False  # a desk ticket: no interval
    entries = {(q.service, q.room): q for q in book.state(at(11)).queues}
    assert entries[("therapist", "12")].last_called == "T001" and entries[("therapist", "12")].wait_minutes == 8.0
    assert entries[("registration", "1")].waiting == 1 and entries[("registration", "1")].last_called is None
    assert entries[(None, "7")].last_called == "X999" and entries[(None, "7")].wait_minutes is None
    assert book.estimate("registration") == (1, None)


class Retained:
    """Keeps the newest queue state the broker delivers."""

    def __init__(self, broker, topic: str, client_id: str):
        self.state: QueueState | None = None
        self.client = MqttClient("127.0.0.1", broker.port, client_id, role="board")
        self.client.subscribe(topic, self._got)
        self.client.start()
        assert self.client.wait_connected(15)

    def _got(self, msg) -> None:
        if msg.payload:
            self.state = QueueState.model_validate_json(msg.payload)

    def stop(self) -> None:
        self.client.stop()


def test_queue_state_is_published_retained_and_kiosk_info_and_the_ticket_carry_the_estimate(tmp_path, broker):
    with kiosk_env(tmp_path, broker, at=NINE) as env:
        seen = Retained(broker, env.controller.topics.queue_state, "queue-watch")
        try:
            taken = {}
            for number, issued, _ in LAB_DAY[:4]:
                env.clock.at = at(issued)
                taken[number] = env.ok("ticket", {"service": "lab", "lang": "en"})
                assert taken[number]["ticket"] == number
            for n, (number, _, called) in enumerate(sorted(LAB_DAY[:3], key=lambda r: r[2])):
                env.clock.at = at(called)
                env.core.client.publish(env.core.topics.core_cmd_call,
                                        {"call_id": f"c-{n}", "ticket": number, "room": "5", "service": "lab"})
                wait_until(lambda n=n: seen.state and lab_entry(seen.state).calls_today == n + 1,
                           what=f"call {n + 1} in the queue state")
            entry = lab_entry(seen.state)
            assert (entry.waiting, entry.last_called, entry.wait_minutes) == (1, "L003", 10.0)

            info = env.ok("kiosk.info", {"lang": "en"})
            lab = next(s for s in info["services"] if s["id"] == "lab")
            assert (lab["waiting"], lab["wait_minutes"]) == (1, 10.0)
            cashier = next(s for s in info["services"] if s["id"] == "cashier")
            assert (cashier["waiting"], cashier["wait_minutes"]) == (0, None)

            before = env.printed()
            env.clock.at = at(30)
            fifth = env.ok("ticket", {"service": "lab", "lang": "en"})
            assert (fifth["ticket"], fifth["ahead"], fifth["wait_minutes"]) == ("L005", 1, 10.0)
            doc = env.next_document(before)
            assert "People ahead: 1" in doc.text_lines and "Estimated wait: about 10 min" in doc.text_lines
            wait_until(lambda: lab_entry(seen.state).waiting == 2, what="L005 waiting")
            # the first tickets printed no estimate: there was none yet
            assert taken["L001"]["wait_minutes"] is None
            assert "name" not in json.dumps(seen.state.model_dump(mode="json"))

            # a restarted controller rebuilds the same state from its store
            published = seen.state.model_dump(exclude={"ts"})
            env.controller.stop()
            env.controller = build_controller(env.config, clock=env.clock)
            seen.state = None
            env.controller.start()
            wait_until(lambda: seen.state is not None and seen.state.model_dump(exclude={"ts"}) == published,
                       what=f"the same queue state after a restart ({published} vs {seen.state})")
        finally:
            seen.stop()


def test_rebuild_replays_calls_in_the_order_they_were_made(tmp_path):
    store = Store(tmp_path / "node.db")
    with store.lock:
        lobby_tickets._create(store.db)
    book = lobby_tickets.TicketBook(store, TZ)
    for _number, issued, _ in LAB_DAY:
        r = book.reserve("L", "lab", False, at(issued))
        with store.transaction() as tx:
            book.record(tx, r, service="lab", channel="kiosk", kiosk="kiosk-1", booking=None, doctor_id=None,
                        room="5", printed=True)
    for number, _, called in LAB_DAY:
        if called is not None:
            book.mark_called(number, at(called))
    clock = ManualClock(at(45))
    published = []
    lock = threading.Lock()

    class Publisher:  # what reaches the broker, kept for the assertion
        def publish(self, topic, body, *, qos=1, retain=False):
            with lock:
                published.append((topic, body, retain))

    feature = QueueFeature(QueueConfig(window=3, min_calls=3), clock=clock, store=store, publisher=Publisher(),
                           topic="t/queue/state", tz=TZ)
    feature.start()
    topic, state, retain = published[-1]
    entry = lab_entry(state)
    assert (topic, retain) == ("t/queue/state", True)
    assert (entry.waiting, entry.last_called, entry.wait_minutes, entry.calls_today) == (1, "L004", 12.0, 4)
    store.close()


def test_the_kiosk_result_screen_shows_the_wait_once_the_queue_has_an_estimate():
    from ui.kiosk_model import ticket_view
    data = {"ticket": "L005", "service": "lab", "service_name": "Laboratory", "room": "5", "floor": 1,
            "priority": False, "ahead": 1, "printed": True, "message": "", "wait_minutes": 10.0}
    assert ticket_view(data, "en").lines[:2] == ["People ahead of you: 1", "Estimated wait: about 10 min"]
    assert "预计等候：约 10 分钟" in ticket_view(data, "zh").lines
    assert not any("wait" in line for line in ticket_view(dict(data, wait_minutes=None), "en").lines)


def test_a_booked_check_in_shows_and_prints_the_doctors_queue_ahead_and_its_wait(tmp_path, broker):
    with kiosk_env(tmp_path, broker, at=NINE) as env:
        seen = Retained(broker, env.controller.topics.queue_state, "queue-watch")
        try:
            first = [env.booking(minutes=5) for _ in range(3)]
            checked = [env.ok("checkin", {"by": "code", "code": a.booking, "lang": "en"}) for a in first]
            assert [c["ahead"] for c in checked] == [0, 1, 2] and checked[0]["wait_minutes"] is None
            room = checked[0]["room"]
            for n, (minute, c) in enumerate(zip((7, 10, 12), checked)):  # issue -> call: 7, 10, 12 minutes
                env.clock.at = at(minute)
                env.core.client.publish(env.core.topics.core_cmd_call,
                                        {"call_id": f"c-{n}", "ticket": c["ticket"], "room": room})
                wait_until(lambda n=n: seen.state and sum(q.calls_today for q in seen.state.queues) == n + 1,
                           what=f"call {n + 1} in the queue state")
            env.clock.at = at(15)
            later = [env.booking(minutes=5) for _ in range(2)]
            env.ok("checkin", {"by": "code", "code": later[0].booking, "lang": "en"})
            before = env.printed()
            fifth = env.ok("checkin", {"by": "code", "code": later[1].booking, "lang": "en"})
            assert (fifth["ahead"], fifth["wait_minutes"]) == (1, 10)
            doc = env.next_document(before)
            assert "People ahead: 1" in doc.text_lines and "Estimated wait: about 10 min" in doc.text_lines
        finally:
            seen.stop()


def test_the_check_in_result_screen_shows_the_doctors_queue_after_the_time():
    from ui.kiosk_model import checkin_view
    data = {"ticket": "T004", "route": "doctor", "room": "12", "floor": 2, "doctor": "Ильина М. Д.",
            "start": "2026-11-23T09:20:00+03:00", "ahead": 1, "wait_minutes": 10}
    lines = checkin_view(data, "en").lines
    at_time = next(i for i, line in enumerate(lines) if "09:20" in line)
    assert lines[at_time + 1] == "People ahead of you: 1 · Estimated wait: about 10 min"
    assert not any("ahead" in line for line in checkin_view(dict(data, route="box"), "en").lines)
    assert not any("ahead" in line for line in checkin_view(dict(data, route="registration"), "en").lines)
    assert not any("wait" in line for line in checkin_view(dict(data, wait_minutes=None), "en").lines)
