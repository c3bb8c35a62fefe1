"""The node's copy of the core's retained day schedule: the basis of offline check-in.

It holds personal data (names, birth dates), so it lives only in the controller's store, is
replaced by each new snapshot, and days older than the retention are purged.
"""
from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from pydantic import ValidationError

from foundation.store import Store
from mqtt.models import Appointment, ScheduleSnapshot

log = logging.getLogger("vestibule.schedule")


def _create(db) -> None:
    if "schedule" not in db.table_names():
        db["schedule"].create({"day": str, "version": int, "received": str, "snapshot": str}, pk="day")


class ScheduleCache:
    def __init__(self, store: Store):
        self.store = store
        store.ensure(_create)
        self._by_day: dict[str, ScheduleSnapshot] = {}
        for row in store.query("SELECT day, snapshot FROM schedule"):
            try:
                self._by_day[row["day"]] = ScheduleSnapshot.model_validate_json(row["snapshot"])
            except ValidationError:
                log.warning("discarding an unreadable cached schedule for %s", row["day"])

    def accept(self, payload: bytes, now: datetime) -> bool:
        """Store a snapshot from core/schedule/{date}; older versions and bad payloads are ignored."""
        try:
            snapshot = ScheduleSnapshot.model_validate_json(payload)
        except ValidationError as exc:
            log.warning("ignoring malformed schedule snapshot: %s", exc.errors()[0]["msg"])
            return False
        day = snapshot.date.isoformat()
        current = self._by_day.get(day)
        if current is not None and current.version > snapshot.version:
            return False
        with self.store.transaction() as tx:
            tx.insert("schedule", {"day": day, "version": snapshot.version, "received": now.isoformat(),
                                   "snapshot": snapshot.model_dump_json()}, replace=True)
        self._by_day[day] = snapshot
        log.info("schedule for %s cached: version %d, %d appointments", day, snapshot.version,
                 len(snapshot.appointments))
        return True

    def day(self, day: date) -> ScheduleSnapshot | None:
        return self._by_day.get(day.isoformat())

    def appointments(self, day: date) -> list[Appointment]:
        snap = self.day(day)
        return list(snap.appointments) if snap else []

    def find_code(self, day: date, code: str) -> Appointment | None:
        return next((a for a in self.appointments(day) if a.booking == code), None)

    def find_phone(self, day: date, phone: str, birth_date: date) -> Appointment | None:
        # The snapshot carries only the last four digits: with the birth date that is enough to
        # pick one patient's booking of the day; several matches prefer the one not cancelled.
        last4 = "".join(ch for ch in phone if ch.isdigit())[-4:]
        matches = [a for a in self.appointments(day)
                   if a.patient.phone_last4 == last4 and a.patient.birth_date == birth_date]
        matches.sort(key=lambda a: (a.status != "booked", a.start))
        return matches[0] if matches else None

    def purge(self, today: date, retention_days: int) -> int:
        cutoff = (today - timedelta(days=retention_days)).isoformat()
        with self.store.transaction() as tx:
            gone = tx.execute("DELETE FROM schedule WHERE day < ?", (cutoff,)).rowcount
        for day in [d for d in self._by_day if d < cutoff]:
            del self._by_day[day]
        return gone
