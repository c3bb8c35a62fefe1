"""The stand-in core's inbox of node events: validated against the contract, deduplicated on
the event id, counted when malformed; listeners (the demo's caller) hear of each new event."""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from pydantic import BaseModel, ValidationError

from booking_core.store import CoreStore
from mqtt.models import EVENT_MODELS, EventEnvelope

log = logging.getLogger("vestibule.devcore")


def _reasons(exc: ValidationError) -> str:
    # locations and messages only: the input may hold personal data
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(payload)'}: {e['msg']}" for e in exc.errors()[:3])


class EventInbox:
    def __init__(self, store: CoreStore, *, site: str, now: Callable):
        self.store = store
        self.site = site
        self.now = now
        self._listeners: list[Callable[[EventEnvelope, BaseModel | None], None]] = []
        self._arrived = threading.Condition()

    def listen(self, fn: Callable[[EventEnvelope, BaseModel | None], None]) -> None:
        self._listeners.append(fn)

    def on_message(self, msg) -> None:
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
        with self._arrived:
            self._arrived.notify_all()
        for fn in self._listeners:
            try:
                fn(envelope, data)
            except Exception:
                log.exception("inbox listener failed on %s", envelope.id)

    def _malformed(self, topic: str, reason: str) -> None:
        count = self.store.count_malformed()
        log.warning("malformed event on %s not stored (%d so far): %s", topic, count, reason)

    def wait_for(self, n: int, timeout: float) -> bool:
        """True once the inbox holds at least `n` events."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while self.store.inbox_count() < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._arrived.wait(min(left, 0.5))
        return True
