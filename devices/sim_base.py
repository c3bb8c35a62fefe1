"""Base for simulators: a raw pty served by a thread, behind a stable symlink like udev's.

The driver opens `link_path` (as it would open /dev/vestibule/oximeter-1). `unplug()` closes the
pty and removes the link, so the driver's next read raises SerialException exactly as it does when
a USB cable is pulled; `replug()` makes a fresh pty and points the link at it again.
"""
from __future__ import annotations

import os
import select
import tempfile
import threading
import time

from devices.pty import PtyPair, open_raw_pty


class PtySimulator:
    tick_interval = 0.01  # seconds between tick() calls for simulators that stream

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
