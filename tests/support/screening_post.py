"""The screening post's end-to-end rig: a real broker (the `broker` fixture), the stand-in core,
the controller with a Contec oximeter and a bridge thermometer that are the protocol simulators
on ptys (serial:// URLs, as a real node's /dev/vestibule links), and an MqttClient playing the
staff app (role screening)."""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
import time
from datetime import datetime, timedelta
from pathlib import Path

import foundation.clock

from booking_core.service import DevCore
from devices.oximeter.sim import ContecSim
from devices.thermometer.bridge_sim import BridgeBoardSim
from firmware_bridge import mlx90614
from kiosk.app import build_controller
from mqtt.client import MqttClient
from tests.conftest import make_config
from tests.support.waiting import wait_until

POST = "screening-1"
WAIT = 20.0


def set_patient(sim, **values) -> None:
    """Set what the patient in front of a simulator shows, through the simulators' live settings
    (`set(**values)`, all or nothing). The screening tests' names map onto them:
      oximeter:    spo2, pulse, finger_out (-> probe finger_out | ok)
      thermometer: celsius (-> object), ambient_celsius (-> ambient), sensor_error (-> sensor error | ok)"""
    if isinstance(sim, ContecSim):
        if "finger_out" in values:
            values["probe"] = "finger_out" if values.pop("finger_out") else "ok"
        sim.set(**values)
    else:
        renamed = {"celsius": "object", "ambient_celsius": "ambient"}
        settings = {renamed.get(k, k): v for k, v in values.items() if k != "sensor_error"}
        if "sensor_error" in values:
            settings["sensor"] = "error" if values["sensor_error"] else "ok"
        sim.set(**settings)


def as_reported(celsius: float) -> float:
    """The temperature the bridge reports for an MLX90614 set to `celsius` (its 0.02 K steps,
    two decimals on the host): what the observation must carry."""
    return round(mlx90614.raw_to_celsius(mlx90614.celsius_to_raw(celsius)), 2)


class DaytimeClock(foundation.clock.Clock):
    """Real time moved to 10:00 of today (site time) when the rig starts, shared by the stand-in
    core and the controller: a booking 20 minutes ahead stays on today's schedule whatever hour
    the suite runs (in the 20 minutes before midnight it landed on tomorrow's)."""

    def __init__(self, tz):
        super().__init__(tz)
        real = datetime.now(tz)
        self.offset = real.replace(hour=10, minute=0, second=0, microsecond=0) - real

    def now(self) -> datetime:
        return datetime.now(self.tz) + self.offset

    def __call__(self) -> datetime:
        return self.now()

    def time_ns(self) -> int:
        return time.time_ns() + round(self.offset.total_seconds() * 1e9)


@dataclass
class Post:
    tmp: Path
    broker: object
    screening: dict = field(default_factory=dict)
    core: DevCore | None = None
    controller: object = None
    app: MqttClient | None = None
    oximeter: ContecSim | None = None
    thermometer: BridgeBoardSim | None = None

    def start(self) -> Post:
        self.oximeter = ContecSim(link_path=str(self.tmp / "oximeter-1"), spo2=98, pulse=72)
        self.thermometer = BridgeBoardSim(link_path=str(self.tmp / "thermometer-1"), celsius=36.6)
        self.oximeter.start()
        self.thermometer.start()
        devices = {
            "oximeter-1": {"kind": "oximeter", "protocol": "contec", "url": f"serial://{self.oximeter.link_path}",
                           "role": POST},
            "thermometer-1": {"kind": "thermometer", "protocol": "bridge",
                              "url": f"serial://{self.thermometer.link_path}", "role": POST},
            # the lobby's kiosk, whose walk-in tickets the post finds by number
            "printer-1": {"kind": "printer", "protocol": "escpos", "url": "sim://printer", "role": "kiosk-1"},
        }
        self.config = make_config(self.tmp, self.broker.url, devices=devices,
                                  screening={"measure_timeout_s": 3.0, **self.screening})
        clock = DaytimeClock(self.config.site.tz)
        self.core = DevCore(self.config, self.tmp / "core.db", demo=False, call_interval_s=None, seed=3,
                            client_id="core-screening", clock=clock)
        self.core.start()
        assert self.core.wait_ready(WAIT), "stand-in core did not come up"
        self.controller = build_controller(self.config, clock=clock)
        self.controller.start()
        self.app = MqttClient("127.0.0.1", self.broker.port, "screening-app-1", role="screening",
                              reply_topic=self.controller.topics.reply("screening", "screening-app-1"))
        self.app.start()
        assert self.app.wait_connected(WAIT)
        assert wait_until(lambda: self.controller.relay.core_online, WAIT)
        assert wait_until(lambda: self.controller.schedule.day(self.today()), WAIT)
        assert wait_until(lambda: self.device_state("oximeter-1") == "ready"
                          and self.device_state("thermometer-1") == "ready", WAIT)
        return self

    def stop(self) -> None:
        for part in (self.app, self.controller, self.core):
            if part is not None:
                part.stop()
        for sim in (self.oximeter, self.thermometer):
            if sim is not None:
                sim.stop()

    def today(self):
        return self.controller.now().date()

    def device_state(self, device: str) -> str | None:
        return next((s.state.value for s in self.controller.devices.statuses() if s.device == device), None)

    def booking(self, **kwargs):
        self._bookings = getattr(self, "_bookings", 0) + 1  # off the grid, one second apart: no clashes
        start = (self.controller.now() + timedelta(minutes=20)).replace(second=self._bookings, microsecond=0)
        appointment = self.core.add_appointment(start=start, **kwargs)
        assert wait_until(lambda: self.controller.schedule.find_code(self.today(), appointment.booking), WAIT)
        return appointment

    # -- the staff app's requests -----------------------------------------------------------
    def command(self, name: str, body: dict, timeout: float = WAIT):
        return self.app.request(self.controller.topics.command(name), body, timeout)

    def ok(self, name: str, body: dict) -> dict:
        answer = self.command(name, body)
        assert answer.status == "ok", f"{name} answered {answer}"
        return answer.data

    def error(self, name: str, body: dict):
        answer = self.command(name, body)
        assert answer.status == "error", f"{name} answered {answer}"
        return answer.error

    def start_session(self, **body) -> dict:
        return self.ok("screening.start", {"post": POST, "lang": "en", **body})

    def measure_all(self, session: str) -> dict:
        forehead = self.ok("screening.measure", {"session": session, "what": "temperature", "site": "forehead"})
        neck = self.ok("screening.measure", {"session": session, "what": "temperature", "site": "neck"})
        oximetry = self.ok("screening.measure", {"session": session, "what": "oximetry"})
        return {"forehead": forehead, "neck": neck, "oximetry": oximetry}

    # -- the core's side ----------------------------------------------------------------------
    def events(self, event_type: str) -> list:
        return [e for e in self.core.inbox() if e.type == event_type]

    def wait_event(self, event_type: str, predicate=lambda e: True):
        found = []

        def seen() -> bool:
            found[:] = [e for e in self.events(event_type) if predicate(e)]
            return bool(found)
        assert wait_until(seen, WAIT), f"no {event_type} event reached the core"
        return found[0]


@contextmanager
def screening_post(tmp_path: Path, broker, **kwargs):
    post = Post(tmp_path, broker, **kwargs)
    try:
        yield post.start()
    finally:
        post.stop()

