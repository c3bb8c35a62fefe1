"""The screening post's sessions over a real SQLite store and outbox, without a broker: expiry,
one transaction for the events, and `notified` only when routing.box is in the outbox."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from devices.base import OximeterReading, ThermometerReading
from foundation.clock import ManualClock
from foundation.store import Store
from kiosk.features.screening.lookup import BookingFinder
from kiosk.features.screening.post import ScreeningPosts, create_tables
from mqtt.commands import ScreeningCompleteCommand, ScreeningMeasureCommand, ScreeningStartCommand
from mqtt.outbox import Outbox
from mqtt.rpc import RequestError
from tests.conftest import make_config

TZ = ZoneInfo("Europe/Moscow")


class Wall:
    """The devices' clock (time.time()), moved by the test."""

    def __init__(self):
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class FlaggedSchedule:
    """A cached day with one booking flagged box (the finder asks only find_code)."""

    def __init__(self):
        from mqtt.models import Appointment
        self.appt = Appointment.model_validate({
            "booking": "BK-BOX01", "status": "booked",
            "patient": {"display": "Иванов Иван Иванович", "birth_date": "1961-04-02", "phone_last4": "4417"},
            "doctor": {"id": "d-therapist-3", "name": "Петрова А. С.", "specialty": "therapist"},
            "room": "12", "floor": 2, "start": "2026-11-23T10:30:00+03:00", "end": "2026-11-23T10:45:00+03:00",
            "flags": ["box"]})

    def find_code(self, day, code):
        return self.appt if code == self.appt.booking else None


def posts(tmp_path, *, max_rows: int = 500_000, **screening):
    config = make_config(tmp_path, "mqtt://127.0.0.1:1", screening={"session_expiry_s": 60, **screening}, devices={
        "oximeter-1": {"kind": "oximeter", "protocol": "contec", "url": "serial:///dev/vestibule/oximeter-1",
                       "role": "screening-1"},
        "thermometer-1": {"kind": "thermometer", "protocol": "bridge", "url": "serial:///dev/vestibule/thermometer-1",
                          "role": "screening-1"}})
    store = Store(tmp_path / "node.db")
    with store.lock:
        create_tables(store.db)
    outbox = Outbox(store, site="spb-dunaisky", node="entrance-1", tz=TZ, max_rows=max_rows)
    clock = ManualClock(datetime(2026, 11, 23, 10, 0, tzinfo=TZ))
    wall = Wall()
    finder = BookingFinder(FlaggedSchedule(), None, store, core_away=(), core_refused=RuntimeError)
    p = ScreeningPosts(config.screening, devices_config=config.devices, languages=["ru", "zh", "en"],
                       default_language="ru", clock=clock, store=store, outbox=outbox, finder=finder,
                       device_state=lambda device: "ready", wall=wall)
    return p, store, clock, wall


def feed(p, wall, n: int = 4, celsius: float = 36.62, spo2: int = 97, pulse: int = 70):
    for _ in range(n):
        wall.now += 0.5
        p.on_reading("thermometer-1", ThermometerReading(celsius, 22.0, False, wall.now))
        p.on_reading("oximeter-1", OximeterReading(spo2, pulse, 8, "ok", wall.now))


def test_an_open_session_expires_after_the_configured_time(tmp_path):
    p, _, clock, _ = posts(tmp_path)
    session = p.start(ScreeningStartCommand(post="screening-1", by="none")).session
    clock.advance(seconds=59)
    assert p.open_sessions() == 1
    clock.advance(seconds=2)
    with pytest.raises(RequestError) as err:
        p.measure(ScreeningMeasureCommand(session=session, what="oximetry"))
    assert err.value.code == "unknown_session" and p.open_sessions() == 0


def test_box_for_a_booking_puts_both_events_in_the_outbox_in_one_transaction(tmp_path):
    p, store, _, _ = posts(tmp_path)
    started = p.start(ScreeningStartCommand(post="screening-1", by="code", code="BK-BOX01"))
    assert started.patient.display == "Иванов И." and started.suggested == "box"
    done = p.complete(ScreeningCompleteCommand(session=started.session, decision="box", reason="booking flagged"))
    assert done.notified and done.doctor == "Петрова А. С."
    rows = store.query("SELECT type, data FROM outbox ORDER BY seq")
    assert [r["type"] for r in rows] == ["screening.completed", "routing.box"]
    assert "Иванов" not in "".join(r["data"] for r in rows)
    assert store.query("SELECT booking, decision, notified FROM screenings") == [
        {"booking": "BK-BOX01", "decision": "box", "notified": 1}]


def test_a_full_outbox_refuses_the_completion_and_nothing_is_half_recorded(tmp_path):
    p, store, _, _ = posts(tmp_path, max_rows=1)
    first = p.start(ScreeningStartCommand(post="screening-1", by="none")).session
    p.complete(ScreeningCompleteCommand(session=first, decision="pass", reason="no devices today"))
    session = p.start(ScreeningStartCommand(post="screening-1", by="code", code="BK-BOX01")).session
    with pytest.raises(RequestError) as err:
        p.complete(ScreeningCompleteCommand(session=session, decision="box", reason="booking flagged"))
    assert err.value.code == "backlog_full"
    assert [r["type"] for r in store.query("SELECT type FROM outbox")] == ["screening.completed"]
    assert len(store.query("SELECT * FROM screenings")) == 1
    assert p.open_sessions() == 1  # staff can try again once the core has caught up


def test_readings_from_before_the_session_are_not_this_patients(tmp_path):
    p, _, _, wall = posts(tmp_path, measure_timeout_s=0.3)
    feed(p, wall, celsius=38.4)  # the previous patient, stable
    session = p.start(ScreeningStartCommand(post="screening-1", by="none")).session
    with pytest.raises(RequestError) as err:
        p.measure(ScreeningMeasureCommand(session=session, what="temperature", site="forehead"))
    assert err.value.code == "no_reading"
    feed(p, wall, celsius=36.62)
    got = p.measure(ScreeningMeasureCommand(session=session, what="temperature", site="forehead"))
    assert got.value == 36.62
    # the neck needs readings after the forehead's capture
    with pytest.raises(RequestError):
        p.measure(ScreeningMeasureCommand(session=session, what="temperature", site="neck"))
    feed(p, wall, celsius=36.74)
    assert p.measure(ScreeningMeasureCommand(session=session, what="temperature", site="neck")).value == 36.74
