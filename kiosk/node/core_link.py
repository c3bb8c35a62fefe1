"""The kiosk's requests to the booking core (`core/req/*`), typed, with one notion of "away".

The core is away when its retained status says offline, when the broker is not connected, when
it does not answer within config.core.request_timeout_s, or when its answer is unreadable. All of
these raise CoreAway, and the flow falls back to the cached schedule (or says core_offline).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from typing import Callable

from pydantic import ValidationError

from mqtt.client import RequestTimeout
from mqtt.models import Appointment, CheckinAnswer, ErrorAnswer, Slot, SlotsAnswer

log = logging.getLogger("vestibule.kiosk.core")

LOOKUP_REFUSALS = frozenset({"other_site", "cancelled", "too_early", "too_late", "invalid"})


class CoreAway(Exception):
    """No usable answer from the core."""


class CoreRefused(Exception):
    """The core answered with an error (e.g. slot_taken)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class CheckinReply:
    accepted: bool
    reason: str | None = None


class CoreLink:
    """Built from the node's MQTT client, its topics, the `[core]` section, and a function that says
    whether the core's retained status is online on the current connection (the relay knows)."""

    def __init__(self, client, topics, section, core_online: Callable[[], bool]):
        self.client = client
        self.topics = topics
        self.timeout_s = section.request_timeout_s
        self._core_online = core_online

    @property
    def online(self) -> bool:
        return bool(self._core_online()) and self.client.connected.is_set()

    def _ask(self, name: str, body: dict) -> dict:
        if not self.online:
            raise CoreAway("core offline")
        try:
            answer = self.client.request(self.topics.core_request(name), body, self.timeout_s)
        except RequestTimeout as exc:
            log.warning("core did not answer %s: %s", name, exc)
            raise CoreAway(str(exc)) from None
        if isinstance(answer, ErrorAnswer):
            if answer.error.code == "bad_answer":
                raise CoreAway("unreadable answer")
            raise CoreRefused(answer.error.code, answer.error.message)
        return answer.data

    def lookup(self, body: dict) -> Appointment | None:
        """The appointment, or None when the core says not_found.

        A refusal whose code the kiosk knows (other_site, cancelled, ...) is raised as CoreRefused;
        any other error (the core's own trouble) counts as the core being away."""
        try:
            data = self._ask("booking.lookup", body)
        except CoreRefused as exc:
            if exc.code == "not_found":
                return None
            if exc.code in LOOKUP_REFUSALS:
                raise
            raise CoreAway(f"lookup failed: {exc.code}") from None
        try:
            return Appointment.model_validate(data)
        except ValidationError:
            log.warning("core answered booking.lookup with an unreadable appointment")
            raise CoreAway("unreadable appointment") from None

    def checkin(self, booking: str, ticket: str) -> CheckinReply:
        try:
            data = self._ask("checkin", {"booking": booking, "ticket": ticket})
        except CoreRefused as exc:
            if exc.code in LOOKUP_REFUSALS or exc.code == "not_found":
                return CheckinReply(False, exc.code)
            raise CoreAway(f"checkin failed: {exc.code}") from None  # the core's trouble, not a no
        try:
            accepted = CheckinAnswer.model_validate({"accepted": data.get("accepted")}).accepted
        except ValidationError:
            raise CoreAway("unreadable checkin answer") from None
        reason = data.get("reason") if isinstance(data.get("reason"), str) else None
        return CheckinReply(accepted, None if accepted else reason)

    def slots(self, specialty: str, day: date) -> list[Slot]:
        try:
            data = self._ask("slots.search", {"specialty": specialty, "date": day.isoformat()})
            return SlotsAnswer.model_validate(data).slots
        except CoreRefused as exc:
            if exc.code == "not_found":
                return []
            raise
        except ValidationError:
            raise CoreAway("unreadable slots answer") from None

    def create(self, slot: Slot, phone: str, birth_date: date) -> Appointment:
        data = self._ask("booking.create", {"slot": slot.model_dump(mode="json", exclude_none=True),
                                            "patient": {"phone": phone, "birth_date": birth_date.isoformat()}})
        try:
            return Appointment.model_validate(data)
        except ValidationError:
            raise CoreAway("unreadable booking") from None
