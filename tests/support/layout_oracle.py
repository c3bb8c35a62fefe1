"""A layout oracle for Kivy screens, computed from the widget tree (not from pixels).

    problems = check_layout(app.root, Window.size, dpi)
    assert not problems, "\n".join(problems)

Each problem is one line naming the widget (class, text) and what is wrong:
- a visible widget outside the window, or cut off by a clipping ancestor (ScrollView, StencilView),
  which is how a "hidden sixth slot" behind a scroll bar shows up;
- visible siblings that overlap (a widget with a truthy `layout_overlay` attribute is a deliberate
  overlay and is left out);
- a label whose text does not fit its box: its texture is larger than the widget, or a fixed
  text_size height drops lines (a label with `shorten` is allowed to shorten, but not to spill);
- a touch target (any ButtonBehavior) smaller than `min_target_mm` on either side at `dpi`;
- text whose contrast with what is drawn behind it is below `min_contrast` (WCAG 2 relative
  luminance). "Behind it" is read from the canvas instructions (Color, Rectangle, BorderImage,
  RoundedRectangle) of the label's own canvas.before, its ancestors' canvases and the siblings
  drawn before it, composited in drawing order over the window's clear colour.

Invisible widgets (opacity 0, zero size) and their subtrees are not checked. `check_text_size`
is a separate check of the physical height of the text.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

MM_PER_INCH = 25.4
_EPS = 0.5  # px: sub-pixel rounding of layouts is not a fault
_MARKUP_COLOR = re.compile(r"\[color=#?([0-9a-fA-F]{6}|[0-9a-fA-F]{8})\]")


def check_layout(root, window_size, dpi, *, min_target_mm: float = 15.0, min_contrast: float = 4.5) -> list[str]:
    """Every layout problem of what `root` shows in a window of `window_size` px at `dpi`."""
    width, height = window_size
    window_box = (0.0, 0.0, float(width), float(height))
    problems: list[str] = []
    for widget, clip, clipper in _visible(root, window_box, None):
        box = window_rect(widget)
        problems += _outside(widget, box, clip, clipper)
        problems += _overlapping_children(widget)
        problems += _label_overflow(widget)
        problems += _small_target(widget, box, dpi, min_target_mm)
        problems += _low_contrast(widget, root, min_contrast)
    return problems


def check_text_size(root, dpi, *, min_text_mm: float = 5.0) -> list[str]:
    """Labels whose font (em height) is below `min_text_mm` at `dpi`."""
    problems = []
    for widget, _clip, _clipper in _visible(root, (-1e9, -1e9, 1e9, 1e9), None):
        if _is_label(widget) and _text(widget).strip():
            mm = widget.font_size / dpi * MM_PER_INCH
            if mm + 1e-6 < min_text_mm:
                problems.append(f"{describe(widget)}: text {mm:.1f} mm tall, below {min_text_mm:g} mm")
    return problems


# -- geometry ---------------------------------------------------------------------------------
def window_rect(widget) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) of the widget in window pixels, through every transforming ancestor."""
    x0, y0 = widget.to_window(widget.x, widget.y)
    x1, y1 = widget.to_window(widget.right, widget.top)
    return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)


def _intersection(a, b):
    x0, y0, x1, y1 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def _contains(outer, inner) -> bool:
    return (inner[0] >= outer[0] - _EPS and inner[1] >= outer[1] - _EPS
            and inner[2] <= outer[2] + _EPS and inner[3] <= outer[3] + _EPS)


def _shown(widget) -> bool:
    return widget.opacity > 0 and widget.width > 0 and widget.height > 0


def _visible(widget, clip, clipper) -> Iterator[tuple[object, tuple, object]]:
    """(widget, the rectangle it may draw in, the ancestor that sets it) for every shown widget."""
    from kivy.uix.stencilview import StencilView
    if not _shown(widget):
        return
    yield widget, clip, clipper
    if isinstance(widget, StencilView):
        inner = _intersection(clip, window_rect(widget)) or (0.0, 0.0, 0.0, 0.0)
        clip, clipper = inner, widget
    for child in reversed(widget.children):  # drawing order
        yield from _visible(child, clip, clipper)


def describe(widget) -> str:
    text = _text(widget).replace("\n", " ")
    text = f" {text[:40]!r}" if text else ""
    return f"{type(widget).__name__}{text}"


def _text(widget) -> str:
    return str(getattr(widget, "text", "") or "")


