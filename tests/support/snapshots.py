"""Schedule snapshots built by hand for the cache's tests: any number of rows, valid for the models."""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta


def snapshot_payload(day: date, version: int, bookings: list[str], morning: datetime) -> bytes:
    """A core/schedule/{day} body: one booked therapist appointment per code, 15 minutes apart from
    `morning`'s time on `day`, patient i with phone last four i (mod 10,000), born 1980-05-17."""
    start = morning.replace(year=day.year, month=day.month, day=day.day)
    rows = [{"booking": code, "status": "booked",
             "patient": {"display": "Тестов Т. Т.", "birth_date": "1980-05-17", "phone_last4": f"{i % 10_000:04d}"},
             "doctor": {"id": f"d-therapist-{i % 3 + 1}", "name": "Петрова А. С.", "specialty": "therapist"},
             "room": "12", "floor": 2, "start": (start + timedelta(minutes=15 * i)).isoformat(),
             "end": (start + timedelta(minutes=15 * i + 15)).isoformat()} for i, code in enumerate(bookings)]
    return json.dumps({"date": day.isoformat(), "version": version, "appointments": rows}).encode()
