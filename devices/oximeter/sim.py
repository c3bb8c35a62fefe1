"""Oximeter simulators: the exact protocol bytes over a pty, paced by the wall clock.

ContecSim streams 60 live packets/s only after A1, stops on A2 or when no A1 came for
stream_timeout_s (the real device stops after ~30 s), and answers A8/A9/AA/B0.
NoninSim streams 75 Data Format 2 frames/s from power-on.

Live settings (`sim.set(spo2=91, probe="ok")`, `--set probe=finger_out`, or `set pulse=130` typed
into a running `vestibule sim oximeter`):
  spo2    the patient's SpO2 in % (0..127, so a test may send one no patient has)
  pulse   the patient's pulse in bpm (Contec 0..255, Nonin 0..511 on the wire)
  signal  signal strength 0..15 (Contec sends it; Nonin's perfusion bits follow it)
  probe   ok | finger_out | searching | off
          Contec: finger_out and off both set the probe-error bit (the device has one bit for
          both), searching sets "searching for pulse"; the numbers are "no value" unless ok.
          Nonin: finger_out = sensor alarm + out of track, searching = out of track,
          off = sensor disconnected (the decoder's "sensor_fault").
"""
from __future__ import annotations

import math
import re
import threading
import time

from devices.oximeter import contec, nonin
from devices.sim_base import PtySimulator, Setting, int_in, one_of

_MAX_BURST_S = 1.0  # after a stall, send at most this much backlog and drop the rest (as a UART would)


PROBES = ("ok", "finger_out", "searching", "off")


def _settings(max_pulse: int) -> dict[str, Setting]:
    return {
        "spo2": Setting("the patient's SpO2 in % (0..127)", int_in(0, 127)),
        "pulse": Setting(f"the patient's pulse in bpm (0..{max_pulse})", int_in(0, max_pulse)),
        "signal": Setting("signal strength (0..15)", int_in(0, 15)),
        "probe": Setting("ok | finger_out | searching | off", one_of(*PROBES)),
    }


class _OximeterSim(PtySimulator):
    rate: float  # units (packets or frames) per second

    def __init__(self, link_path: str | None = None, *, spo2: int = 97, pulse: int = 72,
                 signal: int = 8, finger_out: bool = False):
        super().__init__(link_path)
        self.spo2 = self.pulse = self.signal = 0
        self.probe = "ok"
        self.set(spo2=spo2, pulse=pulse, signal=signal, probe="finger_out" if finger_out else "ok")
        self._origin: float | None = None  # monotonic start of the current stream, None = quiet
        self._sent = 0  # units sent since _origin

    # -- control (tests, `vestibule sim --set`, `set k=v` on a running sim's stdin) -------------
    def _apply(self, values: dict) -> None:
        for key, value in values.items():
            setattr(self, key, value)

    @property
    def finger_out(self) -> bool:
        return self.probe == "finger_out"

    def set_values(self, spo2: int | None = None, pulse: int | None = None,
                   signal: int | None = None) -> None:
        """The numbers only (None leaves one as it is); set() is the general form."""
        given = {"spo2": spo2, "pulse": pulse, "signal": signal}
        self.set(**{k: v for k, v in given.items() if v is not None})

    def set_finger_out(self, out: bool) -> None:
        self.set(probe="finger_out" if out else "ok")

    # -- pacing ----------------------------------------------------------------------------------
    def on_plug(self) -> None:
        # (PtySimulator makes the master non-blocking: unread bytes are dropped, as on a real line.)
        self._origin = None

    def _start(self, now: float) -> None:
        if self._origin is None:
            self._origin, self._sent = now, 0

    def _due(self, now: float) -> int:
        """How many units the wall clock says should have gone out by now (first one at once)."""
        if self._origin is None:
            return 0
        due = int((now - self._origin) * self.rate) + 1 - self._sent
        if due > self.rate * _MAX_BURST_S:
            skip = due - int(self.rate * _MAX_BURST_S)
            self._sent += skip
            due -= skip
        return due

    def tick(self, now: float) -> None:
        with self._lock:
            due = self._due(now)
            if due > 0:
                data = b"".join(self._unit(self._sent + k) for k in range(due))
                self._sent += due
                self.send(data)

    def _unit(self, n: int) -> bytes:
        raise NotImplementedError

    def _pleth(self, t: float) -> tuple[int, bool]:
        """A pulse-like waveform at the current rate: (0..100, beat marker)."""
        phase = (t * max(self.pulse, 1) / 60.0) % 1.0
        return int(50 + 45 * math.sin(2 * math.pi * phase)), phase < 0.05


