"""The node's SQLite store: one file, WAL, synchronous=FULL; the controller is its only writer.

sqlite-utils creates the schema and serves reads. Writes that must be atomic with an outbox event
go through `Store.transaction()` and plain SQL (`tx.insert`): sqlite-utils' own insert() commits
whatever transaction is open (it wraps itself in `with conn:`), which would split a business row
from its event.
"""
from __future__ import annotations

import errno
import json
import logging
import sqlite3
import threading
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Callable, Iterator

import sqlite_utils

from foundation.store_recovery import (StoreDamaged, check_integrity, counter_floor, is_damage, move_aside,
                                       open_read_only, read_meta)

log = logging.getLogger("vestibule.store")

SCHEMA_VERSION = 1


# The WAL is checkpointed every this many pages and cut back to this size after a checkpoint:
# without a limit it keeps the size of the largest transaction ever (a day's schedule).
WAL_AUTOCHECKPOINT_PAGES = 1000
WAL_SIZE_LIMIT_BYTES = 4 * 1024 * 1024
FULL_PROBE_INTERVAL_S = 1.0


class StoreError(Exception):
    """The store cannot be opened or used; the message says what and where."""


class StorageFull(StoreError):
    """A write failed for lack of disk space; nothing of it was kept (the transaction rolled back)."""

    code = "storage_full"


def is_storage_full(exc: BaseException | None) -> bool:
    """True for SQLITE_FULL or ENOSPC/EDQUOT anywhere in an exception's chain."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, StorageFull):
            return True
        code = getattr(exc, "sqlite_errorcode", None)
        if isinstance(exc, sqlite3.Error) and code is not None and (code & 0xFF) == sqlite3.SQLITE_FULL:
            return True
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


class Tx:
    """Raw-SQL writes inside one open transaction."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def execute(self, sql: str, params: tuple | dict = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def insert(self, table: str, row: dict[str, Any], *, replace: bool = False) -> int:
        cols = ", ".join(f'"{c}"' for c in row)
        marks = ", ".join("?" for _ in row)
        verb = "INSERT OR REPLACE" if replace else "INSERT"
        values = tuple(json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else v for v in row.values())
        return self.conn.execute(f'{verb} INTO "{table}" ({cols}) VALUES ({marks})', values).lastrowid

    def meta_get(self, key: str, default: int = 0) -> int:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row else default

    def meta_set(self, key: str, value: int) -> None:
        self.conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def meta_increment(self, key: str) -> int:
        value = self.meta_get(key) + 1
        self.meta_set(key, value)
        return value


