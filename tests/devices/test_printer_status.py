"""DLE EOT and automatic status back decoding: tables of real answers, and garbage."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from devices.printer import status as st
from devices.printer.printer_model import PrinterModel
from devices.status import COVER_OPEN, OFFLINE, PAPER_NEAR_END, PAPER_OUT


@pytest.mark.parametrize("n, byte, problems", [
    (1, 0x12, set()),
    (1, 0x16, set()),  # drawer pin 3 high: not a problem
    (1, 0x1A, {OFFLINE}),
    (2, 0x12, set()),
    (2, 0x16, {COVER_OPEN}),
    (2, 0x32, {PAPER_OUT}),
    (2, 0x52, {OFFLINE}),
    (2, 0x36, {COVER_OPEN, PAPER_OUT}),
    (3, 0x12, set()),
    (3, 0x1A, {OFFLINE}),  # auto-cutter error
    (4, 0x12, set()),
    (4, 0x1E, {PAPER_NEAR_END}),
    (4, 0x72, {PAPER_OUT}),
    (4, 0x7E, {PAPER_OUT}),  # near end and out: out says it all
])
def test_dle_eot_answers_decode_to_problem_names(n, byte, problems):
    assert st.decode_rt(n, byte) == problems


@pytest.mark.parametrize("byte", [0x00, 0xFF, 0x13, 0x10, 0x02, 0x92, 0x72 | 0x80, 0x62, 0x1C])
def test_bytes_not_of_the_form_0xx1xx10_are_rejected(byte):
    for n in (1, 2, 3, 4):
        assert st.decode_rt(n, byte) is None
    assert st.combine_rt({1: byte, 2: byte, 4: byte}) == frozenset()


@settings(max_examples=300, deadline=None)
@given(hs.sampled_from([1, 2, 3, 4]), hs.integers(min_value=0, max_value=255))
def test_a_status_byte_reports_problems_only_when_it_has_the_fixed_bits(n, byte):
    decoded = st.decode_rt(n, byte)
    valid = (byte & 0b1001_0011) == 0b0001_0010
    assert (decoded is not None) == valid
    if not valid:
        assert st.combine_rt({n: byte}) == frozenset()


def test_combined_answers_name_the_cause_not_just_offline():
    assert st.combine_rt({1: 0x12, 2: 0x12, 4: 0x12}) == frozenset()
    assert st.combine_rt({1: 0x12, 2: 0x12, 4: 0x1E}) == {PAPER_NEAR_END}
    assert st.combine_rt({1: 0x1A, 2: 0x32, 4: 0x72}) == {PAPER_OUT}
    assert st.combine_rt({1: 0x1A, 2: 0x16, 4: 0x12}) == {COVER_OPEN}
    assert st.combine_rt({1: 0x1A, 2: 0x12, 4: 0x12}) == {OFFLINE}  # offline, cause unknown


@pytest.mark.parametrize("message, problems", [
    ("10000000", set()),
    ("10000300", {PAPER_NEAR_END}),
    ("18000f00", {PAPER_OUT}),
    ("38000000", {COVER_OPEN}),
    ("18000000", {OFFLINE}),
    ("18080000", {OFFLINE}),  # auto-cutter error
])
def test_automatic_status_back_messages_decode(message, problems):
    assert st.decode_asb(bytes.fromhex(message)) == problems


@pytest.mark.parametrize("message", ["12000000", "10100000", "10008000", "90000000", "100000", "1000000000"])
def test_malformed_asb_messages_are_rejected(message):
    assert st.decode_asb(bytes.fromhex(message)) is None


def test_reader_separates_interleaved_answers_and_asb_messages():
    reader = st.StatusReader()
    items = reader.feed(bytes.fromhex("12 1000") + bytes.fromhex("0300 1e ff 72"))
    assert items == [("rt", 0x12), ("asb", bytes.fromhex("10000300")), ("rt", 0x1E), ("junk", b"\xff"),
                     ("rt", 0x72)]


def test_reader_keeps_an_asb_message_split_across_reads():
    reader = st.StatusReader()
    assert reader.feed(bytes.fromhex("12 1800")) == [("rt", 0x12)]
    assert reader.feed(bytes.fromhex("0f")) == []
    assert reader.feed(bytes.fromhex("00 1e")) == [("asb", bytes.fromhex("18000f00")), ("rt", 0x1E)]


def test_reader_resynchronises_after_a_broken_asb_message():
    reader = st.StatusReader()
    assert reader.feed(bytes.fromhex("1000 12")) == [("junk", b"\x10\x00"), ("rt", 0x12)]


@settings(max_examples=300, deadline=None)
@given(hs.binary(max_size=256), hs.integers(min_value=1, max_value=7))
def test_status_reader_and_decoders_never_raise_on_garbage(data, chunk):
    reader = st.StatusReader()
    whole = st.StatusReader().feed(data)
    pieces = [item for i in range(0, len(data), chunk) for item in reader.feed(data[i:i + chunk])]
    assert [i for i in pieces if i[0] != "junk"] == [i for i in whole if i[0] != "junk"]
    for kind, value in whole:
        if kind == "asb":
            assert st.decode_asb(value) is not None  # the reader only frames well-formed messages
        elif kind == "rt":
            assert st.decode_rt(4, value) is not None
    for n in (0, 1, 2, 3, 4, 255):
        for b in data[:8]:
            st.decode_rt(n, b)
    st.decode_asb(data[:4])


def test_the_simulated_printer_answers_the_typical_bytes():
    model = PrinterModel()
    assert [model.rt_status(n) for n in (1, 2, 4)] == [0x12, 0x12, 0x12]
    model.set_paper("near_end")
    assert model.rt_status(4) == 0x1E
    model.set_paper("out")
    assert [model.rt_status(n) for n in (1, 2, 4)] == [0x1A, 0x32, 0x72]
    model.set_paper("ok")
    model.set_state(cover_open=True)
    assert [model.rt_status(n) for n in (1, 2)] == [0x1A, 0x16]


def test_simulated_printer_answers_each_dle_eot_with_exactly_one_byte():
    model = PrinterModel()
    assert model.receive(bytes.fromhex("100401 100402 100403 100404")) == bytes.fromhex("12121212")
    assert model.receive(bytes.fromhex("100405")) == b""  # not a status it has


def test_simulated_printer_sends_asb_only_after_gs_a_and_on_changes():
    model = PrinterModel()
    assert model.set_state(paper_near_end=True) == b""  # ASB not enabled yet
    assert model.receive(bytes.fromhex("1d610e")) == bytes.fromhex("10000300")  # current status on enable
    assert model.set_state(paper_near_end=True) == b""  # no change, nothing sent
    assert model.set_state(paper_out=True) == bytes.fromhex("18000f00")
    assert st.decode_asb(model.set_state(paper_out=False, paper_near_end=False)) == frozenset()
    model.receive(bytes.fromhex("1d6100"))
    assert model.set_state(cover_open=True) == b""  # disabled again


def test_content_received_while_the_printer_is_offline_is_not_printed():
    model = PrinterModel(paper_out=True)
    model.receive(b"lost\n\x1dV\x01")
    model.set_paper("ok")
    model.receive(b"kept\n\x1dV\x01")
    assert [d.text_lines for d in model.discarded] == [["lost"]]
    assert [d.text_lines for d in model.documents] == [["kept"]]
