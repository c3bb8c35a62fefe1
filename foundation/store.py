"""The node's SQLite store: one file, WAL, synchronous=FULL; the controller is its only writer.

sqlite-utils creates the schema and serves reads. Writes that must be atomic with an outbox event
go through `Store.transaction()` and plain SQL (`tx.insert`): sqlite-utils' own insert() commits
whatever transaction is open (it wraps itself in `with conn:`), which would split a business row
from its event.
"""
from __future__ import annotations

import json
import sqlite3
import threading
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Callable, Iterator

import sqlite_utils

SCHEMA_VERSION = 1


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
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")  # an acknowledged event survives power loss
        conn.execute("PRAGMA foreign_keys=ON")
        self.conn = conn
        self.db = sqlite_utils.Database(conn)
        self.lock = threading.RLock()  # one writer at a time across the controller's threads
        self._create_schema()

    def _create_schema(self) -> None:
        with self.lock:
            if "meta" not in self.db.table_names():
                self.db["meta"].create({"key": str, "value": int}, pk="key")
            for create in _SCHEMA_HOOKS:
                create(self.db)
            self.db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)", (SCHEMA_VERSION,))

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """BEGIN IMMEDIATE ... COMMIT under the store lock; rollback on any exception."""
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                tx = Tx(self.conn)
                yield tx
                for hook in _joined.get():
                    hook(self, tx)
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            else:
                self.conn.execute("COMMIT")

    def meta(self, key: str, default: int = 0) -> int:
        with self.lock:
            row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row else default

    def query(self, sql: str, params: tuple | dict = ()) -> list[dict]:
        with self.lock:
            return list(self.db.query(sql, params))

    def close(self) -> None:
        with self.lock:
            self.conn.close()


_SCHEMA_HOOKS: list = []
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


def schema(fn):
    """Register a function that creates a module's tables (idempotent) when a Store opens."""
    _SCHEMA_HOOKS.append(fn)
    return fn
