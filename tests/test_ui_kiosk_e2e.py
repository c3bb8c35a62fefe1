"""The real kiosk app (a subprocess with a window on the test display) against a real Mosquitto,
the real controller with its kiosk flow, the stand-in core and the printer simulator.

A scan is simulated the way the controller reports one: a DeviceReadingMessage on the kiosk
scanner's reading topic. Taps are real pointer clicks on the X display (XTest), on the buttons
the app lists in its test-mode state file, found by their text as a patient would find them.
The app also saves a PNG of every screen that stays up: build/screenshots/kiosk_e2e_<screen>.png.
"""
from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image, ImageStat

from mqtt.models import DeviceReadingMessage
from tests.support.app_process import app_output, stop_app
from tests.conftest import ROOT, SCREENSHOTS
from tests.kiosk_env import KIOSK, kiosk_env, wait_until
from tests.support.processes import popen_child
from tests.test_ui_kiosk_screens import kivy_env
from ui.i18n import tr

SCANNER = "scanner-1"  # config/example.toml: kind scanner, role kiosk-1
APP_START_S = 40.0


class Pointer:
    """Clicks through the X server's XTest extension, the way a touch screen's driver would."""

    def __init__(self):
        self.x11 = ctypes.CDLL("libX11.so.6")
        self.xtst = ctypes.CDLL("libXtst.so.6")
        self.x11.XOpenDisplay.restype = ctypes.c_void_p
        self.x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
        self.x11.XFlush.argtypes = [ctypes.c_void_p]
        self.x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
        self.xtst.XTestFakeMotionEvent.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                                                   ctypes.c_ulong]
        self.xtst.XTestFakeButtonEvent.argtypes = [ctypes.c_void_p, ctypes.c_uint, ctypes.c_int, ctypes.c_ulong]
        self.display = self.x11.XOpenDisplay(os.environ["DISPLAY"].encode())
        assert self.display, "cannot open the X display"

    def key(self, keysym: str) -> None:
        self.x11.XStringToKeysym.restype = ctypes.c_ulong
        self.x11.XStringToKeysym.argtypes = [ctypes.c_char_p]
        self.x11.XKeysymToKeycode.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
        code = self.x11.XKeysymToKeycode(self.display, self.x11.XStringToKeysym(keysym.encode()))
        self.xtst.XTestFakeKeyEvent.argtypes = [ctypes.c_void_p, ctypes.c_uint, ctypes.c_int, ctypes.c_ulong]
        for pressed in (True, False):
            self.xtst.XTestFakeKeyEvent(self.display, code, pressed, 0)
            self.x11.XFlush(self.display)
            time.sleep(0.05)

    def click(self, x: int, y: int) -> None:
        self.xtst.XTestFakeMotionEvent(self.display, -1, x, y, 0)
        self.x11.XFlush(self.display)
        time.sleep(0.05)
        for pressed in (True, False):
            self.xtst.XTestFakeButtonEvent(self.display, 1, pressed, 0)
            self.x11.XFlush(self.display)
            time.sleep(0.05)

    def close(self) -> None:
        self.x11.XCloseDisplay(self.display)


def kiosk_config(tmp_path: Path, broker_url: str) -> Path:
    """The example config pointed at the test broker; its scanner-1 serves kiosk-1."""
    text = (ROOT / "config" / "example.toml").read_text(encoding="utf-8")
    text = text.replace('url = "mqtt://127.0.0.1:1883"', f'url = "{broker_url}"')
    text = text.replace('store = "../var/entrance-1.db"', f'store = "{tmp_path / "ui-unused.db"}"')
    path = tmp_path / "kiosk.toml"
    path.write_text(text, encoding="utf-8")
    return path


