"""Check-in of a booked visit: find the appointment, apply the rules, number, tell the core, print,
record.

Order of work, and why:
  1. look the booking up through the core, or in the cached schedule when the core is away;
  2. the rules (kiosk/rules.py) decide: other site, cancelled, too early / too late, a child's
     representative, then the route;
  3. the ticket number is reserved (the core's `checkin` request and the receipt both carry it);
  4. the core is asked to accept the check-in when it is online (the receipt renders meanwhile);
     a refusal ends here (the number stays a gap) and the patient is sent to registration;
  5. the receipt is printed (a failure does not stop the check-in: the number is on the screen);
  6. ONE transaction: ticket row, check-in row, ticket.issued, checkin.completed and, for the box,
     routing.box (the doctor must be told).
A rejection is answered with its code and a message in the patient's language, and a
checkin.rejected event is recorded.
"""
from __future__ import annotations

import logging
import hashlib
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from kiosk.features.lobby import rules, texts
from kiosk.node.core_link import CoreAway, CoreRefused
from kiosk.features.lobby.receipts import receipt_blocks
from mqtt.commands import CheckinPreview, CheckinResult
from mqtt.models import Appointment, CheckinCompleted, CheckinRejected, RoutingBox, TicketIssued
from mqtt.rpc import RequestError

log = logging.getLogger("vestibule.kiosk.features.lobby.checkin")

# Ticket prefixes for check-ins whose specialty has no configured service (a configured service
# with `specialty` lends its prefix, e.g. T for therapist). The first letter no service uses wins;
# two queues that end up sharing a letter share its counter, so numbers stay unique regardless.
ROUTE_PREFIXES = {"doctor": "DQW", "registration": "NJK", "box": "BXZ"}
CONTRACT_REASONS = set(CheckinRejected.model_fields["reason"].annotation.__args__)


def _create(db) -> None:
    # "kiosk_": a name of its own, apart from the stand-in core's "checkins" should they ever share a file
    db.execute("""CREATE TABLE IF NOT EXISTS kiosk_checkins (
        id INTEGER PRIMARY KEY AUTOINCREMENT, day TEXT NOT NULL, checked_at TEXT NOT NULL,
        booking TEXT NOT NULL, ticket_id INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
        ticket TEXT NOT NULL, route TEXT NOT NULL, arrival TEXT NOT NULL, doctor_id TEXT NOT NULL,
        room TEXT NOT NULL, start TEXT NOT NULL, kiosk TEXT, offline INTEGER NOT NULL,
        core_accepted INTEGER)""")
    db.execute("CREATE INDEX IF NOT EXISTS kiosk_checkins_day ON kiosk_checkins (day)")


# the confirm screen's look-up serves the check-in tapped within this time (the core's
# `checkin` answer still has the last word, so a booking cancelled meanwhile is refused there)
PREVIEW_REUSE_S = 120.0

class Rejected(Exception):
    def __init__(self, reason: str, **values):
        super().__init__(reason)
        self.reason = reason
        self.values = values


@dataclass(frozen=True)
class Decision:
    arrival: str
    route: str


def decide(appt: Appointment, site_id: str, now: datetime, window, representative: bool | None) -> Decision:
    """The rules in the order a receptionist would apply them; raises Rejected."""
    if appt.site and appt.site != site_id:
        raise Rejected("other_site")
    if appt.status == "cancelled":
        raise Rejected("cancelled")
    arrival = rules.classify_arrival(now, appt.start, window)
    if arrival.kind == "too_early":
        raise Rejected("too_early", come_back_at=arrival.come_back_at)
    if arrival.kind == "too_late":
        raise Rejected("too_late")
    if rules.needs_representative(appt.flags, representative):
        raise Rejected("representative_required")
    return Decision(arrival.kind, rules.decide_route(appt.flags, appt.patient.first_visit))


