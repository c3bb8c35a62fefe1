"""Scanned codes out of a CDC-ACM byte stream (scanner configured with a CR suffix).

Accepts CR, LF or CRLF as the end of a code (scanners differ, and a CRLF split across two reads
is just an empty line, which is ignored). A line with control characters, invalid UTF-8, or
more than `max_line` bytes is noise (a wrong baud rate, a cable glitch), reported with a reason
and never returned as a code. Pure: the caller passes the timestamp.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from devices.base import ScanReading

MAX_LINE = 512  # bytes; booking QR codes are far shorter, garbage without a CR is not
_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class LineReject:
    reason: str
    raw: bytes  # at most the first 32 bytes, for a log line


class LineSplitter:
    def __init__(self, max_line: int = MAX_LINE):
        self._max = max_line
        self._partial = b""
        self._overflow = False  # discarding an over-long line until its terminator

    def reset(self) -> None:
        self._partial, self._overflow = b"", False

    def feed(self, data: bytes, ts: float) -> list[ScanReading | LineReject]:
        data = self._partial + data
        end = max(data.rfind(b"\r"), data.rfind(b"\n"))
        out: list[ScanReading | LineReject] = []
        if end >= 0:
            lines = data[:end + 1].splitlines()  # bytes.splitlines: CR, LF and CRLF only
            if self._overflow:
                self._overflow = False
                out.append(LineReject(f"line longer than {self._max} bytes", lines[0][:32] if lines else b""))
                lines = lines[1:]
            for line in lines:
                if line:
                    out.append(self._check(line, ts))
            data = data[end + 1:]
        if len(data) > self._max:  # no terminator in sight: drop it, report at the next one
            self._overflow, data = True, b""
        self._partial = data
        return out

    def _check(self, line: bytes, ts: float) -> ScanReading | LineReject:
        if len(line) > self._max:
            return LineReject(f"line longer than {self._max} bytes", line[:32])
        bad = _CONTROL.search(line)
        if bad:
            return LineReject(f"control character 0x{bad.group()[0]:02X} in line", line[:32])
        try:
            code = line.decode("utf-8").strip()
        except UnicodeDecodeError:
            return LineReject("not valid UTF-8", line[:32])
        if not code:
            return LineReject("blank line", line[:32])
        return ScanReading(code, ts)
