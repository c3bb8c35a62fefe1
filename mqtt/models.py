"""One pydantic model per payload of the MQTT contract (../shared/contract.md, docs/contract.md).

Payloads that come from the core ignore unknown fields (the core may add some); payloads the
node accepts as commands forbid them (a misspelt key is an error answer, not a silent default).
"""
from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal, Union

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter
from typing_extensions import NotRequired, TypedDict

ULID_PATTERN = r"^[0-9A-HJKMNP-TV-Z]{26}$"
TicketNo = Annotated[str, Field(pattern=r"^[A-Z][0-9]{3,4}$", description="prefix letter and three digits, four past 999: A023, A1000")]
Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
BookingCode = Annotated[str, Field(min_length=3, max_length=32, pattern=r"^[A-Z0-9][A-Z0-9-]*$")]


class Incoming(BaseModel):
    """From the core: tolerant of added fields."""
    model_config = ConfigDict(extra="ignore")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- status --------------------------------------------------------------------------------
class CoreStatus(Incoming):
    online: bool
    ts: AwareDatetime


class NodeStatus(Strict):
    online: bool
    session: int = Field(ge=0)
    ts: AwareDatetime
    version: str


class DeviceStatusMessage(Strict):
    device: Id
    # "store": the node's own disk (device "store", problem storage_full), docs/store.md
    kind: Literal["printer", "oximeter", "thermometer", "display", "scanner", "store"]
    state: Literal["ready", "degraded", "fault", "offline"]
    problems: list[str] = Field(default_factory=list)
    ts: AwareDatetime


# --- schedule ------------------------------------------------------------------------------
class Patient(Incoming):
    display: str
    birth_date: date
    phone_last4: str = Field(pattern=r"^[0-9]{4}$")
    first_visit: bool = False


class Doctor(Incoming):
    id: Id
    name: str
    specialty: str


class Appointment(Incoming):
    booking: BookingCode
    status: Literal["booked", "cancelled"]
    patient: Patient
    doctor: Doctor
    room: str
    floor: int
    start: AwareDatetime
    end: AwareDatetime
    flags: list[str] = Field(default_factory=list)
    site: str | None = None  # present when the core answers for another site

    @property
    def is_box(self) -> bool:
        return "box" in self.flags

    @property
    def is_child(self) -> bool:
        return "child" in self.flags


SnapshotVersion = Annotated[int, Field(ge=0, lt=2**63)]  # a SQLite integer: a larger one is malformed


class ScheduleSnapshot(Incoming):
    date: date
    version: SnapshotVersion
    appointments: list[Appointment]


# The same snapshot shape as plain typed dicts, for the node's cache: validating 100,000
# appointments into the models above takes ~3.3 s and ~270 MB; into dicts ~0.7 s, and the cache
# keeps them in SQLite, not in memory. tests/test_schedule_scale.py holds the two shapes equal.
class _PatientRow(TypedDict):
    display: str
    birth_date: date
    phone_last4: Annotated[str, Field(pattern=r"^[0-9]{4}$")]
    first_visit: NotRequired[bool]


class _DoctorRow(TypedDict):
    id: Id
    name: str
    specialty: str


class AppointmentRow(TypedDict):
    booking: BookingCode
    status: Literal["booked", "cancelled"]
    patient: _PatientRow
    doctor: _DoctorRow
    room: str
    floor: int
    start: AwareDatetime
    end: AwareDatetime
    flags: NotRequired[list[str]]
    site: NotRequired[str | None]


class ScheduleSnapshotRows(TypedDict):
    date: date
    version: SnapshotVersion
    appointments: list[AppointmentRow]


ScheduleSnapshotRowsAdapter: TypeAdapter = TypeAdapter(ScheduleSnapshotRows)


# --- events --------------------------------------------------------------------------------
class TicketIssued(Strict):
    ticket: TicketNo
    service: str
    priority: bool
    channel: Literal["kiosk", "desk"]
    booking: str | None
    kiosk: str | None
    printed: bool


class CheckinCompleted(Strict):
    booking: str
    ticket: TicketNo
    doctor_id: str
    room: str
    start: AwareDatetime
    arrival: Literal["on_time", "early", "late"]
    route: Literal["doctor", "registration", "box"]
    channel: Literal["kiosk", "desk"] = "kiosk"
    offline: bool = False  # decided from the cached schedule; the core must confirm


class CheckinRejected(Strict):
    reason: Literal["not_found", "too_early", "too_late", "cancelled", "other_site", "invalid",
                    "representative_required"]
    kiosk: str | None


class BookingSameDay(Strict):
    booking: str
    doctor_id: str
    room: str
    start: AwareDatetime


class Observation(Strict):
    code: Literal["8310-5", "59408-5", "8867-4"]
    value: int | float  # as the device reported it: SpO2 and pulse stay integers
    unit: Literal["Cel", "%", "/min"]
    site: Literal["forehead", "neck"] | None = None
    device: str


class ScreeningCompleted(Strict):
    booking: str | None = None
    ticket: str | None = None
    observations: list[Observation]
    decision: Literal["pass", "box", "refer"]
    answers: dict[str, Any] = Field(default_factory=dict)
    # our additions: what the rules suggested, the staff's reason when they decided otherwise
    # (or completed without every measurement), and the post
    suggested: Literal["pass", "box", "refer"] | None = None
    reason: str | None = None
    post: str | None = None


