"""What the stand-in core knows about a booking, and its fixed roster of doctors.

A CoreAppointment holds more than the contract's Appointment: the full phone number and full
name stay in the core; `public()` is the contract view (only `phone_last4`).
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

from mqtt.models import Appointment

# No 0/O, 1/I/L, 5/S, 8/B, Z: codes are read aloud and typed from paper.
BOOKING_ALPHABET = "2345679ACDEFGHJKMNPQRTUVWXY"
BOOKING_PREFIX = "BK-"
BOOKING_CODE = re.compile(r"^BK-[2345679ACDEFGHJKMNPQRTUVWXY]{5}$")
CHILD_FLAG, BOX_FLAG = "child", "box"


@dataclass(frozen=True)
class DoctorInfo:
    id: str
    name: str
    specialty: str
    room: str
    floor: int


def _doctors(specialty: str, names: list[str], rooms: list[str], floor: int) -> list[DoctorInfo]:
    return [DoctorInfo(f"d-{specialty}-{i}", name, specialty, room, floor)
            for i, (name, room) in enumerate(zip(names, rooms), start=1)]


# Fictional doctors. Rooms match the example config's per-floor boards (board-floor1..4).
DOCTORS: tuple[DoctorInfo, ...] = tuple(
    _doctors("therapist", ["Петрова А. С.", "Смирнов Д. В.", "Кузнецова Е. М."], ["12", "14", "16"], 2)
    + _doctors("cardiologist", ["Орлов В. П.", "Белова Н. А."], ["21", "23"], 2)
    + _doctors("neurologist", ["Захарова И. Ю.", "Фролов К. Н."], ["31", "33"], 3)
    + _doctors("ophthalmologist", ["Соловьёва Т. Г.", "Лебедев М. О."], ["35", "37"], 3)
    + _doctors("pediatrician", ["Морозова О. В.", "Никитина Л. Р.", "Григорьев С. А."], ["8", "9", "10"], 1)
    + _doctors("surgeon", ["Волков А. И.", "Сорокин П. Е."], ["41", "43"], 4)
    + _doctors("otolaryngologist", ["Ильина М. Д.", "Тарасов Ю. Б."], ["45", "47"], 4)
)
SPECIALTIES: tuple[str, ...] = tuple(dict.fromkeys(d.specialty for d in DOCTORS))
_BY_ID = {d.id: d for d in DOCTORS}


def doctor(doctor_id: str) -> DoctorInfo | None:
    return _BY_ID.get(doctor_id)


def doctors_of(specialty: str) -> list[DoctorInfo]:
    return [d for d in DOCTORS if d.specialty == specialty]


@dataclass(frozen=True)
class CoreAppointment:
    booking: str
    site: str
    status: Literal["booked", "cancelled"]
    full_name: str
    display: str
    birth_date: date
    phone: str  # full number: never leaves the core
    first_visit: bool
    doctor_id: str
    doctor_name: str
    specialty: str
    room: str
    floor: int
    start: datetime
    end: datetime
    flags: tuple[str, ...] = field(default=())
    origin: Literal["generated", "created"] = "generated"

    @property
    def phone_last4(self) -> str:
        return re.sub(r"\D", "", self.phone)[-4:]

    def public(self) -> Appointment:
        """The contract's view: what the snapshot and the lookup answer carry."""
        return Appointment.model_validate({
            "booking": self.booking, "status": self.status,
            "patient": {"display": self.display, "birth_date": self.birth_date,
                        "phone_last4": self.phone_last4, "first_visit": self.first_visit},
            "doctor": {"id": self.doctor_id, "name": self.doctor_name, "specialty": self.specialty},
            "room": self.room, "floor": self.floor, "start": self.start, "end": self.end,
            "flags": list(self.flags),
        })


def phone_key(phone: str) -> str:
    """Digits to compare phones by: +7 916…, 8 916… and 916… are one Russian number."""
    digits = re.sub(r"\D", "", phone)
    if len(digits) == 11 and digits[0] in "78":
        return digits[1:]
    return digits


def age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def new_booking_code(rng: random.Random) -> str:
    return BOOKING_PREFIX + "".join(rng.choice(BOOKING_ALPHABET) for _ in range(5))
