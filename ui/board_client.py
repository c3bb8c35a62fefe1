"""The TV board's MQTT side: the retained board and queue state and whether the node is there.

Everything arrives on paho's thread and reaches the UI through `post` (Clock.schedule_once).
After every (re)connection the broker sends the retained states again, which is how the board
rebuilds; `on_link(True)` tells the app that what follows is a rebuild, not new calls.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

from pydantic import ValidationError

from foundation.config import VestibuleConfig
from mqtt.models import BoardState, NodeStatus, QueueState
from mqtt.topics import NodeTopics
from ui.screen_identity import screen_client, screen_password

log = logging.getLogger("vestibule.ui.board")

Post = Callable[[Callable[[], None]], None]


class BoardClient:
    def __init__(self, config: VestibuleConfig, board_id: str, post: Post, *, password: str | None = None):
        self.topics = NodeTopics(config.site.id, config.node.id)
        self.post = post
        self.on_board: Callable[[BoardState], None] = lambda state: None
        self.on_queue: Callable[[QueueState], None] = lambda state: None
        self.on_node: Callable[[bool], None] = lambda online: None
        self.on_link: Callable[[bool], None] = lambda up: None
        if password is None and config.broker.username:
            password = screen_password(config, None, board_id)
        self.mqtt = screen_client(config, board_id, "board", password=password, replies=False)
        self.mqtt.on_connect(lambda: self.post(lambda: self.on_link(True)))
        self.mqtt.on_disconnect(lambda: self.post(lambda: self.on_link(False)))
        self.mqtt.subscribe(self.topics.board_state, self._parsed(BoardState, lambda s: self.on_board(s)))
        self.mqtt.subscribe(self.topics.queue_state, self._parsed(QueueState, lambda s: self.on_queue(s)))
        self.mqtt.subscribe(self.topics.status, self._parsed(NodeStatus, lambda s: self.on_node(s.online)))

    def _parsed(self, model, deliver):
        def handle(msg) -> None:
            if not msg.payload:
                return
            try:
                state = model.model_validate_json(msg.payload)
            except ValidationError as exc:
                log.warning("ignoring a malformed %s: %s", model.__name__, exc.errors()[0]["msg"])
                return
            self.post(lambda: deliver(state))
        return handle

    @property
    def connected(self) -> bool:
        return self.mqtt.connected.is_set()

    def start(self) -> None:
        self.mqtt.start()

    def stop(self) -> None:
        self.mqtt.stop()
