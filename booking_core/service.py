"""DevCore: the booking-core stand-in as one object with start()/stop(), for the CLI and for tests.

MQTT sessions: the stand-in connects with a stable client id and a persistent session (clean
start off, session expiry a day), so the broker queues node events (QoS 1) while it restarts.
Requests are subscribed at QoS 0 on purpose: the broker then does not queue them while the core
is away, so a restarted core never replays a booking.create the kiosk already gave up on.

Logs name booking codes, ticket numbers and event ids only: never names, phones or birth dates.
"""
from __future__ import annotations

import logging
import math
import random
import threading
import time
from datetime import date, datetime
from pathlib import Path
from typing import Callable

from pydantic import BaseModel, ValidationError
from ulid import ULID

from foundation.config import VestibuleConfig
from mqtt.client import MqttClient
from booking_core.calls import CallQueue
from booking_core.records import (CHILD_FLAG, SPECIALTIES, CoreAppointment, age_on, doctor, doctors_of,
                                  new_booking_code, phone_key)
from booking_core.schedule import SLOT, day_grid, free_slots, generate_large_day, generate_schedule, on_grid
from booking_core.store import CoreStore, SlotTaken
from mqtt.models import (EVENT_MODELS, REQUEST_MODELS, BookingCreate, CallCommand, CheckinAnswer, CheckinCompleted,
                         CheckinRequest, CoreStatus, EventEnvelope, LookupByCode, ScheduleSnapshot, Slot,
                         SlotsAnswer, SlotsSearch, TicketIssued)
from mqtt.rpc import Dispatcher, RequestError
from mqtt.topics import SiteTopics

log = logging.getLogger("vestibule.devcore")

SESSION_EXPIRY_S = 24 * 3600
DEMO_REGENERATE_AFTER_S = 3600  # a demo schedule older than this no longer has patients due "now"
TICK_S = 5.0
REPEAT_DELAY_S = 1.0  # inside the node's repeat window, so the duplicate must not be announced again
NEW_PATIENT = "Новый пациент"  # the kiosk books by phone and birth date only


def _reasons(exc: ValidationError) -> str:
    # locations and messages only: the input may hold personal data
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(payload)'}: {e['msg']}" for e in exc.errors()[:3])


