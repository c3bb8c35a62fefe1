"""The node controller: the one process that owns the devices and the store.

It connects to the broker with a will carrying its session, caches the core's schedule, relays
the outbox, and serves `node/{node}/cmd/*`. Everything else is a feature (kiosk/features/),
composed from the list it is given and wired through the contract in kiosk/node/feature.py:
the controller routes each feature's commands, queues each feature's subscriptions to the
feature's own worker, creates its tables, and starts, stops and purges it.
"""
from __future__ import annotations

import logging
import signal
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable

from devices.base import OximeterReading, ScanReading, ThermometerReading
from foundation import sdnotify
from foundation.clock import Clock
from foundation.config import VestibuleConfig
from foundation.gc_freeze import freeze_startup_objects
from foundation.store import StorageFull, Store
from kiosk.node.core_link import CoreLink
from kiosk.node.feature import Bus, Feature, FeatureBuilder, FeatureContext
from kiosk.node.known_clients import known_client_check
from kiosk.node.schedule_cache import ScheduleCache, cache_path, drop_first_wave_table
from kiosk.node.schedule_receiver import ReceiverSettings, ScheduleReceiver
from kiosk.node.workers import WorkerQueue
from mqtt.client import MqttClient
from mqtt.commands import IDEMPOTENT_COMMANDS
from mqtt.models import DeviceReadingMessage, DeviceStatusMessage, NodeStatus
from mqtt.models import Request as _PingRequest  # ping carries nothing but its transaction
from mqtt.outbox import Outbox
from mqtt.relay import Relay
from mqtt.reply_policy import NODE_ASKERS, ReplyPolicy
from mqtt.replies import ReplyBook
from mqtt.rpc import Dispatcher
from mqtt.topics import NodeTopics

log = logging.getLogger("vestibule.controller")
VERSION = "0.1.0"
READING_INTERVAL_S = 0.25
STORE_DEVICE, STORAGE_FULL = "store", "storage_full"
READING_KINDS = {OximeterReading: "oximeter", ThermometerReading: "thermometer", ScanReading: "scanner"}


@dataclass(frozen=True)
class FeatureSpec:
    """One entry of the node's feature list: its name, how to find its config section, its builder."""
    name: str
    section: Callable[[VestibuleConfig], Any]
    build: FeatureBuilder


