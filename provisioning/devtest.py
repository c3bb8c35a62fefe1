"""`vestibule provision test DEVICE-ID`: exercise one configured device, say PASS or FAIL in words.

printer      a test page (the sample ticket in the site's default language), confirmed by status
oximeter     five readings with SpO2 and pulse (finger in the clip)
thermometer  five temperatures
display      a test text (Alpha) or 888 (Modbus number board), confirmed by the board
scanner      one code, scanned by the technician within the timeout
The controller must be stopped first: a port is driven by one program at a time (the error says
who holds it).
"""
from __future__ import annotations

import time
from typing import TextIO

from devices import registry
from devices.errors import DeviceError
from devices.url import DeviceURL, parse_device_url

READINGS = 5
TEST_TEXT = "TEST 123"
TEST_NUMBER = 888


class TestFailed(Exception):
    pass


def _printer(device, lang: str, timeout: float) -> str:
    from devices.printer.layout import layout_for, sample_ticket
    from devices.printer.render import render
    outcome = device.print_job(render(layout_for(sample_ticket(lang)), device.printer_options))
    problems = ", ".join(outcome.problems) or "none"
    if not outcome.printed:
        raise TestFailed(f"test page {'sent but not confirmed' if outcome.sent else 'not printed'}: {problems} "
                         "(paper loaded? cover closed?)")
    return f"test page printed; printer problems: {problems}"


def _readings(device, timeout: float, good) -> list:
    got, last = [], None
    deadline = time.monotonic() + timeout
    while len(got) < READINGS and time.monotonic() < deadline:
        for reading in device.read(0.3):
            last = reading
            if good(reading) and (not got or reading.ts - got[-1].ts >= 0.2):
                got.append(reading)
    if len(got) < READINGS:
        why = f"; last reading: {last}" if last else ""
        raise TestFailed(f"{len(got)} of {READINGS} readings within {timeout:g} s{why}")
    return got


def _oximeter(device, lang: str, timeout: float) -> str:
    try:
        got = _readings(device, timeout, lambda r: r.probe == "ok" and r.spo2 is not None and r.pulse is not None)
    except TestFailed as exc:
        raise TestFailed(f"{exc} (finger in the clip? a finger_out or searching probe gives no values)") from None
    return "5 readings: " + ", ".join(f"SpO2 {r.spo2} % pulse {r.pulse}" for r in got)


def _thermometer(device, lang: str, timeout: float) -> str:
    try:
        got = _readings(device, timeout, lambda r: r.celsius is not None)
    except TestFailed as exc:
        raise TestFailed(f"{exc} (sensor error? see `vestibule device read thermometer`)") from None
    return "5 readings: " + ", ".join(f"{r.celsius:.2f} °C" for r in got)


def _display(device, lang: str, timeout: float) -> str:
    if device.protocol == "alpha":
        device.show(TEST_TEXT)
        return f"the board confirmed the text {TEST_TEXT!r}: check that it shows"
    device.show_number(TEST_NUMBER)
    return f"the board echoed {TEST_NUMBER}: check that it shows"


def _scanner(device, lang: str, timeout: float, out: TextIO | None = None) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        readings = device.read(min(0.5, deadline - time.monotonic()))
        if readings:
            return f"scanned {readings[0].code!r}"
    raise TestFailed(f"no code scanned within {timeout:g} s (scanner in CDC mode with a CR suffix? "
                     "try a printed QR code)")


EXERCISES = {"printer": _printer, "oximeter": _oximeter, "thermometer": _thermometer,
             "display": _display, "scanner": _scanner}


def run_test(device_id: str, config_path, *, timeout: float = 15.0, out: TextIO) -> int:
    from kiosk.node.config import ConfigError, load_node_config
    try:
        config = load_node_config(config_path)
    except ConfigError as exc:
        print(f"FAIL {device_id}: the config is not valid ({exc}); run `vestibule config check {config_path}`", file=out)
        return 1
    section = config.devices.get(device_id)
    if section is None:
        known = ", ".join(config.devices) or "none"
        print(f"FAIL {device_id}: not in {config_path} (configured: {known}); "
              f"`vestibule provision assign {device_id} --port ...` adds it", file=out)
        return 1
    url, sim = parse_device_url(section.url), None
    if url.scheme == "sim":  # the demo's simulated device: test the simulator the same way
        sim = registry.simulator_class(section.kind, section.protocol)()
        url = DeviceURL("serial", path=sim.start())
    device = registry.driver_class(section.kind, section.protocol)(device_id, url, dict(section.options))
    if section.kind == "scanner":
        print(f"{device_id}: scan any code now (within {timeout:g} s)", file=out, flush=True)
    try:
        device.open()
        try:
            said = EXERCISES[section.kind](device, config.site.default_language, timeout)
        finally:
            device.close()
    except (DeviceError, TestFailed) as exc:
        print(f"FAIL {device_id} ({section.kind}/{section.protocol} at {section.url}): {exc}", file=out)
        return 1
    finally:
        if sim:
            sim.stop()
    print(f"PASS {device_id} ({section.kind}/{section.protocol} at {section.url}): {said}", file=out)
    return 0
