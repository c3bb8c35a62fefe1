"""Byte links to a printer over python-escpos transports, chosen by URL scheme.

Each link writes through the python-escpos printer object (`_raw`) and reads the printer's
answers with a timeout, turning transport errors into DeviceUnavailable / DeviceNotAnswering
with messages a technician can act on.

  usb://VID:PID[/SERIAL]   escpos.printer.Usb (pyusb); options in_ep, out_ep (e.g. 0x81)
  serial:// or /dev/...    escpos.printer.Serial on a port opened by devices.serial_port
  tcp://HOST:PORT          escpos.printer.Network (raw port 9100)
  file:///path             escpos.printer.File: write-only, no status channel
"""
from __future__ import annotations

import errno
import socket

import serial

from devices.errors import BadDeviceURL, DeviceNotAnswering, DeviceUnavailable
from devices.serial_port import open_serial
from devices.url import DeviceURL

DEFAULT_BAUD = 9600
USB_WRITE_TIMEOUT_MS = 5000


class Link:
    has_status = True

    def __init__(self, printer, where: str):
        self.printer = printer  # the python-escpos printer object
        self.where = where

    def write(self, data: bytes) -> None:
        raise NotImplementedError

    def read(self, timeout: float) -> bytes:
        """Bytes the printer sent within `timeout` s (b"" if none); timeout 0 = what is waiting."""
        raise NotImplementedError

    def close(self) -> None:
        try:
            self.printer.close()
        except Exception:  # noqa: BLE001 - closing a port that vanished must not fail
            pass
        self.printer._device = False  # python-escpos would otherwise close again in __del__


# -- serial -------------------------------------------------------------------------------------
class SerialLink(Link):
    def close(self) -> None:
        port = self.printer._device
        super().close()
        if port:
            try:
                port.close()  # in case python-escpos's flush() failed on a vanished port
            except Exception:  # noqa: BLE001
                pass

    def write(self, data: bytes) -> None:
        try:
            self.printer._raw(data)
        except serial.SerialTimeoutException as exc:
            raise DeviceNotAnswering(f"printer on {self.where} does not accept data "
                                     f"(flow control or buffer full): {exc}") from exc
        except (serial.SerialException, OSError) as exc:
            raise DeviceUnavailable(f"printer on {self.where} disconnected: {exc}") from exc

    def read(self, timeout: float) -> bytes:
        port = self.printer.device
        try:
            timeout = max(0.0, timeout)
            if port.timeout != timeout:  # pyserial reconfigures the tty on every change
                port.timeout = timeout
            first = port.read(1)
            if not first:
                return b""
            waiting = port.in_waiting
            return first + (port.read(waiting) if waiting else b"")
        except (serial.SerialException, OSError) as exc:
            raise DeviceUnavailable(f"printer on {self.where} disconnected: {exc}") from exc


def open_serial_link(url: DeviceURL, profile: str | None, baud: int) -> SerialLink:
    from escpos.printer import Serial

    port = open_serial(url, baud=baud)  # raises DeviceUnavailable with a clear message
    printer = Serial(devfile=url.path, baudrate=port.baudrate, profile=profile)
    printer.device = port  # python-escpos writes and closes it; we opened it (exclusive, checked)
    return SerialLink(printer, url.path)


# -- USB ---------------------------------------------------------------------------------------
def _usb_errno(exc: BaseException) -> int | None:
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if getattr(exc, "errno", None):
            return exc.errno
        text = str(exc)
        if "Access denied" in text:
            return errno.EACCES
        if "Resource busy" in text:
            return errno.EBUSY
        if "No such device" in text:
            return errno.ENODEV
        exc = exc.__cause__ or exc.__context__
    return None


def explain_usb_error(exc: BaseException, url: DeviceURL) -> DeviceUnavailable:
    vid, pid = f"{url.vendor_id:04x}", f"{url.product_id:04x}"
    code = _usb_errno(exc)
    if code == errno.EACCES:
        return DeviceUnavailable(
            f"USB printer {vid}:{pid}: access denied (insufficient permissions). Install a udev rule, "
            f"e.g. /etc/udev/rules.d/70-vestibule-printer.rules with "
            f'SUBSYSTEM=="usb", ATTRS{{idVendor}}=="{vid}", ATTRS{{idProduct}}=="{pid}", '
            f'MODE="0660", GROUP="plugdev"; run `udevadm control --reload && udevadm trigger`, '
            f"replug the printer and make sure the service user is in the plugdev group")
    if code == errno.EBUSY:
        return DeviceUnavailable(
            f"USB printer {vid}:{pid}: resource busy - another driver holds it. Either the usblp "
            f"kernel module (unbind it: echo '<bus>-<port>:1.0' > /sys/bus/usb/drivers/usblp/unbind, "
            f"or blacklist it: echo 'blacklist usblp' > /etc/modprobe.d/no-usblp.conf) or CUPS "
            f"(remove the printer from CUPS, or stop cups.service)")
    if code == errno.ENODEV:
        return DeviceUnavailable(f"USB printer {vid}:{pid} disconnected")
    if code in (errno.EINVAL, errno.ENOENT, errno.EPIPE):
        return DeviceUnavailable(f"USB printer {vid}:{pid}: {exc} - check its endpoints (`lsusb -v -d {vid}:{pid}`) "
                                 f"and set them, e.g. ?in_ep=0x81&out_ep=0x02")
    return DeviceUnavailable(f"USB printer {vid}:{pid}: {exc}")


