"""The host<->board link of the thermometer bridge: frames, message ids and payload layouts.

Frame on the wire: COBS(version, seq, msg_id, length, payload..., crc_hi, crc_lo) 0x00
  version  protocol version of the sender (PROTOCOL_VERSION)
  seq      host requests count 1..255; a reply echoes the request's seq; streamed READING
           frames carry the board's own counter (gaps show lost frames)
  length   payload length: a CRC without xorout passes a frame extended by one 0x00 byte
           (crc(M + crc_hi) == crc_lo << 8), which a damaged delimiter can produce
  crc      CRC-16/CCITT-FALSE over version..payload, big-endian

Like Klipper's identify step, the host does not hard-code message ids: it sends HELLO (whose id
and layout are frozen for every protocol version) and the board answers with its protocol
version and its message dictionary "NAME=id,...". The host refuses a version it does not speak.

Shared by the MicroPython firmware and the CPython host: only struct, bytes and ints here.
"""
import struct

from firmware_bridge import cobs
from firmware_bridge.crc import crc16_ccitt_false

PROTOCOL_VERSION = 1
HELLO = 0x01  # frozen forever: any host can learn any board's version and dictionary

# The firmware's dictionary (name, id). Requests and their replies share an id.
MESSAGES = (
    ("HELLO", HELLO),  # req: host version (B); reply: board version (B) + dictionary text
    ("IDENTIFY", 0x02),  # reply: fw major, minor, patch, protocol, sensor status (5B; status 0 = ok,
    #                      else the error code of the failed read), sensor id (8 bytes), emissivity (H)
    ("MEASURE", 0x03),  # reply: object raw, ambient raw (HH), object, ambient in 0.01 °C (ii)
    ("STREAM", 0x04),  # req: period in ms (H), 0 stops; reply: ACK
    ("ACK", 0x05),  # payload: id of the request acknowledged (B)
    ("ERROR", 0x06),  # payload: code (B), id it refers to (B; 0 = unknown), ASCII text
    ("READING", 0x07),  # unsolicited while streaming; MEASURE's payload
)

# Error codes (ERROR payload byte 0); names are what logs and the host report.
PEC_ERROR = 1  # the sensor's words failed their PEC on every attempt
SENSOR_ERROR = 2  # bit15 set in a temperature word: the sensor flags its own error
I2C_NACK = 3  # the sensor did not answer on the bus
BAD_FRAME = 4  # the board dropped a frame (CRC, COBS, length or protocol version)
UNKNOWN_MESSAGE = 5  # a message id the board has no handler for
ERROR_NAMES = {
    PEC_ERROR: "pec_error",
    SENSOR_ERROR: "sensor_error",
    I2C_NACK: "i2c_nack",
    BAD_FRAME: "bad_frame",
    UNKNOWN_MESSAGE: "unknown_message",
}

HEADER_LEN = 4
CRC_LEN = 2
MAX_PAYLOAD = 200
MAX_FRAME = HEADER_LEN + MAX_PAYLOAD + CRC_LEN
MAX_ENCODED = MAX_FRAME + 2  # COBS adds one code byte per 254 bytes (plus the first)

MIN_STREAM_PERIOD_MS = 20  # the MLX90614 refreshes its RAM no faster than this anyway


class PayloadError(ValueError):
    """A frame passed its CRC but its payload does not have the layout its id promises."""


# -- frames -------------------------------------------------------------------------------

def encode_frame(version, seq, msg_id, payload=b""):
    """One frame ready for the wire, including the trailing 0x00 delimiter."""
    body = bytearray((version & 0xFF, seq & 0xFF, msg_id & 0xFF, len(payload)))
    body += payload
    crc = crc16_ccitt_false(body)
    body.append(crc >> 8)
    body.append(crc & 0xFF)
    return cobs.encode(body) + b"\x00"


def decode_frame(encoded):
    """(version, seq, msg_id, payload) from one frame without its delimiter, or None if bad."""
    if not encoded or len(encoded) > MAX_ENCODED or b"\x00" in encoded:
        return None
    try:
        raw = cobs.decode_unchecked(encoded)
    except cobs.CobsError:
        return None
    n = len(raw)
    if n < HEADER_LEN + CRC_LEN or raw[3] != n - HEADER_LEN - CRC_LEN:
        return None
    if crc16_ccitt_false(raw) != 0:  # the stored CRC makes the register end at 0
        return None
    return raw[0], raw[1], raw[2], bytes(raw[HEADER_LEN:-CRC_LEN])


