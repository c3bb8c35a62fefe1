"""Opening serial ports with messages a technician can act on."""
from __future__ import annotations

import os

import serial

from devices.errors import DeviceUnavailable
from devices.url import DeviceURL

_PARITY = {"N": serial.PARITY_NONE, "E": serial.PARITY_EVEN, "O": serial.PARITY_ODD}


def open_serial(url: DeviceURL, *, baud: int, bytesize: int = 8, parity: str = "N",
                stopbits: int = 1, timeout: float = 0.2, write_timeout: float = 2.0) -> serial.Serial:
    """Open a serial:// URL; options in the URL override the protocol's line settings."""
    if url.scheme != "serial":
        raise DeviceUnavailable(f"{url} is not a serial port")
    if not os.path.exists(url.path):
        raise DeviceUnavailable(f"serial port {url.path} does not exist (unplugged, or wrong path?)")
    parity = (url.option("parity", parity) or "N").upper()
    try:
        port = serial.Serial(
            url.path,
            baudrate=url.int_option("baud", baud),
            bytesize=url.int_option("bytesize", bytesize),
            parity=_PARITY.get(parity, serial.PARITY_NONE),
            stopbits=url.int_option("stopbits", stopbits),
            timeout=timeout,
            write_timeout=write_timeout,
            exclusive=True,  # advisory: keeps a second Vestibule process off the port
        )
    except (serial.SerialException, OSError) as exc:
        raise DeviceUnavailable(f"cannot open {url.path}: {exc}") from exc
    return port
