"""The kiosk's input rules and the texts it builds from the node's answers (no display needed)."""
from __future__ import annotations

from datetime import date

import pytest

from foundation.config import load_config
from mqtt.commands import CheckinCommand
from tests.conftest import ROOT
from ui import i18n
from ui.kiosk_model import (
    birth_date,
    booked_view,
    checkin_view,
    confirm_lines,
    error_view,
    parse_info,
    phone_number,
    printer_note,
    scanned_code,
    show_birth,
    show_phone,
    slot_label,
    slot_lines,
    ticket_ok,
    ticket_view,
    type_code,
    wait_text,
)

CONFIG = load_config(ROOT / "config" / "example.toml")
TODAY = date(2026, 11, 23)
CHECKIN = {"ticket": "T014", "route": "doctor", "room": "12", "floor": 2, "start": "2026-11-23T10:30:00+03:00",
           "doctor": "Петрова А. С.", "specialty": "Терапевт", "patient": "Иванов И.", "booking": "BK-7Q4M2",
           "printed": True, "offline": False, "message": "..."}


@pytest.mark.parametrize("raw, code", [
    ("BK-7Q4M2", "BK-7Q4M2"),
    ("  bk-7q4m2\n", "BK-7Q4M2"),
    ("https://clinic.example/c/BK-7Q4M2", "BK-7Q4M2"),
    ("https://clinic.example/checkin?code=BK-7Q4M2&x=1", "BK-7Q4M2"),
    ("", None), ("AB", None), ("BK 7Q4M2", None), ("Иванов", None), ("X" * 40, None),
])
def test_a_scan_yields_a_booking_code_or_nothing(raw, code):
    assert scanned_code(raw) == code


def test_typing_a_code_stops_at_the_longest_booking_code():
    code = ""
    for _ in range(40):
        code = type_code(code, "A")
    assert len(code) == 32


@pytest.mark.parametrize("typed, number", [
    ("+79215554417", "+79215554417"), ("89215554417", "+79215554417"), ("9215554417", "+79215554417"),
    ("+8613812345678", "+8613812345678"), ("+7921", None), ("", None),
])
def test_phone_numbers_are_sent_as_the_node_expects(typed, number):
    assert phone_number(typed) == number
    if number:
        CheckinCommand(kiosk="kiosk-1", by="phone", phone=number, birth_date=TODAY)  # the node accepts it


def test_a_phone_number_is_shown_in_groups_the_patient_can_check():
    assert show_phone("+79215554417") == "+7 921 555 44 17"
    assert show_phone("+7") == "+7"


@pytest.mark.parametrize("lang, typed, shown, value", [
    ("ru", "0204196", "02.04.196_", None),
    ("ru", "02041961", "02.04.1961", date(1961, 4, 2)),
    ("en", "02041961", "02.04.1961", date(1961, 4, 2)),
    ("zh", "19610402", "1961-04-02", date(1961, 4, 2)),
    ("ru", "31021961", "31.02.1961", None),  # no such day
    ("ru", "01012030", "01.01.2030", None),  # not born yet
])
def test_birth_dates_follow_the_language_order_and_must_be_real(lang, typed, shown, value):
    assert show_birth(typed, lang) == shown
    assert birth_date(typed, lang, TODAY) == value


def test_a_doctor_check_in_says_who_where_and_when():
    view = checkin_view(CHECKIN, "ru")
    assert view.number == "T014" and view.printed
    assert view.main == ["Пройдите к врачу: Петрова А. С. (Терапевт)", "Кабинет 12, 2 этаж"]
    assert "Приём в 10:30" in view.lines
    assert view.feedback_for == {"ticket": "T014"}


def test_a_first_visit_goes_to_registration_before_the_doctor():
    view = checkin_view(dict(CHECKIN, route="registration"), "en", reception=("1", 1))
    assert view.main == ["First visit: please go to registration first", "Room 1, floor 1"]
    assert view.lines[:2] == ["Then to the doctor: Петрова А. С. (Терапевт)", "Room 12, floor 2"]


def test_a_box_booking_sends_the_patient_to_the_isolation_room():
    view = checkin_view(dict(CHECKIN, route="box", room="B1", floor=1), "zh")
    assert view.main[0] == i18n.tr("route_box", "zh")


def test_an_unprinted_ticket_is_flagged_for_the_screen():
    data = {"ticket": "R007", "service": "registration", "service_name": "Регистратура", "room": "1", "floor": 1,
            "priority": True, "ahead": 3, "printed": False, "message": ""}
    view = ticket_view(data, "ru")
    assert not view.printed
    assert view.main[0] == "Регистратура · Вне очереди"
    assert "Перед вами: 3" in view.lines


@pytest.mark.parametrize("code", ["not_found", "too_late", "cancelled", "other_site", "refused", "core_offline"])
def test_refusals_offer_a_reception_ticket(code):
    assert error_view(code, "", "ru").reception


def test_too_early_shows_when_to_come_back_and_no_reception_ticket():
    view = error_view("too_early", "Отметиться можно с 10:00. Приходите, пожалуйста, к этому времени.", "ru")
    assert view.big == "Подойдите к киоску в 10:00"
    assert not view.reception and view.calm


def test_an_unreachable_node_does_not_offer_a_ticket_it_cannot_issue():
    assert not error_view("no_answer", "", "en").reception


