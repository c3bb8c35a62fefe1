"""The outbox's guarantees at the store level: atomic with the business row, seq across restarts, a bound."""
from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from ulid import ULID

from foundation.store import Store
from mqtt.outbox import Outbox, OutboxFull

TZ = ZoneInfo("Europe/Moscow")
TICKET = {"ticket": "A001", "service": "registration", "priority": False, "channel": "kiosk",
          "booking": None, "kiosk": "kiosk-1", "printed": True}


def _business_table(db):
    if "test_business" not in db.table_names():
        db["test_business"].create({"id": int, "what": str}, pk="id")


def outbox_at(path, **kwargs):
    store = Store(path)
    store.ensure(_business_table)
    return store, Outbox(store, site="spb-dunaisky", node="entrance-1", tz=TZ, **kwargs)


def test_event_and_business_row_commit_together_or_not_at_all(tmp_path):
    store, outbox = outbox_at(tmp_path / "n.db")
    with pytest.raises(RuntimeError):
        with store.transaction() as tx:
            tx.insert("test_business", {"what": "ticket A001"})
            outbox.append(tx, "ticket.issued", TICKET)
            raise RuntimeError("crash after both writes, before commit")
    assert outbox.backlog() == 0
    assert store.query("SELECT COUNT(*) AS n FROM test_business")[0]["n"] == 0
    with store.transaction() as tx:
        tx.insert("test_business", {"what": "ticket A002"})
        outbox.append(tx, "ticket.issued", TICKET)
    assert outbox.backlog() == 1
    assert store.query("SELECT COUNT(*) AS n FROM test_business")[0]["n"] == 1


def test_seq_keeps_increasing_across_restarts_and_pruning(tmp_path):
    store, outbox = outbox_at(tmp_path / "n.db")
    for _ in range(3):
        outbox.emit("ticket.issued", TICKET)
    outbox.delivered([row.seq for row in outbox.pending(0, 10)])
    store.close()
    store, outbox = outbox_at(tmp_path / "n.db")
    outbox.emit("ticket.issued", TICKET)
    assert [row.seq for row in outbox.pending(0, 10)] == [4]


def test_event_ids_are_ulids_and_envelopes_validate(tmp_path):
    store, outbox = outbox_at(tmp_path / "n.db")
    event_id = outbox.emit("ticket.issued", TICKET)
    ULID.from_str(event_id)
    envelope = outbox.envelope(outbox.pending(0, 1)[0], historical=True)
    assert envelope.id == event_id and envelope.seq == 1 and envelope.historical
    assert envelope.ts.utcoffset().total_seconds() == 3 * 3600  # the site's offset, not UTC


def test_relay_encoding_matches_the_envelope_model(tmp_path):
    from mqtt.models import EventEnvelope
    from mqtt.relay import Relay
    store, outbox = outbox_at(tmp_path / "n.db")
    outbox.emit("ticket.issued", TICKET)
    row = outbox.pending(0, 1)[0]

    class _Topics:
        site, node_id = "spb-dunaisky", "entrance-1"
    relay = Relay.__new__(Relay)
    relay._prefix = '"site":"spb-dunaisky","node":"entrance-1",'
    decoded = EventEnvelope.model_validate_json(relay._encode(row, False))
    assert decoded == outbox.envelope(row, historical=False)


def test_invalid_event_data_is_refused_before_it_reaches_the_outbox(tmp_path):
    store, outbox = outbox_at(tmp_path / "n.db")
    with pytest.raises(ValueError):
        outbox.emit("ticket.issued", {**TICKET, "ticket": "not a ticket"})
    with pytest.raises(ValueError):
        outbox.emit("no.such.event", {})
    assert outbox.backlog() == 0


def test_full_backlog_refuses_new_actions_and_keeps_what_it_has(tmp_path):
    store, outbox = outbox_at(tmp_path / "n.db", max_rows=1000)
    with store.transaction() as tx:
        for _ in range(1000):
            outbox.append(tx, "ticket.issued", TICKET)
    with pytest.raises(OutboxFull) as refused:
        outbox.emit("ticket.issued", TICKET)
    assert refused.value.code == "backlog_full"
    assert outbox.backlog() == 1000


def count_undelivered(store) -> int:
    return store.query("SELECT COUNT(*) AS n FROM outbox WHERE delivered_ns IS NULL")[0]["n"]


def test_backlog_counter_matches_the_rows_through_rollbacks_repeated_acks_and_restarts(tmp_path):
    store, outbox = outbox_at(tmp_path / "n.db")
    with store.transaction() as tx:
        for _ in range(50):
            outbox.append(tx, "ticket.issued", TICKET)
    with pytest.raises(RuntimeError), store.transaction() as tx:
        outbox.append(tx, "ticket.issued", TICKET)
        raise RuntimeError("the business action failed: its event goes too")
    assert outbox.backlog() == count_undelivered(store) == 50
    outbox.delivered([7, 5, 6, 20, 5, 49, 48])  # out of order, a duplicate: runs 5-7, 20, 48-49
    assert outbox.backlog() == count_undelivered(store) == 44
    outbox.delivered([5, 6, 7, 1])  # acked again after a reconnect: counted once
    assert outbox.backlog() == count_undelivered(store) == 43
    store.close()
    store, outbox = outbox_at(tmp_path / "n.db")
    assert outbox.backlog() == count_undelivered(store) == 43
    outbox.delivered([row.seq for row in outbox.pending(0, 1000)])
    assert outbox.backlog() == count_undelivered(store) == 0


def test_backlog_is_read_from_a_counter_not_counted(tmp_path):
    """`ping` asks for the backlog on every call: it must not scan the outbox."""
    store, outbox = outbox_at(tmp_path / "n.db")
    statements: list[str] = []
    store.conn.set_trace_callback(statements.append)
    outbox.backlog()
    store.conn.set_trace_callback(None)
    assert statements and not any("from outbox" in s.lower() for s in statements), statements


def test_marking_rows_delivered_leaves_the_store_durable_for_everything_else(tmp_path):
    store, outbox = outbox_at(tmp_path / "n.db")
    outbox.emit("ticket.issued", TICKET)
    outbox.delivered([1])
    assert store.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL again
    assert outbox.backlog() == 0
