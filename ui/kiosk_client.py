"""The kiosk's MQTT side: node commands, scanner codes, and whether the core and broker are there.

Everything here runs off the UI thread (paho's network thread and a small worker pool); results
reach the UI through `post`, which the app implements with Clock.schedule_once.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from foundation.config import VestibuleConfig
from mqtt.client import RequestTimeout
from mqtt.models import CoreStatus, DeviceReadingMessage, ErrorAnswer
from mqtt.topics import NodeTopics
from ui.screen_identity import screen_password as kiosk_password  # noqa: F401 (the app's name for it)
from ui.screen_identity import screen_client

log = logging.getLogger("vestibule.ui.kiosk")

Post = Callable[[Callable[[], None]], None]


@dataclass
class Reply:
    ok: bool
    data: dict = field(default_factory=dict)
    code: str = ""
    message: str = ""


def scanner_of(config: VestibuleConfig, kiosk_id: str) -> str | None:
    """The configured scanner that serves this kiosk (kind scanner, role = the kiosk id)."""
    return next((name for name, dev in config.devices_of("scanner").items() if dev.role == kiosk_id), None)


class KioskClient:
    def __init__(self, config: VestibuleConfig, kiosk_id: str, post: Post, *, timeout: float = 12.0,
                 username: str | None = None, password: str | None = None):
        self.kiosk_id = kiosk_id
        self.topics = NodeTopics(config.site.id, config.node.id)
        self.timeout = timeout
        self.post = post
        self.on_scan: Callable[[str], None] = lambda code: None
        self.on_link: Callable[[bool], None] = lambda up: None  # broker reachable, core online
        self.core_online = True
        self.mqtt = screen_client(config, kiosk_id, "kiosk", username=username, password=password)
        self.mqtt.on_connect(lambda: self._link_changed())
        self.mqtt.on_disconnect(lambda: self._link_changed())
        self.mqtt.subscribe(self.topics.core_status, self._core_status)
        scanner = scanner_of(config, kiosk_id)
        if scanner:
            self.mqtt.subscribe(self.topics.device_reading(scanner), self._reading, qos=0)
        else:
            log.warning("no scanner configured for %s: codes can only be typed", kiosk_id)
        self.pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="kiosk-cmd")

    def start(self) -> None:
        self.mqtt.start()

    def stop(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.mqtt.stop()

    @property
    def connected(self) -> bool:
        return self.mqtt.connected.is_set()

    def call(self, name: str, body: dict, done: Callable[[Reply], None]) -> None:
        """Send node command `name`; `done(reply)` runs later on the UI thread."""
        body = {"kiosk": self.kiosk_id, **body}
        self.pool.submit(self._call, name, body, done)

    def _call(self, name: str, body: dict, done: Callable[[Reply], None]) -> None:
        try:
            answer = self.mqtt.request(self.topics.command(name), body, timeout=self.timeout)
        except RequestTimeout as exc:
            reply = Reply(False, code="no_answer", message=str(exc))
        except Exception as exc:  # the UI must always get a reply, or the patient waits forever
            log.exception("command %s failed", name)
            reply = Reply(False, code="no_answer", message=str(exc)[:200])
        else:
            if isinstance(answer, ErrorAnswer):
                reply = Reply(False, code=answer.error.code, message=answer.error.message)
            else:
                reply = Reply(True, data=answer.data)
        log.info("command %s: %s", name, "ok" if reply.ok else reply.code)  # never the payload: personal data
        self.post(lambda: done(reply))

    def _reading(self, msg) -> None:
        try:
            reading = DeviceReadingMessage.model_validate_json(msg.payload)
        except ValueError:
            log.warning("ignoring a malformed reading on %s", msg.topic)
            return
        if reading.kind == "scanner" and reading.code:
            code = reading.code
            self.post(lambda: self.on_scan(code))

    def _core_status(self, msg) -> None:
        if not msg.payload:
            return
        try:
            self.core_online = CoreStatus.model_validate(json.loads(msg.payload)).online
        except ValueError:
            return
        self._link_changed()

    def _link_changed(self) -> None:
        up = self.connected and self.core_online
        self.post(lambda: self.on_link(up))
