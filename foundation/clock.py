"""The one clock of a process. Everything that stamps or compares times takes a Clock, so tests
move time by handing in a ManualClock instead of overwriting attributes."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, tzinfo


class Clock:
    """Wall time in the site's zone, plus a monotonic clock for durations and timeouts."""

    def __init__(self, tz: tzinfo):
        self.tz = tz

    def now(self) -> datetime:
        return datetime.now(self.tz)

    def monotonic(self) -> float:
        return time.monotonic()

    def time_ns(self) -> int:
        return time.time_ns()


class ManualClock(Clock):
    """A clock that stands still until told to move: for tests and replayed days."""

    def __init__(self, start: datetime):
        super().__init__(start.tzinfo)
        self._now = start
        self._mono = 1000.0

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def time_ns(self) -> int:
        return int(self._now.timestamp() * 1e9)

    def set(self, when: datetime) -> None:
        self._mono += (when - self._now).total_seconds()
        self._now = when

    def advance(self, **delta) -> None:
        self.set(self._now + timedelta(**delta))
