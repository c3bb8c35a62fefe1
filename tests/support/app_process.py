"""A screen app (kiosk, screening post, TV board) run as its own process by an end-to-end test:
its log, and a stop that gives it SIGTERM first, as systemd does."""
from __future__ import annotations

import signal
import subprocess


def app_output(log) -> str:
    """The last part of what the app printed (for an assertion's message)."""
    log.flush()
    log.seek(0)
    return log.read()[-4000:]


def stop_app(proc: subprocess.Popen, log) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    log.close()
