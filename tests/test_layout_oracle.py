"""The layout oracle can fail: each check reports a deliberately broken layout and passes its
repaired twin. Real Kivy widgets in a real window on the test display (xvfb)."""
from __future__ import annotations

import os

import pytest

os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")

from tests.support.layout_oracle import check_layout, check_text_size, contrast_ratio

DPI = 96.0
MM = DPI / 25.4  # px per mm


@pytest.fixture(scope="module")
def window():
    assert os.environ.get("DISPLAY"), "no X display: run the tests under xvfb-run"
    from kivy.core.window import Window
    Window.size = (800, 600)
    Window.clearcolor = (1, 1, 1, 1)
    return Window


@pytest.fixture
def show(window):
    """Put a widget tree in the window, let Kivy lay it out, return the oracle's verdict."""
    from kivy.base import EventLoop
    shown = []

    def run(root, **kwargs):
        window.add_widget(root)
        shown.append(root)
        for _ in range(6):
            EventLoop.idle()
        return check_layout(root, window.size, DPI, **kwargs)
    yield run
    for root in shown:
        window.remove_widget(root)


def big_button(text="OK", **kw):
    from kivy.uix.button import Button
    kw.setdefault("size_hint", (None, None))
    kw.setdefault("size", (20 * MM, 20 * MM))
    return Button(text=text, background_normal="", background_color=(0.04, 0.24, 0.57, 1), color=(1, 1, 1, 1),
                  **kw)


def fixed(widget, x, y, w, h):
    widget.size_hint = (None, None)
    widget.pos, widget.size = (x, y), (w, h)
    return widget


def floating(*children):
    from kivy.uix.floatlayout import FloatLayout
    root = FloatLayout(size=(800, 600))
    for child in children:
        root.add_widget(child)
    return root


def test_wcag_contrast_of_known_pairs():
    assert contrast_ratio((0, 0, 0), (1, 1, 1)) == pytest.approx(21.0)
    assert contrast_ratio((1, 1, 1), (1, 1, 1)) == pytest.approx(1.0)
    assert contrast_ratio((0x76 / 255,) * 3, (1, 1, 1)) == pytest.approx(4.54, abs=0.01)  # #767676, the AA edge


def test_a_sound_layout_has_no_problems(show):
    from kivy.uix.label import Label
    root = floating(fixed(big_button("One"), 20, 20, 200, 100), fixed(big_button("Two"), 240, 20, 200, 100),
                    fixed(Label(text="Hello", color=(0, 0, 0, 1)), 20, 300, 300, 80))
    assert show(root) == []


def test_a_widget_outside_the_window_is_reported(show):
    problems = show(floating(fixed(big_button("Far"), 700, 20, 200, 100)))
    assert any("'Far'" in p and "outside the window" in p for p in problems), problems


def test_a_widget_hidden_beyond_a_scroll_view_is_reported(show):
    from kivy.uix.boxlayout import BoxLayout
    from kivy.uix.scrollview import ScrollView
    scroll = fixed(ScrollView(), 0, 0, 400, 200)
    column = BoxLayout(orientation="vertical", size_hint_y=None, height=400)
    for n in range(4):
        column.add_widget(big_button(f"Slot {n}", size_hint=(1, None), height=100))
    scroll.add_widget(column)
    problems = show(floating(scroll))
    assert any("cut off by ScrollView" in p for p in problems), problems


def test_overlapping_siblings_are_reported_unless_marked_as_an_overlay(show):
    from kivy.uix.label import Label
    a, b = fixed(big_button("A"), 20, 20, 200, 100), fixed(big_button("B"), 120, 60, 200, 100)
    assert any("overlaps its sibling" in p for p in show(floating(a, b)))
    banner = fixed(Label(text="", color=(0, 0, 0, 1)), 0, 0, 800, 600)
    banner.layout_overlay = True
    assert show(floating(fixed(big_button("C"), 20, 20, 200, 100), banner)) == []


def test_a_label_wider_than_its_box_is_reported(show):
    from kivy.uix.label import Label
    narrow = fixed(Label(text="A long sentence that cannot fit", font_size=30, color=(0, 0, 0, 1)), 20, 20, 80, 60)
    problems = show(floating(narrow))
    assert any("does not fit its box" in p for p in problems), problems


def test_a_fixed_text_height_that_drops_lines_is_reported_but_shorten_is_allowed(show):
    from kivy.uix.label import Label
    text = "one two three four five six seven eight nine ten"
    cut = fixed(Label(text=text, font_size=30, color=(0, 0, 0, 1)), 20, 20, 200, 60)
    cut.text_size = (200, 60)
    problems = show(floating(cut))
    assert any("text_size gives" in p for p in problems), problems
    shortened = fixed(Label(text=text, font_size=30, color=(0, 0, 0, 1), shorten=True), 20, 20, 200, 60)
    shortened.text_size = (200, 60)
    assert show(floating(shortened)) == []


def test_a_touch_target_under_15_mm_is_reported(show):
    small = big_button("x", size=(10 * MM, 30 * MM))
    problems = show(floating(fixed(small, 20, 20, 10 * MM, 30 * MM)))
    assert any("touch target 10.0×30.0 mm" in p for p in problems), problems
    assert show(floating(fixed(big_button("y"), 20, 20, 10 * MM, 30 * MM)), min_target_mm=9) == []


def test_low_contrast_text_on_the_colour_drawn_behind_it_is_reported(show):
    from kivy.graphics import Color, Rectangle
    from kivy.uix.label import Label
    # grey text on a pale grey panel drawn in the parent's canvas.before
    panel = floating(fixed(Label(text="Faint", color=(0.6, 0.6, 0.6, 1)), 20, 20, 300, 80))
    with panel.canvas.before:
        Color(0.85, 0.85, 0.85, 1)
        Rectangle(pos=(0, 0), size=(800, 600))
    problems = show(panel)
    assert any("'Faint'" in p and "contrast" in p for p in problems), problems


def test_white_text_on_white_button_is_reported_and_on_blue_is_not(show):
    white = big_button("Blank")
    white.background_color = (1, 1, 1, 1)
    problems = show(floating(fixed(white, 20, 20, 200, 100)))
    assert any("'Blank'" in p and "contrast 1.00:1" in p for p in problems), problems
    assert show(floating(fixed(big_button("Blue"), 20, 20, 200, 100))) == []


def test_markup_colour_tags_count_as_text_colours(show):
    from kivy.uix.label import Label
    label = fixed(Label(text="[color=ffff66]dot[/color] offline", markup=True, color=(0, 0, 0, 1)), 20, 20, 300, 80)
    problems = show(floating(label))
    assert any("contrast" in p for p in problems), problems


def test_text_below_5_mm_is_reported(show):
    from kivy.uix.label import Label
    tiny = fixed(Label(text="tiny", font_size=3 * MM, color=(0, 0, 0, 1)), 20, 20, 300, 80)
    root = floating(tiny)
    show(root)
    assert any("3.0 mm tall" in p for p in check_text_size(root, DPI))
    tiny.font_size = 6 * MM
    assert check_text_size(root, DPI) == []
