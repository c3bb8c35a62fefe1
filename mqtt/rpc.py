"""Serving requests: `cmd/{name}` on the node, `req/{name}` on the stand-in core.

Every request gets an answer: a malformed payload (not UTF-8, not JSON, an integer of any size,
nesting of any depth, a lone surrogate), an unknown name, a handler that raises, a payload over
the client's limit (`too_large`, answered unread), all produce an error answer with a code.
Payloads are validated strictly (`"7"` is not a number, `"yes"` not a boolean). Handlers run
on a worker pool, never on paho's network thread, because a handler may itself wait for an
answer (the kiosk asks the core). A route may be idempotent (mqtt/replies.py).
"""
from __future__ import annotations

import json
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho
from pydantic import BaseModel, TypeAdapter, ValidationError

from foundation.store import is_storage_full
from mqtt.client import MqttClient, response_topic_of
from mqtt.models import ErrorAnswer, OkAnswer
from mqtt.replies import ReplyBook
from mqtt.reply_policy import ReplyPolicy

log = logging.getLogger("vestibule.rpc")

Check = Callable[[str, Any], None]  # (request name, validated request); raises RequestError to refuse


class RequestError(Exception):
    """Raised by a handler to answer with an error code (e.g. not_found)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Route:
    model: Any  # a pydantic model class or a TypeAdapter
    handler: Callable[[Any], BaseModel | dict]
    idempotent: bool = False


def _validation_message(exc: ValidationError) -> str:
    # locations and messages only, never the input: a request may carry a phone number
    parts = []
    for err in exc.errors(include_input=False, include_url=False)[:5]:
        loc = ".".join(str(p)[:40] for p in err["loc"]) or "(payload)"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


def _text(value: str, limit: int) -> str:
    """Safe to encode as UTF-8 (a lone surrogate becomes '?') and bounded."""
    return value[:limit].encode("utf-8", "replace").decode("utf-8")


def transaction_of(payload: bytes) -> str | None:
    """The request's `transaction` if it can be read at all, to copy into an error answer."""
    try:
        body = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    value = body.get("transaction") if isinstance(body, dict) else None
    if not isinstance(value, str) or len(value) > 128:
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return value


