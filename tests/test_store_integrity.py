"""A damaged store is found at open (PRAGMA quick_check), kept aside, and replaced by a fresh one
that carries the undelivered events and continues the counters: nothing the core has is sent
again, nothing new repeats a seq or session it saw. Real SQLite files, damaged on disk."""
from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
import time
from zoneinfo import ZoneInfo

import pytest

from foundation.store import Store, StoreError
from foundation.store_recovery import counter_floor
from mqtt.outbox import Outbox
from tests.conftest import ROOT

TZ = ZoneInfo("Europe/Moscow")
OLD_SESSION = 7


def outbox_of(store: Store) -> Outbox:
    return Outbox(store, site="spb-dunaisky", node="entrance-1", tz=TZ)


def store_with_history(path, *, events: int = 10, delivered: int = 6) -> dict:
    """A store with a session, `events` events of which the first `delivered` are acknowledged,
    and a bulky table written last (its pages are the ones damaged)."""
    store = Store(path)
    with store.transaction() as tx:
        tx.meta_set("session", OLD_SESSION)
    outbox = outbox_of(store)
    ids = [outbox.emit("feedback.submitted", {"score": 9, "follow_up": False}) for _ in range(events)]
    outbox.delivered(list(range(1, delivered + 1)))
    store.db["bulk"].insert_all({"n": i, "text": "x" * 400} for i in range(400))
    pages = [row["pageno"] for row in store.query("SELECT pageno FROM dbstat WHERE name = 'bulk'")]
    page_size = store.query("PRAGMA page_size")[0]["page_size"]
    store.close()  # the last connection checkpoints the WAL into the file
    return {"ids": ids, "pages": pages, "page_size": page_size, "max_seq": events}


def damage_pages(path, pages: list[int], page_size: int) -> None:
    with open(path, "r+b") as f:
        for page in pages[len(pages) // 3: len(pages) // 3 + 4]:
            f.seek((page - 1) * page_size)
            f.write(bytes([0xA5]) * page_size)


def aside_files(path) -> list:
    """The kept-aside store files (their -wal and -shm, if any, lie beside them)."""
    return sorted(p for p in path.parent.iterdir() if p.name.startswith(f"{path.name}.damaged-")
                  and not p.name.endswith(("-wal", "-shm")))


def quick_check_fails(path) -> bool:
    probe = sqlite3.connect(path)
    try:
        return probe.execute("PRAGMA quick_check").fetchone()[0] != "ok"
    except sqlite3.DatabaseError:
        return True
    finally:
        probe.close()


def test_damaged_pages_are_found_at_open_kept_aside_and_a_fresh_store_started(tmp_path, caplog):
    path = tmp_path / "node.db"
    history = store_with_history(path)
    damage_pages(path, history["pages"], history["page_size"])
    damaged_bytes = path.read_bytes()
    assert quick_check_fails(path)  # the damage is real
    caplog.set_level(logging.ERROR, logger="vestibule.store")
    store = Store(path)
    try:
        [aside] = aside_files(path)
        assert store.recovered_from == aside
        assert aside.read_bytes() == damaged_bytes  # kept as it was, for a technician
        assert store.query("PRAGMA quick_check")[0]["quick_check"] == "ok"
        assert "bulk" not in store.db.table_names()  # a fresh store, not a patched one
        message = next(r.getMessage() for r in caplog.records if "is damaged" in r.getMessage())
        assert str(path) in message and aside.name in message and "fresh store" in message
    finally:
        store.close()


def test_after_recovery_undelivered_events_are_carried_and_delivered_ones_are_not(tmp_path):
    path = tmp_path / "node.db"
    history = store_with_history(path, events=10, delivered=6)
    damage_pages(path, history["pages"], history["page_size"])
    store = Store(path)
    try:
        outbox = outbox_of(store)
        pending = outbox.pending(0, 100)
        assert [row.id for row in pending] == history["ids"][6:]  # same ids: the core deduplicates
        assert [row.seq for row in pending] == [7, 8, 9, 10]
        assert outbox.recently_delivered(0, 100) == []  # what the core has is not sent again
    finally:
        store.close()


def test_after_recovery_seq_and_session_continue_above_the_old_ones(tmp_path):
    path = tmp_path / "node.db"
    history = store_with_history(path)
    damage_pages(path, history["pages"], history["page_size"])
    before = counter_floor()
    store = Store(path)
    try:
        outbox = outbox_of(store)  # the counters' owner continues them as it opens the fresh store
        assert store.meta("session") > OLD_SESSION
        new_id = outbox.emit("feedback.submitted", {"score": 3, "follow_up": True})
        row = store.query("SELECT seq FROM outbox WHERE id = ?", (new_id,))[0]
        assert row["seq"] > history["max_seq"] and row["seq"] > before
    finally:
        store.close()


def test_truncated_file_is_recovered_the_same_way(tmp_path, caplog):
    path = tmp_path / "node.db"
    store_with_history(path)
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) * 6 // 10)
    before = counter_floor()
    store = Store(path)
    try:
        assert len(aside_files(path)) == 1
        assert "is damaged" in caplog.text and "malformed" in caplog.text
        outbox_of(store)
        assert store.meta("next_seq") >= before and store.meta("session") >= before
    finally:
        store.close()


