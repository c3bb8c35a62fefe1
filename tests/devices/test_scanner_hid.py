"""HID keyboard-mode scanners: the key decoder by tables, the driver against a fake evdev device.

No /dev/uinput exists here, so the driver's I/O is tested with FakeInputDevice at the
evdev.InputDevice seam: the same methods the driver calls (fileno/read/read_one/grab/ungrab/
close), fed with real evdev InputEvent objects, and a pipe so select() works as on a real node.
"""
from __future__ import annotations

import errno
import os

import pytest
from evdev import InputEvent
from evdev import ecodes as e

from devices.base import ScanReading
from devices.errors import DeviceUnavailable
from devices.scanner.driver import HidScanner
from devices.scanner.hid_keys import HidDecoder, HidReject
from devices.status import DeviceState
from devices.url import parse_device_url

# US-layout characters and how a scanner types them: (key, shift)
_TYPE = {**{c: (getattr(e, f"KEY_{c.upper()}"), False) for c in "abcdefghijklmnopqrstuvwxyz"},
         **{c: (getattr(e, f"KEY_{c}"), True) for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"},
         **{c: (getattr(e, f"KEY_{c}"), False) for c in "0123456789"},
         "-": (e.KEY_MINUS, False), "_": (e.KEY_MINUS, True), ":": (e.KEY_SEMICOLON, True),
         "/": (e.KEY_SLASH, False), "?": (e.KEY_SLASH, True), ".": (e.KEY_DOT, False), " ": (e.KEY_SPACE, False),
         "=": (e.KEY_EQUAL, False), "&": (e.KEY_7, True), "@": (e.KEY_2, True), "#": (e.KEY_3, True),
         '"': (e.KEY_APOSTROPHE, True), "{": (e.KEY_LEFTBRACE, True), "}": (e.KEY_RIGHTBRACE, True)}


def typed(text: str, enter: bool = True, t0: float = 100.0) -> list[InputEvent]:
    """Events a keyboard-mode scanner sends for `text`: shift around capitals, SYN after each."""
    events, t = [], t0

    def ev(type_, code, value):
        nonlocal t
        t += 0.001
        sec, usec = int(t), int(round((t - int(t)) * 1e6))
        events.append(InputEvent(sec, usec, type_, code, value))

    def key(code, value):
        ev(e.EV_MSC, e.MSC_SCAN, 0x70000 + code)  # real keyboards send a scan code first
        ev(e.EV_KEY, code, value)
        ev(e.EV_SYN, e.SYN_REPORT, 0)

    for char in text:
        code, shift = _TYPE[char]
        if shift:
            key(e.KEY_LEFTSHIFT, 1)
        key(code, 1)
        key(code, 0)
        if shift:
            key(e.KEY_LEFTSHIFT, 0)
    if enter:
        key(e.KEY_ENTER, 1)
        key(e.KEY_ENTER, 0)
    return events


def decode(events) -> list:
    decoder = HidDecoder()
    return [r for r in (decoder.feed_event(ev) for ev in events) if r is not None]


@pytest.mark.parametrize("text", ["BK-1234", "a_b:C", "https://clinic.example/b?id=42&x=Y", "{\"b\":\"Q7\"}", "0 9 8"])
def test_typed_codes_decode_back_to_the_same_text(text):
    [reading] = decode(typed(text))
    assert isinstance(reading, ScanReading) and reading.code == text


def test_the_reading_carries_the_enter_events_timestamp():
    events = typed("A1", t0=500.0)
    enter_down = next(ev for ev in events if ev.type == e.EV_KEY and ev.code == e.KEY_ENTER and ev.value == 1)
    assert decode(events)[0].ts == enter_down.timestamp()


def _keys(*pairs):
    return [InputEvent(1, 0, e.EV_KEY, code, value) for code, value in pairs]


@pytest.mark.parametrize("name,events,expected", [
    ("caps lock makes letters capital",
     _keys((e.KEY_CAPSLOCK, 1), (e.KEY_CAPSLOCK, 0), (e.KEY_A, 1), (e.KEY_1, 1), (e.KEY_ENTER, 1)), "A1"),
    ("caps lock and shift cancel out on letters only",
     _keys((e.KEY_CAPSLOCK, 1), (e.KEY_RIGHTSHIFT, 1), (e.KEY_A, 1), (e.KEY_1, 1), (e.KEY_RIGHTSHIFT, 0),
           (e.KEY_ENTER, 1)), "a!"),
    ("autorepeat and key-up do not type",
     _keys((e.KEY_B, 1), (e.KEY_B, 2), (e.KEY_B, 2), (e.KEY_B, 0), (e.KEY_ENTER, 1)), "b"),
    ("keypad digits and keypad enter",
     _keys((e.KEY_NUMLOCK, 1), (e.KEY_KP4, 1), (e.KEY_KPMINUS, 1), (e.KEY_KP2, 1), (e.KEY_KPENTER, 1)), "4-2"),
])
def test_key_table(name, events, expected):
    assert [r.code for r in decode(events)] == [expected]


@pytest.mark.parametrize("events,reason", [
    (_keys((e.KEY_A, 1), (e.KEY_F1, 1), (e.KEY_B, 1), (e.KEY_ENTER, 1)), "unmapped key KEY_F1"),
    (_keys((e.KEY_LEFTALT, 1), (e.KEY_KP1, 1), (e.KEY_KP2, 1), (e.KEY_LEFTALT, 0), (e.KEY_ENTER, 1)),
     "key KEY_KP1 typed with Ctrl/Alt held"),
])
def test_codes_with_keys_we_cannot_map_are_rejected_at_enter(events, reason):
    [result] = decode(events)
    assert isinstance(result, HidReject) and result.reason == reason


def test_enter_alone_yields_nothing_and_the_next_code_is_clean():
    assert decode(_keys((e.KEY_ENTER, 1)) + typed("Z9")) == [decode(typed("Z9"))[0]]


def test_an_overlong_code_is_rejected():
    decoder = HidDecoder(max_code=4)
    results = [decoder.feed_event(ev) for ev in typed("ABCDEFG")]
    assert [r for r in results if r is not None] == [HidReject("code longer than 4 characters", "ABCD")]


# -- the driver, against a fake evdev InputDevice ---------------------------------------------------
class FakeInputDevice:
    """evdev.InputDevice's I/O surface: events are queued by the test, a pipe wakes select()."""

    devices: dict[str, "FakeInputDevice"] = {}
    open_error: OSError | None = None
    grab_error: OSError | None = None

    def __init__(self, path):
        if FakeInputDevice.open_error:
            raise FakeInputDevice.open_error
        self.path = path
        self._r, self._w = os.pipe()
        os.set_blocking(self._r, False)
        self._queue: list[InputEvent] = []
        self.grabbed = False
        self.closed = False
        self.unplugged = False
        FakeInputDevice.devices[path] = self

    # what a test does
    def push(self, events):
        self._queue.extend(events)
        os.write(self._w, b"!")

    def unplug(self):
        self.unplugged = True
        os.write(self._w, b"!")

    # what the driver uses
    def fileno(self):
        return self._r

    def grab(self):
        if FakeInputDevice.grab_error:
            raise FakeInputDevice.grab_error
        self.grabbed = True

    def ungrab(self):
        if self.unplugged:
            raise OSError(errno.ENODEV, "No such device")
        self.grabbed = False

    def read_one(self):
        if self.unplugged:
            raise OSError(errno.ENODEV, "No such device")
        return self._queue.pop(0) if self._queue else None

    def read(self):
        if self.unplugged:
            raise OSError(errno.ENODEV, "No such device")
        if not self._queue:
            raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")
        try:
            os.read(self._r, 4096)
        except BlockingIOError:
            pass
        events, self._queue = self._queue, []
        yield from events

    def close(self):
        self.closed = True
        for fd in (self._r, self._w):
            try:
                os.close(fd)
            except OSError:
                pass


class FakeHidScanner(HidScanner):
    input_device_factory = FakeInputDevice


@pytest.fixture
def node(tmp_path):
    path = tmp_path / "event7"
    path.touch()  # the driver checks the node exists before opening it
    FakeInputDevice.devices.clear()
    FakeInputDevice.open_error = FakeInputDevice.grab_error = None
    yield str(path)
    for dev in FakeInputDevice.devices.values():
        dev.close()


def _scanner(path):
    return FakeHidScanner("scanner-1", parse_device_url(path), {})


def test_the_driver_grabs_the_device_while_open_and_releases_it_on_close(node):
    scanner = _scanner(node)
    scanner.open()
    dev = FakeInputDevice.devices[node]
    assert dev.grabbed and scanner.status().state == DeviceState.READY
    scanner.close()
    assert not dev.grabbed and dev.closed


def test_the_driver_reads_typed_codes(node):
    with _scanner(node) as scanner:
        FakeInputDevice.devices[node].push(typed("BK-0042") + typed("bk-7"))
        got = []
        for _ in range(20):
            got += [r.code for r in scanner.read(0.5)]
            if len(got) >= 2:
                break
        assert got == ["BK-0042", "bk-7"]
        assert scanner.read(0.05) == []


def test_a_rejected_code_is_counted_not_returned(node):
    with _scanner(node) as scanner:
        FakeInputDevice.devices[node].push(_keys((e.KEY_F5, 1), (e.KEY_ENTER, 1)) + typed("OK1"))
        assert [r.code for r in scanner.read(2.0)] == ["OK1"]
        assert scanner.rejected == 1


def test_unplug_raises_unavailable_and_reports_disconnected(node):
    scanner = _scanner(node)
    scanner.open()
    FakeInputDevice.devices[node].unplug()
    with pytest.raises(DeviceUnavailable, match="is gone"):
        scanner.read(2.0)
    assert scanner.status().state == DeviceState.OFFLINE and scanner.problems() == ["disconnected"]
    scanner.close()  # safe after an unplug
    scanner.open()  # "replugged": a fresh device at the same path
    assert FakeInputDevice.devices[node].grabbed


def test_a_device_grabbed_by_another_program_is_unavailable(node):
    FakeInputDevice.grab_error = OSError(errno.EBUSY, "Device or resource busy")
    with pytest.raises(DeviceUnavailable, match="another program"):
        _scanner(node).open()
    assert FakeInputDevice.devices[node].closed


def test_no_permission_names_the_input_group(node):
    FakeInputDevice.open_error = PermissionError(errno.EACCES, "Permission denied")
    with pytest.raises(DeviceUnavailable, match="'input' group"):
        _scanner(node).open()


def test_a_missing_node_is_unavailable(tmp_path):
    with pytest.raises(DeviceUnavailable, match="does not exist"):
        _scanner(str(tmp_path / "event9")).open()


def test_the_real_driver_uses_evdev_input_device():
    import evdev
    assert HidScanner.input_device_factory is evdev.InputDevice