class KioskProcess:
    def __init__(self, tmp_path: Path, broker_url: str, idle_timeout: float, lang: str = "ru", windowed: bool = True):
        self.lang = lang
        self.state_file = tmp_path / "kiosk-state.json"
        self.log = open(tmp_path / "kiosk.log", "w+")
        self.pointer = Pointer()
        self.proc = popen_child(
            [sys.executable, "-m", "ui.kiosk_app", "--config", str(kiosk_config(tmp_path, broker_url)),
             "--kiosk", KIOSK, *(["--windowed"] if windowed else []), "--lang", lang,
             "--idle-timeout", str(idle_timeout),
             "--state-file", str(self.state_file), "--snap-dir", str(SCREENSHOTS)],
            cwd=ROOT, env=kivy_env(), stdout=self.log, stderr=subprocess.STDOUT)

    def state(self) -> dict:
        assert self.proc.poll() is None, f"the kiosk exited:\n{self.output()}"
        try:
            return json.loads(self.state_file.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return {}

    def wait_screen(self, screen: str, timeout: float = 20.0, after: float = 0.0) -> dict:
        """The screen's settled state (its buttons laid out), written after `after`."""
        def shown():
            s = self.state()
            return s if s.get("screen") == screen and s.get("settled") and s.get("ts", 0) > after else None
        try:
            return wait_until(shown, timeout, f"kiosk screen {screen}")
        except AssertionError:
            raise AssertionError(f"kiosk never showed {screen}; last state {self.state()}\n{self.output()}") from None

    def tap(self, key: str, **values) -> float:
        """Tap the button showing tr(key) (or the literal text if it is not a key)."""
        text = tr(key, self.lang, **values)
        buttons = self.state().get("buttons", [])
        # a button's text, or one of its lines, or its end (after a "✓ " mark) is the text
        button = next((b for b in buttons if text in b["text"].split("\n") or b["text"].endswith(text)), None)
        assert button, f"no button {text!r} on {self.state().get('screen')}: {[b['text'] for b in buttons]}"
        sent = time.time()
        self.pointer.click(button["x"], button["y"])
        return sent

    def output(self) -> str:
        return app_output(self.log)

    def stop(self) -> None:
        stop_app(self.proc, self.log)
        self.pointer.close()


def assert_screenshot(screen: str, since: float) -> None:
    """The app saved what it showed; a real frame, not the black one before the first draw."""
    shot = SCREENSHOTS / f"kiosk_e2e_{screen}.png"
    wait_until(lambda: shot.is_file() and shot.stat().st_mtime > since, what=f"{screen} screenshot")
    image = Image.open(shot).convert("L")
    assert image.size == (1280, 1024) and ImageStat.Stat(image).mean[0] > 128, f"{shot.name} is dark or blank"


@pytest.fixture
def env(tmp_path, broker):
    with kiosk_env(tmp_path, broker) as e:
        yield e


@pytest.fixture
def start_kiosk(tmp_path, broker, env):
    started = []

    def start(idle_timeout: float = 600.0, windowed: bool = True) -> KioskProcess:
        app = KioskProcess(tmp_path, broker.url, idle_timeout, windowed=windowed)
        started.append(app)
        since = time.time()
        app.wait_screen("welcome", timeout=APP_START_S)
        # scans are QoS 0 and not retained: the app must be subscribed before the first one
        wait_until(lambda: app.state().get("link"), APP_START_S, "kiosk connected to the broker")
        time.sleep(0.5)  # its SUBACK is not awaited by the client
        assert_screenshot("welcome", since)
        return app
    yield start
    for app in started:
        app.stop()


@pytest.fixture
def kiosk(start_kiosk):
    return start_kiosk()


def scan(env, code: str) -> float:
    """What the controller publishes when the kiosk's scanner reads a code; returns the time sent."""
    sent = time.time()
    message = DeviceReadingMessage(device=SCANNER, kind="scanner", ts=datetime.now(UTC), code=code)
    env.ui.publish(env.controller.topics.device_reading(SCANNER), message, qos=0)
    return sent


def test_scan_confirm_and_the_result_screen_shows_the_printed_ticket_then_thanks_not_a_rating(env, kiosk):
    appointment = env.booking(minutes=5)
    before = env.printed()
    sent = scan(env, appointment.booking)
    kiosk.wait_screen("confirm", after=sent)
    assert_screenshot("confirm", sent)
    assert not env.events("checkin.completed")  # confirming comes before anything is issued

    state = kiosk.wait_screen("result", after=kiosk.tap("confirm_yes"))
    completed = env.wait_events("checkin.completed", predicate=lambda e: e.data["booking"] == appointment.booking)
    ticket = completed[0].data["ticket"]
    assert state["ticket"] == ticket and state["printed"] is True
    assert ticket in env.next_document(before).text_lines  # the receipt the patient takes
    assert_screenshot("result", sent)

    kiosk.wait_screen("thanks", after=kiosk.tap("done"))  # the rating comes after the visit, not now


def test_a_walk_in_takes_a_priority_ticket_by_touch(env, kiosk):
    kiosk.wait_screen("services", after=kiosk.tap("welcome_ticket"))
    kiosk.tap("priority_toggle")
    lab = env.config.service("lab").names["ru"]
    buttons = [b["text"] for b in kiosk.state()["buttons"]]
    assert f"{lab}\nждут 0" in buttons  # the queue's waiting count from kiosk.info, under the name
    state = kiosk.wait_screen("result", after=kiosk.tap(lab))
    issued = env.wait_events("ticket.issued")[0]
    assert state["ticket"] == issued.data["ticket"] and issued.data["ticket"].startswith("L")
    assert issued.data["priority"] is True and issued.data["service"] == "lab"


def test_a_scan_on_any_screen_starts_a_check_in_and_an_unknown_code_offers_registration(env, kiosk):
    kiosk.wait_screen("services", after=kiosk.tap("welcome_ticket"))
    sent = scan(env, "BK-NOSUCH1")  # scanned while choosing a service
    assert kiosk.wait_screen("error", after=sent)["error"] == "not_found"
    assert_screenshot("error", sent)
    state = kiosk.wait_screen("result", after=kiosk.tap("reception_ticket"))
    issued = env.wait_events("ticket.issued")[0]
    assert issued.data["service"] == "registration" and state["ticket"] == issued.data["ticket"]


def test_a_child_is_checked_in_only_after_the_representative_confirms(env, kiosk):
    child = env.booking(minutes=5, flags=("child",))
    kiosk.wait_screen("confirm", after=scan(env, child.booking))
    sent = kiosk.tap("confirm_yes")
    kiosk.wait_screen("representative", after=sent)
    assert_screenshot("representative", sent)
    assert not env.events("checkin.completed")
    state = kiosk.wait_screen("result", after=kiosk.tap("rep_yes"))
    completed = env.wait_events("checkin.completed", predicate=lambda e: e.data["booking"] == child.booking)
    assert state["ticket"] == completed[0].data["ticket"]


def test_with_the_core_away_the_kiosk_shows_offline_and_still_checks_in_from_the_cache(env, kiosk):
    appointment = env.booking(minutes=5)  # in the node's cached schedule before the core goes
    assert kiosk.state()["offline"] is False
    env.stop_core()
    wait_until(lambda: kiosk.state().get("offline") is True, what="offline indicator")
    kiosk.wait_screen("confirm", after=scan(env, appointment.booking), timeout=30)
    state = kiosk.wait_screen("result", after=kiosk.tap("confirm_yes"), timeout=30)
    assert state["ticket"] and state["offline"] is True


def test_idle_returns_to_welcome_in_the_default_language_and_forgets_what_was_typed(env, start_kiosk):
    kiosk = start_kiosk(idle_timeout=3)
    kiosk.tap("English")
    wait_until(lambda: kiosk.state().get("lang") == "en", what="English chosen")
    kiosk.lang = "en"
    kiosk.wait_screen("code", after=kiosk.tap("welcome_booking"))
    for key in "BK7":
        kiosk.tap(key)
    wait_until(lambda: kiosk.state().get("entered") == 3, what="three characters typed")
    state = kiosk.wait_screen("welcome", timeout=15, after=time.time())
    assert state["entered"] == 0 and state["lang"] == "ru"  # the next patient starts in the default
    kiosk.lang = "ru"
    kiosk.wait_screen("code", after=kiosk.tap("welcome_booking"))
    assert kiosk.state()["entered"] == 0


def test_kiosk_mode_fills_the_screen_and_escape_does_not_leave_it_only_the_process_manager_does(env, start_kiosk):
    kiosk = start_kiosk(windowed=False)
    state = kiosk.state()
    window = state["window"]
    assert window["size"] == [1280, 1024] and (window["left"], window["top"]) == (0, 0)  # the whole display
    assert window["borderless"] in (True, 1, "1")
    sent = kiosk.tap("welcome_booking")
    kiosk.wait_screen("code", after=sent)
    assert_screenshot("code", sent)  # drawn over the whole screen, not a corner of it
    for _ in range(3):
        kiosk.pointer.key("Escape")
    time.sleep(1.0)
    assert kiosk.proc.poll() is None and kiosk.state()["screen"] == "code"  # still running, still there
    kiosk.proc.send_signal(signal.SIGTERM)  # what systemd sends
    assert kiosk.proc.wait(timeout=15) == 0


def test_same_day_booking_by_touch_books_a_free_slot_and_tells_staff(env, kiosk):
    kiosk.wait_screen("sameday", after=kiosk.tap("welcome_sameday"))
    kiosk.wait_screen("slots", after=kiosk.tap("specialty_therapist"))
    slot = next(b["text"] for b in kiosk.state()["buttons"] if b["text"][:2].isdigit())  # the first free time
    kiosk.wait_screen("phone", after=kiosk.tap(slot))
    for digit in "9215554417":
        kiosk.tap(digit)
    kiosk.wait_screen("birth", after=kiosk.tap("next"))
    for digit in "02041961":
        kiosk.tap(digit)
    # the chosen time once more, and nothing booked before the patient says yes
    state = kiosk.wait_screen("confirm", after=kiosk.tap("next"))
    assert state["confirm"] == "sameday" and state["slot"] == slot[:5]
    assert not env.events("booking.same_day")
    sent = kiosk.tap("sameday_book")
    event = env.wait_events("booking.same_day")[0]  # staff learn of it to prepare the room
    assert event.data["start"][11:16] == slot[:5]
    # checked in at once when the slot is near, else told when to come back to the kiosk
    state = wait_until(lambda: (lambda s: s if s.get("settled") and s.get("ts", 0) > sent and
                                s.get("screen") in ("result", "error") else None)(kiosk.state()),
                       what="booked or checked in")
    assert state["screen"] == "result" or state["error"] == "booked", state


def type_on(kiosk, text: str) -> None:
    for key in text:
        kiosk.tap(key)
    wait_until(lambda: kiosk.state().get("code") == text, what=f"{text} typed")


def test_start_over_on_an_error_keeps_the_patients_language(env, kiosk):
    kiosk.tap("English")
    wait_until(lambda: kiosk.state().get("lang") == "en", what="English chosen")
    kiosk.lang = "en"
    kiosk.wait_screen("code", after=kiosk.tap("welcome_booking"))
    type_on(kiosk, "BK-NO1")
    assert kiosk.wait_screen("error", after=kiosk.tap("next"))["error"] == "not_found"
    state = kiosk.wait_screen("welcome", after=kiosk.tap("home"))
    assert state["lang"] == "en" and state["entered"] == 0  # a new start, in the patient's own language
    assert "English" in [b["text"] for b in state["buttons"]]


def test_try_again_keeps_the_typed_code_and_the_error_shows_it(env, kiosk):
    kiosk.wait_screen("code", after=kiosk.tap("welcome_booking"))
    type_on(kiosk, "BK-7Q4M3")
    state = kiosk.wait_screen("error", after=kiosk.tap("next"))
    assert state["error"] == "not_found" and state["typed"] == tr("you_typed", "ru", code="BK-7Q4M3")
    state = kiosk.wait_screen("code", after=kiosk.tap("try_again"))
    assert state["code"] == "BK-7Q4M3"  # to correct one character, not to type all again
    kiosk.tap(tr("key_erase", "ru"))
    wait_until(lambda: kiosk.state().get("code") == "BK-7Q4M", what="one character erased")


def test_large_text_and_high_contrast_are_one_tap_away_on_every_screen(env, kiosk):
    for screen, go in (("code", "welcome_booking"), ("services", "home"), ("sameday", "home")):
        if go == "home":
            kiosk.wait_screen("welcome", after=kiosk.tap("home"))
            go = "welcome_ticket" if screen == "services" else "welcome_sameday"
        state = kiosk.wait_screen(screen, after=kiosk.tap(go))
        assert tr("access", "ru") in [b["text"] for b in state["buttons"]], screen
    kiosk.tap("access")
    wait_until(lambda: kiosk.state().get("access") is True, what="accessibility mode on")
    state = kiosk.wait_screen("sameday", after=time.time() - 0.5)
    assert state["screen"] == "sameday"  # the same screen, now larger and in high contrast


def test_paper_out_is_on_the_welcome_screen_before_anyone_takes_a_ticket(env, start_kiosk):
    env.sim.paper_out = True
    wait_until(lambda: "paper_out" in env.ok("kiosk.info", {"lang": "ru"})["printer"]["problems"],
               what="the controller knows the paper is out")
    kiosk = start_kiosk()
    state = wait_until(lambda: kiosk.state() if kiosk.state().get("printer_note") else None,
                       what="paper-out notice on the welcome screen")
    assert state["screen"] == "welcome" and state["printer_note"] == tr("paper_out", "ru")


def test_idle_asks_still_there_with_a_countdown_and_continue_keeps_the_input(env, start_kiosk):
    kiosk = start_kiosk(idle_timeout=3)
    kiosk.wait_screen("code", after=kiosk.tap("welcome_booking"))
    type_on(kiosk, "BK7")
    first = wait_until(lambda: kiosk.state().get("idle_left") or None, timeout=10, what="still-there prompt")
    def counted_down():
        left = kiosk.state().get("idle_left")
        return left if left and left < first else None
    later = wait_until(counted_down, timeout=5, what="the countdown going down")
    assert 0 < later < first <= 5
    kiosk.tap("Q")  # a key under the prompt: the prompt takes the touch, nothing is typed
    wait_until(lambda: kiosk.state().get("idle_left") == 0, what="prompt gone after a touch")
    assert kiosk.state()["code"] == "BK7"
    wait_until(lambda: kiosk.state().get("idle_left") or None, timeout=10, what="still-there prompt again")
    wait_until(lambda: tr("idle_stay", "ru") in [b["text"] for b in kiosk.state().get("buttons", [])],
               what="the continue button listed")
    kiosk.tap("idle_stay")
    wait_until(lambda: kiosk.state().get("idle_left") == 0, what="prompt gone")
    state = kiosk.state()
    assert state["screen"] == "code" and state["code"] == "BK7"  # nothing lost
    state = kiosk.wait_screen("welcome", timeout=20, after=time.time())  # no answer this time: start over
    assert state["entered"] == 0


def test_rate_your_visit_from_the_welcome_screen_ties_the_score_to_the_ticket_and_asks_before_a_call_back(
        env, kiosk):
    ticket = env.ok("ticket", {"service": "lab", "lang": "ru"})["ticket"]
    kiosk.wait_screen("rate", after=kiosk.tap("welcome_rate"))
    type_on(kiosk, ticket)
    kiosk.wait_screen("feedback", after=kiosk.tap("next"))
    kiosk.wait_screen("callback", after=kiosk.tap("4"))
    kiosk.wait_screen("thanks", after=kiosk.tap("callback_yes"))
    event = env.wait_events("feedback.submitted")[0]
    assert event.data == {"score": 4, "ticket": ticket, "booking": None, "follow_up": True, "call_back": True}


def test_a_scanned_receipt_rates_that_booking_and_a_high_score_asks_nothing_more(env, kiosk):
    kiosk.wait_screen("rate", after=kiosk.tap("welcome_rate"))
    kiosk.wait_screen("feedback", after=scan(env, "BK-7Q4M2"))  # the receipt's QR is the booking code
    kiosk.wait_screen("thanks", after=kiosk.tap("9"))
    event = env.wait_events("feedback.submitted")[0]
    assert event.data["booking"] == "BK-7Q4M2" and event.data["call_back"] is False
