"""The TV call board of a waiting room: `vestibule board --board tv-1`.

An MQTT client only (it never opens a device): it shows the retained `board/state` and
`queue/state` of the node, filtered to the board's rooms or services (`[boards.ID]`). The newest
call is large and highlighted for `highlight_s`; the calls before it in a list; per queue the
waiting count and the estimated wait; the clock; the site's languages alternating (or side by
side). When the broker or the node is away the board says so instead of showing stale calls.
At start and after every reconnect it rebuilds from the retained states. With `voice = true` it
speaks the calls of its rooms that arrive while it runs (the node then does not).
"""
from __future__ import annotations

import os

os.environ.setdefault("KIVY_NO_ARGS", "1")
# a state arriving from the MQTT thread wakes the event loop at once instead of after its frame sleep
os.environ.setdefault("KIVY_CLOCK", "interrupt")

import argparse
import json
import logging
import signal
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from kivy.app import App
from kivy.clock import Clock
from kivy.factory import Factory
from kivy.properties import (
    BooleanProperty,
    ListProperty,
    NumericProperty,
    StringProperty,
)

from foundation.gc_freeze import freeze_startup_objects
from ui.board_cli import add_arguments
from ui.board_model import BoardView, board_view
from ui.display import x_display_size
from ui.window import configure_window, load_screen_config, start_logging

log = logging.getLogger("vestibule.ui.board")
KV_FILE = Path(__file__).with_name("board.kv")
SIZES = {"landscape": "1920x1080", "portrait": "1080x1920"}
SETTLE_S = 1.0  # test mode: layouts settle within a few frames of the last change
REBUILD_S = 1.5  # with no retained board state (no call yet today), the rebuild ends after this
TV_DPI = 40.0  # a 55-inch 1080p television


