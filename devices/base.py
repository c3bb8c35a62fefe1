"""The one seam every device driver follows, so the device manager treats all classes alike.

A driver is built from its config section (id, URL, options), validated at construction.
`open()` opens the port *and* initialises the device (a device that does not answer is not
accepted); `close()` is idempotent. Drivers never publish anything: they return readings and
report problems; the device manager turns those into MQTT status and events.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any, ClassVar, Mapping

from devices.status import DeviceStatus
from devices.url import DeviceURL


@dataclass(frozen=True, slots=True)
class OximeterReading:
    spo2: int | None  # %, None when the device says there is no reading
    pulse: int | None  # beats per minute, None when no reading
    signal: int | None  # signal strength 0..15 (Contec) or None
    probe: str  # "ok" | "finger_out" | "searching" | "sensor_fault"
    ts: float  # time.time() when decoded


@dataclass(frozen=True, slots=True)
class ThermometerReading:
    celsius: float | None  # object temperature; None when the sensor reports an error
    ambient_celsius: float | None  # where the device has it
    out_of_human_range: bool  # outside 30..45 °C: aimed at a wall, or probe fault
    ts: float


@dataclass(frozen=True, slots=True)
class ScanReading:
    code: str
    ts: float


HUMAN_RANGE_CELSIUS = (30.0, 45.0)


def outside_human_range(celsius: float | None) -> bool:
    lo, hi = HUMAN_RANGE_CELSIUS
    return celsius is None or not (lo <= celsius <= hi)


class Device(abc.ABC):
    kind: ClassVar[str]  # "printer", "oximeter", "thermometer", "display", "scanner"
    protocol: ClassVar[str]

    def __init__(self, device_id: str, url: DeviceURL, options: Mapping[str, Any] | None = None):
        self.device_id = device_id
        self.url = url
        self.options = dict(options or {})

    @abc.abstractmethod
    def open(self) -> None:
        """Open and initialise; raise DeviceUnavailable or DeviceNotAnswering."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the port; safe to call twice."""

    def problems(self) -> list[str]:
        """Current problems as last observed (problem names from devices.status)."""
        return []

    def status(self) -> DeviceStatus:
        return DeviceStatus.from_problems(self.device_id, self.kind, self.problems())

    def __enter__(self):
        self.open()
        return self

    def __exit__(self, *exc):
        self.close()


class StreamingDevice(Device):
    """A device that pushes readings (oximeter, thermometer, scanner)."""

    @abc.abstractmethod
    def read(self, timeout: float) -> list:
        """Readings decoded within `timeout` seconds (possibly none).

        Keeps the device streaming (e.g. resends Contec A1) as a side effect.
        Raises DeviceUnavailable when the port is gone (unplug)."""
