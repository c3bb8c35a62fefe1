"""A CDC-ACM scanner on a pseudo-terminal: scan(code) sends the code and its suffix.

Settings (`vestibule sim scanner --protocol cdc --set code=BK-1234 --set every=5`):
  suffix  cr (default, as our scanners are configured) | lf | crlf
  code    a code to scan by itself every `every` seconds (demo); off unless both are set
"""
from __future__ import annotations

from devices.sim_base import PtySimulator

SUFFIXES = {"cr": b"\r", "lf": b"\n", "crlf": b"\r\n"}


class LineScannerSim(PtySimulator):
    tick_interval = 0.1

    def __init__(self, link_path: str | None = None, suffix: str = "cr", code: str | None = None,
                 every: float = 0):
        super().__init__(link_path)
        if str(suffix).lower() not in SUFFIXES:
            raise ValueError(f"suffix {suffix!r}: expected one of {', '.join(SUFFIXES)}")
        self.suffix = SUFFIXES[str(suffix).lower()]
        self.code = None if code is None else str(code)
        self.every = float(every)
        self._next_auto: float | None = None

    def scan(self, code: str) -> None:
        """What the scanner sends when a code is read: its bytes, then the suffix."""
        self.send(code.encode("utf-8") + self.suffix)

    def send_raw(self, data: bytes) -> None:
        """Arbitrary bytes (noise, a wrong baud rate) for tests."""
        self.send(data)

    def tick(self, now: float) -> None:
        if not self.code or self.every <= 0:
            return
        if self._next_auto is None:
            self._next_auto = now + self.every
        elif now >= self._next_auto:
            self._next_auto = now + self.every
            self.scan(self.code)