class CheckinService:
    def __init__(self, flow):
        self.flow = flow
        # Two kiosks scanning one code at the same instant must not both issue a ticket: the
        # "checked in already?" look and the issue happen under the booking's own lock.
        self._booking_locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
        self._locks_guard = threading.Lock()
        # The confirm screen's look-up, kept for the check-in that follows it: one trip to the core
        # per patient, not two. In memory only, keyed by a hash (the key may hold a phone number).
        self._previewed: dict[str, tuple[float, Appointment, bool]] = {}
        self._previewed_guard = threading.Lock()

    def _lock_for(self, booking: str) -> threading.Lock:
        with self._locks_guard:
            if len(self._booking_locks) > 10_000:  # a day's bookings; drop idle locks now and then
                for code in [c for c, lock in self._booking_locks.items() if not lock.locked()]:
                    del self._booking_locks[code]
            return self._booking_locks[booking]

    # -- entry points ---------------------------------------------------------------------------
    def by_command(self, cmd) -> CheckinResult:
        now = self.flow.now()
        appt, offline = self._take_previewed(cmd) or self.find(cmd, now)
        if appt is None:
            self.reject(cmd.kiosk, cmd.lang, Rejected("not_found"), now)
        return self.complete(appt, kiosk=cmd.kiosk, lang=cmd.lang, representative=cmd.representative,
                             offline=offline, now=now)

    def preview(self, cmd) -> CheckinPreview:
        """The appointment for the confirm screen: found and judged like a check-in, nothing issued."""
        now = self.flow.now()
        appt, offline = self.find(cmd, now)
        if appt is None:
            self.reject(cmd.kiosk, cmd.lang, Rejected("not_found"), now)
        self._keep_previewed(cmd, appt, offline)
        earlier = self.earlier_checkin(appt.booking, now)
        if earlier:
            route, arrival = earlier["route"], earlier["arrival"]
        else:
            cfg = self.flow.config
            try:  # the representative is asked on the next screen: `child` tells the UI to ask
                decision = decide(appt, cfg.site.id, now, cfg.arrival, representative=True)
            except Rejected as rejection:
                self.reject(cmd.kiosk, cmd.lang, rejection, now)
            route, arrival = decision.route, decision.arrival
        return CheckinPreview(
            booking=appt.booking, patient=rules.mask_name(appt.patient.display), doctor=appt.doctor.name,
            specialty=self.flow.specialty_name(appt.doctor.specialty, cmd.lang),
            start=appt.start.astimezone(self.flow.tz), room=appt.room, floor=appt.floor, route=route, arrival=arrival,
            child=rules.needs_representative(appt.flags, cmd.representative), checked_in=earlier is not None,
            offline=offline)

    @staticmethod
    def _lookup_key(cmd) -> str:
        what = cmd.code if cmd.by == "code" else f"{cmd.phone}|{cmd.birth_date}"
        return hashlib.sha256(f"{cmd.kiosk}|{cmd.by}|{what}".encode()).hexdigest()

    def _keep_previewed(self, cmd, appt: Appointment, offline: bool) -> None:
        now = time.monotonic()
        with self._previewed_guard:
            self._previewed = {k: v for k, v in self._previewed.items() if now - v[0] < PREVIEW_REUSE_S}
            self._previewed[self._lookup_key(cmd)] = (now, appt, offline)

    def _take_previewed(self, cmd) -> tuple[Appointment, bool] | None:
        with self._previewed_guard:
            kept = self._previewed.pop(self._lookup_key(cmd), None)
        if kept is None or time.monotonic() - kept[0] >= PREVIEW_REUSE_S:
            return None
        return kept[1], kept[2]

    def find(self, cmd, now: datetime) -> tuple[Appointment | None, bool]:
        """(appointment or None, decided offline?).

        A booking code found in the cached snapshot is used at once: the core keeps that snapshot
        current (retained, versioned) and still has the last word through its `checkin` answer,
        so asking it first would only add a round trip. A code the cache does not know (booked
        after the snapshot, another site) and every phone look-up go to the core: the cache holds
        only the phone's last four digits, too little to pick a patient while the core can answer.
        """
        today = now.date()
        if cmd.by == "code":
            cached = self.flow.schedule.find_code(today, cmd.code)
            if cached is not None:
                return cached, not self.flow.core.online
        body = ({"by": "code", "code": cmd.code} if cmd.by == "code"
                else {"by": "phone", "phone": cmd.phone, "birth_date": cmd.birth_date.isoformat()})
        try:
            return self.flow.core.lookup(body), False
        except CoreRefused as exc:  # e.g. the core knows the booking belongs to another site
            self.reject(cmd.kiosk, cmd.lang, Rejected(exc.code), now)
        except CoreAway:
            pass
        if cmd.by == "code":
            return None, True
        return self.flow.schedule.find_phone(today, cmd.phone, cmd.birth_date), True

    def complete(self, appt: Appointment, *, kiosk: str, lang: str, representative: bool | None,
                 offline: bool, now: datetime) -> CheckinResult:
        with self._lock_for(appt.booking):
            return self._complete(appt, kiosk=kiosk, lang=lang, representative=representative, offline=offline,
                                  now=now)

    def _complete(self, appt: Appointment, *, kiosk: str, lang: str, representative: bool | None,
                  offline: bool, now: datetime) -> CheckinResult:
        cfg = self.flow.config
        earlier = self.earlier_checkin(appt.booking, now)
        if earlier:
            return self.repeat(appt, earlier, kiosk=kiosk, lang=lang, now=now)
        try:
            decision = decide(appt, cfg.site.id, now, cfg.arrival, representative)
        except Rejected as rejection:
            self.reject(kiosk, lang, rejection, now)
        prefix, service = self.prefix_and_service(appt.doctor.specialty, decision.route)
        flow = self.flow
        reservation = flow.tickets.reserve(prefix, f"doctor:{appt.doctor.id}", False, now)
        with flow.tickets.holding(reservation):
            return self._issue(appt, decision, reservation, service, kiosk=kiosk, lang=lang, offline=offline,
                               now=now)

    def _issue(self, appt: Appointment, decision: Decision, reservation, service: str, *, kiosk: str, lang: str,
               offline: bool, now: datetime) -> CheckinResult:
        flow = self.flow
        number = reservation.number
        # The core is asked while the receipt renders; it prints only once the core has accepted.
        asked = flow.background.submit(flow.core.checkin, appt.booking, number) if flow.core.online else None
        # the doctor's queue as the patient joins it: checked-in patients before them, and the
        # queue's own estimate; only when the doctor is the next stop (registration first or the
        # box: the count would be stale by the time they reach the doctor)
        ahead, wait_minutes = (reservation.ahead, flow.queue_estimate(service, appt.room)[1]) \
            if decision.route == "doctor" else (None, None)
        job = self.receipt_job(appt, number, decision.route, kiosk=kiosk, lang=lang, now=now, ahead=ahead,
                               wait_minutes=wait_minutes)
        core_accepted = None
        if asked is not None:
            try:
                reply = asked.result()
            except CoreAway:
                offline = True  # the checkin.completed event tells the core later
            else:
                core_accepted = reply.accepted
                if not reply.accepted:  # holding() releases the number: it stays a gap
                    reason = reply.reason or "refused"
                    self.reject(kiosk, lang, Rejected(reason if reason in CONTRACT_REASONS else "refused",
                                                      core_reason=reason), now)
        printed = flow.printing.send(job, now).printed

        with self.flow.store.transaction() as tx:
            ticket = flow.tickets.record(tx, reservation, service=service, channel="kiosk", kiosk=kiosk,
                                         booking=appt.booking, doctor_id=appt.doctor.id, room=appt.room,
                                         printed=printed)
            tx.insert("kiosk_checkins", {
                "day": ticket.day, "checked_at": now.isoformat(), "booking": appt.booking, "ticket_id": ticket.id,
                "ticket": number, "route": decision.route, "arrival": decision.arrival,
                "doctor_id": appt.doctor.id, "room": appt.room, "start": appt.start.isoformat(), "kiosk": kiosk,
                "offline": int(offline), "core_accepted": core_accepted})
            outbox = self.flow.outbox
            outbox.append(tx, "ticket.issued", TicketIssued(
                ticket=number, service=service, priority=False, channel="kiosk", booking=appt.booking,
                kiosk=kiosk, printed=printed))
            outbox.append(tx, "checkin.completed", CheckinCompleted(
                booking=appt.booking, ticket=number, doctor_id=appt.doctor.id, room=appt.room, start=appt.start,
                arrival=decision.arrival, route=decision.route, offline=offline))
            if decision.route == "box":
                outbox.append(tx, "routing.box", RoutingBox(booking=appt.booking, doctor_id=appt.doctor.id))
        self.flow.bus.send("ticket.issued", ticket)  # the queue feature counts it
        log.info("check-in: ticket %s, route %s, arrival %s%s%s", number, decision.route, decision.arrival,
                 ", offline" if offline else "", "" if printed else ", NOT printed")

        return self.result(appt, number, decision.route, decision.arrival, lang=lang, printed=printed,
                           offline=offline, message=self.message(lang, decision.route, number, appt, offline, printed),
                           ahead=ahead, wait_minutes=wait_minutes)

    def earlier_checkin(self, booking: str, now: datetime) -> dict | None:
        rows = self.flow.store.query("SELECT ticket, route, arrival, offline FROM kiosk_checkins "
                                    "WHERE day = ? AND booking = ? ORDER BY id DESC LIMIT 1",
                                    (self.flow.tickets.local_day(now), booking))
        return rows[0] if rows else None

    def repeat(self, appt: Appointment, earlier: dict, *, kiosk: str, lang: str, now: datetime) -> CheckinResult:
        """Checked in already today (scanned twice, or lost the receipt): the same number again,
        printed again, and nothing new for the core."""
        number, route = earlier["ticket"], earlier["route"]
        printed = self.print_receipt(appt, number, route, kiosk=kiosk, lang=lang, now=now)
        log.info("check-in repeated: ticket %s again%s", number, "" if printed else ", NOT printed")
        message = texts.text(lang, "checkin.repeated") + self.message(lang, route, number, appt, False, printed)
        return self.result(appt, number, route, earlier["arrival"], lang=lang, printed=printed,
                           offline=bool(earlier["offline"]), message=message, repeated=True)

    # -- pieces ---------------------------------------------------------------------------------
    def receipt_job(self, appt: Appointment, number: str, route: str, *, kiosk: str, lang: str, now: datetime,
                    ahead: int | None = None, wait_minutes: int | None = None):
        flow = self.flow
        blocks = receipt_blocks(number=number, lang=lang, patient=rules.mask_name(appt.patient.display),
                                doctor=appt.doctor.name, specialty=flow.specialty_name(appt.doctor.specialty, lang),
                                room=appt.room, floor=appt.floor, start=appt.start.astimezone(self.flow.tz),
                                booking=appt.booking, route=route, greeting=rules.greeting(flow.local(now), lang),
                                site=flow.site_name(lang), first_stop=self.first_stop(route, lang), ahead=ahead,
                                wait_minutes=wait_minutes)
        return flow.printing.prepare(kiosk, "receipt", number, blocks)

    def first_stop(self, route: str, lang: str) -> str:
        """A first visit's first stop as the receipt prints it, large: "Registration, room 1, floor 1"."""
        reg = self.flow.config.service("registration") if route == "registration" else None
        if reg is None:
            return ""
        name = reg.names.get(lang) or reg.names.get(self.flow.config.site.default_language) or reg.id
        return name + texts.room_part(lang, reg.room) + texts.floor_part(lang, reg.floor)

    def print_receipt(self, appt: Appointment, number: str, route: str, *, kiosk: str, lang: str,
                      now: datetime) -> bool:
        job = self.receipt_job(appt, number, route, kiosk=kiosk, lang=lang, now=now)
        return self.flow.printing.send(job, now).printed

    def result(self, appt: Appointment, number: str, route: str, arrival: str, *, lang: str, printed: bool,
               offline: bool, message: str, repeated: bool = False, ahead: int | None = None,
               wait_minutes: int | None = None) -> CheckinResult:
        return CheckinResult(
            ticket=number, route=route, arrival=arrival, room=appt.room, floor=appt.floor,
            start=appt.start.astimezone(self.flow.tz), doctor=appt.doctor.name,
            specialty=self.flow.specialty_name(appt.doctor.specialty, lang),
            patient=rules.mask_name(appt.patient.display), booking=appt.booking, printed=printed,
            offline=offline, message=message, repeated=repeated, ahead=ahead, wait_minutes=wait_minutes)

    def prefix_and_service(self, specialty: str, route: str) -> tuple[str, str]:
        services = self.flow.config.services
        match = next((s for s in services if s.specialty == specialty), None)
        if match and route != "registration":
            return match.prefix, match.id
        # a first visit goes to registration first, whatever the specialty and however it was
        # booked: it always gets the registration route's letter, never the doctor's
        used = {s.prefix for s in services}
        letters = ROUTE_PREFIXES[route]
        return next((ch for ch in letters if ch not in used), letters[0]), match.id if match else specialty

    def message(self, lang: str, route: str, number: str, appt: Appointment, offline: bool, printed: bool) -> str:
        if route == "registration":
            reg = self.flow.config.service("registration")
            reg_room = texts.text(lang, "reg_room", room=reg.room) if reg and reg.room else ""
            msg = texts.text(lang, "checkin.registration", ticket=number, room=appt.room, reg=reg_room)
        elif route == "box":
            msg = texts.text(lang, "checkin.box", ticket=number)
        else:
            msg = texts.text(lang, "checkin.doctor", ticket=number, room=appt.room,
                             floor=texts.floor_part(lang, appt.floor))
        if offline:
            msg += texts.text(lang, "checkin.offline")
        if not printed:
            msg += texts.text(lang, "not_printed", ticket=number)
        return msg

    def reject(self, kiosk: str, lang: str, rejection: Rejected, now: datetime):
        """Record checkin.rejected and answer with the reason's code; never returns."""
        reason = rejection.reason
        if reason in CONTRACT_REASONS:
            self.flow.outbox.emit("checkin.rejected", CheckinRejected(reason=reason, kiosk=kiosk))
        log.info("check-in rejected: %s%s", reason,
                 f" (core: {rejection.values['core_reason']})" if "core_reason" in rejection.values else "")
        if reason == "too_early":
            when = rejection.values["come_back_at"].astimezone(self.flow.tz)
            message = texts.text(lang, "error.too_early", time=texts.clock(when, now.astimezone(self.flow.tz)))
        else:
            message = texts.text(lang, f"error.{reason}")
        raise RequestError(reason, message)
