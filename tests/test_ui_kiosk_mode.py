"""Kiosk mode: full screen, borderless, no cursor, and nothing a patient does closes the app."""
from __future__ import annotations

from kivy.config import Config

from foundation.config import load_config
from tests.conftest import ROOT
from ui.display import x_display_size
from ui.kiosk_app import KioskApp, configure_window

CONFIG = load_config(ROOT / "config" / "example.toml")


def test_kiosk_mode_asks_for_a_borderless_window_over_the_whole_display_without_cursor_or_escape():
    configure_window(windowed=False, size="800x600")
    width, height = x_display_size()  # the test display
    assert (Config.get("graphics", "width"), Config.get("graphics", "height")) == (str(width), str(height))
    assert (Config.get("graphics", "left"), Config.get("graphics", "top")) == ("0", "0")
    assert Config.get("graphics", "borderless") == "1"
    assert Config.get("graphics", "show_cursor") == "0"
    assert Config.get("kivy", "exit_on_escape") == "0"


def test_without_an_x_display_kiosk_mode_asks_for_desktop_full_screen(monkeypatch):
    monkeypatch.delenv("DISPLAY")
    configure_window(windowed=False, size="800x600")
    assert Config.get("graphics", "fullscreen") == "auto"


def test_windowed_mode_is_a_normal_window_of_the_given_size():
    configure_window(windowed=True, size="1024x768")
    assert Config.get("graphics", "fullscreen") == "0"
    assert (Config.get("graphics", "width"), Config.get("graphics", "height")) == ("1024", "768")


def test_close_requests_escape_back_and_settings_are_refused_in_kiosk_mode():
    app = KioskApp(CONFIG, kiosk_id="kiosk-1", kiosk_mode=True)
    assert app._on_request_close() is True  # True: Kivy keeps the window open
    assert app._on_keyboard(None, 27) is True and app._on_keyboard(None, 1001) is True
    assert app.open_settings() is False
    assert KioskApp(CONFIG, kiosk_id="kiosk-1", kiosk_mode=False)._on_request_close() is False
