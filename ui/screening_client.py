"""The screening app's MQTT side: node commands (role screening), the post's live readings, the
scanner's codes, and whether the node is there.

Network work runs on paho's thread and a small pool; results reach the UI through `post`
(Clock.schedule_once in the app), so the UI thread never waits on the broker.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from foundation.config import VestibuleConfig
from mqtt.client import RequestTimeout
from mqtt.models import DeviceReadingMessage, ErrorAnswer
from mqtt.topics import NodeTopics
from ui.screen_identity import screen_client
from ui.screen_identity import screen_password as screening_password  # noqa: F401 (the app's name for it)

log = logging.getLogger("vestibule.ui.screening")

Post = Callable[[Callable[[], None]], None]


@dataclass
class Reply:
    ok: bool
    data: dict = field(default_factory=dict)
    code: str = ""
    message: str = ""


def post_devices(config: VestibuleConfig, post: str) -> dict[str, str]:
    """kind -> device id of the post's devices (their config role is the post id)."""
    found: dict[str, str] = {}
    for name, dev in config.devices.items():
        if dev.role == post and dev.kind in ("thermometer", "oximeter", "scanner"):
            found.setdefault(dev.kind, name)
    return found


class ScreeningClient:
    def __init__(self, config: VestibuleConfig, post_id: str, post: Post, *, timeout: float = 15.0,
                 username: str | None = None, password: str | None = None):
        self.post_id = post_id
        self.topics = NodeTopics(config.site.id, config.node.id)
        self.timeout = timeout  # above the controller's measure timeout
        self.post = post
        self.on_reading: Callable[[str, dict], None] = lambda kind, reading: None
        self.on_scan: Callable[[str], None] = lambda code: None
        self.on_link: Callable[[bool], None] = lambda up: None
        self.mqtt = screen_client(config, post_id, "screening", username=username, password=password)
        self.mqtt.on_connect(lambda: self.post(lambda: self.on_link(True)))
        self.mqtt.on_disconnect(lambda: self.post(lambda: self.on_link(False)))
        self.devices = post_devices(config, post_id)
        for device in self.devices.values():
            self.mqtt.subscribe(self.topics.device_reading(device), self._reading, qos=0)
        self.pool = ThreadPoolExecutor(max_workers=3, thread_name_prefix="screening-cmd")

    def start(self) -> None:
        self.mqtt.start()

    def stop(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.mqtt.stop()

    def call(self, name: str, body: dict, done: Callable[[Reply], None]) -> None:
        self.pool.submit(self._call, name, body, done)

    def _call(self, name: str, body: dict, done: Callable[[Reply], None]) -> None:
        try:
            answer = self.mqtt.request(self.topics.command(name), body, timeout=self.timeout)
        except RequestTimeout as exc:
            reply = Reply(False, code="no_answer", message=str(exc))
        except Exception as exc:  # the screen must always get a reply
            log.exception("command %s failed", name)
            reply = Reply(False, code="no_answer", message=str(exc)[:200])
        else:
            if isinstance(answer, ErrorAnswer):
                reply = Reply(False, code=answer.error.code, message=answer.error.message)
            else:
                reply = Reply(True, data=answer.data)
        log.info("command %s: %s", name, "ok" if reply.ok else reply.code)  # never the payload
        self.post(lambda: done(reply))

    def _reading(self, msg) -> None:
        try:
            reading = DeviceReadingMessage.model_validate_json(msg.payload)
        except ValueError:
            log.warning("ignoring a malformed reading on %s", msg.topic)
            return
        data = reading.model_dump(mode="json")
        if reading.kind == "scanner":
            if reading.code:
                self.post(lambda: self.on_scan(reading.code))
            return
        self.post(lambda: self.on_reading(reading.kind, data))
