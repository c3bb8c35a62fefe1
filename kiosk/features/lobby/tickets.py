"""Queue ticket numbers and the node's record of issued tickets.

Numbers: the service's prefix letter and at least three digits. They count up per prefix and
never repeat within a day: A001 ... A999, then the number widens to four digits, A1000 ...
A9999. It never wraps, so a number called, a number still waiting and a number the core was
told about stay distinct all day, even after a long core outage. The printed form stays
short: at most five characters (it fits the receipt's big number and a four-digit LED board,
whose Modbus register is a signed 16-bit number). Ten thousand tickets of one prefix in one
day is beyond any entrance: the 10,000th is refused with `tickets_exhausted` rather than
repeat a number. Counters belong to the site's LOCAL day: the first ticket after local
midnight is 001 whatever the UTC date. Every kiosk of the node goes through this one
controller and one SQLite counter row per (day, prefix), moved inside BEGIN IMMEDIATE, so
numbers are unique across kiosks.

Two steps, because the paper and the core's `checkin` request must carry the number before the
node knows whether the receipt printed or the core accepted:
  reserve()  a short transaction of its own moves the counter (a crash or a refusal after it
             leaves a gap in the numbers, never a duplicate);
  record()   inside the caller's transaction, together with the check-in row and the events.

`ahead` counts the waiting tickets of the same queue that will be called before the new one:
priority tickets (elderly, disabled, veterans, pregnant) go before normal ones, so a priority
ticket counts only earlier priority tickets, a normal ticket every waiting one. Reservations not
yet recorded count too. A ticket stops waiting when the core calls it (mark_called, fed by
kiosk/calls.py through the controller's on_call hook).

After the store was found damaged and started fresh (foundation/store_recovery.py), the book
carries from the damaged file, as far as it reads, every counter and today's tickets (so
`ahead` and the queue state still count the people waiting). If today's could not be read,
today's numbers go on from RECOVERY_FLOOR + 1 (A5001): four digits no entrance reaches in the
hours before a failure, so no number printed today is printed again.
"""
from __future__ import annotations

import logging
import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from foundation.store import Store, Tx
from mqtt.rpc import RequestError

log = logging.getLogger("vestibule.tickets")

MAX_NUMBER = 9999  # four digits at most: see above
RECOVERY_FLOOR = 5000  # today's numbers after a recovery that could not read them: see above
UNREAD_DAY_KEY = "tickets_unread_day"  # meta: the day (ordinal) whose tickets a recovery could not read
TICKET_COLUMNS = ("day", "number", "queue", "service", "priority", "channel", "kiosk", "booking", "doctor_id",
                  "room", "issued_at", "printed", "state", "called_at")


def _create(db) -> None:
    db.execute("""CREATE TABLE IF NOT EXISTS ticket_counters (
        day TEXT NOT NULL, prefix TEXT NOT NULL, last INTEGER NOT NULL, PRIMARY KEY (day, prefix))""")
    db.execute("""CREATE TABLE IF NOT EXISTS tickets (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        day TEXT NOT NULL, number TEXT NOT NULL, queue TEXT NOT NULL, service TEXT NOT NULL,
        priority INTEGER NOT NULL, channel TEXT NOT NULL, kiosk TEXT, booking TEXT,
        doctor_id TEXT, room TEXT, issued_at TEXT NOT NULL, printed INTEGER NOT NULL,
        state TEXT NOT NULL DEFAULT 'waiting', called_at TEXT)""")
    db.execute("CREATE INDEX IF NOT EXISTS tickets_queue ON tickets (day, queue, state)")
    db.execute("CREATE INDEX IF NOT EXISTS tickets_number ON tickets (day, number, state)")


def format_number(prefix: str, n: int) -> str:
    """Three digits, four past 999: A001, A999, A1000."""
    return f"{prefix}{n:03d}"


class TicketsExhausted(RequestError):
    def __init__(self, prefix: str):
        super().__init__("tickets_exhausted", f"all {MAX_NUMBER} numbers of prefix {prefix} are used today")


def next_after(last: int) -> int:
    """The next number of the day: never back to 1, so never a repeat."""
    return last + 1


@dataclass(frozen=True)
class Reservation:
    number: str
    day: str
    queue: str
    priority: bool
    ahead: int
    issued_at: datetime
    doctor_id: str | None = None


