"""Runs the kiosk's screenshot tour with the layout oracle checking every screen.

    python -m tests.support.kiosk_tour OUTDIR LANG WIDTHxHEIGHT REPORT.json

REPORT.json: {"problems": {screen: the oracle's problems on it (an empty list: sound)},
"keypad": {screen: window position of the code keypad's first key, on the code screens}}.
One Kivy app per process, so the test runs this once per language and orientation.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("KIVY_NO_ARGS", "1")

from tests.support.layout_oracle import check_layout, check_text_size

MIN_TEXT_MM = 5.0


def main(argv: list[str]) -> int:
    outdir, lang, size, report_path = argv
    from kivy.app import App

    from ui.kiosk_app import parse_args, run
    report: dict[str, dict] = {"problems": {}, "keypad": {}}

    def inspect(name: str) -> None:
        from kivy.core.window import Window
        app = App.get_running_app()
        problems = check_layout(app.root, Window.size, app.dpi)
        problems += check_text_size(app.root, app.dpi, min_text_mm=MIN_TEXT_MM)
        report["problems"][name] = problems
        if app.screen == "code":
            key = app.sm.get_screen("code").ids.keypad.keys[0][0]
            report["keypad"][name] = [round(v, 1) for v in key.to_window(*key.pos)]
        Path(report_path).write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")

    code = run(parse_args(["--tour", outdir, "--lang", lang, "--size", size]), inspect=inspect)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
