"""The screenshot tour of the screening app: every screen with sample answers, saved as
screening_<screen>_<lang>.png, then exit. No broker: the tour calls the app's own answer handlers
with replies shaped like the controller's. `on_shot(name, root)` lets a test check each screen's
widget tree while it is up (the layout oracle)."""
from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from kivy.clock import Clock

from ui.screening_client import Reply
from ui.snapshot import snapshot

log = logging.getLogger("vestibule.ui.screening.tour")

START = "2026-11-23T10:30:00+03:00"
BOOKED = {"session": "a1b2c3d4e5f60718", "booking": "BK-7Q4M2", "ticket": None,
          "patient": {"display": "Иванов И.", "first_visit": False, "child": False},
          "doctor": "Петрова А. С.", "room": "12", "start": START, "flags": [], "suggested": "pass"}
FLAGGED = dict(BOOKED, booking="BX-3K9P1", flags=["box"], suggested="box",
               patient={"display": "Смирнова Е.", "first_visit": True, "child": False})
WALK_IN = {"session": "0f1e2d3c4b5a6978", "booking": None, "ticket": "R007", "patient": None, "doctor": None,
           "room": "1", "start": None, "flags": [], "suggested": "pass"}
LIVE_THERMO = {"celsius": 37.86, "out_of_human_range": False}
LIVE_OXI = {"spo2": 97, "pulse": 88, "probe": "ok"}
FIRST_SHOT_DELAY_S = 0.6
SHOT_DELAY_S = 0.2

SCREENS = ["scan", "scan_not_found", "post_flagged", "post_captured", "post_errors", "post_walk_in",
           "questions", "reason", "done_box_informed", "done_box_not_informed", "done_pass", "done_refer"]


class Tour:
    def __init__(self, app, outdir: Path, lang: str, on_shot: Callable[[str, object], None] | None = None):
        self.app = app
        self.outdir = outdir
        self.lang = lang
        self.on_shot = on_shot
        self.steps = self._steps()

    def start(self) -> None:
        self.app.default_lang = self.lang
        self.app.lang = self.lang
        self.app.bind(on_start=lambda *_: Clock.schedule_once(self._next, FIRST_SHOT_DELAY_S))

    def _steps(self):
        app = self.app

        def live(thermo=LIVE_THERMO, oxi=LIVE_OXI):
            app.on_reading("thermometer", thermo)
            app.on_reading("oximeter", oxi)

        def ok(data):
            return Reply(True, data=data)

        def fail(code, message=""):
            return Reply(False, code=code, message=message)

        def scan_not_found():
            app.reset()
            app.started(fail("not_found", "no booking BK-NOSUCH today"))

        def post_flagged():
            app.reset()
            live()
            app.started(ok(FLAGGED))

        def post_captured():
            app.reset()
            live()
            app.started(ok(BOOKED))
            app.measured("forehead", ok({"value": 37.86, "unit": "Cel", "suggested": "box"}))
            app.measured("neck", ok({"value": 37.72, "unit": "Cel", "suggested": "box"}))
            app.measured("oximetry", ok({"spo2": 97, "pulse": 88, "suggested": "box"}))
            app.patient.answers.update({"fever-14d": "no", "cough": "yes"})
            app.answered(ok({"suggested": "box"}))

        def post_errors():
            app.reset()
            live({"celsius": 27.94, "out_of_human_range": True}, {"spo2": None, "pulse": None, "probe": "finger_out"})
            app.started(ok(BOOKED))
            app.measured("forehead", fail("implausible", "thermometer-1 reads 27.94 °C, not a body temperature"))
            app.measured("neck", fail("no_reading", "thermometer-1: no reading within 8 s"))
            app.measured("oximetry", fail("device_unavailable", "oximeter oximeter-1 is not available"))

        def post_walk_in():
            app.reset()
            live()
            app.started(ok(WALK_IN))

        def questions():
            app.reset()
            app.started(ok(BOOKED))
            app.patient.answers.update({"fever-14d": "no", "cough": "yes"})
            app.open_questions()

        def reason():
            app.reset()
            app.started(ok(BOOKED))
            app.decide("refer")

        def done(decision, data, start=BOOKED):
            def run():
                app.reset()
                app.started(ok(start))
                app.completed(decision, ok({"decision": decision, "suggested": decision,
                                            "today": {"screened": 23, "box": 2, "refer": 1}, **data}))
            return run

        return [("scan", app.reset), ("scan_not_found", scan_not_found), ("post_flagged", post_flagged),
                ("post_captured", post_captured), ("post_errors", post_errors), ("post_walk_in", post_walk_in),
                ("questions", questions), ("reason", reason),
                ("done_box_informed", done("box", {"notified": True, "doctor": "Петрова А. С."}, FLAGGED)),
                ("done_box_not_informed", done("box", {"notified": False, "doctor": None}, WALK_IN)),
                ("done_pass", done("pass", {"notified": False})), ("done_refer", done("refer", {"notified": False}))]

    def _next(self, *_):
        if not self.steps:
            self.app.stop()
            return
        name, action = self.steps.pop(0)
        action()
        Clock.schedule_once(lambda dt: self._shoot(name), SHOT_DELAY_S)

    def _shoot(self, name: str) -> None:
        if self.on_shot:
            self.on_shot(name, self.app.root)
        path = self.outdir / f"screening_{name}_{self.lang}.png"
        snapshot(path, then=lambda p: Clock.schedule_once(self._next, 0))
