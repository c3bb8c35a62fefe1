"""Safe, read-only probes: does a device of protocol P answer on this port, and who is it?

Each probe is a thin use of the protocol's driver or codec in devices/: it sends only that
protocol's read requests (identify, status, a register or temperature read) and never a command
that changes a setting. Bytes meant for one protocol reach whatever is on the port; they were
chosen so that none of them is a write for another protocol we speak (Optris SET commands carry
a checksum, Alpha and Modbus writes are CRC'd or checksummed frames, DLE EOT is a real-time
status request). A probe returns an Identification, None when nothing of its kind answered,
and lets DeviceUnavailable through when the port cannot be opened at all.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from devices.errors import DeviceError, DeviceNotAnswering, DeviceUnavailable
from devices.url import parse_device_url


@dataclass
class Identification:
    kind: str
    protocol: str
    identity: dict = field(default_factory=dict)  # model, vendor, firmware, sensor id, serial...

    def summary(self) -> str:
        details = ", ".join(f"{k} {v}" for k, v in self.identity.items() if v not in (None, ""))
        return f"{self.kind}/{self.protocol}" + (f" ({details})" if details else "")


@dataclass(frozen=True)
class Timeouts:
    """Seconds each probe waits for an answer; the bench and tests shorten or lengthen them."""
    nonin: float = 0.8  # listen only: a packet is 25 frames at 75/s (1/3 s); allow two
    contec: float = 0.5
    bridge: float = 0.3
    optris: float = 0.25
    escpos: float = 0.4
    alpha: float = 0.4
    modbus: float = 0.4

    def total(self, protocols) -> float:
        return sum(getattr(self, p) for p in protocols)


DEFAULT_TIMEOUTS = Timeouts()


def _url(port: str, **options):
    text = port if port.startswith(("serial://", "usb://")) else f"serial://{port}"
    if options:
        text += "?" + "&".join(f"{k}={v}" for k, v in options.items())
    return parse_device_url(text)


def probe_nonin(port: str, t: Timeouts) -> Identification | None:
    from devices.oximeter.driver import NoninOximeter
    device = NoninOximeter("probe", _url(port), {"open_timeout_s": t.nonin, "silence_s": t.nonin})
    try:
        device.open()  # listens only: a Nonin streams checksummed frames from power-on
    except DeviceNotAnswering:
        return None
    try:
        reading = device.read(0.0)[0:1]
    finally:
        device.close()
    identity = {"probe": reading[0].probe} if reading else {}
    return Identification("oximeter", "nonin", identity)


def probe_contec(port: str, t: Timeouts) -> Identification | None:
    from devices.oximeter.driver import ContecOximeter
    device = ContecOximeter("probe", _url(port), {"open_timeout_s": t.contec, "silence_s": t.contec * 4})
    try:
        device.open()  # A1 (start live data), then waits for one live packet
    except DeviceNotAnswering:
        return None
    try:
        identity = device.identify(timeout=t.contec * 2)  # A2, A8 / A9 / AA, A1
    except DeviceNotAnswering:  # live data proved it a Contec; older firmware may not say who it is
        return Identification("oximeter", "contec", {"model": "did not answer A8/A9/AA"})
    finally:
        device.close()
    return Identification("oximeter", "contec", {"model": identity["model"], "vendor": identity["vendor"],
                                                 "device_id": identity["device_id"]})


def probe_bridge(port: str, t: Timeouts) -> Identification | None:
    from devices.serial_port import close_quietly, open_serial
    from devices.thermometer.bridge_host import BridgeLink, ProtocolMismatch
    from devices.thermometer.driver import BridgeThermometer
    serial_port = open_serial(_url(port), baud=BridgeThermometer.BAUD, timeout=0.05)
    try:
        # HELLO then IDENTIFY; no STREAM, so the board is left as it was found
        identity = BridgeLink(serial_port, reply_timeout=t.bridge, attempts=1).connect()
    except ProtocolMismatch as exc:
        return Identification("thermometer", "bridge", {"problem": str(exc)})
    except DeviceNotAnswering:
        return None
    finally:
        close_quietly(serial_port)
    return Identification("thermometer", "bridge", {
        "firmware": identity.firmware_version, "sensor_id": identity.sensor_id,
        "sensor_error": identity.sensor_error})


def probe_optris(port: str, t: Timeouts) -> Identification | None:
    from devices.thermometer.driver import OptrisThermometer
    device = OptrisThermometer("probe", _url(port), {"answer_timeout": t.optris})
    device.attempts = 1
    try:
        device.open()  # READ Temp-Target (01)
        reading = device.measure_once()
        identity = device.identify()  # READ serial number (0E) and firmware (0F)
    except DeviceNotAnswering:
        return None
    finally:
        device.close()
    return Identification("thermometer", "optris", {"serial": identity.serial_number,
                                                    "firmware": f"{identity.firmware:04x}",
                                                    "celsius": reading.celsius})


def probe_escpos(port: str, t: Timeouts) -> Identification | None:
    from devices.printer import status as st
    from devices.printer.transport import DEFAULT_BAUD, open_link
    # DLE EOT 1, 2, 4 only: the driver's open() would also send ESC @, which resets the printer's
    # modes and drops a half-received job, so the probe talks to the link directly.
    link = open_link(_url(port), None, baud=DEFAULT_BAUD, in_ep=0x82, out_ep=0x01, timeout=t.escpos)
    try:
        if not link.has_status:
            return None
        link.read(0.0)  # whatever was waiting is not an answer to us
        link.write(b"".join(st.rt_request(n) for n in st.RT_QUERIES))
        answers = b""
        deadline = time.monotonic() + t.escpos
        while len(answers) < len(st.RT_QUERIES) and time.monotonic() < deadline:
            answers += link.read(max(0.01, deadline - time.monotonic()))
    finally:
        link.close()
    if len(answers) != len(st.RT_QUERIES) or not all(st.is_rt_answer(b) for b in answers):
        return None
    problems = sorted(set().union(*(st.decode_rt(n, b) for n, b in zip(st.RT_QUERIES, answers))))
    return Identification("printer", "escpos", {"status": ", ".join(problems) or "ok"})


# Signs never answer a broadcast read (address 00), so the probe asks the addresses a line
# most often has, each for a share of the Alpha timeout; a sign set to another address is
# found by `assign --protocol alpha` with its address.
ALPHA_PROBE_ADDRESSES = ("01", "02")


def probe_alpha(port: str, t: Timeouts) -> Identification | None:
    from devices.display.driver import AlphaBoard
    for address in ALPHA_PROBE_ADDRESSES:
        device = AlphaBoard("probe", _url(port), {"answer_timeout": t.alpha / len(ALPHA_PROBE_ADDRESSES),
                                                  "address": address, "answers": True})
        try:
            device.open()  # reads the serial error status register of the sign at that address
        except DeviceNotAnswering:
            continue
        finally:
            device.close()
        return Identification("display", "alpha", {"address": address})
    return None


def probe_modbus(port: str, t: Timeouts) -> Identification | None:
    from devices.display.driver import ModbusNumberBoard
    device = ModbusNumberBoard("probe", _url(port), {"answer_timeout": t.modbus})
    try:
        device.open()  # reads holding register 0 of unit 1
    except DeviceNotAnswering:
        return None
    finally:
        device.close()
    return Identification("display", "modbus", {"unit": device.unit})


Probe = Callable[[str, Timeouts], "Identification | None"]

# Probes in the order they run when nothing hints otherwise: 115200 then 9600 line settings.
# Optris goes before ESC/POS: an Optris answers the 01 inside DLE EOT 1 with a temperature.
PROBES: dict[str, tuple[str, Probe]] = {
    "contec": ("oximeter", probe_contec),
    "bridge": ("thermometer", probe_bridge),
    "optris": ("thermometer", probe_optris),
    "nonin": ("oximeter", probe_nonin),
    "escpos": ("printer", probe_escpos),
    "alpha": ("display", probe_alpha),
    "modbus": ("display", probe_modbus),
}
# Answers found by length alone, with no framing or checksum: a device that talks unasked (a
# Nonin, a streaming Contec) would pass them, so a chatty port never runs these.
UNFRAMED = frozenset(("optris", "escpos"))
LISTEN_S = 0.15  # how long a port is listened to before anything is sent


def plan(likely_kinds: tuple[str, ...] = (), kind: str | None = None,
         protocol: str | None = None) -> list[str]:
    """Which probes to run, in order: the adapter's likely kinds first, the rest after."""
    if protocol:
        return [protocol] if protocol in PROBES else []
    names = [p for p, (k, _) in PROBES.items() if kind is None or k == kind]
    rank = {k: i for i, k in enumerate(likely_kinds)}
    return sorted(names, key=lambda p: rank.get(PROBES[p][0], len(rank)))


