"""The screening post end to end: the staff app's commands through a real broker to the
controller, the oximeter and thermometer simulators on ptys, events to the stand-in core."""
from __future__ import annotations

import json

import pytest

from tests.support.screening_post import POST, as_reported, screening_post, set_patient
from tests.support.waiting import wait_until


@pytest.fixture
def post(tmp_path, broker):
    with screening_post(tmp_path, broker) as p:
        yield p


def _observations(event) -> list[dict]:
    return [{k: v for k, v in o.items() if v is not None} for o in event.data["observations"]]


def test_fever_goes_to_the_box_with_routing_box_and_the_doctor_informed(post, caplog):
    appt = post.booking(doctor_id="d-therapist-1")
    set_patient(post.thermometer, celsius=38.25)
    set_patient(post.oximeter, spo2=97, pulse=88)
    started = post.start_session(by="code", code=appt.booking)
    assert started["patient"] == {"display": "Тестова А.", "first_visit": False, "child": False}
    assert started["doctor"] == "Петрова А. С." and started["suggested"] == "pass"
    got = post.measure_all(started["session"])
    assert got["forehead"]["value"] == as_reported(38.25) == 38.25
    assert got["forehead"]["unit"] == "Cel" and got["forehead"]["device"] == "thermometer-1"
    assert (got["oximetry"]["spo2"], got["oximetry"]["pulse"]) == (97, 88)
    assert got["neck"]["suggested"] == "box"
    done = post.ok("screening.complete", {"session": started["session"], "decision": "box"})
    assert done["decision"] == "box" and done["suggested"] == "box" and done["notified"] is True
    assert done["doctor"] == "Петрова А. С."
    assert done["today"] == {"screened": 1, "box": 1, "refer": 0}

    event = post.wait_event("screening.completed", lambda e: e.data["booking"] == appt.booking)
    assert _observations(event) == [
        {"code": "8310-5", "value": 38.25, "unit": "Cel", "site": "forehead", "device": "thermometer-1"},
        {"code": "8310-5", "value": 38.25, "unit": "Cel", "site": "neck", "device": "thermometer-1"},
        {"code": "59408-5", "value": 97, "unit": "%", "device": "oximeter-1"},
        {"code": "8867-4", "value": 88, "unit": "/min", "device": "oximeter-1"},
    ]
    assert event.data["decision"] == "box" and event.data["suggested"] == "box" and event.data["post"] == POST
    routed = post.wait_event("routing.box")
    assert routed.data == {"booking": appt.booking, "doctor_id": "d-therapist-1"}
    assert wait_until(lambda: post.core.notifications(), 10)
    note = post.core.notifications()[0]
    assert (note["booking"], note["doctor"]) == (appt.booking, "Петрова А. С.")
    text = json.dumps([e.data for e in post.core.inbox()], ensure_ascii=False)
    assert "Тестова" not in text and "1980-05-17" not in text and "79990001122" not in text
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "doctor Петрова А. С. (d-therapist-1) informed" in logged
    assert "Тестова" not in logged and "1980-05-17" not in logged


def test_each_temperature_is_its_own_reading_recorded_as_reported(post):
    set_patient(post.thermometer, celsius=36.65)
    set_patient(post.oximeter, spo2=99, pulse=64)
    session = post.start_session(by="none")["session"]
    forehead = post.ok("screening.measure", {"session": session, "what": "temperature", "site": "forehead"})
    set_patient(post.thermometer, celsius=36.85)
    neck = post.ok("screening.measure", {"session": session, "what": "temperature", "site": "neck"})
    assert forehead["value"] == as_reported(36.65) and neck["value"] == as_reported(36.85)
    assert neck["at"] > forehead["at"]
    post.ok("screening.measure", {"session": session, "what": "oximetry"})
    done = post.ok("screening.complete", {"session": session, "decision": "pass"})
    assert done == {"decision": "pass", "suggested": "pass", "notified": False, "doctor": None,
                    "today": {"screened": 1, "box": 0, "refer": 0}}
    event = post.wait_event("screening.completed")
    assert [o["value"] for o in event.data["observations"]] == [36.65, 36.85, 99, 64]
    assert event.data["booking"] is None and event.data["ticket"] is None
    assert not post.events("routing.box")


def test_booking_flagged_box_goes_to_the_box_before_any_measurement(post):
    appt = post.booking(doctor_id="d-therapist-2", flags=("box",))
    started = post.start_session(by="code", code=appt.booking)
    assert started["flags"] == ["box"] and started["suggested"] == "box"
    done = post.ok("screening.complete", {"session": started["session"], "decision": "box",
                                          "reason": "booking flagged box"})
    assert done["notified"] is True
    assert post.wait_event("routing.box").data == {"booking": appt.booking, "doctor_id": "d-therapist-2"}
    event = post.wait_event("screening.completed")
    assert event.data["observations"] == [] and event.data["reason"] == "booking flagged box"


def test_questionnaire_yes_goes_to_the_box(post):
    appt = post.booking(doctor_id="d-therapist-3")
    session = post.start_session(by="code", code=appt.booking)["session"]
    post.measure_all(session)
    answered = post.ok("screening.answers", {"session": session, "answers": {
        "fever-14d": "no", "cough": "no", "smell-taste": "no", "contact": "yes", "travel-14d": "no"}})
    assert answered["suggested"] == "box"
    assert post.ok("screening.complete", {"session": session, "decision": "box"})["notified"] is True
    event = post.wait_event("screening.completed")
    assert event.data["answers"]["contact"] == "yes" and event.data["decision"] == "box"
    assert post.wait_event("routing.box").data["booking"] == appt.booking


