"""OptrisSim: an Optris CT / CSmicro answering the binary read commands over a pty."""
from __future__ import annotations

from devices.sim_base import PtySimulator
from devices.thermometer import optris


class OptrisSim(PtySimulator):
    def __init__(self, link_path: str | None = None, celsius: float = 36.6, ambient_celsius: float = 22.0,
                 address: int | None = None, answering: bool = True, serial_number: int = 1234567,
                 firmware: int = 0x0203):
        super().__init__(link_path)
        self.celsius = float(celsius)
        self.ambient_celsius = float(ambient_celsius)  # the sensing head's temperature
        self.address = None if address in (None, "", 0) else int(address)  # None: RS-232/USB, answers any prefix
        self.answering = bool(answering)
        self.serial_number = int(serial_number)
        self.firmware = int(firmware)
        self.commands: list[tuple[int | None, int]] = []  # what the host asked, for tests
        self._prefix: int | None = None

    def set_temperature(self, celsius: float | None = None, ambient_celsius: float | None = None) -> None:
        with self._lock:
            if celsius is not None:
                self.celsius = float(celsius)
            if ambient_celsius is not None:
                self.ambient_celsius = float(ambient_celsius)

    def on_plug(self) -> None:
        self._prefix = None

    def on_bytes(self, data: bytes) -> None:
        for b in data:
            if b >= optris.ADDRESS_PREFIX:  # multidrop prefix (B0 is broadcast, for SET only)
                self._prefix = b - optris.ADDRESS_PREFIX
                continue
            prefix, self._prefix = self._prefix, None
            self.commands.append((prefix, b))
            if self.address is not None and prefix != self.address:
                continue  # on an RS-485 bus only the addressed device answers
            reply = self._reply(b)
            if reply:
                self.send(reply)

    def _reply(self, cmd: int) -> bytes | None:
        with self._lock:
            if cmd in (optris.READ_TARGET, optris.READ_CURRENT_TARGET):
                return optris.encode_temperature(self.celsius)
            if cmd == optris.READ_HEAD:
                return optris.encode_temperature(self.ambient_celsius)
            if cmd == optris.READ_SERIAL:
                return optris.encode_serial(self.serial_number)
            if cmd == optris.READ_FIRMWARE:
                return self.firmware.to_bytes(2, "big")
        return None  # SET commands and unknown bytes: not modelled, no answer
