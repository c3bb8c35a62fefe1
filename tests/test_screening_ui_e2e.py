"""The real screening app (a subprocess with a window on the test display) against a real
Mosquitto, the controller with the screening feature, the stand-in core, and the oximeter and
thermometer simulators on ptys. The booking QR is scanned the way the controller reports it (a
DeviceReadingMessage on the post scanner's topic); taps are real X pointer clicks (XTest) on the
buttons the app lists in its test-mode state file, found by their text as staff would."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mqtt.models import DeviceReadingMessage
from tests.support.app_process import app_output, stop_app
from tests.conftest import ROOT
from tests.support.processes import popen_child
from tests.support.screening_post import POST, as_reported, screening_post, set_patient
from tests.support.waiting import wait_until
from tests.test_ui_kiosk_e2e import Pointer
from tests.test_ui_kiosk_screens import kivy_env
from ui.screening_texts import tr

SCANNER = "scanner-2"  # config/example.toml: kind scanner, role screening-1
APP_START_S = 40.0


def app_config(tmp_path: Path, broker_url: str) -> Path:
    text = (ROOT / "config" / "example.toml").read_text(encoding="utf-8")
    text = text.replace('url = "mqtt://127.0.0.1:1883"', f'url = "{broker_url}"')
    text = text.replace('store = "../var/entrance-1.db"', f'store = "{tmp_path / "ui-unused.db"}"')
    path = tmp_path / "screening.toml"
    path.write_text(text, encoding="utf-8")
    return path


class PostApp:
    def __init__(self, tmp_path: Path, broker_url: str, lang: str = "en"):
        self.lang = lang
        self.state_file = tmp_path / "screening-state.json"
        self.log = open(tmp_path / "screening.log", "w+")  # noqa: SIM115 (closed in stop())
        self.pointer = Pointer()
        self.proc = popen_child([sys.executable, "-m", "ui.screening_app", "--config",
                                 str(app_config(tmp_path, broker_url)), "--post", POST, "--windowed", "--lang", lang,
                                 "--state-file", str(self.state_file)],
                                cwd=ROOT, env=kivy_env(), stdout=self.log, stderr=subprocess.STDOUT)

    def state(self) -> dict:
        assert self.proc.poll() is None, f"the app exited:\n{self.output()}"
        try:
            return json.loads(self.state_file.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return {}

    def wait(self, predicate, what: str, timeout: float = 20.0) -> dict:
        found = {}

        def check():
            s = self.state()
            if s and predicate(s):
                found.update(s)
                return True
            return False
        assert wait_until(check, timeout), f"the app never showed {what}; last state {self.state()}\n{self.output()}"
        return found

    def wait_screen(self, screen: str, timeout: float = 20.0) -> dict:
        return self.wait(lambda s: s.get("screen") == screen and s.get("settled"), f"screen {screen}", timeout)

    def tap(self, key: str) -> None:
        text = tr(key, self.lang)
        state = self.wait(lambda s: s.get("settled") and any(text in b["text"].split("\n") for b in s["buttons"]),
                          f"a button {text!r}")
        button = next(b for b in state["buttons"] if text in b["text"].split("\n"))
        self.pointer.click(button["x"], button["y"])

    def output(self) -> str:
        return app_output(self.log)

    def stop(self) -> None:
        stop_app(self.proc, self.log)
        self.pointer.close()


@pytest.fixture
def post(tmp_path, broker):
    with screening_post(tmp_path, broker) as p:
        yield p


@pytest.fixture
def app(tmp_path, broker, post):
    running = PostApp(tmp_path, broker.url)
    try:
        running.wait_screen("scan", APP_START_S)
        running.wait(lambda s: s.get("link"), "a connection to the broker", APP_START_S)
        time.sleep(0.5)  # scans are QoS 0 and not retained: its SUBACK is not awaited
        yield running
    finally:
        running.stop()


def scan(post, code: str) -> None:
    message = DeviceReadingMessage(device=SCANNER, kind="scanner", ts=post.controller.clock.now(), code=code)
    post.app.publish(post.controller.topics.device_reading(SCANNER), message, qos=0)


def test_staff_screen_a_feverish_patient_to_the_box_and_see_the_doctor_informed(post, app):
    appt = post.booking(doctor_id="d-therapist-1")
    set_patient(post.thermometer, celsius=38.25)
    set_patient(post.oximeter, spo2=96, pulse=90)
    scan(post, appt.booking)
    shown = app.wait_screen("post")
    assert shown["patient_line"].startswith("Тестова А.") and appt.booking in shown["patient_line"]
    assert "Анна" not in json.dumps(shown, ensure_ascii=False)
    app.wait(lambda s: s["live"][:2] == [str(as_reported(38.25)), "96"], "live temperature and SpO2")

    app.tap("forehead")
    app.wait(lambda s: s["captures"].get("forehead") == "38.25 °C", "the forehead captured")
    app.tap("neck")
    app.wait(lambda s: s["captures"].get("neck") == "38.25 °C", "the neck captured")
    app.tap("oximetry")
    app.wait(lambda s: s["captures"].get("oximetry") == "96 % · 90", "the oximetry captured")
    assert app.state()["suggested"] == "box"

    app.tap("decision_box")
    done = app.wait_screen("done")
    assert done["outcome_detail"] == "Doctor Петрова А. С. informed" and not done["outcome_failure"]
    event = post.wait_event("screening.completed", lambda e: e.data["booking"] == appt.booking)
    assert [o["value"] for o in event.data["observations"]] == [38.25, 38.25, 96, 90]
    assert post.wait_event("routing.box").data == {"booking": appt.booking, "doctor_id": "d-therapist-1"}
    assert wait_until(lambda: post.core.notifications(), 10)

    app.tap("next_patient")
    clean = app.wait_screen("scan")
    assert clean["captures"] == {} and clean["patient_line"] == "" and not clean["box_flag"]
    assert clean["today"] == tr("today", "en", screened=1, box=1, refer=0)


def test_unknown_booking_says_so_and_the_patient_is_screened_without_one(post, app):
    scan(post, "BK-NOSUCH")
    app.wait(lambda s: s.get("scan_error") == tr("not_found", "en"), "booking not found")
    app.tap("no_booking")
    shown = app.wait_screen("post")
    assert shown["patient_line"] == tr("walk_in", "en")
    set_patient(post.oximeter, finger_out=True)
    app.tap("oximetry")
    app.wait(lambda s: s["captures"].get("oximetry") == tr("err_no_reading", "en"), "no reading shown")
    app.tap("cancel")
    app.wait_screen("scan")
