"""The durable outbox: every event the core must receive is a row here first.

`append()` runs inside the caller's store transaction, so the event commits with the business
row or not at all. The relay (mqtt/relay.py) publishes rows in seq order and deletes a row only
on its PUBACK. `seq` and the id are made at append time, so a restart neither renumbers nor
re-identifies anything.
"""
from __future__ import annotations

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

from foundation.store import Store, Tx, monotonic_counter, salvage, schema
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


@schema
def _create_outbox(db) -> None:
    if "outbox" not in db.table_names():
        db["outbox"].create({"seq": int, "id": str, "type": str, "ts": str, "created_ns": int,
                             "session": int, "data": str, "delivered_ns": int}, pk="seq")
        db["outbox"].create_index(["id"], unique=True)
        db["outbox"].create_index(["delivered_ns"])


# Stamped on every event: never to repeat, even when a damaged store is replaced by a fresh one.
monotonic_counter("next_seq")
monotonic_counter("session")


@salvage
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
    def __init__(self, store: Store, *, site: str, node: str, tz: ZoneInfo, max_rows: int = 500_000):
        self.store = store
        self.site = site
        self.node = node
        self.tz = tz
        self.max_rows = max_rows
        self.on_append = None  # set by the relay: wakes it up
        # Counting the backlog is O(n): count for real now and then, and near the bound;
        # in between, every new seq adds at most one to what was counted.
        self._counted_at_seq: int | None = None
        self._counted_backlog = 0

    def append(self, tx: Tx, event_type: str, data: BaseModel | dict[str, Any], *, when: datetime | None = None) -> str:
        """Add an event in the open transaction; returns its id. Validates `data` by its model."""
        model = EVENT_MODELS.get(event_type)
        if model is None:
            raise ValueError(f"unknown event type {event_type!r}")
        payload = data if isinstance(data, BaseModel) else model.model_validate(data)
        seq = tx.meta_increment("next_seq")
        self._check_bound(tx, seq)
        event_id = str(ULID())
        ts = (when or datetime.now(self.tz)).isoformat(timespec="milliseconds")
        tx.execute(
            "INSERT INTO outbox (seq, id, type, ts, created_ns, session, data) VALUES (?,?,?,?,?,?,?)",
            (seq, event_id, event_type, ts, time.time_ns(), tx.meta_get("session"),
             payload.model_dump_json(exclude_none=False)),
        )
        if self.on_append:
            self.on_append()
        return event_id

    def _check_bound(self, tx: Tx, seq: int) -> None:
        estimate = None
        if self._counted_at_seq is not None and seq - self._counted_at_seq < 1000:
            estimate = self._counted_backlog + (seq - self._counted_at_seq)
        if estimate is None or estimate >= self.max_rows * 0.9:
            self._counted_backlog = tx.execute("SELECT COUNT(*) FROM outbox WHERE delivered_ns IS NULL").fetchone()[0]
            self._counted_at_seq = seq
            if self._counted_backlog >= self.max_rows:
                self._counted_at_seq = None  # the caller rolls back: count again next time
                raise OutboxFull(f"outbox holds {self._counted_backlog} undelivered events (bound {self.max_rows})")

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
        if not seqs:
            return
        now = time.time_ns()
        with self.store.transaction() as tx:
            tx.conn.executemany("UPDATE outbox SET delivered_ns = ? WHERE seq = ?", [(now, s) for s in seqs])

    def prune(self, window_s: float = REDELIVER_WINDOW_S) -> int:
        """Delete rows delivered longer ago than the redelivery window."""
        before = time.time_ns() - int(window_s * 1e9)
        with self.store.transaction() as tx:
            return tx.execute("DELETE FROM outbox WHERE delivered_ns IS NOT NULL AND delivered_ns < ?",
                              (before,)).rowcount

    def backlog(self) -> int:
        with self.store.lock:
            return self.store.conn.execute("SELECT COUNT(*) FROM outbox WHERE delivered_ns IS NULL").fetchone()[0]

    def envelope(self, row: PendingEvent, *, historical: bool) -> EventEnvelope:
        return EventEnvelope(id=row.id, type=row.type, ts=row.ts, site=self.site, node=self.node,
                             session=row.session, seq=row.seq, historical=historical, data=json.loads(row.data))
