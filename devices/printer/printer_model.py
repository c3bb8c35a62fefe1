"""The simulated printer's state machine: bytes from the host in, bytes to the host out.

Shared by the pty simulator (sim.py) and the tests' fake USB device (tests/support/fake_usb.py), so both transports
exercise exactly the same printer. No I/O and no clock here; callers hold their own lock.
"""
from __future__ import annotations

from typing import Mapping

from devices.printer import escpos_parser as ep
from devices.printer.document import DocumentBuilder, ParsedDocument

PAPER_STATES = ("ok", "near_end", "out")


class PrinterModel:
    def __init__(self, codepages: Mapping[int, str] | None = None, *, paper_near_end: bool = False,
                 paper_out: bool = False, cover_open: bool = False, bad_status: bool = False):
        self.codepages = codepages
        self.paper_near_end = bool(paper_near_end)
        self.paper_out = bool(paper_out)
        self.cover_open = bool(cover_open)
        self.bad_status = bool(bad_status)  # answer DLE EOT with bytes that are not status bytes
        self.documents: list[ParsedDocument] = []  # printed, in order
        self.discarded: list[ParsedDocument] = []  # received while the printer could not print
        self.status_requests: list[int] = []
        self.power_on()

    # -- power -------------------------------------------------------------------------------
    def power_on(self) -> None:
        """Fresh state after (re)plugging: buffers and ASB setting lost, paper state kept."""
        self.parser = ep.EscposParser(self.codepages)
        self.builder = DocumentBuilder()
        self.asb_mask = 0
        self._spoiled = False  # content arrived while offline: that document is not printed

    # -- state as the printer reports it ------------------------------------------------------
    @property
    def offline(self) -> bool:
        return self.paper_out or self.cover_open

    def rt_status(self, n: int) -> int | None:
        """The one byte answering DLE EOT n (None: the printer does not answer that n)."""
        if self.bad_status:
            return 0xFF
        byte = 0x12  # fixed bits 0xx1xx10
        if n == 1:
            if self.offline:
                byte |= 0x08
        elif n == 2:
            if self.cover_open:
                byte |= 0x04
            if self.paper_out:
                byte |= 0x20
        elif n == 3:
            pass
        elif n == 4:
            if self.paper_out:
                byte |= 0x60
            elif self.paper_near_end:
                byte |= 0x0C
        else:
            return None
        return byte

    def asb_status(self) -> bytes:
        b1 = 0x10 | (0x08 if self.offline else 0) | (0x20 if self.cover_open else 0)
        b3 = (0x0C if self.paper_out else 0) | (0x03 if self.paper_near_end or self.paper_out else 0)
        return bytes((b1, 0x00, b3, 0x00))

    # -- controls --------------------------------------------------------------------------------
    def set_state(self, *, paper_near_end: bool | None = None, paper_out: bool | None = None,
                  cover_open: bool | None = None) -> bytes:
        """Change sensors; returns the ASB message to send if ASB is on and something changed."""
        before = self.asb_status()
        if paper_near_end is not None:
            self.paper_near_end = bool(paper_near_end)
        if paper_out is not None:
            self.paper_out = bool(paper_out)
        if cover_open is not None:
            self.cover_open = bool(cover_open)
        after = self.asb_status()
        return after if self.asb_mask and after != before else b""

    def set_paper(self, state: str) -> bytes:
        if state not in PAPER_STATES:
            raise ValueError(f"paper state {state!r}: expected one of {', '.join(PAPER_STATES)}")
        return self.set_state(paper_near_end=state == "near_end", paper_out=state == "out")

    # -- the wire ----------------------------------------------------------------------------------
    def receive(self, data: bytes) -> bytes:
        """Process host bytes; returns what the printer sends back (status answers, ASB)."""
        reply = bytearray()
        for event in self.parser.feed(data):
            kind = event.kind
            if kind == ep.STATUS_REQUEST:
                self.status_requests.append(event.value)
                byte = self.rt_status(event.value)
                if byte is not None:
                    reply.append(byte)
            elif kind == ep.ASB:
                self.asb_mask = event.value
                if self.asb_mask:
                    reply += self.asb_status()  # enabling ASB sends the current status once
            else:
                if self.offline and kind in (ep.TEXT, ep.IMAGE, ep.QR, ep.BARCODE):
                    self._spoiled = True
                for doc in self.builder.apply((event,)):
                    (self.discarded if self._spoiled else self.documents).append(doc)
                    self._spoiled = False
        return bytes(reply)
