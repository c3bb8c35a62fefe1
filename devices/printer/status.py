"""Decoding ESC/POS status answers into problem names. Pure functions over bytes.

`DLE EOT n` (10 04 n) is answered in real time with ONE byte of the form 0xx1xx10
(bit7 = 0, bit4 = 1, bit1 = 1, bit0 = 0):
  n=1 printer:       0x08 offline
  n=2 offline cause: 0x04 cover open, 0x20 printing stopped by paper end, 0x40 error
  n=3 error cause:   0x04 mechanical, 0x08 auto-cutter, 0x20 unrecoverable, 0x40 auto-recoverable
  n=4 paper roll:    0x0C near end, 0x60 paper out
Typical n=4 answers: 0x12 OK, 0x1E near end, 0x72 out.

`GS a n` (automatic status back) makes the printer send 4 bytes on every change:
  byte 1 (form 0xx1xx00): 0x08 offline, 0x20 cover open
  byte 2 (form 0xx0xxxx): 0x04 mechanical error, 0x08 auto-cutter error, 0x20 unrecoverable,
                          0x40 auto-recoverable error
  byte 3 (form 0xx0xxxx): 0x03 paper near end, 0x0C paper out
  byte 4 (form 0xx0xxxx): reserved
A byte that does not have its fixed bits is rejected: it reports nothing (a wrong baud rate
produces exactly such garbage, and it must not turn into "paper out").

The two kinds can interleave on the wire; StatusReader tells them apart by those fixed bits
(a DLE EOT answer has bit1 set, an ASB first byte has it clear, ASB bytes 2-4 have bit4 clear).
"""
from __future__ import annotations

import re
from typing import Iterable, Mapping

from devices import status as device_status
from devices.status import COVER_OPEN, OFFLINE, PAPER_NEAR_END, PAPER_OUT

RT_QUERIES = (1, 2, 4)  # what the driver asks: printer, offline cause, paper roll

_RT_MASK, _RT_FORM = 0x93, 0x12
_ASB1_MASK, _ASB1_FORM = 0x93, 0x10
_ASB_REST_MASK = 0x90


def rt_request(n: int) -> bytes:
    return bytes((0x10, 0x04, n))


def is_rt_answer(byte: int) -> bool:
    """A byte of the form 0xx1xx10 every DLE EOT answer has (the discovery probe checks it)."""
    return byte & _RT_MASK == _RT_FORM


def decode_rt(n: int, byte: int) -> frozenset[str] | None:
    """Problems in the answer to DLE EOT n; None when the byte is not a valid answer."""
    table = _RT_TABLES.get(n)
    if table is not None and 0 <= byte <= 0xFF:
        return table[byte]
    return _decode_rt(n, byte)


def _decode_rt(n: int, byte: int) -> frozenset[str] | None:
    if not 0 <= byte <= 0xFF or byte & _RT_MASK != _RT_FORM:
        return None
    problems: set[str] = set()
    if n == 1:
        if byte & 0x08:
            problems.add(OFFLINE)
    elif n == 2:
        if byte & 0x04:
            problems.add(COVER_OPEN)
        if byte & 0x20:
            problems.add(PAPER_OUT)
        if byte & 0x40:
            problems.add(OFFLINE)  # an error stopped the printer; it is offline until cleared
    elif n == 3:
        if byte & 0x6C:
            problems.add(OFFLINE)
    elif n == 4:
        if byte & 0x60:
            problems.add(PAPER_OUT)
        elif byte & 0x0C:
            problems.add(PAPER_NEAR_END)
    return frozenset(problems)


_RT_TABLES = {n: tuple(_decode_rt(n, b) for b in range(256)) for n in (1, 2, 3, 4)}


