"""Incremental ESC/POS stream parser: bytes in, events out. Pure: no I/O, no clock.

It knows the length of every binary payload (GS v 0 raster, ESC * columns, GS ( k / GS ( L /
GS 8 L, GS k barcodes, ...), so image data is never mistaken for commands, and it can be fed
in arbitrary chunks (a pty hands over at most 4 KiB at a time). Unknown or malformed commands
are skipped and reported as UNKNOWN events; nothing a host sends can make it raise.

Text is decoded as the printer would: through the code page selected with `ESC t n` (the
table maps n to a Python codec and differs by vendor), or as GB18030 while double-byte mode
(`FS &` ... `FS .`) is on. A text run ends at any control byte, so a multi-byte character
split across two chunks still decodes correctly.

Events are (kind, value) pairs; the kinds are the module constants below.
"""
from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Mapping, NamedTuple

TEXT = "text"  # str
LF = "lf"  # print the line buffer and feed one line
FEED = "feed"  # ESC d n: print and feed n lines -> n
INIT = "init"  # ESC @
ALIGN = "align"  # "left" | "center" | "right"
BOLD = "bold"  # bool
PRINT_MODE = "print_mode"  # ESC ! n -> n (bit3 bold, bit4 double height, bit5 double width)
SIZE = "size"  # GS ! n -> (width, height) multipliers 1..8
CODEPAGE = "codepage"  # ESC t n -> n
KANJI = "kanji"  # FS & -> True, FS . -> False
CUT = "cut"  # "full" | "partial"
QR = "qr"  # QrSymbol printed (GS ( k 1 Q)
IMAGE = "image"  # RasterImage
BARCODE = "barcode"  # (type m, data bytes)
STATUS_REQUEST = "status_request"  # DLE EOT n -> n (real-time, answered with one byte)
ASB = "asb"  # GS a n -> n (automatic status back enable mask; 0 disables)
UNKNOWN = "unknown"  # bytes of a command we skip

BIG_PAYLOAD = 8192  # payloads above this are collected across feeds instead of re-scanned
MAX_STORED = 4 * 1024 * 1024  # larger payloads are skipped without keeping the bytes


class Event(NamedTuple):
    kind: str
    value: object = None


@dataclass(frozen=True)
class RasterImage:
    width: int  # dots
    height: int  # dots
    data: bytes | None  # row-major, MSB = leftmost dot, (width + 7) // 8 bytes a row; None if too big
    kind: str = "raster"  # "raster" (GS v 0), "graphics" (GS ( L / GS 8 L), "column" (ESC *)


@dataclass(frozen=True)
class QrSymbol:
    data: bytes
    module_size: int = 3
    ec: str = "L"
    model: int = 2

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", "replace")


# -- code page tables ----------------------------------------------------------------------
_CODEC_ALIASES = {"ISO_8859-7": "iso8859_7", "ISO_8859-2": "iso8859_2", "ISO_8859-15": "iso8859_15"}


@lru_cache(maxsize=32)
def codepage_table(profile: str | None = None) -> Mapping[int, str]:
    """ESC t n -> Python codec for a python-escpos printer profile (pages Python lacks are left out)."""
    from escpos.capabilities import get_profile

    table: dict[int, str] = {}
    for name, number in get_profile(profile).get_code_pages().items():
        codec = _CODEC_ALIASES.get(name, name.lower())
        try:
            codecs.lookup(codec)
        except LookupError:
            continue
        table[int(number)] = codec
    return table


_TEXT_RUN = re.compile(rb"[\x20-\xff]+")
_ALIGN = {0: "left", 48: "left", 1: "center", 49: "center", 2: "right", 50: "right"}
_QR_EC = {48: "L", 49: "M", 50: "Q", 51: "H"}
_FULL_CUTS = {0, 48, 65, 97, 103}
_PARTIAL_CUTS = {1, 49, 66, 98, 104}


