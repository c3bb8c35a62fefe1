"""What a TV board shows, without Kivy: calls and queues filtered by the board's rooms or
services, the newest call apart, floors, and the estimate only once there is one."""
from __future__ import annotations

from datetime import datetime, timedelta

from foundation.config import BoardConfig
from mqtt.models import BoardCall, BoardState, QueueEntry, QueueState
from tests.conftest import make_config
from tests.kiosk_env import TZ
from ui.board_model import board_view

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=TZ)


def state(*calls) -> BoardState:
    return BoardState(ts=NOW, calls=[BoardCall(call_id=f"c{n}", ticket=t, room=r, ts=NOW - timedelta(minutes=n))
                                     for n, (t, r) in enumerate(calls)])


QUEUES = QueueState(ts=NOW, day=NOW.date(), queues=[
    QueueEntry(service="lab", room="5", waiting=3, wait_minutes=12.4, calls_today=4),
    QueueEntry(service="cashier", room="2", waiting=1, wait_minutes=None, calls_today=1),
    QueueEntry(service="therapist", room="12", waiting=2, wait_minutes=20.0, calls_today=5),
    QueueEntry(service=None, room="7", waiting=0, last_called="X001", calls_today=1),
])


def view(tmp_path, lang="en", **board):
    config = make_config(tmp_path, "mqtt://127.0.0.1:1883")
    return board_view(config, BoardConfig(**board), lang=lang, now=NOW, online=True,
                      board_state=state(("L004", "5"), ("T002", "12"), ("C001", "2"), ("L003", "5")),
                      queue_state=QUEUES, highlighted=True)


def test_a_board_of_rooms_shows_only_their_calls_and_queues(tmp_path):
    v = view(tmp_path, rooms=["2", "12"])
    assert v.newest.ticket == "T002" and v.newest.where == "Room 12"  # no floor known for room 12
    assert [c.ticket for c in v.calls] == ["C001"]
    assert [(q.name, q.waiting, q.wait) for q in v.queues] == [("Therapist (any doctor) · room 12", "2", "≈ 20 min"),
                                                               ("Cashier · room 2", "1", "—")]


def test_a_board_of_services_shows_their_rooms_with_floors(tmp_path):
    v = view(tmp_path, lang="ru", services=["lab"], floors={"5": 1})
    assert (v.newest.ticket, v.newest.where) == ("L004", "Кабинет 5, 1 этаж")
    assert [c.ticket for c in v.calls] == ["L003"]
    assert [(q.name, q.wait) for q in v.queues] == [("Процедурный кабинет (анализы) · каб. 5", "≈ 12 мин")]


def test_a_board_without_rooms_or_services_shows_everything_but_unknown_services(tmp_path):
    v = view(tmp_path, lang="zh")
    assert [c.ticket for c in [v.newest, *v.calls]] == ["L004", "T002", "C001", "L003"]
    assert len(v.queues) == 3 and all("X001" not in q.name for q in v.queues)
    assert v.highlighted and v.clock == "10:00" and v.headings["now"] == "请到"
