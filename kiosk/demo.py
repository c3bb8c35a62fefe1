"""`vestibule demo`: the whole entrance on simulated devices.

Starts (unless --broker is given) a private Mosquitto, then the stand-in core and the node
controller as separate processes, exactly as systemd would, with the example config pointing
at simulated devices (sim://). With a display it opens the kiosk UI; with --headless it plays a
scripted scenario instead: patients check in and take tickets from the first seconds on, the
core calls them, and every step is printed as it happens, then a summary.
"""
from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from foundation.children import die_with_parent
from kiosk.node.config import load_node_config as load_config
from kiosk.node.config import parse_node_config as parse_config
from mqtt.broker import Broker
from mqtt.client import MqttClient, RequestTimeout
from mqtt.models import ScheduleSnapshot
from mqtt.topics import NodeTopics

ROOT = Path(__file__).resolve().parents[1]
TRY_AGAIN_S = 300  # the "try" codes are printed again this often while the kiosk window is open


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(value)


def dump_toml(data: dict) -> str:
    """Enough TOML for our config shape (tables, arrays of tables, inline tables)."""
    out = []
    for key, value in data.items():
        if isinstance(value, dict) and key != "devices":
            out.append(f"[{key}]")
            out += [f"{k} = {_toml_value(v)}" for k, v in value.items()]
            out.append("")
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for item in value:
                out.append(f"[[{key}]]")
                out += [f"{k} = {_toml_value(v)}" for k, v in item.items()]
                out.append("")
    for name, dev in data.get("devices", {}).items():
        out.append(f"[devices.{name}]")
        out += [f"{k} = {_toml_value(v)}" for k, v in dev.items()]
        out.append("")
    return "\n".join(out)


def write_runtime_config(base: Path, run_dir: Path, broker_url: str) -> Path:
    data = tomllib.loads(base.read_text(encoding="utf-8"))
    data["node"]["store"] = str(run_dir / "node.db")
    data["broker"]["url"] = broker_url
    parse_config(data)  # fail here, loudly, rather than in a child process
    path = run_dir / "node.toml"
    path.write_text(dump_toml(data), encoding="utf-8")
    return path


@dataclass
class Tally:
    counts: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, key: str, n: int = 1) -> None:
        with self.lock:
            self.counts[key] += n


def say(line: str) -> None:
    print(f"{datetime.now().strftime('%H:%M:%S')}  {line}", flush=True)


