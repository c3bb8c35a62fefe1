"""What the kiosk says to the patient: the catalog's `kiosk.*` keys (foundation/i18n.py), and formatting.

Messages are short and say what to do next; the error messages for not_found, cancelled,
other_site and too_late say that a reception ticket is offered (the UI shows the button).
"""
from __future__ import annotations

from datetime import datetime

from foundation import i18n

def text(lang: str, key: str, **values) -> str:
    return i18n.text("kiosk." + key, lang, **values)


def specialty(name: str, lang: str) -> str | None:
    """A specialty as the core names it (`therapist`), in the language; None when unknown."""
    key = "specialty." + name
    return i18n.text(key, lang) if i18n.has(key) else None


def clock(when: datetime, today: datetime) -> str:
    """'10:30', or '24.11 10:30' when it is not today (a booking for another day)."""
    if when.date() == today.date():
        return when.strftime("%H:%M")
    return when.strftime("%d.%m %H:%M")


def floor_part(lang: str, floor: int | None) -> str:
    return text(lang, "floor", floor=floor) if floor is not None else ""


def room_part(lang: str, room: str | None) -> str:
    return text(lang, "room", room=room) if room else ""
