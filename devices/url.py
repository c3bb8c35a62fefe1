"""Device addresses as URLs, so a simulator or a real port is a configuration choice.

Accepted forms:
  /dev/ttyUSB0                      serial port by path (baud from the protocol's default)
  serial:///dev/ttyUSB0?baud=9600   serial port with options (baud, parity=N|E|O, bytesize, stopbits)
  usb://04b8:0e15[/SERIAL]          USB device by vendor:product (hex), optionally serial number
  tcp://HOST:PORT                   network device (ESC/POS printers listen on 9100)
  file:///path                      write-only sink (printer to a file or a character device)
  sim://KIND?protocol=P             an in-process simulator (demo and tests)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

from devices.errors import BadDeviceURL

SCHEMES = ("serial", "usb", "tcp", "file", "sim")


@dataclass(frozen=True)
class DeviceURL:
    scheme: str
    path: str = ""  # serial/file path; sim kind
    host: str = ""
    port: int = 0
    vendor_id: int = 0
    product_id: int = 0
    serial_number: str | None = None
    options: dict[str, str] = field(default_factory=dict)

    def option(self, name: str, default: str | None = None) -> str | None:
        return self.options.get(name, default)

    def int_option(self, name: str, default: int) -> int:
        value = self.options.get(name)
        if value is None:
            return default
        try:
            return int(value)
        except ValueError as exc:
            raise BadDeviceURL(f"option {name}={value!r} is not a whole number") from exc

    def __str__(self) -> str:  # a readable form for logs and messages
        if self.scheme == "usb":
            text = f"usb://{self.vendor_id:04x}:{self.product_id:04x}"
            return text + (f"/{self.serial_number}" if self.serial_number else "")
        if self.scheme == "tcp":
            return f"tcp://{self.host}:{self.port}"
        return f"{self.scheme}://{self.path}"


def parse_device_url(text: str) -> DeviceURL:
    """Parse a device address; raise BadDeviceURL with a message saying what was expected."""
    if not isinstance(text, str) or not text.strip():
        raise BadDeviceURL("empty device URL; expected e.g. serial:///dev/ttyUSB0 or usb://04b8:0e15")
    text = text.strip()
    if text.startswith("/"):
        return DeviceURL("serial", path=text)
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    options = dict(parse_qsl(parts.query))
    if scheme not in SCHEMES:
        raise BadDeviceURL(f"unsupported device URL scheme {parts.scheme!r} in {text!r}; expected one of {', '.join(SCHEMES)}")
    if scheme in ("serial", "file"):
        path = parts.netloc + parts.path if parts.netloc else parts.path
        if not path:
            raise BadDeviceURL(f"{text!r} has no path")
        return DeviceURL(scheme, path=path, options=options)
    if scheme == "tcp":
        if not parts.hostname or parts.port is None:
            raise BadDeviceURL(f"{text!r}: expected tcp://HOST:PORT")
        return DeviceURL(scheme, host=parts.hostname, port=parts.port, options=options)
    if scheme == "usb":
        ids = parts.netloc.split(":")
        try:
            vendor, product = (int(x, 16) for x in ids)
        except ValueError:
            raise BadDeviceURL(f"{text!r}: expected usb://VID:PID[/SERIAL] with hex ids") from None
        serial_number = parts.path.strip("/") or None
        return DeviceURL(scheme, vendor_id=vendor, product_id=product, serial_number=serial_number, options=options)
    # sim://KIND?protocol=P
    return DeviceURL(scheme, path=parts.netloc + parts.path, options=options)
