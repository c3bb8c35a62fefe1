"""Melexis MLX90614 over SMBus: pure conversions plus a thin reader over a machine.I2C-like bus.

A word read returns LSB, MSB, PEC. PEC = CRC-8 (poly 0x07) over
`addr<<1, cmd, (addr<<1)|1, LSB, MSB`. RAM is read with the register number as command,
EEPROM with 0x20|register. Shared by firmware and host: MicroPython-compatible.
"""
from firmware_bridge.crc import crc8_smbus

DEFAULT_ADDRESS = 0x5A
RAM_TA = 0x06  # ambient (die) temperature
RAM_TOBJ1 = 0x07  # object temperature, zone 1
RAM_TOBJ2 = 0x08
EEPROM = 0x20  # command = EEPROM | register
EE_EMISSIVITY = EEPROM | 0x04  # emissivity x 65535
EE_ID = (EEPROM | 0x1C, EEPROM | 0x1D, EEPROM | 0x1E, EEPROM | 0x1F)  # factory id, 4 words

ERROR_FLAG = 0x8000  # bit15 of a temperature word: the sensor reports an error
KELVIN_OFFSET = 273.15
READ_ATTEMPTS = 3  # a PEC failure is a bus glitch as often as not: read again before giving up


class PecError(Exception):
    """Every attempt returned a word whose PEC did not match."""


class NackError(Exception):
    """The sensor did not acknowledge (absent, unpowered, wrong address, bus stuck)."""


def pec(addr, cmd, lsb, msb):
    return crc8_smbus(bytes((addr << 1, cmd, (addr << 1) | 1, lsb, msb)))


def check_word(addr, cmd, data):
    """The word from a 3-byte read (LSB, MSB, PEC), or PecError."""
    if len(data) != 3:
        raise PecError("short read: %d bytes" % len(data))
    lsb, msb, got = data[0], data[1], data[2]
    if pec(addr, cmd, lsb, msb) != got:
        raise PecError("PEC mismatch on command 0x%02x" % cmd)
    return lsb | (msb << 8)


def word_bytes(addr, cmd, word):
    """What the sensor puts on the bus for `word` (LSB, MSB, PEC): for simulators and tests."""
    lsb, msb = word & 0xFF, (word >> 8) & 0xFF
    return bytes((lsb, msb, pec(addr, cmd, lsb, msb)))


def raw_to_celsius(raw):
    """°C from a temperature word; None when bit15 (error flag) is set."""
    if raw & ERROR_FLAG:
        return None
    return raw * 0.02 - KELVIN_OFFSET


def celsius_to_raw(celsius):
    raw = int(round((celsius + KELVIN_OFFSET) / 0.02))
    if raw < 0 or raw > 0x7FFF:
        raise ValueError("temperature out of the sensor's range")
    return raw


def centi(raw):
    """Hundredths of °C as an int (exact to the sensor's 0.02 step), for the wire."""
    return (raw * 2) - 27315


class Sensor:
    """Reads words from one MLX90614 on a machine.I2C-compatible bus (readfrom_mem)."""

    def __init__(self, i2c, address=DEFAULT_ADDRESS, attempts=READ_ATTEMPTS):
        self.i2c = i2c
        self.address = address
        self.attempts = attempts

    def read_word(self, cmd):
        last = None
        for _ in range(self.attempts):
            try:
                data = self.i2c.readfrom_mem(self.address, cmd, 3)
            except OSError as exc:  # MicroPython raises OSError(ETIMEDOUT/EIO/ENODEV) on NACK
                raise NackError("no ACK from 0x%02x on command 0x%02x (%s)" % (self.address, cmd, exc))  # noqa: B904
            try:
                return check_word(self.address, cmd, data)
            except PecError as exc:
                last = exc
        raise last

    def temperatures(self):
        """(object raw, ambient raw) words; error flags are left for the caller to judge."""
        return self.read_word(RAM_TOBJ1), self.read_word(RAM_TA)

    def sensor_id(self):
        """The 64-bit factory id as 8 bytes (ID1 word first, each word big-endian)."""
        out = bytearray()
        for cmd in EE_ID:
            w = self.read_word(cmd)
            out.append(w >> 8)
            out.append(w & 0xFF)
        return bytes(out)

    def emissivity_raw(self):
        return self.read_word(EE_EMISSIVITY)