class Dispatcher:
    def __init__(self, client: MqttClient, topic_filter: str, *, answers_to: ReplyPolicy, workers: int = 4,
                 name: str = "rpc", qos: int = 1, replies: ReplyBook | None = None,
                 idempotent: frozenset[str] = frozenset()):
        """`answers_to`: the reply topics it may answer on (the askers' own); `idempotent`: names
        of requests whose retries answer the first result (see route())."""
        self.client = client
        self.answers_to = answers_to
        self.idempotent = frozenset(idempotent)
        if self.idempotent and replies is None:
            raise ValueError("idempotent requests need a ReplyBook")
        self.qos = qos
        self.topic_filter = topic_filter
        self.routes: dict[str, Route] = {}
        self.checks: list[Check] = []
        self.replies = replies
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        self.served = 0
        self.errors = 0

    def route(self, name: str, model: Any, handler: Callable[[Any], BaseModel | dict], *,
              idempotent: bool = False) -> None:
        """`idempotent`: a retry (same asker, same `transaction`) answers the first result and
        runs nothing again (needs `replies`)."""
        if idempotent and self.replies is None:
            raise ValueError(f"route {name} is idempotent but the dispatcher keeps no replies")
        self.routes[name] = Route(model, handler, idempotent or name in self.idempotent)

    def check(self, fn: Check) -> None:
        """Run `fn` on every validated request before its handler (e.g. the kiosk is configured)."""
        self.checks.append(fn)

    def start(self) -> None:
        self.client.subscribe(self.topic_filter, self._receive, qos=self.qos, oversize=self._receive_too_large)

    def stop(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)

    def _receive(self, msg: paho.MQTTMessage) -> None:
        try:
            self.pool.submit(self._serve, msg)
        except RuntimeError:  # pool shut down: we are stopping
            pass

    def _receive_too_large(self, msg: paho.MQTTMessage) -> None:
        try:
            self.pool.submit(self._send, msg, self._error(None, "too_large", f"the payload has {len(msg.payload)} "
                                                          f"bytes; the limit is {self.client.max_payload}",
                                                          msg.topic.rsplit("/", 1)[-1]))
        except RuntimeError:
            pass

    @staticmethod
    def _asker(msg: paho.MQTTMessage) -> str | None:
        props = getattr(msg, "properties", None)
        return getattr(props, "ResponseTopic", None) if props else None

    def _serve(self, msg: paho.MQTTMessage) -> None:
        response_topic = response_topic_of(msg)
        if response_topic and not self.answers_to.allows(response_topic):
            # refused before the handler runs: nothing is issued for an answer nobody may read
            self.answers_to.refused(msg.topic, response_topic)
            return
        name = msg.topic.rsplit("/", 1)[-1]
        try:
            answer = self.handle(name, msg.payload, asker=self._asker(msg))
        except Exception:  # handle() answers everything it knows of; this is our own bug
            log.exception("request %s could not be handled", name)
            answer = self._error(None, "internal", "the node could not complete this request; see its log", name)
        self._send(msg, answer)

    def _send(self, msg: paho.MQTTMessage, answer: OkAnswer | ErrorAnswer) -> None:
        try:
            self.client.answer(msg, answer, self.answers_to)
        except Exception:
            log.exception("the answer to %s could not be sent; answering internal", msg.topic)
            try:
                self.client.answer(msg, ErrorAnswer(error={"code": "internal", "message": "the answer could not "
                                                           "be encoded; see the node's log"}), self.answers_to)
            except Exception:
                log.exception("no answer could be sent to a request on %s", msg.topic)

    def handle(self, name: str, payload: bytes, asker: str | None = None) -> OkAnswer | ErrorAnswer:
        """Decode, validate, check, run; always returns an answer. `asker`: the reply topic."""
        self.served += 1
        transaction = transaction_of(payload)
        route = self.routes.get(name)
        if route is None:
            return self._error(transaction, "unknown_request", f"no request named {name!r}; "
                               f"known: {', '.join(sorted(self.routes))}", name)
        try:
            if isinstance(route.model, TypeAdapter):
                request = route.model.validate_json(payload, strict=True)
            else:
                request = route.model.model_validate_json(payload, strict=True)
        except ValidationError as exc:
            return self._error(transaction, "invalid", _validation_message(exc), name)
        try:
            for check in self.checks:
                check(name, request)
        except RequestError as exc:
            return self._error(transaction, exc.code, exc.message, name)
        txn = getattr(request, "transaction", None)
        if not (route.idempotent and asker and txn):
            return self._run(route, request, transaction, name)
        key = (asker, name, txn)
        with self.replies.serving(key):
            first = self.replies.first(key)
            if first is not None:
                log.info("request %s retried: answering its first result (%s)", name, first.status)
                return first
            with self.replies.recording(key):
                answer = self._run(route, request, transaction, name)
            self.replies.keep(key, answer)
            return answer

    def _run(self, route: Route, request: Any, transaction: str | None, name: str) -> OkAnswer | ErrorAnswer:
        try:
            result = route.handler(request)
        except RequestError as exc:
            return self._error(transaction, exc.code, exc.message, name)
        except Exception as exc:
            if is_storage_full(exc):  # nothing was kept; the node reports it as a device problem
                return self._error(transaction, "storage_full",
                                   "the node's disk is full: nothing was recorded; try again later", name)
            log.exception("handler %s failed", name)
            return self._error(transaction, "internal", "the node could not complete this request; see its log", name)
        data = result.model_dump(mode="json") if isinstance(result, BaseModel) else result
        return OkAnswer(data=data, transaction=transaction)

    def _error(self, transaction, code: str, message: str, name: str) -> ErrorAnswer:
        self.errors += 1
        message = _text(message, 500)
        # the reason is logged without the payload: requests may carry a phone number
        log.info("request %s answered with error %s: %s", _text(name, 64), code, message[:200])
        return ErrorAnswer(error={"code": code, "message": message}, transaction=transaction)
