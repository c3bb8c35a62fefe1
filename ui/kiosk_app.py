"""The lobby kiosk: a touch-screen face on the controller's kiosk commands (docs/contract.md).

The app never touches hardware: it sends node commands over MQTT and shows the answers; scanner
codes arrive as device readings from the controller. Network work runs on KioskClient's threads
and comes back here through Clock.schedule_once, so the UI thread never waits on the broker.

    python -m ui.kiosk_app --config config/example.toml --kiosk kiosk-1 --windowed
    python -m ui.kiosk_app --tour build/screenshots --lang zh      # every screen to PNG, no broker
"""
from __future__ import annotations

import os

os.environ.setdefault("KIVY_NO_ARGS", "1")  # our options are ours, not Kivy's

import argparse
import logging
import signal
import sys
import time
from datetime import datetime
from pathlib import Path

from kivy.app import App
from kivy.clock import Clock
from kivy.config import Config
from kivy.factory import Factory
from kivy.properties import BooleanProperty, StringProperty

from ui import i18n, widgets
from ui.display import x_display_size
from ui.observer import Observer
from ui.kiosk_model import (BIRTH_ROWS, CODE_ROWS, PHONE_ROWS, RECEPTION_SERVICE, ErrorView, ResultView,
                            Session, birth_date, booked_view, checkin_view, code_ok, confirm_lines, error_view,
                            parse_info, phone_number, scanned_code, show_birth, show_phone, slot_label, ticket_view,
                            type_birth, type_code, type_phone)

log = logging.getLogger("vestibule.ui.kiosk")
ROOT = Path(__file__).resolve().parents[1]
KV_FILE = Path(__file__).with_name("kiosk.kv")
INFO_REFRESH_S = 60
THANKS_S = 4