class Scenario:
    """Plays patients at the kiosks through node commands, as the kiosk UI would."""

    def __init__(self, config, broker_port: int, seed: int):
        self.config = config
        self.topics = NodeTopics(config.site.id, config.node.id)
        self.rng = random.Random(seed)
        self.tally = Tally()
        self.schedule: ScheduleSnapshot | None = None
        self.used: set[str] = set()
        cid = f"demo-{os.getpid()}"
        self.client = MqttClient("127.0.0.1", broker_port, cid, role="kiosk",
                                 reply_topic=self.topics.reply("kiosk", cid))
        self.node_online = threading.Event()
        self.client.subscribe(self.topics.status, self._node_status)
        self.client.subscribe(self.topics.core_schedule_all, self._schedule)
        self.client.subscribe(self.topics.core_cmd_call, self._call)
        self.client.subscribe(self.topics.events_all, self._event)
        self.post: PostScenario | None = None  # set by run_demo when the config has a screening post

    # the demo harness may read the schedule (it plays patients who have their SMS); UIs may not
    def _schedule(self, msg) -> None:
        if msg.payload:
            self.schedule = ScheduleSnapshot.model_validate_json(msg.payload)

    def _node_status(self, msg) -> None:
        if msg.payload and json.loads(msg.payload).get("online"):
            self.node_online.set()
        else:
            self.node_online.clear()

    def _call(self, msg) -> None:
        call = json.loads(msg.payload)
        self.tally.add("calls")
        say(f"core   call {call['call_id']}: ticket {call['ticket']} to room {call['room']}"
            + (" (repeat)" if call.get("repeat") else ""))

    def _event(self, msg) -> None:
        event = json.loads(msg.payload)
        self.tally.add(f"evt:{event['type']}")
        if event["type"] == "call.displayed":
            d = event["data"]
            say(f"boards {d['ticket']} -> room {d['room']} on {', '.join(d['boards']) or 'no LED board for that room'}; "
                f"{'announced' if d['announced'] else 'not announced again'} in {d['latency_ms']:.0f} ms")
        elif event["type"] == "device.problem":
            d = event["data"]
            say(f"device {d['device']}: {d['problem']}{' cleared' if d.get('cleared') else ''}")

    def client_request(self, client: MqttClient, name: str, body: dict):
        return client.request(self.topics.command(name), body, timeout=15)

    def request(self, name: str, body: dict):
        try:
            return self.client.request(self.topics.command(name), body, timeout=10)
        except RequestTimeout as exc:
            say(f"kiosk  {name}: no answer ({exc})")
            self.tally.add("timeouts")
            return None

    def booked(self, earliest: timedelta, latest: timedelta) -> list:
        """Booked appointments not used yet whose start is within [now+earliest, now+latest]."""
        if not self.schedule:
            return []
        now = datetime.now(self.config.site.tz)
        return [a for a in self.schedule.appointments
                if a.status == "booked" and a.booking not in self.used and earliest < a.start - now < latest]

    def codes_to_try(self, core_db: Path | None = None) -> list[str]:
        """Booking codes a person at the demo kiosk can type, one per path through the flow, and a
        phone number with its birth date. Each pick is the one whose check-in window stays open
        longest from now (starts latest while already open), and the list is printed again every
        few minutes, so what is on the terminal never goes stale."""
        lines = []
        arrival = self.config.arrival
        opened = self.booked(-timedelta(minutes=arrival.late_minutes - 2), timedelta(minutes=arrival.early_minutes - 1))
        due = sorted(opened, key=lambda a: a.start, reverse=True)
        picks = [
            ("due now", [a for a in due if not a.flags and not a.patient.first_visit]),
            ("first visit: registration first", [a for a in due if a.patient.first_visit and not a.flags]),
            ("flagged box: isolation box", [a for a in due if a.is_box]),
            ("a child: the representative confirms", [a for a in due if a.is_child]),
            ("too early", self.booked(timedelta(minutes=60), timedelta(hours=8))),
            ("cancelled", [a for a in (self.schedule.appointments if self.schedule else []) if a.status == "cancelled"]),
        ]
        for what, found in picks:
            if found:
                lines.append(f"{found[0].booking:10s} {what}")
        plain = [a for a in due if not a.flags and not a.patient.first_visit]
        person = _phone_and_birth(core_db, plain[0].booking) if core_db and plain else None
        if person:
            phone, birth = person
            lines.append(f"phone {phone}, born {birth:%d.%m.%Y}: \"find by phone\" (the fictional patient of {plain[0].booking})")
        return lines

    def step(self) -> None:
        if self.post is not None and self.rng.random() < 0.3:
            self.post.patient()
            return
        kiosk = self.rng.choice(["kiosk-1", "kiosk-2"])
        lang = self.rng.choice(["ru", "ru", "ru", "en", "zh"])
        roll = self.rng.random()
        due = self.booked(-timedelta(minutes=25), timedelta(minutes=25))
        early = self.booked(timedelta(minutes=45), timedelta(hours=6))
        if roll < 0.45 and due:
            appt = self.rng.choice(due)
            self.used.add(appt.booking)
            how = {"by": "code", "code": appt.booking}
            if appt.is_child:
                how["representative"] = True  # the parent confirms at the kiosk
            self._checkin(kiosk, lang, how, appt.booking)
        elif roll < 0.50 and early:
            appt = self.rng.choice(early)
            self._checkin(kiosk, lang, {"by": "code", "code": appt.booking}, appt.booking)
        elif roll < 0.55:
            code = f"BK-{self.rng.randrange(16**5):05X}".replace("0", "Z")
            self._checkin(kiosk, lang, {"by": "code", "code": code}, code)
        else:
            self._walk_in(kiosk, lang, self.rng.choice(self.config.services).id, self.rng.random() < 0.2)
        if self.rng.random() < 0.12:
            score = self.rng.randint(3, 10)
            answer = self.request("feedback", {"kiosk": kiosk, "score": score})
            if answer is not None and answer.status == "ok":
                self.tally.add("feedback")
                say(f"{kiosk} feedback {score}/10{' -> follow-up by the service deputy' if score <= 6 else ''}")

    def _walk_in(self, kiosk: str, lang: str, service: str, priority: bool) -> None:
        answer = self.request("ticket", {"kiosk": kiosk, "service": service, "priority": priority, "lang": lang})
        if answer is None:
            return
        if answer.status == "ok":
            d = answer.data
            self.tally.add("tickets")
            say(f"{kiosk} walk-in {service}{' (priority)' if priority else ''}: ticket {d['ticket']}, "
                f"{d['ahead']} ahead{'' if d['printed'] else ', NOT printed'}")
        else:
            self.tally.add("errors")
            say(f"{kiosk} ticket refused: {answer.error.code}: {answer.error.message}")

    def _checkin(self, kiosk: str, lang: str, how: dict, code: str) -> None:
        answer = self.request("checkin", {"kiosk": kiosk, "lang": lang, **how})
        if answer is None:
            return
        if answer.status == "ok":
            d = answer.data
            self.tally.add("checkins")
            say(f"{kiosk} check-in {code}: ticket {d['ticket']}, route {d['route']}, room {d['room']} "
                f"floor {d['floor']}{' (offline)' if d.get('offline') else ''}{'' if d['printed'] else ', NOT printed'}")
        else:
            self.tally.add("rejected")
            say(f"{kiosk} check-in {code} refused: {answer.error.code}")


