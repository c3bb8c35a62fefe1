"""The screening post in the controller: sessions from start to complete.

  screening.info      the post's devices, the questionnaire in the staff's language, today's counts
  screening.start     find the booking (code, ticket) or none; a session
  screening.measure   the post's own device's stable reading (stability.py), exactly as reported
  screening.answers   the questionnaire's yes/no answers
  screening.complete  the decision; screening.completed (+ routing.box for a booking sent to the
                      box) in one transaction; `notified` once routing.box is in the outbox
  screening.cancel    drop the session (nothing recorded)

Sessions live in memory (a controller restart drops the patient in front of the post, who is
measured again) and expire after screening.session_expiry_s. The store keeps one row per
completed screening (booking or ticket, decision: no name) for today's counts, purged with
the day. Logs carry session ids, booking codes and tickets, never a name.
"""
from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from kiosk.features.screening import decision as rules
from kiosk.features.screening.lookup import BookingFinder, NotFound, Visit
from kiosk.features.screening.readings import NotStable, ReadingBuffer, Unavailable
from kiosk.features.screening.stability import Rule
from mqtt.commands import (
    ScreeningAnswersCommand,
    ScreeningAnswersResult,
    ScreeningCancelCommand,
    ScreeningCancelResult,
    ScreeningCompleteCommand,
    ScreeningCompleteResult,
    ScreeningInfoCommand,
    ScreeningInfoResult,
    ScreeningMeasureCommand,
    ScreeningMeasureResult,
    ScreeningPatient,
    ScreeningQuestionText,
    ScreeningStartCommand,
    ScreeningStartResult,
    ScreeningToday,
)
from mqtt.models import RoutingBox, ScreeningCompleted
from mqtt.rpc import RequestError

log = logging.getLogger("vestibule.screening")

KINDS = ("thermometer", "oximeter")


def create_tables(db) -> None:
    db.execute("""CREATE TABLE IF NOT EXISTS screenings (
        id INTEGER PRIMARY KEY AUTOINCREMENT, day TEXT NOT NULL, at TEXT NOT NULL, post TEXT NOT NULL,
        session TEXT NOT NULL, booking TEXT, ticket TEXT, decision TEXT NOT NULL, suggested TEXT NOT NULL,
        notified INTEGER NOT NULL)""")
    db.execute("CREATE INDEX IF NOT EXISTS screenings_day ON screenings (day, post)")


@dataclass
class Session:
    id: str
    post: str
    visit: Visit
    opened: float  # monotonic
    began: float  # wall time (the devices' clock): only readings after it are this patient's
    temperatures: dict[str, rules.Temperature] = field(default_factory=dict)  # by site
    oximetry: rules.Oximetry | None = None
    answers: dict[str, str] = field(default_factory=dict)
    last_capture: dict[str, float] = field(default_factory=dict)  # device -> device time of its last capture
    lock: threading.Lock = field(default_factory=threading.Lock)


def _rule(cfg) -> Rule:
    return Rule(count=cfg.count, window_s=cfg.window_s, tolerance=cfg.tolerance, max_age_s=cfg.max_age_s)


