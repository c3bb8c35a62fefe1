"""The node's side of the wire, for tests and demos that drive the stand-in core.

A Peer is an MqttClient that records what arrives on the filters it watches, sends requests
(well-formed through MqttClient.request, or raw bytes) and publishes event envelopes.
"""
from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, time as dtime, timezone
from pathlib import Path
from typing import Any, Callable
from zoneinfo import ZoneInfo

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from ulid import ULID

from foundation.config import VestibuleConfig
from mqtt.client import MqttClient, RequestTimeout
from booking_core.service import DevCore
from mqtt.models import AnswerAdapter, CoreStatus, ErrorAnswer, EventEnvelope, OkAnswer
from mqtt.topics import SiteTopics


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    retain: bool


def envelope(event_type: str, data: dict[str, Any], *, site: str, node: str = "entrance-1", seq: int = 1,
             session: int = 1, historical: bool = False, event_id: str | None = None) -> EventEnvelope:
    return EventEnvelope(id=event_id or str(ULID()), type=event_type, ts=datetime.now(timezone.utc), site=site,
                         node=node, session=session, seq=seq, historical=historical, data=data)


def clock_at(tz: ZoneInfo, hour: int, minute: int = 0) -> Callable[[], datetime]:
    """A clock that reads hour:minute local time (today) when made, then runs at real speed.

    Tests use it so that what they check (slots left today, patients due now) does not depend on
    the hour the suite happens to run.
    """
    start = datetime.combine(datetime.now(tz).date(), dtime(hour, minute), tzinfo=tz)
    offset = start - datetime.now(tz)
    return lambda: datetime.now(tz) + offset


def start_core(config: VestibuleConfig, db_path: str | Path, *, timeout: float = 20.0, **kwargs) -> DevCore:
    """A started DevCore whose subscriptions are in place; raises TimeoutError otherwise."""
    kwargs.setdefault("demo", True)
    kwargs.setdefault("call_interval_s", None)
    core = DevCore(config, db_path, **kwargs).start()
    if not core.wait_ready(timeout):
        core.stop()
        raise TimeoutError(f"the stand-in core was not ready within {timeout} s")
    return core


class Peer:
    def __init__(self, host: str, port: int, site: str, client_id: str | None = None, *,
                 username: str | None = None, password: str | None = None, role: str = "controller"):
        # answers come back under the controller's reply subtree, as the broker ACL expects of the node
        self.topics = SiteTopics(site)
        self.client_id = client_id or f"peer-{uuid.uuid4().hex[:8]}"
        self.client = MqttClient(host, port, self.client_id, role=role, username=username, password=password,
                                 reply_topic=self.topics.reply(role, self.client_id))
        self._raw_reply = self.topics.reply(role, self.client_id + "-raw")
        self._raw_answers: dict[bytes, bytes] = {}
        self.received: list[Received] = []
        self._watched: set[str] = set()
        self._cond = threading.Condition()
        self.client.subscribe(self._raw_reply, self._on_raw_answer)

    def start(self, timeout: float = 15.0) -> "Peer":
        self.client.start()
        if not self.client.wait_connected(timeout):
            raise TimeoutError("peer could not connect to the broker")
        return self

    def stop(self) -> None:
        self.client.stop()

    # -- recording ---------------------------------------------------------------------------
    def watch(self, topic_filter: str) -> None:
        self._watched.add(topic_filter)
        self.client.subscribe(topic_filter, self._record)

    def _record(self, msg) -> None:
        with self._cond:
            self.received.append(Received(msg.topic, bytes(msg.payload), bool(msg.retain)))
            self._cond.notify_all()

    def wait_for(self, predicate: Callable[[Received], bool], timeout: float, *, after: int = 0) -> Received:
        """The first message (from index `after`) that satisfies `predicate`; TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for msg in self.received[after:]:
                    if predicate(msg):
                        return msg
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no matching message arrived")
                self._cond.wait(min(left, 0.5))

    def wait_core_online(self, timeout: float, *, after: int = 0) -> CoreStatus:
        """Waits for core/status online (watching it first if needed)."""
        if self.topics.core_status not in self._watched:
            self.watch(self.topics.core_status)
        msg = self.wait_for(lambda m: m.topic == self.topics.core_status and m.payload
                            and CoreStatus.model_validate_json(m.payload).online, timeout, after=after)
        return CoreStatus.model_validate_json(msg.payload)

    # -- requests ----------------------------------------------------------------------------
    def request(self, name: str, body: dict, timeout: float = 10.0) -> OkAnswer | ErrorAnswer:
        return self.client.request(self.topics.core_request(name), body, timeout=timeout)

    def raw_request(self, name: str, payload: bytes, timeout: float = 10.0) -> OkAnswer | ErrorAnswer:
        """Send any bytes as a request (MqttClient.request only sends JSON objects)."""
        correlation = uuid.uuid4().bytes
        props = Properties(PacketTypes.PUBLISH)
        props.ResponseTopic = self._raw_reply
        props.CorrelationData = correlation
        self.client.publish(self.topics.core_request(name), payload, qos=1, properties=props)
        deadline = time.monotonic() + timeout
        with self._cond:
            while correlation not in self._raw_answers:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RequestTimeout(f"no answer to a raw {name} request within {timeout} s")
                self._cond.wait(min(left, 0.5))
            return AnswerAdapter.validate_json(self._raw_answers.pop(correlation))

    def _on_raw_answer(self, msg) -> None:
        correlation = getattr(msg.properties, "CorrelationData", None) if msg.properties else None
        if correlation:
            with self._cond:
                self._raw_answers[correlation] = bytes(msg.payload)
                self._cond.notify_all()

    # -- events ------------------------------------------------------------------------------
    def publish_event(self, env: EventEnvelope, *, node: str | None = None, timeout: float = 10.0) -> None:
        """Publish at QoS 1 on the envelope's own topic (or `node`'s) and wait for the PUBACK."""
        topic = self.topics.node(node or env.node).event(env.type)
        self.publish_raw(topic, env.model_dump_json().encode(), timeout=timeout)

    def publish_raw(self, topic: str, payload: bytes, *, timeout: float = 10.0) -> None:
        info = self.client.publish(topic, payload, qos=1)
        info.wait_for_publish(timeout=timeout)
        if not info.is_published():
            raise TimeoutError(f"no PUBACK for {topic}")
