"""A sound card stand-in for tests (the machine has none): takes a WAV the way a player does,
for as long as it lasts, and logs when it started and ended (wall time, comparable across
processes).

Usage: paced_sink.py LOG WAV            a player given a file
       paced_sink.py LOG - [SAVE_DIR]   a player reading the WAV on standard input (as `aplay -`):
                                        logs `ready` at once, `start` when the first audio
                                        arrives, keeps the stream in SAVE_DIR/stdin-PID.wav
"""
from __future__ import annotations

import os
import sys
import time
import wave
from pathlib import Path

HEADER = 44
BYTES_PER_SECOND = 22050 * 2  # 16-bit mono, the announcer's format


def note(log_path: str, line: str) -> None:
    with open(log_path, "a", encoding="utf-8") as log:
        log.write(line + "\n")


def from_file(log_path: str, wav_path: str) -> int:
    with wave.open(wav_path, "rb") as w:
        seconds = w.getnframes() / w.getframerate()
    note(log_path, f"start {time.time():.6f} {wav_path} {seconds:.3f}")
    time.sleep(seconds)
    note(log_path, f"end {time.time():.6f} {wav_path}")
    return 0


def from_stdin(log_path: str, save_dir: str | None) -> int:
    name = f"stdin-{os.getpid()}"
    note(log_path, f"ready {time.time():.6f} {name} {os.getpid()}")
    stream = bytearray(sys.stdin.buffer.read1(65536))
    if not stream:
        note(log_path, f"empty {time.time():.6f} {name}")  # ended without a sound (stopped while waiting)
        return 0
    started = time.time()
    note(log_path, f"start {started:.6f} {name}")
    while chunk := sys.stdin.buffer.read1(65536):
        stream += chunk
    seconds = max(0, len(stream) - HEADER) / BYTES_PER_SECOND
    time.sleep(max(0.0, started + seconds - time.time()))  # as long as the sound lasts
    if save_dir:
        Path(save_dir, f"{name}.wav").write_bytes(bytes(stream))
    note(log_path, f"end {time.time():.6f} {name} {seconds:.3f}")
    return 0


if __name__ == "__main__":
    if sys.argv[2] == "-":
        sys.exit(from_stdin(sys.argv[1], sys.argv[3] if len(sys.argv) > 3 else None))
    sys.exit(from_file(sys.argv[1], sys.argv[2]))
