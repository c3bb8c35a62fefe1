"""One writer queue per serial line, shared by every board on it (RS-485 multidrop).

Several addressed boards hang on one port. Each board's request (and the reply it waits for)
runs as one job on the line's single worker thread, so frames from two boards can never
interleave, and the worker keeps the protocol's silent gap between frames. A board that does
not answer only fails its own job; the line goes on with the next one. A port error (unplug)
closes the port for everyone; the next board open() reopens it.
"""
from __future__ import annotations

import os
import queue
import termios
import threading
import time
from concurrent.futures import Future
from typing import Any, Callable, Generic, TypeVar

import serial

from devices.errors import DeviceError, DeviceNotAnswering, DeviceUnavailable

T = TypeVar("T")
JOB_WAIT = 30.0  # seconds a caller waits for its turn plus its job before giving up


class LineContext(Generic[T]):
    """What a job sees: the open transport, and pacing that keeps the inter-frame gap."""

    def __init__(self, line: "SerialLine"):
        self._line = line

    @property
    def transport(self) -> T:
        return self._line._transport

    def pace(self) -> None:
        """Wait until the line has been silent for the gap since its last activity."""
        wait = self._line._last_activity + self._line.gap - time.monotonic()
        if wait > 0:
            time.sleep(wait)

    def mark(self) -> None:
        """Note line activity (a frame sent or received) now."""
        self._line._last_activity = time.monotonic()

    def send(self, data: bytes) -> None:
        """Pace, then write one whole frame and wait until it has left the port."""
        port = self.transport
        self.pace()
        port.reset_input_buffer()  # a reply must not be confused with stale bytes
        port.write(data)
        port.flush()
        self.mark()


def wait_for(future: Future, wait: float, key: str) -> Any:
    """The job's result within `wait` seconds, or DeviceNotAnswering (the line is busy)."""
    try:
        return future.result(timeout=wait)
    except TimeoutError:
        raise DeviceNotAnswering(f"serial line {key} is busy: no turn within {wait:.0f} s") from None


class SerialLine:
    def __init__(self, key: str, protocol: str, opener: Callable[[], Any], gap: float):
        self.key = key
        self.protocol = protocol
        self.gap = gap
        self._opener = opener
        self._transport: Any = None
        self._target: str | None = None  # what the path pointed at when opened (replug detection)
        self._last_activity = 0.0
        self._refs = 0
        self._jobs: "queue.Queue[tuple[Callable, Future, bool] | None]" = queue.Queue()
        self._worker = threading.Thread(target=self._work, name=f"line:{key}", daemon=True)
        self._worker.start()

    # -- for boards ---------------------------------------------------------------------------
    def submit(self, job: Callable[[LineContext], Any], *, needs_open: bool = True) -> Future:
        """Queue `job` behind the jobs queued before it and return at once; the Future holds its
        result or its DeviceError."""
        future: Future = Future()
        self._jobs.put((job, future, needs_open))
        return future

    def run(self, job: Callable[[LineContext], Any], wait: float = JOB_WAIT, *, needs_open: bool = True) -> Any:
        """Run `job` on the worker after the jobs queued before it; return or raise its result."""
        return wait_for(self.submit(job, needs_open=needs_open), wait, self.key)

    def ensure_open(self) -> None:
        self.run(lambda ctx: self._open_if_needed(), needs_open=False)

    @property
    def is_open(self) -> bool:
        return self._transport is not None

    # -- worker -------------------------------------------------------------------------------
    def _work(self) -> None:
        ctx = LineContext(self)
        while True:
            item = self._jobs.get()
            if item is None:
                break
            job, future, needs_open = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                if needs_open and self._transport is None:
                    raise DeviceUnavailable(f"serial line {self.key} is closed (unplugged?); reopen the device")
                future.set_result(job(ctx))
            except DeviceUnavailable as exc:
                self._drop_transport()
                future.set_exception(exc)
            except (serial.SerialException, OSError, termios.error) as exc:  # termios: tcflush on a dead pty
                self._drop_transport()
                future.set_exception(DeviceUnavailable(f"serial line {self.key} failed: {exc}"))
            except DeviceError as exc:
                future.set_exception(exc)
            except BaseException as exc:  # a job's bug must not kill the line for other boards
                future.set_exception(exc)
        self._drop_transport()

    def _open_if_needed(self) -> None:
        target = os.path.realpath(self.key)
        if self._transport is not None and target != self._target:
            self._drop_transport()  # the path now points at another device (replugged)
        if self._transport is None:
            self._transport = self._opener()
            self._target = target
            self._last_activity = time.monotonic()

    def _drop_transport(self) -> None:
        transport, self._transport = self._transport, None
        if transport is not None:
            try:
                transport.close()
            except Exception:
                pass

    def _shutdown(self) -> None:
        self._jobs.put(None)
        if threading.current_thread() is not self._worker:
            self._worker.join(timeout=5)


# -- the shared lines -----------------------------------------------------------------------------
_lines: dict[str, SerialLine] = {}
_lines_lock = threading.Lock()


def acquire(path: str, protocol: str, opener: Callable[[], Any], gap: float) -> SerialLine:
    """The line for `path` (created on first use), opened; pair every call with release()."""
    key = os.path.abspath(path)
    with _lines_lock:
        line = _lines.get(key)
        if line is None:
            line = _lines[key] = SerialLine(key, protocol, opener, gap)
        elif line.protocol != protocol:
            raise DeviceUnavailable(f"serial line {key} already carries {line.protocol} boards; "
                                    f"one line speaks one protocol, not {protocol}")
        line._refs += 1
    try:
        line.ensure_open()
    except BaseException:
        release(line)
        raise
    return line


def release(line: SerialLine) -> None:
    with _lines_lock:  # held while closing, so a new line cannot lock the port before it is free
        line._refs -= 1
        if line._refs > 0:
            return
        if _lines.get(line.key) is line:
            del _lines[line.key]
        line._shutdown()
