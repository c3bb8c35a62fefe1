"""Assembles the controller with the feature modules that serve its commands."""
from __future__ import annotations

import importlib
import logging

from kiosk.node.controller import Controller

log = logging.getLogger("vestibule.app")

# Feature modules; each offers `attach(controller)` and registers its commands and handlers.
FEATURES = ["kiosk.features.lobby.flow"]


def build_controller(config, **kwargs) -> Controller:
    controller = Controller(config, **kwargs)
    for name in FEATURES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            log.warning("feature %s not installed", name)
            continue
        module.attach(controller)
    return controller
