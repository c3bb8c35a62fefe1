"""PrintQueue: a job that did not print stays queued, is reported, and is retried; never dropped.

Jobs live in a JobStore (memory here; the controller supplies a SQLite one with the same four
methods). The only way out of the store is mark_printed(). Jobs print in the order they were
added; after a failure the queue stops (the printer is the problem, not the job) and waits for
drain() to be called again - the controller does that when the printer reports ready.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Protocol

from devices.errors import DeviceError
from devices.status import DeviceState, DeviceStatus


@dataclass
class PrintJob:
    job_id: str
    data: bytes
    meta: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0
    last_error: str | None = None


class JobStore(Protocol):
    def add(self, job_id: str, data: bytes, meta: Mapping[str, Any]) -> None: ...

    def pending(self) -> list[PrintJob]:
        """Jobs not yet printed, oldest first."""
        ...

    def mark_printed(self, job_id: str) -> None: ...

    def mark_failed(self, job_id: str, reason: str) -> None:
        """Record a failed attempt; the job stays pending."""
        ...


class MemoryJobStore:
    def __init__(self) -> None:
        self._jobs: dict[str, PrintJob] = {}  # insertion order = print order
        self.printed: list[str] = []

    def add(self, job_id: str, data: bytes, meta: Mapping[str, Any]) -> None:
        if job_id in self._jobs or job_id in self.printed:
            raise ValueError(f"print job {job_id!r} already exists")
        self._jobs[job_id] = PrintJob(job_id, bytes(data), dict(meta))

    def pending(self) -> list[PrintJob]:
        return list(self._jobs.values())

    def mark_printed(self, job_id: str) -> None:
        if self._jobs.pop(job_id, None) is not None:
            self.printed.append(job_id)

    def mark_failed(self, job_id: str, reason: str) -> None:
        job = self._jobs.get(job_id)
        if job is not None:
            job.attempts += 1
            job.last_error = reason


class JobPrinter(Protocol):
    def print_job(self, data: bytes): ...  # -> PrintOutcome(printed, problems)


@dataclass(frozen=True)
class QueueReport:
    printed: tuple[str, ...] = ()
    failed: tuple[tuple[str, str], ...] = ()  # (job_id, reason)
    pending: int = 0


# on_event(event, job_id, detail): "printed" | "not_printed", detail is the reason or "".
EventCallback = Callable[[str, str, str], None]


class PrintQueue:
    def __init__(self, printer: JobPrinter, store: JobStore | None = None,
                 on_event: EventCallback | None = None):
        self.printer = printer
        self.store = store if store is not None else MemoryJobStore()
        self.on_event = on_event

    def submit(self, data: bytes, meta: Mapping[str, Any] | None = None,
               job_id: str | None = None) -> tuple[str, QueueReport]:
        """Store the job first (so it survives anything that follows), then try to print."""
        job_id = job_id or uuid.uuid4().hex
        self.store.add(job_id, data, dict(meta or {}))
        return job_id, self.drain()

    def drain(self) -> QueueReport:
        printed: list[str] = []
        failed: list[tuple[str, str]] = []
        for job in self.store.pending():
            reason = self._try(job)
            if reason is None:
                self.store.mark_printed(job.job_id)
                printed.append(job.job_id)
                self._report("printed", job.job_id, "")
                continue
            self.store.mark_failed(job.job_id, reason)
            failed.append((job.job_id, reason))
            self._report("not_printed", job.job_id, reason)
            break  # keep the order; the printer needs attention first
        return QueueReport(tuple(printed), tuple(failed), len(self.store.pending()))

    def on_status(self, status: DeviceStatus) -> QueueReport | None:
        """Call on every printer status change: retries queued jobs once it can print again."""
        if status.state in (DeviceState.READY, DeviceState.DEGRADED) and self.store.pending():
            return self.drain()
        return None

    def pending(self) -> list[PrintJob]:
        return self.store.pending()

    def _try(self, job: PrintJob) -> str | None:
        """None when printed, else why not."""
        try:
            outcome = self.printer.print_job(job.data)
        except DeviceError as exc:
            return f"{type(exc).__name__}: {exc}"
        if outcome.printed:
            return None
        return ",".join(outcome.problems) or "not printed"

    def _report(self, event: str, job_id: str, detail: str) -> None:
        if self.on_event is not None:
            self.on_event(event, job_id, detail)
