"""The suggested decision and the observations of a screening: pure functions.

Suggestion (config [screening]): box when any temperature is at or above fever_celsius, when
the booking is flagged box, or when a box_if_yes question was answered yes; otherwise refer
when SpO2 is below spo2_min_percent or the pulse is outside pulse_min_bpm..pulse_max_bpm;
otherwise pass. Box wins over refer: the isolation box comes first, a doctor sees them there.
"""
from __future__ import annotations

from dataclasses import dataclass

LOINC_BODY_TEMPERATURE = "8310-5"
LOINC_SPO2 = "59408-5"
LOINC_HEART_RATE = "8867-4"


@dataclass(frozen=True)
class Temperature:
    site: str  # forehead | neck
    celsius: float
    device: str
    at: float  # device time (time.time())


@dataclass(frozen=True)
class Oximetry:
    spo2: int
    pulse: int
    device: str
    at: float


def suggest(*, temperatures: list[Temperature], oximetry: Oximetry | None, box_flag: bool,
            answers: dict[str, str], box_questions: set[str], fever_celsius: float, spo2_min: int,
            pulse_range: tuple[int, int]) -> tuple[str, list[str]]:
    """(decision, the reasons that led to it: fever, booking_box, questionnaire, low_spo2, pulse)."""
    box = []
    if any(t.celsius >= fever_celsius for t in temperatures):
        box.append("fever")
    if box_flag:
        box.append("booking_box")
    if any(answers.get(q) == "yes" for q in box_questions):
        box.append("questionnaire")
    if box:
        return "box", box
    refer = []
    if oximetry is not None:
        if oximetry.spo2 < spo2_min:
            refer.append("low_spo2")
        if not pulse_range[0] <= oximetry.pulse <= pulse_range[1]:
            refer.append("pulse")
    if refer:
        return "refer", refer
    return "pass", []


def observations(temperatures: list[Temperature], oximetry: Oximetry | None) -> list[dict]:
    """Contract observations: values exactly as the devices reported them."""
    out = [{"code": LOINC_BODY_TEMPERATURE, "value": t.celsius, "unit": "Cel", "site": t.site, "device": t.device}
           for t in temperatures]
    if oximetry is not None:
        out.append({"code": LOINC_SPO2, "value": oximetry.spo2, "unit": "%", "device": oximetry.device})
        out.append({"code": LOINC_HEART_RATE, "value": oximetry.pulse, "unit": "/min", "device": oximetry.device})
    return out