class PostScenario:
    """Plays the screening post as its staff app would (role screening): a patient due now is
    scanned, measured (forehead, neck, oximetry), asked the questionnaire, and decided; a patient
    sent to the box has their doctor informed by the core, which the demo reads back."""

    def __init__(self, scenario: Scenario, broker_port: int, post: str, core_db: Path):
        self.scenario = scenario
        self.post = post
        self.core_db = core_db
        topics = scenario.topics
        cid = f"demo-post-{os.getpid()}"
        self.client = MqttClient("127.0.0.1", broker_port, cid, role="screening",
                                 reply_topic=topics.reply("screening", cid))
        self.questions: list[str] = []

    def ask(self, name: str, body: dict):
        try:
            answer = self.scenario.client_request(self.client, name, body)
        except RequestTimeout as exc:
            say(f"post   {name}: no answer ({exc})")
            self.scenario.tally.add("timeouts")
            return None
        if answer.status != "ok":
            say(f"post   {name}: {answer.error.code}: {answer.error.message}")
            return None
        return answer.data

    def patient(self) -> None:
        sc = self.scenario
        if not self.questions:
            info = self.ask("screening.info", {"post": self.post, "lang": "en"})
            self.questions = [q["id"] for q in info["questions"]] if info else []
        due = sc.booked(-timedelta(minutes=25), timedelta(minutes=40))
        boxed = [a for a in due if a.is_box]
        appt = sc.rng.choice(boxed if boxed and sc.rng.random() < 0.4 else due) if due else None
        start = {"post": self.post, "lang": "ru", **({"by": "code", "code": appt.booking} if appt else {"by": "none"})}
        started = self.ask("screening.start", start)
        if started is None:
            return
        if appt:
            sc.used.add(appt.booking)
        who = started.get("booking") or "no booking"
        session = started["session"]
        time.sleep(1.2)  # the patient steps up to the post
        values = []
        for i, body in enumerate(({"what": "temperature", "site": "forehead"}, {"what": "temperature", "site": "neck"},
                                  {"what": "oximetry"})):
            if i:
                time.sleep(1.2)  # the thermometer moves to the neck, the finger into the oximeter
            got = self.ask("screening.measure", {"session": session, **body})
            if got is None:
                self.ask("screening.cancel", {"session": session})
                return
            values.append(f"{got['value']} °C" if body["what"] == "temperature" else f"SpO2 {got['spo2']} % "
                          f"pulse {got['pulse']}/min")
        answers = {q: "no" for q in self.questions}
        if self.questions and sc.rng.random() < 0.15:
            answers[sc.rng.choice(self.questions)] = "yes"
        suggested = self.ask("screening.answers", {"session": session, "answers": answers})["suggested"]
        done = self.ask("screening.complete", {"session": session, "decision": suggested})
        if done is None:
            return
        sc.tally.add("screenings")
        yes = [q for q, a in answers.items() if a == "yes"]
        say(f"{self.post} {who}: {', '.join(values)}{'; yes to ' + ', '.join(yes) if yes else ''}; "
            f"flags {', '.join(started['flags']) or 'none'} -> {done['decision']}"
            + (f", doctor {done['doctor']} to be told" if done["notified"] else ""))
        if done["notified"]:
            booking = started["booking"]
            if _wait_for(lambda: _notified(self.core_db, booking), 10):
                sc.tally.add("doctors_informed")
                say(f"core   doctor {_notified(self.core_db, booking)} informed: booking {booking} is in the box")
            else:
                say(f"core   the doctor of {booking} was NOT informed within 10 s")


