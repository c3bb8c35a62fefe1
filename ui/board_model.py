"""What a TV call board shows, computed without Kivy: from the retained board and queue state,
the board's configuration, the language and the time. Ticket numbers, rooms and counts only:
the board never receives a name, and nothing here could show one.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from foundation import i18n
from foundation.config import BoardConfig, VestibuleConfig
from mqtt.models import BoardCall, BoardState, QueueEntry, QueueState

HISTORY = 8

def text(lang: str, key: str, **values) -> str:
    """The board's words: the one catalog's `board.*` keys (foundation/i18n.py)."""
    return i18n.text("board." + key, lang, **values)


@dataclass(frozen=True)
class CallView:
    call_id: str
    ticket: str
    room: str
    where: str  # "Кабинет 12, 2 этаж"
    short: str  # "каб. 12"


@dataclass(frozen=True)
class QueueRow:
    name: str  # "Касса · каб. 2"
    room: str
    service: str  # "Касса"
    waiting: str
    wait: str


@dataclass(frozen=True)
class BoardView:
    lang: str
    title: str
    clock: str
    online: bool
    newest: CallView | None
    highlighted: bool
    calls: list[CallView] = field(default_factory=list)  # the last calls after the newest, newest first
    queues: list[QueueRow] = field(default_factory=list)
    headings: dict[str, str] = field(default_factory=dict)


class BoardScope:
    """Which calls and queues a board shows: its rooms, or its services' rooms (neither: all)."""

    def __init__(self, config: VestibuleConfig, board: BoardConfig):
        self.config = config
        self.board = board
        self.services = set(board.services)
        self.rooms = set(board.rooms) | {s.room for s in config.services if s.id in self.services and s.room}

    @property
    def everything(self) -> bool:
        return not self.board.rooms and not self.board.services

    def shows_room(self, room: str | None) -> bool:
        return self.everything or room in self.rooms

    def shows_queue(self, entry: QueueEntry) -> bool:
        if self.everything:
            return entry.service is not None
        return entry.service in self.services or (entry.room in set(self.board.rooms) and entry.service is not None)

    def calls(self, state: BoardState | None) -> list[BoardCall]:
        return [c for c in (state.calls if state else []) if self.shows_room(c.room)][:HISTORY]


def _where(config: VestibuleConfig, board: BoardConfig, room: str, lang: str) -> str:
    floor = config.floor_of(room, board)
    return text(lang, "room_floor", room=room, floor=floor) if floor is not None else text(lang, "room", room=room)


def service_name(config: VestibuleConfig, service: str | None, lang: str) -> str:
    s = config.service(service) if service else None
    if s:
        return s.names.get(lang) or s.names.get(config.site.default_language) or s.id
    return service or ""


def board_view(config: VestibuleConfig, board: BoardConfig, *, lang: str, now: datetime, online: bool,
               board_state: BoardState | None, queue_state: QueueState | None, highlighted: bool,
               queue_rows: int = 6) -> BoardView:
    scope = BoardScope(config, board)
    calls = [CallView(c.call_id, c.ticket, c.room, _where(config, board, c.room, lang),
                      text(lang, "room_short", room=c.room)) for c in scope.calls(board_state)]
    rows = []
    for entry in (queue_state.queues if queue_state else []):
        if not scope.shows_queue(entry):
            continue
        wait = text(lang, "unknown") if entry.wait_minutes is None else \
            text(lang, "minutes", n=max(1, round(entry.wait_minutes)))
        service = name = service_name(config, entry.service, lang)
        if entry.room:
            name = f"{name} · {text(lang, 'room_short', room=entry.room)}"
        rows.append(QueueRow(name, entry.room or "", service, str(entry.waiting), wait))
    rows.sort(key=lambda r: (-int(r.waiting), r.name))
    title = board.title.get(lang) or text(lang, "title")
    headings = {key: text(lang, key) for key in ("now", "calls", "queue", "waiting", "wait", "none", "offline",
                                                  "offline_note")}
    return BoardView(lang=lang, title=title, clock=f"{now.astimezone(config.site.tz):%H:%M}", online=online,
                     newest=calls[0] if calls else None, highlighted=highlighted and bool(calls),
                     calls=calls[1:], queues=rows[:queue_rows], headings=headings)
