"""The node's schedule cache at a real site's size and against poisoned snapshots: a real broker,
the stand-in core, the controller, SQLite files."""
from __future__ import annotations

import json
from datetime import date, timedelta
from types import SimpleNamespace

import pytest
from pydantic import TypeAdapter

from booking_core.records import phone_key
from kiosk.node.schedule_cache import ScheduleCache
from mqtt.client import MqttClient
from mqtt.models import ScheduleSnapshot, ScheduleSnapshotRows
from tests.kiosk_env import MORNING, TZ, kiosk_env, wait_until
from tests.support.snapshots import snapshot_payload

BIG = 100_000


def _due_now(appointments, now):
    """Adult, booked, plain appointments inside the check-in window (30 min early .. 15 late)."""
    return [a for a in appointments if a.status == "booked" and not a.flags and not a.first_visit
            and a.specialty != "pediatrician" and -15 <= (a.start - now).total_seconds() / 60 <= 25]


def test_a_100k_day_through_the_real_broker_checks_in_by_code_and_phone_core_online_and_away(tmp_path, broker):
    with kiosk_env(tmp_path, broker, core_options={"day_size": BIG}, startup_wait=180) as env:
        def big_day():
            cached = env.controller.schedule.day(env.today())
            return cached if cached and cached.appointments >= BIG else None

        assert wait_until(big_day, 180, "the 100,000-appointment day cached").appointments == BIG
        everyone = env.core.appointments()
        assert len(everyone) == BIG
        pairs = {}
        for a in everyone:
            key = (phone_key(a.phone)[-4:], a.birth_date)
            pairs[key] = pairs.get(key, 0) + 1
        due = [a for a in _due_now(everyone, env.clock()) if pairs[(phone_key(a.phone)[-4:], a.birth_date)] == 1]
        assert len(due) >= 4, "the generated day has patients due now"
        by_code, by_phone, away_code, away_phone = due[:4]

        online = env.ok("checkin", {"by": "code", "code": by_code.booking})
        assert online["booking"] == by_code.booking and online["offline"] is False and online["printed"]
        online = env.ok("checkin", {"by": "phone", "phone": by_phone.phone, "birth_date": by_phone.birth_date.isoformat()})
        assert online["booking"] == by_phone.booking and online["offline"] is False

        env.stop_core()
        away = env.ok("checkin", {"by": "code", "code": away_code.booking})
        assert away["booking"] == away_code.booking and away["offline"] is True
        away = env.ok("checkin", {"by": "phone", "phone": away_phone.phone,
                                  "birth_date": away_phone.birth_date.isoformat()})
        assert away["booking"] == away_phone.booking and away["offline"] is True
        assert env.error("checkin", {"by": "code", "code": "BK-ZZZZZ"}).code == "not_found"
        # a walk-in for a specialty goes to one of the day's doctors, from the summary
        assert env.ok("ticket", {"service": "therapist"})["doctor"]


# -- poisoning ------------------------------------------------------------------------------
class CorePublisher:
    """Publishes on the core's schedule topics as the core's broker identity would."""

    def __init__(self, env):
        self.env = env
        self.client = MqttClient("127.0.0.1", env.broker.port, "poisoner", role="core")
        self.client.start()
        assert self.client.wait_connected(20)

    def publish(self, topic_day: str, body) -> None:
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        cache = self.env.controller.schedule
        seen = cache.taken + cache.ignored
        self.client.publish(self.env.controller.topics.core_schedule(topic_day), payload, qos=1,
                            retain=True).wait_for_publish(10)
        wait_until(lambda: cache.taken + cache.ignored > seen, what="the snapshot judged")

    def stop(self) -> None:
        self.client.stop()


def _today_body(env, **changes) -> dict:
    cached = env.controller.schedule
    body = {"date": env.today().isoformat(), "version": cached.day(env.today()).version + 1,
            "appointments": [a.model_dump(mode="json") for a in cached.appointments(env.today())][:3]}
    body.update(changes)
    return body


@pytest.fixture
def poisoned(tmp_path, broker):
    with kiosk_env(tmp_path, broker) as env:
        publisher = CorePublisher(env)
        yield env, publisher
        publisher.stop()


def _unchanged(env, before) -> bool:
    now = env.controller.schedule.day(env.today())
    return (now.version, now.appointments, now.generation) == (before.version, before.appointments, before.generation)


def test_a_snapshot_on_another_dates_topic_whose_body_says_today_leaves_todays_cache(poisoned):
    env, publisher = poisoned
    before = env.controller.schedule.day(env.today())
    publisher.publish("2030-01-01", _today_body(env, appointments=[]))
    assert _unchanged(env, before) and before.appointments >= 100


