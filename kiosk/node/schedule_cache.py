"""The node's copy of the core's retained day schedule: the basis of offline check-in.

Rules (docs/contract.md, "The node's schedule cache"):
  - a snapshot from core/schedule/{date} is taken only when the topic's date, the body's `date`
    and a day the node serves agree; the node serves today and tomorrow in the site's zone
    (tomorrow: a core may publish the next day before midnight; check-ins look up today only);
  - a snapshot older than the cached one (lower `version`) is ignored, but a version can never
    pin the cache: after the core's status goes offline and online again (or the controller
    reconnects or restarts), the next snapshot of a day is taken whatever its version;
  - a malformed body changes nothing; an empty one (a cleared retained message) neither.

Work is kept off the controller's interpreter: the cache's broker connection lives in a child
process (kiosk/node/schedule_receiver.py) that receives every snapshot, holds a large one in its
memory and, asked by the cache, validates and indexes it; the controller never reads or copies a
large snapshot. The cache keeps the rules: each snapshot is parked (the latest per day wins when
several queue up) and one worker judges them in arrival order, taking a small one itself (a few
ms) and asking the child for a large one. The rows live in SQLite beside the
store (`<store>-schedule.db`), indexed by code and by phone's last four + birth date, with a
per-doctor summary for the least-loaded rule: look-ups cost the same at 100 or 100,000.

It holds personal data (names, birth dates), so it lives only on the node, is replaced by each
new snapshot, and days older than the retention are purged.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from pydantic import ValidationError

from kiosk.node import schedule_ingest
from kiosk.node.schedule_receiver import HeldSnapshot, ScheduleReceiver
from mqtt.models import Appointment, CoreStatus

log = logging.getLogger("vestibule.schedule")


def drop_first_wave_table(db) -> None:
    """The first wave kept whole snapshots in the node's store itself; the cache has its own file
    now (the controller runs this on its store)."""
    if "schedule" in db.table_names():
        db["schedule"].drop()


@dataclass(frozen=True)
class CachedDay:
    day: str
    version: int
    appointments: int
    received: str
    generation: int
    epoch: int  # the core's online period it was taken in (-1: before this process started)


@dataclass(frozen=True)
class CachedDoctor:
    id: str
    name: str
    specialty: str
    room: str
    floor: int
    booked: int  # booked (not cancelled) appointments of the day


def cache_path(store_path: str | Path) -> Path:
    store_path = Path(store_path)
    return store_path.with_name(store_path.stem + "-schedule.db")


class ScheduleCache:
    def __init__(self, path: str | Path, tz, now: Callable[[], datetime]):
        self.path = Path(path)
        self.tz = tz
        self.now = now
        self._read = schedule_ingest.connect(self.path)
        self._read_lock = threading.Lock()
        self._days: dict[str, CachedDay] = {}
        self._doctors: dict[str, dict[str, list[CachedDoctor]]] = {}  # day -> specialty -> doctors
        for day, version, received, generation, count in self._read.execute("SELECT * FROM days"):
            self._install(CachedDay(day, version, count, received, generation, -1))
        self._epoch = 0
        self._core_online: bool | None = None  # None: not known on this connection yet
        # day -> (latest payload, or the receiver's handle to it, epoch at arrival)
        self._pending: dict[str, tuple[bytes | HeldSnapshot, int]] = {}
        self._cond = threading.Condition()
        self._stopping = False
        self._busy = False
        self._thread: threading.Thread | None = None
        self._receiver: ScheduleReceiver | None = None
        self.taken = 0
        self.ignored = 0
        self.last_seconds = 0.0  # validating and indexing the last snapshot taken

    def attach(self, receiver: ScheduleReceiver) -> None:
        """Take snapshots and the core's status from `receiver`, the child process holding the cache's
        own broker connection: a 46 MB transfer never queues the controller's commands and answers
        behind it (MQTT keeps one connection's messages in order), never holds the controller's
        interpreter, and the status and snapshots it sees stay in order. Large snapshots are
        indexed by it too."""
        self._receiver = receiver

    # -- inputs (the receiver's reader thread, or a test): park and return --------------------
    def on_message(self, msg) -> None:
        """A core/schedule/{date} message (topic and payload)."""
        self.snapshot_arrived(msg.topic.rsplit("/", 1)[-1], msg.payload)

    def snapshot_arrived(self, topic_day: str, payload: bytes | HeldSnapshot) -> None:
        """A snapshot of core/schedule/{topic_day}, inline or held by the receiver (released once
        judged): parked for the worker; a newer one of the same day replaces it."""
        if isinstance(payload, bytes | bytearray) and not payload:
            return  # a cleared retained snapshot (a past day): the purge forgets days, not the core
        with self._cond:
            replaced = self._pending.pop(topic_day, None)  # re-queued at the end: days are taken in arrival order
            self._pending[topic_day] = (payload if isinstance(payload, HeldSnapshot) else bytes(payload), self._epoch)
            self._cond.notify()
        if replaced is not None:
            self._release(replaced[0])

    def _release(self, payload: bytes | HeldSnapshot) -> None:
        """A held snapshot the worker will not index: the receiver forgets it (46 MB of its memory)."""
        if isinstance(payload, HeldSnapshot) and self._receiver is not None:
            self._receiver.release(payload)

    def core_status(self, payload: bytes) -> None:
        try:
            online = CoreStatus.model_validate_json(payload).online if payload else False
        except ValidationError:
            return
        with self._cond:
            if online and self._core_online is False:
                self._epoch += 1  # offline, then online again: its snapshots are taken whatever their version
            self._core_online = online

    def connection_made(self) -> None:
        # A new connection is a new period: the retained snapshot it brings (before or after the
        # retained status) is taken whatever its version.
        with self._cond:
            self._epoch += 1
            self._core_online = None

    def connection_lost(self) -> None:
        with self._cond:
            self._core_online = None

    # -- worker -------------------------------------------------------------------------------
    def start(self) -> None:
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="schedule", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread:
            self._thread.join(timeout=30)
            self._thread = None
        with self._cond:
            left, self._pending = list(self._pending.values()), {}
        for payload, _ in left:
            self._release(payload)
        with self._read_lock:
            self._read.close()

    def idle(self) -> bool:
        """Nothing parked (for tests and benchmarks)."""
        with self._cond:
            return not self._pending and not self._busy

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending or self._stopping)
                if self._stopping:
                    return
                topic_day = next(iter(self._pending))
                payload, epoch = self._pending.pop(topic_day)
                self._busy = True
            try:
                self.take(topic_day, payload, epoch)
            except Exception:
                log.exception("schedule snapshot for %s could not be taken; the cache is unchanged", topic_day)
            finally:
                with self._cond:
                    self._busy = False

    def served_days(self) -> tuple[str, str]:
        today = self.now().astimezone(self.tz).date()
        return today.isoformat(), (today + timedelta(days=1)).isoformat()

    def take(self, topic_day: str, payload: bytes | HeldSnapshot, epoch: int) -> None:
        try:
            self._judge(topic_day, payload, epoch)
        finally:
            # the receiver forgets what it indexes; this is for one ignored (releasing twice is harmless)
            self._release(payload)

    def _judge(self, topic_day: str, payload: bytes | HeldSnapshot, epoch: int) -> None:
        served = self.served_days()
        if topic_day not in served:
            self._ignore(topic_day, f"the node serves {served[0]} and {served[1]} only")
            return
        current = self._days.get(topic_day)
        floor = current.version if current is not None and current.epoch == epoch else None
        received = self.now().isoformat()
        in_child = isinstance(payload, HeldSnapshot)
        if in_child:
            if self._receiver is None:
                raise RuntimeError("a held snapshot without a receiver to index it")
            result = self._receiver.ingest_held(topic_day, payload, received, floor)
            if result is None:
                log.warning("the schedule snapshot for %s was not indexed (the receiver process ended or is "
                            "stopping); the cache is unchanged", topic_day)
                return
        else:
            result = schedule_ingest.ingest(self.path, topic_day, payload, received, floor)
        if not result.taken:
            self._ignore(topic_day, result.reason)
            return
        self._install(CachedDay(result.day, result.version, result.appointments, received, result.generation, epoch))
        self.taken += 1
        self.last_seconds = result.seconds
        log.info("schedule for %s cached: version %d, %d appointments (%.2f s)", result.day, result.version,
                 result.appointments, result.seconds)
        if in_child:
            self._receiver.collect_garbage()  # the replaced day's rows: the worker waits, answers do not
        else:
            schedule_ingest.collect_garbage(self.path)

    def _ignore(self, topic_day: str, reason: str) -> None:
        self.ignored += 1
        log.warning("ignoring the schedule snapshot on core/schedule/%s: %s", topic_day, reason)

    def _install(self, cached: CachedDay) -> None:
        with self._read_lock:
            rows = self._read.execute("SELECT specialty, id, name, room, floor, booked FROM doctors "
                                      "WHERE generation = ? ORDER BY seen", (cached.generation,)).fetchall()
        by_specialty: dict[str, list[CachedDoctor]] = {}
        for specialty, doctor_id, name, room, floor, booked in rows:
            by_specialty.setdefault(specialty, []).append(CachedDoctor(doctor_id, name, specialty, room, floor, booked))
        self._doctors[cached.day] = by_specialty
        self._days[cached.day] = cached

    # -- look-ups (command workers) -----------------------------------------------------------
    def day(self, day: date) -> CachedDay | None:
        return self._days.get(day.isoformat())

    def _query(self, sql: str, params: tuple) -> list[tuple]:
        with self._read_lock:
            return self._read.execute(sql, params).fetchall()

    def _one(self, day: date, where: str, params: tuple, order: str = "a.rowid") -> Appointment | None:
        rows = self._query(f"SELECT a.body FROM appointments a JOIN days d ON a.generation = d.generation "
                           f"WHERE d.day = ? AND {where} ORDER BY {order} LIMIT 1", (day.isoformat(), *params))
        if not rows:
            return None
        try:
            return Appointment.model_validate_json(rows[0][0])
        except ValidationError:
            log.error("a cached appointment of %s is unreadable", day)
            return None

    def find_code(self, day: date, code: str) -> Appointment | None:
        return self._one(day, "a.booking = ?", (code,))

    def find_phone(self, day: date, phone: str, birth_date: date) -> Appointment | None:
        # The snapshot carries only the last four digits: with the birth date that is enough to
        # pick one patient's booking of the day; several matches prefer the one not cancelled.
        last4 = "".join(ch for ch in phone if ch.isdigit())[-4:]
        return self._one(day, "a.last4 = ? AND a.birth_date = ?", (last4, birth_date.isoformat()),
                         order="a.cancelled, a.start, a.rowid")

    def doctors(self, day: date, specialty: str) -> list[CachedDoctor]:
        """The specialty's doctors in the day's schedule with their booked counts (no scan of the day)."""
        return list(self._doctors.get(day.isoformat(), {}).get(specialty, ()))

    def appointments(self, day: date) -> list[Appointment]:
        """Every cached appointment of the day, in snapshot order (tests, staff tools: not a hot path)."""
        rows = self._query("SELECT a.body FROM appointments a JOIN days d ON a.generation = d.generation "
                           "WHERE d.day = ? ORDER BY a.rowid", (day.isoformat(),))
        return [Appointment.model_validate_json(body) for (body,) in rows]

    def purge(self, today: date, retention_days: int) -> int:
        cutoff = (today - timedelta(days=retention_days)).isoformat()
        gone = schedule_ingest.forget_before(self.path, cutoff)
        for day in [d for d in self._days if d < cutoff]:
            self._days.pop(day, None)
            self._doctors.pop(day, None)
        return gone
