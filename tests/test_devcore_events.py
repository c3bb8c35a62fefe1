"""Node events into the stand-in: dedup by id, malformed ones counted, the persistent session,
and the demo calls they trigger."""
from __future__ import annotations

import json

import pytest

from booking_core.harness import Peer, clock_at, envelope, start_core
from booking_core.records import doctors_of
from mqtt.models import CallCommand

TIMEOUT = 15.0


def ticket_issued(ticket: str, service: str = "registration", booking: str | None = None) -> dict:
    return {"ticket": ticket, "service": service, "priority": False, "channel": "kiosk", "booking": booking,
            "kiosk": "kiosk-1", "printed": True}


@pytest.fixture
def peer(broker, node_config):
    p = Peer("127.0.0.1", broker.port, node_config.site.id)
    p.watch(p.topics.core_cmd_call)
    p.start()
    yield p
    p.stop()


@pytest.fixture
def core(node_config, tmp_path):
    c = start_core(node_config, tmp_path / "core.db", clock=clock_at(node_config.site.tz, 10, 7))
    yield c
    c.stop()


def calls(peer) -> list[CallCommand]:
    return [CallCommand.model_validate_json(m.payload) for m in peer.received if m.topic.endswith("/core/cmd/call")]


def wait_calls(peer, n: int) -> list[CallCommand]:
    peer.wait_for(lambda m: len(calls(peer)) >= n, TIMEOUT * 2)
    return calls(peer)


def test_the_same_event_twice_is_stored_once_and_counted_as_duplicate(core, peer, node_config):
    site = node_config.site.id
    first = envelope("ticket.issued", ticket_issued("R001"), site=site, seq=1)
    peer.publish_event(first)
    peer.publish_event(first.model_copy(update={"historical": True}))  # redelivered late: same id
    second = envelope("ticket.issued", ticket_issued("R002"), site=site, seq=2)
    peer.publish_event(second)
    assert core.wait_for_events(2, TIMEOUT)
    assert core.inbox_ids() == [first.id, second.id]
    assert core.duplicates_seen == 1
    assert core.inbox()[0] == first


def test_malformed_events_are_counted_not_stored_and_the_core_keeps_serving(core, peer, node_config):
    site = node_config.site.id
    evt = peer.topics.node("entrance-1").event
    good = envelope("ticket.issued", ticket_issued("R003"), site=site)
    peer.publish_raw(evt("ticket.issued"), b"\xff not json")
    peer.publish_raw(evt("ticket.issued"), good.model_dump_json().replace(good.id, "not-a-ulid").encode())
    peer.publish_raw(evt("checkin.completed"), good.model_dump_json().encode())  # type differs from the topic
    bad_data = envelope("ticket.issued", {"ticket": "nope"}, site=site)
    peer.publish_event(bad_data)
    other_site = envelope("ticket.issued", ticket_issued("R004"), site="spb-elsewhere")
    peer.publish_raw(evt("ticket.issued"), other_site.model_dump_json().encode())
    peer.publish_event(good)
    assert core.wait_for_events(1, TIMEOUT)
    assert core.inbox_ids() == [good.id]
    assert core.malformed_events == 5
    a = next(a for a in core.appointments() if a.status == "booked")
    assert peer.request("booking.lookup", {"by": "code", "code": a.booking}).status == "ok"


def test_events_sent_while_the_core_is_stopped_arrive_after_it_restarts(node_config, tmp_path, peer):
    db, clock = tmp_path / "core.db", clock_at(node_config.site.tz, 11, 0)
    first = start_core(node_config, db, client_id="core-under-test", clock=clock)
    version = first.snapshot_version()
    first.stop()
    sent = [envelope("ticket.issued", ticket_issued(f"R10{i}"), site=node_config.site.id, seq=i + 1) for i in range(3)]
    for env in sent:
        peer.publish_event(env)  # the broker queues them in the stand-in's persistent session
    second = start_core(node_config, db, client_id="core-under-test", clock=clock)
    try:
        assert second.wait_for_events(3, TIMEOUT)
        assert second.inbox_ids() == [e.id for e in sent]
        assert second.snapshot_version() == version  # the same day is kept, not regenerated
    finally:
        second.stop()


def test_demo_core_calls_an_issued_ticket_with_a_valid_call_command(node_config, tmp_path, peer):
    core = start_core(node_config, tmp_path / "core.db", call_interval_s=0.3, repeat_one_in=0)
    try:
        peer.publish_event(envelope("ticket.issued", ticket_issued("R005"), site=node_config.site.id))
        call = wait_calls(peer, 1)[0]
    finally:
        core.stop()
    assert call.ticket == "R005" and call.room == node_config.service("registration").room
    assert call.service == "registration" and call.call_id.startswith("c-") and call.repeat is False


