"""The screening post's staff app: a touch-screen face on the controller's screening commands.

Staff in gloves: every target is at least 15 mm on the post's panel (1280x800, about 149 dpi).
The app never opens a device: live values come from the post's reading topics, captured values
from `screening.measure` (the controller decides what is stable; this only renders it). A scan of
the booking QR (or a receipt's ticket number) starts a patient; after each patient the state is
clean again.

    python -m ui.screening_app --config config/example.toml --post screening-1 --windowed
"""
from __future__ import annotations

import os

os.environ.setdefault("KIVY_NO_ARGS", "1")  # our options are ours, not Kivy's

import argparse
import logging
import signal
import sys
import time
from pathlib import Path

from kivy.app import App
from kivy.clock import Clock
from kivy.factory import Factory
from kivy.properties import BooleanProperty, DictProperty, StringProperty
from kivy.uix.floatlayout import FloatLayout

from ui import screening_model as model
from ui.window import configure_window, load_screen_config, start_logging
from ui.screening_client import Reply
from ui.screening_texts import LANG_NAMES, REASONS, tr

log = logging.getLogger("vestibule.ui.screening")
ROOT = Path(__file__).resolve().parents[1]
KV_FILE = Path(__file__).with_name("screening.kv")
LIVE_STALE_S = 3.0  # no reading for this long: the device is shown as not connected
DONE_RETURN_S = 15.0  # the outcome stays up this long, then the post is ready for the next patient
CAPTURES = ("forehead", "neck", "oximetry")


class ScreeningRoot(FloatLayout):
    pass


Factory.register("ScreeningRoot", cls=ScreeningRoot)