class BoardApp(App):
    u = NumericProperty(1.0)
    ts = NumericProperty(1.0)  # scale of joined texts: languages side by side share one line
    portrait = BooleanProperty(False)
    online = BooleanProperty(False)
    highlighted = BooleanProperty(False)
    lang = StringProperty("ru")
    title_text = StringProperty("")
    clock_text = StringProperty("")
    now_heading = StringProperty("")
    now_ticket = StringProperty("")
    now_where = StringProperty("")
    calls_heading = StringProperty("")
    queue_heading = StringProperty("")
    waiting_heading = StringProperty("")
    wait_heading = StringProperty("")
    offline_text = StringProperty("")
    offline_note = StringProperty("")
    queue_rows = NumericProperty(4)  # at most, by orientation
    queue_shown = NumericProperty(0)  # rows shown now: the panel is as tall as they need
    bg = ListProperty([0.05, 0.09, 0.17, 1])
    panel = ListProperty([0.10, 0.16, 0.28, 1])
    fg = ListProperty([1, 1, 1, 1])
    muted = ListProperty([0.78, 0.83, 0.90, 1])
    hot = ListProperty([1.0, 0.78, 0.10, 1])
    hot_fg = ListProperty([0.05, 0.09, 0.17, 1])
    alarm = ListProperty([0.62, 0.08, 0.08, 1])

    def __init__(self, config, board_id: str, *, client=None, fixed_lang: str | None = None, announcer=None,
                 state_file: Path | None = None, on_settled: Callable[[BoardApp], None] | None = None, **kw):
        super().__init__(**kw)
        self.kv_file = str(KV_FILE)  # loaded once by App.run (an explicit load would apply the rules twice)
        self.node_config = config
        self.board_id = board_id
        self.board = config.boards[board_id]
        self.languages = [fixed_lang] if fixed_lang else (self.board.languages or list(config.site.languages))
        self.lang = self.languages[0]
        if self.board.language_mode == "side_by_side":
            self.ts = {1: 1.0, 2: 0.6}.get(len(self.languages), 0.45)
        self.client = client
        self.announcer = announcer
        self.state_file = state_file
        self.on_settled = on_settled
        self.board_state = None
        self.queue_state = None
        self.link_up = False
        self.node_online = False
        self.rebuilding = True  # the first board state after a (re)connection is history, not news
        self.seen: set[str] = set()
        self.first_shown: dict[str, float] = {}  # call id -> wall time it reached the widget tree
        self.highlight_until = 0.0
        self._lang_since = time.monotonic()
        self._settled_once = False
        self.view: BoardView | None = None
        self._write = Clock.create_trigger(lambda dt: self._write_state())

    # -- Kivy -------------------------------------------------------------------------------------
    def build(self):
        from kivy.core.window import Window
        self.title = f"Vestibule board {self.board_id}"
        Window.clearcolor = tuple(self.bg)
        Window.bind(size=lambda *_: self._resized())
        self._resized()
        root = Factory.BoardRoot()
        self.root = root
        self.refresh()
        Clock.schedule_interval(lambda dt: self.tick(), 0.5)
        # once the first frames are built: full collections then skip Kivy's and our start-up
        # objects (27-34 ms on the UI thread, which a call arriving meanwhile would wait)
        Clock.schedule_once(lambda dt: freeze_startup_objects(), 3.0)
        if self.client:
            c = self.client
            c.on_board, c.on_queue, c.on_node, c.on_link = self.got_board, self.got_queue, self.got_node, self.got_link
            c.start()
        if self.announcer:
            self.announcer.start()
        return root

    def on_stop(self):
        if self.client:
            self.client.stop()
        if self.announcer:
            self.announcer.stop()

    @property
    def dpi(self) -> float:
        return TV_DPI

    def _resized(self) -> None:
        from kivy.core.window import Window
        w, h = Window.size
        self.portrait = h > w
        self.u = min(w, h) / 1080.0
        self.queue_rows = 8 if self.portrait else 4

    # -- inputs (UI thread) -----------------------------------------------------------------------
    def got_link(self, up: bool) -> None:
        self.link_up = up
        if up:
            # the broker sends the retained board state right after subscribing: rebuild from it,
            # and treat only what comes after it as news (highlight, voice)
            self.rebuilding = True
            Clock.unschedule(self._rebuild_timeout)
            Clock.schedule_once(self._rebuild_timeout, REBUILD_S)
        self.refresh()

    def _rebuild_timeout(self, dt) -> None:
        if self.rebuilding:
            self._rebuilt()

    def _rebuilt(self) -> None:
        Clock.unschedule(self._rebuild_timeout)
        self.rebuilding = False
        self._write()
        self._changed()

    def got_node(self, online: bool) -> None:
        self.node_online = online
        self.refresh()

    def got_board(self, state) -> None:
        self.board_state = state
        scope_calls = [c for c in state.calls if self._shows(c.room)]
        new = [c for c in scope_calls if c.call_id not in self.seen]
        self.seen.update(c.call_id for c in state.calls)
        if not self.rebuilding and new:
            self.highlight_until = time.monotonic() + self.board.highlight_s
            if self.announcer:
                for call in reversed(new):  # oldest first
                    if call.room in self.board.rooms:
                        self.announcer.announce(call.call_id, call.ticket, call.room)
        self.refresh()
        now = time.time()
        for call in scope_calls:
            self.first_shown.setdefault(call.call_id, now)
        if self.rebuilding:  # that was the retained state: every later call is news at once
            self._rebuilt()

    def got_queue(self, state) -> None:
        self.queue_state = state
        self.refresh()

    def _shows(self, room: str) -> bool:
        from ui.board_model import BoardScope
        return BoardScope(self.node_config, self.board).shows_room(room)

    # -- drawing ----------------------------------------------------------------------------------
    def tick(self) -> None:
        if len(self.languages) > 1 and self.board.language_mode == "alternate" \
                and time.monotonic() - self._lang_since >= self.board.alternate_s:
            self._lang_since = time.monotonic()
            self.lang = self.languages[(self.languages.index(self.lang) + 1) % len(self.languages)]
        self.refresh()

    def _views(self) -> list[BoardView]:
        langs = self.languages if self.board.language_mode == "side_by_side" else [self.lang]
        now = datetime.now(self.node_config.site.tz)
        return [board_view(self.node_config, self.board, lang=lang, now=now, online=self.link_up and self.node_online,
                           board_state=self.board_state, queue_state=self.queue_state,
                           highlighted=time.monotonic() < self.highlight_until, queue_rows=int(self.queue_rows))
                for lang in langs]

    def refresh(self) -> None:
        if not self.root:
            return
        views = self._views()
        v = self.view = views[0]

        def joined(pick) -> str:
            return " / ".join(dict.fromkeys(pick(x) for x in views))

        if (v.online, v.highlighted) != (self.online, self.highlighted):
            self._changed()
        self.online = v.online
        self.highlighted = v.highlighted
        self.title_text = joined(lambda x: x.title)
        self.clock_text = v.clock
        self.now_heading = joined(lambda x: x.headings["now"])
        self.now_ticket = f"{v.newest.ticket} → {v.newest.room}" if v.newest else joined(lambda x: x.headings["none"])
        self.now_where = joined(lambda x: x.newest.where) if v.newest else ""
        self.calls_heading = joined(lambda x: x.headings["calls"])
        self.queue_heading = joined(lambda x: x.headings["queue"])
        self.waiting_heading = joined(lambda x: x.headings["waiting"])
        self.wait_heading = joined(lambda x: x.headings["wait"])
        self.offline_text = "\n".join(dict.fromkeys(x.headings["offline"] for x in views))
        self.offline_note = "\n".join(dict.fromkeys(x.headings["offline_note"] for x in views))
        self._fill_calls(v)
        self._fill_queue(views)
        self._write()

    def _set_labels(self, grid, cells: list[dict]) -> None:
        """Make `grid` show `cells` (label properties, in order), updating the labels it has in
        place and adding or removing only the difference: a call must reach the screen in a few
        milliseconds, and creating 16 labels per call took 10-20 ms of the UI thread."""
        labels = list(reversed(grid.children))  # Kivy keeps children newest first
        for label in labels[len(cells):]:
            grid.remove_widget(label)
        for n, cell in enumerate(cells):
            if n < len(labels):
                label = labels[n]
            else:
                label = Factory.BoardLabel()
                grid.add_widget(label)
            props = {"bold": False, "halign": "left", "color": self.fg, "size_hint_x": 1, **cell}
            for name, value in props.items():
                if getattr(label, name) != value:
                    setattr(label, name, value)

    def _fill_calls(self, v: BoardView) -> None:
        key = (self.u, self.portrait, tuple(v.calls))
        if key == getattr(self, "_calls_key", None):
            return  # unchanged: rebuilding rows every tick would keep the layout in motion
        self._calls_key = key
        self._changed()
        size = self.u * (68 if self.portrait else 54)
        cells = []
        for call in v.calls:
            cells.append({"text": call.ticket, "font_size": size, "bold": True})
            cells.append({"text": f"→ {call.room}", "font_size": size, "halign": "right"})
        self._set_labels(self.root.ids.calls, cells)

    def _fill_queue(self, views: list[BoardView]) -> None:
        key = (self.u, tuple(tuple(x.queues) for x in views))
        if key == getattr(self, "_queue_key", None):
            return
        self._queue_key = key
        self._changed()
        self.queue_shown = len(views[0].queues)
        cells = []
        for n, row in enumerate(views[0].queues):
            if len(views) > 1:  # side by side: the service in each language, the room once
                name = " / ".join(dict.fromkeys(x.queues[n].service for x in views if n < len(x.queues)))
                name += f" · {row.room}" if row.room else ""
            else:
                name = row.name
            for value, hint, align, size in ((name, 0.52, "left", 44), (row.waiting, 0.22, "right", 46),
                                             (row.wait, 0.26, "right", 44)):
                cells.append({"text": value, "font_size": self.u * size, "halign": align, "size_hint_x": hint,
                              "bold": align == "right" and value == row.waiting})
        self._set_labels(self.root.ids.queue, cells)

    # -- test mode: what the board shows, for end-to-end tests ---------------------------------
    def texts(self, hidden: bool = False) -> list[str]:
        """Texts of the labels on screen (with `hidden`, also those of panels hidden now)."""
        from kivy.uix.label import Label
        out = []

        def visit(widget) -> None:
            if not hidden and (widget.opacity == 0 or widget.width <= 0 or widget.height <= 0):
                return
            if isinstance(widget, Label) and widget.text:
                out.append(widget.text)
            for child in reversed(widget.children):
                visit(child)
        visit(self.root)
        return out

    def _changed(self) -> None:
        """Content changed: `on_settled` runs once nothing has changed for SETTLE_S."""
        if self.on_settled and not self._settled_once:
            Clock.unschedule(self._settle)
            Clock.schedule_once(self._settle, SETTLE_S)

    def _settle(self, dt) -> None:
        v = self.view
        if v is None or not self.link_up or self.rebuilding or \
                (v.online and (self.board_state is None or self.queue_state is None)):
            return  # not connected, or the retained states have not all arrived: a later change tries again
        self._settled_once = True
        self.on_settled(self)

    def _write_state(self) -> None:
        v = self.view
        if not self.state_file or v is None:
            return
        state = {"online": v.online, "link": self.link_up, "rebuilding": self.rebuilding, "lang": v.lang, "highlighted": v.highlighted,
                 "newest": v.newest.ticket if v.newest else None, "newest_room": v.newest.room if v.newest else None,
                 "calls": [c.ticket for c in v.calls], "queues": [[q.name, q.waiting, q.wait] for q in v.queues],
                 "texts": self.texts(), "all_texts": self.texts(hidden=True), "first_shown": self.first_shown, "ts": time.time(), "pid": os.getpid()}
        tmp = self.state_file.with_name(f".{self.state_file.name}.tmp")
        tmp.write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, self.state_file)


