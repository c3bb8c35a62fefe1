"""The lobby kiosk in the controller: `attach(controller)` serves the kiosk's node commands.

  checkin        kiosk/checkin.py: look up (core, else cached schedule), rules, ticket, receipt
  checkin.preview  the same look-up and rules, for the UI's confirm screen; nothing issued
  ticket         a walk-in ticket for a configured service; a service with a `specialty` goes to
                 the least-loaded doctor of that specialty today
  sameday.slots  the core's free slots today for a specialty (core away: error core_offline)
  sameday.book   the core books the slot; booking.same_day tells staff to prepare the room; then
                 the patient is checked in and the receipt printed, as for a booked visit
  feedback       NPS 0..10; feedback.submitted with follow_up when the score is 6 or less
  kiosk.info     what the UI draws: services in the language, greeting of the hour, core and
                 printer state

Personal data: the store keeps booking codes, ticket numbers, routes and rooms; phone numbers and
birth dates only pass through to the core; logs carry ticket numbers and codes of outcomes, never
a name, phone or birth date. Feedback comments are free text that may hold anything (names,
phone numbers, health details), so they never go on the wire: they stay in the node's store for
the retention period, for the service deputy at the node, and are purged with everything else.
"""
from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from kiosk.features.lobby import rules, texts
from kiosk.features.lobby.checkin import CheckinService
from kiosk.node.core_link import CoreAway, CoreLink, CoreRefused
from kiosk.features.lobby.receipts import Printing, ticket_blocks
from foundation.store import schema
from kiosk.features.lobby.tickets import TicketBook
from mqtt.commands import (CheckinCommand, CheckinResult, FeedbackCommand, FeedbackResult, KioskInfoCommand,
                           KioskInfoResult, PrinterInfo, SameDayBookCommand, SameDayBookResult, SameDaySlot,
                           SameDaySlotsCommand, SameDaySlotsResult, ServiceInfo, TicketCommand, TicketResult)
from mqtt.models import BookingSameDay, FeedbackSubmitted, Slot, TicketIssued
from mqtt.rpc import RequestError

log = logging.getLogger("vestibule.kiosk")

FOLLOW_UP_AT_OR_BELOW = 6  # NPS detractors (0..6) are followed up by the service deputy


@schema
def _create(db) -> None:
    db.execute("""CREATE TABLE IF NOT EXISTS feedback (
        id INTEGER PRIMARY KEY AUTOINCREMENT, day TEXT NOT NULL, at TEXT NOT NULL, kiosk TEXT,
        score INTEGER NOT NULL, ticket TEXT, booking TEXT, follow_up INTEGER NOT NULL, comment TEXT)""")