# -- the checks ---------------------------------------------------------------------------------
def _outside(widget, box, clip, clipper) -> list[str]:
    if _contains(clip, box):
        return []
    where = "outside the window" if clipper is None else f"cut off by {describe(clipper)}"
    return [f"{describe(widget)} at {_fmt(box)} is {where} {_fmt(clip)}"]


def _overlapping_children(parent) -> list[str]:
    shown = [c for c in parent.children if _shown(c) and not getattr(c, "layout_overlay", False)]
    boxes = [(c, window_rect(c)) for c in shown]
    problems = []
    for i, (a, box_a) in enumerate(boxes):
        for b, box_b in boxes[i + 1:]:
            common = _intersection(box_a, box_b)
            if common and common[2] - common[0] > _EPS and common[3] - common[1] > _EPS:
                problems.append(f"{describe(a)} {_fmt(box_a)} overlaps its sibling {describe(b)} {_fmt(box_b)}")
    return problems


def _is_label(widget) -> bool:
    from kivy.uix.label import Label
    return isinstance(widget, Label)


def _label_overflow(widget) -> list[str]:
    if not _is_label(widget) or not _text(widget).strip():
        return []
    tw, th = widget.texture_size
    if tw > widget.width + _EPS or th > widget.height + _EPS:
        return [(f"{describe(widget)}: text {tw:.0f}×{th:.0f} px does not fit its box "
                f"{widget.width:.0f}×{widget.height:.0f}")]
    text_size = widget.text_size
    if text_size and text_size[1] is not None and not widget.shorten:
        # a fixed text height silently drops lines that do not fit: lay the text out without it
        needed = _free_height(widget)
        if needed > text_size[1] + _EPS:
            return [(f"{describe(widget)}: text needs {needed:.0f} px height, its text_size gives "
                    f"{text_size[1]:.0f}")]
    return []


def _free_height(label) -> float:
    from kivy.core.text import Label as CoreLabel
    from kivy.core.text.markup import MarkupLabel
    options = dict(label._label.options)
    options.pop("text", None)
    options["text_size"] = (label.text_size[0], None)
    core = (MarkupLabel if label.markup else CoreLabel)(text=label.text, **options)
    core.refresh()
    return core.content_height


def _small_target(widget, box, dpi, min_mm) -> list[str]:
    from kivy.uix.behaviors import ButtonBehavior
    if not isinstance(widget, ButtonBehavior) or widget.disabled:
        return []
    w_mm = (box[2] - box[0]) / dpi * MM_PER_INCH
    h_mm = (box[3] - box[1]) / dpi * MM_PER_INCH
    if min(w_mm, h_mm) + 1e-6 < min_mm:
        return [f"{describe(widget)}: touch target {w_mm:.1f}×{h_mm:.1f} mm, below {min_mm:g} mm"]
    return []


# -- contrast -----------------------------------------------------------------------------------
def relative_luminance(rgb) -> float:
    """WCAG 2 relative luminance of an sRGB colour with components 0..1."""
    def linear(c):
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (linear(float(c)) for c in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a, b) -> float:
    la, lb = relative_luminance(a), relative_luminance(b)
    hi, lo = max(la, lb), min(la, lb)
    return (hi + 0.05) / (lo + 0.05)


def _low_contrast(widget, root, min_contrast) -> list[str]:
    if not _is_label(widget) or not _text(widget).strip():
        return []
    colours = [tuple(widget.disabled_color if widget.disabled else widget.color)]
    if widget.markup:
        colours += [_hex(m) for m in _MARKUP_COLOR.findall(widget.text)]
    worst = None
    for point in _sample_points(widget):
        behind = background_at(root, widget, point)
        for colour in colours:
            if len(colour) > 3 and colour[3] <= 0:
                continue
            ink = _over(colour, behind)
            ratio = contrast_ratio(ink, behind)
            if worst is None or ratio < worst[0]:
                worst = (ratio, ink, behind)
    if worst and worst[0] + 1e-9 < min_contrast:
        ratio, ink, behind = worst
        return [(f"{describe(widget)}: contrast {ratio:.2f}:1 below {min_contrast:g}:1 "
                f"(text {_rgb(ink)} on {_rgb(behind)})")]
    return []


