"""Opening serial ports with messages a technician can act on."""
from __future__ import annotations

import errno
import os
import time

import serial

from devices.errors import DeviceUnavailable
from devices.url import DeviceURL

LOCK_WAIT_S = 1.0  # how long to wait for a port another process is letting go of
_PARITY = {"N": serial.PARITY_NONE, "E": serial.PARITY_EVEN, "O": serial.PARITY_ODD}


def open_serial(url: DeviceURL, *, baud: int, bytesize: int = 8, parity: str = "N",
                stopbits: int = 1, timeout: float = 0.2, write_timeout: float = 2.0) -> serial.Serial:
    """Open a serial:// URL; options in the URL override the protocol's line settings."""
    if url.scheme != "serial":
        raise DeviceUnavailable(f"{url} is not a serial port")
    if not os.path.exists(url.path):
        raise DeviceUnavailable(f"serial port {url.path} does not exist (unplugged, or wrong path?)")
    parity = (url.option("parity", parity) or "N").upper()
    deadline = time.monotonic() + LOCK_WAIT_S
    while True:
        try:
            return serial.Serial(
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
            if getattr(exc, "errno", None) == errno.EAGAIN and time.monotonic() < deadline:
                time.sleep(0.05)  # someone holds the port's lock: it may be letting go right now
                continue
            if getattr(exc, "errno", None) == errno.EAGAIN:
                raise DeviceUnavailable(f"{url.path} is in use by {lock_holder(url.path) or 'another process'}; "
                                        "only one program may drive a device (stop it, or use the controller)") from exc
            raise DeviceUnavailable(f"cannot open {url.path}: {exc}") from exc


def close_quietly(port: serial.Serial | None) -> None:
    """Close a port that may already be gone (unplugged): closing must never raise."""
    if port is None:
        return
    try:
        port.close()
    except (serial.SerialException, OSError):
        pass


def lock_holder(path: str) -> str | None:
    """Who holds the advisory lock on a device, from /proc/locks: "PID 123 (vestibule controller ...)"."""
    try:
        st = os.stat(path)
        wanted = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
        with open("/proc/locks") as locks:
            for line in locks:
                fields = line.split()
                if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == wanted:
                    pid = fields[4]
                    try:
                        with open(f"/proc/{pid}/cmdline", "rb") as f:
                            cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()[:120]
                    except OSError:
                        cmd = "?"
                    return f"PID {pid} ({cmd})"
    except OSError:
        pass
    return None
