"""Taking a day into the cache's SQLite file: no cycle collection runs over its objects meanwhile,
and the collector is left as it was found, whether the day was taken or refused."""
from __future__ import annotations

import gc
from datetime import date, datetime, timezone

import pytest

from kiosk.node import schedule_ingest
from kiosk.node.schedule_ingest import ingest
from tests.support.snapshots import snapshot_payload

DAY = date(2026, 12, 1)
MORNING = datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc)


@pytest.fixture
def collections(monkeypatch):
    """Generations of the collections that started while a day was being validated and indexed
    (those the allocations trigger once the collector is enabled again come after: not counted)."""
    seen: list[int] = []
    taking = []
    inner = schedule_ingest._ingest

    def observed(*args):
        taking.append(True)
        try:
            return inner(*args)
        finally:
            taking.clear()

    def note(phase, info):
        if phase == "start" and taking:
            seen.append(info["generation"])
    monkeypatch.setattr(schedule_ingest, "_ingest", observed)
    gc.callbacks.append(note)
    yield seen
    gc.callbacks.remove(note)
    gc.enable()


def test_no_cycle_collection_runs_while_a_large_day_is_taken(tmp_path, collections):
    payload = snapshot_payload(DAY, 1, [f"BK-{i:06d}" for i in range(20_000)], MORNING)
    gc.enable()
    result = ingest(tmp_path / "cache.db", DAY.isoformat(), payload, "now", None)
    assert result.taken and result.appointments == 20_000
    assert collections == []  # 20,000 appointments allocate far past generation 0's threshold of 700
    assert gc.isenabled()


def test_a_refused_day_leaves_the_collector_enabled(tmp_path, collections):
    gc.enable()
    result = ingest(tmp_path / "cache.db", DAY.isoformat(), b'{"date": "2026-12-01", "version": "x"}', "now", None)
    assert not result.taken and result.reason.startswith("malformed")
    assert gc.isenabled()


def test_a_collector_disabled_by_the_caller_stays_disabled(tmp_path, collections):
    gc.disable()
    payload = snapshot_payload(DAY, 1, ["BK-000001"], MORNING)
    assert ingest(tmp_path / "cache.db", DAY.isoformat(), payload, "now", None).taken
    assert not gc.isenabled()


def test_bulk_connections_get_a_large_page_cache_and_look_ups_the_default(tmp_path):
    bulk = schedule_ingest.connect(tmp_path / "cache.db", bulk=True)
    reads = schedule_ingest.connect(tmp_path / "cache.db")
    try:
        assert bulk.execute("PRAGMA cache_size").fetchone()[0] == -65536  # KiB: 64 MiB while connected
        assert reads.execute("PRAGMA cache_size").fetchone()[0] == -2000  # SQLite's default
    finally:
        bulk.close()
        reads.close()