class ScreeningPosts:
    def __init__(self, section, *, devices_config: dict, languages, default_language: str, clock, store,
                 outbox, finder: BookingFinder, device_state, wall=time.time):
        self.cfg = section
        self.clock = clock
        self.store = store
        self.outbox = outbox
        self.finder = finder
        self.device_state = device_state  # device id -> "ready" | "degraded" | "fault" | "offline" | None
        self.languages = list(languages)
        self.default_language = default_language
        # the post's devices: those whose role is the post id
        self.posts: dict[str, dict[str, str]] = {}
        for device_id, dev in devices_config.items():
            if dev.kind in KINDS and dev.role:
                self.posts.setdefault(dev.role, {}).setdefault(dev.kind, device_id)
        ids = {d for post in self.posts.values() for d in post.values()}
        self._wall = wall
        self.readings = ReadingBuffer(ids, wall=wall)
        self.rules = {"thermometer": _rule(section.thermometer_stable), "oximeter": _rule(section.oximeter_stable)}
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self._box_questions = {q.id for q in section.questions if q.box_if_yes}
        self._question_ids = {q.id for q in section.questions}

    # -- bus --------------------------------------------------------------------------------------
    def on_reading(self, device: str, reading) -> None:
        self.readings.accept(device, reading)

    # -- helpers ----------------------------------------------------------------------------------
    def _post(self, post: str) -> dict[str, str]:
        devices = self.posts.get(post)
        if devices is None:
            known = ", ".join(sorted(self.posts)) or "none configured"
            raise RequestError("unknown_post", f"no screening post {post!r} (posts: {known})")
        return devices

    def _session(self, session_id: str) -> Session:
        self.expire()
        with self._lock:
            session = self._sessions.get(session_id)
        if session is None:
            raise RequestError("unknown_session", f"no open screening session {session_id} (expired or completed)")
        return session

    def expire(self) -> int:
        cutoff = self.clock.monotonic() - self.cfg.session_expiry_s
        with self._lock:
            gone = [s for s in self._sessions.values() if s.opened < cutoff]
            for s in gone:
                del self._sessions[s.id]
        for s in gone:
            log.info("screening session %s at %s expired unfinished", s.id, s.post)
        return len(gone)

    def _today(self) -> str:
        return self.clock.now().date().isoformat()

    def today(self, post: str) -> ScreeningToday:
        rows = self.store.query("SELECT decision, COUNT(*) AS n FROM screenings WHERE day = ? AND post = ? "
                                "GROUP BY decision", (self._today(), post))
        counts = {r["decision"]: r["n"] for r in rows}
        return ScreeningToday(screened=sum(counts.values()), box=counts.get("box", 0), refer=counts.get("refer", 0))

    def _suggest(self, s: Session) -> tuple[str, list[str]]:
        return rules.suggest(temperatures=list(s.temperatures.values()), oximetry=s.oximetry,
                             box_flag=s.visit.box_flag, answers=s.answers, box_questions=self._box_questions,
                             fever_celsius=self.cfg.fever_celsius, spo2_min=self.cfg.spo2_min_percent,
                             pulse_range=(self.cfg.pulse_min_bpm, self.cfg.pulse_max_bpm))

    def _at(self, ts: float) -> datetime:
        return datetime.fromtimestamp(ts, self.clock.now().tzinfo)

    # -- commands ---------------------------------------------------------------------------------
    def info(self, cmd: ScreeningInfoCommand) -> ScreeningInfoResult:
        devices = self._post(cmd.post)
        lang = cmd.lang if cmd.lang in self.languages else self.default_language
        questions = [ScreeningQuestionText(id=q.id, text=q.texts.get(lang) or next(iter(q.texts.values())),
                                           box_if_yes=q.box_if_yes) for q in self.cfg.questions]
        return ScreeningInfoResult(post=cmd.post, thermometer=devices.get("thermometer"),
                                   oximeter=devices.get("oximeter"), questions=questions,
                                   fever_celsius=self.cfg.fever_celsius, spo2_min_percent=self.cfg.spo2_min_percent,
                                   today=self.today(cmd.post))

    def start(self, cmd: ScreeningStartCommand) -> ScreeningStartResult:
        self._post(cmd.post)
        self.expire()
        today = self.clock.now().date()
        try:
            if cmd.by == "code":
                visit = self.finder.by_code(cmd.code, today)
            elif cmd.by == "ticket":
                visit = self.finder.by_ticket(cmd.ticket, today)
            else:
                visit = Visit()
        except NotFound as exc:
            log.info("screening at %s: %s %s: %s", cmd.post, cmd.by, cmd.code or cmd.ticket, exc.code)
            raise RequestError(exc.code, exc.message) from None
        session = Session(id=uuid.uuid4().hex[:16], post=cmd.post, visit=visit, opened=self.clock.monotonic(),
                          began=self._wall())
        with self._lock:
            self._sessions[session.id] = session
        suggested, _ = self._suggest(session)
        log.info("screening session %s at %s: %s%s", session.id, cmd.post,
                 visit.booking or visit.ticket or "no booking", " (booking flagged box)" if visit.box_flag else "")
        patient = (ScreeningPatient(display=visit.patient, first_visit=visit.first_visit, child=visit.child)
                   if visit.patient is not None else None)
        return ScreeningStartResult(session=session.id, booking=visit.booking, ticket=visit.ticket, patient=patient,
                                    doctor=visit.doctor, room=visit.room, start=visit.start, flags=list(visit.flags),
                                    suggested=suggested)

    def measure(self, cmd: ScreeningMeasureCommand) -> ScreeningMeasureResult:
        session = self._session(cmd.session)
        kind = "thermometer" if cmd.what == "temperature" else "oximeter"
        device = self.posts.get(session.post, {}).get(kind)
        if device is None:
            raise RequestError("device_unavailable", f"post {session.post} has no {kind} configured")
        rule = self.rules[kind]
        after = session.last_capture.get(device, session.began)

        def available() -> bool:
            return self.device_state(device) not in (None, "offline")
        try:
            reading = self.readings.wait_stable(device, rule, self.cfg.measure_timeout_s, available, after=after)
        except Unavailable:
            log.info("session %s: %s unavailable", session.id, device)
            raise RequestError("device_unavailable", f"{kind} {device} is not available (unplugged or not "
                                                     "answering); check its cable and measure again") from None
        except NotStable as exc:
            log.info("session %s: no stable %s reading (%s)", session.id, device, exc.reason)
            what = {"probe": "probe off or no finger" if kind == "oximeter" else "the sensor gives no temperature",
                    "unsettled": "the reading did not settle",
                    "no_reading": "no reading"}[exc.reason]
            raise RequestError("no_reading", f"{device}: {what} within {self.cfg.measure_timeout_s:g} s; "
                                             "measure again") from None
        if kind == "thermometer":
            lo, hi = self.cfg.plausible_celsius
            if not lo <= reading.celsius <= hi:
                raise RequestError("implausible", f"{device} reads {reading.celsius} °C, not a body temperature "
                                                  f"({lo:g}..{hi:g} °C): aim at the {cmd.site} from about 1 cm "
                                                  "and measure again")
            with session.lock:
                session.temperatures[cmd.site] = rules.Temperature(cmd.site, reading.celsius, device, reading.ts)
                session.last_capture[device] = reading.ts
        else:
            s_lo, s_hi = self.cfg.plausible_spo2_percent
            p_lo, p_hi = self.cfg.plausible_pulse_bpm
            if not (s_lo <= reading.spo2 <= s_hi and p_lo <= reading.pulse <= p_hi):
                raise RequestError("implausible", f"{device} reads SpO2 {reading.spo2} %, pulse {reading.pulse} /min,"
                                                  " outside physiology: reseat the probe and measure again")
            with session.lock:
                session.oximetry = rules.Oximetry(reading.spo2, reading.pulse, device, reading.ts)
                session.last_capture[device] = reading.ts
        suggested, _ = self._suggest(session)
        log.info("session %s: %s%s captured from %s", session.id, cmd.what, f" ({cmd.site})" if cmd.site else "",
                 device)
        if kind == "thermometer":
            return ScreeningMeasureResult(what=cmd.what, site=cmd.site, value=reading.celsius, unit="Cel",
                                          device=device, at=self._at(reading.ts), suggested=suggested)
        return ScreeningMeasureResult(what=cmd.what, spo2=reading.spo2, pulse=reading.pulse, device=device,
                                      at=self._at(reading.ts), suggested=suggested)

    def answers(self, cmd: ScreeningAnswersCommand) -> ScreeningAnswersResult:
        session = self._session(cmd.session)
        unknown = sorted(set(cmd.answers) - self._question_ids)
        if unknown:
            raise RequestError("invalid", f"answers: unknown question(s) {', '.join(unknown)}")
        with session.lock:
            session.answers.update(cmd.answers)
            answers = dict(session.answers)
        suggested, _ = self._suggest(session)
        return ScreeningAnswersResult(answers=answers, suggested=suggested)

    def complete(self, cmd: ScreeningCompleteCommand) -> ScreeningCompleteResult:
        session = self._session(cmd.session)
        reason = (cmd.reason or "").strip() or None
        with session.lock:
            suggested, why = self._suggest(session)
            missing = [name for name, have in (("forehead", "forehead" in session.temperatures),
                                               ("neck", "neck" in session.temperatures),
                                               ("oximetry", session.oximetry is not None)) if not have]
            if missing and not reason:
                raise RequestError("incomplete", f"not measured: {', '.join(missing)}; measure, or give a reason")
            if cmd.decision != suggested and not reason:
                raise RequestError("reason_required", f"the rules suggest {suggested}: a decision of "
                                                      f"{cmd.decision} needs a reason")
            visit = session.visit
            observations = rules.observations([session.temperatures[s] for s in ("forehead", "neck")
                                               if s in session.temperatures], session.oximetry)
            event = ScreeningCompleted(booking=visit.booking, ticket=None if visit.booking else visit.ticket,
                                       observations=observations, decision=cmd.decision,
                                       answers=dict(session.answers), suggested=suggested, reason=reason,
                                       post=session.post)
            route_box = cmd.decision == "box" and visit.booking is not None and visit.doctor_id is not None
            now = self.clock.now()
            with self.store.transaction() as tx:
                tx.insert("screenings", {"day": now.date().isoformat(), "at": now.isoformat(), "post": session.post,
                                         "session": session.id, "booking": visit.booking, "ticket": visit.ticket,
                                         "decision": cmd.decision, "suggested": suggested,
                                         "notified": int(route_box)})
                self.outbox.append(tx, "screening.completed", event, when=now)
                if route_box:
                    self.outbox.append(tx, "routing.box", RoutingBox(booking=visit.booking, doctor_id=visit.doctor_id),
                                       when=now)
            with self._lock:
                self._sessions.pop(session.id, None)
        log.info("session %s at %s: %s (suggested %s%s)%s%s", session.id, session.post, cmd.decision, suggested,
                 f": {', '.join(why)}" if why else "", ", with a reason" if reason else "",
                 f"; doctor {visit.doctor_id} to be told" if route_box else "")
        return ScreeningCompleteResult(decision=cmd.decision, suggested=suggested, notified=route_box,
                                       doctor=visit.doctor if route_box else None, today=self.today(session.post))

    def cancel(self, cmd: ScreeningCancelCommand) -> ScreeningCancelResult:
        with self._lock:
            session = self._sessions.pop(cmd.session, None)
        if session is not None:
            log.info("session %s at %s cancelled", session.id, session.post)
        return ScreeningCancelResult(cancelled=session is not None)

    def open_sessions(self) -> int:
        with self._lock:
            return len(self._sessions)

    def purge(self, cutoff_day: str) -> None:
        with self.store.transaction() as tx:
            tx.execute("DELETE FROM screenings WHERE day < ?", (cutoff_day,))
