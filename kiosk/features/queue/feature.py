"""The queue feature: learns of tickets and calls through the bus, publishes the day's queue
state retained on `node/{node}/queue/state`, and answers `queue.estimate` for the lobby.

Bus topics it listens to:
  ticket.issued    (ticket)  a ticket row or model: number|ticket, service, room, issued_at?
  call.made        (call)    the core's CallCommand, as the calls feature took it
  node.connected   ()        the controller (re)connected: publish the retained state again
  queue.estimate   (service, room, out)  a query: fills out["waiting"], out["wait_minutes"]
                   for the queue of that service in that room (room None: over its rooms)

On first use and at each new local day it loads the day from the lobby's `tickets` table (read only), so a restarted node
publishes the same waiting counts and estimates it had.
"""
from __future__ import annotations

import logging
import sqlite3
import threading
from datetime import datetime

from foundation.config import QueueConfig
from kiosk.features.queue.book import QueueBook
from kiosk.node.feature import BaseFeature, FeatureContext

log = logging.getLogger("vestibule.queue")


def _field(obj, *names, default=None):
    for name in names:
        value = obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)
        if value is not None:
            return value
    return default


class QueueFeature(BaseFeature):
    name = "queue"

    def __init__(self, section: QueueConfig, *, clock, store, publisher, topic: str, tz):
        self.section = section
        self.clock = clock
        self.store = store
        self.publisher = publisher
        self.topic = topic
        self.tz = tz
        self._lock = threading.RLock()
        self.book: QueueBook | None = None  # loaded from the store on first use, and at each new day

    # -- the day ----------------------------------------------------------------------------------
    def _today(self):
        return self.clock.now().astimezone(self.tz).date()

    def _new_book(self, day) -> QueueBook:
        return QueueBook(day, window=self.section.window, min_calls=self.section.min_calls)

    def _current(self) -> QueueBook:
        """Today's book (caller holds the lock); after local midnight the new day's (empty) one."""
        today = self._today()
        if self.book is None or self.book.day != today:
            self.book = self._load(today)
        return self.book

    def rebuild(self) -> None:
        with self._lock:
            self.book = self._load(self._today())

    def _load(self, day) -> QueueBook:
        """The day's tickets and calls from the store, calls in the order they were made."""
        book = self._new_book(day)
        try:
            rows = self.store.query("SELECT number, service, room, issued_at, state, called_at FROM tickets "
                                    "WHERE day = ? ORDER BY id", (day.isoformat(),))
        except sqlite3.OperationalError:  # no lobby on this node: no tickets table
            rows = []
        for row in rows:
            book.issued(row["number"], row["service"], row["room"], datetime.fromisoformat(row["issued_at"]))
        called = sorted((r for r in rows if r["state"] == "called" and r["called_at"]), key=lambda r: r["called_at"])
        for row in called:
            book.called(row["number"], row["room"], datetime.fromisoformat(row["called_at"]))
        log.info("queue state of %s rebuilt: %d tickets, %d called", day, len(rows), len(called))
        return book

    # -- bus listeners ---------------------------------------------------------------------------
    def on_ticket(self, ticket) -> None:
        number = _field(ticket, "number", "ticket")
        service = _field(ticket, "service")
        if not number or not service:
            log.warning("ticket.issued without a number or service: ignored")
            return
        at = _field(ticket, "issued_at", default=None)
        at = datetime.fromisoformat(at) if isinstance(at, str) else (at or self.clock.now())
        with self._lock:
            self._current().issued(number, service, _field(ticket, "room"), at)
        self.publish()

    def on_call(self, call) -> None:
        with self._lock:
            known = self._current().called(call.ticket, call.room, self.clock.now(), getattr(call, "service", None))
        if not known:
            log.info("call of %s to room %s: not a ticket issued here today", call.ticket, call.room)
        self.publish()

    def on_estimate(self, service: str, room: str | None, out: dict) -> None:
        with self._lock:
            book = self._current()
            if room is None:
                out["waiting"], out["wait_minutes"] = book.estimate(service)
            else:
                entry = next((e for e in book.state(self.clock.now()).queues
                              if e.service == service and e.room == room), None)
                out["waiting"] = entry.waiting if entry else 0
                out["wait_minutes"] = entry.wait_minutes if entry else None

    def publish(self) -> None:
        with self._lock:  # published under the lock: a newer state never goes out before an older one
            state = self._current().state(self.clock.now())
            self.publisher.publish(self.topic, state, qos=1, retain=True)

    # -- contract --------------------------------------------------------------------------------
    def start(self) -> None:
        self.publish()

    def get_status(self) -> dict:
        with self._lock:
            state = self._current().state(self.clock.now())
        return {"queues": len(state.queues), "waiting": sum(q.waiting for q in state.queues)}


def build(section: QueueConfig | None, ctx: FeatureContext) -> QueueFeature:
    feature = QueueFeature(section or QueueConfig(), clock=ctx.clock, store=ctx.store, publisher=ctx.publisher,
                           topic=ctx.topics.queue_state, tz=ctx.site.tz)
    ctx.bus.listen("ticket.issued", feature.on_ticket)
    ctx.bus.listen("call.made", feature.on_call)
    ctx.bus.listen("queue.estimate", feature.on_estimate)
    ctx.bus.listen("node.connected", feature.publish)  # the retained state again on every connection
    return feature
