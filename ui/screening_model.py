"""The screening app's state for one patient, and how answers change it: pure, testable without Kivy.

The controller decides what is stable and what is suggested; this only keeps what it answered
and turns it into what the screen shows. `reset()` is the clean state between patients.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from ui.screening_texts import tr

TICKET = re.compile(r"^[A-Z][0-9]{3}$")
BOOKING = re.compile(r"^[A-Z0-9][A-Z0-9-]{2,31}$")
DECISIONS = ("pass", "box", "refer")


def start_request(scanned: str) -> dict | None:
    """What a scanned code asks `screening.start` for: a receipt's ticket number or a booking code."""
    code = scanned.strip().upper()
    if TICKET.match(code):
        return {"by": "ticket", "ticket": code}
    if BOOKING.match(code):
        return {"by": "code", "code": code}
    return None


@dataclass
class Live:
    """The latest live reading of one device (from the reading topic), for display only."""
    value: str = "—"
    probe: str = "probe_none"


@dataclass
class Patient:
    session: str = ""
    booking: str | None = None
    ticket: str | None = None
    display: str | None = None
    doctor: str | None = None
    room: str | None = None
    flags: list[str] = field(default_factory=list)
    first_visit: bool = False
    child: bool = False
    suggested: str = "pass"
    captured: dict[str, str] = field(default_factory=dict)  # forehead / neck / oximetry -> shown value
    errors: dict[str, str] = field(default_factory=dict)  # the same keys -> error text key
    answers: dict[str, str] = field(default_factory=dict)

    @property
    def box_flag(self) -> bool:
        return "box" in self.flags

    @property
    def complete(self) -> bool:
        return all(k in self.captured for k in ("forehead", "neck", "oximetry"))


def patient_from_start(data: dict) -> Patient:
    person = data.get("patient") or {}
    return Patient(session=data["session"], booking=data.get("booking"), ticket=data.get("ticket"),
                   display=person.get("display"), doctor=data.get("doctor"), room=data.get("room"),
                   flags=list(data.get("flags") or []), first_visit=bool(person.get("first_visit")),
                   child=bool(person.get("child")), suggested=data.get("suggested", "pass"))


def celsius_text(value) -> str:
    """A temperature exactly as the device gave it (no rounding), with a comma-free dot."""
    return f"{value} °C"


def capture_text(what: str, data: dict) -> str:
    if what == "oximetry":
        return f"{data['spo2']} % · {data['pulse']}"
    return celsius_text(data["value"])


def error_key(code: str) -> str:
    return {"no_reading": "err_no_reading", "implausible": "err_implausible",
            "device_unavailable": "err_device_unavailable"}.get(code, "err_other")


def heading(p: Patient, lang: str) -> str:
    """The masked patient line: name (masked), booking or ticket, never more."""
    if p.display:
        parts = [p.display, p.booking or ""]
        if p.first_visit:
            parts.append(tr("first_visit", lang))
        if p.child:
            parts.append(tr("child", lang))
        return "  ·  ".join(x for x in parts if x)
    if p.ticket:
        return tr("ticket", lang, ticket=p.ticket)
    return tr("walk_in", lang)


def doctor_line(p: Patient, lang: str) -> str:
    if p.doctor and p.room:
        return tr("doctor_room", lang, doctor=p.doctor, room=p.room)
    return p.doctor or ""


def needs_reason(p: Patient, decision: str) -> str | None:
    """The reason screen's prompt key when this decision needs a reason, else None."""
    if not p.complete:
        return "reason_incomplete"
    if decision != p.suggested:
        return "reason_override"
    return None


def outcome_lines(decision: str, data: dict | None, error: tuple[str, str] | None, lang: str) -> tuple[str, str, bool]:
    """(title, detail, failure) for the done screen."""
    if error is not None:
        code, message = error
        return tr("decision_" + decision, lang), tr("not_recorded", lang, message=message or code), True
    title = tr("outcome_" + decision, lang)
    if decision != "box":
        return title, "", False
    if data and data.get("notified") and data.get("doctor"):
        return title, tr("doctor_informed", lang, doctor=data["doctor"]), False
    return title, tr("doctor_not_informed", lang), True


def live_oximeter(reading: dict) -> tuple[Live, Live]:
    probe = reading.get("probe") or "none"
    if probe == "ok" and reading.get("spo2") is not None:
        return Live(str(reading["spo2"]), "probe_ok"), Live(str(reading.get("pulse") or "—"), "probe_ok")
    key = f"probe_{probe}" if probe in ("finger_out", "searching", "sensor_fault") else "probe_none"
    return Live("—", key), Live("—", key)


def live_thermometer(reading: dict) -> Live:
    celsius = reading.get("celsius")
    if celsius is None:
        return Live("—", "thermo_error")
    return Live(f"{celsius}", "thermo_aim" if reading.get("out_of_human_range") else "probe_ok")
