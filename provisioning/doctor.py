"""`vestibule provision doctor`: every check a technician would make, each fault with its fix.

Checks: the config is valid; the broker answers and takes each user's password; each device is
present, answering and bound to its stable name; the disk has room; the clock is synchronised;
the outbox backlog; the core is online (its retained status); the services are active. A check
that cannot run here (no systemd, no timedatectl) says so and is not a fault. Exit 0 when no
check found a fault, 1 otherwise.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import shlex
import shutil
import socket
import sqlite3
import subprocess
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TextIO

from provisioning import udev

OK, FAULT, SKIPPED = "ok", "fault", "skipped"
# the Debian package that brings the renderer and each player the config may name (voice.player)
PLAYER_PACKAGES = {"aplay": "alsa-utils", "paplay": "pulseaudio-utils", "pw-play": "pipewire-bin", "play": "sox",
                   "espeak-ng": "espeak-ng"}
BACKLOG_WARN = 1000  # undelivered events; more means the core has not taken events for a while
MQTT_TIMEOUT_S = 3.0


@dataclass
class Check:
    name: str
    state: str
    detail: str
    fix: str = ""


def password_matches(passwords: Path, user: str, password: str) -> bool | None:
    """Does Mosquitto's password file hold `password` for `user`? None when it has no entry.
    `$7$` is PBKDF2-SHA512 (mosquitto_passwd 2.x), `$6$` salted SHA-512 (1.x)."""
    try:
        lines = passwords.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    for line in lines:
        name, _, entry = line.partition(":")
        if name != user:
            continue
        parts = entry.split("$")
        try:
            if len(parts) == 5 and parts[1] == "7":
                salt, digest = base64.b64decode(parts[3]), base64.b64decode(parts[4])
                got = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, int(parts[2]), len(digest))
            elif len(parts) == 4 and parts[1] == "6":
                salt, digest = base64.b64decode(parts[2]), base64.b64decode(parts[3])
                got = hashlib.sha512(password.encode() + salt).digest()
            else:
                return False
        except ValueError:
            return False
        return hmac.compare_digest(got, digest)
    return None


class Doctor:
    def __init__(self, config_path: Path, *, credentials: Path | None, disk_min_free_mb: float,
                 rules: Path = udev.RULES_FILE):
        self.config_path = config_path
        self.credentials = credentials
        self.disk_min_free_mb = disk_min_free_mb
        self.rules = rules
        self.checks: list[Check] = []
        self.config = None
        self.retained: dict[str, bytes] = {}
        self.broker_up = False

    def add(self, name: str, state: str, detail: str, fix: str = "") -> None:
        self.checks.append(Check(name, state, detail, fix))

    # -- config ---------------------------------------------------------------------------------
    def check_config(self) -> bool:
        from kiosk.node.config import ConfigError, load_node_config
        try:
            self.config = load_node_config(self.config_path)
        except ConfigError as exc:
            first = "; ".join(f"{k}: {m}" for k, m in exc.problems[:3])
            self.add("config", FAULT, f"{self.config_path} is not valid ({len(exc.problems)} problem(s): {first})",
                     f"fix the file; `vestibule config check {self.config_path}` lists every problem")
            return False
        c = self.config
        self.add("config", OK, f"{self.config_path}: site {c.site.id}, node {c.node.id}, {len(c.devices)} devices")
        return True

    # -- broker ---------------------------------------------------------------------------------
    def _credentials_dir(self) -> Path | None:
        if self.credentials:
            return self.credentials
        if self.config.broker.password_file:
            return self.config.broker.password_file.parent
        return None

    def _connect(self, user: str | None, password: str | None):
        """(rc name or None when refused at TCP, client connected or None)."""
        import paho.mqtt.client as paho
        from paho.mqtt.enums import CallbackAPIVersion
        b = self.config.broker
        done, result = threading.Event(), {}
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"doctor-{user or 'anon'}-{os.getpid()}",
                             protocol=paho.MQTTv5)
        if user:
            client.username_pw_set(user, password)

        def on_connect(c, userdata, flags, rc, props):
            result["rc"] = rc
            done.set()
        client.on_connect = on_connect
        try:
            client.connect(b.host, b.port, keepalive=10)
        except OSError as exc:
            return f"unreachable: {exc}", None
        client.loop_start()
        if not done.wait(MQTT_TIMEOUT_S):
            client.loop_stop()
            return "no CONNACK", None
        if result["rc"].is_failure:
            client.loop_stop()
            return str(result["rc"]), None
        return None, client

    def check_broker(self) -> None:
        from provisioning.credentials import DOCTOR_USER, broker_users
        b = self.config.broker
        try:
            with socket.create_connection((b.host, b.port), timeout=MQTT_TIMEOUT_S):
                pass
        except OSError as exc:
            self.add("broker", FAULT, f"broker at {b.host}:{b.port} is down ({exc.strerror or exc})",
                     "start it: `sudo systemctl start mosquitto`; its log: `journalctl -u mosquitto -n 50`")
            return
        self.broker_up = True
        directory = self._credentials_dir()
        users = [u for u in broker_users(self.config)
                 if directory and (directory / f"{u}.password").exists()]
        if not users:
            refused, client = self._connect(b.username, b.password() if b.password_file else None)
            if refused:
                self.add("broker", FAULT, f"broker at {b.host}:{b.port} refused the node ({refused})",
                         "write the credentials: `vestibule provision credentials --config ... --out /etc/vestibule/broker`")
                return
            self.add("broker", OK, f"broker at {b.host}:{b.port} answers (no per-user password files to check)")
            self._read_retained(client)
            return
        # The broker makes a client's id its user name: logging in as a service's user would
        # disconnect that service. Each password file is checked against the broker's hashes
        # instead, and the doctor logs in only as its own user.
        for user in users:
            password = (directory / f"{user}.password").read_text(encoding="utf-8").strip()
            matches = password_matches(directory / "passwords", user, password)
            if not matches:
                hashes, secret = directory / "passwords", directory / f"{user}.password"
                why = (f"the broker's password file {hashes} has no entry for {user}" if matches is None
                       else f"{secret} does not match {user}'s hash in the broker's password file {hashes}")
                self.add(f"broker user {user}", FAULT, why,
                         f"the password file and the broker's hashes differ: `vestibule provision credentials "
                         f"--config {self.config_path} --out {directory} --rotate {user}`, then "
                         f"`sudo systemctl reload mosquitto` and restart the {user} service")
                continue
            self.add(f"broker user {user}", OK, f"{user}'s password file matches the broker's")
        if DOCTOR_USER not in users:
            return
        password = (directory / f"{DOCTOR_USER}.password").read_text(encoding="utf-8").strip()
        refused, client = self._connect(DOCTOR_USER, password)
        if refused:
            self.add("broker login", FAULT, f"the broker refused {DOCTOR_USER} ({refused}) although its hash matches",
                     "the broker has not reread its password file: `sudo systemctl reload mosquitto`")
            return
        self._read_retained(client)

    def _read_retained(self, client) -> None:
        from mqtt.topics import NodeTopics
        topics = NodeTopics(self.config.site.id, self.config.node.id)
        lock = threading.Lock()

        def on_message(c, u, msg):
            with lock:
                self.retained[msg.topic] = msg.payload
        client.on_message = on_message
        client.subscribe([(topics.core_status, 1), (f"{topics.base}/dev/+/status", 1)])
        deadline = time.monotonic() + 1.0  # retained messages come at once after SUBACK
        while time.monotonic() < deadline:
            with lock:
                if topics.core_status in self.retained:
                    break
            time.sleep(0.05)
        time.sleep(0.2)
        client.disconnect()
        client.loop_stop()

    def check_core(self) -> None:
        from pydantic import ValidationError

        from mqtt.models import CoreStatus
        from mqtt.topics import NodeTopics
        if not self.broker_up:
            self.add("core", SKIPPED, "not checked: the broker is down")
            return
        payload = self.retained.get(NodeTopics(self.config.site.id, self.config.node.id).core_status)
        fix = ("check the booking core's link to this site's broker (its bridge in /etc/mosquitto/conf.d); "
               "the node keeps working from its cache and sends events when the core is back")
        if payload is None:
            self.add("core", FAULT, "the core has never said it is online here (no retained core/status)", fix)
            return
        try:
            status = CoreStatus.model_validate_json(payload)
        except ValidationError:
            self.add("core", FAULT, "the core's status message is unreadable", fix)
            return
        if not status.online:
            self.add("core", FAULT, f"the core is offline (since {status.ts:%Y-%m-%d %H:%M})", fix)
        else:
            self.add("core", OK, f"the core is online (since {status.ts:%Y-%m-%d %H:%M})")

    # -- devices --------------------------------------------------------------------------------
    def check_devices(self) -> None:
        from devices.errors import BadDeviceURL
        from devices.url import parse_device_url
        from mqtt.topics import NodeTopics
        from provisioning import probes
        bindings = udev.read_bindings(self.rules)
        topics = NodeTopics(self.config.site.id, self.config.node.id)
        for device_id, section in self.config.devices.items():
            name = f"device {device_id}"
            try:
                url = parse_device_url(section.url)
            except BadDeviceURL as exc:
                self.add(name, FAULT, str(exc), f"fix devices.{device_id}.url in {self.config_path}")
                continue
            if url.scheme == "sim":
                self.add(name, OK, "simulated (sim://): nothing to check")
                continue
            if url.scheme != "serial":
                self.add(name, SKIPPED, f"{url}: only serial devices are probed here; "
                                        f"`vestibule provision test {device_id}` exercises it")
                continue
            if not os.path.exists(url.path):
                self.add(name, FAULT, f"no device at {url.path}",
                         "plugged into another port, or a new one? run `vestibule provision discover`, then "
                         f"`vestibule provision assign {device_id} --port PORT --config {self.config_path}`")
                continue
            stable = f"/{udev.STABLE_DIR}/{device_id}" in url.path
            if not stable or device_id not in bindings:
                self.add(f"{name} binding", FAULT,
                         f"{url.path} is not bound to a stable name (no udev rule for {device_id} in {self.rules})",
                         f"bind it: `vestibule provision assign {device_id} --port {url.path} --config {self.config_path}`")
            result = probes.probe_port(url.path, probes.plan(protocol=section.protocol))
            if result.error and "in use by" in result.error:
                retained = self.retained.get(topics.device_status(device_id))
                state = json.loads(retained).get("state") if retained else "unknown"
                if state in ("ready", "degraded"):
                    self.add(name, OK, f"driven by the controller, which reports it {state}")
                else:
                    self.add(name, FAULT, f"driven by the controller, which reports it {state}",
                             "see `journalctl -u vestibule-controller -n 50`; "
                             f"stop the controller, then `vestibule provision test {device_id}`")
            elif result.error:
                self.add(name, FAULT, result.error, "check the cable and the service user's groups (dialout)")
            elif result.identification is None and section.protocol in probes.PROBES:
                self.add(name, FAULT, f"{url.path} is there but no {section.protocol} device answers",
                         "switched on? the right protocol? `vestibule provision discover` shows what answers where")
            else:
                what = result.identification.summary() if result.identification else "present (cannot be probed)"
                self.add(name, OK, f"{url.path}: {what}")

    # -- host -----------------------------------------------------------------------------------
    def check_disk(self) -> None:
        store = Path(self.config.node.store)
        where = store.parent if store.parent.exists() else Path("/")
        free_mb = shutil.disk_usage(where).free / 2**20
        if free_mb < self.disk_min_free_mb:
            self.add("disk", FAULT, f"disk almost full: {free_mb:.0f} MB free on {where} "
                                    f"(needs {self.disk_min_free_mb:.0f} MB)",
                     "free space: `sudo journalctl --vacuum-size=200M`, `sudo apt-get clean`, old files in /var/log")
        else:
            self.add("disk", OK, f"{free_mb:.0f} MB free on {where}")

    def check_voice(self) -> None:
        voice = self.config.voice
        if not voice.enabled:
            self.add("voice", SKIPPED, "voice is off (voice.enabled = false)")
            return
        tools = ["espeak-ng"] + ([shlex.split(voice.player)[0]] if voice.player else [])
        missing = [tool for tool in tools if not shutil.which(tool)]
        if missing:
            packages = " ".join(dict.fromkeys(PLAYER_PACKAGES.get(Path(t).name, Path(t).name) for t in missing))
            self.add("voice", FAULT, f"{', '.join(missing)} not installed: calls are shown but not spoken",
                     f"`sudo apt-get install {packages}` (or set voice.player to a player this machine has)")
        else:
            self.add("voice", OK, f"{' and '.join(tools)} found")

    def check_clock(self) -> None:
        tool = shutil.which("timedatectl")
        if not tool or not os.path.isdir("/run/systemd/system"):
            self.add("clock", SKIPPED, "not checked: no systemd here (timedatectl)")
            return
        result = subprocess.run([tool, "show", "-p", "NTPSynchronized", "--value"], capture_output=True,
                                text=True, check=False)
        if result.returncode != 0:
            self.add("clock", SKIPPED, f"not checked: timedatectl failed ({result.stderr.strip()})")
        elif result.stdout.strip() != "yes":
            self.add("clock", FAULT, "the clock is not synchronised (tickets and check-in windows depend on it)",
                     "`sudo timedatectl set-ntp true`; check `timedatectl timesync-status`")
        else:
            self.add("clock", OK, "synchronised")

    def check_outbox(self) -> None:
        store = Path(self.config.node.store)
        if not store.exists():
            self.add("outbox", SKIPPED, f"no store yet at {store} (the controller has not run)")
            return
        try:  # read-only: never contend with the controller for a write lock
            db = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=2)
            try:
                backlog, oldest = db.execute(
                    "SELECT COUNT(*), MIN(created_ns) FROM outbox WHERE delivered_ns IS NULL").fetchone()
            finally:
                db.close()
        except sqlite3.Error as exc:
            self.add("outbox", FAULT, f"cannot read the store {store}: {exc}",
                     "see `journalctl -u vestibule-controller`; do not delete the file: it holds undelivered events")
            return
        age = f", oldest {(time.time_ns() - oldest) / 6e10:.0f} min old" if oldest else ""
        if backlog > BACKLOG_WARN:
            self.add("outbox", FAULT, f"{backlog} events waiting for the core{age}",
                     "they are kept and sent when the core is back; check the core and the broker link")
        else:
            self.add("outbox", OK, f"{backlog} events waiting{age}")

    def check_services(self) -> None:
        if not os.path.isdir("/run/systemd/system") or not shutil.which("systemctl"):
            self.add("services", SKIPPED, "not checked: systemd is not running here")
            return
        result = subprocess.run(["systemctl", "list-units", "--all", "--plain", "--no-legend", "vestibule-*"],
                                capture_output=True, text=True, check=False)
        units = [line.split()[:4] for line in result.stdout.splitlines() if line.strip()]
        if not units:
            self.add("services", FAULT, "no vestibule services installed",
                     f"`sudo vestibule provision install --config {self.config_path}`")
        for unit, _load, active, sub in units:
            if active == "active":
                self.add(f"service {unit}", OK, f"{active} ({sub})")
            else:
                self.add(f"service {unit}", FAULT, f"{active} ({sub})",
                         f"`journalctl -u {unit} -n 50`, then `sudo systemctl restart {unit}`")

    def run(self) -> list[Check]:
        if self.check_config():
            self.check_broker()
            self.check_core()
            self.check_devices()
            self.check_disk()
            self.check_outbox()
            self.check_voice()
        self.check_clock()
        self.check_services()
        return self.checks


def run_doctor(config_path: Path, *, as_json: bool, credentials: Path | None, disk_min_free_mb: float,
               rules: Path, out: TextIO) -> int:
    checks = Doctor(config_path, credentials=credentials, disk_min_free_mb=disk_min_free_mb, rules=rules).run()
    faults = [c for c in checks if c.state == FAULT]
    if as_json:
        print(json.dumps({"ok": not faults, "checks": [asdict(c) for c in checks]}, indent=2), file=out)
    else:
        from rich.console import Console
        from rich.table import Table
        table = Table(title=f"vestibule doctor: {len(faults)} fault(s)")
        for column in ("check", "state", "what", "fix"):
            table.add_column(column, overflow="fold")
        style = {OK: "green", FAULT: "bold red", SKIPPED: "dim"}
        for c in checks:
            table.add_row(c.name, f"[{style[c.state]}]{c.state}[/]", c.detail, c.fix)
        Console(file=out, width=160, soft_wrap=False).print(table)
    return 1 if faults else 0
