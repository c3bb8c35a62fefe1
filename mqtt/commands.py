"""Node commands (`node/{node}/cmd/{name}`): what the kiosk UI and staff screens send the controller.

The contract leaves these to us; docs/contract.md documents them and `vestibule contract schemas`
publishes their JSON Schemas. Answers use the contract's {status, data|error, transaction}.
"""
from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import AwareDatetime, Field, model_validator

from mqtt.models import BookingCode, Request, Strict

Lang = Literal["ru", "zh", "en"]
KioskId = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")


class CheckinCommand(Request):
    kiosk: str = KioskId
    by: Literal["code", "phone"]
    code: BookingCode | None = None
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9]{10,15}$")
    birth_date: date | None = None
    lang: Lang = "ru"
    representative: bool | None = None  # a child's representative confirmed being present

    @model_validator(mode="after")
    def _fields_for_method(self):
        if self.by == "code" and not self.code:
            raise ValueError("by=code needs `code`")
        if self.by == "phone" and (not self.phone or not self.birth_date):
            raise ValueError("by=phone needs `phone` and `birth_date`")
        return self


class CheckinResult(Strict):
    ticket: str
    route: Literal["doctor", "registration", "box"]
    arrival: Literal["on_time", "early", "late"] = "on_time"
    room: str
    floor: int | None
    start: AwareDatetime
    doctor: str  # name as the clinic prints it (doctors' names are not patient data)
    specialty: str | None = None
    patient: str  # masked, e.g. "Иванов И."
    booking: str
    printed: bool
    offline: bool  # decided from the cached schedule while the core was away
    message: str  # what the screen says, in the patient's language
    repeated: bool = False  # checked in earlier today: the same ticket, printed again
    ahead: int | None = None  # checked-in patients before them in the doctor's queue (route doctor only; not on a repeat)
    wait_minutes: int | None = None  # that queue's estimate in whole minutes; None: not known yet


class CheckinPreview(Strict):
    """`checkin.preview` (same request as `checkin`): the appointment to confirm on screen before
    checking in. Nothing is issued or recorded; rejections are answered as for `checkin`."""
    booking: str
    patient: str  # masked, e.g. "Иванов И."
    doctor: str
    specialty: str | None = None
    start: AwareDatetime
    room: str
    floor: int | None
    route: Literal["doctor", "registration", "box"]
    arrival: Literal["on_time", "early", "late"]
    child: bool  # a representative must confirm (send `checkin` with representative=true)
    checked_in: bool = False  # checked in earlier today: `checkin` gives the same ticket again
    offline: bool  # looked up in the cached schedule while the core was away


class TicketCommand(Request):
    kiosk: str = KioskId
    service: str = Field(min_length=1, max_length=64)
    priority: bool = False
    lang: Lang = "ru"


class TicketResult(Strict):
    ticket: str
    service: str
    service_name: str
    room: str | None
    floor: int | None
    priority: bool
    ahead: int
    printed: bool
    doctor: str | None = None  # a specialty walk-in: the least-loaded doctor of the day
    wait_minutes: int | None = None  # the queue's estimate in whole minutes (queue feature); None: not known yet
    message: str


class SameDaySlotsCommand(Request):
    kiosk: str = KioskId
    specialty: str = Field(min_length=1, max_length=64)
    lang: Lang = "ru"


class SameDayBookCommand(Request):
    kiosk: str = KioskId
    doctor_id: str = Field(min_length=1, max_length=64)
    start: AwareDatetime
    room: str = Field(min_length=1, max_length=16)
    phone: str = Field(pattern=r"^\+?[0-9]{10,15}$")
    birth_date: date
    lang: Lang = "ru"
    representative: bool | None = None  # as in CheckinCommand, for a child's booking


class SameDaySlot(Strict):
    doctor_id: str
    doctor: str | None = None  # the doctor's name when the core gives it
    specialty: str
    start: AwareDatetime
    room: str
    floor: int | None = None


class SameDaySlotsResult(Strict):
    specialty: str
    slots: list[SameDaySlot]
    message: str


class SameDayBookResult(Strict):
    booking: str
    start: AwareDatetime
    room: str
    doctor: str
    checkin: CheckinResult | None  # None: booked, but not checked in now (checkin_error says why)
    checkin_error: str | None = None  # e.g. too_early, representative_required
    message: str


class FeedbackCommand(Request):
    kiosk: str = KioskId
    score: int = Field(ge=0, le=10)
    ticket: str | None = Field(default=None, pattern=r"^[A-Z][0-9]{3,4}$")
    booking: BookingCode | None = None
    comment: str | None = Field(default=None, max_length=500)
    lang: Lang = "ru"
    # the patient agreed to be called back (asked only at a low score); staff call the number of
    # the booking or ask at the desk: the phone number itself never goes on the wire
    call_back: bool = False


class KioskInfoCommand(Request):
    kiosk: str = KioskId
    lang: Lang = "ru"


class FeedbackResult(Strict):
    follow_up: bool
    message: str


class ServiceInfo(Strict):
    id: str
    name: str  # in the requested language
    prefix: str
    room: str | None
    floor: int | None
    specialty: str | None
    waiting: int | None = None  # tickets waiting now (queue feature); None: no queue state on this node
    wait_minutes: int | None = None  # estimated wait, whole minutes; None: not enough calls today


