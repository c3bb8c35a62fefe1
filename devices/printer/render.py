"""A layout (list of blocks) -> the ESC/POS bytes of one print job, through python-escpos.

python-escpos's Dummy printer does the commands (set(), qr(native=True), image(), cut()); the
text bytes are ours, because its "magic encode" turns Cyrillic into question marks on some
profiles and sends CJK as GB18030 without `FS &`. Per character we choose how the printer can
show it:

  ASCII digits, spaces, punctuation   any mode (identical in every code page)
  ASCII letters                       any code page, but not inside FS & double-byte mode
  Cyrillic                            PC866 (cp866) after `ESC t <cyrillic_codepage>`
  Han / CJK punctuation / full-width  GB18030 inside `FS &` ... `FS .`
  other (« » № —)                     the current code page if it has the glyph, else PC437
                                      (page 0), else PC866, else GBK inside FS &

We leave double-byte mode (`FS .`) before anything that is not CJK: Cyrillic bytes sent while it
is on print as garbage. A line with a character the printer has no font for (its `scripts`
option) is drawn with Pillow and sent as a raster image instead; a line is never half text, half
picture, because ESC/POS cannot put an image inside a text line.
"""
from __future__ import annotations

import copy
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable

from PIL import Image, ImageDraw, ImageFont

from devices.printer.layout import BigNumber, Block, Cut, Feed, QrCode, Separator, Text
from devices.printer.options import FONT_A_WIDTH, PrinterOptions

FONT_PATH = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
FONT_INDEX_SC = 2  # Noto Sans CJK SC: simplified Chinese glyph forms, plus Latin and Cyrillic
FONT_HEIGHT = 24  # dots: the printer's font A is 12 x 24

FS_KANJI_ON = b"\x1c\x26"
FS_KANJI_OFF = b"\x1c\x2e"
ESC_T = b"\x1b\x74"
KANJI = -1  # the double-byte "mode", next to code page numbers
SIZES = {"normal": (1, 1), "tall": (1, 2), "double": (2, 2), "big": (4, 4)}
BIG_NUMBER_SCALE = 5  # character cells; 5 x 24 dots = 15 mm tall at 203 dpi


# -- character classes ----------------------------------------------------------------------
def is_cyrillic(ch: str) -> bool:
    return "\u0400" <= ch <= "\u04ff"


def is_cjk(ch: str) -> bool:
    o = ord(ch)
    return (0x3000 <= o <= 0x303F or 0x3400 <= o <= 0x4DBF or 0x4E00 <= o <= 0x9FFF
            or 0xF900 <= o <= 0xFAFF or 0xFF00 <= o <= 0xFFEF)


def cells(ch: str) -> int:
    """Character cells on the printer: CJK and full-width forms take two."""
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def text_cells(text: str) -> int:
    return sum(cells(ch) for ch in text)


def _encodes(ch: str, codec: str) -> bool:
    try:
        ch.encode(codec)
        return True
    except UnicodeEncodeError:
        return False


# -- text encoding state machine -------------------------------------------------------------
@dataclass
class CodeState:
    page: int = 0  # ESC t n in effect (kept while FS & is on, restored by FS .)
    kanji: bool = False