def test_a_file_that_is_not_sqlite_is_recovered_the_same_way(tmp_path, caplog):
    path = tmp_path / "node.db"
    path.write_bytes(b"this is a text file someone copied over the store\n" * 200)
    store = Store(path)
    try:
        [aside] = aside_files(path)
        assert aside.read_bytes().startswith(b"this is a text file")
        assert "is damaged" in caplog.text and "not a database" in caplog.text
        outbox_of(store).emit("feedback.submitted", {"score": 9, "follow_up": False})
    finally:
        store.close()


def issue_tickets(book, count: int, now) -> list[str]:
    numbers = []
    for _ in range(count):
        reservation = book.reserve("A", "svc-therapy", False, now)
        with book.store.transaction() as tx:
            book.record(tx, reservation, service="therapy", channel="kiosk", kiosk="kiosk-1", booking=None,
                        doctor_id=None, room=None, printed=True)
        numbers.append(reservation.number)
    return numbers


def test_a_recovered_store_goes_on_with_the_day_s_ticket_numbers_and_its_waiting_tickets(tmp_path):
    from datetime import datetime

    from kiosk.features.lobby.tickets import TicketBook
    path, now = tmp_path / "node.db", datetime.now(TZ)
    store = Store(path)
    book = TicketBook(store, TZ)
    issued = issue_tickets(book, 3, now)
    store.db["bulk"].insert_all({"n": i, "text": "x" * 400} for i in range(400))  # its pages get damaged
    pages = [row["pageno"] for row in store.query("SELECT pageno FROM dbstat WHERE name = 'bulk'")]
    page_size = store.query("PRAGMA page_size")[0]["page_size"]
    store.close()
    damage_pages(path, pages, page_size)
    assert quick_check_fails(path)
    store = Store(path)
    try:
        assert store.recovered_from is not None
        book = TicketBook(store, TZ)
        day = book.local_day(now)
        assert book.waiting(day, "svc-therapy") == issued == ["A001", "A002", "A003"]
        assert issue_tickets(book, 1, now) == ["A004"]  # not A001 again
        again = TicketBook(store, TZ)  # a second book on the same store carries nothing twice
        assert again.waiting(day, "svc-therapy") == ["A001", "A002", "A003", "A004"]
        assert issue_tickets(again, 1, now) == ["A005"]
    finally:
        store.close()


def test_when_the_day_s_counters_do_not_read_its_numbers_go_on_above_any_issued_before(tmp_path, caplog):
    from datetime import datetime

    from kiosk.features.lobby.tickets import RECOVERY_FLOOR, TicketBook
    path, now = tmp_path / "node.db", datetime.now(TZ)
    path.write_bytes(b"\x00garbage" * 1000)  # nothing of the day reads
    caplog.set_level(logging.ERROR, logger="vestibule.tickets")
    store = Store(path)
    try:
        book = TicketBook(store, TZ)
        assert issue_tickets(book, 2, now) == [f"A{RECOVERY_FLOOR + 1}", f"A{RECOVERY_FLOOR + 2}"]
        assert "today's numbers go on from 5001" in caplog.text
        store.close()
        store = Store(path)  # a restart later that day keeps counting from there
        assert issue_tickets(TicketBook(store, TZ), 1, now) == [f"A{RECOVERY_FLOOR + 3}"]
    finally:
        store.close()


def test_without_recovery_a_damaged_store_is_a_clear_store_error(tmp_path):
    path = tmp_path / "node.db"
    path.write_bytes(b"\x00garbage" * 1000)
    with pytest.raises(StoreError, match=r"node\.db is damaged: file is not a database"):
        Store(path, recover=False)
    assert path.exists() and aside_files(path) == []


def test_a_store_that_cannot_be_opened_is_an_error_not_damage(tmp_path):
    path = tmp_path / "node.db"
    path.mkdir()  # SQLITE_CANTOPEN: nothing to do with the file's content
    with pytest.raises(StoreError, match="cannot be opened"):
        Store(path)
    assert path.is_dir() and aside_files(path) == []


def test_the_controller_starts_on_a_damaged_store_with_the_message_and_no_traceback(tmp_path, broker):
    from kiosk.demo import write_runtime_config
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    config = write_runtime_config(ROOT / "config" / "example.toml", run_dir, broker.url)
    config.write_text(config.read_text().split("[devices.")[0])
    (run_dir / "node.db").write_bytes(b"SQLite format 3\x00" + b"\xff" * 5000)  # a header, then garbage
    proc = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "controller", "--config", str(config)], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            lines.append(line)
            if "online, session" in line:
                break
        proc.terminate()
        _, rest = proc.communicate(timeout=20)
        lines.append(rest)
    finally:
        if proc.poll() is None:
            proc.kill()
    text = "".join(lines)
    assert "is damaged" in text and "moved aside" in text, text
    assert "online, session" in text
    assert "Traceback" not in text
    assert proc.returncode == 0
