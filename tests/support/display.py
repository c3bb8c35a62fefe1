"""A private X display per pytest-xdist worker, so Kivy windows and XTest clicks of two workers
never meet on one screen. Started before collection (Kivy reads DISPLAY when first imported)."""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from foundation.children import die_with_parent

SCREEN = "1280x1024x24"  # as scripts/test.sh gives xvfb-run


def start_private_display(worker: str) -> subprocess.Popen | None:
    """Xvfb on a display number of its own for this worker; None when Xvfb is not installed."""
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        return None
    base = 200 + (os.getpid() % 400) * 2  # apart from xvfb-run's :99 and from other runs
    for number in range(base, base + 50):
        if Path(f"/tmp/.X11-unix/X{number}").exists() or Path(f"/tmp/.X{number}-lock").exists():
            continue
        proc = subprocess.Popen([xvfb, f":{number}", "-screen", "0", SCREEN, "-nolisten", "tcp"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=die_with_parent)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if Path(f"/tmp/.X11-unix/X{number}").exists():
                os.environ["DISPLAY"] = f":{number}"
                return proc
            if proc.poll() is not None:
                break  # lost a race for the number: try the next
            time.sleep(0.05)
        proc.kill()
    raise RuntimeError(f"worker {worker}: could not start a private Xvfb")