class KioskApp(App):
    lang = StringProperty("ru")
    screen = StringProperty("welcome")
    greeting = StringProperty("")
    clinic = StringProperty("")
    offline = BooleanProperty(False)
    code_text = StringProperty("")
    phone_text = StringProperty("")
    birth_text = StringProperty("")
    input_error = StringProperty("")
    priority = BooleanProperty(False)
    result_number = StringProperty("")
    result_printed = BooleanProperty(True)
    error_title = StringProperty("")
    confirm_note = StringProperty("")
    error_calm = BooleanProperty(False)
    error_big = StringProperty("")

    def __init__(self, config, *, kiosk_id: str, lang: str | None = None, idle_timeout: float = 45.0,
                 kiosk_mode: bool = True, client=None, state_file: Path | None = None,
                 snap_dir: Path | None = None, **kwargs):
        super().__init__(**kwargs)
        self.kv_file = str(KV_FILE)
        self.node_config = config
        self.kiosk_id = kiosk_id
        self.default_lang = lang or config.site.default_language
        self.idle_timeout = idle_timeout
        self.kiosk_mode = kiosk_mode
        self.client = client
        self.observer = Observer(self, state_file, snap_dir)
        self.session = Session(lang=self.default_lang)
        self.info = parse_info({}, self.lang, config)
        self.info_from_node = False
        self.info_lang = ""
        self.link_up = client is None  # the tour has no broker and is never "offline"
        self.error_code = ""
        self._token = 0  # answers for an abandoned session are dropped
        self._preview: bool | None = None  # does the controller offer checkin.preview?
        self._last_touch = time.monotonic()
        self._last_info = 0.0
        self._relabel: list[tuple[object, str]] = []
        self.use_kivy_settings = False
        self.lang = self.default_lang

    # -- Kivy lifecycle -------------------------------------------------------------------------
    def build(self):
        from kivy.core.window import Window
        self.title = "Vestibule"
        root = Factory.KioskRoot()
        self.sm = root.ids.sm
        self._build_widgets()
        Window.clearcolor = (1, 1, 1, 1)
        Window.bind(on_request_close=self._on_request_close, on_keyboard=self._on_keyboard,
                    on_touch_down=self._touched)
        Clock.schedule_interval(self._tick, 1.0)
        self.start_over()
        if self.client:
            self.client.on_scan = self.on_scan
            self.client.on_link = self._on_link
            self.client.start()
        return root

    def on_stop(self):
        if self.client:
            self.client.stop()

    def open_settings(self, *args):
        return False  # F1 must not open Kivy's settings panel on a public kiosk

    def _on_request_close(self, *args, **kwargs):
        # Kiosk mode: a close request (Alt+F4, window manager) is refused; the process manager
        # (systemd) is the only way to stop the kiosk. In --windowed development it closes.
        return self.kiosk_mode

    def _on_keyboard(self, window, key, *args):
        if key in (27, 1001):  # Escape, Android back: never leave the kiosk
            return True
        return False

    def _touched(self, *args):
        self._last_touch = time.monotonic()

    def tr(self, key: str, lang: str) -> str:
        return i18n.tr(key, lang)

    # -- navigation -----------------------------------------------------------------------------
    def go(self, screen: str) -> None:
        self.screen = screen
        self.sm.current = screen
        self._last_touch = time.monotonic()
        if screen == "thanks":
            token = self._token
            Clock.schedule_once(lambda dt: token == self._token and self.start_over(), THANKS_S)
        self.observer.shown(screen)

    def start_over(self) -> None:
        """Back to the welcome screen with nothing of the last patient kept."""
        self._token += 1
        self.session = Session(lang=self.default_lang)
        self.lang = self.default_lang
        self.priority = False
        self.input_error = ""
        self.result_number = ""
        self.error_code = ""
        self.last_view = None
        self._show_inputs()
        if self.lang == self.default_lang:
            self._apply_lang()
        self.lang = self.default_lang  # on_lang applies it when it changed
        self.go("welcome")

    def set_lang(self, lang: str) -> None:
        self.session.lang = lang
        self.lang = lang

    def on_lang(self, *args) -> None:
        self._apply_lang()

    def _apply_lang(self) -> None:
        for widget, key in self._relabel:
            widget.text = i18n.tr(key, self.lang)
        self.clinic = self.node_config.site.name.get(self.lang) or self.node_config.site.id
        if not self.info_from_node or self.info_lang != self.lang:
            # names from the config in the new language until the controller answers in it
            online = self.info.core_online
            self.info = parse_info({}, self.lang, self.node_config)
            self.info.core_online = online
            self.info_from_node, self.info_lang = False, self.lang
        self._update_greeting()
        self._refresh_info()
        if hasattr(self, "sm"):
            self._show_inputs()

    def _tick(self, dt) -> None:
        idle = time.monotonic() - self._last_touch
        if self.screen == "welcome":
            if self.lang != self.default_lang and idle > self.idle_timeout:
                self.start_over()
            if time.monotonic() - self._last_info > INFO_REFRESH_S:
                self._refresh_info()
            self._update_greeting()
            return
        if self.screen == "busy":
            return  # the request has its own time limit
        limit = self.idle_timeout * (2 if self.screen == "result" and not self.result_printed else 1)
        if idle > limit:
            log.info("idle for %.0f s on %s: back to welcome", idle, self.screen)
            self.start_over()

    # -- the node's state -------------------------------------------------------------------------
    def _refresh_info(self) -> None:
        self._last_info = time.monotonic()
        if self.client:
            lang = self.lang
            self.client.call("kiosk.info", {"lang": lang}, lambda reply: self._got_info(reply, lang))

    def _got_info(self, reply, lang: str) -> None:
        if not reply.ok or lang != self.lang:
            self.offline = not self.link_up or reply.code == "no_answer"
            return
        self.info = parse_info(reply.data, lang, self.node_config)
        self.info_from_node, self.info_lang = True, lang
        self.offline = not (self.link_up and self.info.core_online)
        self._update_greeting()

    def _on_link(self, up: bool) -> None:
        self.link_up = up
        self.observer.write()
        self.offline = not (up and self.info.core_online)
        if up:
            self._refresh_info()

    def on_offline(self, *args) -> None:
        self.observer.write()

    def _update_greeting(self) -> None:
        if self.info_from_node and self.info.greeting:
            self.greeting = self.info.greeting
            return
        period = self.info.period if self.info_from_node else i18n.local_period(
            datetime.now(self.node_config.site.tz))
        self.greeting = i18n.tr(i18n.greeting_key(period), self.lang)

    # -- welcome ----------------------------------------------------------------------------------
    def want_booking(self) -> None:
        self.session.purpose = "checkin"
        self.input_error = ""
        self.go("code")

    def want_phone(self) -> None:
        self.input_error = ""
        self.go("phone")

    def want_ticket(self) -> None:
        self._fill_choices("services", self.info.services, self.take_ticket)
        self.go("services")

    def want_sameday(self) -> None:
        self._fill_choices("sameday", self.info.specialties, self.pick_specialty)
        self.go("sameday")

    # -- typing -----------------------------------------------------------------------------------
    def code_key(self, key: str) -> None:
        s = self.session
        s.code = s.code[:-1] if key == widgets.ERASE else type_code(s.code, key)
        self.input_error = ""
        self._show_inputs()

    def phone_key(self, key: str) -> None:
        s = self.session
        s.phone = s.phone[:-1] if key == widgets.ERASE else type_phone(s.phone, key)
        self.input_error = ""
        self._show_inputs()

    def birth_key(self, key: str) -> None:
        s = self.session
        s.birth = s.birth[:-1] if key == widgets.ERASE else type_birth(s.birth, key)
        self.input_error = ""
        self._show_inputs()

    def _show_inputs(self) -> None:
        self.code_text = self.session.code
        self.phone_text = show_phone(self.session.phone)
        self.birth_text = show_birth(self.session.birth, self.lang)
        self.observer.write()

    def code_done(self) -> None:
        if not code_ok(self.session.code):
            self.input_error = i18n.tr("err_invalid_text", self.lang)
            return
        self.session.by = "code"
        self.checkin()

    def phone_done(self) -> None:
        if phone_number(self.session.phone) is None:
            self.input_error = i18n.tr("err_not_found_text", self.lang)
            return
        self.input_error = ""
        self.go("birth")

    def phone_back(self) -> None:
        self.go("code" if self.session.purpose == "checkin" else "slots")

    def birth_done(self) -> None:
        if birth_date(self.session.birth, self.lang, datetime.now(self.node_config.site.tz).date()) is None:
            self.input_error = i18n.tr("birth_invalid", self.lang)
            return
        if self.session.purpose == "sameday":
            self.book_sameday()
        else:
            self.session.by = "phone"
            self.checkin()

    def retry(self) -> None:
        s = self.session
        if s.purpose == "sameday":
            self.want_sameday()  # e.g. the slot was taken meanwhile: pick another
            return
        s.code, s.birth, s.representative = "", "", None
        self.input_error = ""
        self._show_inputs()
        self.go("phone" if s.by == "phone" else "code")

    # -- check-in ---------------------------------------------------------------------------------
    def _checkin_body(self) -> dict:
        s = self.session
        body = {"lang": self.lang}
        if s.by == "phone":
            body.update(by="phone", phone=phone_number(s.phone),
                        birth_date=birth_date(s.birth, self.lang, datetime.now(self.node_config.site.tz).date())
                        .isoformat())
        else:
            body.update(by="code", code=s.code)
        if s.representative is not None:
            body["representative"] = s.representative
        return body

    def checkin(self) -> None:
        """Ask the controller to show the appointment first when it can; else check in directly."""
        if self._preview is False:
            self._checkin_now()
            return
        self._send("checkin.preview", self._checkin_body(), self._got_preview)

    def _got_preview(self, reply) -> None:
        if not reply.ok and reply.code == "unknown_request":
            self._preview = False
            self._checkin_now()
            return
        if not reply.ok:
            self._show_error_reply(reply)
            return
        self._preview = True
        self.session.child = bool(reply.data.get("child"))
        self.show_confirm(reply.data)

    def show_confirm(self, data: dict) -> None:
        rows = self.sm.get_screen("confirm").ids.rows
        rows.clear_widgets()
        self.confirm_note = i18n.tr("confirm_again", self.lang) if data.get("checked_in") else ""
        for label, value in confirm_lines(data, self.lang):
            rows.add_widget(Factory.KLabel(text=label, halign="right", font_size="34sp"))
            rows.add_widget(Factory.KLabel(text=value, halign="left", font_size="40sp", bold=True))
        self.go("confirm")

    def confirm_yes(self) -> None:
        if self.session.child and not self.session.representative:
            self.go("representative")
            return
        self._checkin_now()

    def confirm_no(self) -> None:
        self.retry()

    def representative(self, present: bool) -> None:
        if not present:
            self.show_error(error_view("representative_missing", "", self.lang))
            return
        self.session.representative = True
        self._checkin_now()

    def _checkin_now(self) -> None:
        self._send("checkin", self._checkin_body(), self._got_checkin)

    def reception_place(self) -> tuple[str | None, int | None]:
        service = self.node_config.service(RECEPTION_SERVICE)
        return (service.room, service.floor) if service else (None, None)

    def _got_checkin(self, reply) -> None:
        if reply.ok:
            self.show_result(checkin_view(reply.data, self.lang, self.reception_place()))
        elif reply.code == "representative_required":
            self.go("representative")
        else:
            self._show_error_reply(reply)

    # -- walk-in tickets ----------------------------------------------------------------------------
    def take_ticket(self, service: str) -> None:
        self._send("ticket", {"service": service, "priority": self.priority, "lang": self.lang}, self._got_ticket)

    def reception_ticket(self) -> None:
        ids = [c.id for c in self.info.services]
        self.priority = False
        self.take_ticket(RECEPTION_SERVICE if RECEPTION_SERVICE in ids or not ids else ids[0])

    def _got_ticket(self, reply) -> None:
        if reply.ok:
            self.show_result(ticket_view(reply.data, self.lang))
        else:
            self._show_error_reply(reply)

    # -- same-day booking ---------------------------------------------------------------------------
    def pick_specialty(self, specialty: str) -> None:
        self.session.specialty = specialty
        self._send("sameday.slots", {"specialty": specialty, "lang": self.lang}, self._got_slots)

    def _got_slots(self, reply) -> None:
        if reply.ok:
            self.show_slots(list(reply.data.get("slots") or []))
        else:
            self._show_error_reply(reply)

    def show_slots(self, slots: list[dict]) -> None:
        if not slots:
            self.show_error(error_view("no_slots", "", self.lang))
            return
        box = self.sm.get_screen("slots").ids.choices
        box.clear_widgets()
        for slot in slots[:12]:
            button = Factory.KOutline(text=slot_label(slot, self.lang))
            button.bind(on_release=lambda b, slot=slot: self.pick_slot(slot))
            box.add_widget(button)
        self.go("slots")

    def pick_slot(self, slot: dict) -> None:
        self.session.slot = slot
        self.session.purpose = "sameday"
        self.want_phone()

    def book_sameday(self) -> None:
        s = self.session
        slot = s.slot or {}
        body = {"doctor_id": slot.get("doctor_id"), "start": slot.get("start"), "room": slot.get("room"),
                "phone": phone_number(s.phone), "lang": self.lang,
                "birth_date": birth_date(s.birth, self.lang, datetime.now(self.node_config.site.tz).date()).isoformat()}
        if s.representative is not None:
            body["representative"] = s.representative
        self._send("sameday.book", body, self._got_booking)

    def _got_booking(self, reply) -> None:
        """Booked; checked in too unless it is early, or a child needs the representative."""
        if not reply.ok:
            self._show_error_reply(reply)
            return
        data = reply.data
        if data.get("checkin"):
            self.show_result(checkin_view(data["checkin"], self.lang, self.reception_place()))
            return
        # The booking stands; from here on it is a check-in by its code, never a second booking.
        self.session.purpose, self.session.by, self.session.code = "checkin", "code", data.get("booking", "")
        if data.get("checkin_error") == "representative_required":
            self.session.child = True
            self.go("representative")
        else:
            self.show_error(booked_view(data, self.lang, self.node_config.arrival.early_minutes))

    # -- results, errors, feedback ------------------------------------------------------------------
    def show_result(self, view: ResultView) -> None:
        self.session.feedback_for = view.feedback_for
        self.result_number = view.number
        self.result_printed = view.printed
        box = self.sm.get_screen("result").ids.lines
        box.clear_widgets()
        for line in view.main:
            box.add_widget(Factory.KLabel(text=line, font_size="40sp", bold=True))
        for line in view.lines:
            box.add_widget(Factory.KLabel(text=line))
        self.go("result")

    def _show_error_reply(self, reply) -> None:
        self.show_error(error_view(reply.code, reply.message, self.lang,
                                   early_minutes=self.node_config.arrival.early_minutes))

    def show_error(self, view: ErrorView) -> None:
        self.error_code = view.code
        self.error_title = view.title
        self.error_calm = view.calm
        self.error_big = view.big
        screen = self.sm.get_screen("error")
        screen.ids.lines.clear_widgets()
        for line in view.lines:
            screen.ids.lines.add_widget(Factory.KLabel(text=line, font_size="38sp"))
        actions = screen.ids.actions
        actions.clear_widgets()
        if view.reception:
            actions.add_widget(self._button("KButton", "reception_ticket", self.reception_ticket))
        row = Factory.KRow()
        if view.retry:
            row.add_widget(self._button("KOutline", "try_again", self.retry))
        row.add_widget(self._button("KOutline", "home", self.start_over))
        actions.add_widget(row)
        self.go("error")

    def _button(self, kind: str, key: str, action):
        button = getattr(Factory, kind)(text=i18n.tr(key, self.lang))
        button.bind(on_release=lambda b: action())
        return button

    def result_done(self) -> None:
        self.go("feedback" if self.session.feedback_for else "thanks")

    def feedback(self, score: int | None) -> None:
        if score is not None and self.client:
            self.client.call("feedback", {"score": score, "lang": self.lang, **self.session.feedback_for},
                             lambda reply: None)
        self.go("thanks")

    # -- the scanner ----------------------------------------------------------------------------------
    def on_scan(self, raw: str) -> None:
        """A code from the scanner starts a check-in from whatever screen is showing."""
        if self.screen == "busy":
            log.info("scan ignored: a request is in flight")
            return
        self._token += 1
        self.session = Session(lang=self.lang)
        self.session.by = "code"
        self._last_touch = time.monotonic()
        code = scanned_code(raw)
        if code is None:
            self.show_error(error_view("invalid", "", self.lang))
            return
        self.session.code = code
        self._show_inputs()
        self.checkin()

    # -- plumbing -------------------------------------------------------------------------------------
    def _send(self, name: str, body: dict, then) -> None:
        self._token += 1
        token = self._token
        self.go("busy")

        def done(reply):
            if token == self._token:
                then(reply)
        if self.client:
            self.client.call(name, body, done)

    def _fill_choices(self, screen: str, items, action) -> None:
        widgets.choices(self.sm.get_screen(screen).ids.choices, items, action)

    def _build_widgets(self) -> None:
        for screen, rows, press in (("code", CODE_ROWS, self.code_key), ("phone", PHONE_ROWS, self.phone_key),
                                    ("birth", BIRTH_ROWS, self.birth_key)):
            erase = widgets.keyboard(self.sm.get_screen(screen).ids.keypad, rows, press)
            self._relabel.append((erase, "key_erase"))
        for widget, key in self._relabel:
            widget.text = i18n.tr(key, self.lang)
        names = {lang: i18n.LANG_NAMES[lang] for lang in self.node_config.site.languages}
        widgets.languages(self.sm.get_screen("welcome").ids.langs, names, self.set_lang)
        widgets.scores(self.sm.get_screen("feedback").ids.scores, self.feedback)


