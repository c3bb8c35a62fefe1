"""The kiosk's end-to-end rig: a real broker (the `broker` fixture), the stand-in core in-process,
the controller with a serial:// printer that is an EscposPrinterSim on a pty, and an MqttClient
playing the kiosk UI. Deadlines are generous (a loaded 2-core CI machine); waits poll, never sleep
a fixed time.
"""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable
from zoneinfo import ZoneInfo

import foundation.clock
from devices.printer import escpos_parser as ep
from devices.printer.sim import EscposPrinterSim
from kiosk.app import build_controller
from mqtt.client import MqttClient
from booking_core.service import DevCore
from tests.conftest import make_config

TZ = ZoneInfo("Europe/Moscow")
KIOSK = "kiosk-1"
MORNING = datetime(2026, 11, 23, 10, 0, tzinfo=TZ)  # a Monday; "Доброе утро!"
WAIT = 20.0


class RecordingPrinterSim(EscposPrinterSim):
    """The printer simulator, also keeping the raw bytes it received, so tests can check the
    command stream itself (code page switches, double-byte mode) and not only the decoded text."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.raw = bytearray()
        self._raw_lock = threading.Lock()

    def on_bytes(self, data: bytes) -> None:
        with self._raw_lock:
            self.raw += data
        super().on_bytes(data)

    def jobs(self) -> list[list[ep.Event]]:
        """Parser events of every printed job (up to and including its cut)."""
        with self._raw_lock:
            data = bytes(self.raw)
        codepages = {**ep.codepage_table(None), 17: "cp866"}
        jobs, current = [], []
        for event in ep.parse(data, codepages=codepages):
            if event.kind in (ep.STATUS_REQUEST, ep.ASB):
                continue
            current.append(event)
            if event.kind == ep.CUT:
                jobs.append(current)
                current = []
        return jobs


@dataclass
class Clock(foundation.clock.Clock):
    """A settable wall clock shared by the core (which calls it) and the controller (clock.now())."""
    at: datetime

    def __call__(self) -> datetime:
        return self.at.astimezone(TZ)

    def now(self) -> datetime:
        return self()

    def advance(self, **delta) -> None:
        self.at = self.at + timedelta(**delta)


def wait_until(predicate: Callable[[], object], timeout: float = WAIT, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@dataclass
class KioskEnv:
    tmp: Path
    broker: object
    clock: Clock
    printer_options: dict = field(default_factory=lambda: {"scripts": ["latin", "cyrillic", "cjk"],
                                                           "cyrillic_codepage": 17})
    config_overrides: dict = field(default_factory=dict)
    core_options: dict = field(default_factory=dict)  # DevCore keywords, e.g. day_size for a large day
    startup_wait: float = WAIT
    second_kiosk: bool = False  # a kiosk-2 configured too (its scanner), sharing the only printer
    core: DevCore | None = None
    controller: object = None
    ui: MqttClient | None = None
    sim: RecordingPrinterSim | None = None
    extra_uis: list = field(default_factory=list)

    def start(self) -> "KioskEnv":
        self.sim = RecordingPrinterSim(link_path=str(self.tmp / "printer-1"))
        self.sim.start()
        devices = {"printer-1": {"kind": "printer", "protocol": "escpos", "url": f"serial://{self.sim.link_path}",
                                 "role": KIOSK, "options": self.printer_options}}
        if self.second_kiosk:  # a kiosk is configured by a device serving it (kiosk/node/known_clients.py)
            devices["scanner-2"] = {"kind": "scanner", "protocol": "cdc", "url": "sim://scanner", "role": "kiosk-2"}
        self.config = make_config(self.tmp, self.broker.url, devices=devices, **self.config_overrides)
        self.start_core()
        self.controller = build_controller(self.config, clock=self.clock)
        self.controller.start()
        self.ui = self.new_ui("kiosk-ui-1")
        wait_until(lambda: self.controller.client.connected.is_set(), what="controller connected")
        wait_until(lambda: self.controller.relay.core_online, what="core online at the controller")
        wait_until(lambda: self.controller.schedule.day(self.today()), self.startup_wait, what="schedule cached")
        wait_until(lambda: self.printer_ready(), what="printer ready")
        return self

    def start_core(self) -> DevCore:
        self.core = DevCore(self.config, self.tmp / "core.db", demo=True, call_interval_s=None, seed=7,
                            clock=self.clock, **self.core_options)
        self.core.start()
        assert self.core.wait_ready(self.startup_wait), "stand-in core did not come up"
        return self.core

    def stop_core(self) -> None:
        self.core.stop()
        self.core = None
        wait_until(lambda: not self.controller.relay.core_online, what="core offline at the controller")

    def new_ui(self, client_id: str) -> MqttClient:
        ui = MqttClient("127.0.0.1", self.broker.port, client_id, role="kiosk",
                        reply_topic=self.controller.topics.reply("kiosk", client_id))
        ui.start()
        assert ui.wait_connected(WAIT)
        if self.ui is not None:
            self.extra_uis.append(ui)
        return ui

    @property
    def flow(self):
        return self.controller.feature("lobby").flow

    def printer_ready(self) -> bool:
        return any(s.device == "printer-1" and s.state.value == "ready" for s in self.controller.devices.statuses())

    def today(self):
        return self.clock().date()

    def stop(self) -> None:
        for ui in [self.ui, *self.extra_uis]:
            if ui:
                ui.stop()
        if self.controller:
            self.controller.stop()
        if self.core:
            self.core.stop()
        if self.sim:
            self.sim.stop()

    # -- driving ------------------------------------------------------------------------------
    def command(self, name: str, body: dict, ui: MqttClient | None = None, timeout: float = WAIT):
        body = {"kiosk": KIOSK, **body}
        return (ui or self.ui).request(self.controller.topics.command(name), body, timeout)

    def ok(self, name: str, body: dict, **kwargs) -> dict:
        answer = self.command(name, body, **kwargs)
        assert answer.status == "ok", f"{name} answered {answer}"
        return answer.data

    def error(self, name: str, body: dict, **kwargs):
        answer = self.command(name, body, **kwargs)
        assert answer.status == "error", f"{name} answered {answer}"
        return answer.error

    def booking(self, *, minutes: float = 5, cached: bool = True, **kwargs):
        """A booking starting `minutes` from now, off the 15-minute grid (never clashes with the demo
        day); waits until the node's cached schedule holds it (not for other sites' bookings)."""
        seconds = getattr(self, "_off_grid", 7) + 1
        self._off_grid = seconds
        start = self.clock() + timedelta(minutes=minutes, seconds=seconds)
        appointment = self.core.add_appointment(start=start, **kwargs)
        if cached:
            wait_until(lambda: self.controller.schedule.find_code(self.today(), appointment.booking),
                       what="booking in the node's cached schedule")
        return appointment

    # -- observing ----------------------------------------------------------------------------
    def events(self, event_type: str | None = None, core: DevCore | None = None) -> list:
        inbox = (core or self.core).inbox()
        return [e for e in inbox if event_type is None or e.type == event_type]

    def wait_events(self, event_type: str, count: int = 1, predicate=lambda e: True, timeout: float = WAIT) -> list:
        return wait_until(lambda: (lambda found: found if len(found) >= count else None)(
            [e for e in self.events(event_type) if predicate(e)]), timeout, f"{count} {event_type} event(s)")

    def printed(self) -> int:
        return len(self.sim.documents)

    def next_document(self, before: int):
        """The document printed after `before` documents (waits for it)."""
        return self.documents(before + 1)[before]

    def documents(self, count: int) -> list:
        docs = self.sim.wait_for_documents(count, timeout=WAIT)
        assert len(docs) >= count, f"printer has {len(docs)} documents, expected {count}"
        return docs


@contextmanager
def kiosk_env(tmp_path: Path, broker, at: datetime | None = None, **kwargs):
    env = KioskEnv(tmp_path, broker, Clock(at or MORNING), **kwargs)
    try:
        yield env.start()
    finally:
        env.stop()


def node_rows(controller) -> str:
    """Every row of the node's store except the cached schedule, as text (for privacy checks)."""
    store = controller.store
    out = []
    for table in store.db.table_names():
        if table in ("schedule", "replies"):  # the cached day; first answers kept an hour for retries
            continue
        for row in store.query(f'SELECT * FROM "{table}"'):
            out.append(repr(row))
    return "\n".join(out)
