"""Call-display drivers: Alpha LED text signs and Modbus RTU number boards.

Both are Devices of kind "display" addressed on a shared serial line (devices.display.line):
options `address` (Alpha: two hex digits, "00" = all signs; Modbus: unit id 1..247),
`mode` (hold | flash), `position` (middle | top | bottom | fill, Alpha only),
`answer_timeout` (seconds to wait for a reply, default 1.0), `check_every` (status() asks a
board not heard from for this many seconds, default 5).
Alpha only: `answers` (default true). Many signs hang on one-way RS-232/RS-485 with no return
line, and signs addressed by broadcast (`00`) never answer: with `answers = false` (implied by
address 00) the driver writes and never reads back. Such a sign's status is degraded with the
problem `unverified`: we cannot know what it shows. Its periodic check only confirms that the
port is still there (an unplugged adapter is `disconnected`).
Line settings: Alpha 9600 7E1, Modbus 9600 8N1; URL options (baud, parity, bytesize,
stopbits, gap_ms) override them.
"""
from __future__ import annotations

import os
import time
from concurrent.futures import Future
from typing import Any, Mapping

from pymodbus.exceptions import ConnectionException, ModbusException

from devices import status as problems_
from devices.base import Device
from devices.display import alpha, line as lines, modbus
from devices.errors import DeviceError, DeviceNotAnswering, DeviceUnavailable
from devices.serial_port import open_serial
from devices.url import DeviceURL

ALPHA_GAP = 0.1  # no fixed gap in the Alpha protocol; ~100 ms lets a sign store a packet


def _is_pty(path: str) -> bool:
    return os.path.realpath(path).startswith("/dev/pts/")


class DisplayOptionError(DeviceError):
    """A display option (address, mode, position...) that cannot work; says what was expected."""


class _LineBoard(Device):
    kind = "display"
    default_gap = 0.0
    answers = True  # False: a one-way board, written to and never read back

    def __init__(self, device_id: str, url: DeviceURL, options: Mapping[str, Any] | None = None):
        super().__init__(device_id, url, options)
        self._line: lines.SerialLine | None = None
        self._problems: set[str] = set()
        mode = str(self.options.get("mode", "hold")).lower()
        if mode not in ("hold", "flash"):
            raise DisplayOptionError(f"{device_id}: mode {mode!r}: expected hold or flash")
        self.mode = mode
        try:
            self.answer_timeout = float(self.options.get("answer_timeout", 1.0))
            self.check_every = float(self.options.get("check_every", 5.0))
        except ValueError:
            raise DisplayOptionError(f"{device_id}: answer_timeout and check_every are seconds") from None
        self._last_contact = 0.0  # monotonic time of the board's last answer

    # -- Device ---------------------------------------------------------------------------
    def open(self) -> None:
        if self._line is not None:
            return
        if self.url.scheme != "serial":
            raise DeviceUnavailable(f"{self.url} is not a serial port; call displays hang on a serial line")
        gap = self.url.int_option("gap_ms", round(self.default_gap * 1000)) / 1000
        try:
            self._line = lines.acquire(self.url.path, self.protocol, self._open_transport, gap)
        except DeviceUnavailable:
            self._problems = {problems_.DISCONNECTED}
            raise
        try:
            self.check()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        line, self._line = self._line, None
        if line is not None:
            lines.release(line)

    def problems(self) -> list[str]:
        """Problems as last observed; a board not heard from for `check_every` seconds is asked
        first (the device manager polls status(), and a board that stops answering must show)."""
        if self._line is not None and time.monotonic() - self._last_contact >= self.check_every:
            try:
                self.check()
            except DeviceError:
                pass  # recorded in self._problems by _run
        if self._line is None and not self._problems:
            return [problems_.DISCONNECTED]
        return sorted(self._problems)

    def check(self) -> None:
        """Ask the board for its health; raises and records a problem when it does not answer.
        A one-way board cannot be asked: only its port is checked."""
        self._run(self._check_job if self.answers else self._port_still_there)

    def show_call(self, ticket: str, room: str) -> Future:
        """Queue the call's frame (each board formats its own) on the board's line and return at
        once: the Future resolves when the board took it, or holds the DeviceError. A frame the
        board cannot show at all raises ValueError here, before anything is queued."""
        return self._submit(self._call_job(ticket, room))

    def _call_job(self, ticket: str, room: str):
        raise NotImplementedError  # each protocol formats a call its own way

    # -- plumbing ---------------------------------------------------------------------------
    def _submit(self, job) -> Future:
        """Queue `job` on the line; the board's problems follow its outcome when it completes."""
        if self._line is None:
            raise DeviceUnavailable(f"{self.device_id} is not open")
        future = self._line.submit(job)
        future.add_done_callback(self._record)
        return future

    def _record(self, future: Future) -> None:
        """Runs on the line's worker when a job ends: note what it says about the board."""
        if future.cancelled():
            return
        exc = future.exception()
        if exc is None:
            self._problems = set() if self.answers else {problems_.UNVERIFIED}
            self._last_contact = time.monotonic()
        elif isinstance(exc, DeviceNotAnswering):
            self._problems = {problems_.NOT_ANSWERING}
        elif isinstance(exc, DeviceUnavailable):
            self._problems = {problems_.DISCONNECTED}

    def _run(self, job):
        """Run `job` and wait for it (show(), show_number(), check())."""
        future = self._submit(job)
        try:
            return lines.wait_for(future, lines.JOB_WAIT, self.url.path)
        finally:
            # The done callback may still be on its way from the worker: record here as well, so
            # the caller sees the board's problems as soon as the call returns.
            if future.done():
                self._record(future)
            else:
                self._problems = {problems_.NOT_ANSWERING}  # the line is so busy the job never ran

    def _port_still_there(self, ctx) -> None:
        if not os.path.exists(self.url.path):
            raise DeviceUnavailable(f"{self.url.path} is gone (unplugged?)")

    def _open_transport(self):
        raise NotImplementedError

    def _check_job(self, ctx):
        raise NotImplementedError


