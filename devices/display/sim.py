"""Simulated call-display lines: several addressed boards behind one pseudo-terminal.

Each simulator parses the real bytes (Alpha packets with their checksum, Modbus RTU frames with
their CRC), keeps what every addressed board shows, and answers as a board would: an Alpha
sign answers a read addressed to it, a Modbus unit echoes a register write. A packet whose
checksum or CRC is wrong never changes a board.

Settings (`vestibule sim display --protocol alpha --set addresses=01,02`):
  addresses    comma-separated board addresses (Alpha: hex pairs, default 01; Modbus: unit ids, default 1)
  answering    false = the whole line is silent (a dead converter)
  return_line  false = the boards take every packet but nothing they say reaches the host (a one-way
               RS-232/RS-485 installation without a return wire)
An Alpha read addressed by broadcast (00) is never answered, as real signs do not answer it.
`status_reads` counts the Alpha status reads the line carried; `received` holds the last bytes
the host wrote (up to RECEIVED_SIZE), for tests that check the bytes on the pty.
Controls: stop_answering(address=None) / resume(address=None) for one board or all,
unplug() / replug(), shows(address) -> Shown(text, mode, position).
Unplugging is the serial cable, not the boards' power: what they show survives a replug.
"""
from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field

from pymodbus.constants import ExcCodes
from pymodbus.pdu import ExceptionResponse
from pymodbus.pdu.register_message import ReadHoldingRegistersResponse

from devices.display import alpha, modbus
from devices.sim_base import PtySimulator

LOG_SIZE = 10_000  # recent packets kept for tests and inspection
RECEIVED_SIZE = 64 * 1024  # recent raw bytes kept


@dataclass(frozen=True)
class Shown:
    text: str  # "" when nothing was shown yet
    mode: str | None  # Alpha: hold | flash | rotate | ...; Modbus: "number"
    position: str | None = None


def _split(value) -> list[str]:
    """A setting that arrives as 1, "01,02", or a list (the CLI turns "01" into the int 1)."""
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value]
    return [part.strip() for part in str(value).split(",") if part.strip()]


# ----------------------------------------------------------------------------------------
# Alpha signs (pure model + pty wrapper)
# ----------------------------------------------------------------------------------------
@dataclass
class _Sign:
    files: dict[str, bytes] = field(default_factory=dict)  # label -> Write TEXT data after the label
    status: int = alpha.STATUS_ALWAYS
    answering: bool = True


class AlphaSigns:
    """The Alpha signs on one line: bytes in, reply bytes out. No I/O, no clock."""

    def __init__(self, addresses):
        self.signs = {alpha.normalize_address(a): _Sign() for a in _split(addresses)}
        if not self.signs:
            raise ValueError("an Alpha line needs at least one sign address")
        self.decoder = alpha.AlphaDecoder()
        self.packets: deque[alpha.AlphaPacket] = deque(maxlen=LOG_SIZE)  # good packets, in order
        self.rejects: deque[alpha.AlphaReject] = deque(maxlen=LOG_SIZE)
        self.status_reads = 0  # serial-error-status reads seen on the line, whoever they address

    def reset(self) -> None:
        """Power-on: a half-received packet is gone."""
        self.decoder.reset()

    def _targets(self, address: str) -> list[str]:
        if address == alpha.BROADCAST:
            return list(self.signs)
        return [a for a in self.signs if all(p in ("?", c) for p, c in zip(address, a))]

    def receive(self, data: bytes) -> bytes:
        replies = []
        for item in self.decoder.feed(data):
            if isinstance(item, alpha.AlphaReject):
                self.rejects.append(item)
                if item.reason == "checksum mismatch" and item.address:
                    for a in self._targets(item.address):
                        if self.signs[a].answering:
                            self.signs[a].status |= alpha.STATUS_CHECKSUM
                continue
            self.packets.append(item)
            if item.type_code != alpha.TYPE_ALL:
                continue  # replies from other signs, or packets for another sign type
            if item.command == alpha.READ_SPECIAL and item.data == b"*":
                self.status_reads += 1
            targets = [a for a in self._targets(item.address) if self.signs[a].answering]
            for a in targets:
                reply = self._command(self.signs[a], item)
                # Only a single addressed sign may talk back (several would collide on the wire),
                # and none answers a broadcast.
                if reply and len(targets) == 1 and item.address != alpha.BROADCAST:
                    replies.append(reply)
        return b"".join(replies)

    @staticmethod
    def _command(sign: _Sign, packet: alpha.AlphaPacket) -> bytes:
        if packet.command == alpha.WRITE_TEXT and packet.data:
            sign.files[chr(packet.data[0])] = packet.data[1:]
        elif packet.command == alpha.READ_SPECIAL and packet.data == b"*":
            status, sign.status = sign.status, alpha.STATUS_ALWAYS  # reading clears the register
            return alpha.serial_error_status_reply(status)
        elif packet.command == alpha.READ_TEXT and len(packet.data) == 1:
            label = packet.data.decode("latin-1")
            if label in sign.files:
                return alpha.text_file_reply(label, sign.files[label])
            sign.status |= alpha.STATUS_ILLEGAL
        else:
            sign.status |= alpha.STATUS_ILLEGAL  # not simulated: an unknown command to this sign
        return b""

    def shows(self, address, label: str = alpha.DEFAULT_LABEL) -> Shown:
        sign = self.signs[alpha.normalize_address(address)]
        data = sign.files.get(label)
        if data is None:
            return Shown("", None, None)
        parsed = alpha.parse_text_file(label.encode("latin-1") + data)
        return Shown(parsed.text, parsed.mode, parsed.position)


