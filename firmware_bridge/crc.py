"""Checksums of the bridge: CRC-16/CCITT-FALSE for host<->board frames, CRC-8 for SMBus PEC.

MicroPython-compatible (ints and bytes only). On CPython binascii.crc_hqx computes the same
CRC-16 in C (poly 0x1021, no reflection, caller's init), which keeps the host decoder fast.
"""

try:
    from binascii import crc_hqx as _crc_hqx
except ImportError:  # MicroPython's binascii has no crc_hqx
    _crc_hqx = None


def _table16():
    table = []
    for i in range(256):
        crc = i << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
        table.append(crc & 0xFFFF)
    return table


def _table8():
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) if crc & 0x80 else (crc << 1)
        table.append(crc & 0xFF)
    return table


_T16 = _table16()
_T8 = _table8()


def crc16_ccitt_false_table(data, crc=0xFFFF):
    """Table-driven CRC-16/CCITT-FALSE (what the firmware runs)."""
    t = _T16
    for b in data:
        crc = ((crc << 8) & 0xFFFF) ^ t[(crc >> 8) ^ b]
    return crc


if _crc_hqx is not None:
    def crc16_ccitt_false(data, crc=0xFFFF):
        """CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, no xorout."""
        return _crc_hqx(data, crc)
else:
    crc16_ccitt_false = crc16_ccitt_false_table


def crc8_smbus(data, crc=0):
    """CRC-8 poly 0x07 init 0 (SMBus packet error code)."""
    t = _T8
    for b in data:
        crc = t[crc ^ b]
    return crc
