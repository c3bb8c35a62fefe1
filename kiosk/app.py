"""Assembles the node controller from its features: the one list of what a node does."""
from __future__ import annotations

from kiosk.features.calls import feature as calls
from kiosk.features.lobby import flow as lobby
from kiosk.features import queue, screening
from kiosk.node.controller import Controller, FeatureSpec

FEATURES = [
    FeatureSpec("lobby", lambda config: config.kiosk, lobby.build),
    FeatureSpec("calls", lambda config: None, calls.build),
    FeatureSpec("screening", lambda config: config.screening, screening.build),
    FeatureSpec("queue", lambda config: config.queue, queue.build),
]


def build_controller(config, **kwargs) -> Controller:
    return Controller(config, FEATURES, **kwargs)
