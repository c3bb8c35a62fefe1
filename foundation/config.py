"""The node's configuration: one TOML file, validated up front by pydantic.

An error names the key path and what was expected (`vestibule config check FILE`), so a
technician can fix the file without reading code.
"""
from __future__ import annotations

import tomllib
from datetime import time
from pathlib import Path
from typing import Annotated, Callable, Literal, Sequence
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator,
                      model_validator)

LANGUAGES = ("ru", "zh", "en")
Lang = Literal["ru", "zh", "en"]
ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"  # safe as an MQTT topic level: no + # / or spaces
# A room as a call can carry it (core/cmd/call: 1-16 characters) and as calls are matched to
# boards (exactly): no surrounding spaces, no control characters. See docs/config.md.
ROOM_MAX = 16


def _callable_room(value: str) -> str:
    if not 1 <= len(value) <= ROOM_MAX or value != value.strip() or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError(f"{value!r} can never be a call's room (1-{ROOM_MAX} characters, "
                         "no spaces around it, no control characters)")
    return value


Room = Annotated[str, AfterValidator(_callable_room)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SiteConfig(Strict):
    id: str = Field(pattern=ID_PATTERN, description="site id, a topic level, e.g. spb-dunaisky")
    timezone: str = Field(description="IANA time zone, e.g. Europe/Moscow")
    languages: list[Lang] = Field(default_factory=lambda: list(LANGUAGES), min_length=1)
    default_language: Lang = "ru"
    name: dict[Lang, str] = Field(default_factory=dict, description="clinic name per language, printed on receipts")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r}") from None
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class NodeConfig(Strict):
    id: str = Field(pattern=ID_PATTERN, description="node id, e.g. entrance-1")
    store: Path = Field(description="SQLite file of the node's store")
    outbox_max_rows: int = Field(default=500_000, ge=1000,
                                 description="bound on undelivered events kept; beyond it new events are refused loudly")
    retention_days: int = Field(default=1, ge=0, le=30,
                                description="days personal data (cached schedule, check-ins) is kept")


SCHEDULE_SUFFIX = "-schedule"  # the broker user of the controller's schedule connection


class BrokerConfig(Strict):
    url: str = Field(description="mqtt://HOST:PORT (or mqtts://)")
    username: str | None = None
    password_file: Path | None = Field(default=None, description="file holding the password (never inline)")
    keepalive_s: int = Field(default=15, ge=5, le=600)
    max_payload_mib: int = Field(default=64, ge=1, le=255,
                                 description="largest MQTT payload the node reads (a 100,000-appointment day is ~46 MB); "
                                             "a larger command is answered too_large")

    @property
    def max_payload(self) -> int:
        return self.max_payload_mib * 1024 * 1024

    @field_validator("url")
    @classmethod
    def _mqtt_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError("expected mqtt://HOST:PORT or mqtts://HOST:PORT")
        return value

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or (8883 if parts.scheme == "mqtts" else 1883)

    @property
    def tls(self) -> bool:
        return urlsplit(self.url).scheme == "mqtts"

    def password(self) -> str | None:
        if self.password_file is None:
            return None
        return self.password_file.read_text(encoding="utf-8").strip()

    @property
    def schedule_password_file(self) -> Path | None:
        """The schedule connection's password, beside the controller's: `<user>-schedule.password`."""
        if self.password_file is None or not self.username:
            return None
        return self.password_file.with_name(f"{self.username}{SCHEDULE_SUFFIX}.password")

    def schedule_credentials(self) -> tuple[str | None, str | None]:
        """The broker user of the controller's second connection, which takes the day's schedule
        (client id = user name on the site broker, so it cannot share the controller's user)."""
        if not self.username:
            return None, None
        path = self.schedule_password_file
        return self.username + SCHEDULE_SUFFIX, (path.read_text(encoding="utf-8").strip() if path else None)


class CoreConfig(Strict):
    request_timeout_s: float = Field(default=3.0, gt=0, le=60,
                                     description="after this the node answers from its cache")


class ArrivalWindow(Strict):
    early_minutes: int = Field(default=30, ge=0, le=24 * 60, description="check-in opens this long before the start")
    late_minutes: int = Field(default=15, ge=0, le=24 * 60, description="check-in closes this long after the start")


