"""A thin MQTT 5 client on paho-mqtt 2.x shared by the controller, the stand-in core and the UIs.

What it adds to paho: reconnect with backoff and subscriptions restored, a will that can change
between connections (the node's will carries its session number), and request/response with
ResponseTopic + CorrelationData + `transaction` and a timeout.
"""
from __future__ import annotations

import json
import logging
import socket
import ssl
import threading
import uuid
from concurrent.futures import Future
from typing import Callable

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from pydantic import BaseModel

from mqtt.models import AnswerAdapter, ErrorAnswer, OkAnswer
from mqtt.reply_policy import ReplyPolicy

log = logging.getLogger("vestibule.mqtt")

MessageHandler = Callable[[paho.MQTTMessage], None]
# Payloads above the limit are never parsed: a command gets `too_large`, anything else a log line.
# A whole day's schedule of a large site is ~46 MB of JSON (100,000 appointments), hence 64 MiB.
DEFAULT_MAX_PAYLOAD = 64 * 1024 * 1024
# The broker's own limit sits a little above the clients': a request just over a client's limit
# still reaches it and is answered `too_large`; beyond the broker's the publisher gets a PUBACK error.
BROKER_HEADROOM = 1024 * 1024


def broker_message_limit(max_payload: int = DEFAULT_MAX_PAYLOAD) -> int:
    """Mosquitto's `message_size_limit` for clients whose limit is `max_payload`."""
    return max_payload + BROKER_HEADROOM


def set_nodelay(client: paho.Client) -> None:
    """Small request/answer packets must not wait for Nagle (paho does not set it)."""
    sock = client.socket()
    if sock is not None and hasattr(sock, "setsockopt"):
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass


class RequestTimeout(Exception):
    """No answer within the bound (the responder is away or slow)."""


def to_payload(body: BaseModel | dict | str | bytes | None) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, BaseModel):
        return body.model_dump_json().encode("utf-8")
    return json.dumps(body, ensure_ascii=False, default=str).encode("utf-8")


def response_topic_of(request: paho.MQTTMessage) -> str | None:
    props = getattr(request, "properties", None)
    return getattr(props, "ResponseTopic", None) if props else None