class TextEncoder:
    """Encodes text lines for one printer, tracking the code page and double-byte mode."""

    def __init__(self, options: PrinterOptions, state: CodeState | None = None):
        self.options = options
        self.state = state or CodeState()
        self._codec = {0: "cp437", options.cyrillic_codepage: "cp866"}

    def modes_for(self, ch: str) -> tuple[int, ...] | None:
        """Modes (pages or KANJI) that print `ch`, best first; () = any; None = needs a bitmap."""
        opts = self.options
        o = ord(ch)
        if o < 0x80:
            if ch.isalpha():
                return (self.state.page, 0, opts.cyrillic_codepage)  # any page, not FS &
            return ()
        if is_cjk(ch):
            return (KANJI,) if opts.supports("cjk") and _encodes(ch, "gb18030") else None
        if is_cyrillic(ch):
            return (opts.cyrillic_codepage,) if opts.supports("cyrillic") and _encodes(ch, "cp866") else None
        modes = []
        if _encodes(ch, "cp437"):
            modes.append(0)
        if opts.supports("cyrillic") and _encodes(ch, "cp866"):
            modes.append(opts.cyrillic_codepage)
        if opts.supports("cjk") and not ch.isalpha() and len(_gb(ch)) == 2:  # in GBK, so in the font
            modes.append(KANJI)
        if self.state.kanji and KANJI in modes:
            return (KANJI,) + tuple(m for m in modes if m != KANJI)
        if self.state.page in modes:
            modes.remove(self.state.page)
            modes.insert(0, self.state.page)
        return tuple(modes) or None

    def encode(self, text: str) -> bytes | None:
        """Bytes for `text` (mode switches included), or None if it must be a bitmap.

        The state only advances when the whole text could be encoded."""
        state = CodeState(self.state.page, self.state.kanji)
        saved, self.state = self.state, state
        out = bytearray()
        try:
            for ch in text:
                modes = self.modes_for(ch)
                if modes is None:
                    return None
                if not modes:
                    mode = KANJI if state.kanji else state.page
                elif (state.kanji and modes[0] == KANJI) or (not state.kanji and state.page in modes):
                    mode = KANJI if state.kanji else state.page
                else:
                    mode = modes[0]
                out += self._switch(state, mode)
                out += _gb(ch) if mode == KANJI else ch.encode(self._codec.get(mode, "cp437"))
        finally:
            self.state = saved
        self.state = state
        return bytes(out)

    def leave_kanji(self) -> bytes:
        if self.state.kanji:
            self.state.kanji = False
            return FS_KANJI_OFF
        return b""

    @staticmethod
    def _switch(state: CodeState, mode: int) -> bytes:
        if mode == KANJI:
            if state.kanji:
                return b""
            state.kanji = True
            return FS_KANJI_ON
        out = b""
        if state.kanji:
            state.kanji = False
            out += FS_KANJI_OFF
        if state.page != mode:
            state.page = mode
            out += ESC_T + bytes((mode,))
        return out


@lru_cache(maxsize=4096)
def _gb(ch: str) -> bytes:
    return ch.encode("gb18030")


# -- wrapping ----------------------------------------------------------------------------------
def wrap_cells(text: str, width: int) -> list[str]:
    """Wrap to `width` character cells, at spaces where possible, anywhere inside CJK text."""
    lines: list[str] = []
    line, used = "", 0
    for word in _words(text):
        w = text_cells(word)
        if used + w <= width:
            line, used = line + word, used + w
            continue
        if line.strip():
            lines.append(line.rstrip())
        word = word.lstrip()
        line, used = "", 0
        while text_cells(word) > width:  # a word longer than a line: break it
            cut, n = 0, 0
            while cut < len(word) and n + cells(word[cut]) <= width:
                n += cells(word[cut])
                cut += 1
            lines.append(word[:cut])
            word = word[cut:]
        line, used = word, text_cells(word)
    if line.strip() or not lines:
        lines.append(line.rstrip())
    return lines


def _words(text: str) -> Iterable[str]:
    """Words with their leading space; each CJK character is a word of its own."""
    word = ""
    for ch in text:
        if ch == " " and word.strip():
            yield word
            word = ch
        elif cells(ch) == 2:
            if word:
                yield word
            yield ch
            word = ""
        else:
            word += ch
    if word:
        yield word