class ScreeningQuestion(Strict):
    id: str = Field(pattern=ID_PATTERN, description="answer key in screening.completed, e.g. fever-14d")
    texts: dict[Lang, str] = Field(min_length=1, description="the question per site language")
    box_if_yes: bool = Field(default=True, description="a yes suggests the isolation box")


class StableReading(Strict):
    """When a device's readings count as one stable measurement (docs/contract.md, screening)."""
    count: int = Field(ge=2, le=600, description="consecutive good readings needed")
    window_s: float = Field(gt=0, le=30, description="they span at least this long")
    tolerance: float = Field(ge=0, le=5, description="max - min of the run, per value (°C; % and /min)")
    max_age_s: float = Field(default=2.0, gt=0, le=10, description="the newest is no older than this")


class ScreeningConfig(Strict):
    fever_celsius: float = Field(default=37.5, ge=35, le=42)
    spo2_min_percent: int = Field(default=94, ge=70, le=100)
    pulse_min_bpm: int = Field(default=45, ge=20, le=200)
    pulse_max_bpm: int = Field(default=120, ge=40, le=250)
    # Readings outside these bounds are not a patient's (a thermometer at room air, a loose probe):
    # the post is asked to measure again (error `implausible`).
    plausible_celsius: tuple[float, float] = (34.0, 43.0)
    plausible_spo2_percent: tuple[int, int] = (50, 100)
    plausible_pulse_bpm: tuple[int, int] = (25, 250)
    thermometer_stable: StableReading = StableReading(count=3, window_s=0.9, tolerance=0.1)
    oximeter_stable: StableReading = StableReading(count=3, window_s=1.0, tolerance=1)
    measure_timeout_s: float = Field(default=8.0, gt=0, le=60,
                                     description="screening.measure waits this long for a stable reading")
    session_expiry_s: float = Field(default=900.0, ge=30, le=24 * 3600,
                                    description="an open screening session is dropped after this long")
    questions: list[ScreeningQuestion] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self):
        ids = [q.id for q in self.questions]
        if len(set(ids)) != len(ids):
            raise ValueError(f"screening question ids must be unique, got {ids}")
        for name in ("plausible_celsius", "plausible_spo2_percent", "plausible_pulse_bpm"):
            lo, hi = getattr(self, name)
            if lo >= hi:
                raise ValueError(f"{name}: the lower bound must be below the upper")
        if self.pulse_min_bpm >= self.pulse_max_bpm:
            raise ValueError("pulse_min_bpm must be below pulse_max_bpm")
        return self


class KioskConfig(Strict):
    idle_timeout_s: float = Field(default=45.0, ge=10, le=600,
                                  description="seconds without a touch before the kiosk starts over and forgets the input")
    dpi: float = Field(default=96.0, ge=40, le=600,
                       description="the touch screen's pixels per inch (e.g. 1920 px across a 21.5\" panel: 102); "
                                   "sizes targets and text in millimetres")
    speaker: bool = Field(default=False, description="the kiosk has a speaker: in accessibility mode the result "
                                                     "is read aloud by the offline voice of the call boards")


class ServiceConfig(Strict):
    id: str = Field(pattern=ID_PATTERN, description="service id, e.g. registration")
    prefix: str = Field(pattern=r"^[A-Z]$", description="ticket prefix letter, e.g. R")
    names: dict[Lang, str] = Field(description="service name per language")
    room: Room | None = Field(default=None, description="where its tickets are called")
    floor: int | None = None
    specialty: str | None = Field(default=None, description="walk-in to any doctor of this specialty")


class QueueConfig(Strict):
    window: int = Field(default=15, ge=1, le=500, description="latest issue -> call intervals the wait estimate uses")
    min_calls: int = Field(default=3, ge=1, le=100, description="calls of a queue today before it has an estimate")


class VoiceConfig(Strict):
    enabled: bool = Field(default=True, description="announce calls by voice")
    languages: list[Lang] | None = Field(default=None, description="phrase languages in order (default: the site's)")
    chime: bool = Field(default=True, description="a chime before the phrases")
    node_speaker: bool = Field(default=True,
                               description="the node speaks the calls of rooms no board with voice = true serves")
    rate_wpm: int = Field(default=140, ge=80, le=260, description="espeak-ng speed, words per minute")
    player: str = Field(default="aplay -q -", description="command that plays a WAV: a lone `-` argument means "
                        "it reads the WAV from standard input (started ahead: a call starts without a process "
                        "start); otherwise the file's path replaces {wav} or is appended")