def test_low_spo2_is_referred_without_routing_box(post):
    appt = post.booking(doctor_id="d-therapist-1")
    set_patient(post.oximeter, spo2=91, pulse=80)
    session = post.start_session(by="code", code=appt.booking)["session"]
    got = post.measure_all(session)
    assert got["oximetry"]["spo2"] == 91 and got["oximetry"]["suggested"] == "refer"
    done = post.ok("screening.complete", {"session": session, "decision": "refer"})
    assert done["notified"] is False and done["today"]["refer"] == 1
    event = post.wait_event("screening.completed")
    assert event.data["decision"] == "refer"
    assert {"code": "59408-5", "value": 91, "unit": "%", "device": "oximeter-1", "site": None} in \
        event.data["observations"]
    assert not post.events("routing.box")


def test_staff_override_needs_a_reason_and_the_event_carries_both(post):
    appt = post.booking(doctor_id="d-therapist-2")
    set_patient(post.thermometer, celsius=37.95)
    session = post.start_session(by="code", code=appt.booking)["session"]
    post.measure_all(session)
    refused = post.error("screening.complete", {"session": session, "decision": "pass"})
    assert refused.code == "reason_required"
    done = post.ok("screening.complete", {"session": session, "decision": "pass",
                                          "reason": "just came in from the sun; 37.4 after 15 min rest"})
    assert done["suggested"] == "box" and done["decision"] == "pass" and done["notified"] is False
    event = post.wait_event("screening.completed")
    assert (event.data["decision"], event.data["suggested"]) == ("pass", "box")
    assert event.data["reason"].startswith("just came in")
    assert not post.events("routing.box")


def test_incomplete_screening_needs_a_reason(post):
    session = post.start_session(by="none")["session"]
    post.ok("screening.measure", {"session": session, "what": "temperature", "site": "forehead"})
    error = post.error("screening.complete", {"session": session, "decision": "pass"})
    assert error.code == "incomplete" and "neck" in error.message and "oximetry" in error.message
    done = post.ok("screening.complete", {"session": session, "decision": "pass", "reason": "oximeter in repair"})
    assert done["decision"] == "pass"


def test_no_finger_on_the_oximeter_is_no_reading(post):
    set_patient(post.oximeter, finger_out=True)
    session = post.start_session(by="none")["session"]
    error = post.error("screening.measure", {"session": session, "what": "oximetry"})
    assert error.code == "no_reading" and "no finger" in error.message
    set_patient(post.oximeter, finger_out=False, spo2=96, pulse=70)
    got = post.ok("screening.measure", {"session": session, "what": "oximetry"})
    assert (got["spo2"], got["pulse"]) == (96, 70)


def test_thermometer_probe_off_is_no_reading(post):
    set_patient(post.thermometer, sensor_error=True)
    session = post.start_session(by="none")["session"]
    error = post.error("screening.measure", {"session": session, "what": "temperature", "site": "forehead"})
    assert error.code == "no_reading"


def test_thermometer_at_room_air_is_implausible(post):
    set_patient(post.thermometer, celsius=28.0)
    session = post.start_session(by="none")["session"]
    error = post.error("screening.measure", {"session": session, "what": "temperature", "site": "neck"})
    assert error.code == "implausible" and f"{as_reported(28.0)} °C" in error.message


def test_oximeter_unplugged_mid_measurement_names_the_device(post):
    set_patient(post.oximeter, finger_out=True)  # staff wait for the finger ...
    session = post.start_session(by="none")["session"]
    import threading
    answers = []
    waiting = threading.Thread(target=lambda: answers.append(
        post.command("screening.measure", {"session": session, "what": "oximetry"})))
    waiting.start()
    post.oximeter.unplug()  # ... and the cable comes out
    waiting.join(20)
    assert answers and answers[0].status == "error"
    assert answers[0].error.code == "device_unavailable" and "oximeter-1" in answers[0].error.message
    post.oximeter.replug()
    set_patient(post.oximeter, finger_out=False)
    assert wait_until(lambda: post.device_state("oximeter-1") == "ready", 20)
    assert post.ok("screening.measure", {"session": session, "what": "oximetry"})["device"] == "oximeter-1"


def test_unknown_code_is_not_found_and_the_patient_is_screened_without_a_booking(post):
    assert post.error("screening.start", {"post": POST, "by": "code", "code": "BK-NOSUCH"}).code == "not_found"
    assert post.start_session(by="none")["patient"] is None


def test_unknown_post_and_unknown_session_are_refused(post):
    assert post.error("screening.start", {"post": "screening-9", "by": "none"}).code == "unknown_post"
    assert post.error("screening.measure", {"session": "nosuch", "what": "oximetry"}).code == "unknown_session"


def test_walk_in_found_by_the_ticket_on_its_receipt(post):
    ticket = post.command("ticket", {"kiosk": "kiosk-1", "service": "registration"})
    assert ticket.status == "ok", ticket
    number = ticket.data["ticket"]
    started = post.start_session(by="ticket", ticket=number)
    assert started["ticket"] == number and started["booking"] is None and started["room"] == "1"
    assert post.error("screening.start", {"post": POST, "by": "ticket", "ticket": "Z999"}).code == "not_found"


def test_cancel_drops_the_session_and_nothing_is_recorded(post):
    session = post.start_session(by="none")["session"]
    assert post.ok("screening.cancel", {"session": session}) == {"cancelled": True}
    assert post.error("screening.answers", {"session": session, "answers": {}}).code == "unknown_session"
    info = post.ok("screening.info", {"post": POST, "lang": "zh"})
    assert info["today"] == {"screened": 0, "box": 0, "refer": 0}
    assert info["questions"][0] == {"id": "fever-14d", "text": "过去14天内您是否发烧？", "box_if_yes": True}
    assert (info["thermometer"], info["oximeter"]) == ("thermometer-1", "oximeter-1")
