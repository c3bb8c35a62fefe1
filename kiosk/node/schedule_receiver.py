"""The process that receives the core's day schedule for the node's cache, and indexes it.

A whole day is one MQTT message of up to ~46 MB. Read by the controller it would hold the
controller's interpreter: paho reads a PUBLISH in Python, chunk by chunk, and copies it whole
more than once, and every answer waits meanwhile. So the cache's connection to the broker
(client id `<controller id>-schedule`, a broker user of its own) lives in a child process, which

  - subscribes core/status and core/schedule/# and forwards, in the order they come, small events
    to the controller over a pipe: connected, lost, each status payload, and each snapshot: a
    small one inline, a large one (IN_PROCESS_BELOW and up) kept in the child's memory, and only
    a handle to it (HeldSnapshot) is sent, never its bytes;
  - validates and indexes a held snapshot when the controller asks (`ingest_held`), forgets one
    the controller has no use for (`release`: ignored, or replaced while parked), and deletes the
    replaced generation's rows when asked (`collect_garbage`).

A held snapshot is not written to a file for the handover: writing 46 MB and reading it back is
two long copies inside the kernel, which this machine's kernel (no preemption inside the kernel)
does not interrupt for a woken controller thread, idle priority or not. Alternated with the file
handover, 6 acceptances each, the node's slowest pings while the snapshot came in were 8-18 ms
instead of 22-31 ms, and the snapshot reached the cache 0.1 s sooner.

The controller keeps every rule (kiosk/node/schedule_cache.py): which days it serves (its own
clock), the version floor per online period, the latest snapshot per day, what it ignores and
why. The child only moves bytes and runs the same ingest function the controller runs for small
snapshots.

The child is spawned (the controller has threads: no fork), runs on idle CPU time only
(SCHED_IDLE: answers first), dies with the controller (PR_SET_PDEATHSIG, and it ends when its
pipe closes), and logs through the controller's logging. Stopping asks it to end; one still
indexing after STOP_GRACE_S is ended (its transaction rolls back), so a controller stops in
seconds even mid-snapshot. If it ends anyway, the controller logs it and starts another: the
cache is unchanged (a snapshot being indexed is not taken) and the new connection brings the
retained snapshot again. multiprocessing's spawn imports the main module in the child: every
entry point keeps the `if __name__ == "__main__"` guard.
"""
from __future__ import annotations

import itertools
import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from foundation.children import die_with_parent
from kiosk.node import schedule_ingest
from mqtt.client import DEFAULT_MAX_PAYLOAD, MqttClient

log = logging.getLogger("vestibule.schedule")

# bytes; below this a snapshot (~1,000 appointments) is sent inline and validated by the controller
# in a few ms; from this size up it is held and indexed by the child
IN_PROCESS_BELOW = 512 * 1024
RESTART_MIN_S, RESTART_MAX_S = 1.0, 30.0
STOP_WAIT_S = 15.0
# a child busy indexing reads `stop` only when done (seconds, more at idle priority on a busy
# node): after this it is ended; its open transaction rolls back, the cache stays as it was
STOP_GRACE_S = 2.0


@dataclass(frozen=True)
class HeldSnapshot:
    """A large snapshot held in the memory of one receiver process (`child`: which one this
    controller started, counting from 1), until the cache has it indexed or releases it."""
    child: int
    number: int
    size: int


class ScheduleSink(Protocol):
    """What the receiver tells the cache (ScheduleCache), from its reader thread, in order."""

    def connection_made(self) -> None: ...
    def connection_lost(self) -> None: ...
    def core_status(self, payload: bytes) -> None: ...
    def snapshot_arrived(self, topic_day: str, payload: bytes | HeldSnapshot) -> None: ...


@dataclass(frozen=True)
class ReceiverSettings:
    """Everything the child needs, picklable (spawn sends it over a pipe, not on a command line)."""
    host: str
    port: int
    client_id: str
    username: str | None
    password: str | None
    tls: bool
    keepalive: int
    core_status: str
    core_schedule_all: str
    cache_path: str
    max_payload: int = DEFAULT_MAX_PAYLOAD
    # bytes of snapshots held and not yet judged (None: 4 x max_payload; today's and tomorrow's,
    # parked while one is indexed, need 2); past it a snapshot is dropped with a log line
    held_limit: int | None = None


