"""Test mode: the screening app tells an end-to-end test what it shows (--state-file).

The screen, whether its layout has settled, the captured values and outcome as displayed, the
live values, and where each button is on the X display (so a test taps it with real pointer
events). Masked booking line and doctors' names only: nothing more personal is on screen.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from kivy.clock import Clock
from kivy.uix.button import Button

SETTLE_S = 0.3
WATCHED = ("screen", "captures", "outcome_detail", "live_celsius", "live_spo2", "suggested", "status_text",
           "scan_error", "box_flag", "patient_line", "today_text")


class StateFile:
    def __init__(self, app, path: Path):
        self.app = app
        self.path = path
        self.link = False
        self._settled_at = 0.0
        self.write = Clock.create_trigger(lambda dt: self._write())
        self._settle = Clock.create_trigger(lambda dt: self._settled(), SETTLE_S)
        for name in WATCHED:
            app.bind(**{name: lambda *_: self.changed()})

    def changed(self) -> None:
        self._settled_at = 0.0
        self.write()
        self._settle()

    def _settled(self) -> None:
        self._settled_at = time.time()
        self.write()

    def _write(self) -> None:
        app = self.app
        if not hasattr(app, "sm"):
            return
        settled = bool(self._settled_at)
        state = {"screen": app.screen, "settled": settled, "link": self.link, "captures": dict(app.captures),
                 "outcome_title": app.outcome_title, "outcome_detail": app.outcome_detail,
                 "outcome_failure": app.outcome_failure, "box_flag": app.box_flag, "suggested": app.suggested,
                 "patient_line": app.patient_line, "live": [app.live_celsius, app.live_spo2, app.live_pulse],
                 "status": app.status_text, "scan_error": app.scan_error, "today": app.today_text,
                 "buttons": self.buttons() if settled else [], "ts": time.time()}
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, self.path)

    def buttons(self) -> list[dict]:
        from kivy.core.window import Window
        out = []
        current = self.app.sm.current_screen
        for widget in current.walk(restrict=True):
            if isinstance(widget, Button) and widget.text and widget.opacity > 0 and widget.width > 0:
                wx, wy = widget.to_window(*widget.center)
                out.append({"text": widget.text, "x": int(Window.left + wx), "y": int(Window.top + Window.height - wy)})
        return out
