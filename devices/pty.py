"""Pseudo-terminal pairs for simulators: the driver opens the slave path like a real port."""
from __future__ import annotations

import os
import pty
import termios
import tty
from dataclasses import dataclass


@dataclass
class PtyPair:
    master_fd: int  # the simulator's end
    slave_fd: int  # kept open so the slave path survives driver close/reopen
    path: str  # what the driver opens

    def close(self) -> None:
        for fd in (self.master_fd, self.slave_fd):
            try:
                os.close(fd)
            except OSError:
                pass


def open_raw_pty() -> PtyPair:
    """A pty with both ends raw: no CR/LF rewriting, no echo, no signals from bytes."""
    master, slave = pty.openpty()
    for fd in (master, slave):
        tty.setraw(fd, termios.TCSANOW)
        attrs = termios.tcgetattr(fd)
        attrs[3] &= ~termios.ECHO
        termios.tcsetattr(fd, termios.TCSANOW, attrs)
    return PtyPair(master, slave, os.ttyname(slave))
