"""The core's calls (`core/cmd/call`): boards for the room, voice, the retained board state, and
a `call.displayed` event. A second call of the same ticket to the same room within
REPEAT_WINDOW_S is shown but not announced again, unless the core says `repeat`.

Calls arrive on the feature's own worker (never on the MQTT network thread), so a board that is
slow to answer delays the next call, never an answer to a kiosk or a PUBACK.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor, wait

from pydantic import ValidationError

from kiosk.features.calls.announcer import Announcer, node_speaks_for
from kiosk.node.feature import BaseFeature, FeatureContext
from mqtt.models import BoardCall, BoardState, CallCommand, CallDisplayed

log = logging.getLogger("vestibule.calls")

REPEAT_WINDOW_S = 10.0
BOARD_HISTORY = 8
BOARD_WAIT_S = 30.0  # a board's line that has not written the frame by then is not listed


class CallHandler:
    """Built from what a call touches: the boards (device manager), the announcer, the publisher
    and topics (board state), the outbox (call.displayed), the clock and the bus (call.made)."""

    def __init__(self, *, devices, announcer: Announcer, publisher, topics, outbox, clock, bus,
                 speaks_for=lambda room: True):
        self.devices = devices
        self.announcer = announcer
        self.speaks_for = speaks_for  # False: a board's machine announces that room (config voice)
        self.publisher = publisher
        self.topics = topics
        self.outbox = outbox
        self.clock = clock
        self.bus = bus
        self.recent: deque[BoardCall] = deque(maxlen=BOARD_HISTORY)
        self._last_announced: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()
        # waits for the boards' frames, off the calls worker: one slow board never holds the next call
        self._confirm_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="call-confirm")

    def on_call_message(self, msg) -> None:
        # paho stamps each message with time.monotonic() as it arrives: latency counts the queue wait
        received = getattr(msg, "timestamp", None) or time.monotonic()
        try:
            call = CallCommand.model_validate_json(msg.payload)
        except ValidationError as exc:
            log.warning("ignoring malformed call: %s", "; ".join(e["msg"] for e in exc.errors()[:3]))
            return
        self.handle(call, received)

    def handle(self, call: CallCommand, received: float | None = None) -> Future:
        """Show, announce and publish a call; the returned future gives its call.displayed event."""
        received = received if received is not None else time.monotonic()
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
            if not duplicate or call.repeat:
                if duplicate:  # the core's `repeat`: the call moves up under its new id (boards speak it again)
                    kept = [c for c in self.recent if (c.ticket, c.room) != key]
                    self.recent.clear()
                    self.recent.extend(kept)
                self.recent.appendleft(BoardCall(call_id=call.call_id, ticket=call.ticket, room=call.room,
                                                 ts=self.clock.now()))
            state = BoardState(ts=self.clock.now(), calls=list(self.recent))
        # What patients see and hear first. The screens' retained state is published before
        # anything else wakes a thread of ours (a woken thread holds the interpreter for up to
        # its switch interval); then the frame to each board's serial line and the announcement,
        # each handed to its own thread. The bookkeeping (`call.made`: store, queue state) last.
        self.publisher.publish(self.topics.board_state, state, retain=True)
        queued = self.devices.queue_call(call.room, call.ticket)
        speak = announce and self.speaks_for(call.room)
        announced = self.announcer.announce(call.call_id, call.ticket, call.room) if speak else False
        self.bus.send("call.made", call)  # the ticket no longer waits (the kiosk's `ahead` counts)
        return self._confirm_pool.submit(self._report, call, queued, announced, announce, received)

    def _report(self, call: CallCommand, queued, announced: bool, announce: bool, received: float) -> CallDisplayed:
        """call.displayed once every board took the frame or BOARD_WAIT_S passed: `boards` lists
        the boards that took it, `latency_ms` runs to the last of them."""
        futures = [future for _, future in queued]
        done, _ = wait(futures, timeout=BOARD_WAIT_S) if futures else (set(), set())
        boards = [device for device, future in queued
                  if future in done and future.exception() is None and future.result() is not False]
        event = CallDisplayed(call_id=call.call_id, ticket=call.ticket, room=call.room, boards=boards,
                              announced=announced,
                              latency_ms=round((time.monotonic() - received) * 1000, 1))
        self.outbox.emit("call.displayed", event)
        log.info("call %s: %s to room %s on %s%s", call.call_id, call.ticket, call.room, boards or "no boards",
                 "" if announce else " (repeat, not announced again)")
        return event

    def stop(self) -> None:
        self._confirm_pool.shutdown(wait=True, cancel_futures=False)


class CallsFeature(BaseFeature):
    name = "calls"

    def __init__(self, handler: CallHandler, topics, *, speaks: bool = True):
        self.handler = handler
        self.topics = topics
        self.speaks = speaks  # the node's speaker announces some room

    def start(self) -> None:
        if self.speaks:
            self.handler.announcer.start()

    def subscriptions(self) -> dict:
        return {self.topics.core_cmd_call: self.handler.on_call_message}

    def stop(self) -> None:
        self.handler.stop()
        self.handler.announcer.stop()

    def get_status(self) -> dict:
        return {"recent_calls": len(self.handler.recent)}


def build(section, ctx: FeatureContext) -> CallsFeature:
    announcer = Announcer.for_node(ctx.config, ctx.state_dir)
    config = ctx.config
    handler = CallHandler(devices=ctx.devices, announcer=announcer, publisher=ctx.publisher, topics=ctx.topics,
                          outbox=ctx.outbox, clock=ctx.clock, bus=ctx.bus,
                          speaks_for=lambda room: node_speaks_for(config, room))
    return CallsFeature(handler, ctx.topics, speaks=config.voice.enabled and config.voice.node_speaker)
