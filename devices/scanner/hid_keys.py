"""Scanned codes out of HID keyboard events (a scanner in keyboard mode, US layout).

A scanner "types" the code: key-down events with Shift held for capitals and symbols, then
Enter. Only EV_KEY key-downs count (value 1); key-ups and autorepeat (2) do not type. Caps Lock
toggles letters. A code with a key we cannot map (or typed with Ctrl/Alt held, as in Alt+keypad
codes) is rejected at Enter with a reason rather than returned half right. Pure: the caller
passes each event's timestamp.
"""
from __future__ import annotations

from dataclasses import dataclass

from evdev import ecodes as e

from devices.base import ScanReading

MAX_CODE = 512
KEY_UP, KEY_DOWN, KEY_REPEAT = 0, 1, 2

# key code -> (plain, with shift), US layout
_KEYS: dict[int, tuple[str, str]] = {
    e.KEY_1: ("1", "!"), e.KEY_2: ("2", "@"), e.KEY_3: ("3", "#"), e.KEY_4: ("4", "$"),
    e.KEY_5: ("5", "%"), e.KEY_6: ("6", "^"), e.KEY_7: ("7", "&"), e.KEY_8: ("8", "*"),
    e.KEY_9: ("9", "("), e.KEY_0: ("0", ")"), e.KEY_MINUS: ("-", "_"), e.KEY_EQUAL: ("=", "+"),
    e.KEY_LEFTBRACE: ("[", "{"), e.KEY_RIGHTBRACE: ("]", "}"), e.KEY_BACKSLASH: ("\\", "|"),
    e.KEY_SEMICOLON: (";", ":"), e.KEY_APOSTROPHE: ("'", '"'), e.KEY_GRAVE: ("`", "~"),
    e.KEY_COMMA: (",", "<"), e.KEY_DOT: (".", ">"), e.KEY_SLASH: ("/", "?"), e.KEY_SPACE: (" ", " "),
    # keypad (Num Lock on, as scanners assume)
    e.KEY_KP0: ("0", "0"), e.KEY_KP1: ("1", "1"), e.KEY_KP2: ("2", "2"), e.KEY_KP3: ("3", "3"),
    e.KEY_KP4: ("4", "4"), e.KEY_KP5: ("5", "5"), e.KEY_KP6: ("6", "6"), e.KEY_KP7: ("7", "7"),
    e.KEY_KP8: ("8", "8"), e.KEY_KP9: ("9", "9"), e.KEY_KPMINUS: ("-", "-"), e.KEY_KPPLUS: ("+", "+"),
    e.KEY_KPASTERISK: ("*", "*"), e.KEY_KPSLASH: ("/", "/"), e.KEY_KPDOT: (".", "."),
}
_LETTERS = {getattr(e, f"KEY_{c}"): c.lower() for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"}
_SHIFT = {e.KEY_LEFTSHIFT, e.KEY_RIGHTSHIFT}
_CTRL_ALT = {e.KEY_LEFTCTRL, e.KEY_RIGHTCTRL, e.KEY_LEFTALT, e.KEY_RIGHTALT, e.KEY_LEFTMETA, e.KEY_RIGHTMETA}
_ENTER = {e.KEY_ENTER, e.KEY_KPENTER}
_IGNORED = {e.KEY_NUMLOCK, e.KEY_SCROLLLOCK}  # state keys some scanners send first


@dataclass(frozen=True, slots=True)
class HidReject:
    reason: str
    typed: str  # what was decoded before the problem, for a log line


class HidDecoder:
    def __init__(self, max_code: int = MAX_CODE):
        self._max = max_code
        self._held: set[int] = set()  # modifiers down
        self._caps = False
        self._typed: list[str] = []
        self._problem: str | None = None

    def reset(self) -> None:
        self._held.clear()
        self._caps = False
        self._clear()

    def _clear(self) -> None:
        self._typed, self._problem = [], None

    def feed_event(self, event) -> ScanReading | HidReject | None:
        """An evdev InputEvent (anything with type, code, value and timestamp())."""
        return self.feed(event.type, event.code, event.value, event.timestamp())

    def feed(self, ev_type: int, code: int, value: int, ts: float) -> ScanReading | HidReject | None:
        """A finished code at Enter (or a rejection), else None."""
        if ev_type != e.EV_KEY:
            return None  # EV_SYN, EV_MSC scan codes, LEDs: not keys
        if code in _SHIFT or code in _CTRL_ALT:
            if value == KEY_DOWN:
                self._held.add(code)
            elif value == KEY_UP:
                self._held.discard(code)
            return None
        if value != KEY_DOWN:
            return None
        if code == e.KEY_CAPSLOCK:
            self._caps = not self._caps
            return None
        if code in _ENTER:
            return self._finish(ts)
        if code in _IGNORED:
            return None
        if self._held & _CTRL_ALT:
            self._problem = self._problem or f"key {_name(code)} typed with Ctrl/Alt held"
        elif len(self._typed) >= self._max:
            self._problem = self._problem or f"code longer than {self._max} characters"
        else:
            char = self._char(code)
            if char is None:
                self._problem = self._problem or f"unmapped key {_name(code)}"
            else:
                self._typed.append(char)
        return None

    def _char(self, code: int) -> str | None:
        shift = bool(self._held & _SHIFT)
        if code in _LETTERS:
            letter = _LETTERS[code]
            return letter.upper() if shift != self._caps else letter
        pair = _KEYS.get(code)
        return None if pair is None else pair[shift]

    def _finish(self, ts: float) -> ScanReading | HidReject | None:
        typed, problem = "".join(self._typed), self._problem
        self._clear()
        if problem:
            return HidReject(problem, typed[:32])
        code = typed.strip()
        return ScanReading(code, ts) if code else None


def _name(code: int) -> str:
    name = e.KEY.get(code, f"code {code}")
    return name[0] if isinstance(name, list) else name
