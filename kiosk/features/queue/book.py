"""The queue state of one day, in memory: which tickets wait, which were called, how long the
calls took. Pure: times come in with the events, nothing here reads a clock or the store.

Keys are (service, room): a walk-in queue has its service's room, a booked patient the doctor's
room. A call finds its ticket by number among today's waiting tickets (the oldest first, as the
lobby's ticket book marks them); a call of a ticket the node did not issue (a desk ticket) still
sets the room's last called ticket, without an interval.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from kiosk.features.queue.estimate import RollingMedian
from mqtt.models import QueueEntry, QueueState


@dataclass
class _Waiting:
    number: str
    issued_at: datetime


@dataclass
class _Queue:
    service: str | None
    room: str | None
    estimate: RollingMedian
    waiting: list[_Waiting] = field(default_factory=list)
    last_called: str | None = None
    last_called_at: datetime | None = None
    called: int = 0

    def entry(self) -> QueueEntry:
        return QueueEntry(service=self.service, room=self.room, waiting=len(self.waiting),
                          last_called=self.last_called, last_called_at=self.last_called_at,
                          wait_minutes=self.estimate.value(), calls_today=self.called)


class QueueBook:
    def __init__(self, day: date, *, window: int, min_calls: int):
        self.day = day
        self.window = window
        self.min_calls = min_calls
        self._queues: dict[tuple[str | None, str | None], _Queue] = {}

    def _queue(self, service: str | None, room: str | None) -> _Queue:
        key = (service, room)
        if key not in self._queues:
            self._queues[key] = _Queue(service, room, RollingMedian(self.window, self.min_calls))
        return self._queues[key]

    def issued(self, number: str, service: str, room: str | None, at: datetime) -> None:
        self._queue(service, room).waiting.append(_Waiting(number, at))

    def called(self, number: str, room: str, at: datetime, service: str | None = None) -> bool:
        """True when the ticket was one of today's waiting ones (its interval counts)."""
        found = None
        for queue in self._queues.values():
            for waiting in queue.waiting:
                if waiting.number == number and (found is None or waiting.issued_at < found[1].issued_at):
                    found = (queue, waiting)
        if found is None:
            queue = self._queue(service, room)
        else:
            queue, waiting = found
            queue.waiting.remove(waiting)
            queue.estimate.add((at - waiting.issued_at).total_seconds() / 60)
        queue.last_called, queue.last_called_at = number, at
        queue.called += 1
        return found is not None

    def estimate(self, service: str) -> tuple[int, float | None]:
        """Waiting count and wait estimate of a service over its rooms (what the kiosk shows):
        the estimate of its busiest room, so a patient is not promised the shortest wait."""
        queues = [q for q in self._queues.values() if q.service == service]
        waiting = sum(len(q.waiting) for q in queues)
        estimates = [(len(q.waiting), q.estimate.value()) for q in queues if q.estimate.value() is not None]
        return waiting, (max(estimates)[1] if estimates else None)

    def state(self, ts: datetime) -> QueueState:
        entries = sorted((q.entry() for q in self._queues.values()),
                         key=lambda e: (e.service or "", e.room or ""))
        return QueueState(ts=ts, day=self.day, queues=entries)
