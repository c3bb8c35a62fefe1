"""Rows of buttons the kv file cannot loop over: keyboards, choices, languages, scores; and the
"still there?" overlay.

Each builder fills a container from ui/kiosk.kv; texts come from the caller (i18n or config).
"""
from __future__ import annotations

from collections.abc import Callable

from kivy.factory import Factory
from kivy.properties import NumericProperty
from kivy.uix.anchorlayout import AnchorLayout
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.widget import Widget

ERASE = "\b"


class Keypad(AnchorLayout):
    """Square keys of one size, as large as the space allows up to `max_key` px, centred: never
    stretched into slabs in portrait, and the keys do not move when the text above changes."""
    max_key = NumericProperty(120)
    gap = NumericProperty(8)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.rows: list[str] = []
        self.keys: list[list[Widget]] = []
        self.spans: list[list[int]] = []
        self.inner = BoxLayout(orientation="vertical", size_hint=(None, None))
        self.add_widget(self.inner)
        self.bind(size=self._fit, max_key=self._fit, gap=self._fit)

    def fill(self, rows: list[str], press: Callable[[str], None]) -> Widget:
        """One row per string (a space leaves a gap); the last row ends in an erase key, which
        is returned so its label can follow the language."""
        self.inner.clear_widgets()
        self.rows, self.keys, self.spans = rows, [], []
        cols = max(len(r) for r in rows)
        erase = None
        for i, row in enumerate(rows):
            line = BoxLayout(size_hint=(None, None), pos_hint={"center_x": 0.5})
            keys, spans = [], []
            for ch in row:
                if ch == " ":
                    key = Widget(size_hint=(None, None))
                else:
                    key = Factory.KKey(text=ch)
                    key.value = ch  # a kv-declared property: not settable through __init__
                    key.bind(on_release=lambda b: press(b.value))
                line.add_widget(key)
                keys.append(key)
                spans.append(1)
            if i == len(rows) - 1:
                erase = Factory.KErase()
                erase.bind(on_release=lambda b: press(ERASE))
                line.add_widget(erase)
                keys.append(erase)
                spans.append(max(1, cols - len(row)))
            self.inner.add_widget(line)
            self.keys.append(keys)
            self.spans.append(spans)
        self._fit()
        return erase

    def _fit(self, *args) -> None:
        if not self.rows:
            return
        cols = max(sum(s) for s in self.spans)
        n = len(self.rows)
        side = min((self.width - self.gap * (cols - 1)) / cols, (self.height - self.gap * (n - 1)) / n, self.max_key)
        side = max(side, 1)
        self.inner.spacing = self.gap
        for line, keys, spans in zip(self.inner.children[::-1], self.keys, self.spans):
            line.spacing = self.gap
            for key, span in zip(keys, spans):
                key.size = (side * span + self.gap * (span - 1), side)
                if hasattr(key, "text_size"):
                    key.text_size = (key.width - self.gap, None)
            line.size = (sum(k.width for k in keys) + self.gap * (len(keys) - 1), side)
        self.inner.size = (max(line.width for line in self.inner.children), side * n + self.gap * (n - 1))


class IdlePrompt(FloatLayout):
    """Put over the screens while the idle countdown runs; touches reach only its own button."""

    def on_touch_down(self, touch):
        super().on_touch_down(touch)
        return True

    def on_touch_up(self, touch):
        super().on_touch_up(touch)
        return True


Factory.register("Keypad", cls=Keypad)
Factory.register("IdlePrompt", cls=IdlePrompt)


def uniform_heights(box, minimum: float, pad: float) -> None:
    """Every button of `box` as tall as the tallest one's text needs (fault 9: no two-line
    buttons beside one-line ones)."""
    buttons = list(box.children)

    def fit(*args):
        tallest = max([b.texture_size[1] for b in buttons] + [0])
        for b in buttons:
            b.height = max(minimum, tallest + pad)
    for b in buttons:
        b.bind(texture_size=fit, width=fit)
    fit()


def choices(box, items, pick: Callable[[str], None], *, minimum: float, pad: float,
            details: Callable[[object], str] | None = None, kind: str = "KOutline") -> None:
    """One button per (id, name) choice, all of one height; `details(item)` adds a second line."""
    box.clear_widgets()
    for item in items:
        extra = details(item) if details else ""
        button = getattr(Factory, kind)(text=item.name + (f"\n{extra}" if extra else ""))
        button.bind(on_release=lambda b, cid=item.id: pick(cid))
        box.add_widget(button)
    uniform_heights(box, minimum, pad)


def languages(box, names: dict[str, str], pick: Callable[[str], None]) -> None:
    """Language buttons, each in its own script; the chosen one is filled (kv: KLang)."""
    for lang, name in names.items():
        button = Factory.KLang(text=name)
        button.code = lang
        button.bind(on_release=lambda b: pick(b.code))
        box.add_widget(button)


def scores(box, pick: Callable[[int], None]) -> None:
    """The eleven feedback buttons 0..10."""
    for score in range(11):
        button = Factory.KOutline(text=str(score))
        button.bind(on_release=lambda b, score=score: pick(score))
        box.add_widget(button)
