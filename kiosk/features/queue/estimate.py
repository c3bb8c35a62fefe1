"""The wait estimate: the median of today's latest issue -> call intervals of one queue.

A median, not a mean: one patient who left and was called an hour later must not double
everyone's estimate. Only the latest `window` intervals count, so the estimate follows the day
(a morning rush, a doctor back from lunch). Fewer than `min_calls` intervals: no estimate.
"""
from __future__ import annotations

from collections import deque
from statistics import median


class RollingMedian:
    def __init__(self, window: int, min_calls: int):
        self.min_calls = min_calls
        self._values: deque[float] = deque(maxlen=window)

    def add(self, minutes: float) -> None:
        self._values.append(max(0.0, minutes))

    def __len__(self) -> int:
        return len(self._values)

    def value(self) -> float | None:
        if len(self._values) < self.min_calls:
            return None
        return round(median(self._values), 1)