class BoardConfig(Strict):
    """A TV call board (`vestibule board --board ID`): an MQTT client, never a device owner."""
    rooms: list[str] = Field(default_factory=list, description="rooms whose calls it shows (with services: either)")
    services: list[str] = Field(default_factory=list, description="services whose calls and queues it shows")
    languages: list[Lang] | None = Field(default=None, description="default: the site's languages")
    language_mode: Literal["alternate", "side_by_side"] = "alternate"
    alternate_s: float = Field(default=8.0, ge=2, le=120, description="seconds per language when alternating")
    orientation: Literal["landscape", "portrait"] = "landscape"
    highlight_s: float = Field(default=6.0, ge=1, le=60, description="seconds the newest call stays highlighted")
    voice: bool = Field(default=False, description="this board's machine speaks the calls of its rooms "
                                                   "(the node then does not)")
    floors: dict[str, int] = Field(default_factory=dict, description="room -> floor, beyond the services' own")
    title: dict[Lang, str] = Field(default_factory=dict)


DeviceKind = Literal["printer", "oximeter", "thermometer", "display", "scanner"]


class DeviceConfig(Strict):
    kind: DeviceKind
    protocol: str = Field(description="driver protocol, e.g. escpos, contec, nonin, bridge, optris, alpha, modbus, cdc, hid")
    url: str = Field(description="device URL: serial:///dev/vestibule/NAME, usb://VID:PID/SERIAL, tcp://H:P, file://PATH, sim://")
    role: str | None = Field(default=None, description="where it serves: kiosk-1, screening-1, room 12 ...")
    rooms: list[Room] = Field(default_factory=list, description="display: the rooms whose calls it shows")
    options: dict[str, str | int | float | bool | list[str]] = Field(default_factory=dict)


class VestibuleConfig(Strict):
    site: SiteConfig
    node: NodeConfig
    broker: BrokerConfig
    core: CoreConfig = CoreConfig()
    arrival: ArrivalWindow = ArrivalWindow()
    screening: ScreeningConfig = ScreeningConfig()
    kiosk: KioskConfig = KioskConfig()
    services: list[ServiceConfig] = Field(min_length=1)
    devices: dict[str, DeviceConfig] = Field(default_factory=dict)
    queue: QueueConfig = QueueConfig()
    voice: VoiceConfig = VoiceConfig()
    boards: dict[str, BoardConfig] = Field(default_factory=dict)

    @field_validator("devices")
    @classmethod
    def _device_ids(cls, value: dict[str, DeviceConfig]) -> dict[str, DeviceConfig]:
        import re
        for name in value:
            if not re.match(ID_PATTERN, name):
                raise ValueError(f"device id {name!r} must be lowercase letters, digits and dashes")
        return value

    @model_validator(mode="after")
    def _questions_in_every_language(self):
        for i, question in enumerate(self.screening.questions):
            missing = [lang for lang in self.site.languages if lang not in question.texts]
            if missing:
                raise ValueError(f"screening.questions[{i}] ({question.id}) has no text in {', '.join(missing)}")
        return self

    @model_validator(mode="after")
    def _unique_services(self):
        prefixes = [s.prefix for s in self.services]
        if len(set(prefixes)) != len(prefixes):
            raise ValueError(f"service prefixes must be unique, got {prefixes}")
        ids = [s.id for s in self.services]
        if len(set(ids)) != len(ids):
            raise ValueError(f"service ids must be unique, got {ids}")
        return self

    @model_validator(mode="after")
    def _one_voice_per_room(self):
        spoken: dict[str, str] = {}
        for name, board in self.boards.items():
            if not board.voice:
                continue
            if not board.rooms:
                raise ValueError(f"boards.{name}: voice = true needs its `rooms` (one speaker per room)")
            for room in board.rooms:
                if room in spoken:
                    raise ValueError(f"room {room} is spoken by boards {spoken[room]} and {name}: "
                                     "a call would be announced twice")
                spoken[room] = name
        return self

    @model_validator(mode="after")
    def _board_services_known(self):
        known = {s.id for s in self.services}
        for name, board in self.boards.items():
            unknown = [s for s in board.services if s not in known]
            if unknown:
                raise ValueError(f"boards.{name}.services: {unknown} are not configured services")
        return self

    def voice_rooms_of_boards(self) -> set[str]:
        """Rooms whose calls a board's machine announces (the node stays silent for them)."""
        return {room for board in self.boards.values() if board.voice for room in board.rooms}

    def floor_of(self, room: str, board: BoardConfig | None = None) -> int | None:
        if board and room in board.floors:
            return board.floors[room]
        return next((s.floor for s in self.services if s.room == room and s.floor is not None), None)

    def service(self, service_id: str) -> ServiceConfig | None:
        return next((s for s in self.services if s.id == service_id), None)

    def devices_of(self, kind: str) -> dict[str, DeviceConfig]:
        return {name: dev for name, dev in self.devices.items() if dev.kind == kind}


