"""Layouts -> ESC/POS bytes: golden byte sequences and round trips through the simulator's parser."""
from __future__ import annotations

import pytest

from devices.errors import BadDeviceURL
from devices.printer import escpos_parser as ep
from devices.printer.document import parse_documents
from devices.printer.layout import (LANGS, BigNumber, Cut, QrCode, Separator, Text, layout_for, mask_name,
                                    sample_receipt, sample_ticket)
from devices.printer.options import PrinterOptions
from devices.printer.render import TextEncoder, render, wrap_cells

ESC_INIT = bytes.fromhex("1b40")
ALL_SCRIPTS = PrinterOptions.from_mapping({"scripts": "latin,cyrillic,cjk"})


def _opts(**kw) -> PrinterOptions:
    return PrinterOptions.from_mapping(kw)


# -- golden bytes ------------------------------------------------------------------------------
def test_russian_text_selects_pc866_with_esc_t_17_then_sends_cp866_bytes():
    data = render([Text("Кабинет 214")], _opts())
    assert data == ESC_INIT + bytes.fromhex("1b7411") + "Кабинет 214".encode("cp866") + b"\n"
    assert data == bytes.fromhex("1b40 1b7411 8aa0a1a8ada5e2 20 323134 0a")


@pytest.mark.parametrize("profile, page", [("default", 0x11), ("TM-T88V", 0x11), ("RP326", 0x07),
                                           ("TSP600", 0x0A)])
def test_cyrillic_code_page_number_comes_from_the_printer_profile(profile, page):
    data = render([Text("Врач")], _opts(profile=profile))
    assert bytes((0x1B, 0x74, page)) + "Врач".encode("cp866") in data


def test_cyrillic_code_page_option_overrides_the_profile():
    data = render([Text("Врач")], _opts(cyrillic_codepage="7"))
    assert bytes.fromhex("1b7407") + "Врач".encode("cp866") in data
    assert b"\x1b\x74\x11" not in data


def test_chinese_is_sent_as_gb18030_inside_fs_ampersand_and_fs_dot():
    data = render([Text("诊室")], ALL_SCRIPTS)
    assert data == ESC_INIT + bytes.fromhex("1c26") + "诊室".encode("gb18030") + b"\n" + bytes.fromhex("1c2e")
    assert data == bytes.fromhex("1b40 1c26 d5efcad2 0a 1c2e")


def test_double_byte_mode_is_left_before_cyrillic_and_latin():
    data = render([Text("诊室 Кабинет"), Text("诊室 Room")], ALL_SCRIPTS)
    gb, cyr = "诊室".encode("gb18030"), "Кабинет".encode("cp866")
    assert bytes.fromhex("1c26") + gb + b" " + bytes.fromhex("1c2e 1b7411") + cyr + b"\n" in data
    assert bytes.fromhex("1c26") + gb + b" " + bytes.fromhex("1c2e") + b"Room\n" in data


def test_latin_needs_no_code_page_switch_and_accented_latin_uses_page_0():
    assert render([Text("Room 214")], _opts()) == ESC_INIT + b"Room 214\n"
    data = render([Text("Врач «Café»")], _opts())
    # « » é are not in PC866: back to the default page (PC437) for them, then PC866 again
    assert data == (ESC_INIT + bytes.fromhex("1b7411") + "Врач ".encode("cp866") + bytes.fromhex("1b7400")
                    + "«Café»".encode("cp437") + b"\n")


def test_native_qr_store_and_print_sequences_carry_the_booking_code():
    data = render([QrCode("BK-7F3K2Q", module_size=6)], _opts())
    code = b"BK-7F3K2Q"
    store = bytes.fromhex("1d286b") + bytes((len(code) + 3, 0)) + bytes.fromhex("315030") + code
    expected = (bytes.fromhex("1b6101")  # centred
                + bytes.fromhex("1d286b 0400 3141 3200")  # model 2
                + bytes.fromhex("1d286b 0300 3143 06")  # module size 6
                + bytes.fromhex("1d286b 0300 3145 31")  # error correction M
                + store
                + bytes.fromhex("1d286b 0300 3151 30"))  # print the symbol
    assert data == ESC_INIT + expected
    assert b"\x1dv0" not in data  # a native symbol, not an image


def test_cut_at_the_end_is_gs_v_partial_or_full():
    assert render([Text("x"), Cut()], _opts()).endswith(bytes.fromhex("1b6406 1d5601"))
    assert render([Text("x"), Cut()], _opts(cut="full")).endswith(bytes.fromhex("1b6406 1d5600"))


def test_big_number_uses_gs_exclamation_character_size():
    data = render([BigNumber("A023")], _opts())
    assert data == ESC_INIT + bytes.fromhex("1b6101 1b4501 1d2144") + b"A023\n"


def test_every_sample_ends_with_a_cut_and_has_a_native_qr_for_receipts():
    for lang in LANGS:
        receipt = render(layout_for(sample_receipt(lang)), ALL_SCRIPTS)
        assert bytes.fromhex("1d286b0c00315030") + b"BK-7F3K2Q" in receipt
        assert receipt.rstrip(b"\x1c\x2e").endswith(bytes.fromhex("1d5601"))
        ticket = render(layout_for(sample_ticket(lang)), ALL_SCRIPTS)
        assert ticket.rstrip(b"\x1c\x2e").endswith(bytes.fromhex("1d5601"))


