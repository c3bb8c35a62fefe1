"""The screenshot tour: every kiosk screen, filled with sample answers, saved as a PNG, then exit.

No broker: the tour calls the app's own screen methods with data shaped like the controller's
answers. Kivy runs one App per process, so the tests run one tour per language.
"""
from __future__ import annotations

import logging
from pathlib import Path

from kivy.clock import Clock

from ui.i18n import tr
from ui.kiosk_model import booked_view, checkin_view, error_view, ticket_view
from ui.snapshot import snapshot

log = logging.getLogger("vestibule.ui.tour")

START = "2026-11-23T10:30:00+03:00"
CHECKIN = {"ticket": "T014", "route": "doctor", "room": "12", "floor": 2, "start": START,
           "doctor": "Петрова А. С.", "specialty": None, "patient": "Иванов И.", "booking": "BK-7Q4M2",
           "printed": True, "offline": False, "message": ""}
PREVIEW = {"patient": "Иванов И.", "doctor": "Петрова А. С.", "start": START, "room": "12", "floor": 2}
TICKET = {"ticket": "R007", "service": "registration", "service_name": None, "room": "1", "floor": 1,
          "priority": True, "ahead": 3, "printed": False, "message": ""}
SLOTS = [{"doctor_id": "d-therapist-3", "start": "2026-11-23T14:15:00+03:00", "room": "12", "floor": 2,
          "doctor_name": "Петрова А. С."},
         {"doctor_id": "d-therapist-5", "start": "2026-11-23T15:00:00+03:00", "room": "14", "floor": 2,
          "doctor_name": "Смирнов К. Л."},
         {"doctor_id": "d-therapist-3", "start": "2026-11-23T16:45:00+03:00", "room": "12", "floor": 2}]
BOOKED = {"booking": "SD-4K2", "start": "2026-11-23T14:15:00+03:00", "room": "12", "doctor": "Петрова А. С.",
          "checkin": None, "checkin_error": "too_early", "message": "14:15 ... 13:45"}
FIRST_SHOT_DELAY_S = 0.5  # let the window settle (size, fonts) before the first screen
SHOT_DELAY_S = 0.15  # labels re-lay themselves out over a frame or two after a change


class Tour:
    def __init__(self, app, outdir: Path, lang: str):
        self.app = app
        self.outdir = outdir
        self.lang = lang
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

        return [
            ("welcome", app.start_over),
            ("welcome_offline", lambda: setattr(app, "offline", True)),
            ("code", lambda: (setattr(app, "offline", False), app.want_booking(),
                              typed(app.code_key, "BK-7Q4M2")())),
            ("phone", lambda: (app.want_phone(), typed(app.phone_key, "9215554417")())),
            ("birth", lambda: (app.go("birth"), typed(app.birth_key, "0204196" if self.lang != "zh"
                                                      else "1961040")())),
            ("busy", lambda: app.go("busy")),
            ("confirm", lambda: app.show_confirm(PREVIEW)),
            ("representative", lambda: app.go("representative")),
            ("services", lambda: (app.want_ticket(), setattr(app, "priority", True))),
            ("result_doctor", checkin()),
            ("result_registration", checkin(route="registration")),
            ("result_box", checkin(route="box", room="B1", floor=1, ticket="T015")),
            ("result_ticket", ticket()),
            ("error_not_found", error("not_found")),
            ("error_too_early", error("too_early", "check-in opens at 10:00")),
            ("error_too_late", error("too_late")),
            ("error_cancelled", error("cancelled")),
            ("error_other_site", error("other_site")),
            ("error_no_answer", error("no_answer")),
            ("sameday", app.want_sameday),
            ("slots", lambda: app.show_slots(SLOTS)),
            ("sameday_booked", lambda: app.show_error(booked_view(BOOKED, self.lang, 30))),
            ("feedback", lambda: app.go("feedback")),
            ("thanks", lambda: app.go("thanks")),
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
        snapshot(self.outdir / f"kiosk_{name}_{self.lang}.png", then=self._taken)

    def _taken(self, path: Path) -> None:
        self.taken.append(path)
        self._next()


def _service_name(app) -> str:
    return next((c.name for c in app.info.services if c.id == TICKET["service"]), TICKET["service"])