class MqttClient:
    def __init__(self, host: str, port: int, client_id: str, *, role: str, reply_topic: str | None = None,
                 username: str | None = None, password: str | None = None, tls: bool = False,
                 keepalive: int = 15, max_inflight: int = 1000, session_expiry_s: int = 0,
                 max_payload: int = DEFAULT_MAX_PAYLOAD):
        self.client_id = client_id
        self.max_payload = max_payload
        # 0: a clean session per connection (the node: its durable state is the outbox).
        # >0: the broker keeps subscriptions and queues QoS 1 messages that long while we are away.
        self.session_expiry_s = session_expiry_s
        self.role = role
        self.host, self.port, self.keepalive = host, port, keepalive
        self.reply_topic = reply_topic
        self.connected = threading.Event()
        self._subs: dict[str, int] = {}
        self._handlers: dict[str, list[MessageHandler]] = {}
        self._pending: dict[bytes, Future] = {}
        self._pending_lock = threading.Lock()
        self._on_connect: list[Callable[[], None]] = []
        self._on_disconnect: list[Callable[[], None]] = []
        self._will: tuple[str, bytes] | None = None
        self._stopping = False
        self._subscribe_mid: int | None = None

        c = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5)
        if username:
            c.username_pw_set(username, password)
        if tls:
            c.tls_set(cert_reqs=ssl.CERT_REQUIRED)
        c.reconnect_delay_set(min_delay=1, max_delay=16)
        c.max_inflight_messages_set(max_inflight)
        c.on_connect = self._handle_connect
        c.on_disconnect = self._handle_disconnect
        c.on_subscribe = self._handle_subscribe
        c.on_message = self._handle_unrouted
        self.paho = c
        if reply_topic:
            c.message_callback_add(reply_topic, self._handle_reply)

    # -- lifecycle --------------------------------------------------------------------------
    def set_will(self, topic: str, body: BaseModel | dict, retain: bool = True) -> None:
        """Takes effect at the next (re)connection: paho sends its will in every CONNECT."""
        self._will = (topic, to_payload(body))
        self.paho.will_set(topic, self._will[1], qos=1, retain=retain)

    def on_connect(self, fn: Callable[[], None]) -> None:
        self._on_connect.append(fn)

    def on_disconnect(self, fn: Callable[[], None]) -> None:
        self._on_disconnect.append(fn)

    def start(self) -> None:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.session_expiry_s
        self.paho.connect_async(self.host, self.port, keepalive=self.keepalive,
                                clean_start=self.session_expiry_s == 0, properties=props)
        self.paho.loop_start()

    def wait_connected(self, timeout: float) -> bool:
        return self.connected.wait(timeout)

    def stop(self, final: tuple[str, BaseModel | dict] | None = None) -> None:
        """Disconnect cleanly; `final` is published first (e.g. status online=false)."""
        self._stopping = True
        if final and self.connected.is_set():
            info = self.paho.publish(final[0], to_payload(final[1]), qos=1, retain=True)
            try:
                info.wait_for_publish(timeout=2)
            except (RuntimeError, ValueError):
                pass
        self.paho.disconnect()
        self.paho.loop_stop()

    # -- pub/sub ----------------------------------------------------------------------------
    def subscribe(self, topic_filter: str, handler: MessageHandler, qos: int = 1, *,
                  oversize: MessageHandler | None = None) -> None:
        """Run `handler` for each message on the filter (several handlers may share one filter,
        each called in turn). A payload above max_payload goes to `oversize` instead, or is
        dropped with a log line."""
        self._subs[topic_filter] = qos
        handlers = self._handlers.setdefault(topic_filter, [])
        handlers.append(self._guard(handler, oversize))
        if len(handlers) == 1:
            self.paho.message_callback_add(topic_filter, lambda c, u, msg: [h(msg) for h in list(handlers)])
        if self.connected.is_set():
            self.paho.subscribe(topic_filter, qos)

    def publish(self, topic: str, body: BaseModel | dict | str | bytes | None, *, qos: int = 1,
                retain: bool = False, properties: Properties | None = None) -> paho.MQTTMessageInfo:
        return self.paho.publish(topic, to_payload(body), qos=qos, retain=retain, properties=properties)

    # -- request / response -----------------------------------------------------------------
    def request(self, topic: str, body: BaseModel | dict, timeout: float) -> OkAnswer | ErrorAnswer:
        """Send a request and wait for its answer; raises RequestTimeout."""
        if not self.reply_topic:
            raise RuntimeError("this client was built without a reply topic")
        if not self.connected.is_set():
            raise RequestTimeout("not connected to the broker")
        payload = body.model_dump(mode="json") if isinstance(body, BaseModel) else dict(body)
        correlation = uuid.uuid4().bytes
        payload.setdefault("transaction", correlation.hex())
        future: Future = Future()
        with self._pending_lock:
            self._pending[correlation] = future
        props = Properties(PacketTypes.PUBLISH)
        props.ResponseTopic = self.reply_topic
        props.CorrelationData = correlation
        try:
            self.paho.publish(topic, to_payload(payload), qos=1, properties=props)
            return future.result(timeout=timeout)
        except TimeoutError:
            raise RequestTimeout(f"no answer on {topic} within {timeout:.1f} s") from None
        finally:
            with self._pending_lock:
                self._pending.pop(correlation, None)

    def answer(self, request: paho.MQTTMessage, answer: OkAnswer | ErrorAnswer, policy: ReplyPolicy) -> bool:
        """Publish an answer to the request's ResponseTopic if `policy` allows it; False otherwise."""
        response_topic = response_topic_of(request)
        if not response_topic:
            log.warning("request on %s has no ResponseTopic; answer %s not sent", request.topic, answer.status)
            return False
        if not policy.allows(response_topic):
            policy.refused(request.topic, response_topic)
            return False
        props = Properties(PacketTypes.PUBLISH)
        correlation = getattr(request.properties, "CorrelationData", None)
        if correlation is not None:
            props.CorrelationData = correlation
        self.paho.publish(response_topic, to_payload(answer), qos=1, properties=props)
        return True

    # -- paho callbacks (network thread) ----------------------------------------------------
    def _handle_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.warning("broker refused connection: %s", reason_code)
            return
        log.info("connected to %s:%s as %s", self.host, self.port, self.client_id)
        set_nodelay(client)
        subs = [(t, q) for t, q in self._subs.items()]
        if self.reply_topic:
            subs.append((self.reply_topic, 1))
        if subs:
            # "connected" means ready: subscriptions acknowledged, so no answer can be missed.
            _, self._subscribe_mid = client.subscribe(subs)
        else:
            self._ready()

    def _handle_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        if mid == self._subscribe_mid:
            refused = [str(rc) for rc in reason_codes if rc.is_failure]
            if refused:
                log.error("broker refused subscriptions: %s (check this role's ACL)", ", ".join(refused))
            self._ready()

    def _ready(self) -> None:
        self.connected.set()
        for fn in self._on_connect:
            self._call(fn)

    def _handle_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        was = self.connected.is_set()
        self.connected.clear()
        if was and self._stopping:
            log.info("disconnected from broker")
        elif was:
            log.warning("disconnected from broker (%s); reconnecting", reason_code)
        for fn in self._on_disconnect:
            self._call(fn)

    def _handle_reply(self, client, userdata, msg: paho.MQTTMessage) -> None:
        correlation = getattr(msg.properties, "CorrelationData", None) if msg.properties else None
        with self._pending_lock:
            future = self._pending.get(correlation) if correlation else None
        if future is None:
            return  # a late answer to a request that already timed out
        try:
            future.set_result(AnswerAdapter.validate_json(msg.payload))
        except Exception as exc:  # a malformed answer is the responder's bug; tell the caller
            future.set_result(ErrorAnswer(error={"code": "bad_answer", "message": str(exc)[:200]}))

    def _handle_unrouted(self, client, userdata, msg) -> None:
        log.debug("message on %s with no handler", msg.topic)

    @staticmethod
    def _call(fn) -> None:
        try:
            fn()
        except Exception:
            log.exception("callback %s failed", getattr(fn, "__name__", fn))

    def _guard(self, handler: MessageHandler, oversize: MessageHandler | None):
        def run(msg):
            try:
                if len(msg.payload) > self.max_payload:
                    if oversize is None:
                        log.warning("dropping %d-byte message on %s (limit %d)", len(msg.payload), msg.topic,
                                    self.max_payload)
                        return
                    handler_now = oversize
                else:
                    handler_now = handler
                handler_now(msg)
            except Exception:  # one bad message must never stop the network thread
                log.exception("handler for %s failed", msg.topic)
        return run