# -- start-up -----------------------------------------------------------------------------------------
def configure_window(windowed: bool, size: str) -> None:
    """Must run before Kivy creates the window (the first import of kivy.core.window)."""
    width, height = (int(x) for x in size.lower().split("x"))
    Config.set("kivy", "exit_on_escape", "0")
    Config.set("input", "mouse", "mouse,disable_multitouch")  # no red dots on right click
    if windowed:
        Config.set("graphics", "fullscreen", "0")
        Config.set("graphics", "borderless", "0")
        Config.set("graphics", "width", str(width))
        Config.set("graphics", "height", str(height))
    else:
        # The whole screen, no borders, no cursor: nothing on screen leads to the desktop.
        screen = x_display_size()
        if screen:  # a borderless window over the whole display (see ui/display.py for why)
            Config.set("graphics", "fullscreen", "0")
            Config.set("graphics", "position", "custom")
            Config.set("graphics", "left", "0")
            Config.set("graphics", "top", "0")
            Config.set("graphics", "width", str(screen[0]))
            Config.set("graphics", "height", str(screen[1]))
        else:
            Config.set("graphics", "fullscreen", "auto")
        Config.set("graphics", "borderless", "1")
        Config.set("graphics", "show_cursor", "0")
    Config.set("graphics", "resizable", "0")


