"""The kiosk's decisions as pure functions: no clock, no store, no MQTT.

Everything here takes the facts (an appointment, the time now, the configured window) and
returns a decision, so the rules are proven by table tests and the flow only does I/O.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable, Literal

from foundation import i18n
from foundation.config import ArrivalWindow, greeting_period

ArrivalKind = Literal["on_time", "early", "late", "too_early", "too_late"]
Route = Literal["doctor", "registration", "box"]

# Inside the window an arrival more than this before the start is recorded as "early": the window
# says when check-in is allowed, this says how the arrival counts in the waiting-time figures.
ON_TIME_BEFORE = timedelta(minutes=10)


@dataclass(frozen=True)
class Arrival:
    kind: ArrivalKind
    come_back_at: datetime | None = None  # too_early: when check-in opens

    @property
    def accepted(self) -> bool:
        return self.kind in ("on_time", "early", "late")


def classify_arrival(now: datetime, start: datetime, window: ArrivalWindow) -> Arrival:
    """Compare the arrival with the window [start - early_minutes, start + late_minutes].

    Both times must be timezone-aware; comparisons are absolute instants, so a booking made in
    another offset (or on another day) is judged correctly.
    """
    opens = start - timedelta(minutes=window.early_minutes)
    closes = start + timedelta(minutes=window.late_minutes)
    if now < opens:
        return Arrival("too_early", come_back_at=opens)
    if now > closes:
        return Arrival("too_late")
    if now > start:
        return Arrival("late")
    if now < start - ON_TIME_BEFORE:
        return Arrival("early")
    return Arrival("on_time")


def decide_route(flags: Iterable[str], first_visit: bool) -> Route:
    """Isolation comes first (the box is about everyone else's safety), then registration for a
    first-time patient (contract and consent before the doctor), else straight to the doctor."""
    if "box" in flags:
        return "box"
    if first_visit:
        return "registration"
    return "doctor"


def needs_representative(flags: Iterable[str], representative: bool | None) -> bool:
    """A child's check-in needs a representative's explicit confirmation (not just silence)."""
    return "child" in flags and representative is not True


def greeting(local: datetime, lang: str) -> str:
    """The greeting of the hour in the patient's language; `local` is the site's wall clock."""
    return i18n.text("greeting." + greeting_period(local.time()), lang)


def _is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"


def mask_name(display: str) -> str:
    """'Иванов Иван Иванович' or 'Иванов И. И.' -> 'Иванов И.'; '王小明' -> '王**'.

    The clinic writes names family name first, so the first word stays and the second becomes an
    initial; a patronymic is dropped. One word is kept as it is (nothing to shorten), except a
    Chinese name, whose given-name characters are starred.
    """
    parts = display.split()
    if not parts:
        return ""
    if len(parts) == 1:
        word = parts[0]
        if _is_cjk(word[0]):
            return word[0] + "*" * (len(word) - 1)
        return word
    return f"{parts[0]} {parts[1][0]}."


@dataclass(frozen=True)
class DoctorLoad:
    doctor_id: str
    load: int


def least_loaded_doctor(booked: Iterable[str], walk_ins: Iterable[str],
                        candidates: Iterable[str]) -> str | None:
    """The doctor with the fewest booked appointments plus walk-ins assigned today.

    `booked` and `walk_ins` list one doctor id per appointment / assigned walk-in; `candidates`
    are the doctors of the specialty working today. Ties go to the smallest id, so the same
    state always gives the same doctor (the next walk-in then tips the balance).
    """
    pool = sorted(set(candidates))
    if not pool:
        return None
    load = Counter(booked)
    load.update(walk_ins)
    return min(pool, key=lambda d: (load[d], d))


def day_load(booked: Iterable[str], walk_ins: Iterable[str], candidates: Iterable[str]) -> list[DoctorLoad]:
    """Each candidate's load, least loaded first (for logs and the staff view)."""
    load = Counter(booked)
    load.update(walk_ins)
    return sorted((DoctorLoad(d, load[d]) for d in set(candidates)), key=lambda x: (x.load, x.doctor_id))
