"""The result read aloud in accessibility mode, by the offline voice of the call boards (espeak-ng,
same voices): no network, and never a patient's name (the caller passes the screen's route lines,
which name the ticket, the place and the doctor only)."""
from __future__ import annotations

import logging
import shutil
import subprocess
import threading
import time
from pathlib import Path

from foundation.voices import ESPEAK_VOICES as VOICES

log = logging.getLogger("vestibule.ui.speech")


class Voice:
    def __init__(self, out_dir: Path, player: str | None = None):
        self.out_dir = out_dir
        self.espeak = shutil.which("espeak-ng")
        self.player = player if player is not None else shutil.which("aplay")

    @property
    def available(self) -> bool:
        return self.espeak is not None

    def say(self, text: str, lang: str, *, wait: bool = False) -> Path | None:
        """Render `text` to a WAV and play it where a sound card exists; off the UI thread unless
        `wait`. Returns the WAV's path (None: no voice installed)."""
        if not self.available:
            log.warning("espeak-ng missing: the result is not read aloud")
            return None
        self.out_dir.mkdir(parents=True, exist_ok=True)
        wav = self.out_dir / f"result-{time.monotonic_ns()}.wav"
        if wait:
            self._speak(text, lang, wav)
        else:
            threading.Thread(target=self._speak, args=(text, lang, wav), daemon=True, name="kiosk-voice").start()
        return wav

    def _speak(self, text: str, lang: str, wav: Path) -> None:
        try:
            subprocess.run([self.espeak, "-v", VOICES.get(lang, "en"), "-s", "140", "-w", str(wav), text],
                           check=True, capture_output=True, timeout=20)
            if self.player and Path("/dev/snd").exists():
                subprocess.run([self.player, "-q", str(wav)], capture_output=True, timeout=30, check=False)
        except (subprocess.SubprocessError, OSError) as exc:
            log.warning("reading the result aloud failed: %s", exc)
