"""Alpha Sign Communications Protocol: golden packets, decoder tables, properties of the stream."""
from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from devices.display import alpha
from devices.display.sim import AlphaSigns, Shown

SYNC = b"\x00" * 5

# (what, bytes from the encoder, the packet written out by hand, checksum worked by hand)
GOLDEN = [
    (
        "write TEXT '12' to sign 01, middle line, hold",
        alpha.write_text("12", address="01"),
        SYNC + b"\x01Z01\x02AA\x1b\x20b12\x03" + b"0187" + b"\x04",
        # STX 02 + 'A' 41 + 'A' 41 + ESC 1B + pos 20 + 'b' 62 + '1' 31 + '2' 32 + ETX 03
        # = 2+65+65+27+32+98+49+50+3 = 391 = 0x0187
        0x0187,
    ),
    (
        "write TEXT 'A7' to all signs, fill, flash",
        alpha.write_text("A7", address="00", position="fill", mode="flash"),
        SYNC + b"\x01Z00\x02AA\x1b\x30cA7\x03" + b"01AD" + b"\x04",
        # STX 02 + 'A' 41 + 'A' 41 + ESC 1B + pos 30 + 'c' 63 + 'A' 41 + '7' 37 + ETX 03
        # = 2+65+65+27+48+99+65+55+3 = 429 = 0x01AD
        0x01AD,
    ),
    (
        "read serial error status of sign 01 (the health check)",
        alpha.read_serial_error_status("01"),
        SYNC + b"\x01Z01\x02F*\x03" + b"0075" + b"\x04",
        # 2 + 'F' 70 + '*' 42 + 3 = 117 = 0x0075
        0x0075,
    ),
    (
        "a sign's reply: status register 0x40 (no errors)",
        alpha.serial_error_status_reply(0),
        SYNC + b"\x01000\x02E*@\x03" + b"00B4" + b"\x04",
        # 2 + 'E' 69 + '*' 42 + '@' 64 + 3 = 180 = 0x00B4
        0x00B4,
    ),
]


@pytest.mark.parametrize("what,encoded,expected,total", GOLDEN, ids=[g[0] for g in GOLDEN])
def test_encoder_writes_the_packet_worked_out_by_hand(what, encoded, expected, total):
    assert encoded == expected
    segment = expected[expected.index(b"\x02"):expected.index(b"\x03") + 1]
    assert sum(segment) == total
    assert alpha.checksum(segment) == b"%04X" % total


def test_checksum_is_the_byte_sum_modulo_65536_in_uppercase_hex():
    segment = b"\x02A" + b"\xff" * 300 + b"\x03"  # 2 + 65 + 76500 + 3 = 76570 -> 76570 - 65536 = 11034
    assert alpha.checksum(segment) == b"2B1A"
    assert alpha.checksum(b"\x02\x03") == b"0005"


def test_a_packet_whose_sum_wraps_past_65536_still_decodes():
    segment = b"\x02A" + b"\xff" * 300 + b"\x03"
    packet = SYNC + b"\x01Z01" + segment + alpha.checksum(segment) + b"\x04"
    assert alpha.AlphaDecoder().feed(packet) == [alpha.AlphaPacket("Z", "01", "A", b"\xff" * 300)]


@pytest.mark.parametrize("text,sent", [
    ("A023 → 12", b"A023 -> 12"),
    ("Café – room 5", b"Cafe - room 5"),
    ("№ 7 «Lab»", b'No 7 "Lab"'),
    ("Ärztin Müller", b"Arztin Muller"),
    ("B 042\u00a0\u2192\u00a012", b"B 042 -> 12"),
])
def test_text_is_transliterated_to_ascii(text, sent):
    packet = alpha.write_text(text, address="01")
    assert alpha.parse_text_file(alpha.AlphaDecoder().feed(packet)[0].data).text == sent.decode()


@pytest.mark.parametrize("text,word", [
    ("Кабинет 12", "U+041A"),
    ("诊室 3", "U+8BCA"),
    ("line\nbreak", "control character"),
    ("\x03 ETX inside", "control character"),
])
def test_text_the_sign_cannot_show_is_refused_with_the_character_named(text, word):
    with pytest.raises(alpha.AlphaEncodeError) as err:
        alpha.write_text(text, address="01")
    assert word in str(err.value) and "ASCII" in str(err.value)


