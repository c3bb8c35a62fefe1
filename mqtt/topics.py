"""Topic builders for contract v1. No other module formats a topic string.

Every level we put in a topic is an id from the configuration (validated as [a-z0-9-]) or a date:
never personal data.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

PREFIX = "clinic/v1"
_LEVEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def _level(value: str) -> str:
    if not isinstance(value, str) or not _LEVEL.fullmatch(value):
        raise ValueError(f"{value!r} is not a valid topic level")
    return value


@dataclass(frozen=True)
class SiteTopics:
    site: str

    @property
    def root(self) -> str:
        return f"{PREFIX}/{_level(self.site)}"

    # core → all
    @property
    def core_status(self) -> str:
        return f"{self.root}/core/status"

    def core_schedule(self, day: date | str) -> str:
        return f"{self.root}/core/schedule/{_level(str(day))}"

    @property
    def core_schedule_all(self) -> str:
        return f"{self.root}/core/schedule/+"

    @property
    def core_cmd_call(self) -> str:
        return f"{self.root}/core/cmd/call"

    def core_request(self, name: str) -> str:
        return f"{self.root}/core/req/{_level(name)}"

    @property
    def core_request_all(self) -> str:
        return f"{self.root}/core/req/+"

    # answers: our choice (contract is silent); one subtree per role so the ACL can pin it
    def reply(self, role: str, client_id: str) -> str:
        return f"{self.root}/reply/{_level(role)}/{_level(client_id)}"

    def reply_owner(self, topic: str) -> tuple[str, str] | None:
        """(role, client id) of a topic made by reply(), or None for anything else (wildcards included)."""
        head = f"{self.root}/reply/"
        if not isinstance(topic, str) or not topic.startswith(head):
            return None
        parts = topic[len(head):].split("/")
        if len(parts) != 2 or not all(_LEVEL.fullmatch(part) for part in parts):
            return None
        return parts[0], parts[1]

    def node(self, node: str) -> "NodeTopics":
        return NodeTopics(self.site, node)

    @property
    def all_node_events(self) -> str:
        return f"{self.root}/node/+/evt/+"


@dataclass(frozen=True)
class NodeTopics(SiteTopics):
    node_id: str = ""

    def __init__(self, site: str, node_id: str):
        object.__setattr__(self, "site", site)
        object.__setattr__(self, "node_id", node_id)

    @property
    def base(self) -> str:
        return f"{self.root}/node/{_level(self.node_id)}"

    @property
    def status(self) -> str:
        return f"{self.base}/status"

    def device_status(self, device: str) -> str:
        return f"{self.base}/dev/{_level(device)}/status"

    def device_reading(self, device: str) -> str:
        # our addition: live readings for the screening post UI (not retained, QoS 0)
        return f"{self.base}/dev/{_level(device)}/reading"

    @property
    def device_readings_all(self) -> str:
        return f"{self.base}/dev/+/reading"

    def event(self, event_type: str) -> str:
        return f"{self.base}/evt/{_level(event_type)}"

    @property
    def events_all(self) -> str:
        return f"{self.base}/evt/+"

    def command(self, name: str) -> str:
        return f"{self.base}/cmd/{_level(name)}"

    @property
    def commands_all(self) -> str:
        return f"{self.base}/cmd/+"

    @property
    def board_state(self) -> str:
        return f"{self.base}/board/state"

    @property
    def queue_state(self) -> str:
        # our addition: waiting counts and wait estimates per service and room (retained)
        return f"{self.base}/queue/state"
