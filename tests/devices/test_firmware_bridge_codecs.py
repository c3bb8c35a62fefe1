"""Pure codecs of the bridge: CRCs, COBS, MLX90614 words and PEC, link frames and payloads."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge import cobs, crc, link, mlx90614

ROOT = Path(__file__).resolve().parents[2]

# -- CRCs ----------------------------------------------------------------------------------

@pytest.mark.parametrize("fn", [crc.crc16_ccitt_false, crc.crc16_ccitt_false_table])
def test_crc16_ccitt_false_check_value(fn):
    assert fn(b"123456789") == 0x29B1
    assert fn(b"") == 0xFFFF


@given(st.binary(max_size=300))
@settings(max_examples=200, deadline=None)
def test_crc16_table_matches_fast_path_and_residue_is_zero(data):
    value = crc.crc16_ccitt_false_table(data)
    assert value == crc.crc16_ccitt_false(data)
    assert crc.crc16_ccitt_false(data + bytes((value >> 8, value & 0xFF))) == 0


def test_crc8_smbus_check_value():
    assert crc.crc8_smbus(b"123456789") == 0xF4  # CRC-8/SMBUS catalogue check value


# -- COBS ----------------------------------------------------------------------------------

COBS_VECTORS = [  # (decoded, encoded) from the COBS paper / common test tables
    (b"", b"\x01"),
    (b"\x00", b"\x01\x01"),
    (b"\x00\x00", b"\x01\x01\x01"),
    (b"\x00\x11\x00", b"\x01\x02\x11\x01"),
    (b"\x11\x22\x00\x33", b"\x03\x11\x22\x02\x33"),
    (b"\x11\x22\x33\x44", b"\x05\x11\x22\x33\x44"),
    (b"\x11\x00\x00\x00", b"\x02\x11\x01\x01\x01"),
    (bytes(range(1, 255)), b"\xff" + bytes(range(1, 255))),
    (bytes(range(0, 255)), b"\x01\xff" + bytes(range(1, 255))),
    (bytes(range(1, 256)), b"\xff" + bytes(range(1, 255)) + b"\x02\xff"),
    (bytes(range(2, 256)) + b"\x00", b"\xff" + bytes(range(2, 256)) + b"\x01\x01"),
    (bytes(range(3, 256)) + b"\x00\x01", b"\xfe" + bytes(range(3, 256)) + b"\x02\x01"),
]


@pytest.mark.parametrize("decoded,encoded", COBS_VECTORS)
def test_cobs_known_vectors(decoded, encoded):
    assert cobs.encode(decoded) == encoded
    assert cobs.decode(encoded) == decoded


@given(st.binary(max_size=700))
@settings(max_examples=300, deadline=None)
def test_cobs_round_trip_has_no_zero_and_bounded_overhead(data):
    encoded = cobs.encode(data)
    assert b"\x00" not in encoded
    assert len(encoded) <= len(data) + 1 + len(data) // 254
    assert cobs.decode(encoded) == data


@pytest.mark.parametrize("bad", [b"", b"\x05\x11", b"\x02\x00", b"\x03\x11"])
def test_cobs_decode_rejects_malformed(bad):
    with pytest.raises(cobs.CobsError):
        cobs.decode(bad)


# -- MLX90614 ----------------------------------------------------------------------------

PEC_GOLDEN = [
    # Melexis datasheet read example: SA 0x5A, RAM 0x07, LSB 0xD2, MSB 0x3A -> PEC 0x30
    (0x5A, 0x07, 0xD2, 0x3A, 0x30),
    (0x5A, 0x06, 0xD2, 0x3A, 0x26),
    (0x5A, 0x07, 0x80, 0x3C, 0x04),  # 36.61 °C
]


@pytest.mark.parametrize("addr,cmd,lsb,msb,pec", PEC_GOLDEN)
def test_pec_golden_values(addr, cmd, lsb, msb, pec):
    assert mlx90614.pec(addr, cmd, lsb, msb) == pec
    assert mlx90614.check_word(addr, cmd, bytes((lsb, msb, pec))) == lsb | (msb << 8)


def test_pec_of_datasheet_eeprom_write_example():
    # datasheet write example: B4 22 07 C8 -> PEC 0x48 (the same CRC over a write frame)
    assert crc.crc8_smbus(bytes((0xB4, 0x22, 0x07, 0xC8))) == 0x48


def test_wrong_pec_is_rejected():
    with pytest.raises(mlx90614.PecError):
        mlx90614.check_word(0x5A, 0x07, bytes((0xD2, 0x3A, 0x31)))
    with pytest.raises(mlx90614.PecError):
        mlx90614.check_word(0x5A, 0x07, bytes((0xD2, 0x3A)))


def test_36_61_celsius_is_raw_0x3c80_both_ways():
    assert mlx90614.raw_to_celsius(0x3C80) == pytest.approx(36.61, abs=1e-9)
    assert mlx90614.celsius_to_raw(36.61) == 0x3C80
    assert mlx90614.centi(0x3C80) == 3661


def test_error_flag_bit15_gives_no_temperature():
    assert mlx90614.raw_to_celsius(0x8000 | 0x3C80) is None


@given(st.integers(0, 0xFFFF), st.integers(0, 0x7F), st.integers(0, 0xFF), st.integers(0, 0xFF))
@settings(max_examples=300, deadline=None)
def test_any_corrupted_pec_byte_is_rejected(word, addr, cmd, flip):
    data = bytearray(mlx90614.word_bytes(addr, cmd, word))
    assert mlx90614.check_word(addr, cmd, bytes(data)) == word
    if flip:
        data[2] ^= flip
        with pytest.raises(mlx90614.PecError):
            mlx90614.check_word(addr, cmd, bytes(data))


class ScriptedBus:
    def __init__(self, replies):
        self.replies = list(replies)
        self.calls = []

    def readfrom_mem(self, addr, mem, n):
        self.calls.append((addr, mem, n))
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply


def test_sensor_retries_a_bad_pec_then_accepts_a_good_word():
    good = mlx90614.word_bytes(0x5A, 0x07, 0x3C80)
    bus = ScriptedBus([b"\x80\x3c\x00", good])
    assert mlx90614.Sensor(bus).read_word(0x07) == 0x3C80
    assert bus.calls == [(0x5A, 0x07, 3), (0x5A, 0x07, 3)]


def test_sensor_gives_up_after_three_bad_pecs():
    bus = ScriptedBus([b"\x80\x3c\x00"] * 3)
    with pytest.raises(mlx90614.PecError):
        mlx90614.Sensor(bus).read_word(0x07)
    assert len(bus.calls) == 3


def test_sensor_turns_oserror_into_nack():
    with pytest.raises(mlx90614.NackError):
        mlx90614.Sensor(ScriptedBus([OSError(19, "ENODEV")])).read_word(0x06)


def test_sensor_id_reads_eeprom_0x1c_to_0x1f():
    words = [0x0B1E, 0x2A3C, 0x4D5E, 0x6F70]
    bus = ScriptedBus([mlx90614.word_bytes(0x5A, 0x3C + i, w) for i, w in enumerate(words)])
    assert mlx90614.Sensor(bus).sensor_id() == bytes.fromhex("0b1e2a3c4d5e6f70")
    assert [c[1] for c in bus.calls] == [0x3C, 0x3D, 0x3E, 0x3F]


# -- link frames -----------------------------------------------------------------------------

def test_frame_layout_is_cobs_of_header_payload_crc():
    frame = link.encode_frame(1, 5, 0x03, link.pack_measurement(0x3C80, 0x3A00))
    # version 1, seq 5, MEASURE, 12 payload bytes, CRC 0x1808; COBS replaces the zeros
    assert frame == bytes.fromhex("080105030c3c803a0101030e4d0105094d180800")
    assert link.decode_frame(frame[:-1]) == (1, 5, 0x03, bytes.fromhex("3c803a0000000e4d0000094d"))


def test_frame_with_a_wrong_length_byte_is_dropped():
    body = bytes((1, 5, 0x03, 11)) + link.pack_measurement(0x3C80, 0x3A00)
    c = crc.crc16_ccitt_false(body)
    assert link.decode_frame(cobs.encode(body + bytes((c >> 8, c & 0xFF)))) is None


def test_frame_extended_by_a_zero_byte_is_dropped():
    # a delimiter damaged into 0x01 appends one 0x00; the CRC alone would still pass it
    frame = bytearray(link.encode_frame(1, 0, 7, link.pack_measurement(0, 0)))
    frame[-1] = 0x01
    assert link.decode_frame(bytes(frame)) is None


def test_measurement_payload_carries_raw_and_hundredths():
    payload = link.pack_measurement(0x3C80, 0x3A00)
    assert link.unpack_measurement(payload) == (0x3C80, 0x3A00, 3661, mlx90614.centi(0x3A00))


def test_hello_reply_carries_version_and_dictionary():
    version, dictionary = link.unpack_hello_reply(link.pack_hello_reply(1))
    assert version == 1
    assert dictionary == dict(link.MESSAGES)
    assert dictionary["HELLO"] == link.HELLO


def test_identify_payload_round_trip():
    payload = link.pack_identify((1, 2, 3), 1, 0, bytes.fromhex("0b1e2a3c4d5e6f70"), 0xFFFF)
    assert link.unpack_identify(payload) == ((1, 2, 3), 1, 0, bytes.fromhex("0b1e2a3c4d5e6f70"), 0xFFFF)


def test_error_payload_round_trip():
    assert link.unpack_error(link.pack_error(link.PEC_ERROR, 7, "PEC mismatch")) == (1, 7, "PEC mismatch")
    assert link.ERROR_NAMES[link.SENSOR_ERROR] == "sensor_error"


@pytest.mark.parametrize("fn,payload", [
    (link.unpack_measurement, b"\x01\x02"),
    (link.unpack_identify, b"\x01"),
    (link.unpack_stream, b""),
    (link.unpack_error, b"\x01"),
    (link.unpack_hello_reply, b"\x01NAME"),
])
def test_short_or_malformed_payloads_raise_payload_error(fn, payload):
    with pytest.raises(link.PayloadError):
        fn(payload)


def _frames(n=3):
    return [link.encode_frame(1, i + 1, 0x07, link.pack_measurement(0x3C80 + i, 0x3A00)) for i in range(n)]


def test_decoder_resyncs_after_garbage_and_drops_a_bad_crc_frame():
    good = _frames(2)
    bad = bytearray(good[0])
    bad[4] ^= 0x01  # one bit inside the payload
    d = link.FrameDecoder()
    out = d.feed(b"\x13\x37garbage\x00" + bytes(bad) + good[0] + good[1][:4])
    out += d.feed(good[1][4:])
    assert [f[1] for f in out] == [1, 2]
    assert d.dropped == 2  # the garbage run and the corrupted frame


def test_decoder_discards_an_overlong_run_without_delimiter():
    d = link.FrameDecoder()
    assert d.feed(b"\x01" * (link.MAX_ENCODED + 50)) == []
    assert d.feed(b"\x02" * 100) == []
    out = d.feed(b"\x00" + _frames(1)[0])
    assert [f[1] for f in out] == [1]
    assert d.dropped == 1


def test_decoder_splits_frames_fed_one_byte_at_a_time():
    stream = b"".join(_frames(3))
    d = link.FrameDecoder()
    out = []
    for b in stream:
        out += d.feed(bytes((b,)))
    assert [f[1] for f in out] == [1, 2, 3]


@given(st.binary(max_size=600))
@settings(max_examples=300, deadline=None)
def test_random_bytes_never_raise_and_only_crc_valid_frames_come_out(data):
    d = link.FrameDecoder()
    for version, seq, mid, payload in d.feed(data) + d.feed(b"\x00"):
        body = bytes((version, seq, mid)) + payload
        c = crc.crc16_ccitt_false(body)
        assert link.encode_frame(version, seq, mid, payload)[:-1] in data
        assert c == crc.crc16_ccitt_false_table(body)


@given(st.lists(st.tuples(st.integers(0, 0x7FFF), st.integers(0, 0x7FFF)), min_size=1, max_size=8),
       st.data())
@settings(max_examples=300, deadline=None)
def test_mutated_streams_never_yield_a_reading_that_was_not_sent(values, data):
    sent = [link.encode_frame(1, i, 0x07, link.pack_measurement(o, a)) for i, (o, a) in enumerate(values)]
    stream = bytearray(b"".join(sent))
    for _ in range(data.draw(st.integers(1, 4))):  # flip, insert or delete bytes anywhere
        pos = data.draw(st.integers(0, len(stream) - 1))
        op = data.draw(st.sampled_from(["flip", "insert", "delete"]))
        if op == "flip":
            stream[pos] ^= data.draw(st.integers(1, 255))
        elif op == "insert":
            stream.insert(pos, data.draw(st.integers(0, 255)))
        else:
            del stream[pos]
    genuine = {(1, i, 0x07, link.pack_measurement(o, a)) for i, (o, a) in enumerate(values)}
    d = link.FrameDecoder()
    frames = d.feed(bytes(stream)) + d.feed(b"\x00")
    for frame in frames:
        assert frame in genuine  # a damaged frame is dropped, never decoded into other values


# -- MicroPython compatibility guard ---------------------------------------------------------

FIRMWARE_FILES = ["firmware_bridge/__init__.py", "firmware_bridge/cobs.py", "firmware_bridge/crc.py",
                  "firmware_bridge/link.py", "firmware_bridge/mlx90614.py",
                  "firmware_bridge/firmware/main.py", "firmware_bridge/firmware/hardware.py"]
MICROPYTHON_MODULES = {"struct", "sys", "time", "binascii", "machine", "hardware", "firmware_bridge"}


@pytest.mark.parametrize("path", FIRMWARE_FILES)
def test_firmware_files_use_only_what_micropython_has(path):
    tree = ast.parse((ROOT / path).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative imports break the flat board layout"
            names = [node.module]
        else:
            assert not isinstance(node, ast.AnnAssign), f"{path}: annotations need typing at runtime"
            continue
        for name in names:
            assert name.split(".")[0] in MICROPYTHON_MODULES, f"{path} imports {name}"
    source = (ROOT / path).read_text()
    for banned in ("dataclass", "typing", "enum", "__future__", "from_bytes", "to_bytes"):
        assert banned not in source, f"{path} uses {banned}"