@dataclass(frozen=True)
class IssuedTicket:
    id: int
    number: str
    day: str
    queue: str
    service: str
    priority: bool
    ahead: int
    doctor_id: str | None
    room: str | None
    printed: bool


def _number_value(number: str) -> tuple[str, int] | None:
    match = re.fullmatch(r"(\D+)(\d+)", number)
    return (match[1], int(match[2])) if match else None


def _carry_tickets(today: str):
    """From a damaged store: every counter, and today's (and later) tickets; a counter never
    below a number of a ticket carried. Clears the unread mark when the counters read whole
    (tickets that do not read only leave `ahead` short)."""
    def take(damaged: sqlite3.Connection, tx: Tx) -> int:
        carried, counters_whole = 0, True
        highest: dict[tuple[str, str], int] = {}
        try:
            for day, prefix, last in damaged.execute("SELECT day, prefix, last FROM ticket_counters"):
                highest[(day, prefix)] = max(highest.get((day, prefix), 0), int(last))
        except sqlite3.Error as exc:
            counters_whole = "no such table" in str(exc)  # none: no ticket was ever issued
            log.warning("damaged ticket counters read up to %d rows (%s)", len(highest), exc)
        try:
            rows = damaged.execute(f"SELECT {', '.join(TICKET_COLUMNS)} FROM tickets WHERE day >= ? ORDER BY id",
                                   (today,))
            for row in rows:
                tx.insert("tickets", dict(zip(TICKET_COLUMNS, row)))
                carried += 1
                value = _number_value(str(row[1]))
                if value:
                    key = (str(row[0]), value[0])
                    highest[key] = max(highest.get(key, 0), value[1])
        except sqlite3.Error as exc:
            log.warning("damaged tickets read up to %d rows (%s)", carried, exc)
        for (day, prefix), last in highest.items():
            tx.execute("INSERT INTO ticket_counters (day, prefix, last) VALUES (?, ?, ?) ON CONFLICT (day, prefix) "
                       "DO UPDATE SET last = MAX(last, excluded.last)", (day, prefix, last))
        if counters_whole:
            tx.meta_set(UNREAD_DAY_KEY, 0)
        return carried + len(highest)
    return take


