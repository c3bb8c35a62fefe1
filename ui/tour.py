"""The screenshot tour: every kiosk screen, filled with sample answers, saved as a PNG, then exit.

No broker: the tour calls the app's own screen methods with data shaped like the controller's
answers. Kivy runs one App per process, so the tests run one tour per language.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from kivy.clock import Clock

from ui.i18n import tr
from ui.kiosk_model import (
    booked_view,
    checkin_view,
    error_view,
    parse_info,
    printer_note,
    ticket_view,
)
from ui.snapshot import snapshot

log = logging.getLogger("vestibule.ui.tour")

START = "2026-11-23T10:30:00+03:00"
CHECKIN = {"ticket": "T014", "route": "doctor", "room": "12", "floor": 2, "start": START,
           "doctor": "Петрова А. С.", "specialty": None, "patient": "Иванов И.", "booking": "BK-7Q4M2",
           "printed": True, "offline": False, "message": "", "ahead": 2, "wait_minutes": 14}
PREVIEW = {"patient": "Иванов И.", "doctor": "Петрова А. С.", "start": START, "room": "12", "floor": 2}
TICKET = {"ticket": "R007", "service": "registration", "service_name": None, "room": "1", "floor": 1,
          "priority": True, "ahead": 3, "printed": False, "message": ""}
SLOTS = [{"doctor_id": "d-therapist-3", "start": "2026-11-23T14:15:00+03:00", "room": "12", "floor": 2,
          "doctor_name": "Петрова А. С."},
         {"doctor_id": "d-therapist-5", "start": "2026-11-23T15:00:00+03:00", "room": "14", "floor": 2,
          "doctor_name": "Смирнов К. Л."},
         {"doctor_id": "d-therapist-3", "start": "2026-11-23T16:45:00+03:00", "room": "12", "floor": 2},
         {"doctor_id": "d-therapist-5", "start": "2026-11-23T17:00:00+03:00", "room": "14", "floor": 2,
          "doctor_name": "Смирнов К. Л."},
         {"doctor_id": "d-therapist-3", "start": "2026-11-23T17:30:00+03:00", "room": "12", "floor": 2,
          "doctor_name": "Петрова А. С."},
         {"doctor_id": "d-therapist-5", "start": "2026-11-23T18:15:00+03:00", "room": "14", "floor": 2,
          "doctor_name": "Смирнов К. Л."}]
PAPER_OUT = {"printer": {"device": "printer-1", "state": "fault", "problems": ["paper_out"]}}
BOOKED = {"booking": "SD-4K2", "start": "2026-11-23T14:15:00+03:00", "room": "12", "doctor": "Петрова А. С.",
          "checkin": None, "checkin_error": "too_early", "message": "14:15 ... 13:45"}
FIRST_SHOT_DELAY_S = 0.5  # let the window settle (size, fonts) before the first screen
SHOT_DELAY_S = 0.15  # labels re-lay themselves out over a frame or two after a change


class Tour:
    """`inspect(name)` runs on every screen once it is laid out, before its PNG is taken (the
    tests check the widget tree there)."""

    def __init__(self, app, outdir: Path, lang: str, inspect: Callable[[str], None] | None = None):
        self.app = app
        self.outdir = outdir
        self.lang = lang
        self.inspect = inspect
        self.steps = self._steps()
        self.taken: list[Path] = []

    def start(self) -> None:
        self.app.default_lang = self.lang
        self.app.bind(on_start=lambda *_: Clock.schedule_once(self._next, FIRST_SHOT_DELAY_S))

    def _steps(self):
        app = self.app

        def typed(handler, text):
            def run():
                for ch in text:
                    handler(ch)
            return run

        def checkin(**changes):
            data = dict(CHECKIN, specialty=tr("specialty_therapist", self.lang), **changes)
            return lambda: app.show_result(checkin_view(data, self.lang, app.reception_place()))

        def ticket():
            data = dict(TICKET, service_name=_service_name(app))
            return lambda: app.show_result(ticket_view(data, self.lang))

        def error(code, message=""):
            return lambda: app.show_error(error_view(code, message, self.lang))

        def with_waits():
            data = {"services": [{"id": s.id, "name": s.names.get(self.lang) or s.id, "specialty": s.specialty,
                                  "waiting": n, "wait_minutes": n * 6} for n, s in
                                 enumerate(app.node_config.services, start=2)]}
            app.info = parse_info(data, self.lang, app.node_config)
            app.want_ticket()

        def info(data):
            def run():
                app.info = parse_info(data, self.lang, app.node_config)
                app.printer_note = printer_note(app.info, self.lang)
            return run

        def not_found_after_typing():
            app.start_over()
            app.want_booking()
            typed(app.code_key, "BK-7Q4M3")()
            app.show_error(error_view("not_found", "", self.lang))

        def sameday_confirm():
            app.session.phone, app.session.birth = "+79215554417", "02041961" if self.lang != "zh" else "19610402"
            app.session.purpose = "sameday"
            app.session.slot = SLOTS[0]
            app.show_sameday_confirm()

        def access(show):
            def run():
                app.access = True
                show()
            return run

        return [
            ("welcome", app.start_over),
            ("welcome_offline", lambda: setattr(app, "offline", True)),
            ("welcome_paper_out", lambda: (setattr(app, "offline", False), info(PAPER_OUT)())),
            ("code", lambda: (info({})(), app.want_booking(), typed(app.code_key, "BK-7Q4M2")())),
            ("code_empty", lambda: (app.start_over(), app.want_booking())),
            ("code_idle", lambda: (typed(app.code_key, "BK-7")(), app._show_idle_prompt(12))),
            ("phone", lambda: (app.want_phone(), typed(app.phone_key, "9215554417")())),
            ("birth", lambda: (app.go("birth"), typed(app.birth_key, "0204196" if self.lang != "zh"
                                                      else "1961040")())),
            ("birth_invalid", lambda: (setattr(app.session, "birth", "3102196" if self.lang != "zh" else "1961023"),
                                       typed(app.birth_key, "1")(), app.birth_done())),  # 31 February
            ("busy", lambda: app.go("busy")),
            ("confirm", lambda: app.show_confirm(PREVIEW)),
            ("representative", lambda: app.go("representative")),
            ("services", lambda: (app.want_ticket(), setattr(app, "priority", True))),
            ("services_waits", with_waits),
            ("result_doctor", checkin()),
            ("result_registration", checkin(route="registration")),
            ("result_box", checkin(route="box", room="B1", floor=1, ticket="T015")),
            ("result_ticket", ticket()),
            ("error_not_found", not_found_after_typing),
            ("error_too_early", error("too_early", "check-in opens at 10:00")),
            ("error_too_late", error("too_late")),
            ("error_cancelled", error("cancelled")),
            ("error_other_site", error("other_site")),
            ("error_no_answer", error("no_answer")),
            ("sameday", app.want_sameday),
            ("slots", lambda: app.show_slots(SLOTS)),
            ("sameday_confirm", sameday_confirm),
            ("sameday_booked", lambda: app.show_error(booked_view(BOOKED, self.lang, 30))),
            ("rate", lambda: (app.start_over(), app.want_rate(), typed(app.rate_key, "T014")())),
            ("feedback", lambda: app.go("feedback")),
            ("callback", lambda: app.feedback(4)),
            ("thanks", lambda: app.go("thanks")),
            ("welcome_access", access(app.start_over)),
            ("code_access", access(lambda: (app.start_over(), app.want_booking(), typed(app.code_key, "BK-7Q4M2")()))),
            ("services_access", access(with_waits)),
            ("result_access", access(checkin(route="registration"))),
            ("error_access", access(not_found_after_typing)),
            ("idle_access", access(lambda: (app.start_over(), app.want_booking(), app._show_idle_prompt(9)))),
        ]

    def _next(self, *args) -> None:
        if not self.steps:
            log.info("tour done: %d screenshots in %s", len(self.taken), self.outdir)
            self.app.stop()
            return
        name, show = self.steps.pop(0)
        show()
        Clock.schedule_once(lambda dt: self._shoot(name), SHOT_DELAY_S)

    def _shoot(self, name: str) -> None:
        if self.inspect:
            self.inspect(name)
        snapshot(self.outdir / f"kiosk_{name}_{self.suffix}.png", then=self._taken)

    @property
    def suffix(self) -> str:
        from kivy.core.window import Window
        width, height = Window.size
        return f"{self.lang}_{'portrait' if height > width else 'landscape'}"

    def _taken(self, path: Path) -> None:
        self.taken.append(path)
        self._next()


def _service_name(app) -> str:
    return next((c.name for c in app.info.services if c.id == TICKET["service"]), TICKET["service"])