class RoutingBox(Strict):
    booking: str
    doctor_id: str


class CallDisplayed(Strict):
    call_id: str
    ticket: TicketNo
    room: str
    boards: list[str]
    announced: bool
    latency_ms: float


class FeedbackSubmitted(Strict):
    score: int = Field(ge=0, le=10)
    ticket: str | None = None
    booking: str | None = None
    follow_up: bool
    call_back: bool = False  # the patient consented to a call back (FeedbackCommand.call_back)


class DeviceProblem(Strict):
    device: str
    kind: str
    problem: str
    cleared: bool = False  # our addition: the same problem going away


EVENT_MODELS: dict[str, type[BaseModel]] = {
    "ticket.issued": TicketIssued,
    "checkin.completed": CheckinCompleted,
    "checkin.rejected": CheckinRejected,
    "booking.same_day": BookingSameDay,
    "screening.completed": ScreeningCompleted,
    "routing.box": RoutingBox,
    "call.displayed": CallDisplayed,
    "feedback.submitted": FeedbackSubmitted,
    "device.problem": DeviceProblem,
}


class EventEnvelope(Strict):
    id: str = Field(pattern=ULID_PATTERN)
    type: str
    ts: AwareDatetime
    site: str
    node: str
    session: int = Field(ge=0)
    seq: int = Field(ge=1)
    historical: bool
    data: dict[str, Any]


# --- requests to the core and answers ----------------------------------------------------
class Request(Strict):
    """Every request and node command: strict (`"7"` is not a number, `"yes"` not a boolean, 1 not
    true), unknown fields refused. The Dispatcher validates the JSON itself, strictly as well."""
    model_config = ConfigDict(extra="forbid", strict=True)
    transaction: str | None = Field(default=None, max_length=128)


class LookupByCode(Request):
    by: Literal["code"]
    code: BookingCode


class LookupByPhone(Request):
    by: Literal["phone"]
    phone: str = Field(pattern=r"^\+?[0-9]{10,15}$")
    birth_date: date


BookingLookup = Annotated[Union[LookupByCode, LookupByPhone], Field(discriminator="by")]
BookingLookupAdapter: TypeAdapter = TypeAdapter(BookingLookup)


class CheckinRequest(Request):
    booking: BookingCode
    ticket: TicketNo


class CheckinAnswer(Strict):
    accepted: bool


class SlotsSearch(Request):
    specialty: str = Field(min_length=1, max_length=64)
    date: date


class Slot(Incoming):
    doctor_id: str
    start: AwareDatetime
    room: str
    doctor_name: str | None = None
    floor: int | None = None


class SlotsAnswer(Incoming):
    slots: list[Slot]


class NewPatient(Strict):
    phone: str = Field(pattern=r"^\+?[0-9]{10,15}$")
    birth_date: date


class BookingCreate(Request):
    slot: Slot
    patient: NewPatient


class ErrorBody(Strict):
    code: str
    message: str


class OkAnswer(Strict):
    status: Literal["ok"] = "ok"
    data: dict[str, Any]
    transaction: str | None = None


class ErrorAnswer(Strict):
    status: Literal["error"] = "error"
    error: ErrorBody
    transaction: str | None = None


Answer = Annotated[Union[OkAnswer, ErrorAnswer], Field(discriminator="status")]
AnswerAdapter: TypeAdapter = TypeAdapter(Answer)


# --- calls and boards ----------------------------------------------------------------------
class CallCommand(Incoming):
    call_id: str = Field(min_length=1, max_length=64)
    ticket: TicketNo
    room: str = Field(min_length=1, max_length=16)
    service: str | None = None
    repeat: bool = False


class BoardCall(Strict):
    call_id: str
    ticket: TicketNo
    room: str
    ts: AwareDatetime


class BoardState(Strict):
    """What every call board shows now: the most recent calls, newest first. No personal data."""
    ts: AwareDatetime
    calls: list[BoardCall]


REQUEST_MODELS: dict[str, Any] = {
    "booking.lookup": BookingLookupAdapter,
    "checkin": CheckinRequest,
    "slots.search": SlotsSearch,
    "booking.create": BookingCreate,
}


class DeviceReadingMessage(Strict):
    """Our addition (node/{node}/dev/{device}/reading, QoS 0, not retained): live readings for the
    UIs. Scans are sent each time; vital signs at most a few times a second."""
    device: Id
    kind: Literal["oximeter", "thermometer", "scanner"]
    ts: AwareDatetime
    code: str | None = None  # scanner
    spo2: int | None = None
    signal: int | None = None
    pulse: int | None = None
    probe: str | None = None
    celsius: float | None = None
    ambient_celsius: float | None = None
    out_of_human_range: bool | None = None


# --- queue state (our addition: node/{node}/queue/state, retained) ---------------------------
class QueueEntry(Strict):
    """One queue: a service in a room. Ticket numbers and counts only, never a name."""
    service: str | None  # None: a room the core called a ticket to that the node did not issue
    room: str | None
    waiting: int = Field(ge=0, description="tickets issued today and not yet called")
    last_called: TicketNo | None = None
    last_called_at: AwareDatetime | None = None
    wait_minutes: float | None = Field(default=None, ge=0,
                                       description="median of today's latest issue -> call intervals; "
                                                   "null until there are enough calls")
    calls_today: int = Field(default=0, ge=0)


class QueueState(Strict):
    ts: AwareDatetime
    day: date
    queues: list[QueueEntry]
