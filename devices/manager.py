"""The device manager: opens every configured device, keeps it open, reports what happens.

One thread per streaming device (oximeter, thermometer, scanner) and one worker per printer.
A device that is unplugged is closed, retried with backoff (cut short by a udev `add` event),
and re-initialised by its driver's open(). Status changes go to `on_status`; each problem that
appears or clears goes to `on_problem`; readings go to `on_reading`. Drivers never see MQTT.
"""
from __future__ import annotations

import logging
import queue
import tempfile
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from devices import registry
from devices.base import Device, StreamingDevice
from devices.errors import DeviceError
from devices.hotplug import HotplugMonitor
from devices.status import DISCONNECTED, DeviceStatus
from devices.url import DeviceURL, parse_device_url

log = logging.getLogger("vestibule.devices")

BACKOFF_S = (0.5, 1, 2, 4, 8)
CALL_WAIT_S = 30.0  # show_call's bound for all boards together (queue_call does not wait)
# Let a streaming device's bytes gather in the kernel buffer between reads: an oximeter sends 60
# packets a second, screens show 4; waking once per packet would cost CPU for nothing.
READ_BATCH_S = 0.1


@dataclass
class Managed:
    device_id: str
    kind: str
    protocol: str
    driver: Device
    rooms: list[str] = field(default_factory=list)
    role: str | None = None
    status: DeviceStatus | None = None
    thread: threading.Thread | None = None
    jobs: "queue.Queue[tuple[bytes, Future]] | None" = None
    opened: bool = False
    reported: set = field(default_factory=set)  # problems announced and not yet cleared
    recheck: threading.Event = field(default_factory=threading.Event)  # a board's job just failed


@dataclass(frozen=True)
class PrintResult:
    printed: bool
    problems: tuple[str, ...]
    reason: str = ""