class AlphaBoard(_LineBoard):
    """An Alpha-protocol LED sign. show() writes TEXT file A, then reads the sign's serial error
    status register: the answer proves the sign is there and took the packet (a checksum or
    framing error reported there means it dropped it, so the packet is sent once more).
    A one-way sign (`answers = false`, or address 00) only gets the write, and stays unverified."""

    protocol = "alpha"
    default_gap = ALPHA_GAP

    def __init__(self, device_id: str, url: DeviceURL, options: Mapping[str, Any] | None = None):
        super().__init__(device_id, url, options)
        try:
            self.address = alpha.normalize_address(self.options.get("address", alpha.BROADCAST))
            self.position = str(self.options.get("position", "middle")).lower()
            self.label = str(self.options.get("label", alpha.DEFAULT_LABEL))
            alpha.write_text("", address=self.address, label=self.label, position=self.position, mode=self.mode)
        except alpha.AlphaEncodeError as exc:
            raise DisplayOptionError(f"{device_id}: {exc}") from None
        self.answers = self._answers(device_id)

    def _answers(self, device_id: str) -> bool:
        broadcast = self.address == alpha.BROADCAST
        value = self.options.get("answers", not broadcast)
        if not isinstance(value, bool):
            raise DisplayOptionError(f"{device_id}: answers {value!r}: expected true or false")
        if value and broadcast:
            raise DisplayOptionError(f"{device_id}: answers = true with address 00: signs addressed "
                                     f"by broadcast never answer; give the sign's own address")
        return value

    def show(self, text: str, flash: bool = False) -> None:
        """Show `text` (ASCII after transliteration; AlphaEncodeError otherwise)."""
        self._run(self._text_job(text, flash))

    def _text_job(self, text: str, flash: bool):
        packet = alpha.write_text(text, address=self.address, label=self.label, position=self.position,
                                  mode="flash" if flash else self.mode)
        return lambda ctx: self._write_job(ctx, packet)

    def _call_job(self, ticket: str, room: str):
        return self._text_job(f"{ticket} -> {room}", flash=True)  # a new call flashes

    def _open_transport(self):
        bytesize, parity = 7, "E"
        if _is_pty(self.url.path) and not {"bytesize", "parity"} & set(self.url.options):
            # A pty ignores line settings, and some kernels refuse CS7/PARENB on one (EINVAL),
            # so a simulator line is opened 8N1; real ports always get 7E1 unless the URL says.
            bytesize, parity = 8, "N"
        return open_serial(self.url, baud=9600, bytesize=bytesize, parity=parity)

    def _write_job(self, ctx, packet: bytes) -> None:
        if not self.answers:
            ctx.send(packet)  # one-way: the packet left the port, which is all we can know
            return
        status = 0
        for _attempt in range(2):
            ctx.send(packet)
            status = self._check_job(ctx)
            if not status & alpha.STATUS_ERRORS:
                return
        raise DeviceNotAnswering(f"Alpha sign {self.address} on {self.url.path} did not take the text: "
                                 f"it reports {alpha.describe_status(status)} errors")

    def _check_job(self, ctx) -> int:
        """Read the serial error status register: the sign's answer, or DeviceNotAnswering."""
        ctx.send(alpha.read_serial_error_status(self.address))
        port, decoder = ctx.transport, alpha.AlphaDecoder()
        deadline = time.monotonic() + self.answer_timeout
        while time.monotonic() < deadline:
            chunk = port.read(max(1, port.in_waiting))
            for item in decoder.feed(chunk):
                if isinstance(item, alpha.AlphaPacket):
                    status = alpha.parse_serial_error_status(item)
                    if status is not None:
                        ctx.mark()
                        return status
        raise DeviceNotAnswering(f"Alpha sign {self.address} on {self.url.path} did not answer a status "
                                 f"read within {self.answer_timeout:g} s")


