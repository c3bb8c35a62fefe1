"""Base for simulators: a raw pty served by a thread, behind a stable symlink like udev's.

The driver opens `link_path` (as it would open /dev/vestibule/oximeter-1). `unplug()` closes the
pty and removes the link, so the driver's next read raises SerialException exactly as it does when
a USB cable is pulled; `replug()` makes a fresh pty and points the link at it again.

Live settings: a simulator declares `SETTINGS` (key -> Setting) for what a test or a technician
changes while it runs (a patient's SpO2, where a thermometer points). `set(**values)` checks every
key and value first and applies all of them or none; `vestibule sim ... --set k=v` uses it at
start, and a running `vestibule sim` takes `set k=v ...` lines on its stdin.
"""
from __future__ import annotations

import os
import select
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from devices.pty import PtyPair, open_raw_pty


@dataclass(frozen=True)
class Setting:
    """One live setting: what it means, and how a value (typed or from a command line) is checked."""
    help: str
    convert: Callable[[Any], Any]  # the value to apply, or ValueError saying what was expected


def int_in(lo: int, hi: int) -> Callable[[Any], int]:
    def convert(value: Any) -> int:
        number = None
        if not isinstance(value, bool):  # True is not a pulse
            try:
                number = int(value) if not isinstance(value, float) or value.is_integer() else None
            except (TypeError, ValueError):
                pass
        if number is None or not lo <= number <= hi:
            raise ValueError(f"expected a whole number {lo}..{hi}, got {value!r}")
        return number
    return convert


def float_in(lo: float, hi: float) -> Callable[[Any], float]:
    def convert(value: Any) -> float:
        try:
            number = None if isinstance(value, bool) else float(value)
        except (TypeError, ValueError):
            number = None
        if number is None or not lo <= number <= hi:
            raise ValueError(f"expected a number {lo:g}..{hi:g}, got {value!r}")
        return number
    return convert


def one_of(*choices: str) -> Callable[[Any], str]:
    def convert(value: Any) -> str:
        text = str(value).strip().lower()
        if text not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}, got {value!r}")
        return text
    return convert


class PtySimulator:
    tick_interval = 0.01  # seconds between tick() calls for simulators that stream
    SETTINGS: ClassVar[dict[str, Setting]] = {}  # live settings, for set()

    def __init__(self, link_path: str | None = None):
        self._own_dir = None
        if link_path is None:
            self._own_dir = tempfile.mkdtemp(prefix="vestibule-sim-")
            link_path = os.path.join(self._own_dir, type(self).__name__.lower())
        self.link_path = link_path
        self._pty: PtyPair | None = None
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.answering = True  # False: reads are swallowed, nothing is sent (a hung device)

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> str:
        self._plug()
        self._stop.clear()
        self._thread = threading.Thread(target=self._serve, name=type(self).__name__, daemon=True)
        self._thread.start()
        return self.link_path

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=2)
        self._unplug()
        if self._own_dir:
            try:
                os.rmdir(self._own_dir)
            except OSError:
                pass

    def unplug(self) -> None:
        self._unplug()

    def replug(self) -> None:
        self._plug()

    @property
    def plugged(self) -> bool:
        return self._pty is not None

    def _plug(self) -> None:
        with self._lock:
            if self._pty is not None:
                return
            self._pty = open_raw_pty()
            # A streaming device does not wait for its host: bytes nobody reads are lost, as on a
            # real UART, instead of blocking the simulator once the pty buffer is full.
            os.set_blocking(self._pty.master_fd, False)
            tmp = self.link_path + ".new"
            if os.path.lexists(tmp):
                os.unlink(tmp)
            os.symlink(self._pty.path, tmp)
            os.replace(tmp, self.link_path)
            self.on_plug()

    def _unplug(self) -> None:
        with self._lock:
            if self._pty is None:
                return
            if os.path.lexists(self.link_path):
                os.unlink(self.link_path)
            self._pty.close()
            self._pty = None

    # -- live settings ---------------------------------------------------------------------
    def set(self, **values: Any) -> dict[str, Any]:
        """Change live settings (see SETTINGS); all or nothing. Returns the values as applied.
        ValueError names an unknown key with the valid ones, or a value with what was expected."""
        unknown = sorted(set(values) - set(self.SETTINGS))
        if unknown:
            valid = ", ".join(self.SETTINGS) or "none"
            raise ValueError(f"{type(self).__name__} has no live setting {', '.join(map(repr, unknown))}; "
                             f"valid: {valid}")
        checked = {}
        for key, value in values.items():
            try:
                checked[key] = self.SETTINGS[key].convert(value)
            except ValueError as exc:
                raise ValueError(f"{key}: {exc}") from None
        if checked:
            with self._lock:
                self._apply(checked)
        return checked

    def _apply(self, values: dict[str, Any]) -> None:
        """Apply checked live settings (called with the simulator's lock held)."""
        raise NotImplementedError(f"{type(self).__name__} declares SETTINGS but does not apply them")

    # -- I/O -----------------------------------------------------------------------------
    def send(self, data: bytes) -> None:
        with self._lock:
            if self._pty is None or not self.answering:
                return
            try:
                os.write(self._pty.master_fd, data)
            except (BlockingIOError, OSError):
                pass  # buffer full (host not reading) or unplugged

    def _serve(self) -> None:
        next_tick = time.monotonic()
        while not self._stop.is_set():
            with self._lock:
                fd = self._pty.master_fd if self._pty else None
            if fd is None:
                time.sleep(0.02)
                continue
            wait = max(0.0, next_tick - time.monotonic())
            try:
                ready, _, _ = select.select([fd], [], [], wait)
            except (OSError, ValueError):
                continue
            if ready:
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    data = b""  # nobody has the slave open yet, or it was just unplugged
                    time.sleep(0.005)
                if data and self.answering:
                    self.on_bytes(data)
            now = time.monotonic()
            if now >= next_tick:
                self.tick(now)
                next_tick = now + self.tick_interval

    # -- to override ------------------------------------------------------------------------
    def on_plug(self) -> None:
        """Called with a fresh pty (power-on state)."""

    def on_bytes(self, data: bytes) -> None:
        """Bytes the host wrote."""

    def tick(self, now: float) -> None:
        """Called about every tick_interval seconds (streaming simulators send here)."""