class PrinterInfo(Strict):
    device: str | None
    state: Literal["ready", "degraded", "fault", "offline", "none"]
    problems: list[str]


class KioskInfoResult(Strict):
    kiosk: str
    lang: Lang
    languages: list[Lang]
    greeting: str  # of the hour, in `lang`
    site: str  # the clinic's name in `lang`
    services: list[ServiceInfo]
    core_online: bool  # False: the UI shows its discreet offline state
    printer: PrinterInfo
    now: AwareDatetime


# Error codes of `checkin` after which the kiosk offers a ticket for registration (the UI then
# sends `ticket` with service RECEPTION_SERVICE); the error message says so in the patient's language.
RECEPTION_OFFERED = frozenset({"not_found", "cancelled", "other_site", "too_late", "refused"})
RECEPTION_SERVICE = "registration"


# Commands that issue something: a retry with the same `transaction` from the same client answers
# the first result and issues nothing again (mqtt/replies.py; docs/contract.md).
IDEMPOTENT_COMMANDS = frozenset({"ticket", "checkin", "sameday.book", "feedback", "screening.complete"})


COMMAND_MODELS = {
    "checkin": CheckinCommand,
    "checkin.preview": CheckinCommand,
    "ticket": TicketCommand,
    "sameday.slots": SameDaySlotsCommand,
    "sameday.book": SameDayBookCommand,
    "feedback": FeedbackCommand,
    "kiosk.info": KioskInfoCommand,
}


# --- the screening post (kiosk/features/screening, docs/contract.md "Screening post") -------------
PostId = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")
SessionId = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")
Decision = Literal["pass", "box", "refer"]


class ScreeningStartCommand(Request):
    post: str = PostId
    by: Literal["code", "ticket", "none"]
    code: BookingCode | None = None
    ticket: str | None = Field(default=None, pattern=r"^[A-Z][0-9]{3}$")
    lang: Lang = "ru"

    @model_validator(mode="after")
    def _fields_for_method(self):
        if self.by == "code" and not self.code:
            raise ValueError("by=code needs `code`")
        if self.by == "ticket" and not self.ticket:
            raise ValueError("by=ticket needs `ticket`")
        return self


class ScreeningPatient(Strict):
    display: str  # masked, e.g. "Иванов И."
    first_visit: bool
    child: bool


class ScreeningStartResult(Strict):
    session: str
    booking: str | None = None
    ticket: str | None = None
    patient: ScreeningPatient | None = None
    doctor: str | None = None
    room: str | None = None
    start: AwareDatetime | None = None
    flags: list[str]
    suggested: Decision


class ScreeningMeasureCommand(Request):
    session: str = SessionId
    what: Literal["temperature", "oximetry"]
    site: Literal["forehead", "neck"] | None = None

    @model_validator(mode="after")
    def _site_for_temperature(self):
        if self.what == "temperature" and self.site is None:
            raise ValueError("what=temperature needs `site` (forehead or neck)")
        if self.what == "oximetry" and self.site is not None:
            raise ValueError("what=oximetry takes no `site`")
        return self


class ScreeningMeasureResult(Strict):
    what: Literal["temperature", "oximetry"]
    site: Literal["forehead", "neck"] | None = None
    value: float | None = None  # °C exactly as the thermometer reported it
    unit: Literal["Cel"] | None = None
    spo2: int | None = None
    pulse: int | None = None
    device: str
    at: AwareDatetime  # when the device gave the reading
    suggested: Decision


class ScreeningAnswersCommand(Request):
    session: str = SessionId
    answers: dict[str, Literal["yes", "no"]]


class ScreeningAnswersResult(Strict):
    answers: dict[str, Literal["yes", "no"]]
    suggested: Decision


class ScreeningCompleteCommand(Request):
    session: str = SessionId
    decision: Decision
    reason: str | None = Field(default=None, max_length=200)  # never a name: it goes into the event


class ScreeningToday(Strict):
    screened: int
    box: int
    refer: int


class ScreeningCompleteResult(Strict):
    decision: Decision
    suggested: Decision
    notified: bool  # routing.box is in the outbox: the doctor will be told
    doctor: str | None = None
    today: ScreeningToday


class ScreeningCancelCommand(Request):
    session: str = SessionId


class ScreeningCancelResult(Strict):
    cancelled: bool


class ScreeningInfoCommand(Request):
    post: str = PostId
    lang: Lang = "ru"


class ScreeningQuestionText(Strict):
    id: str
    text: str
    box_if_yes: bool


class ScreeningInfoResult(Strict):
    post: str
    thermometer: str | None  # the post's device ids (their live readings are on dev/{id}/reading)
    oximeter: str | None
    questions: list[ScreeningQuestionText]
    fever_celsius: float
    spo2_min_percent: int
    today: ScreeningToday


COMMAND_MODELS.update({
    "screening.info": ScreeningInfoCommand,
    "screening.start": ScreeningStartCommand,
    "screening.measure": ScreeningMeasureCommand,
    "screening.answers": ScreeningAnswersCommand,
    "screening.complete": ScreeningCompleteCommand,
    "screening.cancel": ScreeningCancelCommand,
})
