"""Oximeter decoder throughput, as a multiple of each protocol's line rate (goal: >= 200x).

Streams are 30 simulated minutes each: drifting SpO2/pulse, a pleth wave, finger-out spells,
identity answers (Contec), bursts of random garbage between packets and bytes damaged in place.
They are fed in serial-read-sized chunks.
Line rates: Contec 115200 8N1 -> 11520 B/s; Nonin 9600 8N1 -> 960 B/s.
"""
from __future__ import annotations

import math
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devices.oximeter import contec, nonin  # noqa: E402
from devices.oximeter.contec import ContecDecoder  # noqa: E402
from devices.oximeter.nonin import NoninDecoder  # noqa: E402

MINUTES = 30
GOAL = 200
CHUNKS = (64, 4096)  # a byte-trickle read and a busy-port read
LINE_RATES = {"contec": 115200 / 10, "nonin": 9600 / 10}  # 8N1: 10 bits per byte


def _garbage(rng: random.Random) -> bytes:
    return bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 40)))


def _noise(rng: random.Random, stream: bytes, every: int = 5000) -> bytes:
    """Line noise: about one byte in `every` damaged in place, so some packets are lost."""
    damaged = bytearray(stream)
    for _ in range(len(stream) // every):
        damaged[rng.randrange(len(damaged))] ^= rng.randint(1, 255)
    return bytes(damaged)


def contec_stream(rng: random.Random) -> tuple[bytes, int]:
    parts, spo2, pulse, finger_out = [], 97.0, 72.0, False
    n = MINUTES * 60 * 60
    for i in range(n):
        if i % 60 == 0:  # once a second: drift, spells, occasional garbage or identity answers
            spo2 = min(100.0, max(85.0, spo2 + rng.uniform(-0.5, 0.5)))
            pulse = min(160.0, max(45.0, pulse + rng.uniform(-2, 2)))
            if rng.random() < 0.02:
                finger_out = not finger_out
            if rng.random() < 0.2:
                parts.append(_garbage(rng))
            if rng.random() < 0.01:
                parts += contec.encode_model("CMS50D+")
                parts.append(contec.encode_text(contec.VENDOR, "CONTEC"))
        phase = (i / 60 * pulse / 60) % 1.0
        wave = int(50 + 45 * math.sin(2 * math.pi * phase))
        if finger_out:
            parts.append(contec.encode_live(None, None, signal=0, finger_out=True))
        else:
            parts.append(contec.encode_live(round(spo2), round(pulse), signal=8, beat=phase < 0.05,
                                            pleth=wave, bar=5))
    return _noise(rng, b"".join(parts)), n


def nonin_stream(rng: random.Random) -> tuple[bytes, int]:
    parts, spo2, pulse, finger_out = [], 97.0, 72.0, False
    n = MINUTES * 60 * 3  # 75 frames/s = 3 packets/s
    for i in range(n):
        spo2 = min(100.0, max(85.0, spo2 + rng.uniform(-0.3, 0.3)))
        pulse = min(160.0, max(45.0, pulse + rng.uniform(-1, 1)))
        if i % 3 == 0 and rng.random() < 0.02:
            finger_out = not finger_out
        if rng.random() < 0.07:
            parts.append(_garbage(rng))
        waves = [int(120 + 100 * math.sin(2 * math.pi * (i * 25 + k) / 75 * pulse / 60)) for k in range(25)]
        if finger_out:
            parts.append(nonin.encode_packet(None, None, status=nonin.SNSA | nonin.OOT))
        else:
            parts.append(nonin.encode_packet(round(spo2), round(pulse), pleth=waves))
    return _noise(rng, b"".join(parts)), n


def measure(decoder_cls, stream: bytes, chunk: int, repeats: int = 3) -> tuple[float, int]:
    """Best bytes/s over `repeats` runs, and the readings decoded."""
    best, count = 0.0, 0
    for _ in range(repeats):
        decoder = decoder_cls()
        started = time.perf_counter()
        count = 0
        for pos in range(0, len(stream), chunk):
            count += len(decoder.feed(stream[pos:pos + chunk], 0.0))
        best = max(best, len(stream) / (time.perf_counter() - started))
    return best, count


def main() -> int:
    rng = random.Random(20240601)
    streams = {"contec": (ContecDecoder, *contec_stream(rng)), "nonin": (NoninDecoder, *nonin_stream(rng))}
    ok = True
    print(f"Oximeter decode throughput ({MINUTES} simulated minutes per protocol, garbage mixed in)")
    for name, (cls, stream, packets) in streams.items():
        line = LINE_RATES[name]
        for chunk in CHUNKS:
            rate, readings = measure(cls, stream, chunk)
            ratio = rate / line
            ok &= ratio >= GOAL
            print(f"  {name:6} {len(stream):>9,} B in {chunk:>4} B chunks: {rate / 1e6:6.2f} MB/s = "
                  f"{ratio:8,.0f}x line rate ({line:,.0f} B/s); {readings:,} of {packets:,} packets decoded")
    print(f"goal >= {GOAL}x line rate: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
