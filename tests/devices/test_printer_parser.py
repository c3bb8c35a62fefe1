"""The simulator's ESC/POS stream parser: payload lengths, code pages, chunking, garbage."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as hs

from devices.printer import escpos_parser as ep
from devices.printer.document import DocumentBuilder, parse_documents
from devices.printer.layout import layout_for, sample_receipt, sample_ticket
from devices.printer.options import PrinterOptions
from devices.printer.render import render

ALL_SCRIPTS = PrinterOptions.from_mapping({"scripts": "latin,cyrillic,cjk"})


def kinds(events):
    return [e.kind for e in events]


def test_pc866_text_decodes_after_esc_t_17():
    events = ep.parse(bytes.fromhex("1b7411") + "Привет".encode("cp866") + b"\n")
    assert events == [ep.Event(ep.CODEPAGE, 17), ep.Event(ep.TEXT, "Привет"), ep.Event(ep.LF)]


def test_code_page_table_follows_the_vendor_profile():
    data = bytes.fromhex("1b7407") + "Врач".encode("cp866") + b"\n"
    assert ep.parse(data, codepages=ep.codepage_table("RP326"))[1] == ep.Event(ep.TEXT, "Врач")
    assert ep.parse(data)[1] != ep.Event(ep.TEXT, "Врач")  # page 7 is not PC866 on Epson


def test_gb18030_text_decodes_in_double_byte_mode_only():
    data = bytes.fromhex("1c26") + "诊室".encode("gb18030") + bytes.fromhex("1c2e") + b"\n"
    assert ep.parse(data) == [ep.Event(ep.KANJI, True), ep.Event(ep.TEXT, "诊室"),
                              ep.Event(ep.KANJI, False), ep.Event(ep.LF)]


def test_cyrillic_bytes_sent_while_double_byte_mode_is_on_come_out_as_garbage():
    data = bytes.fromhex("1b7411 1c26") + "Кабинет".encode("cp866") + b"\n"
    [text] = [v for k, v in ep.parse(data) if k == ep.TEXT]
    assert text != "Кабинет"


def test_raster_image_payload_is_skipped_by_length_even_when_it_looks_like_commands():
    cut_lookalike = bytes.fromhex("1d5600 1b40 0a 1004")  # 8 bytes of "commands" inside the image
    data = bytes.fromhex("1d7630 00 0200 0400") + cut_lookalike + b"after\n"
    events = ep.parse(data)
    assert kinds(events) == [ep.IMAGE, ep.TEXT, ep.LF]
    image = events[0].value
    assert (image.width, image.height, image.data) == (16, 4, cut_lookalike)


def test_column_image_and_qr_payload_lengths():
    col = bytes.fromhex("1b2a21 0200") + bytes(range(6))  # 24-dot columns: 3 bytes each
    qr = bytes.fromhex("1d286b 0600 315030") + b"\x1d\x56\x00" + bytes.fromhex("1d286b 0300 315130")
    events = ep.parse(col + qr + b"x\n")
    assert kinds(events) == [ep.IMAGE, ep.QR, ep.TEXT, ep.LF]
    assert events[1].value.data == b"\x1d\x56\x00"


def test_graphics_store_and_print():
    raster = b"\xff\x00" * 3
    body = bytes.fromhex("3070 30 01 01 31") + (16).to_bytes(2, "little") + (3).to_bytes(2, "little") + raster
    data = bytes.fromhex("1d284c") + len(body).to_bytes(2, "little") + body + bytes.fromhex("1d284c 0200 3032")
    [event] = ep.parse(data)
    assert event.kind == ep.IMAGE and event.value.kind == "graphics"
    assert (event.value.width, event.value.height, event.value.data) == (16, 3, raster)


def test_status_requests_and_asb_are_reported_as_events():
    assert ep.parse(bytes.fromhex("100401 100402 100404 1d610e 1d6100")) == [
        ep.Event(ep.STATUS_REQUEST, 1), ep.Event(ep.STATUS_REQUEST, 2), ep.Event(ep.STATUS_REQUEST, 4),
        ep.Event(ep.ASB, 0x0E), ep.Event(ep.ASB, 0)]


def test_cut_variants():
    cuts = bytes.fromhex("1d5600 1d5601 1d5630 1d5631 1d564100 1d564203 1b69 1b6d")
    assert [v for k, v in ep.parse(cuts)] == ["full", "partial", "full", "partial", "full", "partial",
                                             "partial", "partial"]


def test_documents_split_at_cuts_with_their_lines():
    data = b"one\n" + bytes.fromhex("1d5601") + b"two\nthree\n" + bytes.fromhex("1d5600") + b"tail"
    docs = parse_documents(data)
    assert [d.text_lines for d in docs] == [["one"], ["two", "three"], ["tail"]]
    assert [d.cut for d in docs] == ["partial", "full", None]


def test_text_styles_are_recorded_per_line():
    data = bytes.fromhex("1b6101 1b4501 1d2111") + b"BIG\n" + bytes.fromhex("1b6100 1b4500 1d2100") + b"small\n"
    [doc] = parse_documents(data)
    big, small = doc.blocks
    assert (big.align, big.runs[0].bold, big.runs[0].width, big.runs[0].height) == ("center", True, 2, 2)
    assert (small.align, small.runs[0].bold, small.runs[0].width) == ("left", False, 1)


def _docs_fed_in_chunks(data: bytes, size: int):
    parser, builder = ep.EscposParser(), DocumentBuilder()
    docs = []
    for i in range(0, len(data), size):
        docs += builder.apply(parser.feed(data[i:i + size]))
    docs += builder.apply(parser.flush())
    return docs


def test_chunked_feeding_gives_the_same_documents_as_one_piece():
    data = (render(layout_for(sample_receipt("zh")), PrinterOptions())  # with raster images
            + render(layout_for(sample_receipt("ru")), ALL_SCRIPTS)
            + render(layout_for(sample_ticket("zh")), ALL_SCRIPTS))
    whole = parse_documents(data)
    assert len(whole) == 3
    for size in (1, 7, 4096):
        chunked = _docs_fed_in_chunks(data, size)
        assert [d.text_lines for d in chunked] == [d.text_lines for d in whole]
        assert [d.qr_payloads for d in chunked] == [d.qr_payloads for d in whole]
        assert [len(d.images) for d in chunked] == [len(d.images) for d in whole]


def test_a_big_image_split_across_feeds_is_collected_without_rescanning():
    width_bytes, height = 72, 400  # 28 800 bytes of raster: above the collect-across-feeds threshold
    raster = bytes((i * 7) & 0xFF for i in range(width_bytes * height))
    data = bytes.fromhex("1d7630 00") + width_bytes.to_bytes(2, "little") + height.to_bytes(2, "little") + raster
    parser = ep.EscposParser()
    events = []
    for i in range(0, len(data), 4096):
        events += parser.feed(data[i:i + 4096])
    [event] = events
    assert event.value.data == raster


# -- garbage never crashes -----------------------------------------------------------------------
SAMPLE = render(layout_for(sample_receipt("ru")), ALL_SCRIPTS) + render(layout_for(sample_receipt("zh")), ALL_SCRIPTS)


@settings(max_examples=300, deadline=None)
@given(hs.binary(max_size=2048), hs.integers(min_value=1, max_value=64))
def test_random_streams_never_crash_the_parser(data, chunk):
    parser, builder = ep.EscposParser(), DocumentBuilder()
    for i in range(0, len(data), chunk):
        builder.apply(parser.feed(data[i:i + chunk]))
    builder.apply(parser.flush())


@settings(max_examples=300, deadline=None)
@given(hs.lists(hs.tuples(hs.integers(min_value=0, max_value=len(SAMPLE) - 1),
                          hs.integers(min_value=0, max_value=255)), max_size=20),
       hs.integers(min_value=0, max_value=len(SAMPLE)))
def test_mutated_receipts_never_crash_the_parser(mutations, cut_at):
    data = bytearray(SAMPLE[:cut_at] + SAMPLE[cut_at + 3:])
    for index, value in mutations:
        if index < len(data):
            data[index] = value
    parse_documents(bytes(data))
