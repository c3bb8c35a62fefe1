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
import math
import signal
import sys
import time
from datetime import datetime
from pathlib import Path

from kivy.app import App
from kivy.clock import Clock
from kivy.factory import Factory
from kivy.properties import (
    BooleanProperty,
    DictProperty,
    NumericProperty,
    StringProperty,
)

from ui import i18n, widgets
from ui.window import configure_window, load_screen_config, start_logging
from ui.kiosk_model import (
    BIRTH_ROWS,
    CODE_ROWS,
    PHONE_ROWS,
    RECEPTION_SERVICE,
    ErrorView,
    ResultView,
    Session,
    birth_date,
    booked_view,
    checkin_view,
    code_ok,
    confirm_lines,
    error_view,
    parse_info,
    phone_number,
    printer_note,
    scanned_code,
    show_birth,
    show_phone,
    slot_label,
    slot_lines,
    ticket_ok,
    ticket_view,
    type_birth,
    type_code,
    type_phone,
    wait_text,
)
from ui.observer import Observer

log = logging.getLogger("vestibule.ui.kiosk")
ROOT = Path(__file__).resolve().parents[1]
KV_FILE = Path(__file__).with_name("kiosk.kv")
INFO_REFRESH_S = 20  # the printer's state and the waits on the welcome screen stay this fresh
THANKS_S = 4
ACCESS_TEXT_SCALE = 1.3  # accessibility mode: text this much larger
PORTRAIT_TEXT_SCALE = 1.15
MAX_SLOTS = 8  # same-day times offered at once: all on screen, none behind a scroll bar
FOLLOW_UP_AT_OR_BELOW = 6  # a score this low offers a call back (kiosk.features.lobby.flow)