class Store:
    """The store, checked at open. A damaged file is kept aside and a fresh store started (see
    foundation/store_recovery.py); a full disk turns writes into StorageFull, and a probe thread
    notices when space is back (then `on_storage(False)` listeners hear of it)."""

    def __init__(self, path: str | Path, *, recover: bool = True, probe_interval_s: float = FULL_PROBE_INTERVAL_S):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()  # one writer at a time across the controller's threads
        self.probe_interval_s = probe_interval_s
        self.full = False
        self.recovered_from: Path | None = None
        self._listeners: list = []
        self._probe: threading.Thread | None = None
        self._closed = threading.Event()
        try:
            self._open()
        except StoreDamaged as damage:
            if not recover:
                raise StoreError(str(damage)) from None
            self._recover(damage)

    def _open(self) -> None:
        conn = None
        try:
            conn = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None, timeout=30)
            check_integrity(conn, self.path)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")  # an acknowledged event survives power loss
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
            conn.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT_BYTES}")
            self.conn = conn
            self.db = sqlite_utils.Database(conn)
            self._create_schema()
        except StoreDamaged:
            conn.close()
            raise
        except sqlite3.Error as exc:
            if conn is not None:
                conn.close()
            if is_damage(exc):
                raise StoreDamaged(self.path, str(exc)) from None
            raise StoreError(f"store {self.path} cannot be opened: {exc}") from None

    def _recover(self, damage: StoreDamaged) -> None:
        aside = move_aside(self.path)
        log.error("%s. It was moved aside to %s and a fresh store started; undelivered events that "
                  "still read are carried over and the event counters continue above the old ones "
                  "(docs/store.md)", damage, aside.name)
        self._open()
        self.recovered_from = aside
        old = open_read_only(aside)
        try:
            meta = read_meta(old)
            with self.transaction() as tx:
                for key, value in meta.items():
                    if key != "schema_version":
                        tx.meta_set(key, value)
        finally:
            if old is not None:
                old.close()

    # -- after a recovery: each owner of a table carries over what it needs -------------------
    def carry_over(self, take, what: str) -> int:
        """Run `take(damaged: sqlite3.Connection, tx: Tx) -> int` over the damaged file kept aside,
        inside one transaction of this store; 0 when this store was not recovered."""
        if self.recovered_from is None:
            return 0
        old = open_read_only(self.recovered_from)
        if old is None:
            return 0
        try:
            with self.transaction() as tx:
                carried = take(old, tx)
        finally:
            old.close()
        log.warning("carried %d %s from the damaged store", carried, what)
        return carried

    def continue_counters(self, *keys: str) -> None:
        """After a recovery, counters whose values must never repeat (event seq, session) go on
        above anything the damaged store may have used, even if its meta did not read."""
        if self.recovered_from is None:
            return
        floor = counter_floor()
        with self.transaction() as tx:
            for key in keys:
                tx.meta_set(key, max(tx.meta_get(key), floor))

    def _create_schema(self) -> None:
        with self.lock:
            if "meta" not in self.db.table_names():
                self.db["meta"].create({"key": str, "value": int}, pk="key")
            self.db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)", (SCHEMA_VERSION,))

    def ensure(self, *creators) -> None:
        """Run table creators (idempotent functions of the sqlite-utils Database) under the lock.
        Each owner of a table calls this for its own tables: a store holds only what its
        process uses (the stand-in core's store never gets the node's tables, nor the reverse)."""
        with self.lock:
            for create in creators:
                create(self.db)

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """BEGIN IMMEDIATE ... COMMIT under the store lock; rollback on any exception, a failed
        COMMIT included (else the connection would stay inside a transaction for good).
        A full disk raises StorageFull."""
        with self.lock:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                try:
                    tx = Tx(self.conn)
                    yield tx
                    for hook in _joined.get():  # e.g. a request's retry key, atomically with its effects
                        hook(self, tx)
                    self.conn.execute("COMMIT")
                except BaseException:
                    if self.conn.in_transaction:
                        try:
                            self.conn.execute("ROLLBACK")
                        except sqlite3.Error as exc:
                            log.error("rollback failed: %s", exc)
                    raise
            except sqlite3.Error as exc:
                if is_storage_full(exc):
                    self._storage_full()
                    raise StorageFull(f"store {self.path.name}: the disk is full ({exc})") from exc
                raise

    # -- a full disk --------------------------------------------------------------------------
    def on_storage(self, listener) -> None:
        """`listener(full: bool)` runs when the disk fills up and when writes work again."""
        self._listeners.append(listener)

    def _storage_full(self) -> None:
        if self.full:
            return
        self.full = True
        log.error("store %s: the disk is full; writes are refused until space is freed", self.path)
        self._tell(True)
        self._probe = threading.Thread(target=self._wait_for_space, name="store-space", daemon=True)
        self._probe.start()

    def _wait_for_space(self) -> None:
        while not self._closed.wait(self.probe_interval_s):
            if self._writable():
                self.full = False
                log.warning("store %s: writes work again", self.path)
                self._tell(False)
                return

    def _writable(self) -> bool:
        """Checkpoint the WAL (giving its pages back) and try one small write."""
        with self.lock:
            if self._closed.is_set():
                return False
            try:
                self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                self.conn.execute("BEGIN IMMEDIATE")
                self.conn.execute("UPDATE meta SET value = value WHERE key = 'schema_version'")
                self.conn.execute("COMMIT")
                return True
            except sqlite3.Error:
                if self.conn.in_transaction:
                    try:
                        self.conn.execute("ROLLBACK")
                    except sqlite3.Error:
                        pass
                return False

    def _tell(self, full: bool) -> None:
        for listener in self._listeners:
            try:
                listener(full)
            except Exception:
                log.exception("storage listener failed")

    # -- reads --------------------------------------------------------------------------------
    def meta(self, key: str, default: int = 0) -> int:
        with self.lock:
            row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row else default

    def query(self, sql: str, params: tuple | dict = ()) -> list[dict]:
        with self.lock:
            return list(self.db.query(sql, params))

    def close(self) -> None:
        self._closed.set()
        with self.lock:
            self.conn.close()


_joined: ContextVar[tuple] = ContextVar("store_joined_hooks", default=())


@contextmanager
def joined_to_commits(hook: Callable[[Store, Tx], None]) -> Iterator[None]:
    """Inside this block (this thread's context), `hook(store, tx)` writes into every transaction
    before it commits: e.g. the mark that a request's effects are committed, atomically with them."""
    token = _joined.set(_joined.get() + (hook,))
    try:
        yield
    finally:
        _joined.reset(token)