class DevCore:
    def __init__(self, config: VestibuleConfig, db_path: str | Path, *, demo: bool, call_interval_s: float | None,
                 seed: int = 1, client_id: str | None = None, repeat_one_in: int = 8,
                 username: str | None = None, password: str | None = None,
                 clock: Callable[[], datetime] | None = None, day_size: int | None = None):
        self.config = config
        self.day_size = day_size  # a large generated day (scale tests, benchmarks) instead of the demo's
        self.site = config.site.id
        self.tz = config.site.tz
        self.topics = SiteTopics(self.site)
        self.db_path = Path(db_path)
        self.demo = demo
        self.call_interval_s = call_interval_s if demo and call_interval_s and call_interval_s > 0 else None
        self.seed = seed
        self.client_id = client_id or f"vestibule-core-{self.site}"
        self.repeat_one_in = repeat_one_in
        self._credentials = (username, password)
        self._clock = clock or (lambda: datetime.now(self.tz))
        self._rng = random.Random(f"devcore-calls:{seed}")
        self._code_rng = random.SystemRandom()
        self.store: CoreStore | None = None
        self.client: MqttClient | None = None
        self.dispatcher: Dispatcher | None = None
        self.calls = CallQueue(self._room_for_service)
        self.calls_sent: list[CallCommand] = []
        self._day: date | None = None
        self._stale_days: set[date] = set()
        self._events = threading.Condition()
        self._ready = threading.Event()
        self._publish_lock = threading.Lock()
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self._walkin_rr = 0

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> "DevCore":
        self.store = CoreStore(self.db_path, self.tz)
        self._day = self.today()
        self._forget_past_days()
        self._ensure_schedule(self._day)
        broker = self.config.broker
        self.client = client = MqttClient(
            broker.host, broker.port, self.client_id, role="core",
            reply_topic=self.topics.reply("core", self.client_id), username=self._credentials[0],
            password=self._credentials[1], tls=broker.tls, keepalive=broker.keepalive_s,
            session_expiry_s=SESSION_EXPIRY_S)
        self._set_will()
        # handlers are in place before the first CONNECT: a resumed session delivers queued events at once
        client.subscribe(self.topics.all_node_events, self._on_event, qos=1)
        # QoS 0: a persistent session must not queue requests for a later, stale answer
        self.dispatcher = Dispatcher(client, self.topics.core_request_all, name="devcore", qos=0)
        self.dispatcher.route("booking.lookup", REQUEST_MODELS["booking.lookup"], self._lookup)
        self.dispatcher.route("checkin", REQUEST_MODELS["checkin"], self._checkin)
        self.dispatcher.route("slots.search", REQUEST_MODELS["slots.search"], self._slots)
        self.dispatcher.route("booking.create", REQUEST_MODELS["booking.create"], self._create)
        self.dispatcher.start()
        client.on_connect(self._announce)
        client.on_disconnect(self._ready.clear)
        client.start()
        self._stop.clear()
        self._worker = threading.Thread(target=self._run, name="devcore-timer", daemon=True)
        self._worker.start()
        calls = f"calls every {self.call_interval_s:g} s" if self.call_interval_s else "no calls"
        log.info("stand-in core for %s starting (%s mode, %s, broker %s:%s, client %s)", self.site,
                 "demo" if self.demo else "office-hours", calls, broker.host, broker.port, self.client_id)
        return self

    def wait_ready(self, timeout: float) -> bool:
        """True once connected, subscriptions acknowledged, and status and snapshot published."""
        return self._ready.wait(timeout)

    def stop(self) -> None:
        """Clean stop: status online false (retained), then DISCONNECT; the broker keeps our session."""
        self._stop.set()
        if self._worker:
            self._worker.join(timeout=10)
            self._worker = None
        if self.dispatcher:
            self.dispatcher.stop()
            self.dispatcher = None
        if self.client:
            self.client.stop(final=(self.topics.core_status, CoreStatus(online=False, ts=self.now())))
            self.client = None
        if self.store:
            self.store.close()
            self.store = None
        log.info("stand-in core for %s stopped", self.site)

    def now(self) -> datetime:
        return self._clock().astimezone(self.tz)

    def today(self) -> date:
        return self.now().date()

    # -- announcements -----------------------------------------------------------------------
    def _set_will(self) -> None:
        self.client.set_will(self.topics.core_status, CoreStatus(online=False, ts=self.now()), retain=True)

    def _announce(self) -> None:
        """On every (re)connection: online status and the day's snapshot, both retained."""
        # MqttClient runs this after the SUBACK: requests and events can no longer be missed
        self._clear_stale_snapshots()
        self.client.publish(self.topics.core_status, CoreStatus(online=True, ts=self.now()), qos=1, retain=True)
        version = self._publish_snapshot()
        self._set_will()  # a fresh timestamp for the next connection's will
        self._ready.set()
        log.info("online: status and schedule %s v%d published", self._day, version)

    def _clear_stale_snapshots(self) -> None:
        """Past days' patients must not stay retained on the broker."""
        with self._publish_lock:
            for day in sorted(self._stale_days):
                self.client.publish(self.topics.core_schedule(day), b"", qos=1, retain=True)
            self._stale_days.clear()

    def _publish_snapshot(self) -> int:
        # under the lock the state read is the newest, so snapshots go out in version order
        with self._publish_lock:
            day = self._day
            version = self.store.version(day)
            snapshot = ScheduleSnapshot(date=day, version=version,
                                        appointments=[a.public() for a in self.store.day(day, self.site)])
            self.client.publish(self.topics.core_schedule(day), snapshot.model_dump_json(exclude_none=True).encode(),
                                qos=1, retain=True)
        return version

    # -- the day's schedule ------------------------------------------------------------------
    def _ensure_schedule(self, day: date) -> None:
        now = self.now()
        generated = self.store.generated_at(day)
        stale = self.demo and generated and now.timestamp() - generated > DEMO_REGENERATE_AFTER_S
        if generated and not stale:
            log.info("schedule %s kept from the database (v%d)", day, self.store.version(day))
            return
        if self.day_size:
            appointments = generate_large_day(self.site, self.tz, day, self.seed, self.day_size)
        else:
            appointments = generate_schedule(self.site, self.tz, day, now, self.seed, demo=self.demo)
        version = self.store.replace_day(day, appointments, int(now.timestamp()))
        own = sum(1 for a in appointments if a.site == self.site)
        log.info("schedule %s generated: %d appointments, %d of other sites (seed %d%s), v%d%s", day, own,
                 len(appointments) - own, self.seed, ", around now" if self.demo else "", version,
                 "; the earlier demo day was replaced" if stale else "")

    def _forget_past_days(self) -> None:
        for day in self.store.days():
            if day < self._day:
                self.store.clear_day(day)
                with self._publish_lock:
                    self._stale_days.add(day)
                log.info("schedule %s deleted (past day)", day)

    def _roll_day(self) -> None:
        today = self.today()
        if today == self._day:
            return
        self._day = today
        self._forget_past_days()
        self._ensure_schedule(today)
        if self.client.connected.is_set():
            self._clear_stale_snapshots()
            self._publish_snapshot()

    # -- requests ----------------------------------------------------------------------------
    def _public(self, appointment: CoreAppointment) -> dict:
        return appointment.public().model_dump(mode="json", exclude_none=True)

    def _lookup(self, request) -> dict:
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

    def _checkin(self, request: CheckinRequest) -> CheckinAnswer:
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

    def _slots(self, request: SlotsSearch) -> SlotsAnswer:
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

    def _create(self, request: BookingCreate) -> dict:
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
            booking=self._new_code(), site=self.site, status="booked",
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
        self._publish_snapshot()
        log.info("booking %s created: %s at %s (schedule v%d)", appointment.booking, doc.id, f"{start:%H:%M}", version)
        return self._public(appointment)

    def _new_code(self) -> str:
        while True:
            code = new_booking_code(self._code_rng)
            if self.store.get(code) is None:
                return code

    # -- events ------------------------------------------------------------------------------
    def _on_event(self, msg) -> None:
        received = self.now()
        try:
            envelope = EventEnvelope.model_validate_json(msg.payload)
        except ValidationError as exc:
            return self._malformed(msg.topic, _reasons(exc))
        except ValueError as exc:  # e.g. bytes that are not UTF-8
            return self._malformed(msg.topic, type(exc).__name__)
        levels = msg.topic.split("/")
        node_level, type_level = levels[-3], levels[-1]
        if (envelope.type, envelope.node, envelope.site) != (type_level, node_level, self.site):
            return self._malformed(msg.topic, "type, node or site differ from the topic")
        data: BaseModel | None = None
        model = EVENT_MODELS.get(envelope.type)
        if model is not None:
            try:
                data = model.model_validate(envelope.data)
            except ValidationError as exc:
                return self._malformed(msg.topic, "data: " + _reasons(exc))
        if not self.store.record_event(envelope, received):
            log.info("duplicate event %s (%s seq %d) ignored", envelope.id, envelope.type, envelope.seq)
            return
        log.info("event %s %s from %s session %d seq %d%s%s", envelope.type, envelope.id, envelope.node,
                 envelope.session, envelope.seq, " historical" if envelope.historical else "",
                 "" if model else " (type unknown to the contract; kept)")
        with self._events:
            self._events.notify_all()
        if self.demo and data is not None:
            self._remember_for_calls(data)

    def _malformed(self, topic: str, reason: str) -> None:
        count = self.store.count_malformed()
        log.warning("malformed event on %s not stored (%d so far): %s", topic, count, reason)

    # -- demo calls --------------------------------------------------------------------------
    def _remember_for_calls(self, data: BaseModel) -> None:
        if isinstance(data, TicketIssued):
            booked = self.store.get(data.booking) if data.booking else None
            room = booked.room if booked and booked.site == self.site else None
            self.calls.ticket_issued(data.ticket, data.service, room)
        elif isinstance(data, CheckinCompleted):
            booked = self.store.get(data.booking)
            # A first visit goes to registration (contract, consent) before the doctor: call it there.
            room = data.room
            if data.route == "registration":
                room = self._room_for_service("registration") or data.room
            self.calls.checked_in(data.ticket, room, booked.specialty if booked else None)

    def _room_for_service(self, service: str) -> str | None:
        configured = self.config.service(service)
        if configured and configured.room:
            return configured.room
        specialty = configured.specialty if configured else (service if service in SPECIALTIES else None)
        doctors = doctors_of(specialty) if specialty else []
        if not doctors:
            return None
        self._walkin_rr += 1  # walk-ins to "any doctor" take turns
        return doctors[self._walkin_rr % len(doctors)].room

    def _run(self) -> None:
        interval = self.call_interval_s
        tick = min(interval, TICK_S) if interval else TICK_S
        next_call = time.monotonic() + interval if interval else math.inf
        while not self._stop.wait(tick):
            try:
                self._roll_day()
                if time.monotonic() >= next_call:
                    next_call = time.monotonic() + interval
                    self._call_next()
            except Exception:  # the timer must outlive one bad step
                log.exception("timer step failed")

    def _call_next(self) -> None:
        if not self.client.connected.is_set():
            return
        entry = self.calls.next_call()
        if entry is None:
            return
        call = CallCommand(call_id=f"c-{ULID()}", ticket=entry.ticket, room=entry.room, service=entry.service)
        self._publish_call(call, "call")
        if self.repeat_one_in and self._rng.randrange(self.repeat_one_in) == 0 and not self._stop.wait(REPEAT_DELAY_S):
            self._publish_call(call.model_copy(update={"call_id": f"c-{ULID()}"}), "repeated call (repeat=false)")

    def _publish_call(self, call: CallCommand, what: str) -> None:
        self.client.publish(self.topics.core_cmd_call, call, qos=1)
        self.calls_sent.append(call)
        log.info("%s %s: ticket %s to room %s", what, call.call_id, call.ticket, call.room)

    # -- a small API for tests and the demo --------------------------------------------------
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
        deadline = time.monotonic() + timeout
        with self._events:
            while self.store.inbox_count() < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._events.wait(min(left, 0.5))
        return True

    def appointments(self, *, all_sites: bool = False) -> list[CoreAppointment]:
        """Today's appointments of this site (with `all_sites`, every appointment the core holds)."""
        return self.store.all() if all_sites else self.store.day(self.today(), self.site)

    def checkins(self) -> list[dict]:
        return self.store.checkins()

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
            booking=booking or self._new_code(), site=site, status=status, full_name=full_name, display=display,
            birth_date=birth_date, phone=phone, first_visit=first_visit, doctor_id=doc.id, doctor_name=doc.name,
            specialty=doc.specialty, room=doc.room, floor=doc.floor, start=start, end=start + SLOT,
            flags=tuple(flags), origin="created")
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

    def _republish_if_today(self, appointment: CoreAppointment) -> None:
        if (appointment.site == self.site and appointment.start.astimezone(self.tz).date() == self._day
                and self.client is not None):
            self._publish_snapshot()

