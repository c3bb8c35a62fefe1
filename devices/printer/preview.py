"""A parsed document (what the bytes say) drawn as a PNG receipt, 576 px = 80 mm paper at 203 dpi.

Geometry follows the printer: font A cells are 12 x 24 dots, CJK characters take two cells,
GS ! multipliers scale the cells, a text line advances 30 dots, raster images are drawn dot for
dot and QR codes with the module size the printer was told (GS ( k function 167).
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import qrcode
from PIL import Image, ImageDraw, ImageFont

from devices.printer.document import DocFeed, DocImage, DocLine, DocQr, ParsedDocument
from devices.printer.render import FONT_PATH, cells

FONT_INDEX_MONO_SC = 7  # Noto Sans Mono CJK SC: half-width Latin like the printer's font A

WIDTH = 576
CELL_W, CELL_H, LINE_H = 12, 24, 30
MARGIN_Y = 16
_EC = {"L": qrcode.constants.ERROR_CORRECT_L, "M": qrcode.constants.ERROR_CORRECT_M,
       "Q": qrcode.constants.ERROR_CORRECT_Q, "H": qrcode.constants.ERROR_CORRECT_H}


@lru_cache(maxsize=16)
def _font(px: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(FONT_PATH, px, index=FONT_INDEX_MONO_SC)


def _run_image(text: str, w: int, h: int, bold: bool) -> Image.Image:
    """A run of text in printer cells: drawn at h-times size, then stretched to w-times width.

    Every glyph is fitted into its cell(s), as in the printer's fixed-pitch font: glyphs wider
    than the cell (Ж, Ш, М in a proportional face) are squeezed instead of spilling over."""
    font = _font(int(CELL_H * h * 0.92))
    cell = CELL_W * h
    stroke = max(1, h // 2) if bold else 0
    total = sum(cells(ch) for ch in text)
    img = Image.new("L", (max(1, total * cell), CELL_H * h), 255)
    baseline = int(CELL_H * h * 0.82)
    x = 0
    for ch in text:
        n = cells(ch)
        room = n * cell - 1
        if not ch.isspace():
            advance = font.getlength(ch) + 2 * stroke
            glyph = Image.new("L", (max(1, int(advance) + 2), img.height), 255)
            ImageDraw.Draw(glyph).text((glyph.width / 2, baseline), ch, font=font, fill=0, anchor="ms",
                                       stroke_width=stroke, stroke_fill=0)
            if glyph.width > room:
                glyph = glyph.resize((room, glyph.height))
            img.paste(glyph, (x + (n * cell - glyph.width) // 2, 0))
        x += n * cell
    if w != h:
        img = img.resize((max(1, total * CELL_W * w), img.height))
    return img


def _line_image(line: DocLine) -> Image.Image:
    height = LINE_H * line.height
    canvas = Image.new("L", (WIDTH, height), 255)
    parts = [_run_image(r.text, r.width, r.height, r.bold) for r in line.runs if r.text]
    used = sum(p.width for p in parts)
    x = {"left": 0, "center": (WIDTH - used) // 2, "right": WIDTH - used}.get(line.align, 0)
    x = max(0, x)
    for part in parts:
        canvas.paste(part, (x, height - part.height - (LINE_H - CELL_H) // 2))
        x += part.width
    return canvas


def _raster_image(block: DocImage) -> Image.Image:
    img = block.image
    if img.data is None or img.kind == "column":
        box = Image.new("L", (min(WIDTH, img.width), max(1, img.height)), 200)  # not drawable: grey
        return box
    size = ((img.width + 7) // 8 * 8, img.height)
    data = img.data.ljust(size[0] // 8 * size[1], b"\x00")
    bitmap = Image.frombytes("1", size, data, "raw", "1;I")  # ESC/POS: bit set = black dot
    return bitmap.convert("L").crop((0, 0, min(WIDTH, img.width), img.height))


def _qr_image(block: DocQr) -> Image.Image:
    sym = block.symbol
    code = qrcode.QRCode(box_size=max(1, sym.module_size), border=0,
                         error_correction=_EC.get(sym.ec, qrcode.constants.ERROR_CORRECT_L))
    code.add_data(sym.data)
    code.make(fit=True)
    return code.make_image(fill_color="black", back_color="white").get_image().convert("L")


def _place(img: Image.Image, align: str) -> Image.Image:
    row = Image.new("L", (WIDTH, img.height), 255)
    x = {"left": 0, "center": (WIDTH - img.width) // 2, "right": WIDTH - img.width}.get(align, 0)
    row.paste(img, (max(0, x), 0))
    return row


def render_preview(doc: ParsedDocument) -> Image.Image:
    rows: list[Image.Image] = []
    for block in doc.blocks:
        if isinstance(block, DocLine):
            rows.append(_line_image(block))
        elif isinstance(block, DocImage):
            rows.append(_place(_raster_image(block), block.align))
        elif isinstance(block, DocQr):
            rows.append(Image.new("L", (WIDTH, 8), 255))
            rows.append(_place(_qr_image(block), block.align))
            rows.append(Image.new("L", (WIDTH, 8), 255))
        elif isinstance(block, DocFeed):
            rows.append(Image.new("L", (WIDTH, LINE_H * block.lines), 255))
    height = sum(r.height for r in rows) + 2 * MARGIN_Y + (12 if doc.cut else 0)
    page = Image.new("L", (WIDTH, height), 255)
    y = MARGIN_Y
    for row in rows:
        page.paste(row, (0, y))
        y += row.height
    if doc.cut:  # where the cutter goes: dashed for a partial cut, solid for a full one
        draw = ImageDraw.Draw(page)
        y = height - 6
        step = 12 if doc.cut == "partial" else WIDTH
        for x in range(0, WIDTH, step):
            draw.line((x, y, min(WIDTH, x + (8 if doc.cut == "partial" else WIDTH)), y), fill=120, width=2)
    return page.convert("RGB")


def save_preview(doc: ParsedDocument, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    render_preview(doc).save(path)
    return path