class ModbusNumberBoard(_LineBoard):
    """A Modbus RTU number board: show_number() writes register 0 and expects the echo."""

    protocol = "modbus"

    def __init__(self, device_id: str, url: DeviceURL, options: Mapping[str, Any] | None = None):
        super().__init__(device_id, url, options)
        try:
            self.unit = modbus.check_unit(int(self.options.get("address", modbus.DEFAULT_UNIT)))
        except ValueError as exc:
            raise DisplayOptionError(f"{device_id}: {exc}") from None
        self.default_gap = modbus.frame_gap(url.int_option("baud", 9600))

    def show_number(self, number: int) -> None:
        self._run(self._number_job(number))

    def _number_job(self, number: int):
        value = modbus.to_register(number)
        return lambda ctx: self._write_job(ctx, value)

    def _call_job(self, ticket: str, room: str):
        # A number board shows the ticket's number only ("L007" -> 7); the room is its door.
        return self._number_job(int("".join(ch for ch in ticket if ch.isdigit()) or 0))

    def _open_transport(self):
        return modbus.PortClient(open_serial(self.url, baud=9600), timeout=self.answer_timeout)

    def _transact(self, ctx, call):
        ctx.pace()
        try:
            return call(ctx.transport)
        except ConnectionException as exc:
            raise DeviceUnavailable(f"serial line {self.url.path} failed: {exc}") from None
        except ModbusException:
            raise DeviceNotAnswering(f"Modbus unit {self.unit} on {self.url.path} did not answer "
                                     f"within {self.answer_timeout:g} s") from None
        finally:
            ctx.mark()

    def _write_job(self, ctx, value: int) -> None:
        reply = self._transact(ctx, lambda c: c.write_register(modbus.REGISTER, value, device_id=self.unit))
        if reply.isError():
            raise DeviceNotAnswering(f"Modbus unit {self.unit} refused the number "
                                     f"(exception code {getattr(reply, 'exception_code', '?')})")
        if reply.address != modbus.REGISTER or list(reply.registers) != [value]:
            raise DeviceNotAnswering(f"Modbus unit {self.unit} echoed register {reply.address} = "
                                     f"{reply.registers}, not {modbus.REGISTER} = {value}")

    def _check_job(self, ctx) -> None:
        # Any answer counts, a Modbus exception included: it proves the unit is on the line.
        self._transact(ctx, lambda c: c.read_holding_registers(modbus.REGISTER, count=1, device_id=self.unit))
