"""Checks of the node config's `[devices.*]` sections that only the drivers can make:
the protocol is one a driver speaks for that kind, and the URL parses. They read the raw
TOML data, so they report even when another part of the file is malformed."""
from __future__ import annotations

from devices.errors import BadDeviceURL
from devices.registry import DRIVERS, KINDS, protocols_for
from devices.url import parse_device_url


def check_devices(data: dict) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    devices = data.get("devices")
    if not isinstance(devices, dict):
        return problems
    for name, device in devices.items():
        if not isinstance(device, dict):
            continue
        kind, protocol, url = device.get("kind"), device.get("protocol"), device.get("url")
        if kind in KINDS and isinstance(protocol, str) and (kind, protocol) not in DRIVERS:
            problems.append((f"devices.{name}.protocol",
                             f"protocol {protocol!r} is not known for {kind}; "
                             f"expected one of {', '.join(protocols_for(kind))}"))
        if isinstance(url, str):
            try:
                parse_device_url(url)
            except BadDeviceURL as exc:
                problems.append((f"devices.{name}.url", str(exc)))
    return problems