class DeviceManager:
    def __init__(self, config, *, on_status: Callable[[DeviceStatus], None] | None = None,
                 on_problem: Callable[[str, str, str, bool], None] | None = None,
                 on_reading: Callable[[str, Any], None] | None = None, sim_dir: str | None = None):
        self.config = config
        self.on_status = on_status or (lambda s: None)
        self.on_problem = on_problem or (lambda *a: None)
        self.on_reading = on_reading or (lambda *a: None)
        self.devices: dict[str, Managed] = {}
        self.simulators: dict[str, Any] = {}  # device id (or line name) -> simulator, for sim:// URLs
        self._sim_dir = Path(sim_dir or tempfile.mkdtemp(prefix="vestibule-devices-"))
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._hotplug = HotplugMonitor(lambda node: self._wake.set())
        self._lock = threading.Lock()

    # -- building ---------------------------------------------------------------------------
    def _resolve_url(self, device_id: str, kind: str, protocol: str, url: DeviceURL) -> DeviceURL:
        """sim:// starts the protocol's simulator here and points the driver at its pty."""
        if url.scheme != "sim":
            return url
        key = url.option("line") or device_id  # boards on one line share one simulated line
        sim = self.simulators.get(key)
        if sim is None:
            settings = {}
            if kind == "display":
                addresses = [str(d.options.get("address", "01" if protocol == "alpha" else 1))
                             for d in self.config.devices.values()
                             if d.kind == "display" and parse_device_url(d.url).option("line") == url.option("line")]
                settings["addresses"] = ",".join(addresses)
            sim = registry.simulator_class(kind, protocol)(link_path=str(self._sim_dir / key), **settings)
            sim.start()
            self.simulators[key] = sim
        if device_id != key:
            self.simulators.setdefault(device_id, sim)
        return parse_device_url(f"serial://{sim.link_path}")

    def build(self) -> None:
        for device_id, cfg in self.config.devices.items():
            url = self._resolve_url(device_id, cfg.kind, cfg.protocol, parse_device_url(cfg.url))
            cls = registry.driver_class(cfg.kind, cfg.protocol)
            driver = cls(device_id, url, dict(cfg.options))
            self.devices[device_id] = Managed(device_id, cfg.kind, cfg.protocol, driver, list(cfg.rooms), cfg.role)

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        if not self.devices:
            self.build()
        self._hotplug.start()
        for managed in self.devices.values():
            self._set_status(managed, DeviceStatus.offline(managed.device_id, managed.kind), initial=True)
            if isinstance(managed.driver, StreamingDevice):
                target = self._stream_loop
            elif managed.kind == "printer":
                managed.jobs = queue.Queue()
                target = self._printer_loop
            else:
                target = self._passive_loop
            managed.thread = threading.Thread(target=target, args=(managed,), daemon=True,
                                              name=f"dev-{managed.device_id}")
            managed.thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._hotplug.stop()
        for managed in self.devices.values():
            managed.recheck.set()
            if managed.jobs is not None:
                managed.jobs.put((b"", Future()))  # unblock the worker
        for managed in self.devices.values():
            if managed.thread:
                managed.thread.join(timeout=5)
            try:
                managed.driver.close()
            except Exception:
                pass
        for sim in {id(s): s for s in self.simulators.values()}.values():
            sim.stop()

    def healthy(self) -> bool:
        return all(m.thread is None or m.thread.is_alive() for m in self.devices.values())

    def statuses(self) -> list[DeviceStatus]:
        return [m.status for m in self.devices.values() if m.status is not None]

    def of_kind(self, kind: str, role: str | None = None) -> list[str]:
        return [m.device_id for m in self.devices.values()
                if m.kind == kind and (role is None or m.role in (None, role))]

    # -- status ------------------------------------------------------------------------------
    def _set_status(self, managed: Managed, status: DeviceStatus, initial: bool = False) -> None:
        """Publish a changed status; report each problem once when it appears and once when it clears.

        The initial "offline until opened" is not a problem; a failed first open is."""
        previous = managed.status
        managed.status = status
        if not initial:
            now = set(status.problems)
            for problem in sorted(now - managed.reported):
                log.warning("%s: %s", managed.device_id, problem)
                self._safe(self.on_problem, managed.device_id, managed.kind, problem, False)
            for problem in sorted(managed.reported - now):
                log.info("%s: %s cleared", managed.device_id, problem)
                self._safe(self.on_problem, managed.device_id, managed.kind, problem, True)
            managed.reported = now
        if previous != status or initial:
            self._safe(self.on_status, status)

    def _refresh(self, managed: Managed) -> None:
        self._set_status(managed, managed.driver.status())

    @staticmethod
    def _safe(fn, *args) -> None:
        try:
            fn(*args)
        except Exception:
            log.exception("device callback failed")

    # -- connection --------------------------------------------------------------------------
    def _connect(self, managed: Managed) -> bool:
        """Open (and initialise) with backoff until it works or we stop."""
        attempt = 0
        while not self._stop.is_set():
            try:
                managed.driver.open()
                managed.opened = True
                log.info("%s (%s/%s) ready on %s", managed.device_id, managed.kind, managed.protocol,
                         managed.driver.url)
                self._refresh(managed)
                return True
            except DeviceError as exc:
                if attempt == 0:
                    log.warning("%s: cannot open: %s", managed.device_id, exc)
                self._disconnected(managed)
            delay = BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)]
            attempt += 1
            self._wake.wait(delay)
            self._wake.clear()
        return False

    def _disconnected(self, managed: Managed) -> None:
        try:
            managed.driver.close()
        except Exception:
            pass
        managed.opened = False
        self._set_status(managed, DeviceStatus.offline(managed.device_id, managed.kind))

    def _stream_loop(self, managed: Managed) -> None:
        driver: StreamingDevice = managed.driver  # type: ignore[assignment]
        while not self._stop.is_set():
            if not managed.opened and not self._connect(managed):
                return
            try:
                readings = driver.read(0.5)
                for reading in readings:
                    self._safe(self.on_reading, managed.device_id, reading)
                self._refresh(managed)
                if readings:
                    self._stop.wait(READ_BATCH_S)
            except DeviceError as exc:
                log.warning("%s lost: %s", managed.device_id, exc)
                self._disconnected(managed)
            except Exception:
                log.exception("%s: driver failed; reconnecting", managed.device_id)
                self._disconnected(managed)

    def _passive_loop(self, managed: Managed) -> None:
        # Boards: open, then re-check every few seconds so one that stops answering is reported.
        while not self._stop.is_set():
            if not managed.opened and not self._connect(managed):
                return
            self._refresh(managed)
            if managed.status and managed.status.state.value == "offline":
                self._disconnected(managed)
            managed.recheck.wait(5)  # or sooner, when a call to the board failed
            managed.recheck.clear()

    # -- printers ----------------------------------------------------------------------------
    def print_now(self, device_id: str, data: bytes, timeout: float = 15.0) -> PrintResult:
        """Queue a job on the printer's worker and wait for the outcome."""
        managed = self.devices.get(device_id)
        if managed is None or managed.jobs is None:
            return PrintResult(False, (), f"no printer {device_id!r}")
        future: Future = Future()
        managed.jobs.put((data, future))
        try:
            return future.result(timeout=timeout)
        except TimeoutError:
            return PrintResult(False, tuple(managed.status.problems if managed.status else ()), "timeout")

    def _printer_loop(self, managed: Managed) -> None:
        while not self._stop.is_set():
            if not managed.opened:
                self._connect(managed)
            try:
                data, future = managed.jobs.get(timeout=5)
            except queue.Empty:
                if managed.opened:
                    try:
                        managed.driver.query_status()
                        self._refresh(managed)
                    except DeviceError:
                        self._disconnected(managed)
                continue
            if self._stop.is_set():
                future.set_result(PrintResult(False, (), "stopping"))
                return
            future.set_result(self._print_one(managed, data))

    def _print_one(self, managed: Managed, data: bytes) -> PrintResult:
        if not managed.opened:
            return PrintResult(False, (DISCONNECTED,), "printer offline")
        try:
            outcome = managed.driver.print_job(data)
        except DeviceError as exc:
            self._disconnected(managed)
            return PrintResult(False, (DISCONNECTED,), str(exc))
        self._refresh(managed)
        return PrintResult(bool(outcome.printed), tuple(outcome.problems), getattr(outcome, "reason", "") or "")

    # -- boards ------------------------------------------------------------------------------
    def queue_call(self, room: str, ticket: str) -> list[tuple[str, Future]]:
        """Queue a call on every open board serving the room and return at once: (board id, Future)
        pairs. Each board's frame waits on its own serial line only, so a board that stops
        answering delays its own line; a Future resolves when its board took the frame, or holds
        the DeviceError. The caller waits with its own bound (or not at all)."""
        queued: list[tuple[str, Future]] = []
        for managed in self.devices.values():
            if managed.kind != "display" or room not in managed.rooms or not managed.opened:
                continue
            try:
                future = managed.driver.show_call(ticket, room)
            except ValueError as exc:  # the board cannot show this call at all (text, number)
                log.warning("%s cannot show call %s to room %s: %s", managed.device_id, ticket, room, exc)
                continue
            except DeviceError as exc:
                log.warning("%s did not take call %s: %s", managed.device_id, ticket, exc)
                managed.recheck.set()
                continue
            future.add_done_callback(lambda f, m=managed: self._call_done(m, ticket, f))
            queued.append((managed.device_id, future))
        return queued

    def show_call(self, room: str, ticket: str, timeout: float = CALL_WAIT_S) -> list[str]:
        """Show a call on every board serving the room, waiting at most `timeout` seconds for all
        of them together; returns the ids of the boards that took it."""
        deadline = time.monotonic() + timeout
        shown = []
        for device_id, future in self.queue_call(room, ticket):
            try:
                future.result(timeout=max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                log.warning("%s has not shown call %s within %.0f s", device_id, ticket, timeout)
                continue
            except DeviceError:
                continue  # logged by _call_done
            except Exception:  # a driver's bug must not reach the caller's handler
                log.exception("%s failed on call %s", device_id, ticket)
                continue
            shown.append(device_id)
        return shown

    def _call_done(self, managed: Managed, ticket: str, future: Future) -> None:
        """On the board's line worker: keep it short. A failed board is looked at by its own loop."""
        if future.cancelled():
            return
        exc = future.exception()
        if exc is not None:
            log.warning("%s did not take call %s: %s", managed.device_id, ticket, exc)
            managed.recheck.set()