# -- bitmaps for scripts the printer has no font for ---------------------------------------------
@lru_cache(maxsize=16)
def _font(px: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(FONT_PATH, px, index=FONT_INDEX_SC)


def text_bitmap(text: str, width_px: int, align: str = "left", size: tuple[int, int] = (1, 1),
                bold: bool = False) -> Image.Image:
    """One line of text drawn as the printer would print it: black on white, 1 bit."""
    w_mult, h_mult = size
    font = _font(FONT_HEIGHT * h_mult)
    ascent, descent = font.getmetrics()
    squeeze = w_mult / h_mult  # "tall" text is drawn at double size and squeezed sideways
    natural = font.getlength(text)
    canvas = Image.new("L", (max(1, int(natural) + 4), ascent + descent), 255)
    ImageDraw.Draw(canvas).text((1, 0), text, font=font, fill=0,
                                stroke_width=1 if bold else 0, stroke_fill=0)
    if squeeze != 1:
        canvas = canvas.resize((max(1, int(canvas.width * squeeze)), canvas.height))
    canvas = canvas.crop((0, 0, min(canvas.width, width_px), canvas.height))
    line = Image.new("L", (width_px, canvas.height), 255)
    x = {"left": 0, "center": (width_px - canvas.width) // 2, "right": width_px - canvas.width}[align]
    line.paste(canvas, (x, 0))
    return line.point(lambda v: 0 if v < 128 else 255).convert("1")  # threshold: no dither speckle


def wrap_pixels(text: str, width_px: int, size: tuple[int, int] = (1, 1)) -> list[str]:
    font = _font(FONT_HEIGHT * size[1])
    squeeze = size[0] / size[1]
    lines: list[str] = []
    line = ""
    for word in _words(text):
        if line and font.getlength(line + word) * squeeze > width_px - 4:
            lines.append(line.rstrip())
            line = word.lstrip()
        else:
            line += word
    lines.append(line.rstrip())
    return lines


# -- the renderer --------------------------------------------------------------------------------
class Renderer:
    def __init__(self, options: PrinterOptions | None = None):
        from escpos.printer import Dummy

        self.options = options or PrinterOptions()
        self.p = Dummy(profile=self.options.profile)
        # Our own copy of the profile data with the paper width we print to: python-escpos
        # reads it in image() (and prints a warning to stdout when it is "Unknown").
        data = copy.deepcopy(self.p.profile.profile_data)
        data.setdefault("media", {}).setdefault("width", {})["pixels"] = self.options.width_px
        self.p.profile.profile_data = data
        self.encoder = TextEncoder(self.options)
        self._align = "left"
        self._bold = False
        self._size = (1, 1)
        self.p.hw("INIT")  # ESC @: known state (code page 0, normal text) for every job
        if self.options.kanji_on_at_init:
            self.p._raw(FS_KANJI_OFF)

    # style: send only what changes
    def _style(self, align: str, bold: bool, size: tuple[int, int]) -> None:
        if align != self._align:
            self.p.set(align=align)
            self._align = align
        if bold != self._bold:
            self.p.set(bold=bold)
            self._bold = bold
        if size != self._size:
            self.p.set(custom_size=True, width=size[0], height=size[1])
            self._size = size

    def text(self, text: str, align: str = "left", size: tuple[int, int] = (1, 1), bold: bool = False) -> None:
        columns = max(1, self.options.columns // size[0])
        for line in wrap_cells(text, columns):
            data = self.encoder.encode(line)
            if data is None:
                self.bitmap_line(line, align, size, bold)
                continue
            self._style(align, bold, size)
            self.p._raw(data + b"\n")

    def bitmap_line(self, text: str, align: str, size: tuple[int, int], bold: bool) -> None:
        self.p._raw(self.encoder.leave_kanji())
        for part in wrap_pixels(text, self.options.width_px, size):
            self.p.image(text_bitmap(part, self.options.width_px, align, size, bold),
                         impl="bitImageRaster")

    def block(self, block: Block) -> None:
        if isinstance(block, Text):
            self.text(block.text, block.align, SIZES[block.size], block.bold)
        elif isinstance(block, BigNumber):
            scale = BIG_NUMBER_SCALE
            while scale > 1 and text_cells(block.text) * FONT_A_WIDTH * scale > self.options.width_px:
                scale -= 1
            self.text(block.text, "center", (scale, scale), True)
        elif isinstance(block, QrCode):
            from escpos.constants import QR_ECLEVEL_M

            self.p._raw(self.encoder.leave_kanji())
            self._style("center", self._bold, self._size)
            self.p.qr(block.data, native=True, size=block.module_size, ec=QR_ECLEVEL_M)
        elif isinstance(block, Separator):
            self._style("left", False, (1, 1))
            self.text(block.char * (self.options.columns // max(1, text_cells(block.char))))
        elif isinstance(block, Feed):
            self.p.print_and_feed(block.lines)
        elif isinstance(block, Cut):
            self.p._raw(self.encoder.leave_kanji())
            partial = block.partial and self.options.cut == "partial"
            self.p.cut(mode="PART" if partial else "FULL")
        else:
            raise TypeError(f"not a layout block: {block!r}")

    def finish(self) -> bytes:
        self.p._raw(self.encoder.leave_kanji())
        return self.p.output


def render(blocks: Iterable[Block], options: PrinterOptions | None = None) -> bytes:
    renderer = Renderer(options)
    for block in blocks:
        renderer.block(block)
    return renderer.finish()
