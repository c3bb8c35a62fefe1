"""CDC-ACM scanner line splitter: tables of real-looking input and properties of random streams."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.base import ScanReading
from devices.scanner.lines import LineReject, LineSplitter

TS = 1700000000.25


def _feed(chunks, **kwargs):
    splitter, out = LineSplitter(**kwargs), []
    for chunk in chunks:
        out += splitter.feed(chunk, TS)
    return out


def _r(code):
    return ScanReading(code, TS)


@pytest.mark.parametrize("chunks,expected", [
    ([b"BK-1234\r"], [_r("BK-1234")]),
    ([b"A1\r\nB2\r\n"], [_r("A1"), _r("B2")]),  # CRLF: the empty line between is ignored
    ([b"A1\nB2\n"], [_r("A1"), _r("B2")]),
    ([b"BK-", b"12", b"34\r"], [_r("BK-1234")]),
    ([b"A1\r", b"\nB2\r"], [_r("A1"), _r("B2")]),  # CRLF split across two reads
    ([b"\r\r\n\n"], []),
    ([b" BK-9 \r"], [_r("BK-9")]),
    (["Запись-7\r".encode()], [_r("Запись-7")]),
    ([b"{\"b\":\"X1\"}\r"], [_r('{"b":"X1"}')]),
    ([b"no terminator yet"], []),
    ([b"A\x1bB\r", b"OK\r"], [LineReject("control character 0x1B in line", b"A\x1bB"), _r("OK")]),
    ([b"\x00\x00\x00\r"], [LineReject("control character 0x00 in line", b"\x00\x00\x00")]),
    ([b"\xff\xfe\x80\r"], [LineReject("not valid UTF-8", b"\xff\xfe\x80")]),
    ([b"   \r"], [LineReject("blank line", b"   ")]),
])
def test_line_table(chunks, expected):
    assert _feed(chunks) == expected


def test_an_overlong_line_is_rejected_and_the_next_code_still_reads():
    assert _feed([b"x" * 40 + b"\rOK\r"], max_line=32) == [
        LineReject("line longer than 32 bytes", b"x" * 32), _r("OK")]


def test_garbage_with_no_terminator_is_dropped_and_reported_when_one_comes():
    got = _feed([b"x" * 30, b"y" * 30, b"zzz\rOK\r"], max_line=32)
    assert got == [LineReject("line longer than 32 bytes", b"zzz"), _r("OK")]


def test_the_timestamp_is_the_one_passed_in():
    assert LineSplitter().feed(b"A\r", 12.5) == [ScanReading("A", 12.5)]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=80), max_size=20))
def test_random_streams_never_raise_and_never_yield_a_code_with_control_characters(chunks):
    for item in _feed(chunks, max_line=64):
        if isinstance(item, ScanReading):
            assert item.code and item.code == item.code.strip()
            assert not any(ord(c) < 0x20 or ord(c) == 0x7F for c in item.code)
            assert len(item.code.encode()) <= 64
        else:
            assert isinstance(item, LineReject) and item.reason


CODES = st.lists(st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=40),
                 min_size=1, max_size=10)


@settings(max_examples=300, deadline=None)
@given(CODES, st.sampled_from([b"\r", b"\n", b"\r\n"]), st.integers(1, 17))
def test_codes_come_out_whatever_the_terminator_and_the_read_sizes(codes, terminator, step):
    stream = b"".join(code.encode() + terminator for code in codes)
    got = _feed([stream[i:i + step] for i in range(0, len(stream), step)])
    assert got == [_r(code) for code in codes]
