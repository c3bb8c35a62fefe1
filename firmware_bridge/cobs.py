"""COBS (Consistent Overhead Byte Stuffing): frames without 0x00, so 0x00 delimits them.

Shared by the firmware (MicroPython) and the host: bytes/bytearray and ints only.
Encoding is canonical (no trailing 0x01 block after a full 254-byte block); decoding accepts both.
"""


class CobsError(ValueError):
    pass


def encode(data):
    """Encode `data` (no delimiter added). b"" -> b"\\x01"."""
    data = bytes(data)
    n = len(data)
    out = bytearray()
    start = 0
    while True:
        zero = data.find(b"\x00", start)
        stop = n if zero < 0 else zero
        full = False
        while stop - start >= 254:  # a run longer than a code byte can say: split it
            out.append(0xFF)
            out += data[start:start + 254]
            start += 254
            full = True
        if zero < 0:
            if not (full and start == n):
                out.append(stop - start + 1)
                out += data[start:stop]
            return bytes(out)
        out.append(zero - start + 1)
        out += data[start:zero]
        start = zero + 1


def decode(encoded):
    """Decode one COBS block sequence (without its delimiter); CobsError if malformed."""
    encoded = bytes(encoded)
    if b"\x00" in encoded:
        raise CobsError("0x00 inside a COBS frame")
    return decode_unchecked(encoded)


def decode_unchecked(encoded):
    """As decode(), for input already split on 0x00 (the frame decoder's fast path)."""
    n = len(encoded)
    if n == 0:
        raise CobsError("empty COBS frame")
    code = encoded[0]
    if code == n:  # common case: a single block, the payload had no zero
        return encoded[1:]
    blocks = []
    i = 0
    while i < n:
        code = encoded[i]
        end = i + code
        if end > n:
            raise CobsError("COBS block runs past the end of the frame")
        if code == 0xFF:  # a full block implies no zero after it: take the general path
            return _decode_blocks(encoded)
        blocks.append(encoded[i + 1:end])
        i = end
    return b"\x00".join(blocks)  # every block but the last ends with an implied zero


def _decode_blocks(encoded):
    n = len(encoded)
    out = bytearray()
    i = 0
    while i < n:
        code = encoded[i]
        end = i + code
        if end > n:
            raise CobsError("COBS block runs past the end of the frame")
        out += encoded[i + 1:end]
        i = end
        if code != 0xFF and i < n:
            out.append(0)
    return bytes(out)
