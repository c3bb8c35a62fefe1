"""Receipts and tickets on the kiosk's printer, and the record of every print job.

The layout and the ESC/POS bytes come from devices/printer (layout.py, render.py); this module
fills the documents from the kiosk's facts, picks the kiosk's printer and records the outcome.

Print policy: a job that did not print (paper out, cover open, printer gone) is kept in
`print_jobs` as failed with the reason; the ticket itself is issued and the screen shows the
number. It is NOT reprinted by itself when the printer comes back: a receipt appearing minutes
later for a patient who already left is waste, and whoever stands at the kiosk then would take
someone else's receipt (masked name and booking QR). Staff can reprint a failed job on request
(`reprint`), which is why its bytes are kept while it is failed and dropped once printed or purged.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime

from devices.printer.layout import (Feed, ReceiptDoc, Separator, Text, TicketDoc, labels, receipt_layout,
                                    ticket_layout)
from devices.printer.options import PrinterOptions
from devices.printer.render import render
from devices.url import parse_device_url
from foundation.store import Store

log = logging.getLogger("vestibule.kiosk.print")

PRINT_TIMEOUT_S = 10.0
ROUTE_NOTES = {"registration": "registration_first", "box": "isolation_box", "doctor": "go_to_room"}


def _create(db) -> None:
    db.execute("""CREATE TABLE IF NOT EXISTS print_jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT, day TEXT NOT NULL, created_at TEXT NOT NULL,
        kind TEXT NOT NULL, ticket TEXT, kiosk TEXT, device TEXT, status TEXT NOT NULL,
        reason TEXT, attempts INTEGER NOT NULL DEFAULT 1, data BLOB)""")
    db.execute("CREATE INDEX IF NOT EXISTS print_jobs_status ON print_jobs (status, day)")


@dataclass(frozen=True)
class PrintJob:
    kiosk: str
    kind: str  # "receipt" | "ticket"
    ticket: str | None
    device: str | None
    data: bytes | None  # None: nothing to send (no printer, or rendering failed: see problem)
    problem: str = ""


@dataclass(frozen=True)
class PrintOutcome:
    printed: bool
    device: str | None
    reason: str
    job_id: int | None = None


def receipt_blocks(*, number: str, lang: str, patient: str, doctor: str, specialty: str, room: str,
                   floor: int | None, start: datetime, booking: str, route: str, greeting: str, site: str,
                   first_stop: str = "", ahead: int | None = None, wait_minutes: float | None = None) -> list:
    doc = ReceiptDoc(number=number, patient_name=patient, doctor_name=doctor, specialty=specialty, room=room,
                     appointment_at=start, booking_code=booking, lang=lang,
                     floor="" if floor is None else str(floor), route_note=ROUTE_NOTES[route],
                     greeting=greeting, site=site, first_stop=first_stop, people_ahead=ahead,
                     wait_minutes=wait_minutes)
    return receipt_layout(doc)


def ticket_blocks(*, number: str, lang: str, service: str, issued_at: datetime, priority: bool, ahead: int,
                  greeting: str, site: str, room: str | None, floor: int | None, doctor: str | None,
                  wait_minutes: float | None = None) -> list:
    doc = TicketDoc(number=number, service=service, issued_at=issued_at, lang=lang, priority=priority,
                    people_ahead=ahead, wait_minutes=wait_minutes, greeting=greeting, site=site)
    blocks = ticket_layout(doc)
    # TicketDoc has no directions: they go in right after the service line.
    t = labels(lang)
    extra = []
    if doctor:
        extra.append(Text(f"{t['doctor']}: {doctor}", align="center"))
    if room:
        where = f"{t['room']} {room}"
        if floor is not None:
            where += f", {floor} {t['floor']}" if lang == "zh" else f", {t['floor']} {floor}"
        extra.append(Text(where, align="center", size="tall", bold=True))
    at = next((i for i, b in enumerate(blocks) if isinstance(b, Feed)), None)
    if at is None:
        at = max(i for i, b in enumerate(blocks) if isinstance(b, Separator))
    return blocks[:at] + extra + blocks[at:]


class Printing:
    def __init__(self, devices, printers: dict, store: Store):
        self.devices = devices  # the device manager: statuses() and print_now()
        self.printers = printers  # printer id -> its DeviceConfig
        self.store = store
        self._options: dict[str, PrinterOptions] = {}
        self._lock = threading.Lock()

    def printer_for(self, kiosk: str) -> str | None:
        """The printer whose role is this kiosk, else the node's only printer."""
        printers = self.printers
        own = sorted(d for d, cfg in printers.items() if cfg.role == kiosk)
        if own:
            return own[0]
        return next(iter(printers)) if len(printers) == 1 else None

    def options(self, device: str) -> PrinterOptions:
        with self._lock:
            if device not in self._options:
                cfg = self.printers[device]
                # as the driver does: options in the URL query, overridden by the config section
                merged = {**parse_device_url(cfg.url).options, **cfg.options}
                self._options[device] = PrinterOptions.from_mapping(merged)
            return self._options[device]

    def state(self, kiosk: str) -> dict:
        """The kiosk printer's state for the UI: ready / degraded / fault / offline / none."""
        device = self.printer_for(kiosk)
        if device is None:
            return {"device": None, "state": "none", "problems": []}
        for status in self.devices.statuses():
            if status.device == device:
                return {"device": device, "state": status.state.value, "problems": list(status.problems)}
        return {"device": device, "state": "offline", "problems": []}

    def prepare(self, kiosk: str, kind: str, ticket: str | None, blocks: list) -> PrintJob:
        """Choose the printer and render the bytes (no I/O: may run while the core is asked)."""
        device = self.printer_for(kiosk)
        if device is None:
            return PrintJob(kiosk, kind, ticket, None, None, "no printer serves this kiosk")
        try:
            return PrintJob(kiosk, kind, ticket, device, render(blocks, self.options(device)))
        except Exception:  # a layout the renderer cannot draw must not cost the patient the ticket
            log.exception("rendering %s %s failed", kind, ticket)
            return PrintJob(kiosk, kind, ticket, device, None, "render_failed")

    def send(self, job: PrintJob, now: datetime) -> PrintOutcome:
        """Print a prepared job and record the outcome in print_jobs."""
        if job.data is None:
            return self._record(now, job.kind, job.ticket, job.kiosk, job.device, False, job.problem, None)
        result = self.devices.print_now(job.device, job.data, timeout=PRINT_TIMEOUT_S)
        reason = "" if result.printed else (result.reason or ",".join(result.problems) or "not printed")
        if not result.printed:
            log.warning("%s %s not printed on %s: %s", job.kind, job.ticket, job.device, reason)
        return self._record(now, job.kind, job.ticket, job.kiosk, job.device, result.printed, reason,
                            None if result.printed else job.data)

    def print_blocks(self, kiosk: str, kind: str, ticket: str | None, blocks: list, now: datetime) -> PrintOutcome:
        return self.send(self.prepare(kiosk, kind, ticket, blocks), now)

    def _record(self, now, kind, ticket, kiosk, device, printed, reason, data) -> PrintOutcome:
        with self.store.transaction() as tx:
            job = tx.insert("print_jobs", {
                "day": now.date().isoformat(), "created_at": now.isoformat(), "kind": kind, "ticket": ticket,
                "kiosk": kiosk, "device": device, "status": "printed" if printed else "failed",
                "reason": reason or None, "data": data})
        return PrintOutcome(printed, device, reason, job)

    # -- staff side ----------------------------------------------------------------------------------
    def failed_jobs(self) -> list[dict]:
        return self.store.query("SELECT id, day, created_at, kind, ticket, kiosk, device, reason, attempts "
                                "FROM print_jobs WHERE status = 'failed' ORDER BY id")

    def reprint(self, job_id: int) -> PrintOutcome:
        """Print a failed job again, on request (never automatically: see the module's note)."""
        rows = self.store.query("SELECT device, kiosk, data FROM print_jobs WHERE id = ? AND status = 'failed'",
                                (job_id,))
        if not rows or rows[0]["data"] is None or rows[0]["device"] is None:
            return PrintOutcome(False, None, "no such failed job")
        device, data = rows[0]["device"], rows[0]["data"]
        result = self.devices.print_now(device, data, timeout=PRINT_TIMEOUT_S)
        reason = "" if result.printed else (result.reason or ",".join(result.problems) or "not printed")
        with self.store.transaction() as tx:
            if result.printed:
                tx.execute("UPDATE print_jobs SET status = 'printed', reason = NULL, data = NULL, "
                           "attempts = attempts + 1 WHERE id = ?", (job_id,))
            else:
                tx.execute("UPDATE print_jobs SET reason = ?, attempts = attempts + 1 WHERE id = ?",
                           (reason, job_id))
        return PrintOutcome(result.printed, device, reason, job_id)

    def purge(self, before_day: str) -> int:
        with self.store.transaction() as tx:
            return tx.execute("DELETE FROM print_jobs WHERE day < ?", (before_day,)).rowcount
