"""OptrisSim: an Optris CT / CSmicro answering the binary read commands over a pty.

Live settings (`sim.set(object=38.2)`, `--set aim=air`, `set object=37.9` on a running sim's stdin):
  object   °C of what the sensor is aimed at (a forehead), -100..6453 as the wire carries it
  ambient  °C of the sensing head (the room it hangs in)
  aim      forehead | air: pointed at the room, the sensor sees about the room's temperature
"""
from __future__ import annotations

from typing import ClassVar

from devices.sim_base import PtySimulator, Setting, float_in, one_of
from devices.thermometer import optris

AIMS = ("forehead", "air")


class OptrisSim(PtySimulator):
    SETTINGS: ClassVar[dict[str, Setting]] = {
        "object": Setting("°C of what the sensor is aimed at", float_in(-100.0, 6453.5)),
        "ambient": Setting("°C of the sensing head", float_in(-100.0, 6453.5)),
        "aim": Setting("forehead | air", one_of(*AIMS)),
    }

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
        self.aim = "forehead"
        self.commands: list[tuple[int | None, int]] = []  # what the host asked, for tests
        self._prefix: int | None = None

    def _apply(self, values: dict) -> None:
        self.celsius = values.get("object", self.celsius)
        self.ambient_celsius = values.get("ambient", self.ambient_celsius)
        self.aim = values.get("aim", self.aim)

    def set_temperature(self, celsius: float | None = None, ambient_celsius: float | None = None) -> None:
        given = {"object": celsius, "ambient": ambient_celsius}
        self.set(**{k: v for k, v in given.items() if v is not None})

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
                return optris.encode_temperature(self.ambient_celsius if self.aim == "air" else self.celsius)
            if cmd == optris.READ_HEAD:
                return optris.encode_temperature(self.ambient_celsius)
            if cmd == optris.READ_SERIAL:
                return optris.encode_serial(self.serial_number)
            if cmd == optris.READ_FIRMWARE:
                return self.firmware.to_bytes(2, "big")
        return None  # SET commands and unknown bytes: not modelled, no answer
