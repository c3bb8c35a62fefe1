"""The demo core's choice of the next call (pure, no broker)."""
from __future__ import annotations

from booking_core.calls import MAX_TICKETS, CallQueue

ROOMS = {"registration": "1", "lab": "5"}


def queue() -> CallQueue:
    return CallQueue(ROOMS.get)


def test_tickets_are_called_oldest_first_and_each_once():
    q = queue()
    q.ticket_issued("R001", "registration")
    q.ticket_issued("L001", "lab")
    q.ticket_issued("R002", "registration")
    assert [(c.ticket, c.room) for c in iter(q.next_call, None)] == [("R001", "1"), ("L001", "5"), ("R002", "1")]
    assert q.next_call() is None and q.waiting() == 0


def test_the_check_in_room_wins_over_the_room_guessed_from_the_service():
    q = queue()
    q.ticket_issued("R003", "registration")
    q.checked_in("R003", "14", "therapist")
    call = q.next_call()
    assert (call.ticket, call.room, call.service) == ("R003", "14", "registration")


def test_a_check_in_before_its_ticket_event_is_called_once_with_the_check_in_room():
    q = queue()
    q.checked_in("T001", "12", "therapist")
    q.ticket_issued("T001", "therapist", booking_room="16")
    assert (q.next_call().room, q.next_call()) == ("12", None)


def test_a_ticket_without_a_known_room_waits_until_a_check_in_names_one():
    q = queue()
    q.ticket_issued("X001", "unknown-service")
    q.ticket_issued("R004", "registration")
    assert q.next_call().ticket == "R004"
    assert q.next_call() is None and q.waiting() == 1
    q.checked_in("X001", "21", "cardiologist")
    assert q.next_call().room == "21"


def test_a_called_ticket_is_not_moved_by_a_late_check_in():
    q = queue()
    q.ticket_issued("R005", "registration")
    assert q.next_call().room == "1"
    q.checked_in("R005", "12", None)
    assert q.next_call() is None


def test_memory_is_bounded_by_forgetting_called_tickets_first():
    q = queue()
    for i in range(MAX_TICKETS):
        q.ticket_issued(f"A{i}", "registration")
    first = q.next_call()
    q.ticket_issued("B000", "registration")  # one over the bound: the called ticket goes
    assert q.waiting() == MAX_TICKETS
    assert q.next_call().ticket != first.ticket
