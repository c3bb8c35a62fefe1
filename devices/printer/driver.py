"""EscposPrinter: an ESC/POS receipt printer as a Vestibule device.

open() connects (transport.py) and asks the printer for its status: a printer that does not
answer `DLE EOT` is not accepted (except file:// sinks, which cannot answer). print_job() asks
again before sending, refuses while the paper is out / the cover is open / the printer is
offline, sends, and asks once more afterwards so a job that ran into a fault is not reported
as printed (the queue then keeps it: a duplicate ticket is better than a lost one).
"""
from __future__ import annotations

import collections
import time
from dataclasses import dataclass
from typing import Any, Mapping

from devices.base import Device
from devices.errors import BadDeviceURL, DeviceNotAnswering, DeviceUnavailable
from devices.printer import status as st
from devices.printer.options import PrinterOptions, _bool, _int
from devices.printer.transport import DEFAULT_BAUD, Link, open_link
from devices.status import FAULT_PROBLEMS
from devices.url import DeviceURL

ESC_INIT = b"\x1b\x40"
ASB_MASK = 0x0E  # GS a: online/offline, errors, paper roll sensor (not the drawer)

_PRINTER_KEYS = {"profile", "cyrillic_codepage", "scripts", "width_px", "cut", "kanji_on_at_init"}
_LINK_KEYS = {"baud", "parity", "bytesize", "stopbits", "in_ep", "out_ep", "timeout",
              "status_timeout", "auto_status"}


@dataclass(frozen=True)
class PrintOutcome:
    printed: bool
    problems: tuple[str, ...] = ()
    sent: bool = False  # bytes went out (printed=False with sent=True: a fault during the job)

    @property
    def reason(self) -> str:
        """Why it did not print, for logs and events ("" when it printed)."""
        if self.printed:
            return ""
        problems = ", ".join(self.problems) or "unknown"
        return f"sent, then the printer reported {problems}" if self.sent else f"refused: {problems}"