def test_a_same_day_booking_too_early_names_the_check_in_time_not_the_visit_time():
    data = {"booking": "SD-1", "start": "2026-11-23T14:15:00+03:00", "room": "12", "doctor": "Петрова А. С.",
            "checkin": None, "checkin_error": "too_early",
            "message": "Вы записаны на 14:15, кабинет 12. Отметиться можно с 13:45."}
    view = booked_view(data, "ru", 30)
    assert view.title == "Вы записаны на 14:15"
    assert view.big == "Подойдите к киоску в 13:45"


def test_kiosk_info_from_the_controller_is_used_and_gaps_come_from_the_config():
    data = {"kiosk": "kiosk-1", "lang": "en", "languages": ["ru", "zh", "en"], "greeting": "Good morning!",
            "site": "Dunaisky Clinic", "core_online": False, "printer": {"device": None, "state": "none", "problems": []},
            "services": [{"id": "lab", "name": "Laboratory", "prefix": "L", "room": "5", "floor": 1, "specialty": None},
                         {"id": "therapist", "name": "Therapist (any doctor)", "prefix": "T", "room": None,
                          "floor": None, "specialty": "therapist"}], "now": "2026-11-23T09:00:00+03:00"}
    info = parse_info(data, "en", CONFIG)
    assert info.greeting == "Good morning!" and not info.core_online
    assert [c.id for c in info.services] == ["lab", "therapist"]
    assert [(c.id, c.name) for c in info.specialties] == [("therapist", "Therapist")]
    fallback = parse_info({}, "zh", CONFIG)
    assert [c.id for c in fallback.services] == [s.id for s in CONFIG.services]
    assert fallback.services[0].name == "挂号处"


def test_slots_name_the_doctor_when_known_and_the_room_always():
    slot = {"doctor_id": "d1", "doctor": "Петрова А. С.", "specialty": "therapist",
            "start": "2026-11-23T14:15:00+03:00", "room": "12", "floor": 2}
    assert slot_label(slot, "en") == "14:15   Петрова А. С., room 12"
    assert slot_label(dict(slot, doctor=None), "en") == "14:15   Room 12"


def test_the_confirmation_shows_the_masked_patient_doctor_time_and_place():
    rows = confirm_lines({"patient": "Иванов И.", "doctor": "Петрова А. С.", "start": CHECKIN["start"],
                          "room": "12", "floor": 2}, "ru")
    assert rows == [("Пациент", "Иванов И."), ("Врач", "Петрова А. С."), ("Время", "10:30"),
                    ("Где", "Кабинет 12, 2 этаж")]


@pytest.mark.parametrize("hour, key", [(6, "greeting_day"), (7, "greeting_morning"), (10, "greeting_morning"),
                                       (11, "greeting_afternoon"), (17, "greeting_evening"), (22, "greeting_day")])
def test_the_greeting_of_the_hour_follows_the_clinic_rule(hour, key):
    from datetime import time
    assert i18n.greeting_key(i18n.local_period(time(hour))) == key


def test_paper_out_from_kiosk_info_is_said_on_the_welcome_screen_in_the_language():
    info = parse_info({"printer": {"device": "printer-1", "state": "fault", "problems": ["paper_out"]}}, "zh", CONFIG)
    assert printer_note(info, "zh") == i18n.tr("paper_out", "zh")
    down = parse_info({"printer": {"device": "printer-1", "state": "offline", "problems": []}}, "ru", CONFIG)
    assert printer_note(down, "ru") == i18n.tr("printer_down", "ru")
    assert printer_note(parse_info({"printer": {"device": "p", "state": "ready", "problems": []}}, "ru"), "ru") == ""
    assert printer_note(parse_info({}, "ru"), "ru") == ""  # before the first answer: nothing alarming


def test_the_wait_is_shown_only_when_kiosk_info_carries_it():
    info = parse_info({"services": [{"id": "lab", "name": "Лаборатория", "waiting": 4, "wait_minutes": 12},
                                    {"id": "cashier", "name": "Касса", "waiting": 2},
                                    {"id": "vaccination", "name": "Прививки", "waiting": "many"},
                                    {"id": "registration", "name": "Регистратура"}]}, "ru")
    lab, cashier, vaccination, registration = info.services
    assert wait_text(lab, "ru") == "ждут 4 · около 12 мин"
    assert wait_text(cashier, "en") == "2 waiting"
    assert wait_text(vaccination, "ru") == wait_text(registration, "ru") == ""  # malformed or absent: no line


def test_a_ticket_number_to_rate_is_a_letter_and_three_digits():
    assert ticket_ok("T014") and not ticket_ok("T14") and not ticket_ok("BK-7Q4M2") and not ticket_ok("t014")


def test_the_same_day_confirmation_shows_the_chosen_time_doctor_and_room():
    slot = {"doctor_id": "d-3", "start": "2026-11-23T14:15:00+03:00", "room": "12", "floor": 2,
            "doctor_name": "Петрова А. С."}
    assert slot_lines(slot, "ru") == [("Время", "14:15"), ("Врач", "Петрова А. С."), ("Где", "Кабинет 12, 2 этаж")]


def test_language_buttons_name_each_language_in_full_in_its_own_script():
    assert i18n.LANG_NAMES == {"ru": "Русский", "zh": "中文", "en": "English"}