def test_overlong_text_and_bad_settings_are_refused():
    with pytest.raises(alpha.AlphaEncodeError, match="at most 125"):
        alpha.write_text("9" * 126)
    with pytest.raises(alpha.AlphaEncodeError, match="position"):
        alpha.write_text("1", position="left")
    with pytest.raises(alpha.AlphaEncodeError, match="mode"):
        alpha.write_text("1", mode="sparkle")
    with pytest.raises(alpha.AlphaEncodeError, match="two hex digits"):
        alpha.write_text("1", address="1G")


@pytest.mark.parametrize("given_,normalized", [("1", "01"), (1, "01"), ("0a", "0A"), (10, "10"), (None, "00")])
def test_addresses_are_two_uppercase_hex_digits(given_, normalized):
    assert alpha.normalize_address(given_) == normalized


# -- decoder tables ------------------------------------------------------------------------------
GOOD = alpha.write_text("A023", address="02", mode="flash")
BAD_SUM = GOOD[:-5] + b"0000" + b"\x04"


@pytest.mark.parametrize("stream,expected", [
    (GOOD, [alpha.AlphaPacket("Z", "02", "A", b"A\x1b\x20cA023")]),
    (b"\x00\x00" + GOOD[5:], [alpha.AlphaPacket("Z", "02", "A", b"A\x1b\x20cA023")]),  # fewer NULs: still read
    (BAD_SUM, [alpha.AlphaReject("checksum mismatch", "02")]),
    (b"xyz" + GOOD, [alpha.AlphaReject("bytes outside a packet"), alpha.AlphaPacket("Z", "02", "A", b"A\x1b\x20cA023")]),
    (GOOD[:15] + GOOD, [alpha.AlphaReject("packet cut short by a new SOH", "02"),
                        alpha.AlphaPacket("Z", "02", "A", b"A\x1b\x20cA023")]),
    (SYNC + b"\x01Z01\x02AA\x03\x04" + GOOD, [alpha.AlphaReject("missing checksum", "01"),
                                               alpha.AlphaPacket("Z", "02", "A", b"A\x1b\x20cA023")]),
    (SYNC + b"\x01Zx1\x02" + GOOD, [alpha.AlphaReject("malformed header"), alpha.AlphaReject("bytes outside a packet"),
                                    alpha.AlphaPacket("Z", "02", "A", b"A\x1b\x20cA023")]),
    (GOOD[:-1] + b"X" + GOOD, [alpha.AlphaReject("no EOT after checksum", "02"), alpha.AlphaReject("bytes outside a packet"),
                               alpha.AlphaPacket("Z", "02", "A", b"A\x1b\x20cA023")]),
])
def test_decoder_table(stream, expected):
    assert alpha.AlphaDecoder().feed(stream) == expected


def test_nested_segments_in_one_packet_each_carry_their_own_checksum():
    one, two = b"\x02AA\x1b\x20b1\x03", b"\x02F*\x03"
    packet = SYNC + b"\x01Z05" + one + alpha.checksum(one) + two + alpha.checksum(two) + b"\x04"
    assert alpha.AlphaDecoder().feed(packet) == [
        alpha.AlphaPacket("Z", "05", "A", b"A\x1b\x20b1"), alpha.AlphaPacket("Z", "05", "F", b"*")]


def test_a_packet_split_across_reads_decodes_once_complete():
    decoder = alpha.AlphaDecoder()
    stream = GOOD + alpha.read_serial_error_status("02")
    got = []
    for i in range(len(stream)):
        got += decoder.feed(stream[i:i + 1])
    assert got == [alpha.AlphaPacket("Z", "02", "A", b"A\x1b\x20cA023"), alpha.AlphaPacket("Z", "02", "F", b"*")]


def test_garbage_without_etx_is_dropped_once_past_the_bound():
    decoder = alpha.AlphaDecoder(max_packet=64)
    assert decoder.feed(SYNC + b"\x01Z01\x02A" + b"x" * 100) == [alpha.AlphaReject("packet too long", "01")]
    assert decoder.feed(GOOD) == [alpha.AlphaPacket("Z", "02", "A", b"A\x1b\x20cA023")]


@pytest.mark.parametrize("data,status", [(b"*@", 0x40), (b"*P", 0x50), (b"*\x00", None), (b"$", None)])
def test_status_replies_are_recognised(data, status):
    assert alpha.parse_serial_error_status(alpha.AlphaPacket("0", "00", "E", data)) == status


def test_describe_status_names_the_error_bits():
    assert alpha.describe_status(0x40) == "no errors"
    assert alpha.describe_status(0x40 | alpha.STATUS_CHECKSUM | alpha.STATUS_PARITY) == "parity, checksum"


