"""The lobby kiosk in the controller (feature `lobby`, built by `build(section, ctx)`): the kiosk's node commands.

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
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from kiosk.features.lobby import rules, texts
from kiosk.features.lobby.checkin import CheckinService
from kiosk.node.core_link import CoreAway, CoreRefused
from kiosk.node.feature import BaseFeature, FeatureContext
from kiosk.features.lobby.receipts import Printing, ticket_blocks
from kiosk.features.lobby.tickets import TicketBook
from mqtt.commands import (CheckinCommand, CheckinResult, FeedbackCommand, FeedbackResult, KioskInfoCommand,
                           KioskInfoResult, PrinterInfo, SameDayBookCommand, SameDayBookResult, SameDaySlot,
                           SameDaySlotsCommand, SameDaySlotsResult, ServiceInfo, TicketCommand, TicketResult)
from mqtt.models import BookingSameDay, FeedbackSubmitted, Slot, TicketIssued
from mqtt.rpc import RequestError

log = logging.getLogger("vestibule.kiosk")

FOLLOW_UP_AT_OR_BELOW = 6  # NPS detractors (0..6) are followed up by the service deputy


def _create(db) -> None:
    db.execute("""CREATE TABLE IF NOT EXISTS feedback (
        id INTEGER PRIMARY KEY AUTOINCREMENT, day TEXT NOT NULL, at TEXT NOT NULL, kiosk TEXT,
        score INTEGER NOT NULL, ticket TEXT, booking TEXT, follow_up INTEGER NOT NULL, comment TEXT)""")


class KioskFlow:
    """The kiosk's commands. Built from the `[kiosk]` section and the node services it uses:
    the store and outbox (tickets and their events commit together), the clock, the cached
    schedule and the core link (look-ups), the device manager (printers), and the bus (it tells
    other features of tickets issued; it hears of calls)."""

    def __init__(self, section, *, config, clock, store, outbox, schedule, core, devices, bus):
        self.section = section
        self.config = config  # site names, services and printers: facts shared across sections
        self.clock = clock
        self.tz = config.site.tz
        self.store = store
        self.outbox = outbox
        self.schedule = schedule
        self.core = core
        self.bus = bus
        store.ensure(*TABLES)
        self.tickets = TicketBook(store, self.tz)
        self.printing = Printing(devices, config.devices_of("printer"), store)
        self.checkins = CheckinService(self)
        self._assign_lock = threading.Lock()
        # core requests that run while the handler renders a receipt (one per check-in in flight)
        self.background = ThreadPoolExecutor(max_workers=4, thread_name_prefix="kiosk-core")

    def now(self) -> datetime:
        return self.clock.now()

    # -- helpers shared with the check-in ---------------------------------------------------------
    def site_name(self, lang: str) -> str:
        names = self.config.site.name
        return names.get(lang) or names.get(self.config.site.default_language) or ""

    def specialty_name(self, specialty: str, lang: str) -> str:
        known = texts.specialty(specialty, lang)
        if known:
            return known
        service = next((s for s in self.config.services if s.specialty == specialty), None)
        return service.names.get(lang, specialty) if service else specialty

    def local(self, when: datetime) -> datetime:
        return when.astimezone(self.tz)

    # -- commands ---------------------------------------------------------------------------------
    def checkin(self, cmd: CheckinCommand) -> CheckinResult:
        return self.checkins.by_command(cmd)

    def ticket(self, cmd: TicketCommand) -> TicketResult:
        service = self.config.service(cmd.service)
        if service is None:
            raise RequestError("unknown_service", texts.text(cmd.lang, "error.unknown_service"))
        now = self.now()
        with self._assign_lock:  # two kiosks at once must not both see the same doctor as least loaded
            doctor = self.least_loaded(service.specialty, now) if service.specialty else None
            queue = f"doctor:{doctor['id']}" if doctor else service.id
            reservation = self.tickets.reserve(service.prefix, queue, cmd.priority, now,
                                               doctor_id=doctor["id"] if doctor else None)
        room = doctor["room"] if doctor else service.room
        floor = doctor["floor"] if doctor else service.floor
        name = service.names.get(cmd.lang) or service.names.get(self.config.site.default_language) or service.id
        _, wait_minutes = self.queue_estimate(service.id, room)
        blocks = ticket_blocks(number=reservation.number, lang=cmd.lang, service=name, issued_at=self.local(now),
                               priority=cmd.priority, ahead=reservation.ahead,
                               greeting=rules.greeting(self.local(now), cmd.lang), site=self.site_name(cmd.lang),
                               room=room, floor=floor, doctor=doctor["name"] if doctor else None,
                               wait_minutes=wait_minutes)
        with self.tickets.holding(reservation):
            printed = self.printing.print_blocks(cmd.kiosk, "ticket", reservation.number, blocks, now).printed
            with self.store.transaction() as tx:
                issued = self.tickets.record(tx, reservation, service=service.id, channel="kiosk", kiosk=cmd.kiosk,
                                             booking=None, doctor_id=doctor["id"] if doctor else None, room=room,
                                             printed=printed)
                self.outbox.append(tx, "ticket.issued", TicketIssued(
                    ticket=issued.number, service=service.id, priority=cmd.priority, channel="kiosk", booking=None,
                    kiosk=cmd.kiosk, printed=printed))
        self.bus.send("ticket.issued", issued)  # the queue feature counts it
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

    def queue_estimate(self, service: str, room: str | None) -> tuple[int | None, int | None]:
        """(waiting, wait_minutes) from the queue feature, asked over the bus; (None, None) without it."""
        out: dict = {}
        self.bus.send("queue.estimate", service, room, out)
        minutes = out.get("wait_minutes")  # whole minutes for screens and paper, never "0 min"
        return out.get("waiting"), None if minutes is None else max(1, round(minutes))

    def least_loaded(self, specialty: str, now: datetime) -> dict | None:
        """Today's least-loaded doctor of the specialty, from the cached schedule: id, name, room, floor."""
        day = self.local(now).date()
        doctors = {d.id: d for d in self.schedule.doctors(day, specialty)}  # a summary, not a scan of the day
        if not doctors:
            return None
        booked = Counter({d.id: d.booked for d in doctors.values()})  # counts, as one id per appointment would
        chosen = rules.least_loaded_doctor(booked, self.tickets.walk_ins_by_doctor(day.isoformat()), doctors)
        doc = doctors[chosen]
        return {"id": chosen, "name": doc.name, "room": doc.room, "floor": doc.floor}

    def sameday_slots(self, cmd: SameDaySlotsCommand) -> SameDaySlotsResult:
        now = self.now()
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
        now = self.now()
        slot = Slot(doctor_id=cmd.doctor_id, start=cmd.start, room=cmd.room)
        try:
            appt = self.core.create(slot, cmd.phone, cmd.birth_date)
        except CoreAway:
            raise RequestError("core_offline", texts.text(cmd.lang, "error.core_offline")) from None
        except CoreRefused as exc:
            key = "error.slot_taken" if exc.code == "slot_taken" else "error.invalid"
            raise RequestError(exc.code, texts.text(cmd.lang, key)) from None
        # the booking exists whatever the check-in says next: staff learn of it in its own transaction
        self.outbox.emit("booking.same_day", BookingSameDay(booking=appt.booking, doctor_id=appt.doctor.id,
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
        now = self.now()
        follow_up = cmd.score <= FOLLOW_UP_AT_OR_BELOW
        with self.store.transaction() as tx:
            tx.insert("feedback", {"day": self.local(now).date().isoformat(), "at": now.isoformat(),
                                   "kiosk": cmd.kiosk, "score": cmd.score, "ticket": cmd.ticket,
                                   "booking": cmd.booking, "follow_up": int(follow_up),
                                   "comment": (cmd.comment or "").strip() or None})
            self.outbox.append(tx, "feedback.submitted", FeedbackSubmitted(
                score=cmd.score, ticket=cmd.ticket, booking=cmd.booking, follow_up=follow_up,
                call_back=follow_up and cmd.call_back))
        log.info("feedback %d%s", cmd.score, " (follow-up)" if follow_up else "")
        return FeedbackResult(follow_up=follow_up,
                              message=texts.text(cmd.lang, "feedback.follow_up" if follow_up else "feedback.thanks"))

    def info(self, cmd: KioskInfoCommand) -> KioskInfoResult:
        cfg = self.config
        now = self.now()
        default = cfg.site.default_language
        services = [ServiceInfo(id=s.id, name=s.names.get(cmd.lang) or s.names.get(default) or s.id, prefix=s.prefix,
                                room=s.room, floor=s.floor, specialty=s.specialty,
                                **dict(zip(("waiting", "wait_minutes"), self.queue_estimate(s.id, None))))
                    for s in cfg.services]
        return KioskInfoResult(kiosk=cmd.kiosk, lang=cmd.lang, languages=list(cfg.site.languages),
                               greeting=rules.greeting(self.local(now), cmd.lang), site=self.site_name(cmd.lang),
                               services=services, core_online=self.core.online,
                               printer=PrinterInfo(**self.printing.state(cmd.kiosk)), now=self.local(now))

    # -- what the node tells us -------------------------------------------------------------------
    def on_call(self, call) -> None:
        self.tickets.mark_called(call.ticket, self.now())

    def purge(self, cutoff: str) -> None:
        with self.store.transaction() as tx:
            tx.execute("DELETE FROM kiosk_checkins WHERE day < ?", (cutoff,))
            tx.execute("DELETE FROM feedback WHERE day < ?", (cutoff,))
        self.tickets.purge(cutoff)
        self.printing.purge(cutoff)


def _tables():
    from kiosk.features.lobby import checkin, receipts, tickets
    return (tickets._create, checkin._create, receipts._create, _create)


TABLES = _tables()


class LobbyFeature(BaseFeature):
    """The lobby kiosk on the feature contract."""

    name = "lobby"

    def __init__(self, flow: KioskFlow):
        self.flow = flow

    def commands(self) -> dict:
        f = self.flow
        return {
            "checkin": (CheckinCommand, f.checkin),
            "checkin.preview": (CheckinCommand, f.checkins.preview),
            "ticket": (TicketCommand, f.ticket),
            "sameday.slots": (SameDaySlotsCommand, f.sameday_slots),
            "sameday.book": (SameDayBookCommand, f.sameday_book),
            "feedback": (FeedbackCommand, f.feedback),
            "kiosk.info": (KioskInfoCommand, f.info),
        }

    def tables(self, db) -> None:
        for create in TABLES:
            create(db)

    def stop(self) -> None:
        self.flow.background.shutdown(wait=False, cancel_futures=True)

    def get_status(self) -> dict:
        return {"kiosks": sorted({d.role for d in self.flow.config.devices.values() if d.role
                                  and d.role.startswith("kiosk")})}

    def purge(self, cutoff_day: str) -> None:
        self.flow.purge(cutoff_day)


def build(section, ctx: FeatureContext) -> LobbyFeature:
    flow = KioskFlow(section, config=ctx.config, clock=ctx.clock, store=ctx.store, outbox=ctx.outbox,
                     schedule=ctx.schedule, core=ctx.core, devices=ctx.devices, bus=ctx.bus)
    ctx.bus.listen("call.made", flow.on_call)
    return LobbyFeature(flow)