def parse_args(argv=None) -> argparse.Namespace:
    from ui.cli import add_arguments
    p = argparse.ArgumentParser(prog="python -m ui.kiosk_app", description="Vestibule lobby kiosk")
    add_arguments(p)
    p.add_argument("--tour", metavar="OUTDIR", help="render every screen with sample data to OUTDIR and exit")
    return p.parse_args(argv)


def run(args: argparse.Namespace) -> int:
    from foundation.config import ConfigError, load_config
    from ui import fonts

    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    configure_window(args.windowed or bool(getattr(args, "tour", None)), args.size)
    try:
        fonts.register()
    except fonts.FontMissing as exc:
        print(f"vestibule kiosk: {exc}", file=sys.stderr)
        return 2
    try:
        config = load_config(args.config or ROOT / "config" / "example.toml")
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    if getattr(args, "tour", None):
        from ui.tour import Tour
        app = KioskApp(config, kiosk_id=args.kiosk, lang=args.lang, idle_timeout=10_000, kiosk_mode=False)
        Tour(app, Path(args.tour), args.lang or config.site.default_language).start()
        app.run()
        return 0
    if not args.config:
        print("vestibule kiosk: --config is required", file=sys.stderr)
        return 2
    from ui.kiosk_client import KioskClient, kiosk_password
    client = KioskClient(config, args.kiosk, post=lambda fn: Clock.schedule_once(lambda dt: fn(), 0),
                         password=kiosk_password(config, args.password_file, args.kiosk))
    idle_timeout = args.idle_timeout if args.idle_timeout is not None else config.kiosk.idle_timeout_s
    app = KioskApp(config, kiosk_id=args.kiosk, lang=args.lang, idle_timeout=idle_timeout,
                   kiosk_mode=not args.windowed, client=client, state_file=args.state_file, snap_dir=args.snap_dir)
    # systemd stops the kiosk with SIGTERM: leave the broker cleanly instead of dying mid-frame.
    signal.signal(signal.SIGTERM, lambda *_: Clock.schedule_once(lambda dt: app.stop(), 0))
    app.run()
    return 0


def main(argv=None) -> int:
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