# Colours by role. Accessibility mode swaps in the high-contrast set (white and yellow on black);
# every text/background pair of both sets is at least WCAG AA (4.5:1), checked on the rendered tree.
_BLUE, _WHITE, _INK = (0.043, 0.239, 0.569, 1), (1, 1, 1, 1), (0.07, 0.07, 0.07, 1)
PALETTES = {
    "normal": {"bg": _WHITE, "ink": _INK, "accent": _BLUE, "accent_down": (0.02, 0.15, 0.38, 1),
               "on_accent": _WHITE, "accent_ink": _BLUE, "pale": (0.85, 0.9, 0.98, 1), "field": _WHITE,
               "alert_bg": (0.62, 0.0, 0.0, 1), "on_alert": _WHITE, "alert_ink": (0.62, 0.0, 0.0, 1),
               "warn": (1, 0.84, 0.0, 1), "ink_on_warn": _INK, "bar": _BLUE, "on_bar": _WHITE,
               "bar_button": _WHITE, "bar_button_ink": _BLUE, "bar_edge": _BLUE},
    "contrast": {"bg": (0, 0, 0, 1), "ink": _WHITE, "accent": (1, 0.9, 0.0, 1), "accent_down": (0.8, 0.7, 0.0, 1),
                 "on_accent": (0, 0, 0, 1), "accent_ink": (1, 0.9, 0.0, 1), "pale": (0.2, 0.2, 0.2, 1),
                 "field": (0, 0, 0, 1), "alert_bg": (1, 0.4, 0.4, 1), "on_alert": (0, 0, 0, 1),
                 "alert_ink": (1, 0.5, 0.5, 1), "warn": (1, 0.9, 0.0, 1), "ink_on_warn": (0, 0, 0, 1),
                 "bar": (0, 0, 0, 1), "on_bar": _WHITE, "bar_button": (1, 0.9, 0.0, 1), "bar_button_ink": (0, 0, 0, 1),
                 "bar_edge": _WHITE},
}


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
    error_typed = StringProperty("")  # "You typed: BK-7Q4M2" on a not-found error
    mm = NumericProperty(96 / 25.4)  # px per mm of the real screen (kiosk.dpi)
    t = NumericProperty(96 / 25.4)  # px per mm for text: larger in accessibility mode
    portrait = BooleanProperty(False)
    access = BooleanProperty(False)  # accessibility mode: larger text, high contrast
    pal = DictProperty(PALETTES["normal"])
    clock_text = StringProperty("")
    printer_note = StringProperty("")
    idle_left = NumericProperty(0)  # seconds of the "still there?" countdown; 0: not shown
    confirm_mode = StringProperty("checkin")  # the confirm screen: "checkin" or "sameday"

    def __init__(self, config, *, kiosk_id: str, lang: str | None = None, idle_timeout: float = 45.0,
                 kiosk_mode: bool = True, client=None, state_file: Path | None = None,
                 snap_dir: Path | None = None, dpi: float | None = None, **kwargs):
        super().__init__(**kwargs)
        self.dpi = dpi or config.kiosk.dpi
        self.mm = self.t = self.dpi / 25.4
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
        self.idle_prompt = None
        self._score: int | None = None
        self.voice = None
        if config.kiosk.speaker:
            from ui.speech import Voice
            self.voice = Voice(Path(os.environ.get("XDG_RUNTIME_DIR") or "/tmp") / f"vestibule-{kiosk_id}-voice")

    @property
    def countdown_s(self) -> float:
        """How long "still there?" counts down before the session ends."""
        return min(20.0, max(5.0, self.idle_timeout / 3))

    # -- Kivy lifecycle -------------------------------------------------------------------------
    def build(self):
        from kivy.core.window import Window
        self.title = "Vestibule"
        root = Factory.KioskRoot()
        self.sm = root.ids.sm
        self.idle_prompt = Factory.IdlePrompt()
        self._build_widgets()
        Window.clearcolor = self.pal["bg"]
        Window.bind(on_request_close=self._on_request_close, on_keyboard=self._on_keyboard,
                    on_touch_down=self._touched, size=self._window_size)
        self._window_size(Window, Window.size)
        self._update_clock()
        Clock.schedule_interval(self._tick, 1.0)
        self.end_session()
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
        # runs before the touch reaches the widgets: the prompt must still be there to swallow a
        # touch meant for it, so a tap beside "continue" cannot press the key beneath; it goes
        # at the next tick (or at once by its own button)
        self._last_touch = time.monotonic()

    def _window_size(self, window, size) -> None:
        self.portrait = size[1] > size[0]

    def on_portrait(self, *args) -> None:
        self._text_scale()

    def toggle_access(self) -> None:
        self.access = not self.access

    def _text_scale(self) -> None:
        # a portrait screen has height to spare: its text grows a little (fault 8)
        self.t = self.mm * (ACCESS_TEXT_SCALE if self.access else 1.0) * (PORTRAIT_TEXT_SCALE if self.portrait else 1.0)

    def on_access(self, *args) -> None:
        self._text_scale()
        self.pal = PALETTES["contrast" if self.access else "normal"]
        if self.idle_prompt is not None:
            from kivy.core.window import Window
            Window.clearcolor = self.pal["bg"]
        self.observer.write()

    def tr(self, key: str, lang: str, **values) -> str:
        return i18n.tr(key, lang, **values)

    # -- navigation -----------------------------------------------------------------------------
    def go(self, screen: str) -> None:
        self.screen = screen
        self.sm.current = screen
        self._last_touch = time.monotonic()
        self._hide_idle_prompt()
        if screen == "thanks":
            token = self._token
            Clock.schedule_once(lambda dt: token == self._token and self.end_session(), THANKS_S)
        self.observer.shown(screen)

    def end_session(self) -> None:
        """The patient has gone (idle, or done): the next one starts in the default language."""
        self.access = False
        self._start(self.default_lang)

    def start_over(self) -> None:
        """The patient's own "start over": nothing typed is kept, but their language is."""
        self._start(self.lang)

    def _start(self, lang: str) -> None:
        self._token += 1
        self._hide_idle_prompt()
        self.session = Session(lang=lang)
        self.priority = False
        self.error_typed = ""
        self._score = None
        self.input_error = ""
        self.result_number = ""
        self.error_code = ""
        self.last_view = None
        self._show_inputs()
        if self.lang == lang:
            self._apply_lang()
        self.lang = lang  # on_lang applies it when it changed
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
        self.printer_note = printer_note(self.info, self.lang)
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
        self._update_clock()
        if self.screen == "welcome":
            if (self.lang != self.default_lang or self.access) and idle > self.idle_timeout:
                self.end_session()
            if time.monotonic() - self._last_info > INFO_REFRESH_S:
                self._refresh_info()
            self._update_greeting()
            return
        if self.screen in ("busy", "thanks"):
            return  # the request has its own time limit; thanks ends the session itself
        limit = self.idle_timeout * (2 if self.screen == "result" and not self.result_printed else 1)
        if idle <= limit:
            self._hide_idle_prompt()  # touched somewhere: still there
            return
        left = math.ceil(limit + self.countdown_s - idle)
        if left > 0:
            self._show_idle_prompt(left)
            return
        log.info("idle for %.0f s on %s: back to welcome", idle, self.screen)
        self.end_session()

    def _update_clock(self) -> None:
        self.clock_text = datetime.now(self.node_config.site.tz).strftime("%H:%M")

    # -- "still there?" -----------------------------------------------------------------------------
    def _show_idle_prompt(self, left: int) -> None:
        self.idle_left = left
        if self.idle_prompt.parent is None:
            self.root.add_widget(self.idle_prompt)
            self.observer.shown(self.screen)
        else:
            self.observer.write()

    def _hide_idle_prompt(self) -> None:
        if self.idle_prompt is not None and self.idle_prompt.parent is not None:
            self.idle_prompt.parent.remove_widget(self.idle_prompt)
        if self.idle_left:
            self.idle_left = 0
            self.observer.write()

    def still_here(self) -> None:
        self._last_touch = time.monotonic()
        self._hide_idle_prompt()

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
        self.printer_note = printer_note(self.info, self.lang)
        self._update_greeting()
        self.observer.write()

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
        self._fill_choices("services", self.info.services, self.take_ticket,
                           details=lambda c: wait_text(c, self.lang))
        self.go("services")

    def want_sameday(self) -> None:
        self._fill_choices("sameday", self.info.specialties, self.pick_specialty)
        self.go("sameday")

    def want_rate(self) -> None:
        """"Rate your visit": the receipt's QR or its ticket number ties the score to the visit."""
        self.session.purpose = "rate"
        self.session.code = ""
        self.input_error = ""
        self._show_inputs()
        self.go("rate")

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
        self.input_error = ""
        if self.session.purpose == "sameday":
            self.show_sameday_confirm()
        else:
            self.session.by = "phone"
            self.checkin()

    def retry(self) -> None:
        s = self.session
        if s.purpose == "sameday":
            self.want_sameday()  # e.g. the slot was taken meanwhile: pick another
            return
        s.representative = None  # what was typed stays, to be corrected rather than retyped
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
        self.confirm_mode = "checkin"
        self.confirm_note = i18n.tr("confirm_again", self.lang) if data.get("checked_in") else ""
        self._confirm_rows(confirm_lines(data, self.lang))

    def show_sameday_confirm(self) -> None:
        """The chosen time once more, before anything is booked (fault 6)."""
        self.confirm_mode = "sameday"
        self.confirm_note = ""
        self._confirm_rows(slot_lines(self.session.slot or {}, self.lang))

    def _confirm_rows(self, lines) -> None:
        rows = self.sm.get_screen("confirm").ids.rows
        rows.clear_widgets()
        for label, value in lines:
            rows.add_widget(Factory.KCaption(text=label))
            rows.add_widget(Factory.KValue(text=value))
        self.go("confirm")

    def confirm_yes(self) -> None:
        if self.confirm_mode == "sameday":
            self.book_sameday()
            return
        if self.session.child and not self.session.representative:
            self.go("representative")
            return
        self._checkin_now()

    def confirm_no(self) -> None:
        if self.confirm_mode == "sameday":
            self.pick_specialty(self.session.specialty or "")  # another time; phone and date are kept
            return
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
        for slot in slots[:MAX_SLOTS]:
            button = Factory.KOutline(text=slot_label(slot, self.lang))
            button.bind(on_release=lambda b, slot=slot: self.pick_slot(slot))
            box.add_widget(button)
        widgets.uniform_heights(box, self.mm * 20, self.mm * 6)
        self.go("slots")

    def pick_slot(self, slot: dict) -> None:
        s = self.session
        s.slot = slot
        s.purpose = "sameday"
        today = datetime.now(self.node_config.site.tz).date()
        if phone_number(s.phone) and birth_date(s.birth, self.lang, today):
            self.show_sameday_confirm()  # "another time": the patient's details are already typed
        else:
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
        self.result_number = view.number
        self.result_printed = view.printed
        box = self.sm.get_screen("result").ids.lines
        box.clear_widgets()
        for line in view.main:
            box.add_widget(Factory.KValue(text=line))
        for line in view.lines:
            box.add_widget(Factory.KLabel(text=line))
        self.go("result")
        if self.access and self.voice is not None:
            self.voice.say(". ".join([i18n.tr("your_number", self.lang), " ".join(view.number), *view.main]),
                           self.lang)

    def _show_error_reply(self, reply) -> None:
        self.show_error(error_view(reply.code, reply.message, self.lang,
                                   early_minutes=self.node_config.arrival.early_minutes))

    def show_error(self, view: ErrorView) -> None:
        self.error_code = view.code
        self.error_title = view.title
        self.error_calm = view.calm
        self.error_big = view.big
        self.error_typed = self._typed_text() if view.retry else ""
        screen = self.sm.get_screen("error")
        screen.ids.lines.clear_widgets()
        for line in view.lines:
            screen.ids.lines.add_widget(Factory.KLabel(text=line))
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

    def _typed_text(self) -> str:
        """What the patient typed, shown on the error so a typo can be spotted."""
        s = self.session
        if s.by == "phone" and phone_number(s.phone):
            return i18n.tr("you_typed", self.lang, code=show_phone(s.phone))
        return i18n.tr("you_typed", self.lang, code=s.code) if s.code else ""

    def _button(self, kind: str, key: str, action):
        button = getattr(Factory, kind)(text=i18n.tr(key, self.lang))
        button.bind(on_release=lambda b: action())
        return button

    def result_done(self) -> None:
        self.go("thanks")  # the rating is asked after the visit, from the welcome screen

    def rate_key(self, key: str) -> None:
        s = self.session
        s.code = s.code[:-1] if key == widgets.ERASE else type_code(s.code, key)
        self.input_error = ""
        self._show_inputs()

    def rate_done(self) -> None:
        code = self.session.code
        if ticket_ok(code):
            self.rate_visit({"ticket": code})
        elif code_ok(code):
            self.rate_visit({"booking": code})
        else:
            self.input_error = i18n.tr("rate_invalid", self.lang)

    def rate_visit(self, visit: dict) -> None:
        self.session.feedback_for = visit
        self.input_error = ""
        self.go("feedback")

    def feedback(self, score: int | None) -> None:
        if score is None:
            self.go("thanks")
        elif score <= FOLLOW_UP_AT_OR_BELOW:
            self._score = score
            self.go("callback")
        else:
            self._send_feedback(score, call_back=False)

    def callback(self, consent: bool) -> None:
        self._send_feedback(self._score if self._score is not None else 0, call_back=consent)

    def _send_feedback(self, score: int, call_back: bool) -> None:
        # the consent only: staff find the number through the booking, it never goes on the wire
        if self.client:
            self.client.call("feedback", {"score": score, "lang": self.lang, "call_back": call_back,
                                          **self.session.feedback_for}, lambda reply: None)
        self.go("thanks")

    # -- the scanner ----------------------------------------------------------------------------------
    def on_scan(self, raw: str) -> None:
        """A code from the scanner starts a check-in from whatever screen is showing."""
        if self.screen == "busy":
            log.info("scan ignored: a request is in flight")
            return
        if self.screen == "rate":  # the receipt's QR: the rating is for that visit
            code = scanned_code(raw)
            if code is None:
                self.input_error = i18n.tr("err_invalid_text", self.lang)
            else:
                self.rate_visit({"booking": code})
            return
        self._token += 1
        self._hide_idle_prompt()
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

    def _fill_choices(self, screen: str, items, action, details=None) -> None:
        widgets.choices(self.sm.get_screen(screen).ids.choices, items, action, minimum=self.mm * 20,
                        pad=self.mm * 6, details=details)

    def _build_widgets(self) -> None:
        for screen, rows, press in (("code", CODE_ROWS, self.code_key), ("phone", PHONE_ROWS, self.phone_key),
                                    ("birth", BIRTH_ROWS, self.birth_key), ("rate", CODE_ROWS, self.rate_key)):
            erase = self.sm.get_screen(screen).ids.keypad.fill(rows, press)
            self._relabel.append((erase, "key_erase"))
        for widget, key in self._relabel:
            widget.text = i18n.tr(key, self.lang)
        names = {lang: i18n.LANG_NAMES[lang] for lang in self.node_config.site.languages}
        widgets.languages(self.sm.get_screen("welcome").ids.langs, names, self.set_lang)
        widgets.scores(self.sm.get_screen("feedback").ids.scores, self.feedback)


