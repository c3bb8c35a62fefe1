"""Who a screen (kiosk, screening post, TV board) is on the broker, in one place.

Each screen is its own broker user, named by its id, and the site broker makes the client id the
user name (use_username_as_clientid): the reply topic it may read is reply/{role}/{user}. Without
broker users (demo, tests) the process id keeps two screens of one id apart. A screen's password
is the file given, else `{screen_id}.password` beside the node's (`provision credentials` and
`vestibule broker config` write one per screen there)."""
from __future__ import annotations

import os
from pathlib import Path

from foundation.config import VestibuleConfig
from mqtt.client import MqttClient
from mqtt.topics import NodeTopics


def screen_password(config: VestibuleConfig, password_file: str | None, screen_id: str) -> str | None:
    if password_file:
        return Path(password_file).read_text(encoding="utf-8").strip()
    if config.broker.password_file:
        sibling = config.broker.password_file.parent / f"{screen_id}.password"
        if sibling.is_file():
            return sibling.read_text(encoding="utf-8").strip()
    return None


def screen_client(config: VestibuleConfig, screen_id: str, role: str, *, username: str | None = None,
                  password: str | None = None, replies: bool = True) -> MqttClient:
    """The screen's MQTT client; `replies`: it asks the node and reads its own reply topic."""
    if username is None and config.broker.username:
        username = screen_id
    client_id = username or f"{role}-{screen_id}-{os.getpid()}"
    topics = NodeTopics(config.site.id, config.node.id)
    return MqttClient(config.broker.host, config.broker.port, client_id, role=role,
                      reply_topic=topics.reply(role, client_id) if replies else None, username=username,
                      password=password, tls=config.broker.tls, keepalive=config.broker.keepalive_s)