# -- no Cyrillic bytes inside double-byte mode, ever ---------------------------------------------
def _spans_in_kanji_mode(data: bytes) -> list[bytes]:
    """Text sent while FS & was on, according to the parser."""
    parser = ep.EscposParser()
    spans, kanji = [], False
    for kind, value in parser.feed(data) + parser.flush():
        if kind == ep.KANJI:
            kanji = value
        elif kind == ep.TEXT and kanji:
            spans.append(value)
    return spans


@pytest.mark.parametrize("lang", LANGS)
def test_text_sent_in_double_byte_mode_is_only_cjk_digits_and_punctuation(lang):
    for doc in (sample_ticket(lang), sample_receipt(lang)):
        data = render(layout_for(doc), ALL_SCRIPTS)
        for span in _spans_in_kanji_mode(data):
            assert not any(ch.isalpha() and ord(ch) < 0x3000 for ch in span), span


# -- round trips through the simulator's parser ---------------------------------------------------
def _expected_lines(blocks, columns=48) -> list[str]:
    lines = []
    for b in blocks:
        if isinstance(b, Text):
            width = {"normal": 1, "tall": 1, "double": 2, "big": 4}[b.size]
            lines += [line for line in wrap_cells(b.text, columns // width) if line.strip()]
        elif isinstance(b, BigNumber):
            lines.append(b.text)
        elif isinstance(b, Separator):
            lines.append(b.char * columns)
    return lines


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("kind", ["ticket", "receipt"])
def test_sample_bytes_decode_back_to_the_layout_text(kind, lang):
    doc = sample_receipt(lang) if kind == "receipt" else sample_ticket(lang)
    blocks = layout_for(doc)
    docs = parse_documents(render(blocks, ALL_SCRIPTS))
    assert len(docs) == 1
    printed = docs[0]
    assert printed.text_lines == _expected_lines(blocks)
    assert printed.cut == "partial"
    assert printed.images == []
    if kind == "receipt":
        assert printed.qr_payloads == [doc.booking_code]


def test_russian_receipt_text_matches_known_lines():
    printed = parse_documents(render(layout_for(sample_receipt("ru")), _opts()))[0]
    assert "Пациент: Иванов И." in printed.text_lines
    assert "Кабинет 214, этаж 2" in printed.text_lines
    assert "Сначала пройдите в регистратуру" in printed.text_lines
    assert "Код записи: BK-7F3K2Q" in printed.text_lines


# -- bitmap fallback --------------------------------------------------------------------------------
def test_script_without_a_printer_font_is_printed_as_a_raster_image():
    data = render([Text("诊室 214"), Text("Room 214")], _opts(scripts="latin,cyrillic"))
    assert b"\x1c\x26" not in data  # never double-byte mode on a printer without the font
    assert "诊室".encode("gb18030") not in data
    printed = parse_documents(data)[0]
    assert printed.text_lines == ["Room 214"]
    [image] = printed.images
    assert image.kind == "raster" and image.width == 576 and 20 <= image.height <= 60
    assert any(image.data)  # something black was drawn


def test_cyrillic_on_a_printer_without_cyrillic_font_becomes_an_image():
    data = render([Text("Кабинет")], _opts(scripts="latin"))
    assert b"\x1b\x74" not in data and b"\x1dv0" in data


def test_chinese_receipt_on_default_printer_keeps_latin_lines_as_text_and_draws_the_rest():
    printed = parse_documents(render(layout_for(sample_receipt("zh")), _opts()))[0]
    assert "B105" in printed.text_lines
    assert printed.qr_payloads == ["BK-7F3K2Q"]
    assert len(printed.images) >= 8


# -- pieces ------------------------------------------------------------------------------------------
def test_wrapping_counts_cjk_as_two_cells_and_breaks_at_spaces():
    assert wrap_cells("aaa bbb ccc", 7) == ["aaa bbb", "ccc"]
    assert wrap_cells("诊室诊室诊室", 8) == ["诊室诊室", "诊室"]
    assert wrap_cells("abcdefghij", 4) == ["abcd", "efgh", "ij"]


def test_encoder_state_does_not_advance_when_a_line_needs_a_bitmap():
    enc = TextEncoder(_opts())
    assert enc.encode("诊室") is None
    assert enc.state.page == 0 and not enc.state.kanji
    assert enc.encode("Врач") == bytes.fromhex("1b7411") + "Врач".encode("cp866")
    assert enc.state.page == 0x11


def test_mask_name_keeps_surname_and_initial_only():
    assert mask_name("Иванов Иван Иванович") == "Иванов И."
    assert mask_name("王小明") == "王**"
    assert mask_name("John Smith") == "John S."


def test_bad_printer_options_name_the_option():
    with pytest.raises(BadDeviceURL, match="scripts"):
        PrinterOptions.from_mapping({"scripts": "latin,klingon"})
    with pytest.raises(BadDeviceURL, match="cyrillic_codepage"):
        PrinterOptions.from_mapping({"cyrillic_codepage": "x"})
    with pytest.raises(BadDeviceURL, match="profile"):
        PrinterOptions.from_mapping({"profile": "NoSuchPrinter"})


def test_a_first_visit_receipt_puts_registration_first_and_large_then_the_doctor():
    from devices.printer.layout import receipt_layout, route_note_text
    blocks = receipt_layout(sample_receipt("ru"))  # the sample is a first visit
    texts = [b for b in blocks if isinstance(b, Text)]
    note = route_note_text("registration_first", "ru")
    first = next(i for i, b in enumerate(texts) if b.text == note)
    doctor = next(i for i, b in enumerate(texts) if b.text.startswith("Врач:"))
    room = next(b for b in texts if b.text.startswith("Кабинет 214"))
    assert first < doctor and texts[first].size == "tall" and room.size == "normal"
