"""Assembles the controller with the feature modules that serve its commands."""
from __future__ import annotations

import importlib
import logging

from foundation.clock import Clock
from kiosk.node.controller import Controller
from kiosk.node.feature import FeatureContext

log = logging.getLogger("vestibule.app")

# Feature modules; each offers `attach(controller)` and registers its commands and handlers.
FEATURES = ["kiosk.features.lobby.flow"]
# Features on the contract (kiosk/node/feature.py): module -> its config section. Until the
# controller composes features itself, build_controller builds their context from it.
CONTRACT_FEATURES = {"kiosk.features.queue": "queue"}


class _ControllerClock(Clock):
    """The controller's notion of now (tests set it), as the Clock features take."""

    def __init__(self, controller: Controller):
        super().__init__(controller.tz)
        self._controller = controller

    def now(self):
        return self._controller.now()


def feature_context(controller: Controller) -> FeatureContext:
    config = controller.config
    return FeatureContext(site=config.site, node_id=config.node.id, topics=controller.topics,
                          clock=_ControllerClock(controller), store=controller.store, outbox=controller.outbox,
                          publisher=controller.client, bus=controller.bus, devices=controller.devices,
                          core=None, schedule=controller.schedule, config=config,
                          state_dir=config.node.store.parent)


def _import(name: str):
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        log.warning("feature %s not installed", name)
        return None


def build_controller(config, **kwargs) -> Controller:
    controller = Controller(config, **kwargs)
    for name in FEATURES:
        module = _import(name)
        if module:
            module.attach(controller)
    ctx = feature_context(controller)
    for name, section in CONTRACT_FEATURES.items():
        module = _import(name)
        if not module:
            continue
        feature = module.build(getattr(config, section, None), ctx)
        with controller.store.lock:
            feature.tables(controller.store.db)
        for command, (model, handler) in feature.commands().items():
            controller.commands.route(command, model, handler)
        feature.start()
        controller.features.append(feature)
    # features with retained state publish it again on every connection (a broker that lost it)
    controller.client.on_connect(lambda: controller.bus.send("node.connected"))
    return controller