class _Pending:
    """A payload that spans feeds: `need` more bytes, collected into `parts` unless too big."""
    __slots__ = ("need", "parts", "done")

    def __init__(self, need: int, parts: bytearray | None, done: Callable[[bytes | None], None]):
        self.need, self.parts, self.done = need, parts, done


class EscposParser:
    def __init__(self, codepages: Mapping[int, str] | None = None, default_codepage: int = 0,
                 kanji_at_init: bool = False):
        self.codepages = dict(codepage_table() if codepages is None else codepages)
        self.default_codepage = default_codepage
        self.kanji_at_init = kanji_at_init
        self._buf = b""
        self._pending: _Pending | None = None
        self._text = bytearray()
        self._out: list[Event] = []
        self.reset()

    # -- state -----------------------------------------------------------------------------
    def reset(self) -> None:
        """Power-on / ESC @ state."""
        self.codepage = self.default_codepage
        self.kanji = self.kanji_at_init
        self._qr_module = 3
        self._qr_ec = "L"
        self._qr_model = 2
        self._qr_data: bytes | None = None
        self._graphic: RasterImage | None = None

    @property
    def encoding(self) -> str:
        if self.kanji:
            return "gb18030"
        return self.codepages.get(self.codepage, "cp437")

    # -- entry points ------------------------------------------------------------------------
    def feed(self, data: bytes) -> list[Event]:
        out = self._out = []
        data = bytes(data)
        if self._pending is not None:
            data = self._continue_pending(data)
        buf = self._buf + data if self._buf else data
        pos, end = 0, len(buf)
        handlers = self._handlers
        while pos < end:
            b = buf[pos]
            if b >= 0x20:
                stop = _TEXT_RUN.match(buf, pos).end()
                self._text += buf[pos:stop]
                pos = stop
                continue
            if self._text:
                self._flush_text()
            handler = handlers.get(b)
            if handler is None:  # NUL, CAN and other single control bytes: ignored by printers
                pos += 1
                continue
            nxt = handler(self, buf, pos, end)
            if nxt < 0:  # incomplete command: wait for more bytes
                break
            pos = nxt
        self._buf = buf[pos:] if pos < end else b""
        return out

    def flush(self) -> list[Event]:
        """End of stream: emit text still buffered (a run only ends at a control byte)."""
        self._out = []
        if self._text:
            self._flush_text()
        return self._out

    def _flush_text(self) -> None:
        self._out.append(Event(TEXT, self._text.decode(self.encoding, "replace")))
        self._text.clear()

    def _emit(self, kind: str, value: object = None) -> None:
        self._out.append(Event(kind, value))

    # -- payloads ------------------------------------------------------------------------------
    def _take(self, buf: bytes, pos: int, end: int, header: int, payload: int,
              done: Callable[[bytes | None], None]) -> int:
        total = header + payload
        if pos + total <= end:
            done(buf[pos + header:pos + total])
            return pos + total
        if pos + header <= end and payload > BIG_PAYLOAD:
            have = buf[pos + header:end]
            parts = bytearray(have) if payload <= MAX_STORED else None
            self._pending = _Pending(payload - len(have), parts, done)
            return end
        return -1

    def _continue_pending(self, data: bytes) -> bytes:
        p = self._pending
        chunk = data[:p.need]
        p.need -= len(chunk)
        if p.parts is not None:
            p.parts += chunk
        if p.need == 0:
            self._pending = None
            p.done(bytes(p.parts) if p.parts is not None else None)
        return data[len(chunk):]

    # -- single-byte controls -------------------------------------------------------------------
    def _lf(self, buf, pos, end):
        self._emit(LF)
        return pos + 1

    def _ht(self, buf, pos, end):
        self._text += b"\t"
        return pos + 1

    def _skip1(self, buf, pos, end):
        return pos + 1

    # -- DLE: real-time commands ----------------------------------------------------------------
    def _dle(self, buf, pos, end):
        if pos + 1 >= end:
            return -1
        fn = buf[pos + 1]
        if fn == 0x04:  # DLE EOT n (n = 7, 8 take one more byte)
            if pos + 2 >= end:
                return -1
            n = buf[pos + 2]
            if n in (7, 8):
                if pos + 3 >= end:
                    return -1
                self._emit(STATUS_REQUEST, n)
                return pos + 4
            self._emit(STATUS_REQUEST, n)
            return pos + 3
        if fn == 0x05:  # DLE ENQ n
            return self._fixed(buf, pos, end, 3)
        if fn == 0x14:  # DLE DC4 fn ...
            if pos + 2 >= end:
                return -1
            return self._fixed(buf, pos, end, 10 if buf[pos + 2] == 8 else 5)
        return self._unknown(buf, pos, 1)  # a stray DLE

    # -- ESC --------------------------------------------------------------------------------------
    _ESC_FIXED = {  # total length including ESC and the command byte; no event needed
        0x20: 3, 0x25: 3, 0x2D: 3, 0x32: 2, 0x33: 3, 0x3C: 2, 0x3D: 3, 0x3F: 3, 0x47: 3, 0x4A: 3,
        0x4B: 3, 0x4C: 2, 0x4D: 3, 0x52: 3, 0x53: 2, 0x54: 3, 0x55: 3, 0x56: 3, 0x63: 4, 0x65: 3,
        0x70: 5, 0x72: 3, 0x75: 3, 0x76: 2, 0x7B: 3, 0x24: 4, 0x5C: 4, 0x57: 10, 0x4F: 2,
    }

    def _esc(self, buf, pos, end):
        if pos + 1 >= end:
            return -1
        c = buf[pos + 1]
        if c == 0x40:  # ESC @
            self.reset()
            self._emit(INIT)
            return pos + 2
        if c in (0x21, 0x45, 0x61, 0x64, 0x74):
            if pos + 2 >= end:
                return -1
            n = buf[pos + 2]
            if c == 0x21:
                self._emit(PRINT_MODE, n)
            elif c == 0x45:
                self._emit(BOLD, bool(n & 1))
            elif c == 0x61:
                if n in _ALIGN:
                    self._emit(ALIGN, _ALIGN[n])
            elif c == 0x64:
                self._emit(FEED, n)
            else:
                self.codepage = n
                self._emit(CODEPAGE, n)
            return pos + 3
        if c in (0x69, 0x6D):  # ESC i / ESC m: legacy partial cut
            self._emit(CUT, "partial")
            return pos + 2
        if c == 0x2A:  # ESC * m nL nH d1..dk: column bit image
            if pos + 4 >= end:
                return -1
            m, k = buf[pos + 2], buf[pos + 3] | buf[pos + 4] << 8
            rows = 3 if m in (32, 33) else 1
            height = 8 * rows
            return self._take(buf, pos, end, 5, k * rows,
                              lambda d: self._emit(IMAGE, RasterImage(k, height, d, "column")))
        if c == 0x44:  # ESC D n1 .. nk NUL: tab positions
            return self._until_nul(buf, pos, end, 2, 33)
        if c == 0x26:  # ESC & y c1 c2 [x d1..d(y*x)]*: user-defined characters
            return self._esc_user_chars(buf, pos, end)
        if c == 0x28:  # ESC ( fn pL pH ...
            return self._length_prefixed(buf, pos, end, None)
        length = self._ESC_FIXED.get(c)
        if length is not None:
            return self._fixed(buf, pos, end, length)
        return self._unknown(buf, pos, 2)

    def _esc_user_chars(self, buf, pos, end):
        if pos + 4 >= end:
            return -1
        y, c1, c2 = buf[pos + 2], buf[pos + 3], buf[pos + 4]
        p = pos + 5
        for _ in range(max(0, c2 - c1 + 1)):
            if p >= end:
                return -1
            p += 1 + y * buf[p]
        if p > end:
            return -1
        self._emit(UNKNOWN, buf[pos:pos + 5])
        return p

    # -- GS ---------------------------------------------------------------------------------------
    _GS_FIXED = {
        0x24: 4, 0x2F: 3, 0x3A: 2, 0x42: 3, 0x43: 2, 0x45: 3, 0x48: 3, 0x49: 3, 0x4C: 4, 0x50: 4,
        0x54: 3, 0x57: 4, 0x5C: 4, 0x5E: 5, 0x62: 3, 0x63: 2, 0x66: 3, 0x68: 3, 0x6A: 3, 0x72: 3,
        0x77: 3, 0x7A: 5,
    }

    def _gs(self, buf, pos, end):
        if pos + 1 >= end:
            return -1
        c = buf[pos + 1]
        if c == 0x21:  # GS ! n: character size
            if pos + 2 >= end:
                return -1
            n = buf[pos + 2]
            self._emit(SIZE, ((n >> 4 & 7) + 1, (n & 7) + 1))
            return pos + 3
        if c == 0x56:  # GS V m [n]
            if pos + 2 >= end:
                return -1
            m = buf[pos + 2]
            length = 4 if m >= 65 else 3
            if pos + length > end:
                return -1
            kind = "full" if m in _FULL_CUTS else "partial" if m in _PARTIAL_CUTS else None
            if kind:
                self._emit(CUT, kind)
            else:
                self._emit(UNKNOWN, buf[pos:pos + length])
            return pos + length
        if c == 0x61:  # GS a n: automatic status back
            if pos + 2 >= end:
                return -1
            self._emit(ASB, buf[pos + 2])
            return pos + 3
        if c == 0x76:  # GS v 0 m xL xH yL yH d...: raster bit image
            if pos + 7 >= end:
                return -1
            if buf[pos + 2] != 0x30:
                return self._unknown(buf, pos, 3)
            xb = buf[pos + 4] | buf[pos + 5] << 8
            h = buf[pos + 6] | buf[pos + 7] << 8
            return self._take(buf, pos, end, 8, xb * h,
                              lambda d: self._emit(IMAGE, RasterImage(xb * 8, h, d, "raster")))
        if c == 0x28:  # GS ( fn pL pH ...: every GS ( function is length-prefixed
            if pos + 2 >= end:
                return -1
            fn = buf[pos + 2]
            handler = self._gs_k if fn == 0x6B else self._gs_L if fn == 0x4C else None
            return self._length_prefixed(buf, pos, end, handler)
        if c == 0x38:  # GS 8 L p1 p2 p3 p4 m fn ...: long graphics
            if pos + 6 >= end:
                return -1
            if buf[pos + 2] != 0x4C:
                return self._unknown(buf, pos, 3)
            n = buf[pos + 3] | buf[pos + 4] << 8 | buf[pos + 5] << 16 | buf[pos + 6] << 24
            return self._take(buf, pos, end, 7, n, self._gs_L)
        if c == 0x6B:  # GS k m ...: barcode
            return self._gs_barcode(buf, pos, end)
        if c == 0x2A:  # GS * x y d...: downloaded bit image
            if pos + 3 >= end:
                return -1
            return self._take(buf, pos, end, 4, buf[pos + 2] * buf[pos + 3] * 8, lambda d: None)
        length = self._GS_FIXED.get(c)
        if length is not None:
            return self._fixed(buf, pos, end, length)
        return self._unknown(buf, pos, 2)

    def _gs_barcode(self, buf, pos, end):
        if pos + 2 >= end:
            return -1
        m = buf[pos + 2]
        if m <= 6:  # data until NUL
            stop = buf.find(b"\x00", pos + 3, min(end, pos + 3 + 256))
            if stop < 0:
                if end - (pos + 3) < 256:
                    return -1
                return self._unknown(buf, pos, 3)
            self._emit(BARCODE, (m, buf[pos + 3:stop]))
            return stop + 1
        if pos + 3 >= end:
            return -1
        n = buf[pos + 3]
        return self._take(buf, pos, end, 4, n, lambda d: self._emit(BARCODE, (m, d)))

    def _gs_k(self, d: bytes | None) -> None:
        """GS ( k body: cn fn [params]. Only QR (cn 49) is understood."""
        if not d or len(d) < 2 or d[0] != 49:
            return
        fn = d[1]
        if fn == 65 and len(d) >= 3:  # select model: 49 model 1, 50 model 2, 51 micro
            self._qr_model = d[2] - 48
        elif fn == 67 and len(d) >= 3:  # module size
            self._qr_module = d[2]
        elif fn == 69 and len(d) >= 3:  # error correction level
            self._qr_ec = _QR_EC.get(d[2], "L")
        elif fn == 80 and len(d) >= 3:  # store: m=48 then the data
            self._qr_data = d[3:]
        elif fn == 81:  # print the stored symbol
            if self._qr_data is not None:
                self._emit(QR, QrSymbol(self._qr_data, self._qr_module, self._qr_ec, self._qr_model))

    def _gs_L(self, d: bytes | None) -> None:
        """GS ( L / GS 8 L body: m fn ... Store (fn 112) then print (fn 50) raster graphics."""
        if not d or len(d) < 2:
            return
        fn = d[1]
        if fn == 112 and len(d) >= 10:  # m fn a bx by c xL xH yL yH data
            w = d[6] | d[7] << 8
            h = d[8] | d[9] << 8
            self._graphic = RasterImage(w, h, d[10:10 + (w + 7) // 8 * h], "graphics")
        elif fn == 50 and self._graphic is not None:
            self._emit(IMAGE, self._graphic)
            self._graphic = None

    # -- FS ---------------------------------------------------------------------------------------
    _FS_FIXED = {0x21: 3, 0x2D: 3, 0x43: 3, 0x53: 4, 0x57: 3, 0x3F: 4, 0x70: 4}

    def _fs(self, buf, pos, end):
        if pos + 1 >= end:
            return -1
        c = buf[pos + 1]
        if c == 0x26:  # FS &: double-byte (GB18030) mode on
            self.kanji = True
            self._emit(KANJI, True)
            return pos + 2
        if c == 0x2E:  # FS .: double-byte mode off
            self.kanji = False
            self._emit(KANJI, False)
            return pos + 2
        if c == 0x32:  # FS 2 c1 c2 d1..d72: user-defined double-byte character
            return self._fixed(buf, pos, end, 76)
        if c == 0x28:  # FS ( fn pL pH ...
            return self._length_prefixed(buf, pos, end, None)
        length = self._FS_FIXED.get(c)
        if length is not None:
            return self._fixed(buf, pos, end, length)
        return self._unknown(buf, pos, 2)

    # -- helpers ----------------------------------------------------------------------------------
    def _fixed(self, buf, pos, end, length):
        if pos + length > end:
            return -1
        return pos + length

    def _unknown(self, buf, pos, length):
        self._emit(UNKNOWN, buf[pos:pos + length])
        return pos + length

    def _until_nul(self, buf, pos, end, header, limit):
        stop = buf.find(b"\x00", pos + header, min(end, pos + header + limit))
        if stop < 0:
            if end - (pos + header) < limit:
                return -1
            return pos + header + limit  # no terminator within the command's maximum
        return stop + 1

    def _length_prefixed(self, buf, pos, end, handler):
        """`X ( fn pL pH body`: the body length is pL + 256 pH."""
        if pos + 4 >= end:
            return -1
        n = buf[pos + 3] | buf[pos + 4] << 8
        return self._take(buf, pos, end, 5, n, handler or (lambda d: None))

    _handlers = {
        0x0A: _lf, 0x0C: _lf, 0x09: _ht, 0x0D: _skip1,
        0x10: _dle, 0x1B: _esc, 0x1D: _gs, 0x1C: _fs,
    }


def parse(data: bytes, **kwargs) -> list[Event]:
    """Parse a whole stream at once (tests, preview, CLI)."""
    parser = EscposParser(**kwargs)
    return parser.feed(data) + parser.flush()
