"""A PNG of exactly what the window shows.

Reading pixels from a Clock callback reads whatever the GL back buffer holds, which right after
start-up is nothing (a black frame). Here the pixels are read inside the next `on_flip`, after the
frame is drawn and before it is swapped; asking the canvas for an update guarantees that frame.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def snapshot(path: Path, then: Callable[[Path], None] | None = None) -> None:
    from kivy.clock import Clock
    from kivy.core.window import Window

    def on_flip(*_):
        Window.unbind(on_flip=on_flip)
        path.parent.mkdir(parents=True, exist_ok=True)
        made = Window.screenshot(name=str(path.with_name(f".{path.stem}.png")))  # adds a counter
        os.replace(made, path)
        if then:
            Clock.schedule_once(lambda dt: then(path), 0)

    Window.bind(on_flip=on_flip)  # bound handlers run before the default one, which swaps
    Window.canvas.ask_update()
