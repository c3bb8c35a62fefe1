"""Commands name the kiosk or post they come from; the node serves only those it is configured
for. A kiosk (or screening post, or board) is configured when a device of the node's config has
it as its `role` (its printer, scanner, thermometer ...): `ui --kiosk ID` names the same id."""
from __future__ import annotations

from typing import Any

from foundation.config import VestibuleConfig
from mqtt.rpc import RequestError

# command field -> the error code when its value is not configured here
CLIENT_FIELDS = {"kiosk": "unknown_kiosk", "post": "unknown_post", "board": "unknown_board"}


def configured_roles(config: VestibuleConfig) -> frozenset[str]:
    return frozenset(dev.role for dev in config.devices.values() if dev.role)


def known_client_check(config: VestibuleConfig):
    """A Dispatcher check: refuses a command whose kiosk/post/board is not configured on this node."""
    roles = configured_roles(config)

    def check(name: str, request: Any) -> None:
        for field, code in CLIENT_FIELDS.items():
            value = getattr(request, field, None)
            if isinstance(value, str) and value not in roles:
                raise RequestError(code, f"{field} {value!r} is not configured on this node "
                                         f"(configured: {', '.join(sorted(roles)) or 'none'})")
    return check
