"""The durable outbox: every event the core must receive is a row here first.

`append()` runs inside the caller's store transaction, so the event commits with the business
row or not at all. The relay (mqtt/relay.py) publishes rows in seq order and deletes a row only
on its PUBACK. `seq` and the id are made at append time, so a restart neither renumbers nor
re-identifies anything.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from ulid import ULID

from kiosk.store import Store, Tx, schema
from mqtt.models import EVENT_MODELS, EventEnvelope
from mqtt.rpc import RequestError


class OutboxFull(RequestError):
    """The backlog bound was reached: the business action is refused, nothing accepted is dropped."""

    def __init__(self, message: str):
        super().__init__("backlog_full", message)


@schema
def _create_outbox(db) -> None:
    if "outbox" not in db.table_names():
        db["outbox"].create({"seq": int, "id": str, "type": str, "ts": str, "created_ns": int,
                             "session": int, "data": str}, pk="seq")
        db["outbox"].create_index(["id"], unique=True)


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

    def append(self, tx: Tx, event_type: str, data: BaseModel | dict[str, Any], *, when: datetime | None = None) -> str:
        """Add an event in the open transaction; returns its id. Validates `data` by its model."""
        model = EVENT_MODELS.get(event_type)
        if model is None:
            raise ValueError(f"unknown event type {event_type!r}")
        payload = data if isinstance(data, BaseModel) else model.model_validate(data)
        backlog = tx.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
        if backlog >= self.max_rows:
            raise OutboxFull(f"outbox holds {backlog} undelivered events (bound {self.max_rows})")
        seq = tx.meta_increment("next_seq")
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

    def emit(self, event_type: str, data: BaseModel | dict[str, Any]) -> str:
        """Append in a transaction of its own (events with no business row, e.g. device problems)."""
        with self.store.transaction() as tx:
            return self.append(tx, event_type, data)

    def pending(self, after_seq: int, limit: int) -> list[PendingEvent]:
        with self.store.lock:
            rows = self.store.conn.execute(
                "SELECT seq, id, type, ts, created_ns, session, data FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
                (after_seq, limit)).fetchall()
        return [PendingEvent(*row) for row in rows]

    def delivered(self, seqs: list[int]) -> None:
        if not seqs:
            return
        with self.store.transaction() as tx:
            tx.conn.executemany("DELETE FROM outbox WHERE seq = ?", [(s,) for s in seqs])

    def backlog(self) -> int:
        with self.store.lock:
            return self.store.conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]

    def envelope(self, row: PendingEvent, *, historical: bool) -> EventEnvelope:
        return EventEnvelope(id=row.id, type=row.type, ts=row.ts, site=self.site, node=self.node,
                             session=row.session, seq=row.seq, historical=historical, data=json.loads(row.data))
