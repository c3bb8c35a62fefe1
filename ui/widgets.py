"""Rows of buttons the kv file cannot loop over: keyboards, choices, languages, scores.

Each builder fills a container from ui/kiosk.kv; texts come from the caller (i18n or config).
"""
from __future__ import annotations

from typing import Callable

from kivy.factory import Factory

ERASE = "\b"


def keyboard(box, rows: list[str], press: Callable[[str], None]) -> object:
    """Big keys, one row per string (a space leaves a gap); the last row ends in an erase key,
    which is returned so its label can follow the language."""
    box.clear_widgets()
    erase = None
    for i, row in enumerate(rows):
        line = Factory.BoxLayout(spacing="8dp")
        for ch in row:
            if ch == " ":
                line.add_widget(Factory.Widget())
                continue
            key = Factory.KKey(text=ch)
            key.value = ch  # a kv-declared property: not settable through __init__
            if ch == "-":
                key.font_size = "60sp"  # a hyphen at letter size is a speck
            key.bind(on_release=lambda b: press(b.value))
            line.add_widget(key)
        if i == len(rows) - 1:
            erase = Factory.KKey(font_size="32sp", size_hint_x=len(rows[0]) - len(row) or 1)
            erase.bind(on_release=lambda b: press(ERASE))
            line.add_widget(erase)
        box.add_widget(line)
    return erase


def choices(box, items, pick: Callable[[str], None], kind: str = "KOutline") -> None:
    """One button per (id, name) choice."""
    box.clear_widgets()
    for item in items:
        button = getattr(Factory, kind)(text=item.name)
        button.bind(on_release=lambda b, cid=item.id: pick(cid))
        box.add_widget(button)


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
        button = Factory.KOutline(text=str(score), font_size="44sp", size_hint_y=1)
        button.bind(on_release=lambda b, score=score: pick(score))
        box.add_widget(button)