def _sample_points(widget) -> list[tuple[float, float]]:
    """The centre of the text and points around it, inside the part of the box the text covers."""
    x0, y0, x1, y1 = window_rect(widget)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    tw, th = widget.texture_size
    dx, dy = min(tw, x1 - x0) * 0.35, min(th, y1 - y0) * 0.35
    return [(cx, cy), (cx - dx, cy), (cx + dx, cy), (cx, cy - dy), (cx, cy + dy)]


def background_at(root, target, point) -> tuple[float, float, float]:
    """The opaque colour drawn at window `point` just before `target` draws its text."""
    from kivy.core.window import Window
    colour = tuple(Window.clearcolor[:3])
    for rgba in _paint_until(root, target, point, 1.0):
        colour = _over(rgba, colour)
    return colour


def _paint_until(widget, target, point, opacity) -> Iterator[tuple]:
    """Fills covering `point`, in drawing order, up to `target`'s own canvas.before."""
    opacity *= widget.opacity
    if opacity <= 0:
        return
    local = widget.to_widget(*point)
    yield from _fills(widget.canvas.before.children, local, opacity)
    yield from _fills(widget.canvas.children, local, opacity, _own_text(widget))
    if widget is target:
        return
    path_child = next((c for c in widget.children if _is_ancestor(c, target)), None)
    for child in reversed(widget.children):  # drawing order: the last child first
        if child is path_child:
            yield from _paint_until(child, target, point, opacity)
            return
        yield from _paint_all(child, point, opacity)
    # target not under this widget: nothing more to do


def _paint_all(widget, point, opacity) -> Iterator[tuple]:
    opacity *= widget.opacity
    if opacity <= 0:
        return
    local = widget.to_widget(*point)
    yield from _fills(widget.canvas.before.children, local, opacity)
    yield from _fills(widget.canvas.children, local, opacity, _own_text(widget))
    for child in reversed(widget.children):
        yield from _paint_all(child, point, opacity)
    parent_frame = widget.parent.to_widget(*point) if _transforms(widget) and widget.parent else local
    yield from _fills(widget.canvas.after.children, parent_frame, opacity)


def _is_ancestor(widget, target) -> bool:
    node = target
    while node is not None:
        if node is widget:
            return True
        parent = node.parent
        node = None if parent is node else parent
    return False


def _transforms(widget) -> bool:
    from kivy.uix.widget import Widget
    return type(widget).to_local is not Widget.to_local


def _own_text(widget):
    """A label's text texture, drawn in its main canvas: text, not a fill."""
    return widget.texture if _is_label(widget) else None


def _fills(instructions: Iterable, point, opacity, text_texture=None) -> Iterator[tuple]:
    from kivy.graphics import BorderImage, Color, Rectangle, RoundedRectangle
    current = (1.0, 1.0, 1.0, 1.0)
    x, y = point
    for ins in instructions:
        if isinstance(ins, Color):
            current = tuple(ins.rgba)
        elif isinstance(ins, (Rectangle, BorderImage, RoundedRectangle)):
            if text_texture is not None and ins.texture is text_texture:
                continue
            (px, py), (sw, sh) = ins.pos, ins.size
            if px <= x <= px + sw and py <= y <= py + sh:
                tint = _texture_mean(ins.texture)
                yield (current[0] * tint[0], current[1] * tint[1], current[2] * tint[2],
                       current[3] * tint[3] * opacity)


_texture_means: dict[int, tuple] = {}


def _texture_mean(texture) -> tuple:
    """The average colour of an image fill (a plain fill has no texture: white)."""
    if texture is None:
        return (1.0, 1.0, 1.0, 1.0)
    key = id(texture)
    if key not in _texture_means:
        data = texture.pixels
        n = max(1, len(data) // 4)
        sums = [sum(data[i::4]) for i in range(4)]
        _texture_means[key] = tuple(s / n / 255 for s in sums)
    return _texture_means[key]


def _over(rgba, behind) -> tuple[float, float, float]:
    alpha = rgba[3] if len(rgba) > 3 else 1.0
    return tuple(rgba[i] * alpha + behind[i] * (1 - alpha) for i in range(3))


def _hex(digits: str) -> tuple:
    values = [int(digits[i:i + 2], 16) / 255 for i in range(0, len(digits), 2)]
    return tuple(values) if len(values) == 4 else (*values, 1.0)


def _rgb(colour) -> str:
    return "#" + "".join(f"{round(c * 255):02x}" for c in colour[:3])


def _fmt(box) -> str:
    return "(" + ", ".join(f"{v:.0f}" for v in box) + ")"