class _BoardLineSim(PtySimulator):
    """A serial line of addressed boards: the protocol model answers, this class runs the pty.
    Subclasses give the model and how to find one board by its address."""

    def __init__(self, model, link_path: str | None = None, answering: bool = True, return_line: bool = True):
        super().__init__(link_path)
        self.model = model
        self.answering = bool(answering)
        self.return_line = bool(return_line)
        self.received = bytearray()  # the host's bytes, newest RECEIVED_SIZE kept
        self._model_lock = threading.Lock()

    def _board(self, address):
        raise NotImplementedError  # each protocol addresses its boards differently

    def on_plug(self) -> None:
        with self._model_lock:
            self.model.reset()

    def on_bytes(self, data: bytes) -> None:
        with self._model_lock:
            self.received += data
            del self.received[:-RECEIVED_SIZE]
            reply = self.model.receive(data)
        if reply and self.return_line:
            self.send(reply)

    def stop_answering(self, address=None) -> None:
        self._set_answering(address, False)

    def resume(self, address=None) -> None:
        self._set_answering(address, True)

    def _set_answering(self, address, value: bool) -> None:
        with self._model_lock:
            if address is None:
                self.answering = value
            else:
                self._board(address).answering = value


class AlphaBoardSim(_BoardLineSim):
    def __init__(self, link_path: str | None = None, addresses="01", answering: bool = True,
                 return_line: bool = True):
        super().__init__(AlphaSigns(addresses), link_path, answering, return_line)

    def _board(self, address):
        return self.model.signs[alpha.normalize_address(address)]

    @property
    def status_reads(self) -> int:
        with self._model_lock:
            return self.model.status_reads

    def shows(self, address, label: str = alpha.DEFAULT_LABEL) -> Shown:
        with self._model_lock:
            return self.model.shows(address, label)

    @property
    def addresses(self) -> list[str]:
        return list(self.model.signs)


# ----------------------------------------------------------------------------------------
# Modbus number boards (pure model + pty wrapper)
# ----------------------------------------------------------------------------------------
@dataclass
class _Unit:
    number: int | None = None
    answering: bool = True


class ModbusUnits:
    """Modbus number boards on one line: request bytes in, reply bytes out."""

    def __init__(self, addresses):
        self.units = {int(u): _Unit() for u in _split(addresses)}
        for unit in self.units:
            modbus.check_unit(unit)
        self.splitter = modbus.RtuRequestSplitter()
        self.requests: deque[modbus.RtuRequest] = deque(maxlen=LOG_SIZE)

    def reset(self) -> None:
        """Power-on: a half-received frame is gone."""
        self.splitter.reset()

    def receive(self, data: bytes) -> bytes:
        replies = []
        for request in self.splitter.feed(data):
            self.requests.append(request)
            if request.unit == 0:  # broadcast: every unit acts, none answers
                for unit in self.units.values():
                    if unit.answering:
                        self._handle(unit, request)
                continue
            unit = self.units.get(request.unit)
            if unit is not None and unit.answering:
                replies.append(self._handle(unit, request))
        return b"".join(r for r in replies if r)

    @staticmethod
    def _handle(unit: _Unit, request: modbus.RtuRequest) -> bytes:
        pdu, dev = request.pdu, request.unit
        if pdu.function_code & 0x80:
            return b""  # an exception response on the wire is nobody's request
        if pdu.function_code == 6:
            if pdu.address != modbus.REGISTER:
                return modbus.build_frame(ExceptionResponse(6, ExcCodes.ILLEGAL_ADDRESS, device_id=dev))
            unit.number = modbus.from_register(pdu.registers[0])
            return request.raw  # the board echoes the frame
        if pdu.function_code == 3:
            if pdu.address != modbus.REGISTER or pdu.count != 1:
                return modbus.build_frame(ExceptionResponse(3, ExcCodes.ILLEGAL_ADDRESS, device_id=dev))
            value = modbus.to_register(unit.number or 0)
            return modbus.build_frame(ReadHoldingRegistersResponse(registers=[value], dev_id=dev))
        return modbus.build_frame(ExceptionResponse(pdu.function_code, ExcCodes.ILLEGAL_FUNCTION, device_id=dev))

    def number(self, unit) -> int | None:
        return self.units[int(unit)].number


class ModbusBoardSim(_BoardLineSim):
    def __init__(self, link_path: str | None = None, addresses="1", answering: bool = True,
                 return_line: bool = True):
        super().__init__(ModbusUnits(addresses), link_path, answering, return_line)

    def _board(self, address):
        return self.model.units[int(address)]

    def number(self, unit) -> int | None:
        with self._model_lock:
            return self.model.number(unit)

    def shows(self, unit) -> Shown:
        number = self.number(unit)
        return Shown("" if number is None else str(number), "number")

    @property
    def addresses(self) -> list[int]:
        return list(self.model.units)
