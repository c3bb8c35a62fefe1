"""The screening app's state without Kivy: what a scan asks for, what the screen says."""
from __future__ import annotations

from ui.screening_model import (
    Patient,
    capture_text,
    heading,
    live_oximeter,
    live_thermometer,
    needs_reason,
    outcome_lines,
    patient_from_start,
    start_request,
)
from foundation import i18n


def test_a_scan_is_a_booking_code_or_a_receipt_ticket():
    assert start_request(" bk-7q4m2\n") == {"by": "code", "code": "BK-7Q4M2"}
    assert start_request("R007") == {"by": "ticket", "ticket": "R007"}
    assert start_request("not a code!") is None


def test_every_language_has_every_text():
    # every language's own catalog, without the English fallback (tests/test_translations.py checks all keys)
    keys = {lang: {k for k in i18n.catalog(lang) if k.startswith("screening.")} for lang in i18n.LANGS}
    assert keys["ru"] == keys["zh"] == keys["en"] and len(keys["en"]) > 40


def test_captured_values_are_shown_as_the_device_gave_them():
    assert capture_text("forehead", {"value": 36.62}) == "36.62 °C"
    assert capture_text("neck", {"value": 37.0}) == "37.0 °C"
    assert capture_text("oximetry", {"spo2": 97, "pulse": 72}) == "97 % · 72"


def test_heading_is_masked_and_walk_ins_show_their_ticket():
    p = patient_from_start({"session": "s1", "booking": "BK-1", "patient": {"display": "Иванов И.",
                                                                          "first_visit": True, "child": False},
                            "flags": ["box"], "suggested": "box"})
    assert heading(p, "en") == "Иванов И.  ·  BK-1  ·  first visit" and p.box_flag
    assert heading(patient_from_start({"session": "s2", "ticket": "R007", "flags": []}), "en") == "Ticket R007"


def test_a_reason_is_asked_for_an_incomplete_screening_or_an_override():
    p = Patient(session="s", suggested="box")
    assert needs_reason(p, "box") == "reason_incomplete"
    p.captured = {"forehead": "38.1 °C", "neck": "38.0 °C", "oximetry": "97 % · 80"}
    assert needs_reason(p, "box") is None
    assert needs_reason(p, "pass") == "reason_override"


def test_box_outcome_names_the_doctor_only_when_notified():
    assert outcome_lines("box", {"notified": True, "doctor": "Петрова А. С."}, None, "en") == (
        "Sent to the box", "Doctor Петрова А. С. informed", False)
    _, detail, failure = outcome_lines("box", {"notified": False}, None, "en")
    assert failure and "NOT informed" in detail
    assert outcome_lines("pass", {"notified": False}, None, "en") == ("Passed", "", False)


def test_live_values_show_the_probe_state_and_no_stale_numbers():
    spo2, _ = live_oximeter({"spo2": None, "pulse": None, "probe": "finger_out"})
    assert (spo2.value, spo2.probe) == ("—", "probe_finger_out")
    spo2, pulse = live_oximeter({"spo2": 96, "pulse": 71, "probe": "ok"})
    assert (spo2.value, pulse.value) == ("96", "71")
    assert live_thermometer({"celsius": 27.9, "out_of_human_range": True}).probe == "thermo_aim"
    assert live_thermometer({"celsius": None}).value == "—"