class ScreeningApp(App):
    lang = StringProperty("ru")
    screen = StringProperty("scan")
    scan_error = StringProperty("")
    today_text = StringProperty("")
    patient_line = StringProperty("")
    doctor_text = StringProperty("")
    box_flag = BooleanProperty(False)
    live_celsius = StringProperty("—")
    thermo_probe = StringProperty("probe_offline")
    live_spo2 = StringProperty("—")
    live_pulse = StringProperty("—")
    oxi_probe = StringProperty("probe_offline")
    captures = DictProperty({})
    suggested = StringProperty("pass")
    questions_text = StringProperty("")
    status_text = StringProperty("")
    status_error = BooleanProperty(False)
    reason_prompt = StringProperty("")
    outcome_title = StringProperty("")
    outcome_detail = StringProperty("")
    outcome_failure = BooleanProperty(False)
    outcome_decision = StringProperty("pass")

    def __init__(self, config, *, post_id: str, lang: str | None = None, client=None, kiosk_mode: bool = True,
                 state_file: Path | None = None, **kwargs):
        super().__init__(**kwargs)
        self.kv_file = str(KV_FILE)
        self.node_config = config
        self.post_id = post_id
        self.client = client
        self.kiosk_mode = kiosk_mode
        self.default_lang = lang or config.site.default_language
        self.lang = self.default_lang
        self.patient = model.Patient()
        # the questionnaire as the config has it until screening.info answers in the staff's language
        self.questions = [{"id": q.id, "text": q.texts.get(self.lang, ""), "box_if_yes": q.box_if_yes}
                          for q in config.screening.questions]
        self.today = {"screened": 0, "box": 0, "refer": 0}
        self._live_at = {"thermometer": 0.0, "oximeter": 0.0}
        self._pending_decision = ""
        self._token = 0  # answers for a patient already gone are dropped
        self._return = None
        self._state_path = state_file
        self.state = None
        self.use_kivy_settings = False

    # -- texts ------------------------------------------------------------------------------------
    @staticmethod
    def t(key: str, lang: str, **values) -> str:
        return tr(key, lang, **values)

    def capture_label(self, what: str, lang: str, captures) -> str:
        return f"{tr(what, lang)}\n{captures.get(what) or tr('capture', lang)}"

    def _relabel(self) -> None:
        p = self.patient
        self.patient_line = model.heading(p, self.lang) if p.session else ""
        self.doctor_text = model.doctor_line(p, self.lang)
        self.box_flag = p.box_flag
        self.suggested = p.suggested
        self.questions_text = tr("questions_count", self.lang, done=len(p.answers), total=len(self.questions))
        self.today_text = tr("today", self.lang, **self.today)
        self.captures = {k: self._capture_value(k) for k in CAPTURES if k in p.captured or k in p.errors}

    def _capture_value(self, what: str) -> str:
        p = self.patient
        if what in p.errors:
            return tr(p.errors[what], self.lang)
        return p.captured[what]

    # -- Kivy lifecycle ---------------------------------------------------------------------------
    def build(self):
        from kivy.core.window import Window
        self.title = f"Vestibule — {self.post_id}"
        root = Factory.ScreeningRoot()
        self.sm = root.ids.sm
        self.ids = root.ids  # the kv rule's ids belong to its root, not to the screens
        self._langs_box = root.ids.langs
        for lang in self.node_config.site.languages:
            button = Factory.SLang(text=LANG_NAMES[lang])
            button.code = lang
            button.bind(on_release=lambda b: self.set_lang(b.code))
            self._langs_box.add_widget(button)
        Window.clearcolor = (1, 1, 1, 1)
        Window.bind(on_request_close=lambda *a, **k: self.kiosk_mode)
        Clock.schedule_interval(self._tick, 1.0)
        self._relabel()
        if self._state_path:
            from ui.screening_observer import StateFile
            self.state = StateFile(self, self._state_path)
            self.state.changed()
        if self.client:
            self.client.on_reading = self.on_reading
            self.client.on_scan = self.on_scan
            self.client.on_link = self._on_link
            self.client.start()
        return root

    def on_stop(self):
        if self.client:
            self.client.stop()

    def open_settings(self, *args):
        return False

    def go(self, screen: str) -> None:
        self.screen = screen
        self.sm.current = screen

    def set_lang(self, lang: str) -> None:
        self.lang = lang
        self._relabel()
        self.refresh_info()

    # -- the node ---------------------------------------------------------------------------------
    def _send(self, name: str, body: dict, then) -> None:
        token = self._token

        def done(reply: Reply):
            if token == self._token:
                then(reply)
        if self.client:
            self.client.call(name, body, done)

    def refresh_info(self) -> None:
        self._send("screening.info", {"post": self.post_id, "lang": self.lang}, self._info)

    def _info(self, reply: Reply) -> None:
        if not reply.ok:
            return
        self.questions = list(reply.data.get("questions") or self.questions)
        self.today = dict(reply.data.get("today") or self.today)
        self._relabel()

    def _on_link(self, up: bool) -> None:
        if self.state:
            self.state.link = up
            self.state.write()
        if up:
            self.refresh_info()

    # -- starting a patient -----------------------------------------------------------------------
    def on_scan(self, raw: str) -> None:
        if self.screen != "scan":
            log.info("scan ignored: a patient is being screened")
            return
        request = model.start_request(raw)
        if request is None:
            self.scan_error = tr("lookup_failed", self.lang, code="invalid")
            return
        self._start(request)

    def start_without_booking(self) -> None:
        self._start({"by": "none"})

    def _start(self, request: dict) -> None:
        self.scan_error = tr("busy", self.lang)
        self._send("screening.start", {"post": self.post_id, "lang": self.lang, **request}, self.started)

    def started(self, reply: Reply) -> None:
        if not reply.ok:
            key = "not_found" if reply.code in ("not_found", "cancelled", "other_site") else None
            self.scan_error = tr(key, self.lang) if key else (
                tr("no_answer", self.lang) if reply.code == "no_answer" else
                tr("lookup_failed", self.lang, code=reply.code))
            return
        self.scan_error = ""
        self.patient = model.patient_from_start(reply.data)
        self.status_text, self.status_error = "", False
        self._relabel()
        self.go("post")

    # -- measuring --------------------------------------------------------------------------------
    def capture(self, what: str) -> None:
        if not self.patient.session:
            return
        body = {"session": self.patient.session, "what": "oximetry" if what == "oximetry" else "temperature"}
        if what != "oximetry":
            body["site"] = what
        self.patient.errors.pop(what, None)
        self.captures = {**self.captures, what: tr("busy", self.lang)}
        self._send("screening.measure", body, lambda reply: self.measured(what, reply))

    def measured(self, what: str, reply: Reply) -> None:
        p = self.patient
        if reply.ok:
            p.captured[what] = model.capture_text(what, reply.data)
            p.suggested = reply.data.get("suggested", p.suggested)
            self.status_text, self.status_error = "", False
        else:
            p.captured.pop(what, None)
            p.errors[what] = model.error_key(reply.code)
            self.status_text, self.status_error = reply.message or reply.code, True
        self._relabel()

    def on_reading(self, kind: str, reading: dict) -> None:
        self._live_at[kind] = time.monotonic()
        if kind == "thermometer":
            live = model.live_thermometer(reading)
            self.live_celsius, self.thermo_probe = live.value, live.probe
        elif kind == "oximeter":
            spo2, pulse = model.live_oximeter(reading)
            self.live_spo2, self.live_pulse, self.oxi_probe = spo2.value, pulse.value, spo2.probe

    def _tick(self, dt) -> None:
        now = time.monotonic()
        if self.client is None:
            return  # the tour sets the live values itself
        if now - self._live_at["thermometer"] > LIVE_STALE_S:
            self.live_celsius, self.thermo_probe = "—", "probe_offline"
        if now - self._live_at["oximeter"] > LIVE_STALE_S:
            self.live_spo2, self.live_pulse, self.oxi_probe = "—", "—", "probe_offline"

    # -- the questionnaire ------------------------------------------------------------------------
    def open_questions(self) -> None:
        rows = self.ids.question_rows
        rows.clear_widgets()
        for q in self.questions:
            row = Factory.SQuestionRow()
            row.qid = q["id"]
            label = Factory.SFill(text=q["text"], halign="left", font_size="26sp")
            row.add_widget(label)
            for value in ("yes", "no"):
                chosen = self.patient.answers.get(q["id"]) == value
                button = Factory.SButton(text=tr(value, self.lang)) if chosen else Factory.SOutline(
                    text=tr(value, self.lang))
                button.size_hint_x, button.width, button.height = None, 150, 100
                button.bind(on_release=lambda b, qid=q["id"], v=value: self.answer(qid, v))
                row.add_widget(button)
            rows.add_widget(row)
        self.go("questions")

    def answer(self, qid: str, value: str) -> None:
        self.patient.answers[qid] = value
        self.open_questions()  # redraw with the chosen button filled

    def close_questions(self) -> None:
        self._relabel()
        self.go("post")
        if self.patient.answers:
            self._send("screening.answers", {"session": self.patient.session, "answers": self.patient.answers},
                       self.answered)

    def answered(self, reply: Reply) -> None:
        if reply.ok:
            self.patient.suggested = reply.data.get("suggested", self.patient.suggested)
        else:
            self.status_text, self.status_error = reply.message or reply.code, True
        self._relabel()

    # -- deciding ---------------------------------------------------------------------------------
    def decide(self, decision: str) -> None:
        prompt = model.needs_reason(self.patient, decision)
        if prompt is None:
            self._complete(decision, None)
            return
        self._pending_decision = decision
        self.reason_prompt = prompt
        box = self.ids.reasons
        box.clear_widgets()
        for key in REASONS:
            button = Factory.SOutline(text=tr(key, self.lang))
            button.bind(on_release=lambda b, k=key: self._complete(self._pending_decision, tr(k, self.lang)))
            box.add_widget(button)
        self.go("reason")

    def _complete(self, decision: str, reason: str | None) -> None:
        body = {"session": self.patient.session, "decision": decision}
        if reason:
            body["reason"] = reason
        self.status_text, self.status_error = tr("busy", self.lang), False
        self.go("post")
        self._send("screening.complete", body, lambda reply: self.completed(decision, reply))

    def completed(self, decision: str, reply: Reply) -> None:
        if not reply.ok:
            # nothing was recorded: stay with the patient, say so, let staff try again
            self.status_text = tr("not_recorded", self.lang, message=reply.message or reply.code)
            self.status_error = True
            return
        self.today = dict(reply.data.get("today") or self.today)
        title, detail, failure = model.outcome_lines(decision, reply.data, None, self.lang)
        self.outcome_title, self.outcome_detail, self.outcome_failure = title, detail, failure
        self.outcome_decision = decision
        self.patient.session = ""  # completed: nothing left to cancel
        self._relabel()
        self.patient_line = model.heading(self.patient, self.lang)
        self.go("done")
        if self._return is not None:
            self._return.cancel()
        self._return = Clock.schedule_once(lambda dt: self.reset() if self.screen == "done" else None,
                                           DONE_RETURN_S)

    def cancel(self) -> None:
        if self.patient.session and self.client:
            self.client.call("screening.cancel", {"session": self.patient.session}, lambda reply: None)
        self.reset()

    def reset(self) -> None:
        """A clean post for the next patient: nothing of this one stays on screen."""
        self._token += 1
        self.patient = model.Patient()
        self._pending_decision = ""
        self.reason_prompt = ""
        self.status_text, self.status_error = "", False
        self.scan_error = ""
        self.outcome_title = self.outcome_detail = ""
        self.outcome_failure = False
        self.lang = self.default_lang
        self._relabel()
        self.go("scan")
        self.refresh_info()