def test_demo_core_calls_oldest_ticket_first_each_once_and_a_checked_in_one_to_its_doctors_room(
        node_config, tmp_path, peer):
    core = start_core(node_config, tmp_path / "core.db", call_interval_s=0.3, repeat_one_in=0)
    try:
        a = next(x for x in core.appointments() if x.status == "booked")
        site = node_config.site.id
        peer.publish_event(envelope("ticket.issued", ticket_issued("L001", service="lab"), site=site, seq=1))
        peer.publish_event(envelope("checkin.completed", {
            "booking": a.booking, "ticket": "T001", "doctor_id": a.doctor_id, "room": a.room,
            "start": a.start.isoformat(), "arrival": "on_time", "route": "doctor"}, site=site, seq=2))
        peer.publish_event(envelope("ticket.issued", ticket_issued("T001", service="therapist", booking=a.booking),
                                    site=site, seq=3))
        peer.publish_event(envelope("ticket.issued", ticket_issued("C001", service="cashier"), site=site, seq=4))
        got = wait_calls(peer, 3)
        with pytest.raises(TimeoutError):  # five more timer ticks call nothing: every ticket was called once
            peer.wait_for(lambda m: len(calls(peer)) > 3, 1.5)
        got = calls(peer)
    finally:
        core.stop()
    assert [(c.ticket, c.room) for c in got[:3]] == [("L001", "5"), ("T001", a.room), ("C001", "2")]
    assert len({c.call_id for c in got}) == len(got)
    assert len(got) == 3


def test_demo_core_calls_a_first_visit_to_registration_before_the_doctor(node_config, tmp_path, peer):
    core = start_core(node_config, tmp_path / "core.db", call_interval_s=0.3, repeat_one_in=0)
    try:
        a = next(x for x in core.appointments() if x.status == "booked" and x.room != "1")
        peer.publish_event(envelope("checkin.completed", {
            "booking": a.booking, "ticket": "N001", "doctor_id": a.doctor_id, "room": a.room,
            "start": a.start.isoformat(), "arrival": "on_time", "route": "registration"},
            site=node_config.site.id, seq=1))
        [call] = wait_calls(peer, 1)[:1]
    finally:
        core.stop()
    assert (call.ticket, call.room) == ("N001", "1")  # the registration room of the example config


def test_a_repeated_demo_call_has_the_same_ticket_and_room_a_new_id_and_repeat_false(node_config, tmp_path, peer):
    core = start_core(node_config, tmp_path / "core.db", call_interval_s=0.3, repeat_one_in=1)
    try:
        peer.publish_event(envelope("ticket.issued", ticket_issued("V001", service="vaccination"),
                                    site=node_config.site.id))
        first, again = wait_calls(peer, 2)[:2]
    finally:
        core.stop()
    assert (again.ticket, again.room) == (first.ticket, first.room) == ("V001", "7")
    assert again.call_id != first.call_id and again.repeat is False


def test_office_hours_core_remembers_events_but_makes_no_calls(node_config, tmp_path, peer):
    core = start_core(node_config, tmp_path / "core.db", demo=False, call_interval_s=0.2)
    try:
        assert core.call_interval_s is None
        peer.publish_event(envelope("ticket.issued", ticket_issued("R006"), site=node_config.site.id))
        assert core.wait_for_events(1, TIMEOUT)
        assert core.calls.waiting() == 0 and core.calls_sent == []
    finally:
        core.stop()


def test_a_walk_in_to_any_doctor_is_called_to_a_room_of_that_specialty(node_config, tmp_path, peer):
    core = start_core(node_config, tmp_path / "core.db", call_interval_s=0.3, repeat_one_in=0)
    try:
        peer.publish_event(envelope("ticket.issued", ticket_issued("T050", service="therapist"),
                                    site=node_config.site.id))
        call = wait_calls(peer, 1)[0]
    finally:
        core.stop()
    assert call.ticket == "T050" and call.room in {d.room for d in doctors_of("therapist")}


def test_a_request_sent_while_the_core_is_stopped_is_not_replayed_after_restart(node_config, tmp_path, peer):
    db, clock = tmp_path / "core.db", clock_at(node_config.site.tz, 11, 0)
    first = start_core(node_config, db, client_id="core-under-test", clock=clock)
    slot = peer.request("slots.search", {"specialty": "surgeon", "date": first.today().isoformat()}).data["slots"][0]
    first.stop()
    # the kiosk gave up on this one long ago: it must not become a booking later
    body = {"slot": slot, "patient": {"phone": "+79161112233", "birth_date": "1990-01-01"}, "transaction": "t-stale"}
    peer.publish_raw(peer.topics.core_request("booking.create"), json.dumps(body).encode())
    marker = envelope("ticket.issued", ticket_issued("R200"), site=node_config.site.id)
    peer.publish_event(marker)  # queued after the request: once it arrives, the queue is drained
    second = start_core(node_config, db, client_id="core-under-test", clock=clock)
    try:
        assert second.wait_for_events(1, TIMEOUT) and second.inbox_ids() == [marker.id]
        assert [a for a in second.appointments() if a.origin == "created"] == []
        again = peer.request("slots.search", {"specialty": "surgeon", "date": second.today().isoformat()})
        assert slot in again.data["slots"]
    finally:
        second.stop()