class ScheduleReceiver:
    """The controller's side: starts the child, reads its events into the cache, asks it to index."""

    def __init__(self, settings: ReceiverSettings, sink: ScheduleSink):
        self.settings = settings
        self.sink = sink
        self._lock = threading.Lock()  # the pipe's sending end, the waiting requests, the process
        self._conn = None
        self._process = None
        self._waiting: dict[int, Future] = {}
        self._child = 0  # which child this is (HeldSnapshot.child): a held snapshot dies with its child
        self._ids = itertools.count(1)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.restarts = 0  # children started after one ended (tests, the technician's status)

    @property
    def pid(self) -> int | None:
        with self._lock:
            return self._process.pid if self._process is not None and self._process.is_alive() else None

    def start(self) -> None:
        cache_path = Path(self.settings.cache_path)
        # handover files of the version before 2026-12-02, left by one killed mid-handover
        for stale in cache_path.parent.glob(f"{cache_path.name}.incoming-*"):
            stale.unlink(missing_ok=True)
        self._stopping.clear()
        # One long-lived thread starts every child: the kernel's parent-death signal follows the
        # thread that started the child, not the process (foundation/children.py).
        self._thread = threading.Thread(target=self._supervise, name="schedule-receiver", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._send(("stop",))
        if self._thread is None:
            return
        self._thread.join(timeout=STOP_GRACE_S)
        if self._thread.is_alive():  # still indexing: ended, not waited for
            self._end_child("terminate", logging.INFO, "the schedule receiver process was busy; ending it")
            self._thread.join(timeout=STOP_WAIT_S)
        if self._thread.is_alive():
            self._end_child("kill", logging.ERROR, "the schedule receiver process did not stop; killing it")
            self._thread.join(timeout=STOP_WAIT_S)
        self._thread = None

    def _end_child(self, how: str, level: int, message: str) -> None:
        with self._lock:
            process = self._process
        if process is not None and process.is_alive():
            log.log(level, message)
            _normal_priority(process.pid)
            getattr(process, how)()

    # -- asking the child ---------------------------------------------------------------------
    def ingest_held(self, topic_day: str, held: HeldSnapshot, received: str,
                    floor_version: int | None) -> schedule_ingest.Ingested | None:
        """Validate and index a held snapshot in the child, which then forgets it; None when it
        could not (the child that held it ended, or it is stopping): the cache is then unchanged."""
        return self._ask("ingest", held.number, topic_day, received, floor_version, child=held.child)

    def release(self, held: HeldSnapshot) -> None:
        """The cache will not ask for `held` (ignored, or replaced while parked): the child forgets it."""
        with self._lock:
            if held.child != self._child:
                return  # its child has ended, and its memory with it
        self._send(("release", held.number))

    def held(self) -> int | None:
        """How many snapshots the child holds now (None: no child); 0 once the cache is idle."""
        return self._ask("held")

    def collect_garbage(self) -> int | None:
        """The replaced generations' rows deleted by the child (their count; None: not done)."""
        return self._ask("collect")

    def _ask(self, kind: str, *args, child: int | None = None):
        """A request to the child and its answer (the asking thread waits; the reader delivers).
        `child`: only that child can answer it (it holds what the request names)."""
        future: Future = Future()
        with self._lock:
            if self._conn is None or self._stopping.is_set() or child not in (None, self._child):
                return None
            number = next(self._ids)
            self._waiting[number] = future
            try:
                self._conn.send((kind, number, *args))
            except OSError:
                self._waiting.pop(number, None)
                return None
        return future.result()

    def _send(self, request: tuple) -> None:
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.send(request)
                except OSError:
                    pass  # the child has ended: the reader restarts it

    # -- the supervising thread ---------------------------------------------------------------
    def _supervise(self) -> None:
        delay = RESTART_MIN_S
        while not self._stopping.is_set():
            started = time.monotonic()
            self._spawn()
            self._read_events()
            code = self._reap()
            if self._stopping.is_set():
                return
            log.error("the schedule receiver process ended (exit code %s); the cache is unchanged; "
                      "starting another in %.0f s", code, delay)
            self.sink.connection_lost()
            self._stopping.wait(delay)
            # a child that keeps dying at once (a snapshot it cannot survive) is retried slower
            delay = RESTART_MIN_S if time.monotonic() - started > 120 else min(delay * 2, RESTART_MAX_S)
            self.restarts += 1

    def _spawn(self) -> None:
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe(duplex=True)
        process = context.Process(target=receiver_main, args=(theirs, self.settings), name="vestibule-schedule",
                                  daemon=True)
        process.start()
        theirs.close()  # ours alone in this process: the child's end closing is our end of file
        with self._lock:
            self._conn, self._process = ours, process
            self._child += 1
        if self._stopping.is_set():  # stop() came while this child was starting: it found no pipe
            self._send(("stop",))

    def _read_events(self) -> None:
        conn = self._conn
        while True:
            try:
                event = conn.recv()
            except (EOFError, OSError):
                return
            try:
                self._dispatch(event)
            except Exception:  # one bad event must never stop the reader
                log.exception("schedule receiver event %s failed", event[0])

    def _dispatch(self, event: tuple) -> None:
        kind = event[0]
        if kind == "snapshot":
            _, topic_day, payload = event
            self.sink.snapshot_arrived(topic_day, payload)
        elif kind == "held":
            _, topic_day, number, size = event
            with self._lock:
                child = self._child
            self.sink.snapshot_arrived(topic_day, HeldSnapshot(child, number, size))
        elif kind == "status":
            self.sink.core_status(event[1])
        elif kind == "connected":
            self.sink.connection_made()
        elif kind == "lost":
            self.sink.connection_lost()
        elif kind == "answer":
            with self._lock:
                future = self._waiting.pop(event[1], None)
            if future is not None:
                future.set_result(event[2])
        elif kind == "log":
            _, name, level, text = event
            logging.getLogger(name).log(level, "%s", text)

    def _reap(self):
        with self._lock:
            conn, process = self._conn, self._process
            self._conn = None
            waiting, self._waiting = self._waiting, {}
        for future in waiting.values():
            future.set_result(None)
        conn.close()
        process.join(timeout=STOP_WAIT_S)
        if process.is_alive():
            process.kill()
            process.join()
        with self._lock:
            self._process = None
        return process.exitcode


# -- the child process ------------------------------------------------------------------------
class _PipeLog(logging.Handler):
    """The child's log records, re-logged by the controller under the same logger names."""

    def __init__(self, send):
        super().__init__(logging.INFO)
        self._send_event = send

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
            if record.exc_info:
                text += "\n" + logging.Formatter().formatException(record.exc_info)
            self._send_event("log", record.name, record.levelno, text)
        except Exception:  # the pipe is gone: the controller has ended, and so will we
            pass


def _yield_the_cpu() -> None:
    """Run only on CPU time nothing else of the node wants: SCHED_IDLE, so that a woken controller
    thread preempts this process at once (a niced one may still finish its slice first, a few ms
    added to an answer). Indexing then waits while the node is saturated; the old day serves."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):  # not Linux
        os.nice(19)


def _normal_priority(pid: int) -> None:
    """Every thread of the child back to normal scheduling: on idle CPU time only, a saturated
    node would leave it no time to die in (each thread must run to exit)."""
    try:
        threads = [int(tid) for tid in os.listdir(f"/proc/{pid}/task")]
    except OSError:  # not Linux, or it has just ended
        return
    for tid in threads:
        try:
            os.sched_setscheduler(tid, os.SCHED_OTHER, os.sched_param(0))
        except (AttributeError, OSError):
            pass


def _ingest_held(cache_path: Path, held: dict[int, bytes], number: int, topic_day: str, received: str,
                 floor_version: int | None) -> schedule_ingest.Ingested | None:
    """Index the held snapshot `number`, which is forgotten either way (None: not held)."""
    payload = held.pop(number, None)
    if payload is None:
        return None
    return schedule_ingest.ingest(cache_path, topic_day, payload, received, floor_version)


def receiver_main(conn, settings: ReceiverSettings) -> None:
    """The child: receive, forward, index on request; ends on `stop` or when the pipe closes."""
    die_with_parent()
    _yield_the_cpu()  # before any thread starts: on Linux a thread inherits its creator's policy
    send_lock = threading.RLock()  # events from paho's thread, answers from this one

    def send(*event) -> None:
        with send_lock:
            conn.send(event)

    root = logging.getLogger()
    root.handlers[:] = [_PipeLog(send)]  # spawn ran the main module: whatever it set up is the controller's
    root.setLevel(logging.INFO)
    cache_path = Path(settings.cache_path)
    numbers = itertools.count(1)
    # number -> payload, until the controller asks for it to be indexed or released; paho's
    # thread adds, this one takes (a dict's single operations are atomic)
    held: dict[int, bytes] = {}
    held_limit = settings.held_limit or 4 * settings.max_payload

    def on_snapshot(msg) -> None:
        topic_day = msg.topic.rsplit("/", 1)[-1]
        payload = msg.payload
        if len(payload) < IN_PROCESS_BELOW:
            send("snapshot", topic_day, bytes(payload))
            return
        holding = sum(len(p) for p in list(held.values()))
        if holding + len(payload) > held_limit:
            log.error("the schedule snapshot on core/schedule/%s (%.1f MB) is dropped: %.1f MB of snapshots "
                      "are still waiting to be judged; the cache keeps the day it has until the core "
                      "publishes it again", topic_day, len(payload) / 1e6, holding / 1e6)
            return
        number = next(numbers)
        held[number] = payload
        send("held", topic_day, number, len(payload))

    client = MqttClient(settings.host, settings.port, settings.client_id, role="controller",
                        username=settings.username, password=settings.password, tls=settings.tls,
                        keepalive=settings.keepalive, max_payload=settings.max_payload)
    client.subscribe(settings.core_status, lambda msg: send("status", bytes(msg.payload)))
    client.subscribe(settings.core_schedule_all, on_snapshot)
    client.on_connect(lambda: send("connected"))
    client.on_disconnect(lambda: send("lost"))
    client.start()
    try:
        while True:
            try:
                request = conn.recv()
            except (EOFError, OSError):
                return  # the controller has ended
            if request[0] == "stop":
                return
            if request[0] == "release":
                held.pop(request[1], None)
                continue
            kind, number, *args = request
            try:
                if kind == "ingest":
                    answer = _ingest_held(cache_path, held, *args)
                elif kind == "held":
                    answer = len(held)
                else:  # "collect"
                    answer = schedule_ingest.collect_garbage(cache_path)
            except Exception:
                log.exception("the schedule receiver's %s failed", kind)
                answer = None
            send("answer", number, answer)
    finally:
        client.stop()
        try:
            conn.close()
        except OSError:
            pass