class EscposPrinter(Device):
    kind = "printer"
    protocol = "escpos"

    def __init__(self, device_id: str, url: DeviceURL, options: Mapping[str, Any] | None = None):
        super().__init__(device_id, url, options)
        merged = {**url.options, **self.options}
        if url.scheme not in ("serial", "usb", "tcp", "file"):
            raise BadDeviceURL(f"printer {device_id}: {url} is not a printer address; use usb://VID:PID, "
                               f"serial:///dev/..., tcp://HOST:9100 or file:///path")
        unknown = sorted(set(merged) - _PRINTER_KEYS - _LINK_KEYS)
        if unknown:
            raise BadDeviceURL(f"printer {device_id}: unknown option(s) {', '.join(unknown)}; expected "
                               f"some of {', '.join(sorted(_PRINTER_KEYS | _LINK_KEYS))}")
        self.printer_options = PrinterOptions.from_mapping(merged)
        self.baud = _int("baud", merged.get("baud", DEFAULT_BAUD), 300, 4_000_000)
        self.in_ep = _int("in_ep", merged.get("in_ep", 0x82), 0, 255)
        self.out_ep = _int("out_ep", merged.get("out_ep", 0x01), 0, 255)
        self.timeout = float(merged.get("timeout", 5.0))
        self.status_timeout = float(merged.get("status_timeout", 1.5))
        self.auto_status = _bool("auto_status", merged.get("auto_status", False))
        self._link: Link | None = None
        self._reader = st.StatusReader()
        self._rt_answers: collections.deque[int] = collections.deque()
        self._problems: tuple[str, ...] = ()
        self._asb_problems: frozenset[str] | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def open(self) -> None:
        self.close()
        link = open_link(self.url, self.printer_options.profile, baud=self.baud, in_ep=self.in_ep,
                         out_ep=self.out_ep, timeout=self.timeout)
        try:
            self._reader = st.StatusReader()
            self._asb_problems = None
            link.write(ESC_INIT)  # re-initialise: after a replug the printer state is unknown
            if link.has_status:
                self._drain(link)
                if self.auto_status:
                    link.write(bytes((0x1D, 0x61, ASB_MASK)))
                self._problems = self._ask(link)
            else:
                self._problems = (st.STATUS_UNKNOWN,)
        except BaseException:
            link.close()
            raise
        self._link = link

    def close(self) -> None:
        link, self._link = self._link, None
        if link is not None:
            link.close()

    @property
    def is_open(self) -> bool:
        return self._link is not None

    def problems(self) -> list[str]:
        return list(self._problems)

    # -- status ------------------------------------------------------------------------------
    def query_status(self) -> tuple[str, ...]:
        """Ask the printer now (DLE EOT 1, 2, 4); returns and remembers the problems."""
        link = self._require()
        if not link.has_status:
            self._problems = (st.STATUS_UNKNOWN,)
        else:
            self._problems = self._ask(link)
        return self._problems

    def poll(self, timeout: float = 0.0) -> tuple[str, ...]:
        """Take in automatic status back messages that arrived (auto_status=true)."""
        link = self._require()
        if link.has_status:
            self._take(link.read(timeout))
            if self._asb_problems is not None:
                self._problems = tuple(sorted(self._asb_problems))
        return self._problems

    def _ask(self, link: Link) -> tuple[str, ...]:
        self._drain(link)
        self._rt_answers.clear()  # late answers to an earlier, timed-out query are stale
        # One write for the three requests: a printer answers real-time requests in the order it
        # gets them, so each answer still maps to its request, at one round trip instead of three.
        link.write(b"".join(st.rt_request(n) for n in st.RT_QUERIES))
        answers = {n: self._await_rt(link, n) for n in st.RT_QUERIES}
        return tuple(sorted(st.combine_rt(answers)))

    def _await_rt(self, link: Link, n: int) -> int:
        deadline = time.monotonic() + self.status_timeout
        junk = bytearray()
        while True:
            if self._rt_answers:  # answers to pipelined requests arrive together
                return self._rt_answers.popleft()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            for kind, value in self._reader.feed(link.read(min(remaining, 0.5))):
                if kind == "rt":
                    self._rt_answers.append(value)
                elif kind == "asb":
                    self._asb(value)
                else:
                    junk += value
        if junk:
            raise DeviceNotAnswering(
                f"printer {self.url} answered the status request DLE EOT {n} with {junk.hex(' ')}, "
                f"which is not an ESC/POS status byte (wrong baud rate? set ?baud=9600 or 115200)")
        raise DeviceNotAnswering(
            f"printer {self.url} did not answer the status request DLE EOT {n} within "
            f"{self.status_timeout:g} s (powered off, wrong port, or no status support?)")

    def _drain(self, link: Link) -> None:
        """Take in whatever arrived unasked (ASB messages, late answers) before a query."""
        for _ in range(64):
            data = link.read(0)
            if not data:
                return
            self._take(data)

    def _take(self, data: bytes) -> None:
        for kind, value in self._reader.feed(data):
            if kind == "asb":
                self._asb(value)

    def _asb(self, message: bytes) -> None:
        decoded = st.decode_asb(message)
        if decoded is not None:
            self._asb_problems = decoded

    # -- printing ----------------------------------------------------------------------------
    def print_job(self, data: bytes) -> PrintOutcome:
        link = self._require()
        if not link.has_status:
            link.write(data)
            self._problems = (st.STATUS_UNKNOWN,)
            return PrintOutcome(True, self._problems, sent=True)
        before = self.query_status()
        if FAULT_PROBLEMS.intersection(before):
            return PrintOutcome(False, before, sent=False)
        link.write(data)
        after = self.query_status()
        return PrintOutcome(not FAULT_PROBLEMS.intersection(after), after, sent=True)

    def _require(self) -> Link:
        if self._link is None:
            raise DeviceUnavailable(f"printer {self.device_id} ({self.url}) is not open")
        return self._link
