"""Parser events -> printed documents: lines with their style, QR codes, images, split at cuts.

This is what the paper would show, as far as the bytes say it; the simulator records these,
tests compare their text, and preview.py draws them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Union

from devices.printer import escpos_parser as ep


@dataclass(frozen=True)
class TextRun:
    text: str
    width: int = 1  # character cell multipliers
    height: int = 1
    bold: bool = False


@dataclass
class DocLine:
    runs: list[TextRun] = field(default_factory=list)
    align: str = "left"

    @property
    def text(self) -> str:
        return "".join(r.text for r in self.runs)

    @property
    def height(self) -> int:
        return max((r.height for r in self.runs), default=1)


@dataclass(frozen=True)
class DocImage:
    image: ep.RasterImage
    align: str = "left"


@dataclass(frozen=True)
class DocQr:
    symbol: ep.QrSymbol
    align: str = "left"


@dataclass(frozen=True)
class DocFeed:
    lines: int


DocBlock = Union[DocLine, DocImage, DocQr, DocFeed]


@dataclass
class ParsedDocument:
    blocks: list[DocBlock] = field(default_factory=list)
    cut: str | None = None  # "full" | "partial"; None while the paper is still attached
    barcodes: list[tuple[int, bytes]] = field(default_factory=list)

    @property
    def lines(self) -> list[str]:
        return [b.text for b in self.blocks if isinstance(b, DocLine)]

    @property
    def text_lines(self) -> list[str]:
        """Printed lines without blank ones or trailing spaces: what tests compare."""
        return [t.rstrip() for t in self.lines if t.strip()]

    @property
    def qr_payloads(self) -> list[str]:
        return [b.symbol.text for b in self.blocks if isinstance(b, DocQr)]

    @property
    def images(self) -> list[ep.RasterImage]:
        return [b.image for b in self.blocks if isinstance(b, DocImage)]

    @property
    def empty(self) -> bool:
        return not self.blocks and not self.barcodes


class DocumentBuilder:
    """Feeds on parser events; returns the documents each batch of events completes (cut)."""

    def __init__(self) -> None:
        self.current = ParsedDocument()
        self._line = DocLine()
        self._reset_style()

    def _reset_style(self) -> None:
        self.align = "left"
        self.bold = False
        self.width = 1
        self.height = 1

    @property
    def line_pending(self) -> bool:
        return bool(self._line.runs)

    def apply(self, events: Iterable[ep.Event]) -> list[ParsedDocument]:
        done: list[ParsedDocument] = []
        for kind, value in events:
            if kind == ep.TEXT:
                if not self._line.runs:
                    self._line.align = self.align  # justification counts at the start of a line
                self._line.runs.append(TextRun(value, self.width, self.height, self.bold))
            elif kind == ep.LF:
                self._end_line(blank_ok=True)
            elif kind == ep.FEED:
                printed = self._end_line(blank_ok=False)
                extra = value - 1 if printed else value
                if extra > 0:
                    self.current.blocks.append(DocFeed(extra))
            elif kind == ep.ALIGN:
                self.align = value
            elif kind == ep.BOLD:
                self.bold = value
            elif kind == ep.SIZE:
                self.width, self.height = value
            elif kind == ep.PRINT_MODE:
                self.bold = bool(value & 0x08)
                self.height = 2 if value & 0x10 else 1
                self.width = 2 if value & 0x20 else 1
            elif kind == ep.INIT:
                self._line = DocLine()  # ESC @ clears the print buffer
                self._reset_style()
            elif kind == ep.QR:
                self._end_line(blank_ok=False)
                self.current.blocks.append(DocQr(value, self.align))
            elif kind == ep.IMAGE:
                self._end_line(blank_ok=False)
                self.current.blocks.append(DocImage(value, self.align))
            elif kind == ep.BARCODE:
                self.current.barcodes.append(value)
            elif kind == ep.CUT:
                self._end_line(blank_ok=False)
                self.current.cut = value
                done.append(self.current)
                self.current = ParsedDocument()
        return done

    def _end_line(self, blank_ok: bool) -> bool:
        if self._line.runs or blank_ok:
            self.current.blocks.append(self._line)
            self._line = DocLine()
            return True
        return False


def parse_documents(data: bytes, **parser_kwargs) -> list[ParsedDocument]:
    """Documents in a whole stream; a trailing uncut document is included if it has content."""
    builder = DocumentBuilder()
    docs = builder.apply(ep.parse(data, **parser_kwargs))
    builder.apply([ep.Event(ep.LF)] if builder.line_pending else [])
    if not builder.current.empty:
        docs.append(builder.current)
    return docs
