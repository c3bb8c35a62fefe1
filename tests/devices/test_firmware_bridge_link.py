"""The real firmware (in BridgeBoardSim) and the host's BridgeLink over a pty."""
from __future__ import annotations

import time

import pytest

from devices.errors import DeviceNotAnswering, DeviceUnavailable
from devices.serial_port import open_serial
from devices.url import DeviceURL
from firmware_bridge import link
from devices.thermometer.bridge_host import BoardError, BridgeLink, LinkError, Measurement, ProtocolMismatch
from devices.thermometer.bridge_sim import BridgeBoardSim

DEADLINE = 8.0


@pytest.fixture
def sim():
    s = BridgeBoardSim(celsius=36.6, ambient_celsius=22.0, sensor_id="0b1e2a3c4d5e6f70")
    s.start()
    yield s
    s.stop()


def connect(path: str, **kw) -> BridgeLink:
    port = open_serial(DeviceURL("serial", path=path), baud=115200, timeout=0.05)
    bridge = BridgeLink(port, **kw)
    bridge.connect()
    return bridge


@pytest.fixture
def bridge(sim):
    b = connect(sim.link_path)
    yield b
    b.port.close()


def collect(bridge: BridgeLink, until, deadline: float = DEADLINE) -> list:
    """Stream events until `until(events)` holds; fails after `deadline` seconds."""
    events: list = []
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        events += bridge.poll(0.2)
        if until(events):
            return events
    raise AssertionError(f"condition not met in {deadline} s; got {events[-5:]}")


def readings(events):
    return [e for e in events if isinstance(e, Measurement)]


def errors(events):
    return [e for e in events if isinstance(e, LinkError)]


def test_connect_identifies_firmware_version_and_sensor_id(bridge):
    ident = bridge.identity
    assert ident.firmware_version == "1.0.0"
    assert ident.protocol_version == link.PROTOCOL_VERSION
    assert ident.sensor_id == "0b1e2a3c4d5e6f70"
    assert ident.emissivity == 1.0


def test_measure_returns_object_and_ambient_celsius(bridge, sim):
    sim.set_temperature(36.61, 23.5)
    m = bridge.measure()
    assert (m.object_raw, m.object_celsius) == (0x3C80, 36.61)
    assert m.ambient_celsius == pytest.approx(23.5, abs=0.02)


def test_streamed_readings_follow_set_temperature(bridge, sim):
    bridge.start_stream(20)
    first = readings(collect(bridge, lambda ev: len(readings(ev)) >= 3))
    assert all(r.object_celsius == pytest.approx(36.6, abs=0.02) for r in first)
    sim.set_temperature(38.2)
    later = collect(bridge, lambda ev: any(abs(r.object_celsius - 38.2) <= 0.02 for r in readings(ev)))
    assert not errors(later)
    seqs = [r.seq for r in readings(first + later)]
    assert seqs == sorted(seqs)  # the board's stream counter: nothing reordered


def test_pec_fault_is_reported_as_error_never_as_a_reading(bridge, sim):
    bridge.start_stream(20)
    collect(bridge, lambda ev: len(readings(ev)) >= 1)
    sim.inject(corrupt_pec=True)
    bridge.poll(0.3)  # let a reading already on the wire arrive
    during = collect(bridge, lambda ev: len(errors(ev)) >= 3)
    assert readings(during) == []
    assert {(e.name, e.ref) for e in errors(during)} == {("pec_error", "READING")}
    with pytest.raises(BoardError, match="pec_error"):
        bridge.measure()
    sim.inject(corrupt_pec=False)
    collect(bridge, lambda ev: len(readings(ev)) >= 2)


def test_sensor_error_bit_is_reported_as_sensor_error(bridge, sim):
    sim.inject(sensor_error=True)
    with pytest.raises(BoardError, match="sensor_error"):
        bridge.measure()
    bridge.start_stream(20)
    events = collect(bridge, lambda ev: len(errors(ev)) >= 2)
    assert readings(events) == []
    assert {e.name for e in errors(events)} == {"sensor_error"}


def test_i2c_nack_is_reported(bridge, sim):
    sim.inject(i2c_nack=True)
    with pytest.raises(BoardError, match="i2c_nack"):
        bridge.measure()


def test_line_noise_and_a_forged_frame_with_bad_crc_yield_no_reading(bridge, sim):
    bridge.start_stream(20)
    collect(bridge, lambda ev: len(readings(ev)) >= 1)
    forged = bytearray(link.encode_frame(1, 99, 0x07, link.pack_measurement(0x3E80, 0x3A00)))  # 46.61 °C
    forged[-3] ^= 0x01  # break its CRC
    dropped = bridge.dropped
    sim.send_raw(b"\xde\xad\xbe\xef" + bytes(forged) + b"\x01\x02\x00" + bytes(forged))
    events = collect(bridge, lambda ev: len(readings(ev)) >= 5)
    assert all(r.object_celsius == pytest.approx(36.6, abs=0.02) for r in readings(events))
    assert bridge.dropped >= dropped + 3


def test_protocol_version_mismatch_is_refused_with_a_clear_error():
    s = BridgeBoardSim(protocol_version=2)
    s.start()
    try:
        with pytest.raises(ProtocolMismatch, match="version 2.*speaks 1.*flash"):
            connect(s.link_path)
    finally:
        s.stop()


class DropsFirstRequest(BridgeBoardSim):
    """Loses the bytes of the host's first frame, as a noisy line would."""

    def on_bytes(self, data: bytes) -> None:
        if not getattr(self, "_lost", False):
            cut = data.find(b"\x00", 1)  # the host starts with a lone 0x00, then the frame
            if cut < 0:
                return
            self._lost = True
            data = data[cut + 1:]
        super().on_bytes(data)


def test_a_lost_request_is_retried_with_a_new_sequence_number():
    s = DropsFirstRequest()
    s.start()
    try:
        b = connect(s.link_path, reply_timeout=0.5, attempts=3)
        assert b.identity.sensor_id == "0b1e2a3c4d5e6f70"
        b.port.close()
    finally:
        s.stop()


def test_silent_board_is_not_answering(sim):
    sim.answering = False
    with pytest.raises(DeviceNotAnswering, match="did not answer HELLO"):
        connect(sim.link_path, reply_timeout=0.3, attempts=2)


def test_unplug_raises_unavailable_and_replug_rehandshakes(bridge, sim):
    bridge.start_stream(20)
    collect(bridge, lambda ev: len(readings(ev)) >= 1)
    sim.unplug()
    with pytest.raises(DeviceUnavailable):
        end = time.monotonic() + DEADLINE
        while time.monotonic() < end:
            bridge.poll(0.2)
    bridge.port.close()
    sim.set_temperature(37.4)
    sim.replug()
    again = connect(sim.link_path)
    try:
        assert again.identity.sensor_id == "0b1e2a3c4d5e6f70"
        assert again.poll(0.5) == []  # a power-cycled board does not stream until asked
        assert again.measure().object_celsius == pytest.approx(37.4, abs=0.02)
    finally:
        again.port.close()