def test_a_snapshot_whose_body_names_another_day_than_its_topic_is_ignored(poisoned):
    env, publisher = poisoned
    before = env.controller.schedule.day(env.today())
    tomorrow = (env.today() + timedelta(days=1)).isoformat()
    publisher.publish(env.today().isoformat(), _today_body(env, date=tomorrow, appointments=[]))
    publisher.publish(tomorrow, _today_body(env, appointments=[]))  # says today, on tomorrow's topic
    assert _unchanged(env, before)
    assert env.controller.schedule.day(env.today() + timedelta(days=1)) is None


def test_malformed_snapshots_leave_todays_cache(poisoned):
    env, publisher = poisoned
    before = env.controller.schedule.day(env.today())
    good = _today_body(env)
    broken_row = json.loads(json.dumps(good))
    broken_row["appointments"][1]["patient"]["phone_last4"] = "12345"
    for body in (b"not json", b"[]", b"\xff\xfe", {**good, "version": 2**64}, {**good, "version": -1},
                 {**good, "version": "9"}, {k: v for k, v in good.items() if k != "appointments"},
                 broken_row, ("[" * 5000 + "]" * 5000).encode(), {**good, "date": "2026-13-45"}):
        publisher.publish(env.today().isoformat(), body)
    assert _unchanged(env, before)
    appt = env.controller.schedule.appointments(env.today())[0]
    assert env.controller.schedule.find_code(env.today(), appt.booking) == appt


def test_a_huge_version_never_pins_the_cache_past_the_cores_next_online_period(poisoned):
    env, publisher = poisoned
    real = env.controller.schedule.day(env.today())
    publisher.publish(env.today().isoformat(), _today_body(env, version=2**62, appointments=[]))
    assert env.controller.schedule.day(env.today()).version == 2**62
    env.stop_core()
    env.start_core()  # offline, then online again: its snapshot is taken whatever its version
    wait_until(lambda: env.controller.schedule.day(env.today()).version < 2**62, what="the core's snapshot taken")
    now = env.controller.schedule.day(env.today())
    assert now.appointments == real.appointments and now.version <= real.version + 1


def test_an_older_version_in_the_same_online_period_is_ignored(poisoned):
    env, publisher = poisoned
    before = env.controller.schedule.day(env.today())
    publisher.publish(env.today().isoformat(), _today_body(env, version=before.version - 1, appointments=[]))
    assert _unchanged(env, before)


# -- the cache on its own (real SQLite, no broker) --------------------------------------------
def _snapshot(day, version, bookings) -> bytes:
    return snapshot_payload(day, version, bookings, MORNING)


def _message(day, payload):
    return SimpleNamespace(topic=f"clinic/v1/site/core/schedule/{day.isoformat()}", payload=payload)


def test_the_latest_of_several_queued_snapshots_wins_and_tomorrow_is_served(tmp_path):
    cache = ScheduleCache(tmp_path / "s.db", TZ, lambda: MORNING)
    today, tomorrow = MORNING.date(), MORNING.date() + timedelta(days=1)
    for version in (1, 2, 3):
        cache.on_message(_message(today, _snapshot(today, version, [f"BK-V{version}AAA"])))
    cache.on_message(_message(tomorrow, _snapshot(tomorrow, 1, ["BK-TMRWA"])))
    cache.start()
    wait_until(cache.idle, what="the queue taken")
    assert cache.taken == 2 and cache.day(today).version == 3
    assert cache.find_code(today, "BK-V3AAA") and cache.find_code(today, "BK-V1AAA") is None
    assert cache.find_code(tomorrow, "BK-TMRWA")
    cache.stop()
    again = ScheduleCache(tmp_path / "s.db", TZ, lambda: MORNING)  # a restart keeps the cached days
    assert again.day(today).version == 3 and again.find_phone(today, "+79990000000", date(1980, 5, 17))
    again.stop()


def test_the_doctor_summary_counts_booked_appointments_per_doctor(tmp_path):
    cache = ScheduleCache(tmp_path / "s.db", TZ, lambda: MORNING)
    today = MORNING.date()
    cache.on_message(_message(today, _snapshot(today, 1, [f"BK-D{i}AAA" for i in range(7)])))
    cache.start()
    wait_until(cache.idle, what="taken")
    doctors = {d.id: d.booked for d in cache.doctors(today, "therapist")}
    assert doctors == {"d-therapist-1": 3, "d-therapist-2": 2, "d-therapist-3": 2}
    assert cache.doctors(today, "surgeon") == []
    cache.stop()


def test_the_cache_validates_the_same_shape_as_the_snapshot_model():
    def shape(schema: dict) -> list:
        defs = schema.get("$defs", {})
        out = []
        for d in [schema, *(defs[k] for k in sorted(defs))]:
            out.append((sorted(d.get("properties", {})), sorted(d.get("required", []))))
        return sorted(out)

    rows = TypeAdapter(ScheduleSnapshotRows).json_schema()
    model = ScheduleSnapshot.model_json_schema()
    assert shape(rows) == shape(model)
