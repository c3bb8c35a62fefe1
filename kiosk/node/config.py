"""The node's configuration as the controller and its CLIs load it: the file's shape
(foundation.config) plus every check a lower layer makes of its own section."""
from __future__ import annotations

from pathlib import Path

from devices.config_check import check_devices
from foundation.config import ConfigError, VestibuleConfig, load_config, parse_config

NODE_CHECKS = (check_devices,)

__all__ = ["ConfigError", "load_node_config", "parse_node_config"]


def load_node_config(path: str | Path) -> VestibuleConfig:
    return load_config(path, NODE_CHECKS)


def parse_node_config(data: dict, path: Path = Path("<config>")) -> VestibuleConfig:
    return parse_config(data, path, NODE_CHECKS)
