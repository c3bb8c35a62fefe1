"""Alpha packet decoder and scanner line splitter throughput, as a multiple of line rate (goal >= 200x).

Streams:
- Alpha: a busy call line, as the simulator hears it: Write TEXT packets ("A023 -> 12" style,
  hold/flash, several sign addresses) each followed by a status read and the sign's reply,
  with bursts of random garbage between packets and a byte damaged in place now and then.
- Scanner: booking codes 8..120 characters long (short ids, URLs, JSON blobs) each ending in
  CR, CRLF or LF, with line noise and over-long junk mixed in.
Line rates (bytes per second a port can deliver at most):
- Alpha 9600 7E1: start + 7 data + parity + stop = 10 bits per byte -> 960 B/s.
- Scanner 9600 8N1: 10 bits per byte -> 960 B/s (a CDC-ACM port is USB, but scanners are
  configured for a nominal 9600 and send far less; 960 B/s is the number to beat).
Each stream is fed in serial-read-sized chunks (64 B trickle, 4096 B busy port); best of 3.
"""
from __future__ import annotations

import random
import string
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devices.display import alpha  # noqa: E402
from devices.scanner.lines import LineSplitter  # noqa: E402

GOAL = 200
CHUNKS = (64, 4096)
LINE_RATES = {"alpha": 9600 / 10, "scanner": 9600 / 10}
CALLS = 20_000
SCANS = 20_000


def _garbage(rng: random.Random) -> bytes:
    return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 24)))


def _damage(rng: random.Random, data: bytes, rate: float) -> bytes:
    out = bytearray(data)
    for _ in range(int(len(out) * rate)):
        out[rng.randrange(len(out))] = rng.randrange(256)
    return bytes(out)


def alpha_stream(rng: random.Random) -> tuple[bytes, int]:
    parts, packets = [], 0
    for _ in range(CALLS):
        address = rng.choice(["01", "02", "03", "0A"])
        ticket = f"{rng.choice('ABCK')}{rng.randrange(1000):03d} -> {rng.randrange(1, 40)}"
        parts.append(alpha.write_text(ticket, address=address, mode=rng.choice(["hold", "flash"])))
        parts.append(alpha.read_serial_error_status(address))
        parts.append(alpha.serial_error_status_reply(0))
        packets += 3
        if rng.random() < 0.05:
            parts.append(_garbage(rng))
    return _damage(rng, b"".join(parts), 0.0005), packets


def scanner_stream(rng: random.Random) -> tuple[bytes, int]:
    parts, codes = [], 0
    alphabet = string.ascii_letters + string.digits + "-_:/.?=&{}\""
    for _ in range(SCANS):
        kind = rng.random()
        if kind < 0.6:
            code = f"BK-{rng.randrange(10**8):08d}"
        elif kind < 0.9:
            code = "https://clinic.example/b/" + "".join(rng.choices(alphabet, k=rng.randrange(10, 60)))
        else:
            code = "".join(rng.choices(alphabet, k=rng.randrange(60, 120)))
        parts.append(code.encode() + rng.choice([b"\r", b"\r\n", b"\n"]))
        codes += 1
        if rng.random() < 0.02:
            parts.append(_garbage(rng) + b"\r")
        if rng.random() < 0.001:
            parts.append(b"x" * 700)  # junk with no terminator for a long while
    return b"".join(parts), codes


def measure(feed_factory, stream: bytes, chunk: int, repeats: int = 3) -> tuple[float, int]:
    """Best bytes/s over `repeats` runs, and the items decoded as good."""
    best, good = 0.0, 0
    for _ in range(repeats):
        feed, is_good = feed_factory()
        started = time.perf_counter()
        good = 0
        for pos in range(0, len(stream), chunk):
            good += sum(1 for item in feed(stream[pos:pos + chunk]) if is_good(item))
        best = max(best, len(stream) / (time.perf_counter() - started))
    return best, good


def _alpha_decoder():
    return alpha.AlphaDecoder().feed, lambda item: isinstance(item, alpha.AlphaPacket)


def _splitter():
    splitter = LineSplitter()
    return (lambda data: splitter.feed(data, 0.0)), (lambda item: hasattr(item, "code"))


def main() -> int:
    rng = random.Random(20240611)
    streams = {"alpha": (_alpha_decoder, *alpha_stream(rng), "packets"),
               "scanner": (_splitter, *scanner_stream(rng), "codes")}
    ok = True
    print("Display/scanner decode throughput (garbage mixed in)")
    for name, (factory, stream, sent, unit) in streams.items():
        line = LINE_RATES[name]
        for chunk in CHUNKS:
            rate, good = measure(factory, stream, chunk)
            ratio = rate / line
            ok &= ratio >= GOAL
            print(f"  {name:7} {len(stream):>9,} B in {chunk:>4} B chunks: {rate / 1e6:6.2f} MB/s = "
                  f"{ratio:8,.0f}x line rate ({line:,.0f} B/s); {good:,} of {sent:,} {unit} decoded")
    print(f"goal >= {GOAL}x line rate: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
