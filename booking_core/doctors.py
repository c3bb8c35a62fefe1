"""The stand-in's doctors' workstations: a doctor is told when their patient went to the
isolation box (routing.box), recorded and logged. A doctor's name is not patient data; the
booking code says which patient."""
from __future__ import annotations

import logging

from booking_core.records import doctor
from booking_core.store import CoreStore
from mqtt.models import RoutingBox

log = logging.getLogger("vestibule.devcore")


class DoctorsDesk:
    def __init__(self, store: CoreStore):
        self.store = store

    def on_event(self, envelope, data) -> None:
        if not isinstance(data, RoutingBox):
            return
        booked = self.store.get(data.booking)
        known = doctor(data.doctor_id)
        name = known.name if known else (booked.doctor_name if booked else data.doctor_id)
        # the log line first: whoever sees the record (a test, the demo) also finds the line
        log.info("doctor %s (%s) informed: booking %s went to the isolation box", name, data.doctor_id, data.booking)
        self.store.add_notification(envelope.id, data.booking, data.doctor_id, name, envelope.ts)

