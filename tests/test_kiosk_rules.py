"""The kiosk's pure rules, proven by tables: arrival window, route, representative, greeting,
name masking, least-loaded doctor; and the ticket numbering arithmetic."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from kiosk.features.lobby import rules
from foundation.config import ArrivalWindow
from kiosk.features.lobby.tickets import format_number, next_after

TZ = ZoneInfo("Europe/Moscow")
START = datetime(2026, 11, 23, 10, 30, tzinfo=TZ)
DEFAULT = ArrivalWindow()


@pytest.mark.parametrize("minutes_from_start, kind", [
    (-60, "too_early"),
    (-30.02, "too_early"),
    (-30, "early"),  # the window opens exactly 30 min before
    (-11, "early"),
    (-10, "on_time"),
    (0, "on_time"),
    (0.5, "late"),
    (15, "late"),  # ... and closes exactly 15 min after
    (15.02, "too_late"),
    (120, "too_late"),
])
def test_arrival_is_classified_against_the_default_window(minutes_from_start, kind):
    now = START + timedelta(minutes=minutes_from_start)
    assert rules.classify_arrival(now, START, DEFAULT).kind == kind


def test_too_early_says_when_check_in_opens():
    arrival = rules.classify_arrival(START - timedelta(hours=2), START, DEFAULT)
    assert arrival.kind == "too_early" and not arrival.accepted
    assert arrival.come_back_at == START - timedelta(minutes=30)


@pytest.mark.parametrize("early, late, minutes_from_start, kind", [
    (60, 5, -45, "early"),
    (60, 5, -61, "too_early"),
    (60, 5, 6, "too_late"),
    (0, 0, 0, "on_time"),
    (0, 0, -0.1, "too_early"),
])
def test_arrival_window_is_configurable(early, late, minutes_from_start, kind):
    window = ArrivalWindow(early_minutes=early, late_minutes=late)
    assert rules.classify_arrival(START + timedelta(minutes=minutes_from_start), START, window).kind == kind


def test_arrival_compares_instants_not_wall_clocks():
    utc_now = datetime(2026, 11, 23, 7, 25, tzinfo=ZoneInfo("UTC"))  # 10:25 in Moscow
    assert rules.classify_arrival(utc_now, START, DEFAULT).kind == "on_time"


@pytest.mark.parametrize("flags, first_visit, route", [
    ([], False, "doctor"),
    ([], True, "registration"),
    (["box"], False, "box"),
    (["box"], True, "box"),  # isolation first, registration can wait
    (["child"], False, "doctor"),
    (["child", "box"], True, "box"),
])
def test_route_decision(flags, first_visit, route):
    assert rules.decide_route(flags, first_visit) == route


@pytest.mark.parametrize("flags, representative, needed", [
    (["child"], None, True),
    (["child"], False, True),
    (["child"], True, False),
    ([], None, False),
    (["box"], None, False),
])
def test_a_child_needs_a_representative_to_confirm(flags, representative, needed):
    assert rules.needs_representative(flags, representative) is needed


@pytest.mark.parametrize("hh, mm, ru, zh, en", [
    (6, 59, "Здравствуйте!", "您好！", "Hello!"),
    (7, 0, "Доброе утро!", "早上好！", "Good morning!"),
    (10, 59, "Доброе утро!", "早上好！", "Good morning!"),
    (11, 0, "Добрый день!", "下午好！", "Good afternoon!"),
    (16, 59, "Добрый день!", "下午好！", "Good afternoon!"),
    (17, 0, "Добрый вечер!", "晚上好！", "Good evening!"),
    (21, 59, "Добрый вечер!", "晚上好！", "Good evening!"),
    (22, 0, "Здравствуйте!", "您好！", "Hello!"),
    (0, 30, "Здравствуйте!", "您好！", "Hello!"),
])
def test_greeting_by_time_of_day_per_language(hh, mm, ru, zh, en):
    local = datetime(2026, 11, 23, hh, mm, tzinfo=TZ)
    assert (rules.greeting(local, "ru"), rules.greeting(local, "zh"), rules.greeting(local, "en")) == (ru, zh, en)


@pytest.mark.parametrize("display, masked", [
    ("Иванов Иван Иванович", "Иванов И."),
    ("Иванов И. И.", "Иванов И."),
    ("Петрова А.", "Петрова А."),
    ("  Сидоров   Пётр  ", "Сидоров П."),
    ("Smith John", "Smith J."),
    ("王小明", "王**"),
    ("Иванов", "Иванов"),
    ("", ""),
])
def test_patient_name_is_masked_to_family_name_and_initial(display, masked):
    assert rules.mask_name(display) == masked


@pytest.mark.parametrize("booked, walk_ins, candidates, chosen", [
    (["a", "a", "b"], [], ["a", "b", "c"], "c"),
    (["a", "b"], ["c"], ["a", "b", "c"], "a"),  # a tie of ones: the smallest id, stably
    (["a", "b", "b"], ["a", "a"], ["a", "b"], "b"),  # walk-ins count as load
    ([], [], ["d-2", "d-1"], "d-1"),
    (["x"], [], ["a"], "a"),  # load of other specialties' doctors does not matter
    ([], [], [], None),
])
def test_least_loaded_doctor_of_the_day(booked, walk_ins, candidates, chosen):
    assert rules.least_loaded_doctor(booked, walk_ins, candidates) == chosen


def test_least_loaded_spreads_successive_walk_ins_evenly():
    walk_ins: list[str] = []
    for _ in range(9):
        walk_ins.append(rules.least_loaded_doctor(["a"], walk_ins, ["a", "b", "c"]))
    assert sorted(rules.day_load(["a"], walk_ins, ["a", "b", "c"]), key=lambda x: x.doctor_id) == [
        rules.DoctorLoad("a", 4), rules.DoctorLoad("b", 3), rules.DoctorLoad("c", 3)]


@pytest.mark.parametrize("last, following", [(0, 1), (1, 2), (998, 999), (999, 1000)])
def test_ticket_numbers_count_up_past_999_and_never_wrap(last, following):
    assert next_after(last) == following


def test_ticket_number_is_prefix_and_three_digits_four_past_999():
    assert [format_number("A", n) for n in (1, 23, 999, 1000, 9999)] == ["A001", "A023", "A999", "A1000", "A9999"]

