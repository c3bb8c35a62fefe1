"""Voice calls, offline (cloud TTS broke peers' systems): one worker renders each call with
kiosk.features.calls.voice and plays it, so announcements queue and never overlap.

Two kinds of player command (config voice.player):
  - a lone `-` argument (`aplay -q -`, the default): the player reads the WAV from its standard
    input. One is started ahead and waits, so a call's audio starts with a write to a pipe, not
    with a process start (1.5-5 ms here, more on a loaded node); the chime goes first, the phrases
    follow in the same stream as soon as they are rendered (a WAV header of open length: players
    read to the end of the stream). A waiting player that died is started again.
  - otherwise the WAV's path replaces `{wav}` (or is appended): a process per file, chime first.
Where a room's calls are spoken is configuration: the node's speaker, or the machine of a TV
board with `voice = true` for its rooms (config check: one speaker per room), never both.
The phrase names only the ticket and the room, never the patient.
"""
from __future__ import annotations

import logging
import queue
import shlex
import shutil
import struct
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kiosk.features.calls.voice import RATE_HZ, Voice, VoiceError, phrase  # noqa: F401  (phrase: the call's words)

log = logging.getLogger("vestibule.voice")
_WARM = object()  # queued by start(): render the chime ahead of the first call
STREAM_OPEN_LENGTH = 0x7FFFFFFF  # data length in a streamed WAV header: "to the end of the stream"
# 16-bit mono PCM at the voice's rate, of open length: the stream's end is its length
STREAM_HEADER = (b"RIFF" + struct.pack("<I", STREAM_OPEN_LENGTH) + b"WAVEfmt "
                 + struct.pack("<IHHIIHH", 16, 1, 1, RATE_HZ, RATE_HZ * 2, 2, 16)
                 + b"data" + struct.pack("<I", STREAM_OPEN_LENGTH))
# The chime plays 1.2 s before the phrases are needed. They render (espeak-ng, ~100 ms of CPU per
# language) only after the call's first 100 ms, which belong to its boards, signs and screens:
# on a 2-core node rendering at once delayed the TV boards' update by several ms (bench).
RENDER_AFTER_CHIME_S = 0.1


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
        self.reads_stdin = bool(self.player) and "-" in self.player[1:]
        self._waiting: subprocess.Popen | None = None  # the stdin player started ahead
        self.on_start = on_start
        self.history: deque[Played] = deque(maxlen=64)
        self._queue: queue.Queue = queue.Queue()  # Played, _WARM, or None to stop
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

    def start(self) -> None:
        """Start the player's thread and render the chime now, so the first call of the day
        starts as fast as the others (rendering it on demand took tens of milliseconds)."""
        if not self.available:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True, name="announcer")
                self._thread.start()
        if self.player and self.voice.with_chime:
            self._queue.put(_WARM)

    def announce(self, call_id: str, ticket: str, room: str) -> bool:
        """Queue the announcement; True when speech can be produced."""
        if not self.available:
            log.warning("espeak-ng missing: call %s shown but not announced", call_id)
            return False
        if self._thread is None:
            self.start()
        self._queue.put(Played(call_id, ticket, room, time.monotonic()))
        return True

    def stop(self) -> None:
        if self._thread:
            self._queue.put(None)
            self._thread.join(timeout=5)
        waiting, self._waiting = self._waiting, None
        if waiting is not None:  # an empty input: it ends without a sound
            try:
                waiting.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                waiting.kill()
                waiting.wait()

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            try:
                if item is _WARM:  # the first call then costs what every other call costs
                    if self.reads_stdin:
                        self.voice.chime_frames()  # rendered, read and kept in memory
                        self._waiting_player()
                    else:
                        self.voice.chime_file()
                    continue
                self._play(item)
            except (VoiceError, OSError, subprocess.SubprocessError) as exc:
                log.warning("announcement of %s failed: %s", item.ticket, exc)

    def _play(self, item: Played) -> None:
        """The chime starts at once (a cached file) while the phrases render; they follow it."""
        if not self.player:
            self.voice.render(item.ticket, item.room, self.out_dir / f"{item.call_id}.wav").unlink()
            self.history.append(item)
            return
        if self.reads_stdin:
            self._play_streamed(item)
            return
        chime = self._start(self.voice.chime_file()) if self.voice.with_chime else None
        self._started(item)
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

    def _play_streamed(self, item: Played) -> None:
        """The waiting player gets the chime at once, then the phrases once rendered, then the
        end of its input; the next player is started to wait for the next call."""
        start = STREAM_HEADER + (self.voice.chime_frames() if self.voice.with_chime else b"")
        for attempt in (1, 2):
            player = self._waiting_player()
            self._waiting = None
            try:
                player.stdin.write(start)
                player.stdin.flush()
                break
            except BrokenPipeError:  # it ended while waiting (device taken, killed): a fresh one, once
                player.kill()
                player.wait()
                if attempt == 2:
                    raise OSError("the player ends as soon as it starts") from None
        self._started(item)
        try:
            self._finish(player, self.voice.frames(item.ticket, item.room, with_chime=False))
        finally:
            item.ended = time.monotonic()
            self._waiting_player()

    def _started(self, item: Played) -> None:
        """The call's announcement has begun (its chime is playing, if it has one); with a chime,
        the phrases render RENDER_AFTER_CHIME_S later."""
        item.started = time.monotonic()
        self.history.append(item)
        if self.on_start:
            self.on_start(item)
        if self.voice.with_chime:
            time.sleep(RENDER_AFTER_CHIME_S)

    def _waiting_player(self) -> subprocess.Popen:
        if self._waiting is None or self._waiting.poll() is not None:
            self._waiting = subprocess.Popen(self.player, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                             stderr=subprocess.PIPE)
        return self._waiting

    def _start(self, wav: Path) -> subprocess.Popen:
        args = [a.replace("{wav}", str(wav)) for a in self.player]
        if "{wav}" not in " ".join(self.player):
            args.append(str(wav))
        return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    @staticmethod
    def _finish(proc: subprocess.Popen, rest: bytes | None = None) -> None:
        """Give the player `rest` of its input (stdin players), then wait for it to end."""
        try:
            _, err = proc.communicate(rest, timeout=60)
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
