"""DevCore: the booking-core stand-in assembled for the CLI and for tests: its MQTT session and the
day's retained snapshot (this module), its answers to requests (requests.py), its inbox of node
events (inbox.py), the demo scenario that calls tickets (scenario.py) and the API tests use
(testing.py).

MQTT sessions: the stand-in connects with a stable client id and a persistent session (clean
start off, session expiry a day), so the broker queues node events (QoS 1) while it restarts.
Requests are subscribed at QoS 0 on purpose: the broker then does not queue them while the core
is away, so a restarted core never replays a booking.create the kiosk already gave up on.

Logs name booking codes, ticket numbers and event ids only: never names, phones or birth dates.
"""
from __future__ import annotations

import logging
import threading
from datetime import date, datetime
from pathlib import Path
from typing import Callable

from booking_core.doctors import DoctorsDesk
from booking_core.inbox import EventInbox
from booking_core.records import CoreAppointment
from booking_core.requests import CoreRequests
from booking_core.scenario import DemoCaller
from booking_core.schedule import generate_large_day, generate_schedule
from booking_core.store import CoreStore
from booking_core.testing import StandInTestApi
from foundation.config import VestibuleConfig
from mqtt.client import MqttClient
from mqtt.models import CallCommand, CoreStatus, ScheduleSnapshot
from mqtt.rpc import Dispatcher
from mqtt.reply_policy import CORE_ASKERS, ReplyPolicy
from mqtt.topics import SiteTopics

log = logging.getLogger("vestibule.devcore")

SESSION_EXPIRY_S = 24 * 3600
DEMO_REGENERATE_AFTER_S = 3600  # a demo schedule older than this no longer has patients due "now"
TICK_S = 5.0


class DevCore(StandInTestApi):
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
        self.store: CoreStore | None = None
        self.client: MqttClient | None = None
        self.dispatcher: Dispatcher | None = None
        self.requests: CoreRequests | None = None
        self.inbox_events: EventInbox | None = None
        self.caller: DemoCaller | None = None
        self.calls_sent: list[CallCommand] = []
        self._day: date | None = None
        self._stale_days: set[date] = set()
        self._ready = threading.Event()
        self._publish_lock = threading.Lock()
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> "DevCore":
        self.store = store = CoreStore(self.db_path, self.tz)
        self.requests = CoreRequests(store, site=self.site, tz=self.tz, now=self.now, demo=self.demo,
                                     on_day_changed=self._publish_snapshot)
        self.inbox_events = EventInbox(store, site=self.site, now=self.now)
        self.caller = DemoCaller(store, config=self.config, site=self.site, interval_s=self.call_interval_s,
                                 seed=self.seed, repeat_one_in=self.repeat_one_in, publish=self._publish_call,
                                 stop=self._stop)
        self.doctors = DoctorsDesk(store)
        self.inbox_events.listen(self.doctors.on_event)
        if self.demo:
            self.inbox_events.listen(self.caller.on_event)
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
        client.subscribe(self.topics.all_node_events, self.inbox_events.on_message, qos=1)
        # QoS 0: a persistent session must not queue requests for a later, stale answer
        self.dispatcher = Dispatcher(client, self.topics.core_request_all, name="devcore", qos=0,
                                     answers_to=ReplyPolicy(self.topics, CORE_ASKERS))
        self.requests.route(self.dispatcher)
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

    # -- the timer: day roll-over and the demo's calls ----------------------------------------
    def _run(self) -> None:
        interval = self.call_interval_s
        tick = min(interval, TICK_S) if interval else TICK_S
        while not self._stop.wait(tick):
            try:
                self._roll_day()
                self.caller.tick(self.client.connected.is_set())
            except Exception:  # the timer must outlive one bad step
                log.exception("timer step failed")

    def _publish_call(self, call: CallCommand, what: str) -> None:
        self.client.publish(self.topics.core_cmd_call, call, qos=1)
        self.calls_sent.append(call)
        log.info("%s %s: ticket %s to room %s", what, call.call_id, call.ticket, call.room)

    @property
    def calls(self):
        """The demo's queue of tickets to call (empty when the core runs without the demo)."""
        return self.caller.calls

    def _republish_if_today(self, appointment: CoreAppointment) -> None:
        if (appointment.site == self.site and appointment.start.astimezone(self.tz).date() == self._day
                and self.client is not None):
            self._publish_snapshot()
