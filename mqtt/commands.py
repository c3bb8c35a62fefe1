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
    wait_minutes: float | None = None  # the queue's estimate (queue feature); None: not known yet
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
    ticket: str | None = Field(default=None, pattern=r"^[A-Z][0-9]{3}$")
    booking: BookingCode | None = None
    comment: str | None = Field(default=None, max_length=500)
    lang: Lang = "ru"


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
    wait_minutes: float | None = None  # estimated wait; None: not enough calls today


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


COMMAND_MODELS = {
    "checkin": CheckinCommand,
    "checkin.preview": CheckinCommand,
    "ticket": TicketCommand,
    "sameday.slots": SameDaySlotsCommand,
    "sameday.book": SameDayBookCommand,
    "feedback": FeedbackCommand,
    "kiosk.info": KioskInfoCommand,
}
