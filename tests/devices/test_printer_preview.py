"""PNG previews of what the bytes say, written to build/screenshots/receipt_<kind>_<lang>.png."""
from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from devices.printer.document import parse_documents
from devices.printer.layout import LANGS, layout_for, sample_receipt, sample_ticket
from devices.printer.options import PrinterOptions
from devices.printer.preview import WIDTH, render_preview, save_preview
from devices.printer.render import render

SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
ALL_SCRIPTS = PrinterOptions.from_mapping({"scripts": "latin,cyrillic,cjk"})


def dark_row_runs(img: Image.Image) -> list[int]:
    """Heights of consecutive runs of rows that contain black pixels."""
    gray = img.convert("L")
    w, h = gray.size
    px = gray.load()
    runs, current = [], 0
    for y in range(h):
        if any(px[x, y] < 100 for x in range(0, w, 2)):
            current += 1
        elif current:
            runs.append(current)
            current = 0
    if current:
        runs.append(current)
    return runs


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("kind", ["ticket", "receipt"])
def test_preview_png_is_written_576_px_wide_with_a_large_number(kind, lang):
    doc = sample_receipt(lang) if kind == "receipt" else sample_ticket(lang)
    [parsed] = parse_documents(render(layout_for(doc), ALL_SCRIPTS))
    path = save_preview(parsed, SCREENSHOTS / f"receipt_{kind}_{lang}.png")
    img = Image.open(path)
    assert img.width == WIDTH and img.height > 400
    runs = dark_row_runs(img)
    assert max(runs) >= 70  # the big ticket number (5 x 24 dots; capitals ~0.7 of that) or the QR
    assert sum(1 for r in runs if 12 <= r <= 30) >= 6  # ordinary text lines


def test_receipt_preview_draws_the_qr_code_from_the_bytes():
    [parsed] = parse_documents(render(layout_for(sample_receipt("en")), ALL_SCRIPTS))
    with_qr = render_preview(parsed)
    parsed.blocks = [b for b in parsed.blocks if type(b).__name__ != "DocQr"]
    without_qr = render_preview(parsed)
    assert with_qr.height - without_qr.height >= 100  # 21+ modules x 6 dots, plus spacing


def test_bitmap_lines_are_drawn_dot_for_dot():
    [parsed] = parse_documents(render(layout_for(sample_receipt("zh")), PrinterOptions()))
    path = save_preview(parsed, SCREENSHOTS / "receipt_receipt_zh_bitmap.png")
    img = Image.open(path).convert("L")
    assert img.width == WIDTH
    assert len(parsed.images) >= 8
    assert sum(img.histogram()[:100]) > 5000  # dark pixels