class TicketBook:
    def __init__(self, store: Store, tz: ZoneInfo):
        self.store = store
        store.ensure(_create)
        self.tz = tz
        if store.recovered_from is not None:
            self._carry_over(store)
        self._lock = threading.Lock()
        self._inflight: dict[str, Reservation] = {}  # day/number -> reserved, not yet recorded

    def _carry_over(self, store: Store) -> None:
        today = datetime.now(self.tz).date()
        with store.transaction() as tx:  # until the damaged file proves readable: today is unknown
            if tx.execute("SELECT EXISTS (SELECT 1 FROM ticket_counters) OR EXISTS (SELECT 1 FROM tickets)").fetchone()[0]:
                return  # carried already (another book on this store) or numbering has gone on
            tx.meta_set(UNREAD_DAY_KEY, today.toordinal())
        # yesterday's too: a recovery just after midnight still knows the night's last numbers
        store.carry_over(_carry_tickets((today - timedelta(days=1)).isoformat()), "ticket counters and tickets")
        with store.transaction() as tx:
            if tx.meta_get(UNREAD_DAY_KEY) == today.toordinal():
                log.error("today's tickets could not be read from the damaged store: today's numbers go on "
                          "from %d, above any number issued before (docs/store.md)", RECOVERY_FLOOR + 1)

    def local_day(self, now: datetime) -> str:
        return now.astimezone(self.tz).date().isoformat()

    # -- step 1: the number -------------------------------------------------------------------
    def reserve(self, prefix: str, queue: str, priority: bool, now: datetime,
                doctor_id: str | None = None) -> Reservation:
        day = self.local_day(now)
        # store lock first, then ours: record() runs inside a store transaction and takes ours
        with self.store.transaction() as tx, self._lock:
            number = self._next_number(tx, day, prefix)
            ahead = self._waiting_ahead(tx, day, queue, priority)
            ahead += sum(1 for r in self._inflight.values()
                         if r.day == day and r.queue == queue and (r.priority or not priority))
            reservation = Reservation(number, day, queue, priority, ahead, now, doctor_id)
            self._inflight[f"{day}/{number}"] = reservation
        return reservation

    @contextmanager
    def holding(self, reservation: Reservation) -> Iterator[Reservation]:
        """Whatever goes wrong before record() (a refusal, a failure) releases the reservation, so
        it does not count in `ahead` for the rest of the day."""
        try:
            yield reservation
        except BaseException:
            self.release(reservation)
            raise

    def release(self, reservation: Reservation) -> None:
        """The ticket will not be recorded (the core refused): its number stays a gap."""
        with self._lock:
            self._inflight.pop(f"{reservation.day}/{reservation.number}", None)

    def _next_number(self, tx: Tx, day: str, prefix: str) -> str:
        row = tx.execute("SELECT last FROM ticket_counters WHERE day = ? AND prefix = ?", (day, prefix)).fetchone()
        unread = tx.meta_get(UNREAD_DAY_KEY) == date.fromisoformat(day).toordinal()
        n = next_after(row[0] if row else (RECOVERY_FLOOR if unread else 0))
        if unread and n <= RECOVERY_FLOOR:  # a counter begun after the recovery, below the floor
            n = RECOVERY_FLOOR + 1
        if n > MAX_NUMBER:
            raise TicketsExhausted(prefix)  # the transaction rolls back: the counter stays
        tx.execute("INSERT INTO ticket_counters (day, prefix, last) VALUES (?, ?, ?) "
                   "ON CONFLICT (day, prefix) DO UPDATE SET last = excluded.last", (day, prefix, n))
        return format_number(prefix, n)

    @staticmethod
    def _waiting_ahead(tx: Tx, day: str, queue: str, priority: bool) -> int:
        sql = "SELECT COUNT(*) FROM tickets WHERE day = ? AND queue = ? AND state = 'waiting'"
        if priority:
            sql += " AND priority = 1"
        return tx.execute(sql, (day, queue)).fetchone()[0]

    # -- step 2: the row, inside the caller's transaction ------------------------------------------
    def record(self, tx: Tx, reservation: Reservation, *, service: str, channel: str, kiosk: str | None,
               booking: str | None, doctor_id: str | None, room: str | None, printed: bool) -> IssuedTicket:
        r = reservation
        ticket_id = tx.insert("tickets", {
            "day": r.day, "number": r.number, "queue": r.queue, "service": service, "priority": int(r.priority),
            "channel": channel, "kiosk": kiosk, "booking": booking, "doctor_id": doctor_id, "room": room,
            "issued_at": r.issued_at.isoformat(), "printed": int(printed), "state": "waiting"})
        self.release(r)  # the row counts from now on (the caller's commit follows at once)
        return IssuedTicket(ticket_id, r.number, r.day, r.queue, service, r.priority, r.ahead, doctor_id,
                            room, printed)

    # -- calls and reads ---------------------------------------------------------------------------
    def mark_called(self, number: str, now: datetime) -> bool:
        """The core called this number: the oldest waiting ticket of today with it stops waiting."""
        day = self.local_day(now)
        with self.store.transaction() as tx:
            cur = tx.execute(
                "UPDATE tickets SET state = 'called', called_at = ? WHERE id = ("
                "SELECT id FROM tickets WHERE day = ? AND number = ? AND state = 'waiting' ORDER BY id LIMIT 1)",
                (now.isoformat(), day, number))
            return cur.rowcount > 0

    def walk_ins_by_doctor(self, day: date | str) -> list[str]:
        """One doctor id per walk-in assigned today (the least-loaded rule counts them)."""
        with self.store.lock:  # rows and reservations seen at one instant: none counted twice or missed
            rows = self.store.query("SELECT doctor_id FROM tickets WHERE day = ? AND booking IS NULL "
                                    "AND doctor_id IS NOT NULL", (str(day),))
            with self._lock:
                pending = [r.doctor_id for r in self._inflight.values() if r.day == str(day) and r.doctor_id]
        return [r["doctor_id"] for r in rows] + pending

    def waiting(self, day: str, queue: str) -> list[str]:
        """Numbers of the queue in calling order: priority first, then by issue."""
        rows = self.store.query("SELECT number FROM tickets WHERE day = ? AND queue = ? AND state = 'waiting' "
                                "ORDER BY priority DESC, id", (day, queue))
        return [r["number"] for r in rows]

    def purge(self, before_day: str) -> int:
        with self.store.transaction() as tx:
            gone = tx.execute("DELETE FROM tickets WHERE day < ?", (before_day,)).rowcount
            tx.execute("DELETE FROM ticket_counters WHERE day < ?", (before_day,))
        return gone
