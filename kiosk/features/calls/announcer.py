"""Voice calls, offline (cloud TTS broke peers' systems): one worker renders each call with
kiosk.features.calls.voice and plays it, so announcements queue and never overlap.

Where a room's calls are spoken is configuration: the node's speaker, or the machine of a TV
board with `voice = true` for its rooms (config check: one speaker per room), never both.
The phrase names only the ticket and the room, never the patient.
"""
from __future__ import annotations

import logging
import queue
import shlex
import shutil
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kiosk.features.calls.voice import Voice, VoiceError, phrase  # noqa: F401  (phrase: the call's words)

log = logging.getLogger("vestibule.voice")


@dataclass
class Played:
    call_id: str
    ticket: str
    room: str
    queued: float  # monotonic
    started: float | None = None  # the player started (None: rendered but not played)
    ended: float | None = None


class Announcer:
    """`announce()` returns at once; the worker renders and plays calls one after another."""

    def __init__(self, voice: Voice, out_dir: Path, *, player: str | None = "aplay -q {wav}",
                 on_start: Callable[[Played], None] | None = None):
        self.voice = voice
        self.out_dir = Path(out_dir)
        self.player = shlex.split(player) if player else None
        if self.player and not shutil.which(self.player[0]):
            log.warning("player %s not found: calls are rendered, not played", self.player[0])
            self.player = None
        self.on_start = on_start
        self.history: deque[Played] = deque(maxlen=64)
        self._queue: queue.Queue[Played | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @classmethod
    def for_node(cls, config, state_dir: Path | None = None, **kwargs) -> Announcer:
        voice = config.voice
        state = Path(state_dir) if state_dir is not None else config.node.store.parent
        return cls(Voice(state / "voice", languages=voice.languages or list(config.site.languages),
                         chime=voice.chime, rate_wpm=voice.rate_wpm),
                   state / "announcements", player=voice.player, **kwargs)

    @property
    def available(self) -> bool:
        return self.voice.available

    def announce(self, call_id: str, ticket: str, room: str) -> bool:
        """Queue the announcement; True when speech can be produced."""
        if not self.available:
            log.warning("espeak-ng missing: call %s shown but not announced", call_id)
            return False
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True, name="announcer")
                self._thread.start()
        self._queue.put(Played(call_id, ticket, room, time.monotonic()))
        return True

    def stop(self) -> None:
        if self._thread:
            self._queue.put(None)
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            try:
                self._play(item)
            except (VoiceError, OSError, subprocess.SubprocessError) as exc:
                log.warning("announcement of %s failed: %s", item.ticket, exc)

    def _play(self, item: Played) -> None:
        """The chime starts at once (a cached file) while the phrases render; they follow it."""
        if not self.player:
            self.voice.render(item.ticket, item.room, self.out_dir / f"{item.call_id}.wav").unlink()
            self.history.append(item)
            return
        chime = self._start(self.voice.chime_file()) if self.voice.with_chime else None
        item.started = time.monotonic()
        self.history.append(item)
        if self.on_start:
            self.on_start(item)
        wav = self.voice.render(item.ticket, item.room, self.out_dir / f"{item.call_id}.wav", with_chime=False)
        try:
            if chime:
                self._finish(chime)
            if not chime:
                item.started = time.monotonic()
            self._finish(self._start(wav))
            item.ended = time.monotonic()
        finally:
            wav.unlink(missing_ok=True)

    def _start(self, wav: Path) -> subprocess.Popen:
        args = [a.replace("{wav}", str(wav)) for a in self.player]
        if "{wav}" not in " ".join(self.player):
            args.append(str(wav))
        return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    @staticmethod
    def _finish(proc: subprocess.Popen) -> None:
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise
        if proc.returncode:
            log.warning("player exited %d: %s", proc.returncode, err.decode(errors="replace")[:200])


def node_speaks_for(config, room: str) -> bool:
    """The node's speaker announces the room's calls unless a board's machine does (or voice is off)."""
    voice = config.voice
    return voice.enabled and voice.node_speaker and room not in config.voice_rooms_of_boards()
