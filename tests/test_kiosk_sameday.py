"""Same-day booking, feedback and kiosk.info end to end."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.kiosk_env import KIOSK, kiosk_env


@pytest.fixture
def env(tmp_path, broker):
    with kiosk_env(tmp_path, broker) as e:
        yield e


PATIENT = {"phone": "+79215550101", "birth_date": "1984-07-21"}


def test_same_day_slots_are_todays_free_slots_from_the_core(env):
    data = env.ok("sameday.slots", {"specialty": "therapist", "lang": "ru"})
    assert data["specialty"] == "therapist" and data["slots"]
    now = env.clock()
    for slot in data["slots"]:
        start = datetime.fromisoformat(slot["start"])
        assert start > now and start.date() == now.date()
        assert slot["doctor_id"].startswith("d-therapist-") and slot["room"] in ("12", "14", "16")


def test_same_day_booking_checks_in_prints_and_tells_staff(env):
    slot = env.ok("sameday.slots", {"specialty": "therapist"})["slots"][0]
    assert datetime.fromisoformat(slot["start"]) - env.clock() <= timedelta(minutes=30)
    before = env.printed()
    data = env.ok("sameday.book", {**PATIENT, "doctor_id": slot["doctor_id"], "start": slot["start"],
                                   "room": slot["room"], "lang": "ru"})
    booking = data["booking"]
    assert data["checkin"] is not None and data["checkin"]["booking"] == booking
    assert data["checkin"]["route"] == "registration"  # a phone the core does not know: first visit
    doc = env.next_document(before)
    assert doc.qr_payloads == [booking] and data["checkin"]["ticket"] in doc.text_lines
    same_day = env.wait_events("booking.same_day")[0]
    assert same_day.data["booking"] == booking and same_day.data["doctor_id"] == slot["doctor_id"]
    assert same_day.data["room"] == slot["room"]
    assert datetime.fromisoformat(same_day.data["start"]) == datetime.fromisoformat(slot["start"])
    assert env.wait_events("checkin.completed")[0].data["booking"] == booking


def test_same_day_booking_for_later_says_when_to_check_in(env):
    slots = env.ok("sameday.slots", {"specialty": "cardiologist"})["slots"]
    later = next(s for s in slots if datetime.fromisoformat(s["start"]) - env.clock() > timedelta(minutes=45))
    before = env.printed()
    data = env.ok("sameday.book", {**PATIENT, "doctor_id": later["doctor_id"], "start": later["start"],
                                   "room": later["room"], "lang": "en"})
    assert data["checkin"] is None and data["checkin_error"] == "too_early"
    assert "Check-in opens at" in data["message"]
    env.wait_events("booking.same_day", predicate=lambda e: e.data["booking"] == data["booking"])
    assert env.printed() == before


def test_a_slot_taken_meanwhile_is_an_error(env):
    slot = env.ok("sameday.slots", {"specialty": "therapist"})["slots"][0]
    body = {**PATIENT, "doctor_id": slot["doctor_id"], "start": slot["start"], "room": slot["room"], "lang": "ru"}
    env.ok("sameday.book", body)
    error = env.error("sameday.book", {**body, "phone": "+79215550102"})
    assert error.code == "slot_taken" and "занято" in error.message


def test_same_day_needs_the_core(env):
    env.stop_core()
    error = env.error("sameday.slots", {"specialty": "therapist", "lang": "ru"})
    assert error.code == "core_offline" and "регистратуру" in error.message
    error = env.error("sameday.book", {**PATIENT, "doctor_id": "d-therapist-1", "lang": "zh",
                                       "start": (env.clock() + timedelta(minutes=15)).isoformat(), "room": "12"})
    assert error.code == "core_offline"


def test_feedback_follows_up_low_scores_and_keeps_comments_off_the_wire(env):
    low = env.ok("feedback", {"score": 4, "ticket": "L001", "comment": "Долго ждал, звоните +79001234567",
                              "lang": "ru"})
    assert low["follow_up"] is True and "свяжемся" in low["message"]
    assert env.ok("feedback", {"score": 6})["follow_up"] is True
    high = env.ok("feedback", {"score": 9, "booking": "BK-7Q4M2", "lang": "en"})
    assert high["follow_up"] is False and high["message"] == "Thank you for your feedback!"
    events = env.wait_events("feedback.submitted", count=3)
    assert [(e.data["score"], e.data["follow_up"]) for e in events] == [(4, True), (6, True), (9, False)]
    assert events[0].data == {"score": 4, "ticket": "L001", "booking": None, "follow_up": True, "call_back": False}
    assert all("+79001234567" not in e.model_dump_json() for e in env.events())
    stored = env.controller.store.query("SELECT score, comment FROM feedback ORDER BY id")
    assert stored[0] == {"score": 4, "comment": "Долго ждал, звоните +79001234567"}


def test_feedback_score_out_of_range_is_invalid(env):
    assert env.error("feedback", {"score": 11}).code == "invalid"


def test_kiosk_info_gives_the_ui_what_it_draws(env):
    data = env.ok("kiosk.info", {"lang": "zh"})
    assert data["kiosk"] == KIOSK and data["greeting"] == "早上好！" and data["site"] == "杜奈斯基诊所"
    assert data["languages"] == ["ru", "zh", "en"] and data["core_online"] is True
    assert {s["id"]: s["name"] for s in data["services"]}["lab"] == "化验室"
    assert data["printer"] == {"device": "printer-1", "state": "ready", "problems": []}
    env.stop_core()
    assert env.ok("kiosk.info", {"lang": "en"})["core_online"] is False
    assert env.error("kiosk.info", {"kiosk": "kiosk-9"}).code == "unknown_kiosk"  # not configured on this node


def test_no_free_slots_is_an_empty_list_with_a_message(env):
    data = env.ok("sameday.slots", {"specialty": "astrologer", "lang": "en"})
    assert data["slots"] == [] and "no free times" in data["message"]
