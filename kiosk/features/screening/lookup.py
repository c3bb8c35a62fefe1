"""Finding the patient's booking for the post: by booking code (today's cached schedule first,
then the core) or by the ticket number on a walk-in's receipt (the lobby's ticket rows, read only).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime

log = logging.getLogger("vestibule.screening")


class NotFound(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Visit:
    """What the post needs of a booking; the name is only ever kept masked."""
    booking: str | None = None
    ticket: str | None = None
    patient: str | None = None  # masked
    first_visit: bool = False
    child: bool = False
    doctor_id: str | None = None
    doctor: str | None = None
    room: str | None = None
    start: datetime | None = None
    flags: tuple[str, ...] = field(default_factory=tuple)

    @property
    def box_flag(self) -> bool:
        return "box" in self.flags


def _is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"


def mask_name(display: str) -> str:
    """Family name and one initial ('Иванов И. И.' -> 'Иванов И.'; '王小明' -> '王**').
    The same rule as the kiosk's receipts (features do not import each other)."""
    parts = display.split()
    if not parts:
        return ""
    if len(parts) == 1:
        word = parts[0]
        return word[0] + "*" * (len(word) - 1) if _is_cjk(word[0]) else word
    return f"{parts[0]} {parts[1][0]}."


def _visit(appt, ticket: str | None = None) -> Visit:
    return Visit(booking=appt.booking, ticket=ticket, patient=mask_name(appt.patient.display),
                 first_visit=appt.patient.first_visit, child=appt.is_child, doctor_id=appt.doctor.id,
                 doctor=appt.doctor.name, room=appt.room, start=appt.start, flags=tuple(appt.flags))


class BookingFinder:
    def __init__(self, schedule, core, store, *, core_away: tuple[type[Exception], ...],
                 core_refused: type[Exception]):
        self.schedule = schedule
        self.core = core
        self.store = store
        self._away = core_away
        self._refused = core_refused

    def by_code(self, code: str, today: date) -> Visit:
        appt = self.schedule.find_code(today, code) if self.schedule is not None else None
        if appt is None and self.core is not None:
            try:
                appt = self.core.lookup({"by": "code", "code": code})
            except self._refused as exc:  # other_site, cancelled ...
                raise NotFound(exc.code, f"booking {code}: {exc.code}") from None
            except self._away:
                log.info("booking %s not in the cached day and the core is away", code)
                appt = None
        if appt is None:
            raise NotFound("not_found", f"no booking {code} today; screen the patient without one (by none)")
        if appt.status == "cancelled":
            raise NotFound("cancelled", f"booking {code} is cancelled; screen the patient without one (by none)")
        return _visit(appt)

    def by_ticket(self, number: str, today: date) -> Visit:
        """The newest ticket of that number today; a checked-in booking's ticket brings its booking."""
        rows = []
        if "tickets" in self.store.db.table_names():
            rows = self.store.query("SELECT booking, doctor_id, room FROM tickets WHERE day = ? AND number = ? "
                                    "ORDER BY id DESC LIMIT 1", (today.isoformat(), number))
        if not rows:
            raise NotFound("not_found", f"no ticket {number} today; screen the patient without one (by none)")
        row = rows[0]
        if row["booking"]:
            try:
                return _with_ticket(self.by_code(row["booking"], today), number)
            except NotFound:
                pass  # the ticket stands on its own
        doctor = None
        if row["doctor_id"] and self.schedule is not None:
            doctor = next((a.doctor.name for a in self.schedule.appointments(today)
                           if a.doctor.id == row["doctor_id"]), None)
        return Visit(ticket=number, doctor_id=row["doctor_id"], doctor=doctor, room=row["room"])


def _with_ticket(visit: Visit, ticket: str) -> Visit:
    from dataclasses import replace
    return replace(visit, ticket=ticket)
