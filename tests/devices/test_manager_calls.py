"""DeviceManager calls on boards: queued per serial line and returned at once, so a board that
stops answering delays only its own line. Real simulators on ptys, started by the manager."""
from __future__ import annotations

import time
from concurrent.futures import wait
from types import SimpleNamespace

import pytest

from devices.errors import DeviceNotAnswering
from devices.manager import DeviceManager
from devices.status import UNVERIFIED, DeviceState
from foundation.config import DeviceConfig

ROOM = "12"


def board(protocol: str, line: str, address, rooms=(ROOM,), **options) -> DeviceConfig:
    return DeviceConfig(kind="display", protocol=protocol, url=f"sim://display?line={line}",
                        rooms=list(rooms), options={"address": address, **options})


def eventually(predicate, timeout: float = 5.0) -> bool:
    """For one-way boards: their Future resolves when the packet left our port, a little before
    the sign on the other end has read it."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.fixture
def manager(tmp_path):
    config = SimpleNamespace(devices={
        "board-fast": board("alpha", "fast", "01"),
        "board-oneway": board("alpha", "fast", "02", answers=False),
        "board-other-room": board("alpha", "fast", "03", rooms=("14",)),
        "board-slow": board("alpha", "slow", "01", answer_timeout=3.0),
        "board-number": board("modbus", "numbers", 1),
    })
    problems = []
    m = DeviceManager(config, sim_dir=str(tmp_path), on_problem=lambda *p: problems.append(p))
    m.problems = problems
    m.start()
    deadline = time.monotonic() + 20
    while not all(s.state in (DeviceState.READY, DeviceState.DEGRADED) for s in m.statuses()):
        assert time.monotonic() < deadline, m.statuses()
        time.sleep(0.05)
    yield m
    m.stop()


def test_queue_call_returns_at_once_and_a_silent_board_delays_only_its_own_line(manager):
    manager.simulators["board-slow"].stop_answering()
    started = time.monotonic()
    first = dict(manager.queue_call(ROOM, "A023"))
    second = dict(manager.queue_call(ROOM, "A024"))
    assert time.monotonic() - started < 0.2  # nothing waited for a board
    assert set(first) == set(second) == {"board-fast", "board-oneway", "board-slow", "board-number"}

    others = [f for calls in (first, second) for device, f in calls.items() if device != "board-slow"]
    done, pending = wait(others, timeout=5)
    assert not pending
    assert not first["board-slow"].done()  # still waiting for its answer, on its own line
    assert all(f.exception() is None for f in done)
    fast, numbers = manager.simulators["board-fast"], manager.simulators["board-number"]
    assert fast.shows("01").text == "A024 -> 12" and fast.shows("01").mode == "flash"
    assert eventually(lambda: fast.shows("02").text == "A024 -> 12")  # one-way: sent, not confirmed
    assert fast.shows("03").text == ""  # serves another room
    assert numbers.number(1) == 24

    with pytest.raises(DeviceNotAnswering):
        first["board-slow"].result(timeout=10)


def test_show_call_waits_within_its_bound_and_returns_the_boards_that_took_it(manager):
    manager.simulators["board-slow"].stop_answering()
    started = time.monotonic()
    shown = manager.show_call(ROOM, "B7", timeout=1.5)
    assert 1.4 < time.monotonic() - started < 2.5
    assert sorted(shown) == ["board-fast", "board-number", "board-oneway"]
    assert manager.simulators["board-number"].number(1) == 7


def test_a_board_that_failed_a_call_is_reported_offline(manager):
    manager.simulators["board-slow"].stop_answering()
    manager.show_call(ROOM, "C1", timeout=5)
    deadline = time.monotonic() + 10
    while ("board-slow", "display", "not_answering", False) not in manager.problems:
        assert time.monotonic() < deadline, manager.problems
        time.sleep(0.05)
    slow = next(s for s in manager.statuses() if s.device == "board-slow")
    assert slow.state == DeviceState.OFFLINE
    others = {s.device: s.state for s in manager.statuses() if s.device != "board-slow"}
    assert DeviceState.OFFLINE not in others.values()


def test_a_call_one_board_cannot_show_still_reaches_the_others(manager):
    queued = dict(manager.queue_call(ROOM, "Б12"))  # Cyrillic: an Alpha sign shows ASCII only
    assert set(queued) == {"board-number"}
    assert queued["board-number"].result(timeout=5) is None
    assert manager.simulators["board-number"].number(1) == 12


def test_a_one_way_board_in_the_manager_is_unverified_and_never_asked(manager):
    status = next(s for s in manager.statuses() if s.device == "board-oneway")
    assert (status.state, status.problems) == (DeviceState.DEGRADED, (UNVERIFIED,))
    assert manager.show_call(ROOM, "D5", timeout=5).count("board-oneway") == 1
    fast = manager.simulators["board-fast"]
    assert eventually(lambda: fast.shows("02").text == "D5 -> 12")
    assert [p for p in fast.model.packets if p.command == "F" and p.address == "02"] == []
