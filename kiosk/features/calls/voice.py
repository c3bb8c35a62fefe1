"""What a call sounds like: the phrase in each language, numbers said as each language says
them, rendered offline by espeak-ng, cached per phrase, joined after a chime into one WAV.

Number rules (docs/voice.md):
  ru  the prefix letter by its Russian name as a reader of the paper says it (A -> "А",
      C -> "эс", R -> "эр"), then the number as a whole, leading zeros dropped (023 -> 23,
      "двадцать три"); the room as a whole number: "Талон А 23, кабинет 12".
  zh  the letter as a Latin letter, then the digits one by one in Chinese (023 -> 零二三), as
      queue numbers are read in China; the room as a Chinese number (12 -> 十二):
      "请 A 零二三 号到 十二 号诊室".
  en  the letter, then the digits one by one (zero two three); the room as a whole number:
      "Ticket A 0 2 3, room 12".
A room that is not a plain number (e.g. "2a", "Box 3") is passed as written.
No patient data: the phrase names only the ticket and the room.
"""
from __future__ import annotations

import hashlib
import math
import os
import shutil
import struct
import subprocess
import wave
from pathlib import Path

from foundation import i18n
from foundation.voices import ESPEAK_VOICES

RATE_HZ = 22050  # espeak-ng's own output rate: clips join without resampling
VOICES = ESPEAK_VOICES
# Rendering a phrase is ~100 ms of CPU with a deadline of the chime (1.2 s): on a 2-core node it
# yields to what a call must do at once (the boards' frames, the broker, the screens' state).
RENDER_NICE = 10
PAUSE_S = 0.35  # between the chime and the phrases, and between languages

# Latin prefix letters as a Russian reader says them off the paper: letters that look Cyrillic
# are read as the Cyrillic letter, the others by their Russian letter names.
RU_LETTERS = {
    "A": "А", "B": "Бэ", "C": "Эс", "D": "Дэ", "E": "Е", "F": "Эф", "G": "Гэ", "H": "Аш", "I": "И",
    "J": "Йот", "K": "Ка", "L": "Эль", "M": "Эм", "N": "Эн", "O": "О", "P": "Пэ", "Q": "Ку", "R": "Эр",
    "S": "Эс", "T": "Тэ", "U": "У", "V": "Вэ", "W": "Дубль-вэ", "X": "Икс", "Y": "Игрек", "Z": "Зэт",
}
ZH_DIGITS = "零一二三四五六七八九"


def zh_number(n: int) -> str:
    """0..9999 as spoken Chinese (12 -> 十二, 105 -> 一百零五); larger numbers digit by digit."""
    if n < 10:
        return ZH_DIGITS[n]
    if n >= 10000:
        return "".join(ZH_DIGITS[int(d)] for d in str(n))
    out, zero = "", False
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        digit = n // value % 10
        if digit == 0:
            zero = bool(out)
            continue
        if zero:
            out += "零"
            zero = False
        out += ("" if (unit == "十" and digit == 1 and not out) else ZH_DIGITS[digit]) + unit
    return out


def _split(ticket: str) -> tuple[str, str]:
    return ticket[:1], ticket[1:]


def spoken_parts(lang: str, ticket: str, room: str) -> tuple[str, str]:
    """The ticket and the room as the language says them (the rules above)."""
    letter, digits = _split(ticket)
    numeric_room = room.isdigit()
    if lang == "ru":
        number = str(int(digits)) if digits.isdigit() else digits
        return f"{RU_LETTERS.get(letter, letter)} {number}", str(int(room)) if numeric_room else room
    if lang == "zh":
        spoken = "".join(ZH_DIGITS[int(d)] if d.isdigit() else d for d in digits)
        return f"{letter} {spoken}", zh_number(int(room)) if numeric_room else room
    return f"{letter} {' '.join(digits)}", str(int(room)) if numeric_room else room


def phrase(lang: str, ticket: str, room: str) -> str:
    """The call in one language: the catalog's `voice.call` with the ticket and room spoken."""
    spoken_ticket, spoken_room = spoken_parts(lang, ticket, room)
    return i18n.text("voice.call", lang, ticket=spoken_ticket, room=spoken_room)


class VoiceError(Exception):
    pass


