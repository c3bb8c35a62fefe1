"""BridgeLink against a scripted in-memory port: matching, retries, resync (no pty, no threads)."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.errors import DeviceNotAnswering, DeviceUnavailable
from firmware_bridge import link, mlx90614
from devices.thermometer.bridge_host import BoardError, BridgeLink, LinkError, Measurement

IDS = dict(link.MESSAGES)


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        self.now += 0.01  # every look at the clock costs 10 ms: timeouts end without sleeping
        return self.now


class ScriptedPort:
    """Answers each request frame with whatever `respond(frame)` returns."""

    def __init__(self, respond=None):
        self.respond = respond or (lambda frame: b"")
        self.rx = bytearray()
        self.requests: list[tuple] = []
        self._decoder = link.FrameDecoder()
        self.timeout = 0.05
        self.broken = False

    def write(self, data: bytes) -> int:
        if self.broken:
            raise OSError(5, "Input/output error")
        for frame in self._decoder.feed(data):
            self.requests.append(frame)
            self.rx += self.respond(frame)
        return len(data)

    def flush(self):
        pass

    def reset_input_buffer(self):
        self.rx.clear()

    @property
    def in_waiting(self) -> int:
        if self.broken:
            raise OSError(5, "Input/output error")
        return len(self.rx)

    def read(self, n: int) -> bytes:
        data = bytes(self.rx[:n])
        del self.rx[:n]
        return data


def reading_frame(seq: int, celsius: float = 36.61) -> bytes:
    return link.encode_frame(1, seq, IDS["READING"], link.pack_measurement(mlx90614.celsius_to_raw(celsius), 14757))


def board_like(frame) -> bytes:
    _, seq, mid, _ = frame
    if mid == link.HELLO:
        return link.encode_frame(1, seq, link.HELLO, link.pack_hello_reply(1))
    if mid == IDS["IDENTIFY"]:
        return link.encode_frame(1, seq, mid, link.pack_identify((1, 0, 0), 1, 0, bytes(range(8)), 0xFFFF))
    if mid == IDS["MEASURE"]:
        return link.encode_frame(1, seq, mid, link.pack_measurement(0x3C80, 14757))
    if mid == IDS["STREAM"]:
        return link.encode_frame(1, seq, IDS["ACK"], link.pack_ack(IDS["STREAM"]))
    return b""


def make(respond=board_like) -> BridgeLink:
    return BridgeLink(ScriptedPort(respond), clock=FakeClock(), wall=lambda: 1000.0)


def test_connect_sends_hello_with_host_version_then_identify():
    bridge = make()
    ident = bridge.connect()
    assert [(r[2], r[3]) for r in bridge.port.requests] == [(link.HELLO, b"\x01"), (IDS["IDENTIFY"], b"")]
    assert ident.sensor_id == "0001020304050607"


def test_host_uses_the_ids_from_the_boards_dictionary():
    moved = tuple((name, mid + 0x20 if name not in ("HELLO",) else mid) for name, mid in link.MESSAGES)
    inv = {mid: name for name, mid in moved}

    def respond(frame):
        _, seq, mid, _ = frame
        if mid == link.HELLO:
            return link.encode_frame(1, seq, link.HELLO, link.pack_hello_reply(1, moved))
        if inv.get(mid) == "IDENTIFY":
            return link.encode_frame(1, seq, mid, link.pack_identify((1, 0, 0), 1, 0, bytes(8), 0))
        if inv.get(mid) == "MEASURE":
            return link.encode_frame(1, seq, mid, link.pack_measurement(0x3C80, 14757))
        return b""

    bridge = make(respond)
    bridge.connect()
    assert bridge.measure().object_celsius == 36.61
    assert bridge.port.requests[-1][2] == dict(moved)["MEASURE"]


def test_a_late_answer_to_an_earlier_attempt_is_not_taken_for_the_current_one():
    calls = []

    def respond(frame):
        _, seq, mid, _ = frame
        calls.append(seq)
        if mid == IDS["MEASURE"] and len(calls) == 1:
            return b""  # first attempt lost
        if mid == IDS["MEASURE"]:
            late = link.encode_frame(1, calls[0], mid, link.pack_measurement(mlx90614.celsius_to_raw(30.0), 14757))
            return late + board_like(frame)  # the stale answer arrives first
        return board_like(frame)

    bridge = make(respond)
    m = bridge.measure()
    assert m.object_celsius == 36.61
    assert calls[0] != calls[1]


def test_stream_frames_arriving_during_a_request_are_kept():
    def respond(frame):
        return reading_frame(1) + reading_frame(2) + board_like(frame) + reading_frame(3)

    bridge = make(respond)
    bridge.measure()
    assert [e.seq for e in bridge.poll(0.1)] == [1, 2, 3]


def test_error_answer_raises_board_error_with_the_code_name():
    def respond(frame):
        _, seq, mid, _ = frame
        return link.encode_frame(1, seq, IDS["ERROR"], link.pack_error(link.I2C_NACK, mid, "no ACK"))

    with pytest.raises(BoardError, match="i2c_nack: no ACK"):
        make(respond).measure()


def test_stream_error_sharing_a_sequence_number_is_not_an_answer():
    def respond(frame):
        _, seq, mid, _ = frame
        stream_error = link.encode_frame(1, seq, IDS["ERROR"], link.pack_error(link.PEC_ERROR, IDS["READING"], "x"))
        return stream_error + board_like(frame)

    bridge = make(respond)
    assert bridge.measure().object_celsius == 36.61
    [event] = bridge.poll(0.1)
    assert isinstance(event, LinkError) and (event.name, event.ref) == ("pec_error", "READING")


def test_no_answer_after_all_attempts_is_not_answering():
    bridge = make(lambda frame: b"")
    with pytest.raises(DeviceNotAnswering, match="MEASURE.*3 attempts"):
        bridge.measure()
    assert len(bridge.port.requests) == 3


def test_port_error_is_unavailable():
    bridge = make()
    bridge.port.broken = True
    with pytest.raises(DeviceUnavailable):
        bridge.poll(0.1)
    with pytest.raises(DeviceUnavailable):
        bridge.measure()


def test_reading_with_the_error_flag_is_never_a_measurement():
    bridge = make()
    flagged = link.encode_frame(1, 1, IDS["READING"], link.pack_measurement(0x8000 | 0x3C80, 14757))
    bridge.port.rx += flagged + reading_frame(2)
    assert [e.seq for e in bridge.poll(0.1)] == [2]
    assert bridge.dropped == 1


@given(st.lists(st.floats(30.0, 45.0), min_size=1, max_size=6), st.data())
@settings(max_examples=200, deadline=None)
def test_mutated_stream_never_yields_a_reading_that_was_not_sent(temps, data):
    sent = [reading_frame(i, t) for i, t in enumerate(temps)]
    genuine = {(i, round(mlx90614.raw_to_celsius(mlx90614.celsius_to_raw(t)), 2)) for i, t in enumerate(temps)}
    stream = bytearray(b"".join(sent))
    for _ in range(data.draw(st.integers(1, 5))):
        pos = data.draw(st.integers(0, len(stream) - 1))
        op = data.draw(st.sampled_from(["flip", "insert", "delete", "noise"]))
        if op == "flip":
            stream[pos] ^= data.draw(st.integers(1, 255))
        elif op == "insert":
            stream.insert(pos, data.draw(st.integers(0, 255)))
        elif op == "delete":
            del stream[pos]
        else:
            stream[pos:pos] = data.draw(st.binary(min_size=1, max_size=30))
    bridge = make()
    bridge.port.rx += bytes(stream) + b"\x00"
    events = []
    for _ in range(5):
        events += bridge.poll(0.05)
    for event in events:
        assert isinstance(event, (Measurement, LinkError))
        if isinstance(event, Measurement):
            assert (event.seq, event.object_celsius) in genuine


# -- what an MLX90614 cannot measure is never a temperature ----------------------------------

AMBIENT_22C = 14757


@pytest.mark.parametrize("object_raw, ambient_raw, want", [
    (0x3C80, AMBIENT_22C, 36.61),
    (10158, AMBIENT_22C, -69.99),  # the sensor's floor, -70 °C, to its 0.02 K step
    (32657, AMBIENT_22C, 379.99),  # its ceiling, 380 °C
    (10157, AMBIENT_22C, None),
    (32658, AMBIENT_22C, None),
    (0x0000, AMBIENT_22C, None),  # 0 K
    (0x7FFF, AMBIENT_22C, None),  # the largest unflagged word, 382.19 °C
    (0x3C80, 11657, None),  # the die below -40 °C
    (0x3C80, 19908, None),  # the die above 125 °C
    (0x3C80, 11658, 36.61),
])
def test_streamed_words_outside_the_sensors_range_are_a_sensor_error(object_raw, ambient_raw, want):
    bridge = make()
    bridge.port.rx += link.encode_frame(1, 7, IDS["READING"], link.pack_measurement(object_raw, ambient_raw))
    [event] = bridge.poll(0.1)
    if want is None:
        assert isinstance(event, LinkError) and event.name == "sensor_error" and event.ref == "READING"
        assert "outside the MLX90614" in event.text
    else:
        assert isinstance(event, Measurement) and event.object_celsius == want


def test_measure_answer_outside_the_sensors_range_raises_sensor_error():
    def answers_382c(frame):
        _, seq, mid, _ = frame
        if mid == IDS["MEASURE"]:
            return link.encode_frame(1, seq, mid, link.pack_measurement(0x7FFF, AMBIENT_22C))
        return board_like(frame)
    bridge = make(answers_382c)
    with pytest.raises(BoardError) as err:
        bridge.measure()
    assert err.value.error.name == "sensor_error"


@given(st.integers(0, 0xFFFF), st.integers(0, 0xFFFF))
@settings(max_examples=300, deadline=None)
def test_any_words_in_a_valid_frame_give_an_in_range_measurement_or_no_temperature(object_raw, ambient_raw):
    bridge = make()
    bridge.port.rx += link.encode_frame(1, 3, IDS["READING"], link.pack_measurement(object_raw, ambient_raw))
    for event in bridge.poll(0.1):
        if isinstance(event, Measurement):
            assert -70.0 <= event.object_celsius <= 380.0 and -40.0 <= event.ambient_celsius <= 125.0
            assert (event.object_raw, event.ambient_raw) == (object_raw, ambient_raw)
        else:
            assert isinstance(event, LinkError) and event.name == "sensor_error"