# -- start-up -----------------------------------------------------------------------------------------
def parse_args(argv=None) -> argparse.Namespace:
    from ui.cli import add_arguments
    p = argparse.ArgumentParser(prog="python -m ui.kiosk_app", description="Vestibule lobby kiosk")
    add_arguments(p)
    p.add_argument("--tour", metavar="OUTDIR", help="render every screen with sample data to OUTDIR and exit")
    return p.parse_args(argv)


def run(args: argparse.Namespace, inspect=None) -> int:
    """`inspect(name)`: with --tour, called on every screen of the tour once it is laid out."""
    start_logging()
    configure_window(args.windowed or bool(getattr(args, "tour", None)), args.size)
    config = load_screen_config(args.config or ROOT / "config" / "example.toml", "vestibule kiosk")
    if config is None:
        return 2
    if getattr(args, "tour", None):
        from ui.tour import Tour
        app = KioskApp(config, kiosk_id=args.kiosk, lang=args.lang, idle_timeout=10_000, kiosk_mode=False,
                       dpi=args.dpi)
        Tour(app, Path(args.tour), args.lang or config.site.default_language, inspect).start()
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
                   kiosk_mode=not args.windowed, client=client, state_file=args.state_file, snap_dir=args.snap_dir,
                   dpi=args.dpi)
    # systemd stops the kiosk with SIGTERM: leave the broker cleanly instead of dying mid-frame.
    signal.signal(signal.SIGTERM, lambda *_: Clock.schedule_once(lambda dt: app.stop(), 0))
    app.run()
    return 0


def main(argv=None) -> int:
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
