"""`vestibule device read scanner --port URL [--protocol cdc|hid] [--count N] [--json]`."""
from __future__ import annotations

import json
import time
from datetime import datetime, timezone

from devices.errors import DeviceNotAnswering, DeviceUnavailable
from devices.scanner.driver import HidScanner, LineScanner
from devices.url import parse_device_url

DRIVERS = {"cdc": LineScanner, "hid": HidScanner}


def read(port: str, protocol: str, count: int | None, as_json: bool, out, timeout: float = 10.0) -> int:
    """Print scanned codes ({"code", "ts"} per line with as_json) until `count` codes, or until
    `timeout` seconds pass without a scan. No scan at all within `timeout` is an error.
    "ts" is ISO 8601 in UTC with milliseconds, as the thermometer tool prints it."""
    cls = DRIVERS.get(protocol)
    if cls is None:
        raise DeviceUnavailable(f"unknown scanner protocol {protocol!r}; expected {' or '.join(DRIVERS)}")
    scanner = cls("cli-scanner", parse_device_url(port), {})
    seen = 0
    with scanner:
        last = time.monotonic()
        while count is None or seen < count:
            left = timeout - (time.monotonic() - last)
            if left <= 0:
                break
            readings = scanner.read(min(left, 0.5))
            for reading in readings:
                if count is not None and seen >= count:
                    break
                seen += 1
                if as_json:
                    print(json.dumps({"code": reading.code, "ts": _iso(reading.ts)}), file=out, flush=True)
                else:
                    print(reading.code, file=out, flush=True)
            if readings:
                last = time.monotonic()
    if seen == 0:
        raise DeviceNotAnswering(f"no code scanned within {timeout:g} s on {port}")
    return 0


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds")
