"""The demo scenario of the stand-in core: it calls the tickets the node issues, in turn, as a
clinic's staff would (first visits to registration first), and now and then repeats a call the
way two staff calling one ticket would. Tests run the core without it."""
from __future__ import annotations

import logging
import random
import threading
import time
from typing import Callable

from pydantic import BaseModel
from ulid import ULID

from booking_core.calls import CallQueue
from booking_core.records import SPECIALTIES, doctors_of
from booking_core.store import CoreStore
from mqtt.models import CallCommand, CheckinCompleted, TicketIssued

log = logging.getLogger("vestibule.devcore")

REPEAT_DELAY_S = 1.0  # inside the node's repeat window, so the duplicate must not be announced again


class DemoCaller:
    def __init__(self, store: CoreStore, *, config, site: str, interval_s: float | None, seed: int,
                 repeat_one_in: int, publish: Callable[[CallCommand], None], stop: threading.Event):
        self.store = store
        self.config = config
        self.site = site
        self.interval_s = interval_s
        self.repeat_one_in = repeat_one_in
        self.publish = publish
        self.stop = stop
        self.calls = CallQueue(self.room_for_service)
        self._rng = random.Random(f"devcore-calls:{seed}")
        self._walkin_rr = 0
        self._next_call = time.monotonic() + interval_s if interval_s else None

    def on_event(self, envelope, data: BaseModel | None) -> None:
        if isinstance(data, TicketIssued):
            booked = self.store.get(data.booking) if data.booking else None
            room = booked.room if booked and booked.site == self.site else None
            self.calls.ticket_issued(data.ticket, data.service, room)
        elif isinstance(data, CheckinCompleted):
            booked = self.store.get(data.booking)
            # A first visit goes to registration (contract, consent) before the doctor: call it there.
            room = data.room
            if data.route == "registration":
                room = self.room_for_service("registration") or data.room
            self.calls.checked_in(data.ticket, room, booked.specialty if booked else None)

    def room_for_service(self, service: str) -> str | None:
        configured = self.config.service(service)
        if configured and configured.room:
            return configured.room
        specialty = configured.specialty if configured else (service if service in SPECIALTIES else None)
        doctors = doctors_of(specialty) if specialty else []
        if not doctors:
            return None
        self._walkin_rr += 1  # walk-ins to "any doctor" take turns
        return doctors[self._walkin_rr % len(doctors)].room

    def tick(self, connected: bool) -> None:
        if self._next_call is None or time.monotonic() < self._next_call:
            return
        self._next_call = time.monotonic() + self.interval_s
        if connected:
            self.call_next()

    def call_next(self) -> None:
        entry = self.calls.next_call()
        if entry is None:
            return
        call = CallCommand(call_id=f"c-{ULID()}", ticket=entry.ticket, room=entry.room, service=entry.service)
        self.publish(call, "call")
        if self.repeat_one_in and self._rng.randrange(self.repeat_one_in) == 0 and not self.stop.wait(REPEAT_DELAY_S):
            self.publish(call.model_copy(update={"call_id": f"c-{ULID()}"}), "repeated call (repeat=false)")
