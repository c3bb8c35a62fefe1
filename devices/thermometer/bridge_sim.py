"""BridgeBoardSim: the real firmware source on CPython, behind a pty, over a modelled MLX90614.

The firmware's Board gets a fake UART bound to the pty and a fake I2C bus that answers
readfrom_mem like an MLX90614 (RAM words, EEPROM id and emissivity, correct PEC), so the host
driver and tests exercise the exact bytes a real board would send.

Live settings (`sim.set(object=38.2)`, `--set sensor=error`, `set aim=air` on a running sim's stdin):
  object   °C of what the sensor is aimed at (a forehead), -273.15..382.19 as its words carry it
  ambient  °C of the sensor's die (the room)
  aim      forehead | air: pointed at the room, the sensor sees about the room's temperature
  sensor   ok | error (bit15 in the object word) | pec_error (every read fails its PEC) |
           nack (nothing answers on the I2C bus)
"""
from __future__ import annotations

import errno
import sys
import threading
import traceback
from typing import ClassVar

from devices.sim_base import PtySimulator, Setting, float_in, one_of
from firmware_bridge import link, mlx90614
from firmware_bridge.firmware.main import Board

DEFAULT_SENSOR_ID = "0b1e2a3c4d5e6f70"
# What a temperature word can carry (15 bits of 0.02 K above 0 K).
WORD_RANGE_C = (-mlx90614.KELVIN_OFFSET, round(0x7FFF * 0.02 - mlx90614.KELVIN_OFFSET, 2))
SENSOR_STATES = ("ok", "error", "pec_error", "nack")


def _sensor_id_bytes(value) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        data = bytes(value)
    elif isinstance(value, int):
        # `--set sensor_id=0011223344556677` arrives as the int 11223344556677: the digits were hex
        data = bytes.fromhex(f"{value:016d}") if 0 <= value < 10**16 else b""
    else:
        data = bytes.fromhex(str(value))
    if len(data) != 8:
        raise ValueError("sensor_id must be 8 bytes (16 hex digits)")
    return data


class FakeMlx90614Bus:
    """A machine.I2C stand-in with one MLX90614 on it."""

    def __init__(self, address=mlx90614.DEFAULT_ADDRESS, celsius=36.6, ambient_celsius=22.0,
                 sensor_id=DEFAULT_SENSOR_ID, emissivity=1.0):
        self.address = address
        self.ram = {}
        self.eeprom = {}
        self.corrupt_pec = False  # every read has a wrong PEC
        self.pec_glitches = 0  # the next N reads have a wrong PEC (then good again)
        self.sensor_error = False  # object word carries the error flag (bit15)
        self.nack = False  # nothing answers on the bus
        self.reads = 0
        self.set_temperature(celsius, ambient_celsius)
        self.set_sensor_id(sensor_id)
        self.eeprom[mlx90614.EE_EMISSIVITY] = int(round(emissivity * 0xFFFF))

    def set_temperature(self, celsius=None, ambient_celsius=None):
        if celsius is not None:
            self.ram[mlx90614.RAM_TOBJ1] = mlx90614.celsius_to_raw(float(celsius))
            self.ram[mlx90614.RAM_TOBJ2] = self.ram[mlx90614.RAM_TOBJ1]
        if ambient_celsius is not None:
            self.ram[mlx90614.RAM_TA] = mlx90614.celsius_to_raw(float(ambient_celsius))

    def set_sensor_id(self, value) -> None:
        data = _sensor_id_bytes(value)
        for i, cmd in enumerate(mlx90614.EE_ID):
            self.eeprom[cmd] = (data[2 * i] << 8) | data[2 * i + 1]

    def readfrom_mem(self, addr, mem, n):
        self.reads += 1
        if self.nack or addr != self.address:
            raise OSError(errno.ENODEV, "I2C NACK")
        word = self.ram.get(mem, self.eeprom.get(mem, 0))
        if mem == mlx90614.RAM_TOBJ1 and self.sensor_error:
            word |= mlx90614.ERROR_FLAG
        data = bytearray(mlx90614.word_bytes(self.address, mem, word))
        if self.corrupt_pec or self.pec_glitches > 0:
            self.pec_glitches = max(0, self.pec_glitches - 1)
            data[2] ^= 0x5A
        return bytes(data[:n])