class ContecSim(_OximeterSim):
    rate = 60.0
    SETTINGS = _settings(255)

    def __init__(self, link_path: str | None = None, *, spo2: int = 97, pulse: int = 72,
                 signal: int = 8, finger_out: bool = False, stream_timeout_s: float = 30.0,
                 model: str = "CMS50D+", vendor: str = "CONTEC", device_id: str = "SIM0001"):
        super().__init__(link_path, spo2=spo2, pulse=pulse, signal=signal, finger_out=finger_out)
        self.stream_timeout_s = float(stream_timeout_s)
        self.model, self.vendor, self.device_id = str(model), str(vendor), str(device_id)
        self.commands: list[int] = []  # command bytes received, in order (tests count A1s)
        self._rx = b""
        self._last_a1 = 0.0
        self._commands_lock = threading.Lock()

    @property
    def streaming(self) -> bool:
        return self._origin is not None

    def count(self, cmd: int) -> int:
        with self._commands_lock:
            return self.commands.count(cmd)

    def on_plug(self) -> None:
        super().on_plug()
        self._rx = b""

    def on_bytes(self, data: bytes) -> None:
        buf = self._rx + data
        # A command is 7D followed by 8 bytes with bit7 set; anything else is skipped.
        end = 0
        for m in re.finditer(rb"\x7d[\x80-\xff]{8}", buf):
            self._command(contec.decode_payload(m.group())[0])
            end = m.end()
        rest = buf[end:]
        start = rest.rfind(b"\x7d")
        self._rx = rest[start:] if start >= 0 and len(rest) - start < 9 else b""

    def _command(self, cmd: int) -> None:
        with self._commands_lock:
            self.commands.append(cmd)
        now = time.monotonic()
        with self._lock:
            if cmd == contec.CMD_START_LIVE:
                self._last_a1 = now
                self._start(now)
            elif cmd == contec.CMD_STOP_LIVE:
                self._origin = None
                self.send(contec.encode_packet(contec.ACK))
            elif cmd == contec.CMD_MODEL:
                self.send(b"".join(contec.encode_model(self.model)))
            elif cmd == contec.CMD_VENDOR:
                self.send(contec.encode_text(contec.VENDOR, self.vendor))
            elif cmd == contec.CMD_DEVICE_ID:
                self.send(contec.encode_text(contec.DEVICE_ID, self.device_id))
            elif cmd == contec.CMD_INFO:
                self.send(contec.encode_packet(contec.INFO, bytes([1, 1, 0, 0, 0, 0, 0])))

    def tick(self, now: float) -> None:
        with self._lock:
            if self._origin is not None and now - self._last_a1 > self.stream_timeout_s:
                self._origin = None  # the device gives up without a fresh A1
        super().tick(now)

    def _unit(self, n: int) -> bytes:
        wave, beat = self._pleth(n / self.rate)
        if self.probe in ("finger_out", "off"):
            return contec.encode_live(None, None, signal=0, finger_out=True, pleth=0)
        if self.probe == "searching":
            return contec.encode_live(None, None, signal=self.signal, searching=True, pleth=wave)
        return contec.encode_live(self.spo2, self.pulse, signal=self.signal, beat=beat, pleth=wave,
                                  bar=self.signal)


class NoninSim(_OximeterSim):
    rate = 75.0
    SETTINGS = _settings(nonin.HR_MISSING)

    def __init__(self, link_path: str | None = None, *, spo2: int = 97, pulse: int = 72,
                 signal: int = 8, finger_out: bool = False, sensor_fault: bool = False):
        super().__init__(link_path, spo2=spo2, pulse=pulse, signal=signal, finger_out=finger_out)
        if sensor_fault:
            self.set(probe="off")
        self._packet = b""

    @property
    def sensor_fault(self) -> bool:
        return self.probe == "off"

    def set_sensor_fault(self, fault: bool) -> None:
        self.set(probe="off" if fault else "ok")

    def on_plug(self) -> None:
        super().on_plug()
        self._start(time.monotonic())  # a Nonin streams from power-on

    def _unit(self, n: int) -> bytes:
        index = n % nonin.FRAMES_PER_PACKET
        if index == 0:  # values change on packet boundaries, like the device's averages
            self._packet = self._make_packet(n)
        return self._packet[index * nonin.FRAME_LEN:(index + 1) * nonin.FRAME_LEN]

    def _make_packet(self, n: int) -> bytes:
        waves = [self._pleth((n + k) / self.rate)[0] * 2 for k in range(nonin.FRAMES_PER_PACKET)]
        if self.probe == "off":
            return nonin.encode_packet(None, None, status=nonin.SNSD, pleth=0)
        if self.probe == "finger_out":
            return nonin.encode_packet(None, None, status=nonin.SNSA | nonin.OOT, pleth=0)
        if self.probe == "searching":
            return nonin.encode_packet(None, None, status=nonin.OOT, pleth=waves)
        # Perfusion bits from the signal setting: >= 8 green, >= 4 yellow, else red.
        perfusion = nonin.GPRF if self.signal >= 8 else nonin.YPRF if self.signal >= 4 else nonin.RPRF
        return nonin.encode_packet(self.spo2, self.pulse, status=perfusion, pleth=waves)