def _notified(db: Path, booking: str) -> str | None:
    try:
        with sqlite3.connect(db) as conn:
            row = conn.execute("SELECT doctor FROM notifications WHERE booking = ?", (booking,)).fetchone()
    except sqlite3.Error:
        return None
    return row[0] if row else None


def _wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def _phone_and_birth(db: Path, booking: str):
    """The stand-in core's fictional patient of `booking`: (phone, birth date), or None."""
    try:
        with sqlite3.connect(db) as conn:
            row = conn.execute("SELECT phone, birth_date FROM appointments WHERE booking = ?", (booking,)).fetchone()
    except sqlite3.Error:
        return None
    return (row[0], date.fromisoformat(row[1])) if row else None


def _inbox_count(db: Path) -> int:
    try:
        with sqlite3.connect(db) as conn:
            return conn.execute("SELECT COUNT(*) FROM inbox").fetchone()[0]
    except sqlite3.Error:
        return -1


def run_demo(args) -> int:
    base = Path(args.config) if args.config else ROOT / "config" / "example.toml"
    run_dir = ROOT / "var" / f"demo-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    run_dir.mkdir(parents=True, exist_ok=True)
    broker = None
    if args.broker:
        broker_url = args.broker
    else:
        broker = Broker(workdir=str(run_dir / "broker"))
        (run_dir / "broker").mkdir()
        broker.start()
        broker_url = broker.url
        say(f"broker  private Mosquitto on {broker_url}")
    config_path = write_runtime_config(base, run_dir, broker_url)
    config = load_config(config_path)
    exe = [sys.executable, "-m", "kiosk.cli"]
    logs = run_dir / "logs"
    logs.mkdir()
    procs: list[subprocess.Popen] = []

    def spawn(name: str, argv: list[str], env: dict | None = None) -> subprocess.Popen:
        log = open(logs / f"{name}.log", "ab")
        proc = subprocess.Popen(exe + argv, stdout=log, stderr=log, cwd=ROOT, start_new_session=True,
                                preexec_fn=die_with_parent, env=env)
        procs.append(proc)
        say(f"start   {name} (pid {proc.pid}); log {logs / (name + '.log')}")
        return proc

    core_db = run_dir / "devcore.db"
    spawn("devcore", ["devcore", "--config", str(config_path), "--demo", "--db", str(core_db),
                      "--call-interval", "4", "--seed", str(args.seed)])
    spawn("controller", ["controller", "--config", str(config_path)])
    port = int(broker_url.rsplit(":", 1)[1])
    scenario = Scenario(config, port, args.seed)
    scenario.client.start()
    posts = sorted({d.role for d in config.devices.values() if d.kind == "thermometer" and d.role})
    if posts:
        scenario.post = PostScenario(scenario, port, posts[0], core_db)
        scenario.post.client.start()
    rc = 0
    try:
        if not scenario.client.wait_connected(10):
            say("demo    cannot reach the broker")
            return 1
        # the controller's retained status says when it serves commands
        ok = _wait_for(lambda: scenario.schedule is not None and scenario.node_online.is_set(), 30)
        ping = scenario.request("ping", {}) if ok else None
        if ping is None or ping.status != "ok":
            say("demo    the controller did not answer; see its log")
            return 1
        say(f"ready   node {ping.data['node']} session {ping.data['session']}, core "
            f"{'online' if ping.data['core_online'] else 'offline'}, {len(scenario.schedule.appointments)} appointments today")
        headless = args.headless or not os.environ.get("DISPLAY")
        if headless:
            if not args.headless:
                say("demo    no display: running the headless scenario")
            end = time.monotonic() + args.duration
            while time.monotonic() < end:
                scenario.step()
                time.sleep(scenario.rng.uniform(1.5, 3.5))
            time.sleep(2)
        else:
            # with the TV board: the kiosk at the display's left edge (Kivy reads KCFG_* at start), the
            # board beside it in what width is left (16:9, at most half size)
            board = "tv-1" in config.boards
            at_left = {**os.environ, "KCFG_GRAPHICS_POSITION": "custom", "KCFG_GRAPHICS_LEFT": "0",
                       "KCFG_GRAPHICS_TOP": "0"} if board else None
            ui = spawn("kiosk-ui", ["kiosk", "--config", str(config_path), "--kiosk", "kiosk-1", "--windowed"],
                       env=at_left)
            if board:
                spawn("board-tv-1", ["board", "--config", str(config_path), "--board", "tv-1", "--windowed",
                                     "--size", "fit", "--at", "1290,0"])
            say("demo    the kiosk window is open (and the TV board beside it); close it or press Ctrl-C to stop")
            try:
                while ui.poll() is None:
                    for line in scenario.codes_to_try(core_db):
                        say(f"try     {line}")
                    try:
                        ui.wait(timeout=TRY_AGAIN_S)
                    except subprocess.TimeoutExpired:
                        say("demo    fresh codes (the earlier ones' check-in windows move on):")
            except KeyboardInterrupt:
                pass
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        scenario.client.stop()
        if scenario.post is not None:
            scenario.post.client.stop()
        if broker:
            broker.stop()
    t = scenario.tally.counts
    events = sum(v for k, v in t.items() if k.startswith("evt:"))
    delivered = _inbox_count(core_db)
    print()
    print("summary")
    print(f"  tickets (walk-in)   {t['tickets']}")
    print(f"  check-ins           {t['checkins']}   refused {t['rejected']}")
    print(f"  calls by the core   {t['calls']}")
    print(f"  feedback            {t['feedback']}")
    print(f"  screenings          {t['screenings']}   doctors informed of a box {t['doctors_informed']}")
    print(f"  events on the wire  {events}   in the core's inbox {delivered}")
    print(f"  no answer           {t['timeouts']}")
    print(f"  run directory       {run_dir}")
    return rc if t["timeouts"] == 0 else 1
