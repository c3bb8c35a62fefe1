"""The schedule cache's receiver process: it holds the cache's broker connection, so a large
snapshot never passes through the controller's process. A real Mosquitto, real SQLite, a real
child process (killed for real where a crash is tested)."""
from __future__ import annotations

import logging
import os
import signal
from datetime import timedelta
from pathlib import Path

import pytest

from kiosk.app import build_controller
from kiosk.node.schedule_cache import ScheduleCache
from kiosk.node.schedule_receiver import IN_PROCESS_BELOW, ReceiverSettings, ScheduleReceiver
from mqtt.client import MqttClient
from mqtt.topics import NodeTopics
from tests.conftest import make_config
from tests.kiosk_env import MORNING, TZ, wait_until
from tests.support.snapshots import snapshot_payload

TODAY = MORNING.date()
TOPICS = NodeTopics("spb-dunaisky", "entrance-1")


def _bytes_read(pid: int | str = "self") -> int:
    """Bytes the process has read through read/recv calls, all its threads (sockets and files)."""
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("no rchar in /proc/PID/io")


def _gone(pid: int) -> bool:
    return not Path(f"/proc/{pid}").exists()


class Site:
    """The cache and its receiver as the controller wires them, and a publisher as the core."""

    def __init__(self, tmp_path, broker):
        self.cache = ScheduleCache(tmp_path / "node-schedule.db", TZ, lambda: MORNING)
        self.receiver = ScheduleReceiver(ReceiverSettings(
            "127.0.0.1", broker.port, "vestibule-entrance-1-schedule", None, None, False, 15,
            TOPICS.core_status, TOPICS.core_schedule_all, str(self.cache.path)), self.cache)
        self.cache.attach(self.receiver)
        self.cache.start()
        self.receiver.start()
        self.core = MqttClient("127.0.0.1", broker.port, "core", role="core")
        self.core.start()
        assert self.core.wait_connected(20)
        wait_until(lambda: self.receiver.pid, what="the receiver process started")

    def publish(self, payload: bytes, *, retain: bool = True) -> None:
        self.core.publish(TOPICS.core_schedule(TODAY), payload, qos=1, retain=retain).wait_for_publish(20)

    def version(self) -> int | None:
        cached = self.cache.day(TODAY)
        return cached.version if cached else None

    def stop(self) -> None:
        self.core.stop()
        self.receiver.stop()
        self.cache.stop()


@pytest.fixture
def site(tmp_path, broker):
    s = Site(tmp_path, broker)
    yield s
    s.stop()


def test_a_large_snapshot_is_received_and_indexed_by_the_child_its_bytes_never_read_by_the_controllers_process(site):
    payload = snapshot_payload(TODAY, 1, [f"BK-{i:06d}" for i in range(20_000)], MORNING)
    assert len(payload) > 10 * IN_PROCESS_BELOW
    child = site.receiver.pid
    ours, theirs = _bytes_read(), _bytes_read(child)
    site.publish(payload)
    wait_until(lambda: site.version() == 1, 60, "the large snapshot cached")
    wait_until(site.cache.idle, 60, "the replaced rows deleted")
    assert site.cache.day(TODAY).appointments == 20_000
    assert site.cache.find_code(TODAY, "BK-019999").booking == "BK-019999"
    assert _bytes_read(child) - theirs >= len(payload)  # off the socket
    assert _bytes_read() - ours < len(payload) // 20  # here: small events and the look-up's pages only
    assert site.receiver.held() == 0, "the child forgets the snapshot once indexed"
    assert not list(site.cache.path.parent.glob("*.incoming-*")), "nothing is handed over in a file"


