"""Device state as the controller publishes it (contract: node/{node}/dev/{device}/status)."""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class DeviceState(str, Enum):
    READY = "ready"
    DEGRADED = "degraded"  # works, but needs attention soon (paper near end)
    FAULT = "fault"  # connected, cannot do its job (paper out, cover open, sensor fault)
    OFFLINE = "offline"  # not reachable


# Problem names are part of our contract with the core (device.problem events).
PAPER_NEAR_END = "paper_near_end"
PAPER_OUT = "paper_out"
COVER_OPEN = "cover_open"
OFFLINE = "offline"
DISCONNECTED = "disconnected"
PROBE_OFF = "probe_off"
SENSOR_FAULT = "sensor_fault"
NOT_ANSWERING = "not_answering"
# A device we cannot ask (a printer on a file:// sink): not a fault, but nobody sees the paper.
STATUS_UNKNOWN = "status_unknown"
# A one-way device (an Alpha sign without a return line, or addressed by broadcast): we write to
# it and never hear back, so it is never "ready" — degraded, because nobody can confirm it shows.
UNVERIFIED = "unverified"

# Problems that stop a device from doing its job; anything else only degrades it.
FAULT_PROBLEMS = frozenset({PAPER_OUT, COVER_OPEN, OFFLINE, SENSOR_FAULT})


@dataclass(frozen=True)
class DeviceStatus:
    device: str
    kind: str
    state: DeviceState
    problems: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def from_problems(cls, device: str, kind: str, problems: list[str] | tuple[str, ...]) -> "DeviceStatus":
        problems = tuple(sorted(set(problems)))
        if DISCONNECTED in problems or NOT_ANSWERING in problems:
            state = DeviceState.OFFLINE
        elif FAULT_PROBLEMS.intersection(problems):
            state = DeviceState.FAULT
        elif problems:
            state = DeviceState.DEGRADED
        else:
            state = DeviceState.READY
        return cls(device, kind, state, problems)

    @classmethod
    def offline(cls, device: str, kind: str) -> "DeviceStatus":
        return cls(device, kind, DeviceState.OFFLINE, (DISCONNECTED,))