class UsbLink(Link):
    def __init__(self, printer, url: DeviceURL):
        super().__init__(printer, str(url))
        self.url = url

    def write(self, data: bytes) -> None:
        import usb.core

        try:
            self.printer._raw(data)
        except usb.core.USBTimeoutError as exc:
            raise DeviceNotAnswering(f"USB printer {self.where} does not accept data: {exc}") from exc
        except (usb.core.USBError, OSError) as exc:
            raise explain_usb_error(exc, self.url) from exc

    def read(self, timeout: float) -> bytes:
        import usb.core

        device = self.printer.device
        try:
            # pyusb: timeout 0 would mean "wait forever", so at least 1 ms
            return bytes(device.read(self.printer.in_ep, 64, max(1, int(timeout * 1000))))
        except usb.core.USBTimeoutError:
            return b""
        except (usb.core.USBError, OSError) as exc:
            raise explain_usb_error(exc, self.url) from exc


def open_usb_link(url: DeviceURL, profile: str | None, in_ep: int, out_ep: int) -> UsbLink:
    from escpos.exceptions import DeviceNotFoundError
    from escpos.printer import Usb

    usb_args: dict = {}
    if url.serial_number:
        wanted = url.serial_number

        def match(device) -> bool:
            try:
                return device.serial_number == wanted
            except ValueError:  # pyusb: no langid, usually missing permissions
                return False

        usb_args["custom_match"] = match
    printer = Usb(url.vendor_id, url.product_id, usb_args=usb_args, timeout=USB_WRITE_TIMEOUT_MS,
                  in_ep=in_ep, out_ep=out_ep, profile=profile)
    try:
        printer.open()
    except DeviceNotFoundError as exc:
        code = _usb_errno(exc)
        if code in (errno.EACCES, errno.EBUSY):
            raise explain_usb_error(exc, url) from exc
        serial_hint = f" with serial number {url.serial_number}" if url.serial_number else ""
        raise DeviceUnavailable(f"USB printer {url.vendor_id:04x}:{url.product_id:04x}{serial_hint} "
                                f"not found (unplugged or powered off? `lsusb` lists it when connected)") from exc
    except Exception as exc:  # noqa: BLE001 - pyusb errors escaping python-escpos
        raise explain_usb_error(exc, url) from exc
    return UsbLink(printer, url)


# -- network ----------------------------------------------------------------------------------
class NetworkLink(Link):
    def write(self, data: bytes) -> None:
        try:
            self.printer._raw(data)
        except OSError as exc:
            raise DeviceUnavailable(f"printer at {self.where}: connection lost: {exc}") from exc

    def read(self, timeout: float) -> bytes:
        sock = self.printer.device
        old = sock.gettimeout()
        try:
            sock.settimeout(max(0.0, timeout))
            data = sock.recv(64)
        except (socket.timeout, BlockingIOError):
            return b""
        except OSError as exc:
            raise DeviceUnavailable(f"printer at {self.where}: connection lost: {exc}") from exc
        finally:
            try:
                sock.settimeout(old)
            except OSError:
                pass
        if not data:
            raise DeviceUnavailable(f"printer at {self.where} closed the connection")
        return data


def open_network_link(url: DeviceURL, profile: str | None, timeout: float) -> NetworkLink:
    from escpos.exceptions import DeviceNotFoundError
    from escpos.printer import Network

    printer = Network(host=url.host, port=url.port, timeout=timeout, profile=profile)
    try:
        printer.open()
    except DeviceNotFoundError as exc:
        raise DeviceUnavailable(f"cannot connect to printer at {url.host}:{url.port} "
                                f"(powered off, wrong address, or port 9100 blocked?)") from exc
    return NetworkLink(printer, f"{url.host}:{url.port}")


# -- file ---------------------------------------------------------------------------------------
class FileLink(Link):
    has_status = False

    def write(self, data: bytes) -> None:
        try:
            self.printer._raw(data)
        except OSError as exc:
            raise DeviceUnavailable(f"cannot write to {self.where}: {exc}") from exc

    def read(self, timeout: float) -> bytes:
        return b""


def open_file_link(url: DeviceURL, profile: str | None) -> FileLink:
    from escpos.exceptions import DeviceNotFoundError
    from escpos.printer import File

    printer = File(devfile=url.path, profile=profile)
    try:
        printer.open()
    except DeviceNotFoundError as exc:
        raise DeviceUnavailable(f"cannot open {url.path} for printing: {exc.__context__ or exc}") from exc
    return FileLink(printer, url.path)


def open_link(url: DeviceURL, profile: str | None, *, baud: int = DEFAULT_BAUD, in_ep: int = 0x82,
              out_ep: int = 0x01, timeout: float = 5.0) -> Link:
    if url.scheme == "serial":
        return open_serial_link(url, profile, baud)
    if url.scheme == "usb":
        return open_usb_link(url, profile, in_ep, out_ep)
    if url.scheme == "tcp":
        return open_network_link(url, profile, timeout)
    if url.scheme == "file":
        return open_file_link(url, profile)
    raise BadDeviceURL(f"{url}: an ESC/POS printer is reached by usb://, serial://, a /dev path, "
                       f"tcp:// or file://")