def run(args: argparse.Namespace, on_settled: Callable[[BoardApp], None] | None = None) -> int:
    from ui import fonts
    from ui.board_client import BoardClient

    start_logging()
    # the board's window size comes from its config: fonts are registered once the window is set
    config = load_screen_config(args.config, "vestibule board", fonts_needed=False)
    if config is None:
        return 2
    if args.board not in config.boards:
        known = ", ".join(config.boards) or "none"
        print(f"vestibule board: no [boards.{args.board}] in {args.config} (configured: {known})", file=sys.stderr)
        return 2
    board = config.boards[args.board]
    size = args.size or SIZES[board.orientation]
    if size == "fit":
        left = int((args.at or "0,0").split(",")[0])
        width = min(960, max(480, (x_display_size() or (left + 960, 0))[0] - left))
        size = f"{width}x{width * 9 // 16}"
    configure_window(args.windowed or bool(args.snap), size, args.at)
    try:
        fonts.register()
    except fonts.FontMissing as exc:
        print(f"vestibule board: {exc}", file=sys.stderr)
        return 2
    password = Path(args.password_file).read_text(encoding="utf-8").strip() if args.password_file else None
    client = BoardClient(config, args.board, post=lambda fn: Clock.schedule_once(lambda dt: fn(), 0),
                         password=password)
    announcer = _announcer(config, args.board) if board.voice and config.voice.enabled else None

    settled = on_settled
    if args.snap:
        from ui.snapshot import snapshot

        def settled(app: BoardApp) -> None:
            if on_settled:
                on_settled(app)
            snapshot(args.snap, then=lambda path: app.stop())

    app = BoardApp(config, args.board, client=client, fixed_lang=args.lang, announcer=announcer,
                   state_file=args.state_file, on_settled=settled)
    signal.signal(signal.SIGTERM, lambda *_: Clock.schedule_once(lambda dt: app.stop(), 0))
    app.run()
    return 0


def _announcer(config, board_id: str):
    from kiosk.features.calls.announcer import Announcer
    from kiosk.features.calls.voice import Voice
    from ui.fonts import cache_dir
    voice = config.voice
    state = cache_dir() / f"board-{board_id}"
    return Announcer(Voice(state / "voice", languages=voice.languages or list(config.site.languages),
                           chime=voice.chime, rate_wpm=voice.rate_wpm), state / "announcements", player=voice.player)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="vestibule board")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
