"""Subprocesses the tests start (controllers, stand-in cores, the kiosk app) end with the test run,
even when the run itself is killed: a stray controller keeps serial ports locked."""
from __future__ import annotations

import subprocess

from foundation.children import die_with_parent


def popen_child(*args, **kwargs) -> subprocess.Popen:
    kwargs.setdefault("preexec_fn", die_with_parent)
    return subprocess.Popen(*args, **kwargs)
