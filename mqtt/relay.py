"""The one thread that moves outbox rows to the broker.

It publishes only while the broker is connected AND the core's retained status, received on the
current connection, says online (Sparkplug's rule: edge nodes are gated on the primary host). A
new connection starts offline: a broker restarted without its persistence has no retained status,
and the core behind it may be gone too. Rows go out in seq order at QoS 1, up to `window` in
flight; a row is marked delivered once its PUBACK arrives (written in batches: a mark lost to a
crash only means the row is sent again) and kept for the redelivery window.

A PUBACK means the broker has the event, not the core. So every time the core's status goes
(back) to online, whether on a new connection or on the same one, the rows delivered inside the
window are sent again first, flagged historical, then the undelivered ones; the core
deduplicates on the id. An event created before the current live period began (it waited for
the broker or the core) is sent with `historical: true`.
"""
from __future__ import annotations

import collections
import json
import logging
import threading
import time

from paho.mqtt.enums import MQTTErrorCode as paho_rc

from mqtt.client import MqttClient
from mqtt.models import CoreStatus
from mqtt.outbox import REDELIVER_WINDOW_S, Outbox, PendingEvent
from mqtt.topics import NodeTopics

log = logging.getLogger("vestibule.relay")

FLUSH_AFTER_S = 0.05  # PUBACKs are written to the store at most this late (or per `batch` acks)
REFILL_AT_LEAST = 50  # rows: the window is topped up once this much room is free


