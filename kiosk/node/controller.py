"""The node controller: the one process that owns the devices and the store.

It connects to the broker with a will carrying its session, caches the core's schedule, relays
the outbox, serves `node/{node}/cmd/*`, and turns the core's calls into board updates.
"""
from __future__ import annotations

import logging
import os
import signal
import threading
import time
from datetime import datetime

from devices.base import OximeterReading, ScanReading, ThermometerReading
from foundation import sdnotify
from kiosk.features.calls.handler import CallHandler
from foundation.config import VestibuleConfig
from kiosk.node.feature import Bus
from kiosk.node.schedule_cache import ScheduleCache
from foundation.store import Store
from mqtt.client import MqttClient
from mqtt.models import DeviceReadingMessage, DeviceStatusMessage, NodeStatus
from mqtt.models import Request as _PingRequest  # ping carries nothing but its transaction
from mqtt.outbox import Outbox
from mqtt.relay import Relay
from mqtt.rpc import Dispatcher
from mqtt.topics import NodeTopics

log = logging.getLogger("vestibule.controller")
VERSION = "0.1.0"
READING_INTERVAL_S = 0.25
READING_KINDS = {OximeterReading: "oximeter", ThermometerReading: "thermometer", ScanReading: "scanner"}


class Controller:
    def __init__(self, config: VestibuleConfig, *, client_id: str | None = None, devices=None):
        self.config = config
        self.tz = config.site.tz
        self.topics = NodeTopics(config.site.id, config.node.id)
        self.store = Store(config.node.store)
        self.outbox = Outbox(self.store, site=config.site.id, node=config.node.id, tz=self.tz,
                             max_rows=config.node.outbox_max_rows)
        self.schedule = ScheduleCache(self.store)
        client_id = client_id or f"vestibule-{config.node.id}"
        self.client = MqttClient(config.broker.host, config.broker.port, client_id, role="controller",
                                 reply_topic=self.topics.reply("controller", client_id),
                                 username=config.broker.username, password=config.broker.password(),
                                 tls=config.broker.tls, keepalive=config.broker.keepalive_s)
        self.session = self.store.meta("session") + 1
        self.client.set_will(self.topics.status, self._status(False))
        self.client.on_connect(self._connected)
        self.client.on_disconnect(self._disconnected)
        self.relay = Relay(self.client, self.outbox, self.topics)
        self.commands = Dispatcher(self.client, self.topics.commands_all, name="cmd")
        self.commands.route("ping", _PingRequest, self._ping)
        if devices is None:
            from devices.manager import DeviceManager
            devices = DeviceManager(config, on_status=self._device_status, on_problem=self._device_problem,
                                    on_reading=self._device_reading)
        self.devices = devices
        self.bus = Bus()  # between features: ticket.issued, call.made, queue.estimate
        self.features: list = []  # contract features (kiosk/app.py), stopped with the controller
        self.calls = CallHandler(self)
        self.client.subscribe(self.topics.core_schedule_all, self._schedule_message)
        self.client.subscribe(self.topics.core_cmd_call, self.calls.on_call_message)
        self._stop = threading.Event()
        self._extensions: list = []
        self._last_reading_sent: dict[str, float] = {}

    # -- status and session ---------------------------------------------------------------------
    def _status(self, online: bool) -> NodeStatus:
        return NodeStatus(online=online, session=self.session, ts=self.now(), version=VERSION)

    def _connected(self) -> None:
        with self.store.transaction() as tx:
            tx.meta_set("session", self.session)
        self.client.publish(self.topics.status, self._status(True), retain=True)
        for status in self.devices.statuses():
            self._device_status(status)
        log.info("node %s online, session %d, %d events waiting", self.config.node.id, self.session,
                 self.outbox.backlog())

    def _disconnected(self) -> None:
        # The next connection is a new session; the will sent with it must say so.
        self.session += 1
        self.client.set_will(self.topics.status, self._status(False))

    def now(self) -> datetime:
        return datetime.now(self.tz)

    # -- inputs -------------------------------------------------------------------------------
    def _schedule_message(self, msg) -> None:
        if msg.payload:
            self.schedule.accept(msg.payload, self.now())

    def _device_status(self, status) -> None:
        message = DeviceStatusMessage(device=status.device, kind=status.kind, state=status.state.value,
                                      problems=list(status.problems), ts=self.now())
        self.client.publish(self.topics.device_status(status.device), message, retain=True)

    def _device_problem(self, device: str, kind: str, problem: str, cleared: bool) -> None:
        self.outbox.emit("device.problem", {"device": device, "kind": kind, "problem": problem, "cleared": cleared})

    def _device_reading(self, device: str, reading) -> None:
        self._publish_reading(device, reading)
        for ext in self._extensions:
            handler = getattr(ext, "on_reading", None)
            if handler:
                handler(device, reading)

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

    def call_seen(self, call) -> None:
        """The core called a ticket: feature modules that track queues (on_call) learn of it."""
        for ext in self._extensions:
            handler = getattr(ext, "on_call", None)
            if handler:
                try:
                    handler(call)
                except Exception:
                    log.exception("extension failed to take call %s", call.call_id)

    def _ping(self, request) -> dict:
        return {"node": self.config.node.id, "session": self.session, "version": VERSION,
                "core_online": self.relay.core_online, "backlog": self.outbox.backlog()}

    def extend(self, extension) -> None:
        """Feature modules (kiosk flow, screening) register their commands through this."""
        self._extensions.append(extension)

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        self.devices.start()
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
        self.schedule.purge(self.now().date(), days)
        for ext in self._extensions:
            if hasattr(ext, "purge"):
                ext.purge(self.now(), days)

    def stop(self) -> None:
        self._stop.set()
        self.commands.stop()
        for feature in self.features:
            feature.stop()
        self.relay.stop()
        self.client.stop(final=(self.topics.status, self._status(False)))
        self.devices.stop()
        self.store.close()

