"""The post's recent device readings, fed from the bus (`device.reading`), waited on by measure.

Each of the post's devices keeps its readings of the last few seconds (a deque bounded by time:
an oximeter sends 60 a second). Waiting wakes on every new reading and on a short tick, so an
unplugged device is noticed from its status even when nothing more arrives.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from kiosk.features.screening.stability import Rule, stable_reading, why_not

KEEP_S = 10.0  # readings older than this are dropped (longer than any stability window)
TICK_S = 0.1


class Unavailable(Exception):
    """The device is not there (unplugged, not answering)."""


class NotStable(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason  # "no_reading" | "probe" | "unsettled"


class ReadingBuffer:
    def __init__(self, device_ids: set[str], *, wall: Callable[[], float] = time.time):
        self._ids = set(device_ids)
        self._readings: dict[str, deque] = {d: deque() for d in device_ids}
        self._changed = threading.Condition()
        self._wall = wall

    def accept(self, device: str, reading) -> None:
        """Bus listener: runs on the device's thread, so it only appends and notifies."""
        if device not in self._ids:
            return
        with self._changed:
            buf = self._readings[device]
            buf.append(reading)
            cutoff = reading.ts - KEEP_S
            while buf and buf[0].ts < cutoff:
                buf.popleft()
            self._changed.notify_all()

    def snapshot(self, device: str) -> list:
        with self._changed:
            return list(self._readings.get(device, ()))

    def wait_stable(self, device: str, rule: Rule, timeout: float, available: Callable[[], bool],
                    after: float = float("-inf")):
        """The stable reading (see stability.py), or raise Unavailable / NotStable at the timeout.

        Readings taken before the request count: staff press capture once the live value on
        their screen has settled, and that is the value they get. Only readings newer than
        `after` count: the session's start (never the previous patient's readings), then the
        device time of its previous capture from the device (the neck never gets the forehead's)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                if not available():  # an offline device's last readings are not a measurement
                    raise Unavailable(device)
                readings = [r for r in self._readings[device] if r.ts > after]
                now = self._wall()
                found = stable_reading(readings, now, rule)
                if found is not None:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise NotStable(why_not(readings, now, rule))
                self._changed.wait(min(left, TICK_S))
