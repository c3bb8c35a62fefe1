"""The stand-in core's answers to `core/req/*`: booking.lookup, checkin, slots.search,
booking.create. Plain functions of the core's store and clock; the MQTT side is in service.py.

Logs name booking codes and ticket numbers only: never names, phones or birth dates.
"""
from __future__ import annotations

import logging
import random
from typing import Callable

from booking_core.records import CHILD_FLAG, SPECIALTIES, CoreAppointment, age_on, doctor, new_booking_code, phone_key
from booking_core.schedule import SLOT, free_slots, on_grid
from booking_core.store import CoreStore, SlotTaken
from mqtt.models import (REQUEST_MODELS, BookingCreate, CheckinAnswer, CheckinRequest, LookupByCode, Slot,
                         SlotsAnswer, SlotsSearch)
from mqtt.rpc import Dispatcher, RequestError

log = logging.getLogger("vestibule.devcore")

NEW_PATIENT = "Новый пациент"  # the kiosk books by phone and birth date only


class CoreRequests:
    def __init__(self, store: CoreStore, *, site: str, tz, now: Callable, demo: bool,
                 on_day_changed: Callable[[], None]):
        self.store = store
        self.site = site
        self.tz = tz
        self.now = now
        self.demo = demo
        self.on_day_changed = on_day_changed  # a booking was made: republish the day's snapshot
        self._code_rng = random.SystemRandom()

    def route(self, dispatcher: Dispatcher) -> None:
        dispatcher.route("booking.lookup", REQUEST_MODELS["booking.lookup"], self.lookup)
        dispatcher.route("checkin", REQUEST_MODELS["checkin"], self.checkin)
        dispatcher.route("slots.search", REQUEST_MODELS["slots.search"], self.slots)
        dispatcher.route("booking.create", REQUEST_MODELS["booking.create"], self.create)

    def today(self):
        return self.now().date()

    def _public(self, appointment: CoreAppointment) -> dict:
        return appointment.public().model_dump(mode="json", exclude_none=True)

    def lookup(self, request) -> dict:
        if isinstance(request, LookupByCode):
            found = self.store.get(request.code)
            if found is None:
                raise RequestError("not_found", f"no booking {request.code}")
            if found.site != self.site:
                raise RequestError("other_site", f"booking {request.code} belongs to site {found.site}")
            log.info("lookup by code: %s is %s", found.booking, found.status)
            return self._public(found)
        matches = self.store.by_phone(request.phone, request.birth_date)
        own = [a for a in matches if a.site == self.site]
        if not own:
            if matches:
                raise RequestError("other_site", f"the booking belongs to site {matches[0].site}")
            raise RequestError("not_found", "no booking for this phone number and birth date")
        now, today = self.now(), self.today()
        # today's live booking nearest to now first; a cancelled one only if nothing else is left
        best = min(own, key=lambda a: (a.status != "booked", a.start.astimezone(self.tz).date() != today,
                                       abs((a.start - now).total_seconds())))
        log.info("lookup by phone: %s is %s", best.booking, best.status)
        return self._public(best)

    def checkin(self, request: CheckinRequest) -> CheckinAnswer:
        found = self.store.get(request.booking)
        if found is None:
            refusal = "unknown booking"
        elif found.site != self.site:
            refusal = f"booking of site {found.site}"
        elif found.status != "booked":
            refusal = found.status
        elif found.start.astimezone(self.tz).date() != self.today():
            refusal = "not today"
        else:
            refusal = None
        if refusal:
            log.info("check-in of %s with ticket %s refused: %s", request.booking, request.ticket, refusal)
            return CheckinAnswer(accepted=False)
        again = not self.store.add_checkin(request.booking, request.ticket, self.now())
        log.info("check-in of %s with ticket %s accepted%s", request.booking, request.ticket, " (repeated)" if again else "")
        return CheckinAnswer(accepted=True)

    def slots(self, request: SlotsSearch) -> SlotsAnswer:
        today = self.today()
        if request.date != today or request.specialty not in SPECIALTIES:
            log.info("slots.search %s on %s: none (the stand-in books today's known specialties only)",
                     request.specialty, request.date)
            return SlotsAnswer(slots=[])
        free = free_slots(self.store.day(today), self.site, request.specialty, today, self.tz, self.now(),
                          demo=self.demo)
        log.info("slots.search %s: %d free", request.specialty, len(free))
        return SlotsAnswer(slots=[Slot(doctor_id=d.id, start=start, room=d.room, doctor_name=d.name, floor=d.floor)
                                  for d, start in free])

    def create(self, request: BookingCreate) -> dict:
        slot, patient = request.slot, request.patient
        doc = doctor(slot.doctor_id)
        if doc is None:
            raise RequestError("not_found", f"no doctor {slot.doctor_id}")
        if slot.room != doc.room:
            raise RequestError("invalid", f"{doc.id} receives in room {doc.room}, not {slot.room}")
        today, now = self.today(), self.now()
        start = slot.start.astimezone(self.tz)
        if start.date() != today or not on_grid(start, today, self.tz):
            raise RequestError("invalid", "the slot is not one of today's 15-minute slots")
        if start <= now:
            raise RequestError("slot_taken", f"the {start:%H:%M} slot has begun")
        if patient.birth_date > today:
            raise RequestError("invalid", "patient.birth_date: is in the future")
        known = self.store.by_phone(patient.phone, patient.birth_date)
        key = phone_key(patient.phone)
        appointment = CoreAppointment(
            booking=self.new_code(), site=self.site, status="booked",
            full_name=known[0].full_name if known else NEW_PATIENT,
            display=known[0].display if known else NEW_PATIENT,
            birth_date=patient.birth_date, phone=("+7" + key) if len(key) == 10 else "+" + key,
            first_visit=not known, doctor_id=doc.id, doctor_name=doc.name, specialty=doc.specialty,
            room=doc.room, floor=doc.floor, start=start, end=start + SLOT,
            flags=(CHILD_FLAG,) if age_on(patient.birth_date, today) < 18 else (), origin="created")
        try:
            version = self.store.add(appointment)
        except SlotTaken:
            raise RequestError("slot_taken", f"{doc.id} at {start:%H:%M} is no longer free") from None
        self.on_day_changed()
        log.info("booking %s created: %s at %s (schedule v%d)", appointment.booking, doc.id, f"{start:%H:%M}", version)
        return self._public(appointment)

    def new_code(self) -> str:
        while True:
            code = new_booking_code(self._code_rng)
            if self.store.get(code) is None:
                return code
