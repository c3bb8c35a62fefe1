"""The stand-in core's API for tests and the demo: read the inbox and the check-ins, add or
cancel bookings (the day's snapshot is republished). Mixed into DevCore; nothing here runs
in the core's own request path."""
from __future__ import annotations

import logging
from datetime import date, datetime

from booking_core.records import CoreAppointment, doctor
from booking_core.schedule import SLOT, day_grid
from booking_core.store import SlotTaken
from mqtt.models import EventEnvelope

log = logging.getLogger("vestibule.devcore")


class StandInTestApi:
    """Needs: self.store, self.inbox_events (EventInbox), self.requests (CoreRequests), self.site,
    self.tz, now(), today(), and _republish_if_today(appointment)."""

    def inbox(self) -> list[EventEnvelope]:
        return self.store.inbox()

    def inbox_ids(self) -> list[str]:
        return self.store.inbox_ids()

    @property
    def duplicates_seen(self) -> int:
        return self.store.counter("duplicate_events")

    @property
    def malformed_events(self) -> int:
        return self.store.counter("malformed_events")

    def wait_for_events(self, n: int, timeout: float) -> bool:
        """True once the inbox holds at least `n` events."""
        return self.inbox_events.wait_for(n, timeout)

    def appointments(self, *, all_sites: bool = False) -> list[CoreAppointment]:
        """Today's appointments of this site (with `all_sites`, every appointment the core holds)."""
        return self.store.all() if all_sites else self.store.day(self.today(), self.site)

    def checkins(self) -> list[dict]:
        return self.store.checkins()

    def notifications(self) -> list[dict]:
        """Doctors informed that their patient went to the box: event, booking, doctor_id, doctor, at."""
        return self.store.notifications()

    def snapshot_version(self) -> int:
        return self.store.version(self.today())

    def add_appointment(self, *, doctor_id: str = "d-therapist-1", start: datetime | None = None,
                        site: str | None = None, status: str = "booked", booking: str | None = None,
                        full_name: str = "Тестова Анна Петровна", display: str = "Тестова А. П.",
                        birth_date: date = date(1980, 5, 17), phone: str = "+79990001122",
                        first_visit: bool = False, flags: tuple[str, ...] = ()) -> CoreAppointment:
        """Add a booking (default: this site, the doctor's first free slot from now); republishes."""
        doc = doctor(doctor_id)
        if doc is None:
            raise ValueError(f"no doctor {doctor_id}")
        site = site or self.site
        if start is None:
            start = self._first_free(doc.id, site)
        appointment = CoreAppointment(
            booking=booking or self.requests.new_code(), site=site, status=status, full_name=full_name,
            display=display, birth_date=birth_date, phone=phone, first_visit=first_visit, doctor_id=doc.id,
            doctor_name=doc.name, specialty=doc.specialty, room=doc.room, floor=doc.floor, start=start,
            end=start + SLOT, flags=tuple(flags), origin="created")
        self.store.add(appointment)
        self._republish_if_today(appointment)
        return appointment

    def cancel(self, booking: str) -> CoreAppointment:
        changed = self.store.set_status(booking, "cancelled")
        if changed is None:
            raise KeyError(booking)
        appointment, version = changed
        self._republish_if_today(appointment)
        log.info("booking %s cancelled (schedule v%d)", booking, version)
        return appointment

    def _first_free(self, doctor_id: str, site: str) -> datetime:
        now, today = self.now(), self.today()
        taken = {a.start for a in self.store.day(today, site) if a.doctor_id == doctor_id and a.status == "booked"}
        for start in day_grid(today, self.tz):
            if start > now - SLOT and start not in taken:
                return start
        raise SlotTaken(f"{doctor_id} has no free slot left today")
