"""The node's configuration as the controller and its CLIs load it: the file's shape
(foundation.config) plus every check a lower layer makes of its own section.

NODE_CHECKS hold for every process that reads the file (the kiosk UI, the stand-in core);
CONTROLLER_CHECKS add what the controller opens at start, so `vestibule config check` (run by
systemd before the controller, as its user) fails exactly where the controller would."""
from __future__ import annotations

from pathlib import Path

from devices.config_check import check_devices
from foundation.config import ConfigError, VestibuleConfig, load_config, parse_config
from kiosk.node.config_checks import check_device_used_twice, check_password_file, check_store_location

NODE_CHECKS = (check_devices, check_device_used_twice)
CONTROLLER_CHECKS = (*NODE_CHECKS, check_password_file, check_store_location)

__all__ = ["ConfigError", "load_controller_config", "load_node_config", "parse_node_config"]


def load_node_config(path: str | Path) -> VestibuleConfig:
    return load_config(path, NODE_CHECKS)


def load_controller_config(path: str | Path) -> VestibuleConfig:
    return load_config(path, CONTROLLER_CHECKS)


def parse_node_config(data: dict, path: Path = Path("<config>")) -> VestibuleConfig:
    return parse_config(data, path, NODE_CHECKS)