class FrameDecoder:
    """Splits a byte stream into checked frames; anything damaged is counted and dropped.

    Resynchronises on the next 0x00 after garbage, a broken frame or an overlong run.
    """

    def __init__(self):
        self._buf = b""
        self._skipping = False  # inside an overlong run: discard up to the next delimiter
        self.dropped = 0  # frames dropped (bad CRC, bad COBS, too short or too long)
        self.frames = 0

    def feed(self, data):
        """Frames completed by `data`, oldest first."""
        parts = (self._buf + bytes(data)).split(b"\x00")
        tail = parts.pop()
        if self._skipping and parts:
            parts[0] = b""  # the rest of the overlong run
            self._skipping = False
        if len(tail) > MAX_ENCODED:
            tail = b""
            if not self._skipping:
                self.dropped += 1
            self._skipping = True
        self._buf = tail
        out = []
        for part in parts:
            if not part:
                continue  # back-to-back delimiters: a sender flushing a partial frame
            frame = decode_frame(part)
            if frame is None:
                self.dropped += 1
            else:
                out.append(frame)
        self.frames += len(out)
        return out

    def reset(self):
        self._buf = b""
        self._skipping = False


# -- payloads -----------------------------------------------------------------------------

def _need(payload, n, what):
    if len(payload) != n:
        raise PayloadError("%s payload must be %d bytes, got %d" % (what, n, len(payload)))


def format_dictionary(messages):
    return ",".join("%s=%d" % (name, mid) for name, mid in messages).encode()


def parse_dictionary(text):
    """{name: id} from b"NAME=id,..."; PayloadError if malformed."""
    out = {}
    try:
        for item in bytes(text).decode().split(","):
            name, _, mid = item.partition("=")
            if not name or not mid:
                raise ValueError(item)
            out[name] = int(mid)
    except ValueError:
        raise PayloadError("malformed message dictionary")  # noqa: B904 (shared with MicroPython)
    return out


def pack_hello_request(version=PROTOCOL_VERSION):
    return bytes((version,))


def pack_hello_reply(version, messages=MESSAGES):
    return bytes((version,)) + format_dictionary(messages)


def unpack_hello_reply(payload):
    """(protocol version, {name: id})."""
    if len(payload) < 1:
        raise PayloadError("empty HELLO reply")
    return payload[0], parse_dictionary(payload[1:])


def pack_identify(firmware_version, protocol_version, sensor_status, sensor_id, emissivity_raw):
    """The board identifies itself even when its sensor cannot be read (status = error code)."""
    sensor_id = bytes(sensor_id)
    _need(sensor_id, 8, "sensor id")
    major, minor, patch = firmware_version
    return (struct.pack(">BBBBB", major, minor, patch, protocol_version, sensor_status)
            + sensor_id + struct.pack(">H", emissivity_raw))


def unpack_identify(payload):
    """((major, minor, patch), protocol version, sensor status, sensor id (8 bytes), emissivity raw)."""
    _need(payload, 15, "IDENTIFY")
    major, minor, patch, proto, sensor_status = struct.unpack(">BBBBB", payload[:5])
    (emissivity,) = struct.unpack(">H", payload[13:15])
    return (major, minor, patch), proto, sensor_status, bytes(payload[5:13]), emissivity


def pack_measurement(object_raw, ambient_raw):
    # raw words for exactness, hundredths of °C so a human reading a capture needs no formula
    return struct.pack(">HHii", object_raw, ambient_raw,
                       object_raw * 2 - 27315, ambient_raw * 2 - 27315)


def unpack_measurement(payload):
    """(object raw, ambient raw, object 0.01 °C, ambient 0.01 °C)."""
    _need(payload, 12, "MEASURE")
    return struct.unpack(">HHii", payload)


def pack_stream(period_ms):
    return struct.pack(">H", period_ms)


def unpack_stream(payload):
    _need(payload, 2, "STREAM")
    return struct.unpack(">H", payload)[0]


def pack_ack(ref):
    return bytes((ref,))


def unpack_ack(payload):
    _need(payload, 1, "ACK")
    return payload[0]


def pack_error(code, ref, text):
    return bytes((code, ref)) + text.encode()[:MAX_PAYLOAD - 2]


def unpack_error(payload):
    """(code, ref, text)."""
    if len(payload) < 2:
        raise PayloadError("ERROR payload shorter than 2 bytes")
    return payload[0], payload[1], bytes(payload[2:]).decode("ascii", "replace")
