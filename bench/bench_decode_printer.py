"""How fast the ESC/POS stream parser and the status decoders run, against the line they serve.

Line rates, measured side by side in this run:
  serial 115200 baud 8N1 = 10 bits a byte -> 11 520 B/s  (goal: >= 200x)
  USB full speed 12 Mbit/s                -> 1 500 000 B/s raw (bulk payload is less; stated as an
                                             upper bound, so the ratio is a conservative one)

Streams: the six sample documents (ru/zh/en ticket + receipt) as text with native QR, the
Chinese receipt drawn as raster images (a printer without a CJK font), and a status stream
of DLE EOT answers interleaved with ASB messages.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devices.printer import escpos_parser as ep  # noqa: E402
from devices.printer import status as st  # noqa: E402
from devices.printer.document import DocumentBuilder  # noqa: E402
from devices.printer.layout import LANGS, layout_for, sample_receipt, sample_ticket  # noqa: E402
from devices.printer.options import PrinterOptions  # noqa: E402
from devices.printer.render import render  # noqa: E402

SERIAL_BPS = 115200 / 10  # 8N1: start + 8 data + stop bits per byte
USB_FS_BPS = 12_000_000 / 8
CHUNK = 4096  # what the pty simulator hands the parser at a time


def best_rate(fn, data_len: int, repeat: int = 5, min_time: float = 0.3) -> float:
    """Bytes per second of the best of `repeat` timed batches of at least `min_time` s."""
    best = float("inf")
    for _ in range(repeat):
        loops, elapsed = 0, 0.0
        start = time.perf_counter()
        while elapsed < min_time:
            fn()
            loops += 1
            elapsed = time.perf_counter() - start
        best = min(best, elapsed / loops)
    return data_len / best


def parse_stream(data: bytes) -> None:
    parser, builder = ep.EscposParser(), DocumentBuilder()
    for i in range(0, len(data), CHUNK):
        builder.apply(parser.feed(data[i:i + CHUNK]))
    builder.apply(parser.flush())


def main() -> int:
    all_scripts = PrinterOptions.from_mapping({"scripts": "latin,cyrillic,cjk"})
    text_stream = b"".join(render(layout_for(doc), all_scripts)
                           for lang in LANGS for doc in (sample_ticket(lang), sample_receipt(lang)))
    image_stream = render(layout_for(sample_receipt("zh")), PrinterOptions())
    answers = bytes([0x12, 0x12, 0x1E, 0x72, 0x16, 0x1A, 0x32, 0x12])
    status_stream = (answers + bytes.fromhex("10000300") + answers[:4] + bytes.fromhex("18000f00")) * 256

    def decode_status() -> None:
        for kind, value in st.StatusReader().feed(status_stream):
            if kind == "rt":
                st.decode_rt(4, value)
            elif kind == "asb":
                st.decode_asb(value)

    rows = [
        ("parser+documents, text receipts (6 docs)", text_stream, lambda: parse_stream(text_stream)),
        ("parser+documents, bitmap zh receipt", image_stream, lambda: parse_stream(image_stream)),
        ("status reader + DLE EOT/ASB decode", status_stream, decode_status),
    ]
    print(f"line rates: serial 115200 8N1 = {SERIAL_BPS:,.0f} B/s; USB full speed 12 Mbit/s = {USB_FS_BPS:,.0f} B/s")
    print(f"{'stream':44} {'bytes':>8} {'MB/s':>8} {'x serial':>10} {'x USB FS':>9}")
    worst = float("inf")
    for name, data, fn in rows:
        rate = best_rate(fn, len(data))
        ratio = rate / SERIAL_BPS
        worst = min(worst, ratio)
        print(f"{name:44} {len(data):8d} {rate / 1e6:8.2f} {ratio:9.0f}x {rate / USB_FS_BPS:8.2f}x")
    verdict = "meets" if worst >= 200 else "MISSES"
    print(f"slowest: {worst:.0f}x the serial line rate ({verdict} the >= 200x goal)")
    return 0 if worst >= 200 else 1


if __name__ == "__main__":
    sys.exit(main())
