"""The stand-in's generated day: pure functions, fixed clocks."""
from __future__ import annotations

import re
from collections import Counter
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings, strategies as st

from booking_core.records import BOOKING_CODE, SPECIALTIES, age_on, doctors_of, phone_key
from booking_core.schedule import (SLOT, WORKDAY, bucket_of, day_grid, free_slots, generate_schedule,
                                   other_site_of)
from mqtt.models import Appointment

SITE = "spb-dunaisky"
TZ = ZoneInfo("Europe/Moscow")
DAY = date(2026, 11, 23)


def at(hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime.combine(DAY, time(hour, minute, second), tzinfo=TZ)


def own(schedule):
    return [a for a in schedule if a.site == SITE]


def test_same_seed_gives_the_same_day_and_another_seed_a_different_one():
    now = at(10, 7, 13)
    first = generate_schedule(SITE, TZ, DAY, now, seed=5)
    assert first == generate_schedule(SITE, "Europe/Moscow", DAY, now, seed=5)
    assert [a.booking for a in first] != [a.booking for a in generate_schedule(SITE, TZ, DAY, now, seed=6)]


def test_day_has_about_a_hundred_valid_appointments_with_the_expected_mix():
    day = own(generate_schedule(SITE, TZ, DAY, at(10, 7), seed=1))
    assert 90 <= len(day) <= 110
    for a in day:
        Appointment.model_validate(a.public().model_dump(mode="json"))
    status = Counter(a.status for a in day)
    assert 4 <= status["cancelled"] <= 12
    box = [a for a in day if "box" in a.flags]
    assert 2 <= len(box) <= 8 and all(a.status == "booked" for a in box)
    assert 8 <= sum(a.first_visit for a in day) <= 22
    assert {a.specialty for a in day} == set(SPECIALTIES)
    assert all(len(doctors_of(s)) in (2, 3) for s in SPECIALTIES)


def test_children_are_exactly_the_pediatricians_patients_and_are_under_eighteen():
    day = own(generate_schedule(SITE, TZ, DAY, at(10), seed=2, demo=False))
    for a in day:
        is_child = "child" in a.flags
        assert is_child == (a.specialty == "pediatrician")
        assert (age_on(a.birth_date, DAY) < 18) == is_child
        assert age_on(a.birth_date, DAY) >= 0


def test_patients_have_russian_names_full_phones_and_unique_codes():
    schedule = generate_schedule(SITE, TZ, DAY, at(10), seed=3)
    codes = [a.booking for a in schedule]
    assert len(set(codes)) == len(codes) and all(BOOKING_CODE.match(c) for c in codes)
    phones = [a.phone for a in schedule]
    assert len({phone_key(p) for p in phones}) == len(phones)
    for a in schedule:
        assert re.fullmatch(r"\+79[0-9]{9}", a.phone)
        assert a.public().patient.phone_last4 == a.phone[-4:]
        surname, first, patronymic = a.full_name.split()
        assert a.display == f"{surname} {first[0]}. {patronymic[0]}."
        assert re.fullmatch(r"[А-ЯЁа-яё]+", surname + first + patronymic)
        assert a.doctor_name and re.fullmatch(r"[А-ЯЁ][а-яё]+ [А-ЯЁ]\. [А-ЯЁ]\.", a.doctor_name)


def test_appointments_sit_on_the_quarter_hour_grid_without_double_booking():
    for demo in (True, False):
        day = own(generate_schedule(SITE, TZ, DAY, at(13, 52), seed=4, demo=demo))
        grid = set(day_grid(DAY, TZ))
        assert all(a.start in grid and a.end - a.start == SLOT for a in day)
        slots = [(a.doctor_id, a.start) for a in day]
        assert len(set(slots)) == len(slots)
        assert day == sorted(day, key=lambda a: (a.start, a.doctor_id))


def test_office_hours_mode_books_between_eight_and_twenty():
    day = own(generate_schedule(SITE, TZ, DAY, at(6), seed=1, demo=False))
    assert all(WORKDAY[0] <= a.start.time() < WORKDAY[1] for a in day)


def test_other_site_bookings_exist_but_are_not_this_sites():
    schedule = generate_schedule(SITE, TZ, DAY, at(10), seed=1)
    others = [a for a in schedule if a.site != SITE]
    assert others and {a.site for a in others} == {other_site_of(SITE)}
    assert other_site_of(other_site_of(SITE)) != other_site_of(SITE)


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=3 * 60, max_value=19 * 60 + 30), st.integers(min_value=0, max_value=59))
def test_demo_day_has_patients_due_now_soon_later_and_too_late_whenever_it_runs(minute_of_day, second):
    now = at(0) + timedelta(minutes=minute_of_day, seconds=second)
    day = own(generate_schedule(SITE, TZ, DAY, now, seed=minute_of_day))
    booked = [a for a in day if a.status == "booked"]
    buckets = Counter(bucket_of(a.start, now) for a in booked)
    assert buckets["due_now"] >= 8 and buckets["soon"] >= 5 and buckets["later"] >= 10 and buckets["too_late"] >= 5
    due = [a for a in day if bucket_of(a.start, now) == "due_now"]
    assert all(-15 <= (a.start - now).total_seconds() / 60 <= 30 for a in due)
    # every route can be shown right away
    assert any(a.status == "cancelled" for a in due)
    assert any("box" in a.flags and a.status == "booked" for a in due)
    assert any(a.first_visit and a.status == "booked" for a in due)
    assert {a.specialty for a in due} == set(SPECIALTIES)


def test_demo_day_near_midnight_stays_inside_the_day_and_still_has_patients_due_now():
    for now in (at(0, 5), at(23, 52)):
        day = own(generate_schedule(SITE, TZ, DAY, now, seed=9))
        assert 90 <= len(day) <= 110
        assert all(a.start.date() == DAY for a in day)
        assert any(bucket_of(a.start, now) == "due_now" and a.status == "booked" for a in day)


def test_free_slots_are_future_quarter_hours_not_booked_and_include_cancelled_ones():
    now = at(10, 7)
    schedule = generate_schedule(SITE, TZ, DAY, now, seed=1)
    booked = {(a.doctor_id, a.start) for a in own(schedule) if a.status == "booked"}
    cancelled = [a for a in own(schedule) if a.status == "cancelled" and a.start > now
                 and (a.doctor_id, a.start) not in booked]
    for specialty in SPECIALTIES:
        slots = free_slots(schedule, SITE, specialty, DAY, TZ, now, demo=True)
        assert slots, specialty
        assert all(s > now and d.specialty == specialty and (d.id, s) not in booked for d, s in slots)
        assert len(set(slots)) == len(slots)
    for a in cancelled:
        assert (a.doctor_id, a.start) in {(d.id, s) for d, s in free_slots(schedule, SITE, a.specialty, DAY, TZ, now,
                                                                           demo=True)}


def test_free_slots_in_office_hours_mode_stop_at_twenty():
    schedule = generate_schedule(SITE, TZ, DAY, at(18), seed=1, demo=False)
    slots = free_slots(schedule, SITE, "therapist", DAY, TZ, at(18), demo=False)
    assert slots and all(at(18) < s < at(20) for _, s in slots)
    assert free_slots(schedule, SITE, "therapist", DAY, TZ, at(20, 1), demo=False) == []
