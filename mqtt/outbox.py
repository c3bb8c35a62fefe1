"""The durable outbox: every event the core must receive is a row here first.

`append()` runs inside the caller's store transaction, so the event commits with the business
row or not at all. The relay (mqtt/relay.py) publishes rows in seq order and deletes a row only
on its PUBACK. `seq` and the id are made at append time, so a restart neither renumbers nor
re-identifies anything.
"""
from __future__ import annotations

import itertools
import json
import logging
import sqlite3
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from ulid import ULID

from foundation.clock import Clock
from foundation.store import Store, Tx
from mqtt.models import EVENT_MODELS, EventEnvelope
from mqtt.rpc import RequestError


class OutboxFull(RequestError):
    """The backlog bound was reached: the business action is refused, nothing accepted is dropped."""

    def __init__(self, message: str):
        super().__init__("backlog_full", message)


# A PUBACK means the broker has the event, not the core: a broker that crashes (or loses power
# with the node) before handing it on loses it. Delivered rows are therefore kept this long and
# sent again after every new connection; the core deduplicates on the id.
REDELIVER_WINDOW_S = 300
BACKLOG_KEY = "outbox_backlog"


def _runs(seqs: list[int]) -> list[tuple[int, int]]:
    """[5, 3, 4, 9] -> [(3, 5), (9, 9)]: runs of consecutive numbers."""
    ordered = sorted(set(seqs))
    runs, first = [], ordered[0]
    for prev, cur in itertools.pairwise(ordered):
        if cur != prev + 1:
            runs.append((first, prev))
            first = cur
    runs.append((first, ordered[-1]))
    return runs


def _create_outbox(db) -> None:
    if "outbox" not in db.table_names():
        db["outbox"].create({"seq": int, "id": str, "type": str, "ts": str, "created_ns": int,
                             "session": int, "data": str, "delivered_ns": int}, pk="seq")
        db["outbox"].create_index(["id"], unique=True)
        db["outbox"].create_index(["delivered_ns"])


# Stamped on every event: never to repeat, even when a damaged store is replaced by a fresh one.


def _carry_undelivered(damaged: sqlite3.Connection, tx: Tx) -> int:
    """undelivered events"""
    # Delivered rows are not carried: the core has them, and nothing is sent twice. Undelivered
    # ones keep id, seq and session (the core deduplicates on the id, should it have one anyway).
    carried = 0
    try:
        rows = damaged.execute("SELECT seq, id, type, ts, created_ns, session, data FROM outbox "
                               "WHERE delivered_ns IS NULL ORDER BY seq")
        for seq, event_id, event_type, ts, created_ns, session, data in rows:
            try:
                model = EVENT_MODELS[event_type]
                model.model_validate_json(data)  # a damaged row must not stall the relay later
            except (KeyError, TypeError, ValueError):
                logging.getLogger("vestibule.store").warning("not carrying outbox row %s: unreadable", seq)
                continue
            tx.execute("INSERT OR IGNORE INTO outbox (seq, id, type, ts, created_ns, session, data) "
                       "VALUES (?,?,?,?,?,?,?)", (seq, event_id, event_type, ts, created_ns, session, data))
            carried += 1
    except sqlite3.Error as exc:
        logging.getLogger("vestibule.store").warning("damaged outbox read up to %d rows (%s)", carried, exc)
    return carried


@dataclass(frozen=True)
class PendingEvent:
    seq: int
    id: str
    type: str
    ts: str
    created_ns: int
    session: int
    data: str  # JSON text, validated at append time