def decode_asb(status: bytes) -> frozenset[str] | None:
    """Problems in a 4-byte automatic status back message; None when it is not one."""
    if len(status) != 4:
        return None
    b1, b2, b3, b4 = status
    if b1 & _ASB1_MASK != _ASB1_FORM or any(b & _ASB_REST_MASK for b in (b2, b3, b4)):
        return None
    problems: set[str] = set()
    if b1 & 0x20:
        problems.add(COVER_OPEN)
    if b3 & 0x0C:
        problems.add(PAPER_OUT)
    elif b3 & 0x03:
        problems.add(PAPER_NEAR_END)
    if b2 & 0x6C:
        problems.add(OFFLINE)  # an error stopped the printer
    elif b1 & 0x08 and not problems & {COVER_OPEN, PAPER_OUT}:
        problems.add(OFFLINE)  # offline for a reason the message does not name
    return tidy(problems)


def tidy(problems: Iterable[str]) -> frozenset[str]:
    """Drop problems that only restate a more specific one.

    A printer with its cover open or out of paper also reports itself offline; the cause is
    what a technician needs. Paper out makes "near end" redundant.
    """
    found = set(problems)
    if PAPER_OUT in found:
        found.discard(PAPER_NEAR_END)
    return frozenset(found)


def combine_rt(answers: Mapping[int, int]) -> frozenset[str]:
    """Problems from a set of DLE EOT answers {n: byte}; invalid bytes contribute nothing."""
    problems: set[str] = set()
    offline_flag = False
    for n, byte in answers.items():
        decoded = decode_rt(n, byte)
        if decoded is None:
            continue
        if n == 1:
            offline_flag = OFFLINE in decoded
        else:
            problems |= decoded
    if offline_flag and not problems & {COVER_OPEN, PAPER_OUT, OFFLINE}:
        problems.add(OFFLINE)  # offline for a reason the other answers do not name
    return tidy(problems)


def _byte_class(predicate) -> bytes:
    return re.escape(bytes(b for b in range(256) if predicate(b)))


_RT_CLASS = _byte_class(lambda b: b & _RT_MASK == _RT_FORM)
_ASB1_CLASS = _byte_class(lambda b: b & _ASB1_MASK == _ASB1_FORM)
_REST_CLASS = _byte_class(lambda b: not b & _ASB_REST_MASK)
# One scan in C: a DLE EOT answer, a whole ASB message, or one byte that is neither.
# Runs of DLE EOT answers come as one match (a status stream is mostly answers), ASB messages as
# four bytes, anything else as junk.
_ITEM = re.compile(b"([" + _RT_CLASS + b"]+)|([" + _ASB1_CLASS + b"][" + _REST_CLASS + b"]{3})|"
                   b"([^" + _RT_CLASS + _ASB1_CLASS + b"]+|.)", re.DOTALL)
_ASB_TAIL = re.compile(b"[" + _ASB1_CLASS + b"][" + _REST_CLASS + b"]{0,2}\\Z")


class StatusReader:
    """Splits the bytes a printer sends back into DLE EOT answers and ASB messages.

    feed() returns ("rt", byte), ("asb", 4 bytes) and ("junk", bytes) items in order; an ASB
    message cut off at the end of a chunk waits for the next one.
    """

    def __init__(self) -> None:
        self._tail = b""

    def feed(self, data: bytes) -> list[tuple[str, object]]:
        data = self._tail + bytes(data) if self._tail else bytes(data)
        tail = _ASB_TAIL.search(data, max(0, len(data) - 3))
        cut = tail.start() if tail else len(data)
        self._tail = data[cut:]
        out: list[tuple[str, object]] = []
        append = out.append
        junk = b""
        for rts, asb, other in _ITEM.findall(data[:cut]):
            if other:
                junk += other
                continue
            if junk:
                append(("junk", junk))
                junk = b""
            if rts:
                out.extend([("rt", byte) for byte in rts])
            else:
                append(("asb", asb))
        if junk:
            append(("junk", junk))
        return out


STATUS_UNKNOWN = device_status.STATUS_UNKNOWN  # kept here too: the driver reads every status name from this module
