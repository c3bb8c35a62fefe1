"""Test mode: the kiosk tells an end-to-end test what it shows.

A JSON state file (screen, ticket, offline, and where each button of the screen is on the X
display, so a test can tap it with real pointer events) and a PNG of every screen that stays up.
No personal data goes in: ticket numbers and error codes only.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from kivy.clock import Clock
from kivy.uix.button import Button

from ui.snapshot import snapshot

SETTLE_S = 0.25  # labels and layouts settle within a few frames of a screen change


class Observer:
    def __init__(self, app, state_file: Path | None, snap_dir: Path | None):
        self.app = app
        self.state_file = state_file
        self.snap_dir = snap_dir
        self._settled_on: str | None = None  # the screen whose layout has settled
        # written on the next frame: kv rules re-bind texts after the property change that asked
        self.write = Clock.create_trigger(lambda dt: self._write())

    def shown(self, screen: str) -> None:
        self._settled_on = None
        self.write()
        Clock.schedule_once(lambda dt: self._settled(screen), SETTLE_S)

    def _settled(self, screen: str) -> None:
        if self.app.screen != screen:
            return  # it flashed by
        self._settled_on = screen
        self.write()
        if self.snap_dir:
            snapshot(self.snap_dir / f"kiosk_e2e_{screen}.png")

    def _write(self) -> None:
        app = self.app
        if not self.state_file or not hasattr(app, "sm"):
            return
        settled = app.screen == self._settled_on
        s = app.session
        entered = len(s.code) + len(s.birth) + (0 if s.phone == "+7" else len(s.phone))  # how much, not what
        state = {"screen": app.screen, "lang": app.lang, "offline": app.offline, "link": app.link_up,
                 "ticket": app.result_number if app.screen == "result" else "",
                 "printed": app.result_printed, "error": app.error_code if app.screen == "error" else "",
                 "entered": entered, "window": self._window(), "settled": settled, "buttons": self.buttons() if settled else [],
                 # booking codes and ticket numbers, never a phone or a name
                 "code": app.code_text, "typed": app.error_typed if app.screen == "error" else "",
                 "idle_left": app.idle_left, "printer_note": app.printer_note, "access": app.access,
                 "confirm": app.confirm_mode if app.screen == "confirm" else "",
                 "slot": self._slot() if app.screen == "confirm" and app.confirm_mode == "sameday" else "",
                 "ts": time.time()}
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, self.state_file)

    def _slot(self) -> str:
        """The same-day time the confirm screen shows (HH:MM), read from the screen itself."""
        rows = self.app.sm.get_screen("confirm").ids.rows.children[::-1]
        values = [w.text for w in rows]
        return next((v for v in values if len(v) == 5 and v[2] == ":"), "")

    @staticmethod
    def _window() -> dict:
        from kivy.core.window import Window
        return {"size": list(Window.size), "left": Window.left, "top": Window.top, "borderless": Window.borderless}

    def buttons(self) -> list[dict]:
        """Text and centre, in X display pixels, of every button a patient can press now."""
        from kivy.core.window import Window
        out = []
        for widget in self.app.root.walk(restrict=True):
            if not isinstance(widget, Button) or widget.disabled or widget.opacity == 0 or not widget.text:
                continue
            if not self._visible(widget):
                continue
            wx, wy = widget.to_window(*widget.center)
            out.append({"text": widget.text, "x": int(Window.left + wx), "y": int(Window.top + Window.height - wy)})
        return out

    def _visible(self, widget) -> bool:
        """On the current screen (screens not shown keep their widgets) and of some size."""
        node = widget
        while node is not None and node is not self.app.root:  # the Window is its own parent
            if node.__class__.__name__.endswith("Screen") and node is not self.app.sm.current_screen:
                return False
            node = node.parent
        return widget.width > 0 and widget.height > 0