def test_large_snapshots_replaced_while_parked_or_ignored_are_forgotten_by_the_child(site):
    site.publish(snapshot_payload(TODAY, 1, [f"BK-{i:06d}" for i in range(40_000)], MORNING), retain=False)
    wait_until(lambda: not site.cache.idle(), 60, "the first large snapshot being indexed")
    # while the worker is busy with it: two more of the same day (the second replaces the first
    # while parked), one on a day the node does not serve (ignored unread) and one on tomorrow's
    # topic whose body names another day (ignored once the child has read it)
    bookings = [f"BK-{i:06d}" for i in range(15_000)]
    for version in (2, 3):
        site.publish(snapshot_payload(TODAY, version, bookings, MORNING), retain=False)
    far = TODAY + timedelta(days=5)
    site.core.publish(TOPICS.core_schedule(far), snapshot_payload(far, 1, bookings, MORNING),
                      qos=1).wait_for_publish(20)
    site.core.publish(TOPICS.core_schedule(TODAY + timedelta(days=1)), snapshot_payload(far, 1, bookings, MORNING),
                      qos=1).wait_for_publish(20)
    wait_until(lambda: site.cache.ignored == 2 and site.version() == 3 and site.cache.idle(), 90,
               "the latest version cached, the other two judged")
    assert site.receiver.held() == 0, "nothing left in the child's memory"


def test_a_snapshot_past_the_held_limit_is_dropped_with_a_log_line_and_the_held_one_is_still_taken(
        tmp_path, broker, caplog):
    today = snapshot_payload(TODAY, 1, [f"BK-{i:06d}" for i in range(15_000)], MORNING)
    tomorrow_day = TODAY + timedelta(days=1)
    tomorrow = snapshot_payload(tomorrow_day, 1, [f"BK-{i:06d}" for i in range(15_000)], MORNING)
    cache = ScheduleCache(tmp_path / "node-schedule.db", TZ, lambda: MORNING)
    receiver = ScheduleReceiver(ReceiverSettings(
        "127.0.0.1", broker.port, "vestibule-entrance-1-schedule", None, None, False, 15, TOPICS.core_status,
        TOPICS.core_schedule_all, str(cache.path), held_limit=len(today) + len(tomorrow) - 1), cache)
    cache.attach(receiver)
    receiver.start()  # the cache's worker not yet: nothing is judged, so the child holds what comes
    core = MqttClient("127.0.0.1", broker.port, "core", role="core")
    core.start()
    try:
        assert core.wait_connected(20)
        wait_until(lambda: receiver.pid, what="the receiver process started")
        core.publish(TOPICS.core_schedule(TODAY), today, qos=1, retain=True).wait_for_publish(20)  # the child may still be subscribing
        wait_until(lambda: receiver.held() == 1, 30, "today's snapshot held")
        core.publish(TOPICS.core_schedule(tomorrow_day), tomorrow, qos=1).wait_for_publish(20)
        wait_until(lambda: "is dropped" in caplog.text, 30, "tomorrow's refused, logged")
        assert any(r.levelno == logging.ERROR and f"core/schedule/{tomorrow_day}" in r.getMessage()
                   for r in caplog.records)
        assert receiver.held() == 1
        cache.start()
        wait_until(lambda: cache.day(TODAY) is not None and cache.idle(), 60, "today's taken")
        assert cache.day(TODAY).appointments == 15_000 and cache.day(tomorrow_day) is None
        assert receiver.held() == 0
    finally:
        core.stop()
        receiver.stop()
        cache.stop()


def test_a_small_snapshot_comes_inline_and_the_latest_version_is_taken(site):
    site.publish(snapshot_payload(TODAY, 4, ["BK-SMALL1"], MORNING))
    wait_until(lambda: site.version() == 4, 30, "the small snapshot cached")
    site.publish(snapshot_payload(TODAY, 3, ["BK-OLDER1"], MORNING))  # older, same online period
    wait_until(lambda: site.cache.ignored == 1, 30, "the older one judged")
    assert site.version() == 4 and site.cache.find_code(TODAY, "BK-OLDER1") is None


