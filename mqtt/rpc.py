"""Serving requests: `cmd/{name}` on the node, `req/{name}` on the stand-in core.

Every request gets an answer: a malformed payload, an unknown name, a handler that raises, all
produce an error answer with a code. Handlers run on a worker pool, never on paho's network
thread, because a handler may itself wait for an answer (the kiosk asks the core).
"""
from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable

import paho.mqtt.client as paho
from pydantic import BaseModel, TypeAdapter, ValidationError

from foundation.store import is_storage_full
from mqtt.client import MqttClient, response_topic_of
from mqtt.models import ErrorAnswer, OkAnswer
from mqtt.reply_policy import ReplyPolicy

log = logging.getLogger("vestibule.rpc")


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


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err["loc"]) or "(payload)"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


class Dispatcher:
    def __init__(self, client: MqttClient, topic_filter: str, *, answers_to: ReplyPolicy, workers: int = 4,
                 name: str = "rpc", qos: int = 1):
        self.client = client
        self.answers_to = answers_to
        self.qos = qos
        self.topic_filter = topic_filter
        self.routes: dict[str, Route] = {}
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        self.served = 0
        self.errors = 0

    def route(self, name: str, model: Any, handler: Callable[[Any], BaseModel | dict]) -> None:
        self.routes[name] = Route(model, handler)

    def start(self) -> None:
        self.client.subscribe(self.topic_filter, self._receive, qos=self.qos)

    def stop(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)

    def _receive(self, msg: paho.MQTTMessage) -> None:
        try:
            self.pool.submit(self._serve, msg)
        except RuntimeError:  # pool shut down: we are stopping
            pass

    def _serve(self, msg: paho.MQTTMessage) -> None:
        response_topic = response_topic_of(msg)
        if response_topic and not self.answers_to.allows(response_topic):
            # refused before the handler runs: nothing is issued for an answer nobody may read
            self.answers_to.refused(msg.topic, response_topic)
            return
        answer = self.handle(msg.topic.rsplit("/", 1)[-1], msg.payload)
        self.client.answer(msg, answer, self.answers_to)

    def handle(self, name: str, payload: bytes) -> OkAnswer | ErrorAnswer:
        """Decode, validate, run; always returns an answer."""
        self.served += 1
        transaction = None
        try:
            body = json.loads(payload.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return self._error(None, "invalid", f"payload is not UTF-8 JSON: {exc}", name)
        if not isinstance(body, dict):
            return self._error(None, "invalid", "payload must be a JSON object", name)
        if isinstance(body.get("transaction"), str):
            transaction = body["transaction"][:128]
        route = self.routes.get(name)
        if route is None:
            return self._error(transaction, "unknown_request", f"no request named {name!r}; "
                               f"known: {', '.join(sorted(self.routes))}", name)
        try:
            if isinstance(route.model, TypeAdapter):
                request = route.model.validate_python(body)
            else:
                request = route.model.model_validate(body)
        except ValidationError as exc:
            return self._error(transaction, "invalid", _validation_message(exc), name)
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
        # the reason is logged without the payload: requests may carry a phone number
        log.info("request %s answered with error %s: %s", name, code, message[:200])
        return ErrorAnswer(error={"code": code, "message": message[:500]}, transaction=transaction)
