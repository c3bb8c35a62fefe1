"""The core's calls (`core/cmd/call`): boards for the room, voice, the retained board state, and
a `call.displayed` event. A second call of the same ticket to the same room within
REPEAT_WINDOW_S is shown but not announced again, unless the core says `repeat`."""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor

from pydantic import ValidationError

from kiosk.features.calls.announcer import Announcer, node_speaks_for
from mqtt.models import BoardCall, BoardState, CallCommand, CallDisplayed

log = logging.getLogger("vestibule.calls")

REPEAT_WINDOW_S = 10.0
BOARD_HISTORY = 8


class CallHandler:
    def __init__(self, controller):
        self.controller = controller
        self.recent: deque[BoardCall] = deque(maxlen=BOARD_HISTORY)
        self._last_announced: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="calls")
        cfg = controller.config
        self.announcer = Announcer.for_node(cfg)

    def on_call_message(self, msg) -> None:
        # off the MQTT network thread: what handle() publishes goes out at once, not after the
        # LED line (9600 baud, a status read per board) has finished; one worker keeps the order
        self._worker.submit(self._take, msg, time.monotonic())

    def _take(self, msg, received: float) -> None:
        try:
            call = CallCommand.model_validate_json(msg.payload)
        except ValidationError as exc:
            log.warning("ignoring malformed call: %s", "; ".join(e["msg"] for e in exc.errors()[:3]))
            return
        try:
            self.handle(call, received)
        except Exception:  # a worker's exception would vanish with its future: say it
            log.exception("call %s failed", call.call_id)

    def handle(self, call: CallCommand, received: float | None = None) -> CallDisplayed:
        received = received if received is not None else time.monotonic()
        ctl = self.controller
        with self._lock:
            key = (call.ticket, call.room)
            last = self._last_announced.get(key)
            duplicate = last is not None and received - last < REPEAT_WINDOW_S
            announce = call.repeat or not duplicate
            if announce:
                # only calls inside the repeat window matter: forget older ones as we go
                self._last_announced = {k: t for k, t in self._last_announced.items()
                                        if received - t < REPEAT_WINDOW_S}
                self._last_announced[key] = received
            if not duplicate:
                self.recent.appendleft(BoardCall(call_id=call.call_id, ticket=call.ticket, room=call.room, ts=ctl.now()))
            state = BoardState(ts=ctl.now(), calls=list(self.recent))
        ctl.call_seen(call)  # the ticket no longer waits (the kiosk's `ahead` counts)
        ctl.bus.send("call.made", call)
        # screens and voice first: the LED line (9600 baud, a status read per board) is the slow part
        ctl.client.publish(ctl.topics.board_state, state, retain=True)
        speak = announce and node_speaks_for(ctl.config, call.room)
        announced = self.announcer.announce(call.call_id, call.ticket, call.room) if speak else False
        boards = ctl.devices.show_call(call.room, call.ticket)
        event = CallDisplayed(call_id=call.call_id, ticket=call.ticket, room=call.room, boards=boards,
                              announced=announced, latency_ms=round((time.monotonic() - received) * 1000, 1))
        ctl.outbox.emit("call.displayed", event)
        log.info("call %s: %s to room %s on %s%s", call.call_id, call.ticket, call.room, boards or "no boards",
                 "" if announce else " (repeat, not announced again)")
        return event