def test_the_receiver_killed_mid_snapshot_is_logged_and_restarted_and_the_cache_is_unchanged(site, caplog):
    site.publish(snapshot_payload(TODAY, 1, ["BK-KEEP01", "BK-KEEP02"], MORNING))  # retained
    wait_until(lambda: site.version() == 1, 30, "the first snapshot cached")
    before = site.cache.day(TODAY)
    first = site.receiver.pid
    # a large one, not retained (a restarted child must not simply get it again): killed while it is
    # handed over or indexed (indexing 60,000 rows takes seconds)
    site.publish(snapshot_payload(TODAY, 2, [f"BK-{i:06d}" for i in range(60_000)], MORNING), retain=False)
    wait_until(lambda: not site.cache.idle(), 60, "the large snapshot handed over")
    os.kill(first, signal.SIGKILL)

    wait_until(lambda: "the schedule receiver process ended" in caplog.text, 30, "the crash logged")
    assert any(r.levelno == logging.ERROR and "ended (exit code -9)" in r.getMessage() for r in caplog.records)
    wait_until(lambda: site.receiver.pid not in (None, first), 30, "another receiver started")
    assert site.receiver.restarts == 1 and _gone(first)
    wait_until(site.cache.idle, 30, "nothing left to judge")
    after = site.cache.day(TODAY)
    assert (after.version, after.appointments) == (before.version, before.appointments)
    assert site.cache.find_code(TODAY, "BK-000001") is None and site.cache.find_code(TODAY, "BK-KEEP02")

    # the new child's connection is a new period: the retained snapshot is taken again, then a new one
    wait_until(lambda: site.cache.taken == 2, 30, "the retained snapshot taken on the new connection")
    site.publish(snapshot_payload(TODAY, 3, [f"BK-{i:06d}" for i in range(5_000)], MORNING))
    wait_until(lambda: site.version() == 3, 60, "the next large snapshot cached by the new child")
    assert site.cache.day(TODAY).appointments == 5_000


def test_stopping_the_controller_ends_its_receiver_process(tmp_path, broker):
    config = make_config(tmp_path, broker.url)
    controller = build_controller(config)
    controller.start()
    try:
        pid = wait_until(lambda: controller.schedule_receiver.pid, 30, "the receiver process started")
        wait_until(lambda: controller.schedule_receiver.restarts == 0 and controller.schedule.idle(), 10)
    finally:
        controller.stop()
    assert _gone(pid), "the receiver process ended and was reaped"
    assert controller.schedule_receiver.pid is None


def test_a_receiver_stopped_before_its_child_is_up_still_ends_it(tmp_path, broker):
    cache = ScheduleCache(tmp_path / "s.db", TZ, lambda: MORNING)
    receiver = ScheduleReceiver(ReceiverSettings("127.0.0.1", broker.port, "early-stop", None, None, False, 15,
                                                 TOPICS.core_status, TOPICS.core_schedule_all, str(cache.path)),
                                cache)
    cache.attach(receiver)
    receiver.start()
    receiver.stop()  # at once: the child may still be starting
    cache.stop()
    assert receiver.pid is None
    children = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _parent(p) == os.getpid()
                and b"spawn_main" in (p / "cmdline").read_bytes()]
    assert children == []


def _parent(proc: Path) -> int | None:
    try:
        return int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def test_stopping_while_the_child_indexes_a_large_day_ends_it_within_seconds_and_the_cache_is_unchanged(
        tmp_path, broker, caplog):
    import subprocess
    import sys
    import time

    from kiosk.node.schedule_receiver import STOP_GRACE_S
    caplog.set_level(logging.INFO, logger="vestibule.schedule")
    s = Site(tmp_path, broker)
    hogs = []
    try:
        s.publish(snapshot_payload(TODAY, 1, ["BK-KEEP01"], MORNING))
        wait_until(lambda: s.version() == 1, 30, "the first snapshot cached")
        child = s.receiver.pid
        s.publish(snapshot_payload(TODAY, 2, [f"BK-{i:06d}" for i in range(60_000)], MORNING), retain=False)
        wait_until(lambda: not s.cache.idle(), 60, "the large snapshot handed over")
        # a saturated node: the child, on idle CPU time only, cannot finish indexing. The hogs run at
        # nice 19: above idle-time-only tasks, below everything else (tests running beside this one)
        hog = "import os, time\nos.nice(19)\nend = time.time() + 20\nwhile time.time() < end: pass"
        hogs = [subprocess.Popen([sys.executable, "-c", hog]) for _ in range(os.cpu_count() or 2)]
        started = time.monotonic()
        s.receiver.stop()
        took = time.monotonic() - started
        assert took < STOP_GRACE_S + 3, f"stop took {took:.1f} s"
        assert "the schedule receiver process was busy; ending it" in caplog.text
        assert _gone(child)
        wait_until(s.cache.idle, 30, "the ingest given up")
        assert s.version() == 1 and s.cache.find_code(TODAY, "BK-KEEP01")
        assert s.cache.find_code(TODAY, "BK-000001") is None
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
        s.core.stop()
        s.receiver.stop()
        s.cache.stop()
