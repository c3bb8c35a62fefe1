"""Shared fixtures: a real Mosquitto per test (private port), temp SQLite files, the example config."""
from __future__ import annotations

import logging
import os
import tomllib
from pathlib import Path

import pytest

from kiosk.node.config import parse_node_config as parse_config
from mqtt.broker import Broker

ROOT = Path(__file__).resolve().parents[1]

_private_display = None


def pytest_configure(config):
    """Under pytest-xdist each worker gets its own X display (see tests/support/display.py)."""
    global _private_display
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:
        from tests.support.display import start_private_display
        _private_display = start_private_display(worker)


def pytest_unconfigure(config):
    if _private_display is not None:
        _private_display.terminate()
SCREENSHOTS = ROOT / "build" / "screenshots"


@pytest.fixture
def broker(tmp_path):
    b = Broker(workdir=str(tmp_path / "broker"))
    (tmp_path / "broker").mkdir()
    b.start()
    yield b
    b.cleanup()


def make_config(tmp_path: Path, broker_url: str, **overrides):
    """The example config with the store in tmp_path, the broker given, and no sim:// devices."""
    data = tomllib.loads((ROOT / "config" / "example.toml").read_text(encoding="utf-8"))
    data["node"]["store"] = str(tmp_path / "node.db")
    data["broker"]["url"] = broker_url
    data["devices"] = overrides.pop("devices", {})
    for section, values in overrides.items():
        data.setdefault(section, {}).update(values)
    return parse_config(data)


@pytest.fixture
def node_config(tmp_path, broker):
    return make_config(tmp_path, broker.url)


@pytest.fixture(autouse=True)
def _quiet_logs(caplog):
    caplog.set_level(logging.INFO, logger="vestibule")
    yield
