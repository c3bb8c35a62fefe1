"""A full disk, for real: the store on a 2 MiB tmpfs filled up by another file. Writes fail as
`storage_full` (a node command's answer), the node reports its store as a device problem, and
everything recovers by itself once the other file is deleted: no restart, the WAL checkpointed
and bounded.

Mounting needs root; without it the same tests run against SQLite's `PRAGMA max_page_count`,
which fails writes with the same SQLITE_FULL (the fixture says which it used)."""
from __future__ import annotations

import errno
import json
import os
import subprocess
from pathlib import Path

import pytest

from foundation.store import WAL_SIZE_LIMIT_BYTES, StorageFull, Store
from kiosk.app import build_controller
from mqtt.client import MqttClient
from tests.conftest import make_config
from tests.support.waiting import wait_until

WAIT = 15.0


class SmallDisk:
    """A 2 MiB filesystem that can be filled by a filler file and freed by deleting it."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.filler = directory / "filler"
        self.mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(directory)],
                                      capture_output=True, check=False).returncode == 0
        self.stores: list[Store] = []

    @property
    def how(self) -> str:
        return "a 2 MiB tmpfs" if self.mounted else "PRAGMA max_page_count (mounting was refused)"

    def watch(self, store: Store) -> None:
        self.stores.append(store)

    def fill(self) -> None:
        if not self.mounted:
            for store in self.stores:
                with store.lock:
                    pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
                    store.conn.execute(f"PRAGMA max_page_count={pages}")
            return
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            for chunk in (1 << 16, 1 << 12, 1 << 9, 1):
                try:
                    while True:
                        os.write(fd, b"\0" * chunk)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC
        finally:
            os.close(fd)
        assert os.statvfs(self.directory).f_bavail == 0

    def free(self) -> None:
        if not self.mounted:
            for store in self.stores:
                with store.lock:
                    store.conn.execute("PRAGMA max_page_count=1073741823")
            return
        self.filler.unlink()

    def unmount(self) -> None:
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.directory)], check=False)


@pytest.fixture
def small_disk(tmp_path):
    directory = tmp_path / "small-disk"
    directory.mkdir()
    disk = SmallDisk(directory)
    print(f"full disk made with {disk.how}")
    yield disk
    disk.unmount()


def write_until_full(store: Store, limit: int = 5000) -> int:
    """Insert 2 KiB rows until the store refuses; returns how many went in."""
    for n in range(limit):
        try:
            with store.transaction() as tx:
                tx.execute("INSERT INTO junk (body) VALUES (?)", (os.urandom(1024).hex(),))
        except StorageFull:
            return n
    raise AssertionError(f"{limit} rows written to a full disk")


def test_a_full_disk_refuses_writes_then_recovers_by_itself_once_space_is_freed(small_disk):
    store = Store(small_disk.directory / "node.db", probe_interval_s=0.2)
    small_disk.watch(store)
    heard: list[bool] = []
    store.on_storage(heard.append)
    try:
        store.conn.execute("CREATE TABLE junk (body TEXT)")
        small_disk.fill()
        write_until_full(store)
        assert store.full and heard == [True]
        with pytest.raises(StorageFull), store.transaction() as tx:  # refused while full, the connection not stuck
            tx.execute("INSERT INTO junk (body) VALUES (?)", ("x" * 5000,))
        assert not store.conn.in_transaction
        small_disk.free()
        assert wait_until(lambda: heard == [True, False], timeout=WAIT), heard
        assert not store.full
        with store.transaction() as tx:
            tx.execute("INSERT INTO junk (body) VALUES (?)", ("after",))
        assert store.query("SELECT COUNT(*) AS n FROM junk WHERE body = 'after'")[0]["n"] == 1
        wal = Path(f"{store.path}-wal")
        assert not wal.exists() or wal.stat().st_size <= WAL_SIZE_LIMIT_BYTES
    finally:
        store.close()


def test_the_wal_is_bounded_after_a_big_transaction(tmp_path):
    store = Store(tmp_path / "node.db")
    try:
        store.conn.execute("CREATE TABLE big (body TEXT)")
        with store.transaction() as tx:  # about 12 MiB in one transaction: the WAL must hold it all
            tx.conn.executemany("INSERT INTO big (body) VALUES (?)", ((os.urandom(2048).hex(),) for _ in range(3000)))
        with store.transaction() as tx:  # the next writer restarts the WAL, cut to its limit
            tx.execute("INSERT INTO big (body) VALUES ('small')")
        store.conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        with store.transaction() as tx:
            tx.execute("INSERT INTO big (body) VALUES ('small')")
        assert Path(f"{store.path}-wal").stat().st_size <= WAL_SIZE_LIMIT_BYTES
    finally:
        store.close()


def test_node_answers_storage_full_reports_its_store_and_recovers(small_disk, tmp_path, broker):
    kiosk = {"printer-1": {"kind": "printer", "protocol": "escpos", "url": "sim://printer", "role": "kiosk-1"}}
    config = make_config(tmp_path, broker.url, devices=kiosk, node={"store": str(small_disk.directory / "node.db")})
    controller = build_controller(config)
    small_disk.watch(controller.store)
    controller.store.probe_interval_s = 0.2
    controller.start()
    statuses: list[dict] = []
    ui = MqttClient("127.0.0.1", broker.port, "ui-disk", role="kiosk",
                    reply_topic=controller.topics.reply("kiosk", "ui-disk"))
    ui.subscribe(controller.topics.device_status("store"), lambda m: statuses.append(json.loads(m.payload)))
    ui.start()
    feedback = {"kiosk": "kiosk-1", "score": 9}
    try:
        assert ui.wait_connected(WAIT) and controller.client.wait_connected(WAIT)
        assert ui.request(controller.topics.command("feedback"), feedback, timeout=WAIT).status == "ok"
        small_disk.fill()
        answers = []
        for _ in range(200):  # a little room may be left in pages already allocated
            answer = ui.request(controller.topics.command("feedback"), feedback, timeout=WAIT)
            answers.append(answer)
            if answer.status == "error":
                break
        assert answers[-1].status == "error" and answers[-1].error.code == "storage_full", answers[-1]
        assert wait_until(lambda: statuses and statuses[-1]["state"] == "fault", timeout=WAIT)
        assert statuses[-1]["problems"] == ["storage_full"] and statuses[-1]["kind"] == "store"
        # read-only commands still serve
        assert ui.request(controller.topics.command("ping"), {}, timeout=WAIT).status == "ok"

        small_disk.free()
        assert wait_until(lambda: statuses[-1]["state"] == "ready", timeout=WAIT), statuses
        assert ui.request(controller.topics.command("feedback"), feedback, timeout=WAIT).status == "ok"
        problems = [json.loads(r["data"]) for r in controller.store.query(
            "SELECT data FROM outbox WHERE type = 'device.problem' ORDER BY seq")]
        assert problems == [{"device": "store", "kind": "store", "problem": "storage_full", "cleared": False},
                            {"device": "store", "kind": "store", "problem": "storage_full", "cleared": True}]
    finally:
        ui.stop()
        controller.stop()
