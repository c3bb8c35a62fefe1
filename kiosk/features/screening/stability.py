"""When the post's readings count as one measurement: pure functions over the readings as decoded.

A reading is *good* when the device reports a value with the probe in place (thermometer: an
object temperature; oximeter: probe "ok" with SpO2 and pulse). A measurement is *stable* when,
counting back from the newest reading:
  - the newest `count` or more readings are all good, with no bad one among them;
  - every value of that run lies within `tolerance` of every other (max - min <= tolerance, per
    channel: °C for a thermometer, % and /min for an oximeter);
  - the run spans at least `window_s` seconds of device time (newest.ts - oldest.ts);
  - the newest is no older than `max_age_s` seconds.
The measurement is the newest reading of the run, exactly as the device reported it: nothing is
averaged or rounded (ISO 80601-2-56 / 80601-2-61 set the devices' accuracy; we add no error).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from devices.base import OximeterReading, ThermometerReading

OXIMETER_PROBE_OK = "ok"


@dataclass(frozen=True)
class Rule:
    count: int
    window_s: float
    tolerance: float
    max_age_s: float = 2.0


def is_good(reading) -> bool:
    if isinstance(reading, ThermometerReading):
        return reading.celsius is not None
    if isinstance(reading, OximeterReading):
        return reading.probe == OXIMETER_PROBE_OK and reading.spo2 is not None and reading.pulse is not None
    return False


def channels(reading) -> tuple[float, ...]:
    if isinstance(reading, ThermometerReading):
        return (reading.celsius,)
    return (reading.spo2, reading.pulse)


def stable_reading(readings: Sequence, now: float, rule: Rule):
    """The newest reading if the readings (oldest first) end in a stable run, else None."""
    if not readings:
        return None
    newest = readings[-1]
    if now - newest.ts > rule.max_age_s or not is_good(newest):
        return None
    low = list(channels(newest))
    high = list(low)
    for run, reading in enumerate(reversed(readings), start=1):
        if not is_good(reading):
            break
        values = channels(reading)
        new_low = [min(a, b) for a, b in zip(low, values)]
        new_high = [max(a, b) for a, b in zip(high, values)]
        # a small epsilon: 36.62 - 36.60 is 0.020000000000003126 in binary floating point
        if any(h - lo > rule.tolerance + 1e-9 for lo, h in zip(new_low, new_high)):
            break
        low, high = new_low, new_high
        if run >= rule.count and newest.ts - reading.ts >= rule.window_s:
            return newest
    return None


def why_not(readings: Sequence, now: float, rule: Rule) -> str:
    """Which part of the rule the readings fail (for the error answer and the log)."""
    if not readings or now - readings[-1].ts > rule.max_age_s:
        return "no_reading"
    if not is_good(readings[-1]):
        return "probe"
    return "unsettled"
