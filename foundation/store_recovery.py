"""A damaged store file: how it is recognised, kept aside, and what is carried into a fresh one.

Damage is what SQLite itself calls corruption: `PRAGMA quick_check` not answering "ok", or an
error coded SQLITE_CORRUPT or SQLITE_NOTADB (a truncated file, a file that is not SQLite).
Anything else (a locked file, an I/O error, a full disk) is not damage: the file is left alone.

The damaged file (and its -wal and -shm) is renamed `<store>.damaged-<UTC time>` and kept for a
technician. From it, read-only and as far as it reads, the fresh store gets every `meta` row;
each owner of a table then takes what it needs as it opens (`Store.carry_over`: the outbox
takes its undelivered events, with their ids, so the core deduplicates anything it already
had), and counters that must never repeat (the outbox's seq and the session,
`Store.continue_counters`) go on from at least the current time in milliseconds, above any
value the old file can have reached, so nothing new repeats a number the core already saw.
See docs/store.md.
"""
from __future__ import annotations

import logging
import os
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger("vestibule.store")

DAMAGE_CODES = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})
SIDE_FILES = ("-wal", "-shm", "-journal")


class StoreDamaged(Exception):
    def __init__(self, path: Path, reason: str):
        super().__init__(f"store {path} is damaged: {reason}")
        self.path = path
        self.reason = reason


def is_damage(exc: BaseException) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(exc, sqlite3.DatabaseError) and code is not None and (code & 0xFF) in DAMAGE_CODES


def check_integrity(conn: sqlite3.Connection, path: Path) -> None:
    """PRAGMA quick_check; raises StoreDamaged with SQLite's first findings."""
    try:
        rows = [row[0] for row in conn.execute("PRAGMA quick_check(5)").fetchall()]
    except sqlite3.DatabaseError as exc:
        if is_damage(exc):
            raise StoreDamaged(path, str(exc)) from None
        raise
    if rows != ["ok"]:
        raise StoreDamaged(path, "; ".join(rows)[:300])


def move_aside(path: Path, now: datetime | None = None) -> Path:
    """Rename the store and its side files to `<name>.damaged-<UTC>`; returns the new store path."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S.%fZ")
    aside = path.with_name(f"{path.name}.damaged-{stamp}")
    os.replace(path, aside)
    for suffix in SIDE_FILES:
        side = Path(f"{path}{suffix}")
        if side.exists():
            os.replace(side, Path(f"{aside}{suffix}"))
    return aside


def open_read_only(path: Path) -> sqlite3.Connection | None:
    try:
        return sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error:
        return None


def read_meta(conn: sqlite3.Connection | None) -> dict[str, int]:
    """Every meta row that reads (the damaged file may fail part-way)."""
    meta: dict[str, int] = {}
    if conn is None:
        return meta
    try:
        for key, value in conn.execute("SELECT key, value FROM meta"):
            if isinstance(key, str) and isinstance(value, int):
                meta[key] = value
    except sqlite3.Error as exc:
        log.warning("damaged store: meta read up to %d rows (%s)", len(meta), exc)
    return meta


def counter_floor() -> int:
    """A value above any counter a store can have reached: the time in milliseconds."""
    return time.time_ns() // 1_000_000
