"""Where a responder may publish its answers.

A request names its ResponseTopic, and whoever sends a request can name any topic: without a
check, the responder would publish on `node/{node}/evt/...`, `core/req/...` or another client's
reply topic for them. Answers go only to `clinic/v1/{site}/reply/{role}/{client-id}` with `role`
one of the roles this responder serves (the node: kiosk, screening, core; the booking core:
controller); anything else, wildcards included, is refused and logged, at most once per asker
per interval so a flood of bad requests cannot flood the log.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable

from mqtt.topics import SiteTopics

log = logging.getLogger("vestibule.mqtt")

NODE_ASKERS = ("kiosk", "screening", "core")  # who sends node/{node}/cmd/*
CORE_ASKERS = ("controller",)  # who sends core/req/*
LOG_INTERVAL_S = 600.0
MAX_TRACKED = 1024  # distinct askers remembered for rate limiting
MAX_NEW_LINES_PER_MINUTE = 20  # beyond it refusals are counted and summed up in the next line


class ReplyPolicy:
    def __init__(self, topics: SiteTopics, roles: Iterable[str], *, log_interval_s: float = LOG_INTERVAL_S):
        self.topics = topics
        self.roles = frozenset(roles)
        self.log_interval_s = log_interval_s
        self.refusals = 0
        self._last_logged: dict[str, float] = {}
        self._minute = (0.0, 0)  # (start, lines logged in it)
        self._unlogged = 0
        self._lock = threading.Lock()

    def allows(self, topic: str | None) -> bool:
        owner = self.topics.reply_owner(topic) if topic else None
        return owner is not None and owner[0] in self.roles

    def refused(self, request_topic: str, response_topic: str) -> None:
        """Count a refused answer; log it unless this asker was logged within the interval."""
        owner = self.topics.reply_owner(response_topic)
        # the asker as far as we can tell: a reply/{role}/{client} it claims, else the topic itself
        asker = "/".join(owner) if owner else repr(response_topic[:120])
        now = time.monotonic()
        with self._lock:
            if now - self._last_logged.get(asker, -self.log_interval_s) < self.log_interval_s:
                self._unlogged += 1
                self.refusals += 1
                return
            start, lines = self._minute
            if now - start >= 60:
                start, lines = now, 0
            if lines >= MAX_NEW_LINES_PER_MINUTE:
                self._unlogged += 1
                self.refusals += 1
                return
            self._minute = (start, lines + 1)
            if len(self._last_logged) >= MAX_TRACKED:
                self._last_logged.clear()
            self._last_logged[asker] = now
            unlogged, self._unlogged = self._unlogged, 0
        log.warning("refusing to answer a request on %s at ResponseTopic %s: answers go only to %s/reply/{%s}/"
                    "{client-id}%s", request_topic, asker, self.topics.root, ",".join(sorted(self.roles)),
                    f" ({unlogged} more refusals not logged)" if unlogged else "")
        with self._lock:
            self.refusals += 1  # counted once its line is out: a reader of the count finds the line