class KioskFlow:
    def __init__(self, controller):
        self.ctl = controller
        self.tickets = TicketBook(controller.store, controller.tz)
        self.printing = Printing(controller, controller.store)
        self.core = CoreLink(controller)
        self.checkins = CheckinService(self)
        self._assign_lock = threading.Lock()
        # core requests that run while the handler renders a receipt (one per check-in in flight)
        self.background = ThreadPoolExecutor(max_workers=4, thread_name_prefix="kiosk-core")

    def register(self) -> None:
        route = self.ctl.commands.route
        route("checkin", CheckinCommand, self.checkin)
        route("checkin.preview", CheckinCommand, self.checkins.preview)
        route("ticket", TicketCommand, self.ticket)
        route("sameday.slots", SameDaySlotsCommand, self.sameday_slots)
        route("sameday.book", SameDayBookCommand, self.sameday_book)
        route("feedback", FeedbackCommand, self.feedback)
        route("kiosk.info", KioskInfoCommand, self.info)

    # -- helpers shared with the check-in ---------------------------------------------------------
    def site_name(self, lang: str) -> str:
        names = self.ctl.config.site.name
        return names.get(lang) or names.get(self.ctl.config.site.default_language) or ""

    def specialty_name(self, specialty: str, lang: str) -> str:
        known = texts.SPECIALTIES.get(specialty)
        if known:
            return known.get(lang) or known["en"]
        service = next((s for s in self.ctl.config.services if s.specialty == specialty), None)
        return service.names.get(lang, specialty) if service else specialty

    def local(self, when: datetime) -> datetime:
        return when.astimezone(self.ctl.tz)

    # -- commands ---------------------------------------------------------------------------------
    def checkin(self, cmd: CheckinCommand) -> CheckinResult:
        return self.checkins.by_command(cmd)

    def ticket(self, cmd: TicketCommand) -> TicketResult:
        service = self.ctl.config.service(cmd.service)
        if service is None:
            raise RequestError("unknown_service", texts.text(cmd.lang, "error.unknown_service"))
        now = self.ctl.now()
        with self._assign_lock:  # two kiosks at once must not both see the same doctor as least loaded
            doctor = self.least_loaded(service.specialty, now) if service.specialty else None
            queue = f"doctor:{doctor['id']}" if doctor else service.id
            reservation = self.tickets.reserve(service.prefix, queue, cmd.priority, now,
                                               doctor_id=doctor["id"] if doctor else None)
        room = doctor["room"] if doctor else service.room
        floor = doctor["floor"] if doctor else service.floor
        name = service.names.get(cmd.lang) or service.names.get(self.ctl.config.site.default_language) or service.id
        _, wait_minutes = self.queue_estimate(service.id, room)
        blocks = ticket_blocks(number=reservation.number, lang=cmd.lang, service=name, issued_at=self.local(now),
                               priority=cmd.priority, ahead=reservation.ahead,
                               greeting=rules.greeting(self.local(now), cmd.lang), site=self.site_name(cmd.lang),
                               room=room, floor=floor, doctor=doctor["name"] if doctor else None,
                               wait_minutes=wait_minutes)
        with self.tickets.holding(reservation):
            printed = self.printing.print_blocks(cmd.kiosk, "ticket", reservation.number, blocks, now).printed
            with self.ctl.store.transaction() as tx:
                issued = self.tickets.record(tx, reservation, service=service.id, channel="kiosk", kiosk=cmd.kiosk,
                                             booking=None, doctor_id=doctor["id"] if doctor else None, room=room,
                                             printed=printed)
                self.ctl.outbox.append(tx, "ticket.issued", TicketIssued(
                    ticket=issued.number, service=service.id, priority=cmd.priority, channel="kiosk", booking=None,
                    kiosk=cmd.kiosk, printed=printed))
        self.ctl.bus.send("ticket.issued", issued)
        log.info("walk-in ticket %s for %s%s, %d ahead%s", issued.number, service.id,
                 " (priority)" if cmd.priority else "", issued.ahead, "" if printed else ", NOT printed")
        message = texts.text(cmd.lang, "ticket.issued", ticket=issued.number, service=name,
                             room=texts.room_part(cmd.lang, room), ahead=issued.ahead)
        if doctor:
            message += texts.text(cmd.lang, "ticket.doctor", doctor=doctor["name"])
        if not printed:
            message += texts.text(cmd.lang, "not_printed", ticket=issued.number)
        return TicketResult(ticket=issued.number, service=service.id, service_name=name, room=room, floor=floor,
                            priority=cmd.priority, ahead=issued.ahead, printed=printed, message=message,
                            doctor=doctor["name"] if doctor else None, wait_minutes=wait_minutes)

    def queue_estimate(self, service: str, room: str | None) -> tuple[int | None, float | None]:
        """(waiting, wait_minutes) from the queue feature, asked over the bus; (None, None) without it."""
        out: dict = {}
        self.ctl.bus.send("queue.estimate", service, room, out)
        return out.get("waiting"), out.get("wait_minutes")

    def least_loaded(self, specialty: str, now: datetime) -> dict | None:
        """Today's least-loaded doctor of the specialty, from the cached schedule: id, name, room, floor."""
        day = self.local(now).date()
        appointments = [a for a in self.ctl.schedule.appointments(day) if a.doctor.specialty == specialty]
        if not appointments:
            return None
        booked = [a.doctor.id for a in appointments if a.status == "booked"]
        chosen = rules.least_loaded_doctor(booked, self.tickets.walk_ins_by_doctor(day.isoformat()),
                                           [a.doctor.id for a in appointments])
        sample = next(a for a in appointments if a.doctor.id == chosen)
        return {"id": chosen, "name": sample.doctor.name, "room": sample.room, "floor": sample.floor}

    def sameday_slots(self, cmd: SameDaySlotsCommand) -> SameDaySlotsResult:
        now = self.ctl.now()
        try:
            slots = self.core.slots(cmd.specialty, self.local(now).date())
        except (CoreAway, CoreRefused):
            raise RequestError("core_offline", texts.text(cmd.lang, "error.core_offline")) from None
        upcoming = [SameDaySlot(doctor_id=s.doctor_id, doctor=s.doctor_name, specialty=cmd.specialty,
                                start=self.local(s.start), room=s.room, floor=s.floor)
                    for s in slots if s.start > now]
        message = "" if upcoming else texts.text(cmd.lang, "sameday.none")
        return SameDaySlotsResult(specialty=cmd.specialty, slots=upcoming, message=message)

    def sameday_book(self, cmd: SameDayBookCommand) -> SameDayBookResult:
        now = self.ctl.now()
        slot = Slot(doctor_id=cmd.doctor_id, start=cmd.start, room=cmd.room)
        try:
            appt = self.core.create(slot, cmd.phone, cmd.birth_date)
        except CoreAway:
            raise RequestError("core_offline", texts.text(cmd.lang, "error.core_offline")) from None
        except CoreRefused as exc:
            key = "error.slot_taken" if exc.code == "slot_taken" else "error.invalid"
            raise RequestError(exc.code, texts.text(cmd.lang, key)) from None
        # the booking exists whatever the check-in says next: staff learn of it in its own transaction
        self.ctl.outbox.emit("booking.same_day", BookingSameDay(booking=appt.booking, doctor_id=appt.doctor.id,
                                                                room=appt.room, start=appt.start))
        log.info("same-day booking %s with %s at %s", appt.booking, appt.doctor.id, f"{self.local(appt.start):%H:%M}")
        start = self.local(appt.start)
        booked = texts.text(cmd.lang, "sameday.booked", time=f"{start:%H:%M}", room=appt.room)
        try:
            result = self.checkins.complete(appt, kiosk=cmd.kiosk, lang=cmd.lang, representative=cmd.representative,
                                            offline=False, now=now)
        except RequestError as exc:
            # The booking stands (booking again would make a second one): the answer says why there is
            # no check-in yet, e.g. too_early with the time to come back, or representative_required
            # (the UI then sends `checkin` by this booking code with representative=true).
            return SameDayBookResult(booking=appt.booking, start=start, room=appt.room, doctor=appt.doctor.name,
                                     checkin=None, checkin_error=exc.code, message=f"{booked} {exc.message}")
        return SameDayBookResult(booking=appt.booking, start=start, room=appt.room, doctor=appt.doctor.name,
                                 checkin=result, message=f"{booked} {result.message}")

    def feedback(self, cmd: FeedbackCommand) -> FeedbackResult:
        now = self.ctl.now()
        follow_up = cmd.score <= FOLLOW_UP_AT_OR_BELOW
        with self.ctl.store.transaction() as tx:
            tx.insert("feedback", {"day": self.local(now).date().isoformat(), "at": now.isoformat(),
                                   "kiosk": cmd.kiosk, "score": cmd.score, "ticket": cmd.ticket,
                                   "booking": cmd.booking, "follow_up": int(follow_up),
                                   "comment": (cmd.comment or "").strip() or None})
            self.ctl.outbox.append(tx, "feedback.submitted", FeedbackSubmitted(
                score=cmd.score, ticket=cmd.ticket, booking=cmd.booking, follow_up=follow_up))
        log.info("feedback %d%s", cmd.score, " (follow-up)" if follow_up else "")
        return FeedbackResult(follow_up=follow_up,
                              message=texts.text(cmd.lang, "feedback.follow_up" if follow_up else "feedback.thanks"))

    def info(self, cmd: KioskInfoCommand) -> KioskInfoResult:
        cfg = self.ctl.config
        now = self.ctl.now()
        default = cfg.site.default_language
        services = [ServiceInfo(id=s.id, name=s.names.get(cmd.lang) or s.names.get(default) or s.id, prefix=s.prefix,
                                room=s.room, floor=s.floor, specialty=s.specialty,
                                **dict(zip(("waiting", "wait_minutes"), self.queue_estimate(s.id, None))))
                    for s in cfg.services]
        return KioskInfoResult(kiosk=cmd.kiosk, lang=cmd.lang, languages=list(cfg.site.languages),
                               greeting=rules.greeting(self.local(now), cmd.lang), site=self.site_name(cmd.lang),
                               services=services, core_online=self.core.online,
                               printer=PrinterInfo(**self.printing.state(cmd.kiosk)), now=self.local(now))

    # -- controller hooks -------------------------------------------------------------------------
    def on_call(self, call) -> None:
        self.tickets.mark_called(call.ticket, self.ctl.now())

    def purge(self, now: datetime, retention_days: int) -> None:
        cutoff = (self.local(now).date() - timedelta(days=retention_days)).isoformat()
        with self.ctl.store.transaction() as tx:
            tx.execute("DELETE FROM kiosk_checkins WHERE day < ?", (cutoff,))
            tx.execute("DELETE FROM feedback WHERE day < ?", (cutoff,))
        self.tickets.purge(cutoff)
        self.printing.purge(cutoff)


def _ensure_tables(store) -> None:
    """The controller opened its store before this module was imported: create our tables now
    (the @schema hooks only run for stores opened after the import; all are idempotent)."""
    from kiosk.features.lobby import checkin, receipts, tickets
    with store.lock:
        for create in (tickets._create, checkin._create, receipts._create, _create):
            create(store.db)


def attach(controller) -> KioskFlow:
    _ensure_tables(controller.store)
    flow = KioskFlow(controller)
    flow.register()
    controller.extend(flow)
    return flow
