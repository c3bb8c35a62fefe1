"""A sound card stand-in for tests (the machine has none): takes a WAV the way a player does,
for as long as it lasts, and logs when it started and ended (wall time, comparable across processes). Usage: paced_sink.py LOG WAV"""
from __future__ import annotations

import sys
import time
import wave


def main(log_path: str, wav_path: str) -> int:
    with wave.open(wav_path, "rb") as w:
        seconds = w.getnframes() / w.getframerate()
    with open(log_path, "a", encoding="utf-8") as log:
        log.write(f"start {time.time():.6f} {wav_path} {seconds:.3f}\n")
    time.sleep(seconds)
    with open(log_path, "a", encoding="utf-8") as log:
        log.write(f"end {time.time():.6f} {wav_path}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
