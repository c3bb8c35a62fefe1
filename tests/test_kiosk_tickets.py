"""Ticket numbering and queue position on the node's SQLite store (no broker needed)."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from foundation.store import Store
from kiosk.features.lobby.tickets import TicketBook

TZ = ZoneInfo("Europe/Moscow")
MORNING = datetime(2026, 11, 23, 9, 0, tzinfo=TZ)


@pytest.fixture
def book(tmp_path):
    store = Store(tmp_path / "node.db")
    yield TicketBook(store, TZ)
    store.close()


def issue(book: TicketBook, prefix="A", queue="lab", priority=False, now=MORNING, doctor_id=None):
    reservation = book.reserve(prefix, queue, priority, now, doctor_id=doctor_id)
    with book.store.transaction() as tx:
        return book.record(tx, reservation, service=queue, channel="kiosk", kiosk="kiosk-1", booking=None,
                           doctor_id=doctor_id, room=None, printed=True)


def test_numbers_count_up_per_prefix(book):
    assert [issue(book).number for _ in range(3)] == ["A001", "A002", "A003"]
    assert issue(book, prefix="B", queue="cashier").number == "B001"


def test_numbers_restart_at_local_midnight_not_utc_midnight(book):
    late_evening = datetime(2026, 11, 23, 23, 59, tzinfo=TZ)  # 20:59 UTC
    assert issue(book, now=late_evening).number == "A001"
    assert issue(book, now=late_evening).number == "A002"
    # 00:01 in Moscow is still 23 November in UTC: the local day decides
    after_midnight = datetime(2026, 11, 24, 0, 1, tzinfo=TZ)
    assert after_midnight.astimezone(ZoneInfo("UTC")).day == 23
    assert issue(book, now=after_midnight).number == "A001"


def test_numbers_are_unique_under_concurrent_issuing(book):
    numbers: list[str] = []
    lock = threading.Lock()

    def kiosk():
        for _ in range(40):
            number = issue(book).number
            with lock:
                numbers.append(number)

    threads = [threading.Thread(target=kiosk) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(numbers) == 160 and len(set(numbers)) == 160
    assert sorted(numbers) == [f"A{n:03d}" for n in range(1, 161)]


def test_more_than_a_thousand_tickets_in_one_queue_never_repeat_a_number(book):
    numbers = []
    for i in range(1205):
        ticket = issue(book)
        numbers.append(ticket.number)
        if i % 3 == 0:
            assert book.mark_called(ticket.number, MORNING)
    assert len(set(numbers)) == len(numbers) == 1205
    assert numbers[998:1001] == ["A999", "A1000", "A1001"]  # widens past 999, never wraps
    assert max(len(n) for n in numbers) == 5  # the printed form stays short


def test_numbers_never_repeat_even_with_every_earlier_ticket_still_waiting(book):
    """A long core outage: nobody is called, the queue grows past 999."""
    numbers = [issue(book).number for _ in range(1010)]
    assert len(set(numbers)) == 1010
    assert book.waiting("2026-11-23", "lab")[-1] == "A1010"


def test_the_ten_thousandth_ticket_of_a_prefix_is_refused_not_repeated(book):
    from kiosk.features.lobby.tickets import TicketsExhausted
    with book.store.transaction() as tx:
        tx.execute("INSERT INTO ticket_counters (day, prefix, last) VALUES ('2026-11-23', 'A', 9998)")
    assert issue(book).number == "A9999"
    with pytest.raises(TicketsExhausted) as refused:
        issue(book)
    assert refused.value.code == "tickets_exhausted"
    assert issue(book, prefix="B").number == "B001"  # other prefixes go on


def test_ahead_counts_waiting_tickets_with_priority_first(book):
    assert issue(book).ahead == 0
    assert issue(book).ahead == 1
    assert issue(book, priority=True).ahead == 0  # priority goes before the two normal ones
    assert issue(book, priority=True).ahead == 1  # ... but after the earlier priority ticket
    assert issue(book).ahead == 4  # a normal ticket waits behind everyone
    assert issue(book, queue="cashier", prefix="C").ahead == 0  # another queue


def test_called_tickets_no_longer_count_as_ahead(book):
    a1, a2 = issue(book), issue(book)
    assert book.mark_called(a1.number, MORNING)
    assert not book.mark_called("Z999", MORNING)
    assert issue(book).ahead == 1
    assert book.waiting("2026-11-23", "lab") == [a2.number, "A003"]


def test_reservations_not_yet_recorded_count_ahead(book):
    pending = book.reserve("A", "lab", False, MORNING)
    assert book.reserve("A", "lab", False, MORNING).ahead == 1
    book.release(pending)


def test_released_reservation_leaves_a_gap_never_a_duplicate(book):
    refused = book.reserve("A", "lab", False, MORNING)
    book.release(refused)
    assert issue(book).number == "A002"


def test_walk_ins_by_doctor_count_assigned_walk_ins_and_pending_ones(book):
    issue(book, prefix="T", queue="doctor:d1", doctor_id="d1")
    pending = book.reserve("T", "doctor:d2", False, MORNING, doctor_id="d2")
    assert sorted(book.walk_ins_by_doctor("2026-11-23")) == ["d1", "d2"]
    book.release(pending)


def test_purge_drops_old_days(book):
    issue(book, now=MORNING - timedelta(days=3))
    issue(book)
    assert book.purge("2026-11-22") == 1
    assert len(book.store.query("SELECT * FROM tickets")) == 1


def test_a_failure_before_recording_releases_the_reservation(book):
    reservation = book.reserve("A", "lab", False, MORNING)
    with pytest.raises(RuntimeError), book.holding(reservation):
        raise RuntimeError("printer exploded")
    assert book.reserve("A", "lab", False, MORNING).ahead == 0  # no phantom ticket ahead


def test_numbers_past_999_go_through_the_kiosk_printer_and_core_unchanged(tmp_path, broker):
    """The widened number is a valid ticket everywhere: the answer, the paper and the core's event."""
    from tests.kiosk_env import kiosk_env
    with kiosk_env(tmp_path, broker) as env:
        with env.controller.store.transaction() as tx:  # a long day: 998 lab tickets already issued
            tx.execute("INSERT INTO ticket_counters (day, prefix, last) VALUES (?, 'L', 998)",
                       (env.today().isoformat(),))
        numbers = []
        for _ in range(3):
            before = env.printed()
            numbers.append(env.ok("ticket", {"service": "lab", "lang": "en"})["ticket"])
            assert numbers[-1] in env.next_document(before).text_lines
        assert numbers == ["L999", "L1000", "L1001"]
        events = env.wait_events("ticket.issued", count=3)
        assert sorted(e.data["ticket"] for e in events) == ["L1000", "L1001", "L999"]
