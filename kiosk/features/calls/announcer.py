"""Voice calls, offline: espeak-ng renders the phrase in the site's language (cloud TTS broke
peers' systems). The phrase names only the ticket and the room, never the patient."""
from __future__ import annotations

import logging
import shutil
import subprocess
import threading
from pathlib import Path

from foundation import i18n

log = logging.getLogger("vestibule.voice")

VOICES = {"ru": "ru", "en": "en", "zh": "cmn"}


def phrase(lang: str, ticket: str, room: str) -> str:
    # Letters read one by one ("A 0 2 3") are clearer over a waiting-room speaker.
    spoken = " ".join(ticket)
    return i18n.text("voice.call", lang, ticket=spoken, room=room)


class Announcer:
    """Renders each call to a WAV (and plays it where a player and a sound card exist)."""

    def __init__(self, lang: str, out_dir: Path, player: str | None = None):
        self.lang = lang
        self.out_dir = out_dir
        self.espeak = shutil.which("espeak-ng")
        self.player = player if player is not None else shutil.which("aplay")

    @property
    def available(self) -> bool:
        return self.espeak is not None

    def announce(self, call_id: str, ticket: str, room: str) -> bool:
        """Start the announcement; True when speech could be produced."""
        if not self.available:
            log.warning("espeak-ng missing: call %s shown but not announced", call_id)
            return False
        self.out_dir.mkdir(parents=True, exist_ok=True)
        wav = self.out_dir / f"{call_id}.wav"
        text = phrase(self.lang, ticket, room)
        threading.Thread(target=self._speak, args=(text, wav), daemon=True, name="announce").start()
        return True

    def _speak(self, text: str, wav: Path) -> None:
        try:
            subprocess.run([self.espeak, "-v", VOICES.get(self.lang, "en"), "-s", "140", "-w", str(wav), text],
                           check=True, capture_output=True, timeout=20)
            if self.player and Path("/dev/snd").exists():
                subprocess.run([self.player, "-q", str(wav)], capture_output=True, timeout=30)
        except (subprocess.SubprocessError, OSError) as exc:
            log.warning("announcement failed: %s", exc)