class FakeUart:
    """machine.UART's any/read/write over the simulator's pty."""

    def __init__(self, send):
        self._send = send
        self._rx = bytearray()
        self._lock = threading.Lock()

    def feed(self, data: bytes) -> None:
        with self._lock:
            self._rx += data

    def any(self) -> int:
        return len(self._rx)

    def read(self, n=-1):
        with self._lock:
            if not self._rx:
                return None
            n = len(self._rx) if n is None or n < 0 else n
            data = bytes(self._rx[:n])
            del self._rx[:n]
            return data

    def write(self, data) -> int:
        self._send(bytes(data))
        return len(data)


class BridgeBoardSim(PtySimulator):
    tick_interval = 0.005
    SETTINGS: ClassVar[dict[str, Setting]] = {
        "object": Setting("°C of what the sensor is aimed at", float_in(*WORD_RANGE_C)),
        "ambient": Setting("°C of the sensor's die", float_in(*WORD_RANGE_C)),
        "aim": Setting("forehead | air", one_of("forehead", "air")),
        "sensor": Setting("ok | error | pec_error | nack", one_of(*SENSOR_STATES)),
    }

    def __init__(self, link_path: str | None = None, celsius: float = 36.6, ambient_celsius: float = 22.0,
                 sensor_id=DEFAULT_SENSOR_ID, corrupt_pec: bool = False, sensor_error: bool = False,
                 i2c_nack: bool = False, emissivity: float = 1.0, address: int = mlx90614.DEFAULT_ADDRESS,
                 protocol_version: int = link.PROTOCOL_VERSION):
        super().__init__(link_path)
        self.bus = FakeMlx90614Bus(address, celsius, ambient_celsius, sensor_id, emissivity)
        self.object_celsius, self.ambient_celsius = float(celsius), float(ambient_celsius)
        self.aim = "forehead"
        self.bus.corrupt_pec = bool(corrupt_pec)
        self.bus.sensor_error = bool(sensor_error)
        self.bus.nack = bool(i2c_nack)
        self.protocol_version = int(protocol_version)
        self.board: Board | None = None
        self.uart: FakeUart | None = None
        self.firmware_crash: BaseException | None = None

    # -- test controls ---------------------------------------------------------------------
    def _apply(self, values: dict) -> None:
        self.object_celsius = values.get("object", self.object_celsius)
        self.ambient_celsius = values.get("ambient", self.ambient_celsius)
        self.aim = values.get("aim", self.aim)
        seen = self.ambient_celsius if self.aim == "air" else self.object_celsius
        self.bus.set_temperature(seen, self.ambient_celsius)
        if "sensor" in values:
            state = values["sensor"]
            self.bus.sensor_error = state == "error"
            self.bus.corrupt_pec = state == "pec_error"
            self.bus.nack = state == "nack"

    def set_temperature(self, celsius: float | None = None, ambient_celsius: float | None = None) -> None:
        given = {"object": celsius, "ambient": ambient_celsius}
        self.set(**{k: v for k, v in given.items() if v is not None})

    def inject(self, *, corrupt_pec: bool | None = None, pec_glitches: int | None = None,
               sensor_error: bool | None = None, i2c_nack: bool | None = None) -> None:
        """Turn bus faults on or off (None leaves one as it is)."""
        with self._lock:
            if corrupt_pec is not None:
                self.bus.corrupt_pec = corrupt_pec
            if pec_glitches is not None:
                self.bus.pec_glitches = pec_glitches
            if sensor_error is not None:
                self.bus.sensor_error = sensor_error
            if i2c_nack is not None:
                self.bus.nack = i2c_nack

    def send_raw(self, data: bytes) -> None:
        """Put arbitrary bytes on the line towards the host (line noise, forged frames)."""
        self.send(data)

    # -- PtySimulator hooks ------------------------------------------------------------------
    def on_plug(self) -> None:
        # power-on: a fresh board, nothing streaming, the sensor keeps its state
        self.uart = FakeUart(self.send)
        self.board = Board(self.uart, self.bus, address=self.bus.address,
                           protocol_version=self.protocol_version)

    def on_bytes(self, data: bytes) -> None:
        if self.uart is not None:
            self.uart.feed(data)

    def tick(self, now: float) -> None:
        with self._lock:
            board = self.board
            if board is None or self.firmware_crash is not None or not self.plugged:
                return
            try:
                board.poll()
            except Exception as exc:  # a firmware bug: keep it visible, as a crashed board would be
                self.firmware_crash = exc
                traceback.print_exc(file=sys.stderr)