class ConfigError(Exception):
    """The file could not be read or does not validate; `problems` lists (key path, message)."""

    def __init__(self, path: Path, problems: list[tuple[str, str]]):
        self.path = path
        self.problems = problems
        super().__init__("\n".join(f"{path}: {key}: {msg}" for key, msg in problems))


def _key_path(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


# A check reads the raw TOML data and returns its problems as (key path, message). Layers above
# pass theirs (the device drivers validate their own sections): this module knows the file's
# shape, not what every protocol accepts. Checks run even when the shape is wrong elsewhere,
# so one `config check` lists every problem.
ConfigCheck = Callable[[dict], list[tuple[str, str]]]


def check_board_rooms(data: dict) -> list[tuple[str, str]]:
    """Rooms only boards show, every board shows some, none twice (the rooms' form is the model's)."""
    problems: list[tuple[str, str]] = []
    devices = data.get("devices")
    if not isinstance(devices, dict):
        return problems
    for name, device in devices.items():
        if not isinstance(device, dict):
            continue
        rooms = device.get("rooms", [])
        if not isinstance(rooms, list):
            continue
        key = f"devices.{name}.rooms"
        if device.get("kind") == "display":
            if not rooms:
                problems.append((key, "a board with no rooms never shows a call"))
            repeated = sorted({str(r) for r in rooms if rooms.count(r) > 1})
            if repeated:
                problems.append((key, f"{', '.join(repeated)} listed more than once"))
        elif rooms and isinstance(device.get("kind"), str):
            problems.append((key, f"only a display shows rooms; a {device['kind']} shows none"))
    return problems


SHAPE_CHECKS: tuple[ConfigCheck, ...] = (check_board_rooms,)


def parse_config(data: dict, path: Path = Path("<config>"), checks: Sequence[ConfigCheck] = ()) -> VestibuleConfig:
    problems = [problem for check in (*SHAPE_CHECKS, *checks) for problem in check(data)]
    try:
        config = VestibuleConfig.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            msg = err["msg"]
            if err["type"] == "extra_forbidden":
                msg = "unknown key (misspelt? see config/example.toml)"
            elif err["type"] == "missing":
                msg = "required key is missing"
            elif err["type"] == "value_error":
                msg = msg.removeprefix("Value error, ")
            problems.append((_key_path(err["loc"]), msg))
        raise ConfigError(path, sorted(set(problems), key=problems.index)) from None
    if problems:
        raise ConfigError(path, problems)
    return config


# Paths in the file that are relative to the file's directory, so a checkout runs anywhere.
RELATIVE_PATHS = (("node", "store"), ("broker", "password_file"))


def resolve_relative_paths(data: dict, base: Path) -> dict:
    """The raw data with RELATIVE_PATHS made absolute against `base` (checks then see real paths)."""
    for section, key in RELATIVE_PATHS:
        table = data.get(section)
        if isinstance(table, dict) and isinstance(table.get(key), str) and table[key] \
                and not Path(table[key]).is_absolute():
            table[key] = str((base / table[key]).resolve())
    return data


def load_config(path: str | Path, checks: Sequence[ConfigCheck] = ()) -> VestibuleConfig:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(path, [("(file)", "no such file")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, [("(file)", f"cannot be read: {exc}")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, [("(syntax)", f"not valid TOML: {exc}")]) from None
    return parse_config(resolve_relative_paths(data, path.parent), path, checks)


def greeting_period(local: time) -> Literal["morning", "afternoon", "evening", "day"]:
    """Greeting by time of day (002, cashier standard): 07–11, 11–17, 17–22; otherwise neutral."""
    if time(7) <= local < time(11):
        return "morning"
    if time(11) <= local < time(17):
        return "afternoon"
    if time(17) <= local < time(22):
        return "evening"
    return "day"
