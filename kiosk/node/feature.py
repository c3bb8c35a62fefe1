"""The contract every controller feature is built on (in the spirit of Klipper's modules).

A feature module exposes one function, `build(section, ctx) -> Feature`:
  - `section` is the feature's own config section, already validated (pydantic, up front);
  - `ctx` offers the node's narrow services; the feature takes the ones it needs and passes
    only those to its classes (their constructors name them, so a test builds a feature with
    just a store and a clock). No feature ever receives the controller.

A Feature declares what the controller wires for it:
  - `commands()`: node commands it serves, as {name: (pydantic model, handler)}. Handlers run
    on the command workers, never on the MQTT network thread; they return a model or raise
    mqtt.rpc.RequestError.
  - `subscriptions()`: MQTT topic filters it consumes, as {filter: handler(msg)}. Each handler
    runs on the feature's own worker queue (in arrival order), never on the network thread.
  - `tables(db)`: creates its tables (idempotent) in the node's store before start.
  - `start()` / `stop()`, and `get_status()`: a small JSON-able dict for `ping` and `doctor`.
In-process happenings between features (a ticket issued, a call made, a device reading) go
through `ctx.bus`, so features never import each other.
"""
from __future__ import annotations

import logging
import threading
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from foundation.clock import Clock
from foundation.config import VestibuleConfig
from foundation.store import Store
from mqtt.outbox import Outbox
from mqtt.topics import NodeTopics

log = logging.getLogger("vestibule.feature")

CommandHandler = Callable[[Any], Any]
MessageHandler = Callable[[Any], None]


class Publisher(Protocol):
    """What a feature may send on the broker: retained state and QoS 0/1 messages.
    Events for the core never go here: they go through the outbox."""

    def publish(self, topic: str, body: Any, *, qos: int = 1, retain: bool = False) -> Any: ...


class Bus:
    """Synchronous in-process notifications between features (`ticket.issued`, `call.made`,
    `device.reading`). A failing listener is logged and never stops the sender."""

    def __init__(self) -> None:
        self._listeners: dict[str, list[Callable[..., None]]] = defaultdict(list)
        self._lock = threading.Lock()

    def listen(self, topic: str, fn: Callable[..., None]) -> None:
        with self._lock:
            self._listeners[topic].append(fn)

    def send(self, topic: str, *args: Any) -> None:
        for fn in list(self._listeners.get(topic, ())):
            try:
                fn(*args)
            except Exception:
                log.exception("listener %s for %s failed", getattr(fn, "__qualname__", fn), topic)


@dataclass(frozen=True)
class FeatureContext:
    """The node's services a feature may take from. Each is narrow: none is the controller."""

    site: Any                     # foundation.config.SiteConfig: id, tz, languages
    node_id: str
    topics: NodeTopics
    clock: Clock
    store: Store
    outbox: Outbox
    publisher: Publisher
    bus: Bus
    devices: Any                  # devices.manager.DeviceManager (device access by id, kind, role)
    core: Any                     # kiosk.node.core_link.CoreLink: requests to the booking core
    schedule: Any                 # kiosk.node.schedule_cache.ScheduleCache: today's cached day
    config: VestibuleConfig       # read-only; for cross-section facts (services, devices, languages)
    state_dir: Any                # pathlib.Path beside the store, for caches (voice clips)


class Feature(Protocol):
    name: str

    def commands(self) -> dict[str, tuple[Any, CommandHandler]]: ...

    def subscriptions(self) -> dict[str, MessageHandler]: ...

    def tables(self, db) -> None: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def get_status(self) -> dict: ...

    def purge(self, cutoff_day: str) -> None: ...


class BaseFeature:
    """Defaults for the optional parts of the contract."""

    name = "feature"

    def commands(self) -> dict[str, tuple[Any, CommandHandler]]:
        return {}

    def subscriptions(self) -> dict[str, MessageHandler]:
        return {}

    def tables(self, db) -> None:
        return None

    def start(self) -> None:
        return None

    def stop(self) -> None:
        return None

    def get_status(self) -> dict:
        return {}

    def purge(self, cutoff_day: str) -> None:
        return None


FeatureBuilder = Callable[[Any, FeatureContext], Feature]
