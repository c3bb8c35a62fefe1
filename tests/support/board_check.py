"""Runs the TV board until the node's states have arrived, checks the widget tree with the layout
oracle, saves a PNG and exits.

    python -m tests.support.board_check CONFIG BOARD LANG|board WIDTHxHEIGHT PNG REPORT.json

REPORT.json: {"problems": [...], "texts": [...], "size": [w, h], "gl_samples": n, ...}. One Kivy app per process.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("KIVY_NO_ARGS", "1")

from tests.support.layout_oracle import _visible, check_layout, check_text_size

MIN_TEXT_MM = 8.0  # read across a waiting room


def main(argv: list[str]) -> int:
    config, board, lang, size, png, report_path = argv
    from ui.board_app import run

    def inspect(app) -> None:
        from kivy.core.window import Window
        from kivy.graphics.opengl import glGetIntegerv
        GL_SAMPLES = 0x80A9
        problems = check_layout(app.root, Window.size, app.dpi)
        problems += check_text_size(app.root, app.dpi, min_text_mm=MIN_TEXT_MM)
        problems += [f"{text!r} is shortened on screen" for text in shortened(app.root)
                     if "·" not in text]  # only a long service name may be shortened
        Path(report_path).write_text(json.dumps({"problems": problems, "texts": app.texts(), "all_texts": app.texts(hidden=True),
                                                 "size": list(Window.size), "online": app.online,
                                                 "gl_samples": glGetIntegerv(GL_SAMPLES)[0]},
                                                ensure_ascii=False, indent=1), encoding="utf-8")

    return run(_args(config, board, lang, size, png), on_settled=inspect)


def shortened(root) -> list[str]:
    """Texts of labels that `shorten` cut: the texture drawn is narrower than the whole line."""
    from kivy.core.text import Label as CoreLabel
    from kivy.uix.label import Label
    out = []
    for w, _clip, _clipper in _visible(root, (-1e9, -1e9, 1e9, 1e9), None):
        if isinstance(w, Label) and w.shorten and w.text:
            core = CoreLabel(text=w.text, font_size=w.font_size, bold=w.bold, font_name=w.font_name)
            core.refresh()
            if w.texture_size[0] + 1 < core.texture.size[0]:  # what it drew is narrower than the text
                out.append(w.text)
    return out


def _args(config, board, lang, size, png):
    import argparse

    from ui.board_cli import add_arguments
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    langs = [] if lang == "board" else ["--lang", lang]  # "board": the board's own languages and mode
    return parser.parse_args(["--config", config, "--board", board, *langs, "--size", size, "--windowed",
                              "--snap", png])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
