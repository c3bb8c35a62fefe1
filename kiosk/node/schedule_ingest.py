"""Taking one schedule snapshot into the cache's SQLite file: validate, index, swap, in one go.

Runs in the controller's schedule worker for small snapshots and in the schedule receiver
process for large ones (kiosk/node/schedule_receiver.py: validating 100,000 appointments holds
the interpreter for a second or more; in the controller every answer would wait). It needs
nothing but the file's path, the payload and the rules, so both places call the same function.

The file holds a generation of rows per cached day; readers look up through `days`, so a swap
(new rows in, the day's pointer moved) is one transaction and a reader sees either the old day
or the new one, never a mix. The replaced generation's rows are deleted afterwards.
"""
from __future__ import annotations

import gc
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError
from pydantic_core import to_json

from mqtt.models import ScheduleSnapshotRowsAdapter

SCHEMA = """
CREATE TABLE IF NOT EXISTS days (day TEXT PRIMARY KEY, version INTEGER NOT NULL, received TEXT NOT NULL,
                                 generation INTEGER NOT NULL, appointments INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS appointments (generation INTEGER NOT NULL, booking TEXT NOT NULL, last4 TEXT NOT NULL,
                                         birth_date TEXT NOT NULL, cancelled INTEGER NOT NULL, start REAL NOT NULL,
                                         body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS appointments_code ON appointments (generation, booking);
CREATE INDEX IF NOT EXISTS appointments_phone ON appointments (generation, last4, birth_date);
CREATE TABLE IF NOT EXISTS doctors (generation INTEGER NOT NULL, specialty TEXT NOT NULL, id TEXT NOT NULL,
                                    name TEXT NOT NULL, room TEXT NOT NULL, floor INTEGER NOT NULL,
                                    booked INTEGER NOT NULL, seen INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS doctors_generation ON doctors (generation);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


def connect(path: str | Path, *, bulk: bool = False) -> sqlite3.Connection:
    """A connection to the cache file; `bulk` for taking a day in or deleting one (not look-ups)."""
    conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")  # a cache: the core publishes it again, retained
    if bulk:
        # with SQLite's default 2 MB of pages the random inserts into the code index keep evicting;
        # 64 MiB (while connected) took a 100,000-appointment day in 2.0 s instead of 2.7 s and
        # deleted the replaced one in 0.7 s instead of 1.1 s
        conn.execute("PRAGMA cache_size=-65536")
    conn.executescript(SCHEMA)
    return conn


@dataclass(frozen=True)
class Ingested:
    taken: bool
    reason: str  # why not, or "taken"; never personal data (no input values)
    day: str | None = None
    version: int | None = None
    generation: int | None = None
    appointments: int = 0
    seconds: float = 0.0


def _reason(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"]) or "(payload)"
    return f"malformed: {loc}: {err['msg']} ({exc.error_count()} errors)"


@contextmanager
def _without_cycle_collection() -> Iterator[None]:
    """100,000 appointments become about a million new objects, none of them in a cycle: each
    full collection the allocations trigger walks them all and finds nothing (about 0.1 s each,
    three per large day). Reference counting still frees everything as usual."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def ingest(path: str | Path, topic_day: str, payload: bytes, received: str, floor_version: int | None) -> Ingested:
    """Take `payload` (from core/schedule/{topic_day}) unless it is malformed, its body names
    another day, or its version is below `floor_version` (None: any version is taken)."""
    with _without_cycle_collection():
        return _ingest(path, topic_day, payload, received, floor_version)


def _ingest(path: str | Path, topic_day: str, payload: bytes, received: str, floor_version: int | None) -> Ingested:
    started = time.perf_counter()
    try:
        snapshot = ScheduleSnapshotRowsAdapter.validate_json(payload, strict=True)
    except ValidationError as exc:
        return Ingested(False, _reason(exc))
    except (ValueError, RecursionError, MemoryError) as exc:  # pragma: no cover - pydantic reports most as above
        return Ingested(False, f"malformed: {type(exc).__name__}")
    day, version = snapshot["date"].isoformat(), snapshot["version"]
    if day != topic_day:
        return Ingested(False, f"its body is for {day}, its topic for {topic_day}", day, version)
    if floor_version is not None and version < floor_version:
        return Ingested(False, f"version {version} is older than the cached {floor_version}", day, version)
    rows, doctors = [], {}
    for a in snapshot["appointments"]:
        patient, doc = a["patient"], a["doctor"]
        booked = a["status"] == "booked"
        rows.append((a["booking"], patient["phone_last4"], patient["birth_date"].isoformat(), int(not booked),
                     a["start"].timestamp(), to_json(a)))
        # the least-loaded rule counts booked appointments per doctor; room and floor of the first seen
        entry = doctors.get(doc["id"])
        if entry is None:
            doctors[doc["id"]] = entry = [doc["specialty"], doc["id"], doc["name"], a["room"], a["floor"], 0,
                                          len(doctors)]
        entry[5] += booked
    conn = connect(path, bulk=True)
    try:
        conn.execute("BEGIN IMMEDIATE")
        generation = conn.execute("INSERT INTO counters VALUES ('generation', 1) ON CONFLICT (name) "
                                  "DO UPDATE SET value = value + 1 RETURNING value").fetchone()[0]
        conn.executemany(f"INSERT INTO appointments VALUES ({generation}, ?, ?, ?, ?, ?, ?)", rows)
        conn.executemany(f"INSERT INTO doctors VALUES ({generation}, ?, ?, ?, ?, ?, ?, ?)", doctors.values())
        conn.execute("INSERT OR REPLACE INTO days VALUES (?, ?, ?, ?, ?)", (day, version, received, generation,
                                                                             len(rows)))
        conn.execute("COMMIT")
    finally:
        conn.close()
    return Ingested(True, "taken", day, version, generation, len(rows), time.perf_counter() - started)


def collect_garbage(path: str | Path) -> int:
    """Delete the rows of generations no day points to any more (replaced days). Done after the
    swap, not in it: readers never see them (they look up through `days`), and deleting 100,000
    rows would add a second to every acceptance."""
    conn = connect(path, bulk=True)
    try:
        live = {g for (g,) in conn.execute("SELECT generation FROM days")}
        stale = [g for (g,) in conn.execute("SELECT generation FROM appointments GROUP BY generation")
                 if g not in live]
        stale += [g for (g,) in conn.execute("SELECT generation FROM doctors GROUP BY generation")
                  if g not in live and g not in stale]
        for generation in stale:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("DELETE FROM appointments WHERE generation = ?", (generation,))
            conn.execute("DELETE FROM doctors WHERE generation = ?", (generation,))
            conn.execute("COMMIT")
        return len(stale)
    finally:
        conn.close()


def forget_before(path: str | Path, cutoff_day: str) -> int:
    """Delete the cached days before `cutoff_day` (personal data past its retention)."""
    conn = connect(path, bulk=True)
    try:
        conn.execute("BEGIN IMMEDIATE")
        gone = conn.execute("DELETE FROM days WHERE day < ?", (cutoff_day,)).rowcount
        conn.execute("COMMIT")
    finally:
        conn.close()
    collect_garbage(path)
    return gone
