"""Assembles the controller with the feature modules that serve its commands."""
from __future__ import annotations

import importlib
import logging
from datetime import timedelta

from foundation.clock import Clock
from kiosk.node.controller import Controller
from kiosk.node.core_link import CoreLink
from kiosk.node.feature import FeatureContext

log = logging.getLogger("vestibule.app")

# Feature modules. Older ones offer `attach(controller)`; those on the feature contract
# (kiosk/node/feature.py) offer `build(section, ctx)` and are listed with their config section.
FEATURES = ["kiosk.features.lobby.flow", ("kiosk.features.screening", "screening")]


class _ControllerClock(Clock):
    """The controller's wall time (tests move it through controller.now)."""

    def __init__(self, controller: Controller):
        super().__init__(controller.tz)
        self._controller = controller

    def now(self):
        return self._controller.now()


def _context(controller: Controller) -> FeatureContext:
    return FeatureContext(site=controller.config.site, node_id=controller.config.node.id, topics=controller.topics,
                          clock=_ControllerClock(controller), store=controller.store, outbox=controller.outbox,
                          publisher=controller.client, bus=controller.bus, devices=controller.devices,
                          core=CoreLink(controller), schedule=controller.schedule, config=controller.config,
                          state_dir=controller.store.path.parent)


class _FeatureHooks:
    """Until the controller composes contract features itself: its start/stop/purge hooks."""

    def __init__(self, controller: Controller, feature):
        self.feature = feature
        self._controller = controller

    def purge(self, now, retention_days: int) -> None:
        cutoff = (now.astimezone(self._controller.tz).date() - timedelta(days=retention_days)).isoformat()
        self.feature.purge(cutoff)


def _attach_feature(controller: Controller, module, section_name: str):
    feature = module.build(getattr(controller.config, section_name), _context(controller))
    with controller.store.lock:
        feature.tables(controller.store.db)
    for name, (model, handler) in feature.commands().items():
        controller.commands.route(name, model, handler)
    for topic, handler in feature.subscriptions().items():
        controller.client.subscribe(topic, handler)
    feature.start()
    controller.extend(_FeatureHooks(controller, feature))
    controller.features = getattr(controller, "features", {})
    controller.features[feature.name] = feature
    return feature


def build_controller(config, **kwargs) -> Controller:
    controller = Controller(config, **kwargs)
    for entry in FEATURES:
        name, section = entry if isinstance(entry, tuple) else (entry, None)
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            log.warning("feature %s not installed", name)
            continue
        if section is None:
            module.attach(controller)
        else:
            _attach_feature(controller, module, section)
    return controller