# -- start-up -------------------------------------------------------------------------------------
def parse_args(argv=None) -> argparse.Namespace:
    from ui.cli import add_screening_arguments
    p = argparse.ArgumentParser(prog="python -m ui.screening_app", description="Vestibule screening post")
    add_screening_arguments(p)
    return p.parse_args(argv)


def run(args: argparse.Namespace) -> int:
    start_logging()
    configure_window(args.windowed or bool(getattr(args, "tour", None)), args.size)
    config = load_screen_config(args.config or ROOT / "config" / "example.toml", "vestibule screening")
    if config is None:
        return 2
    if getattr(args, "tour", None):
        from ui.screening_tour import Tour
        app = ScreeningApp(config, post_id=args.post, lang=args.lang, kiosk_mode=False)
        Tour(app, Path(args.tour), args.lang or config.site.default_language).start()
        app.run()
        return 0
    from ui.screening_client import ScreeningClient, screening_password
    client = ScreeningClient(config, args.post, post=lambda fn: Clock.schedule_once(lambda dt: fn(), 0),
                             password=screening_password(config, args.password_file, args.post))
    if not client.devices.get("thermometer") or not client.devices.get("oximeter"):
        log.warning("post %s: no thermometer or oximeter has this role in the config", args.post)
    app = ScreeningApp(config, post_id=args.post, lang=args.lang, client=client, kiosk_mode=not args.windowed,
                       state_file=args.state_file)
    signal.signal(signal.SIGTERM, lambda *_: Clock.schedule_once(lambda dt: app.stop(), 0))
    app.run()
    return 0


def main(argv=None) -> int:
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
