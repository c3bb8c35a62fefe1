"""An ESC/POS receipt printer on a pseudo-terminal (a serial printer, as the driver sees it).

    vestibule sim printer --protocol escpos --set paper_near_end=true

It answers `DLE EOT n` with exactly one status byte, sends the 4-byte automatic status back on
every change once `GS a` enabled it, and records what it printed: documents split at cuts,
with their text lines decoded through the selected code page / GB18030 mode, QR payloads and
images (see printer_model.py and document.py).

`baud` (e.g. `--set baud=115200`) paces what it takes in at a serial line's rate, 10 bits a byte
(8N1): a chunk is handled only once its last byte could have arrived, so a writer sees the
line time of what it sends, as with a real serial printer. Unset: as fast as the pty goes.
"""
from __future__ import annotations

import threading
import time

from devices.printer.document import ParsedDocument
from devices.printer.escpos_parser import codepage_table
from devices.printer.options import load_profile
from devices.printer.printer_model import PrinterModel
from devices.sim_base import PtySimulator


class EscposPrinterSim(PtySimulator):
    def __init__(self, link_path: str | None = None, *, paper_near_end: bool = False,
                 paper_out: bool = False, cover_open: bool = False, profile: str = "default",
                 cyrillic_codepage: int | None = None, bad_status: bool = False, baud: int | None = None):
        super().__init__(link_path)
        if baud is not None and int(baud) <= 0:
            raise ValueError(f"baud must be positive, got {baud}")
        self.byte_time = 10 / int(baud) if baud else 0.0
        self._line_free_at = 0.0  # when the last byte taken in so far has fully arrived
        load_profile(profile or None)  # a wrong profile name fails here, with its name
        codepages = dict(codepage_table(profile or None))
        if cyrillic_codepage is not None:
            codepages[int(cyrillic_codepage)] = "cp866"
        # Model lock only; never held while calling send() (which takes the pty lock), so the
        # two locks are never taken in opposite orders.
        self._model_lock = threading.Lock()
        self.model = PrinterModel(codepages, paper_near_end=paper_near_end, paper_out=paper_out,
                                  cover_open=cover_open, bad_status=bad_status)

    # -- PtySimulator hooks ------------------------------------------------------------------
    def on_plug(self) -> None:
        with self._model_lock:
            self.model.power_on()

    def on_bytes(self, data: bytes) -> None:
        if self.byte_time:
            self._pace(len(data))
        with self._model_lock:
            reply = self.model.receive(data)
        if reply:
            self.send(reply)

    def _pace(self, n: int) -> None:
        now = time.monotonic()
        self._line_free_at = max(now, self._line_free_at) + n * self.byte_time
        if self._line_free_at > now:
            time.sleep(self._line_free_at - now)

    # -- controls for tests and the demo -------------------------------------------------------
    def _set(self, **changes) -> None:
        with self._model_lock:
            asb = self.model.set_state(**changes)
        if asb:
            self.send(asb)

    def set_paper(self, state: str) -> None:
        """"ok" | "near_end" | "out"."""
        with self._model_lock:
            asb = self.model.set_paper(state)
        if asb:
            self.send(asb)

    @property
    def paper_near_end(self) -> bool:
        return self.model.paper_near_end

    @paper_near_end.setter
    def paper_near_end(self, value: bool) -> None:
        self._set(paper_near_end=value)

    @property
    def paper_out(self) -> bool:
        return self.model.paper_out

    @paper_out.setter
    def paper_out(self, value: bool) -> None:
        self._set(paper_out=value)

    @property
    def cover_open(self) -> bool:
        return self.model.cover_open

    @cover_open.setter
    def cover_open(self, value: bool) -> None:
        self._set(cover_open=value)

    @property
    def bad_status(self) -> bool:
        return self.model.bad_status

    @bad_status.setter
    def bad_status(self, value: bool) -> None:
        with self._model_lock:
            self.model.bad_status = bool(value)

    # -- what was printed ---------------------------------------------------------------------
    @property
    def documents(self) -> list[ParsedDocument]:
        with self._model_lock:
            return list(self.model.documents)

    @property
    def discarded(self) -> list[ParsedDocument]:
        with self._model_lock:
            return list(self.model.discarded)

    @property
    def asb_enabled(self) -> bool:
        with self._model_lock:
            return bool(self.model.asb_mask)

    def wait_for_documents(self, count: int, timeout: float = 10.0) -> list[ParsedDocument]:
        """Poll until `count` documents were printed; returns them (fewer on timeout)."""
        deadline = time.monotonic() + timeout
        while True:
            docs = self.documents
            if len(docs) >= count or time.monotonic() >= deadline:
                return docs
            time.sleep(0.02)
