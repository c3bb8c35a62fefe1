"""First answers of idempotent requests, kept in the node's store so a retry gets them again.

A request opts in per route (`Dispatcher.route(..., idempotent=True)`). Its key is the asker's
reply topic (one per client), the request name and its `transaction`. While its handler runs,
every store transaction it commits also writes the key's row (foundation.store.joined_to_commits),
so "this request changed something" is committed atomically with the change itself; the answer
is added to the row before it is published. A retry with the same key then:
  - gets the first answer again, whatever happened to the first one on the way (lost, the
    controller killed before it went out), and nothing is issued again;
  - gets `in_doubt` in the one case the first answer is unknown: its effects committed but the
    controller died in the instant before the answer was written (nothing is issued again);
  - runs again when the first attempt changed nothing (e.g. core_offline): it cannot issue twice.
Rows are kept KEEP_S, well past any kiosk's retry window, then pruned.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from foundation.store import Store, joined_to_commits
from mqtt.models import AnswerAdapter, ErrorAnswer, OkAnswer

KEEP_S = 3600.0
Key = tuple[str, str, str]  # (reply topic, request name, transaction)


class ReplyBook:
    def __init__(self, store: Store, keep_s: float = KEEP_S):
        self.store = store
        self.keep_s = keep_s
        with store.lock:
            store.conn.execute("CREATE TABLE IF NOT EXISTS replies (client TEXT NOT NULL, command TEXT NOT NULL, "
                               "txn TEXT NOT NULL, at REAL NOT NULL, answer TEXT, PRIMARY KEY (client, command, txn))")
            store.conn.execute("CREATE INDEX IF NOT EXISTS replies_at ON replies (at)")
        self._locks = [threading.Lock() for _ in range(64)]
        self._last_prune = 0.0

    @contextmanager
    def serving(self, key: Key) -> Iterator[None]:
        """One attempt of a key at a time: a retry that arrives while the first runs waits for it."""
        with self._locks[hash(key) % len(self._locks)]:
            yield

    def first(self, key: Key) -> OkAnswer | ErrorAnswer | None:
        rows = self.store.query("SELECT answer FROM replies WHERE client = ? AND command = ? AND txn = ? AND at > ?",
                                (*key, time.time() - self.keep_s))
        if not rows:
            return None
        if rows[0]["answer"] is None:
            return ErrorAnswer(error={"code": "in_doubt", "message": "this request was carried out, but its answer "
                                      "was lost with the controller; nothing was issued again"}, transaction=key[2])
        return AnswerAdapter.validate_json(rows[0]["answer"])

    @contextmanager
    def recording(self, key: Key) -> Iterator[None]:
        """Marks the key in every transaction the handler commits inside this block."""
        def mark(store: Store, tx) -> None:
            if store is self.store:
                tx.execute("INSERT OR IGNORE INTO replies VALUES (?, ?, ?, ?, NULL)", (*key, time.time()))

        with joined_to_commits(mark):
            yield

    def keep(self, key: Key, answer: OkAnswer | ErrorAnswer) -> bool:
        """Store the answer if the attempt changed something (its key was marked); True if kept."""
        with self.store.transaction() as tx:
            kept = tx.execute("UPDATE replies SET answer = ? WHERE client = ? AND command = ? AND txn = ?",
                              (answer.model_dump_json(), *key)).rowcount > 0
        if time.monotonic() - self._last_prune > 60:
            self._last_prune = time.monotonic()
            self.prune()
        return kept

    def prune(self) -> int:
        with self.store.transaction() as tx:
            return tx.execute("DELETE FROM replies WHERE at < ?", (time.time() - self.keep_s,)).rowcount
