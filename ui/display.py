"""The size of the X display the kiosk runs on, asked of the X server before Kivy opens a window.

Why: SDL's desktop full screen ("auto") relies on a window manager to resize the window; in a
bare X session (a kiosk without a WM, Xvfb) the GL surface stays at its first size and most of
the screen is never drawn. A borderless window placed at 0,0 with the display's size covers the
screen with or without a window manager.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os


def x_display_size() -> tuple[int, int] | None:
    """(width, height) of the default screen of $DISPLAY, or None (no X, no libX11)."""
    if not os.environ.get("DISPLAY"):
        return None
    name = ctypes.util.find_library("X11") or "libX11.so.6"
    try:
        x11 = ctypes.CDLL(name)
    except OSError:
        return None
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
    for fn in (x11.XDefaultScreen, x11.XCloseDisplay):
        fn.argtypes = [ctypes.c_void_p]
    for fn in (x11.XDisplayWidth, x11.XDisplayHeight):
        fn.argtypes = [ctypes.c_void_p, ctypes.c_int]
    display = x11.XOpenDisplay(None)
    if not display:
        return None
    try:
        screen = x11.XDefaultScreen(display)
        return x11.XDisplayWidth(display, screen), x11.XDisplayHeight(display, screen)
    finally:
        x11.XCloseDisplay(display)
