"""Child processes that do not outlive the process that started them (the demo, benchmarks).

Without it a demo killed by Ctrl-\\ or `timeout` leaves a controller behind that keeps its serial
ports locked and its broker session open. Linux only (prctl PR_SET_PDEATHSIG); elsewhere a no-op.

Mind: the kernel sends the signal when the *thread* that started the child exits, so start such
children from a long-lived thread (the demo, the benchmarks and the tests use the main thread).
"""
from __future__ import annotations

import ctypes
import signal

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Use as Popen(preexec_fn=die_with_parent): the child gets SIGTERM when its parent dies."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except OSError:
        pass