# -- the simulated signs ----------------------------------------------------------------------------
def test_signs_keep_what_each_address_shows_and_answer_only_their_own_reads():
    signs = AlphaSigns("01,02")
    assert signs.receive(alpha.write_text("A023 -> 12", address="01")) == b""
    assert signs.receive(alpha.write_text("B7", address="02", mode="flash", position="top")) == b""
    assert signs.shows("01") == Shown("A023 -> 12", "hold", "middle")
    assert signs.shows("02") == Shown("B7", "flash", "top")
    assert signs.receive(alpha.read_serial_error_status("02")) == alpha.serial_error_status_reply(0)
    assert signs.receive(alpha.read_serial_error_status("03")) == b""  # nobody there
    assert signs.receive(alpha.read_serial_error_status("00")) == b""  # two signs would collide


def test_broadcast_write_reaches_every_sign_and_not_even_a_lone_sign_answers_a_broadcast_read():
    signs = AlphaSigns("01,02")
    signs.receive(alpha.write_text("CLOSED", address="00"))
    assert signs.shows("01").text == signs.shows("02").text == "CLOSED"
    # Signs addressed by broadcast never answer (issue 9): the driver treats 00 as one-way.
    assert AlphaSigns("07").receive(alpha.read_serial_error_status("00")) == b""
    assert AlphaSigns("07").receive(alpha.read_serial_error_status("07")) == alpha.serial_error_status_reply(0)


def test_a_checksum_error_is_reported_once_by_the_status_register():
    signs = AlphaSigns("01")
    signs.receive(BAD_SUM.replace(b"Z02", b"Z01"))
    assert signs.receive(alpha.read_serial_error_status("01")) == alpha.serial_error_status_reply(alpha.STATUS_CHECKSUM)
    assert signs.receive(alpha.read_serial_error_status("01")) == alpha.serial_error_status_reply(0)


def test_read_text_is_answered_with_the_file_as_a_write():
    signs = AlphaSigns("01")
    signs.receive(alpha.write_text("C19", address="01"))
    reply = alpha.AlphaDecoder().feed(signs.receive(alpha.read_text("01")))
    assert reply == [alpha.AlphaPacket("0", "00", "A", b"A\x1b\x20bC19")]


# -- properties --------------------------------------------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=64), max_size=20))
def test_random_streams_never_raise_and_every_packet_has_a_good_checksum(chunks):
    decoder = alpha.AlphaDecoder()
    for chunk in chunks:
        for item in decoder.feed(chunk):
            assert isinstance(item, (alpha.AlphaPacket, alpha.AlphaReject))


PRINTABLE = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)


@settings(max_examples=300, deadline=None)
@given(PRINTABLE, st.sampled_from(["01", "02", "1F"]), st.sampled_from(list(alpha.POSITIONS)),
       st.sampled_from(list(alpha.MODES)), st.integers(1, 8))
def test_any_ascii_text_round_trips_through_encoder_and_decoder(text, address, position, mode, step):
    packet = alpha.write_text(text, address=address, position=position, mode=mode)
    decoder, got = alpha.AlphaDecoder(), []
    for i in range(0, len(packet), step):
        got += decoder.feed(packet[i:i + step])
    assert len(got) == 1 and got[0].address == address
    assert alpha.parse_text_file(got[0].data) == alpha.TextFile("A", text, position, mode)


def _declared_and_actual(packet: bytes) -> tuple[bytes, int] | None:
    stx, etx = packet.find(b"\x02"), packet.find(b"\x03")
    if stx < 0 or etx < stx:
        return None
    return packet[etx + 1:etx + 5], sum(packet[stx:etx + 1]) & 0xFFFF


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789ABCDEF -", min_size=1, max_size=20), st.data())
def test_a_packet_with_a_wrong_checksum_never_changes_what_a_board_shows(text, data):
    signs = AlphaSigns("01,02")
    signs.receive(alpha.write_text("BEFORE", address="01"))
    before = (signs.shows("01"), signs.shows("02"))
    packet = bytearray(alpha.write_text(text, address="01", mode="flash"))
    # Corrupt one byte between the header and the checksum, or the checksum itself.
    index = data.draw(st.integers(6, len(packet) - 2), label="index")
    value = data.draw(st.integers(0, 255).filter(lambda v: v != packet[index]), label="value")
    packet[index] = value
    checked = _declared_and_actual(bytes(packet))
    assume(checked is not None)
    declared, actual = checked
    assume(declared != b"%04X" % actual)  # a transposition-free change the sum can see
    noise = data.draw(st.binary(max_size=8).filter(lambda b: b"\x01" not in b), label="noise")
    signs.receive(noise + bytes(packet))
    assert (signs.shows("01"), signs.shows("02")) == before