def talks_unasked(port: str, seconds: float = LISTEN_S) -> bool:
    """Listen without sending anything: does the device stream by itself?"""
    from devices.serial_port import close_quietly, open_serial
    serial_port = open_serial(_url(port), baud=9600, timeout=seconds)
    try:
        serial_port.reset_input_buffer()
        return bool(serial_port.read(16))
    finally:
        close_quietly(serial_port)


def order_for_chatty(names: list[str]) -> list[str]:
    """A streaming device: the listening probe first, and no probe that a stream would fool."""
    kept = [n for n in names if n not in UNFRAMED]
    return sorted(kept, key=lambda n: n != "nonin")


@dataclass
class PortResult:
    identification: Identification | None = None
    tried: list[str] = field(default_factory=list)
    error: str | None = None  # the port could not be opened
    seconds: float = 0.0


def probe_port(port: str, names: list[str], timeouts: Timeouts = DEFAULT_TIMEOUTS,
               on_step: Callable[[str], None] | None = None) -> PortResult:
    """Run the probes in order on one port until one identifies the device."""
    result = PortResult()
    start = time.monotonic()
    if not port.startswith("usb://") and len(names) > 1:
        try:
            if talks_unasked(port):
                names = order_for_chatty(names)
        except DeviceUnavailable as exc:
            result.error = str(exc)
            result.seconds = time.monotonic() - start
            return result
    for name in names:
        if on_step:
            on_step(name)
        result.tried.append(name)
        try:
            found = PROBES[name][1](port, timeouts)
        except DeviceUnavailable as exc:
            result.error = str(exc)
            break
        except (DeviceError, ValueError):  # answered, but not as that protocol: not this one
            found = None
        if found is not None:
            result.identification = found
            break
    result.seconds = time.monotonic() - start
    return result
