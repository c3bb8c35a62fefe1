"""Run the screening app's screenshot tour in this process and check every screen's widget tree
with the layout oracle while it is up; write {screen: [problems]} as JSON.

    python -m tests.support.screening_tour_check OUTDIR LANG RESULT.json
"""
from __future__ import annotations

import os

os.environ.setdefault("KIVY_NO_ARGS", "1")

import json
import sys
from pathlib import Path

PANEL_DPI = 149  # a 10.1" 1280x800 panel: 15 mm is 88 px


def main(outdir: str, lang: str, result: str) -> int:
    from tests.support.layout_oracle import check_layout
    from ui import fonts
    from ui.screening_app import ROOT, ScreeningApp, configure_window
    from ui.screening_tour import Tour

    configure_window(True, "1280x800")
    fonts.register()
    from foundation.config import load_config
    config = load_config(ROOT / "config" / "example.toml")
    app = ScreeningApp(config, post_id="screening-1", lang=lang, kiosk_mode=False)
    problems: dict[str, list[str]] = {}

    def check(name, root):
        from kivy.core.window import Window
        problems[name] = check_layout(root, Window.size, PANEL_DPI)

    Tour(app, Path(outdir), lang, on_shot=check).start()
    app.run()
    Path(result).write_text(json.dumps(problems, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
