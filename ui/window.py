"""The window every screen app opens (kiosk, screening post, TV board), and the start-up they
share. Must run before Kivy creates its window (the first import of kivy.core.window)."""
from __future__ import annotations

import logging
import sys
from pathlib import Path

from kivy.config import Config

from ui.display import x_display_size


def configure_window(windowed: bool, size: str, at: str | None = None) -> None:
    """A normal window of `size` (at `at` = "LEFT,TOP"), or borderless over the whole display with
    no cursor: nothing on screen leads to the desktop (see ui/display.py for why not fullscreen)."""
    width, height = (int(x) for x in size.lower().split("x"))
    Config.set("kivy", "exit_on_escape", "0")
    Config.set("input", "mouse", "mouse,disable_multitouch")  # no red dots on right click
    if windowed:
        Config.set("graphics", "fullscreen", "0")
        Config.set("graphics", "borderless", "0")
        if at:
            left, top = (int(x) for x in at.split(","))
            Config.set("graphics", "position", "custom")
            Config.set("graphics", "left", str(left))
            Config.set("graphics", "top", str(top))
    else:
        screen = x_display_size()
        if screen:
            width, height = screen
            Config.set("graphics", "position", "custom")
            Config.set("graphics", "left", "0")
            Config.set("graphics", "top", "0")
        Config.set("graphics", "fullscreen", "0" if screen else "auto")
        Config.set("graphics", "borderless", "1")
        Config.set("graphics", "show_cursor", "0")
    Config.set("graphics", "width", str(width))
    Config.set("graphics", "height", str(height))
    Config.set("graphics", "resizable", "0")
    # No multisampling (Kivy's default is 2): it only smooths polygon edges, our rounded corners,
    # and it made each frame of the TV board 2.5-4x slower to swap under software GL (80 ms
    # instead of 20-35 at 960x540), time in which a call waits for the UI thread.
    Config.set("graphics", "multisamples", "0")


def start_logging() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")


def load_screen_config(path, program: str, *, fonts_needed: bool = True):
    """The node config for a screen app, with its fonts registered; None (after saying why on
    stderr) when either is missing or wrong: the app then exits 2."""
    from foundation.config import ConfigError, load_config
    from ui import fonts
    if fonts_needed:
        try:
            fonts.register()
        except fonts.FontMissing as exc:
            print(f"{program}: {exc}", file=sys.stderr)
            return None
    try:
        return load_config(Path(path))
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return None
