"""Fixtures shared by the device tests: simulators on ptys and drivers pointed at them, cleaned up after."""
from __future__ import annotations

import time

import pytest

from devices.url import parse_device_url

DEADLINE_S = 8.0


@pytest.fixture
def make_sim(tmp_path):
    sims = []

    def make(cls, **settings):
        sim = cls(link_path=str(tmp_path / f"oximeter-{len(sims)}"), **settings)
        sim.start()
        sims.append(sim)
        return sim

    yield make
    for sim in sims:
        sim.stop()


@pytest.fixture
def make_driver():
    opened = []

    def make(cls, sim, **options):
        dev = cls("oximeter-1", parse_device_url(sim.link_path), options)
        opened.append(dev)
        return dev

    yield make
    for dev in opened:
        dev.close()


def read_until(dev, predicate, timeout=DEADLINE_S):
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        for reading in dev.read(0.2):
            seen = reading
            if predicate(reading):
                return reading
    pytest.fail(f"no matching reading within {timeout} s; last seen {seen}")


