"""Ordered worker queues: what arrives on the MQTT network thread is handed here and returns
at once, so paho keeps reading, acknowledging and answering while a handler waits on a device,
the store or a large payload. One queue per consumer keeps each consumer's messages in order
and lets a slow one delay only itself."""
from __future__ import annotations

import logging
import queue
import threading
from typing import Any, Callable

log = logging.getLogger("vestibule.workers")

_STOP = object()


class WorkerQueue:
    def __init__(self, name: str, *, max_pending: int = 10_000):
        self.name = name
        self._queue: queue.Queue = queue.Queue(maxsize=max_pending)
        self._thread = threading.Thread(target=self._run, name=f"worker-{name}", daemon=True)
        self._started = False
        self.dropped = 0

    def start(self) -> None:
        if not self._started:
            self._started = True
            self._thread.start()

    def submit(self, fn: Callable[..., Any], *args: Any) -> bool:
        """Queue fn(*args); False (and a log line) when the queue is full: nothing waits here."""
        try:
            self._queue.put_nowait((fn, args))
            return True
        except queue.Full:
            self.dropped += 1
            log.error("worker %s is %d items behind; dropping one (%d dropped so far)", self.name,
                      self._queue.qsize(), self.dropped)
            return False

    def wrap(self, handler: Callable[[Any], None]) -> Callable[[Any], None]:
        """A message handler for the network thread that queues the real one."""
        def enqueue(msg) -> None:
            self.submit(handler, msg)
        enqueue.__name__ = f"queued_{getattr(handler, '__name__', 'handler')}"
        return enqueue

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    def stop(self, timeout: float = 5.0) -> None:
        if not self._started:
            return
        try:
            self._queue.put_nowait((_STOP, ()))
        except queue.Full:
            pass
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            fn, args = self._queue.get()
            if fn is _STOP:
                return
            try:
                fn(*args)
            except Exception:
                log.exception("worker %s: %s failed", self.name, getattr(fn, "__qualname__", fn))