def _tone(freq: float, seconds: float, volume: float = 0.45) -> bytes:
    n = int(RATE_HZ * seconds)
    frames = bytearray()
    for i in range(n):
        envelope = math.exp(-4.0 * i / n) * min(1.0, i / (0.01 * RATE_HZ))  # a bell: quick rise, decay
        frames += struct.pack("<h", int(32767 * volume * envelope * math.sin(2 * math.pi * freq * i / RATE_HZ)))
    return bytes(frames)


def silence(seconds: float) -> bytes:
    return b"\x00\x00" * int(RATE_HZ * seconds)


def chime() -> bytes:
    """Two falling bell tones ("ding-dong"), 16-bit mono frames."""
    return _tone(880.0, 0.35) + _tone(659.3, 0.5)


def read_frames(path: Path) -> bytes:
    with wave.open(str(path), "rb") as w:
        if (w.getframerate(), w.getnchannels(), w.getsampwidth()) != (RATE_HZ, 1, 2):
            raise VoiceError(f"{path}: expected {RATE_HZ} Hz mono 16-bit")
        return w.readframes(w.getnframes())


def write_wav(path: Path, frames: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with wave.open(str(tmp), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE_HZ)
        w.writeframes(frames)
    tmp.replace(path)
    return path


def _run_niced(args: list[str], *, timeout: float) -> None:
    """Run a renderer at RENDER_NICE (set right after it starts: a preexec hook would cost the
    fast spawn path); CalledProcessError when it fails."""
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        os.setpriority(os.PRIO_PROCESS, proc.pid, RENDER_NICE)
    except OSError:  # it has already ended
        pass
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise
    if proc.returncode:
        raise subprocess.CalledProcessError(proc.returncode, args[0], stderr=err)


class Voice:
    """espeak-ng with a cache of rendered phrases in `cache_dir` (the node's state dir)."""

    def __init__(self, cache_dir: Path, *, languages: list[str], chime: bool = True, rate_wpm: int = 140):
        self.cache_dir = Path(cache_dir)
        self.languages = list(languages)
        self.with_chime = chime
        self.rate_wpm = rate_wpm
        self.espeak = shutil.which("espeak-ng")
        self._chime_frames: bytes | None = None

    @property
    def available(self) -> bool:
        return self.espeak is not None

    def clip(self, lang: str, text: str) -> Path:
        """The phrase rendered once; later calls of the same ticket and room reuse the file."""
        key = hashlib.sha1(f"{VOICES[lang]}|{self.rate_wpm}|{text}".encode()).hexdigest()[:20]
        path = self.cache_dir / f"{lang}-{key}.wav"
        if path.exists():
            return path
        if not self.available:
            raise VoiceError("espeak-ng is not installed")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        try:
            _run_niced([self.espeak, "-v", VOICES[lang], "-s", str(self.rate_wpm), "-w", str(tmp), text], timeout=20)
        except (subprocess.SubprocessError, OSError) as exc:
            raise VoiceError(f"espeak-ng failed for {lang}: {exc}") from exc
        tmp.replace(path)
        return path

    def chime_frames(self) -> bytes:
        """The chime and the pause after it, as frames (kept: a call's audio starts with them)."""
        if self._chime_frames is None:
            self._chime_frames = read_frames(self.chime_file())
        return self._chime_frames

    def chime_file(self) -> Path:
        """The chime and the pause after it, as its own cached WAV (played while the phrases render)."""
        path = self.cache_dir / "chime.wav"
        return path if path.exists() else write_wav(path, chime() + silence(PAUSE_S))

    def frames(self, ticket: str, room: str, languages: list[str] | None = None, *, with_chime: bool | None = None) -> bytes:
        with_chime = self.with_chime if with_chime is None else with_chime
        parts = [chime(), silence(PAUSE_S)] if with_chime else []
        for n, lang in enumerate(languages or self.languages):
            if n:
                parts.append(silence(PAUSE_S))
            parts.append(read_frames(self.clip(lang, phrase(lang, ticket, room))))
        return b"".join(parts)

    def render(self, ticket: str, room: str, out: Path, languages: list[str] | None = None, *,
               with_chime: bool | None = None) -> Path:
        return write_wav(Path(out), self.frames(ticket, room, languages, with_chime=with_chime))
