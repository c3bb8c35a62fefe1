"""PrintQueue rules over the in-memory store: nothing leaves the store except by printing,
order is kept, failures are reported. A scripted stand-in printer gives the outcomes here;
test_printer_driver.py runs the queue on the real driver against the simulator.
"""
from __future__ import annotations

import pytest

from devices.errors import DeviceUnavailable
from devices.printer.driver import PrintOutcome
from devices.printer.queue import MemoryJobStore, PrintQueue
from devices.status import DeviceStatus


class ScriptedPrinter:
    """Answers print_job from a list of outcomes (or exceptions); records what it was given."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.given: list[bytes] = []

    def print_job(self, data: bytes) -> PrintOutcome:
        self.given.append(data)
        answer = self.answers.pop(0) if self.answers else PrintOutcome(True)
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_printed_job_leaves_the_store_and_is_reported():
    events = []
    queue = PrintQueue(ScriptedPrinter(PrintOutcome(True)), on_event=lambda *e: events.append(e))
    job_id, report = queue.submit(b"ticket", {"ticket": "A001"}, job_id="j1")
    assert (job_id, report.printed, report.pending) == ("j1", ("j1",), 0)
    assert events == [("printed", "j1", "")]
    assert queue.store.printed == ["j1"]


def test_refused_job_stays_with_its_reason_and_attempt_count():
    queue = PrintQueue(ScriptedPrinter(PrintOutcome(False, ("paper_out",))))
    _, report = queue.submit(b"ticket", job_id="j1")
    assert report.failed == (("j1", "paper_out"),) and report.pending == 1
    [job] = queue.pending()
    assert (job.job_id, job.data, job.attempts, job.last_error) == ("j1", b"ticket", 1, "paper_out")


def test_device_errors_keep_the_job_and_name_the_error():
    queue = PrintQueue(ScriptedPrinter(DeviceUnavailable("printer on /dev/x disconnected")))
    _, report = queue.submit(b"t", job_id="j1")
    assert report.failed == (("j1", "DeviceUnavailable: printer on /dev/x disconnected"),)
    assert [j.job_id for j in queue.pending()] == ["j1"]


def test_after_a_failure_later_jobs_wait_and_all_print_in_order_on_retry():
    printer = ScriptedPrinter(PrintOutcome(False, ("cover_open",)))
    queue = PrintQueue(printer)
    queue.submit(b"first", job_id="a")
    queue.submit(b"second", job_id="b")  # queue.drain tries "a" again first: printed now
    assert printer.given == [b"first", b"first", b"second"]
    assert queue.pending() == []


def test_retry_waits_for_a_status_that_can_print():
    printer = ScriptedPrinter(PrintOutcome(False, ("paper_out",)))
    queue = PrintQueue(printer)
    queue.submit(b"x", job_id="a")
    assert queue.on_status(DeviceStatus.from_problems("p", "printer", ["paper_out"])) is None
    assert queue.on_status(DeviceStatus.offline("p", "printer")) is None
    report = queue.on_status(DeviceStatus.from_problems("p", "printer", ["paper_near_end"]))
    assert report.printed == ("a",)


def test_a_sent_but_unconfirmed_job_is_kept_rather_than_lost():
    queue = PrintQueue(ScriptedPrinter(PrintOutcome(False, ("paper_out",), sent=True)))
    _, report = queue.submit(b"x", job_id="a")
    assert report.pending == 1


def test_store_refuses_duplicate_job_ids():
    store = MemoryJobStore()
    store.add("a", b"x", {})
    with pytest.raises(ValueError):
        store.add("a", b"y", {})