class Controller:
    def __init__(self, config: VestibuleConfig, features: list[FeatureSpec] = (), *, client_id: str | None = None,
                 devices=None, clock: Clock | None = None):
        self.config = config
        self.clock = clock or Clock(config.site.tz)
        self.tz = config.site.tz
        self.topics = NodeTopics(config.site.id, config.node.id)
        self.store = Store(config.node.store)
        self.outbox = Outbox(self.store, site=config.site.id, node=config.node.id, tz=self.tz,
                             max_rows=config.node.outbox_max_rows, clock=self.clock)
        self.store.ensure(drop_first_wave_table)
        self.schedule = ScheduleCache(cache_path(config.node.store), self.tz, self.now)
        self.store.on_storage(self._storage_changed)
        client_id = client_id or f"vestibule-{config.node.id}"
        self.client = MqttClient(config.broker.host, config.broker.port, client_id, role="controller",
                                 reply_topic=self.topics.reply("controller", client_id),
                                 username=config.broker.username, password=config.broker.password(),
                                 tls=config.broker.tls, keepalive=config.broker.keepalive_s,
                                 max_payload=config.broker.max_payload)
        self.session = self.store.meta("session") + 1
        self.bus = Bus()  # in-process happenings between features (kiosk/node/feature.py)
        self.client.set_will(self.topics.status, self._status(False))
        self.client.on_connect(self._connected)
        self.client.on_disconnect(self._disconnected)
        self.relay = Relay(self.client, self.outbox, self.topics)
        self.commands = Dispatcher(self.client, self.topics.commands_all, name="cmd",
                                   answers_to=ReplyPolicy(self.topics, NODE_ASKERS), replies=ReplyBook(self.store),
                                   idempotent=IDEMPOTENT_COMMANDS)
        self.commands.check(known_client_check(config))
        self.commands.route("ping", _PingRequest, self._ping)
        if devices is None:
            from devices.manager import DeviceManager
            devices = DeviceManager(config, on_status=self._device_status, on_problem=self._device_problem,
                                    on_reading=self._device_reading)
        self.devices = devices
        self.core = CoreLink(self.client, self.topics, config.core, lambda: self.relay.core_online)
        self._workers: list[WorkerQueue] = []
        # the day's schedule (up to ~46 MB) on a connection of its own, with a broker user of its
        # own (client id = user name), in a child process: see kiosk/node/schedule_receiver.py
        schedule_user, schedule_password = config.broker.schedule_credentials()
        self.schedule_receiver = ScheduleReceiver(ReceiverSettings(
            config.broker.host, config.broker.port, f"{client_id}-schedule", schedule_user, schedule_password,
            config.broker.tls, config.broker.keepalive_s, self.topics.core_status, self.topics.core_schedule_all,
            str(self.schedule.path), config.broker.max_payload), self.schedule)
        self.schedule.attach(self.schedule_receiver)
        self._stop = threading.Event()
        self._last_reading_sent: dict[str, float] = {}
        self.features: list[Feature] = []
        context = FeatureContext(site=config.site, node_id=config.node.id, topics=self.topics, clock=self.clock,
                                 store=self.store, outbox=self.outbox, publisher=self.client, bus=self.bus,
                                 devices=self.devices, core=self.core, schedule=self.schedule, config=config,
                                 state_dir=config.node.store.parent)
        for spec in features:
            self._add(spec.build(spec.section(config), context))

    def _worker(self, name: str) -> WorkerQueue:
        worker = WorkerQueue(name)
        self._workers.append(worker)
        return worker

    def _add(self, feature: Feature) -> None:
        self.store.ensure(feature.tables)
        for name, (model, handler) in feature.commands().items():
            if name in self.commands.routes:
                raise ValueError(f"feature {feature.name} declares command {name!r}, already served")
            self.commands.route(name, model, handler)
        subscriptions = feature.subscriptions()
        if subscriptions:
            worker = self._worker(feature.name)
            for topic_filter, handler in subscriptions.items():
                self.client.subscribe(topic_filter, worker.wrap(handler))
        self.features.append(feature)

    def feature(self, name: str) -> Feature:
        return next(f for f in self.features if f.name == name)

    # -- status and session ---------------------------------------------------------------------
    def _status(self, online: bool) -> NodeStatus:
        return NodeStatus(online=online, session=self.session, ts=self.now(), version=VERSION)

    def _connected(self) -> None:
        try:
            with self.store.transaction() as tx:
                tx.meta_set("session", self.session)
        except StorageFull:
            log.error("session %d not persisted: the disk is full", self.session)
        self.client.publish(self.topics.status, self._status(True), retain=True)
        for status in self.devices.statuses():
            self._device_status(status)
        self.bus.send("node.connected")  # features with retained state publish it again
        if self.store.full:
            self._storage_changed(True)
        log.info("node %s online, session %d, %d events waiting", self.config.node.id, self.session,
                 self.outbox.backlog())

    def _disconnected(self) -> None:
        # The next connection is a new session; the will sent with it must say so.
        self.session += 1
        self.client.set_will(self.topics.status, self._status(False))

    def now(self):
        return self.clock.now()

    # -- inputs -------------------------------------------------------------------------------
    def _device_status(self, status) -> None:
        message = DeviceStatusMessage(device=status.device, kind=status.kind, state=status.state.value,
                                      problems=list(status.problems), ts=self.now())
        self.client.publish(self.topics.device_status(status.device), message, retain=True)

    def _storage_changed(self, full: bool) -> None:
        """The node's disk filled up, or takes writes again: a device problem of the node itself."""
        message = DeviceStatusMessage(device=STORE_DEVICE, kind="store", state="fault" if full else "ready",
                                      problems=[STORAGE_FULL] if full else [], ts=self.now())
        self.client.publish(self.topics.device_status(STORE_DEVICE), message, retain=True)
        if not full:
            # nothing could be written while full: the episode goes to the core now, opened and cleared
            for cleared in (False, True):
                self._device_problem(STORE_DEVICE, "store", STORAGE_FULL, cleared)

    def _device_problem(self, device: str, kind: str, problem: str, cleared: bool) -> None:
        self.outbox.emit("device.problem", {"device": device, "kind": kind, "problem": problem, "cleared": cleared})

    def _device_reading(self, device: str, reading) -> None:
        self._publish_reading(device, reading)
        self.bus.send("device.reading", device, reading)

    def _publish_reading(self, device: str, reading) -> None:
        kind = READING_KINDS[type(reading)]
        if kind != "scanner":
            # 60 oximeter packets a second are for the driver; screens need a few per second.
            now = time.monotonic()
            if now - self._last_reading_sent.get(device, 0.0) < READING_INTERVAL_S:
                return
            self._last_reading_sent[device] = now
        fields = {k: getattr(reading, k) for k in reading.__slots__ if k != "ts"}
        message = DeviceReadingMessage(device=device, kind=kind, ts=self.now(), **fields)
        self.client.publish(self.topics.device_reading(device), message, qos=0)

    def _ping(self, request) -> dict:
        return {"node": self.config.node.id, "session": self.session, "version": VERSION,
                "core_online": self.relay.core_online, "backlog": self.outbox.backlog(),
                "features": {f.name: f.get_status() for f in self.features}}

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        for worker in self._workers:
            worker.start()
        self.devices.start()
        self.schedule.start()
        self.schedule_receiver.start()
        for feature in self.features:
            feature.start()
        self.relay.start()
        self.commands.start()
        self.client.start()

    def healthy(self) -> bool:
        return time.monotonic() - self.relay.last_progress < 10 and self.devices.healthy()

    def run(self) -> int:
        """Run until SIGTERM/SIGINT; pings the systemd watchdog only while healthy."""
        signal.signal(signal.SIGTERM, lambda *_: self._stop.set())
        signal.signal(signal.SIGINT, lambda *_: self._stop.set())
        self.start()
        freeze_startup_objects()  # full collections then skip start-up's objects (17-28 ms of every answer)
        sdnotify.notify("READY=1")
        interval = sdnotify.watchdog_interval() or 5.0
        last_purge = 0.0
        while not self._stop.wait(min(interval, 5.0)):
            if self.healthy():
                sdnotify.notify("WATCHDOG=1")
            else:
                log.error("unhealthy: relay or device threads stalled; withholding the watchdog ping")
            if time.monotonic() - last_purge > 3600:
                last_purge = time.monotonic()
                self.purge()
        sdnotify.notify("STOPPING=1")
        self.stop()
        return 0

    def purge(self) -> None:
        days = self.config.node.retention_days
        today = self.now().date()
        self.schedule.purge(today, days)
        cutoff = (today - timedelta(days=days)).isoformat()
        for feature in self.features:
            try:
                feature.purge(cutoff)
            except Exception:
                log.exception("feature %s failed to purge", feature.name)

    def stop(self) -> None:
        self._stop.set()
        self.commands.stop()
        for feature in reversed(self.features):
            try:
                feature.stop()
            except Exception:
                log.exception("feature %s failed to stop", feature.name)
        for worker in self._workers:
            worker.stop()
        self.relay.stop()
        self.client.stop(final=(self.topics.status, self._status(False)))
        self.devices.stop()
        self.schedule_receiver.stop()  # first: a snapshot being indexed is then not waited for
        self.schedule.stop()
        self.store.close()
