"""Thermometer decoder throughput, as a multiple of the serial line rate (goal: >= 200x).

Assumed line: 115200 baud 8N1 = 10 bits per byte -> 11520 B/s, for both the bridge board
(our firmware's UART) and the Optris CT (its factory default). Streams are fed in
serial-read-sized chunks (64 bytes). Figures are the median of 5 runs.

Bridge: 60,000 READING frames (COBS + CRC-16 + length check, then raw words -> °C) with bursts
of garbage and one frame in 50 damaged in place; measured three ways:
  codec     link.FrameDecoder + unpack_measurement + raw_to_celsius (the pure decoder)
  host      devices.thermometer.bridge_host.BridgeLink.poll over an in-memory port (Measurement objects)
  table-crc the codec with the pure-Python table CRC the firmware uses (no binascii.crc_hqx)
Optris: 200,000 two-byte temperature replies, decoded one reply at a time (as the driver
does) and in bulk (captures).
"""
from __future__ import annotations

import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devices.thermometer import optris  # noqa: E402
from firmware_bridge import crc, link, mlx90614  # noqa: E402
from devices.thermometer.bridge_host import BridgeLink, Measurement  # noqa: E402

LINE_RATE = 115200 / 10  # bytes per second, 8N1
CHUNK = 64
RUNS = 5
READING = dict(link.MESSAGES)["READING"]


def bridge_stream(frames: int, rng: random.Random) -> tuple[bytes, int, int]:
    out = bytearray()
    good = bursts = 0
    obj = mlx90614.celsius_to_raw(36.6)
    for i in range(frames):
        obj = max(10000, min(0x7FFF, obj + rng.randint(-3, 3)))
        frame = bytearray(link.encode_frame(1, i & 0xFF, READING, link.pack_measurement(obj, 14757)))
        if i % 50 == 49:
            frame[rng.randrange(len(frame) - 1)] ^= 1 << rng.randrange(8)  # damaged in place
        else:
            good += 1
        out += frame
        if i % 200 == 199:
            out += bytes(rng.randrange(256) for _ in range(rng.randint(1, 40)))  # line noise
            bursts += 1
    return bytes(out), good, bursts


def chunks(data: bytes) -> list[bytes]:
    return [data[i:i + CHUNK] for i in range(0, len(data), CHUNK)]


def decode_codec(parts: list[bytes]) -> int:
    decoder = link.FrameDecoder()
    n = 0
    for part in parts:
        for _version, _seq, mid, payload in decoder.feed(part):
            if mid == READING and len(payload) == 12:
                obj, amb, _, _ = link.unpack_measurement(payload)
                if mlx90614.raw_to_celsius(obj) is not None and mlx90614.raw_to_celsius(amb) is not None:
                    n += 1
    return n


class MemoryPort:
    """Just enough of pyserial for BridgeLink.poll: hands out the stream in chunks."""

    timeout = 0.0

    def __init__(self, parts: list[bytes]):
        self.parts = parts
        self.i = 0

    @property
    def in_waiting(self) -> int:
        return len(self.parts[self.i]) if self.i < len(self.parts) else 0

    def read(self, n: int) -> bytes:
        if self.i >= len(self.parts):
            return b""
        self.i += 1
        return self.parts[self.i - 1]


def decode_host(parts: list[bytes]) -> int:
    bridge = BridgeLink(MemoryPort(parts), clock=lambda: 0.0, wall=lambda: 0.0)
    n = 0
    port = bridge.port
    while port.i < len(parts):
        for frame in bridge._receive(1.0):
            bridge._dispatch(frame, pending=None)
        for event in bridge.events:
            if type(event) is Measurement:
                n += 1
        bridge.events.clear()
    return n


def decode_table_crc(parts: list[bytes]) -> int:
    fast = link.crc16_ccitt_false
    link.crc16_ccitt_false = crc.crc16_ccitt_false_table
    try:
        return decode_codec(parts)
    finally:
        link.crc16_ccitt_false = fast


def optris_single(replies: list[bytes]) -> int:
    decode = optris.decode_temperature
    n = 0
    for r in replies:
        decode(r)
        n += 1
    return n


def optris_bulk(data: bytes) -> int:
    return len(optris.decode_temperatures(data))


def measure(fn, arg, nbytes: int, expect: int) -> float:
    rates = []
    for _ in range(RUNS):
        start = time.perf_counter()
        got = fn(arg)
        elapsed = time.perf_counter() - start
        assert got == expect, (fn.__name__, got, expect)
        rates.append(nbytes / elapsed)
    return statistics.median(rates)


def main() -> int:
    rng = random.Random(20240611)
    stream, sent_good, bursts = bridge_stream(60_000, rng)
    parts = chunks(stream)
    # noise with no 0x00 in it runs into the next frame, which is then dropped too
    good = decode_codec(parts)
    assert sent_good - bursts <= good <= sent_good, (good, sent_good, bursts)
    values = [rng.randint(1200, 1500) for _ in range(200_000)]
    replies = [v.to_bytes(2, "big") for v in values]
    optris_data = b"".join(replies)

    print(f"line rate assumed: 115200 baud 8N1 = {LINE_RATE:.0f} B/s; chunks of {CHUNK} bytes; "
          f"median of {RUNS} runs")
    rows = [
        ("bridge codec (COBS+CRC+length, raw->°C)", measure(decode_codec, parts, len(stream), good)),
        ("bridge host (BridgeLink, Measurement objects)", measure(decode_host, parts, len(stream), good)),
        ("bridge codec, table CRC (firmware's path)", measure(decode_table_crc, parts, len(stream), good)),
        ("optris, one reply at a time", measure(optris_single, replies, len(optris_data), len(replies))),
        ("optris, bulk", measure(optris_bulk, optris_data, len(optris_data), len(replies))),
    ]
    print(f"bridge stream: {len(stream)} bytes, {sent_good} intact frames sent, {good} decoded "
          f"({bursts} noise bursts, each may take the next frame with it; damaged frames dropped)")
    ok = True
    for name, rate in rows:
        ratio = rate / LINE_RATE
        print(f"{name:48s} {rate / 1e6:7.2f} MB/s  {ratio:8.0f}x line rate")
        if "table CRC" not in name:  # informative: the host always has binascii.crc_hqx
            ok = ok and ratio >= 200
    print("goal >= 200x:", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