class Relay:
    def __init__(self, client: MqttClient, outbox: Outbox, topics: NodeTopics, *, window: int = 500,
                 batch: int = 500):
        self.client = client
        self.outbox = outbox
        self.topics = topics
        self.window = window  # below paho's max_inflight, so paho never queues beyond what it sends
        self.batch = batch
        self.core_online = False
        self.live_since_ns: int | None = None  # start of the current live period
        self.delivered_count = 0
        self.last_progress = time.monotonic()  # for the watchdog: the relay loop is turning
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._acks: collections.deque = collections.deque()  # (mid, ok), appended by paho's thread
        self._inflight: dict[int, int] = {}  # mid -> seq
        self._unflushed: list[int] = []  # acked seqs not yet marked delivered in the store
        self._unflushed_since = 0.0
        self._last_sent = 0  # highest seq handed to paho; 0 at start: resend every undelivered row
        self._online_periods = 0  # +1 each time the core's status goes online (paho's thread writes it)
        self._period_seen = 0  # the relay thread's copy: a new period means redeliver
        self._redeliver_after: int | None = None  # while redelivering: the last seq sent again
        self._redelivering = 0
        self._last_prune = 0.0
        self.redelivered_count = 0
        self._thread: threading.Thread | None = None
        self._retry_at = 0.0
        self._prefix = f'"site":{json.dumps(topics.site)},"node":{json.dumps(topics.node_id)},'
        outbox.on_append = self._wake.set
        client.paho.on_publish = self._on_publish
        client.on_disconnect(self._connection_lost)
        client.subscribe(topics.core_status, self._on_core_status)

    # -- from paho's network thread: lock-free (paho holds its own mutex while calling us) ------
    def _on_core_status(self, msg) -> None:
        try:
            online = CoreStatus.model_validate_json(msg.payload).online if msg.payload else False
        except ValueError:
            log.warning("ignoring malformed core/status payload")
            return
        if online != self.core_online:
            log.info("core is %s", "online" if online else "offline: events wait in the outbox")
        if online and not self.core_online:
            # The core (re)appeared: what the broker acknowledged while it was away, or before a
            # broker crash, may never have reached it. The relay thread resends the window first.
            self._online_periods += 1
        self.core_online = online
        self._wake.set()

    def _connection_lost(self) -> None:
        # The next connection knows nothing of the core until its retained status arrives again
        # (runs on paho's thread before it reconnects, so no status of the new one is lost).
        self.core_online = False
        self._wake.set()

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        ok = not (reason_code is not None and getattr(reason_code, "is_failure", False))
        self._acks.append((mid, ok))
        # Wake the relay once there is room worth refilling, or for the last acks of a burst,
        # not for every PUBACK: a turn per ack only competes with this thread for the GIL.
        if len(self._acks) >= REFILL_AT_LEAST or len(self._acks) >= len(self._inflight) or not ok:
            self._wake.set()

    @property
    def live(self) -> bool:
        return self.client.connected.is_set() and self.core_online

    # -- the loop ------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="outbox-relay", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.last_progress = time.monotonic()
            live = self.live
            period = self._online_periods
            if period != self._period_seen:  # the core came (back) online since the last turn
                self._period_seen = period
                self._flush_delivered()  # acked rows join the redelivery from here on
                self._redeliver_after = 0
                self.live_since_ns = None
            if live and self.live_since_ns is None:
                self.live_since_ns = time.time_ns()
            elif not live:
                self.live_since_ns = None
            try:
                self._settle_acks()
                if live and time.monotonic() >= self._retry_at:
                    if self._redeliver_after is not None:
                        self._redeliver()  # new rows wait until it is done: seq order holds
                    else:
                        self._send_more()
                if time.monotonic() - self._last_prune > 30:
                    self._last_prune = time.monotonic()
                    self.outbox.prune()
            except Exception:  # the store or paho failed: log, back off, never die
                log.exception("relay step failed; retrying")
                self._retry_at = time.monotonic() + 1.0
            if len(self._acks) < REFILL_AT_LEAST:
                if not self._inflight:
                    self._flush_delivered()  # nothing more to come: the store catches up
                self._wake.wait(FLUSH_AFTER_S if self._unflushed or self._inflight else 0.5)
                self._wake.clear()
        self._flush_delivered()

    def _settle_acks(self) -> None:
        # Publishing and recording a mid both happen on this thread, so an ack is always settled
        # after its mid was recorded. Unknown mids are the controller's other publishes (status).
        done: list[int] = []
        while self._acks:
            mid, ok = self._acks.popleft()
            seq = self._inflight.pop(mid, None)
            if seq is None:
                continue
            if ok:
                done.append(seq)
            else:
                # The broker refused it (ACL?). paho has dropped it: send again from here, later.
                log.error("broker refused event seq %d; check the controller's ACL; retrying in 5 s", seq)
                self._retry_at = time.monotonic() + 5
                self._last_sent = min(self._last_sent, seq - 1)
        if done:
            if not self._unflushed:
                self._unflushed_since = time.monotonic()
            self._unflushed += done
        if len(self._unflushed) >= self.batch or (
                self._unflushed and time.monotonic() - self._unflushed_since >= FLUSH_AFTER_S):
            self._flush_delivered()

    def _flush_delivered(self) -> None:
        # Marking rows delivered in batches, not per PUBACK: one transaction per FLUSH_AFTER_S
        # or `batch` acks. A mark lost to a crash only means the row is sent again (the core
        # deduplicates), so until the flush the row is simply still owed.
        if not self._unflushed:
            return
        done, self._unflushed = self._unflushed, []
        try:
            self.outbox.delivered(done)
        except Exception:
            self._unflushed = done + self._unflushed  # keep them for the next try
            raise
        self.delivered_count += len(done)

    def _redeliver(self) -> None:
        """Send recently acknowledged rows again, oldest first, before anything new; fire and forget
        (their rows are already marked delivered; the core deduplicates on the id)."""
        rows = self.outbox.recently_delivered(self._redeliver_after, self.batch)
        if not rows:
            log.info("core online: resent %d events delivered in the last %d s; now the backlog",
                     self._redelivering, REDELIVER_WINDOW_S)
            self._redeliver_after = None
            self._redelivering = 0
            return
        for row in rows:
            self.client.paho.publish(self.topics.event(row.type), self._encode(row, True), qos=1)
            self._redeliver_after = row.seq
        self.redelivered_count += len(rows)
        self._redelivering += len(rows)

    def _send_more(self) -> None:
        room = self.window - len(self._inflight)
        if room < min(REFILL_AT_LEAST, self.window):  # a query per few acks, not per ack
            return
        rows = self.outbox.pending(self._last_sent, min(room, self.batch))
        live_since = self.live_since_ns or time.time_ns()
        for row in rows:
            # Once handed to paho, a QoS 1 message is paho's to deliver: it resends it itself after
            # a reconnect (same mid), so we keep the mid and never publish that row twice.
            info = self.client.paho.publish(self.topics.event(row.type),
                                            self._encode(row, row.created_ns < live_since), qos=1)
            if info.rc == paho_rc.MQTT_ERR_QUEUE_SIZE:  # paho did not take it: try again next turn
                return
            self._inflight[info.mid] = row.seq
            self._last_sent = row.seq

    def _encode(self, row: PendingEvent, historical: bool) -> bytes:
        # Built by hand from fields validated at append time: this is the relay's hot path.
        flag = "true" if historical else "false"
        return (f'{{"id":"{row.id}","type":"{row.type}","ts":"{row.ts}",{self._prefix}"session":{row.session:d},'
                f'"seq":{row.seq:d},"historical":{flag},"data":{row.data}}}').encode()
