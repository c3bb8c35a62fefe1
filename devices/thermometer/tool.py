"""`vestibule device read thermometer`: print readings from a bridge board or an Optris sensor."""
from __future__ import annotations

import json
import time
from dataclasses import asdict
from datetime import datetime, timezone

from devices import registry
from devices.base import ThermometerReading
from devices.errors import BadDeviceURL, DeviceNotAnswering, DeviceUnavailable
from devices.url import DeviceURL, parse_device_url


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds")


def reading_json(reading: ThermometerReading, device: str, protocol: str) -> dict:
    return {
        "device": device,
        "protocol": protocol,
        "celsius": reading.celsius,
        "ambient_celsius": reading.ambient_celsius,
        "out_of_human_range": reading.out_of_human_range,
        "ts": _iso(reading.ts),
    }


def _text(reading: ThermometerReading) -> str:
    temp = "sensor error" if reading.celsius is None else f"{reading.celsius:6.2f} °C"
    ambient = "" if reading.ambient_celsius is None else f"  ambient {reading.ambient_celsius:.2f} °C"
    flag = "  (out of human range)" if reading.out_of_human_range and reading.celsius is not None else ""
    return f"{_iso(reading.ts)}  {temp}{ambient}{flag}"


def read(port: str, protocol: str, count: int | None, as_json: bool, out, timeout: float = 10.0) -> int:
    """Print readings until `count` (or Ctrl-C); exit code 0. Device problems raise DeviceError."""
    if not port or not str(port).strip():
        raise DeviceUnavailable("no port given; expected e.g. --port serial:///dev/vestibule/thermometer-1")
    try:
        driver_cls = registry.driver_class("thermometer", protocol)
    except KeyError:
        raise BadDeviceURL(f"unknown thermometer protocol {protocol!r}; expected bridge or optris") from None
    url = parse_device_url(port)
    sim = None
    if url.scheme == "sim":  # sim://thermometer: start the protocol's simulator in this process
        sim = registry.simulator_class("thermometer", protocol)()
        url = DeviceURL("serial", path=sim.start())
    device = driver_cls("cli", url, {})
    try:
        device.open()
        if not as_json:
            ident = ", ".join(f"{k} {v}" for k, v in asdict(device.identify()).items() if v is not None)
            print(f"# {protocol} thermometer on {port}: {ident}", file=out, flush=True)
        shown = 0
        last = time.monotonic()
        while count is None or shown < count:
            for reading in device.read(min(0.5, timeout)):
                if as_json:
                    print(json.dumps(reading_json(reading, str(port), protocol)), file=out, flush=True)
                else:
                    print(_text(reading), file=out, flush=True)
                shown += 1
                last = time.monotonic()
                if count is not None and shown >= count:
                    break
            if time.monotonic() - last > timeout:
                raise DeviceNotAnswering(f"no reading from the thermometer on {port} within {timeout:g} s")
    finally:
        device.close()
        if sim is not None:
            sim.stop()
    return 0
