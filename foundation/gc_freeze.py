"""Keep full garbage collections short in long-running processes (the controller, the boards).

After start-up a process holds tens of thousands of objects that live as long as it does:
modules, classes, functions, pydantic validators, Kivy rules. A full (generation 2) collection
walks all of them, 17-28 ms in the controller, and every answer and call waits meanwhile.
Freezing them once started (CPython's gc.freeze) moves them out of the collector's view; what
the process creates later is collected as usual.
"""
from __future__ import annotations

import gc
import logging

log = logging.getLogger("vestibule.gc")


def freeze_startup_objects() -> int:
    """Collect what start-up left behind, then freeze the rest; returns how many are frozen."""
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.debug("%d start-up objects frozen out of full collections", frozen)
    return frozen