class Outbox:
    def __init__(self, store: Store, *, site: str, node: str, tz: ZoneInfo, max_rows: int = 500_000,
                 clock: Clock | None = None):
        self.store = store
        self.clock = clock or Clock(tz)  # stamps `ts`; delivery bookkeeping uses real time_ns
        store.ensure(_create_outbox)
        # a store started fresh after damage: seq and session go on above the old ones, and the
        # undelivered events that still read come along (delivered ones the core already has)
        store.continue_counters("next_seq", "session")
        store.carry_over(_carry_undelivered, "undelivered events")
        self.site = site
        self.node = node
        self.tz = tz
        self.max_rows = max_rows
        self.on_append = None  # set by the relay: wakes it up
        self._recount_backlog()

    # The number of undelivered rows is kept in the store's meta (key "backlog"), moved in the same
    # transactions that append and deliver rows: `ping`, the bound and every answer read it in
    # O(1), whatever the backlog. It is counted for real once, when the outbox opens.
    def _recount_backlog(self) -> None:
        with self.store.transaction() as tx:
            count = tx.execute("SELECT COUNT(*) FROM outbox WHERE delivered_ns IS NULL").fetchone()[0]
            tx.meta_set(BACKLOG_KEY, count)

    def append(self, tx: Tx, event_type: str, data: BaseModel | dict[str, Any], *, when: datetime | None = None) -> str:
        """Add an event in the open transaction; returns its id. Validates `data` by its model."""
        model = EVENT_MODELS.get(event_type)
        if model is None:
            raise ValueError(f"unknown event type {event_type!r}")
        payload = data if isinstance(data, BaseModel) else model.model_validate(data)
        backlog = tx.meta_get(BACKLOG_KEY)
        if backlog >= self.max_rows:  # the caller rolls back: nothing accepted is dropped
            raise OutboxFull(f"outbox holds {backlog} undelivered events (bound {self.max_rows})")
        seq = tx.meta_increment("next_seq")
        tx.meta_set(BACKLOG_KEY, backlog + 1)
        event_id = str(ULID())
        ts = (when or self.clock.now()).isoformat(timespec="milliseconds")
        tx.execute(
            "INSERT INTO outbox (seq, id, type, ts, created_ns, session, data) VALUES (?,?,?,?,?,?,?)",
            (seq, event_id, event_type, ts, time.time_ns(), tx.meta_get("session"),
             payload.model_dump_json(exclude_none=False)),
        )
        if self.on_append:
            self.on_append()
        return event_id

    def emit(self, event_type: str, data: BaseModel | dict[str, Any]) -> str:
        """Append in a transaction of its own (events with no business row, e.g. device problems)."""
        with self.store.transaction() as tx:
            return self.append(tx, event_type, data)

    def pending(self, after_seq: int, limit: int) -> list[PendingEvent]:
        with self.store.lock:
            rows = self.store.conn.execute(
                "SELECT seq, id, type, ts, created_ns, session, data FROM outbox "
                "WHERE seq > ? AND delivered_ns IS NULL ORDER BY seq LIMIT ?", (after_seq, limit)).fetchall()
        return [PendingEvent(*row) for row in rows]

    def recently_delivered(self, after_seq: int, limit: int, window_s: float = REDELIVER_WINDOW_S) -> list[PendingEvent]:
        """Rows acknowledged by the broker within the window, to send again after a reconnect."""
        since = time.time_ns() - int(window_s * 1e9)
        with self.store.lock:
            rows = self.store.conn.execute(
                "SELECT seq, id, type, ts, created_ns, session, data FROM outbox "
                "WHERE seq > ? AND delivered_ns >= ? ORDER BY seq LIMIT ?", (after_seq, since, limit)).fetchall()
        return [PendingEvent(*row) for row in rows]

    def delivered(self, seqs: list[int]) -> None:
        """Mark rows delivered, in one transaction: one UPDATE per run of consecutive seqs (PUBACKs
        mostly come in order, so a window of acks is usually one run)."""
        if not seqs:
            return
        now = time.time_ns()
        # Without an fsync of its own: a mark lost to a power cut only means the row is sent
        # again (at least once; the core deduplicates), and the next durable commit of the
        # store syncs the WAL, this mark included.
        with self.store.lock:
            conn = self.store.conn
            durability = conn.execute("PRAGMA synchronous").fetchone()[0]
            conn.execute("PRAGMA synchronous=NORMAL")
            try:
                with self.store.transaction() as tx:
                    cur = tx.conn.executemany(
                        "UPDATE outbox SET delivered_ns = ? WHERE seq BETWEEN ? AND ? AND delivered_ns IS NULL",
                        [(now, first, last) for first, last in _runs(seqs)])
                    if cur.rowcount:
                        tx.meta_set(BACKLOG_KEY, tx.meta_get(BACKLOG_KEY) - cur.rowcount)
            finally:
                conn.execute(f"PRAGMA synchronous={int(durability)}")

    def prune(self, window_s: float = REDELIVER_WINDOW_S) -> int:
        """Delete rows delivered longer ago than the redelivery window."""
        before = time.time_ns() - int(window_s * 1e9)
        with self.store.transaction() as tx:
            return tx.execute("DELETE FROM outbox WHERE delivered_ns IS NOT NULL AND delivered_ns < ?",
                              (before,)).rowcount

    def backlog(self) -> int:
        """Undelivered rows, O(1): read from the counter, never counted."""
        return self.store.meta(BACKLOG_KEY)

    def envelope(self, row: PendingEvent, *, historical: bool) -> EventEnvelope:
        return EventEnvelope(id=row.id, type=row.type, ts=row.ts, site=self.site, node=self.node,
                             session=row.session, seq=row.seq, historical=historical, data=json.loads(row.data))
