"""Polling with a generous deadline: tests wait for what a loaded 2-core machine does, not for a sleep."""
from __future__ import annotations

import time


def wait_until(predicate, timeout: float = 15.0, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
