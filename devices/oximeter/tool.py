"""`vestibule device read oximeter`: print readings for a technician (text) or a script (--json)."""
from __future__ import annotations

import json
import time
from datetime import datetime
from typing import TextIO

from devices import registry
from devices.base import OximeterReading
from devices.errors import DeviceError, DeviceNotAnswering
from devices.url import parse_device_url

# Without --count the stream (60/s) is thinned: a line when the reading changes, at most every
# CHANGE_EVERY_S, and a line at least every SAME_EVERY_S so the technician sees it is alive.
CHANGE_EVERY_S = 0.5
SAME_EVERY_S = 1.0


def reading_dict(reading: OximeterReading, protocol: str) -> dict:
    return {
        "spo2": reading.spo2,
        "pulse": reading.pulse,
        "signal": reading.signal,
        "probe": reading.probe,
        "ts": datetime.fromtimestamp(reading.ts).astimezone().isoformat(timespec="milliseconds"),
        "protocol": protocol,
    }


def format_line(reading: OximeterReading) -> str:
    def show(value):
        return "--" if value is None else str(value)

    stamp = datetime.fromtimestamp(reading.ts).astimezone().isoformat(timespec="milliseconds")
    return (f"{stamp}  SpO2 {show(reading.spo2):>3} %  pulse {show(reading.pulse):>3} bpm  "
            f"signal {show(reading.signal):>2}  probe {reading.probe}")


def _key(reading: OximeterReading) -> tuple:
    return reading.spo2, reading.pulse, reading.signal, reading.probe


def read(port: str, protocol: str, count: int | None, as_json: bool, out: TextIO,
         timeout: float = 10.0) -> int:
    url = parse_device_url(port)
    try:
        cls = registry.driver_class("oximeter", protocol)
    except KeyError:
        raise DeviceError(f"unknown oximeter protocol {protocol!r}; expected contec or nonin") from None
    if count is not None and count < 1:
        raise DeviceError("--count must be at least 1")
    device = cls("cli", url, {"open_timeout_s": timeout, "silence_s": timeout})

    def emit(reading: OximeterReading) -> None:
        if as_json:
            out.write(json.dumps(reading_dict(reading, protocol)) + "\n")
        else:
            out.write(format_line(reading) + "\n")
        out.flush()

    device.open()
    try:
        printed = 0
        last_shown: OximeterReading | None = None
        last_time = 0.0
        last_reading = time.monotonic()
        while count is None or printed < count:
            readings = device.read(0.5)
            now = time.monotonic()
            if not readings:
                if now - last_reading > timeout:
                    raise DeviceNotAnswering(f"{url}: no reading for {timeout:g} s")
                continue
            last_reading = now
            if count is not None:
                for reading in readings[:count - printed]:
                    emit(reading)
                printed += min(len(readings), count - printed)
                continue
            latest = readings[-1]
            changed = last_shown is None or _key(latest) != _key(last_shown)
            if now - last_time >= (CHANGE_EVERY_S if changed else SAME_EVERY_S):
                emit(latest)
                last_shown, last_time = latest, now
    finally:
        device.close()
    return 0
