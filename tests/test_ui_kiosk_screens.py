"""Every kiosk screen in Russian, Chinese and English, landscape 1920×1080 and portrait 1080×1920,
rendered by the real app on its own test display, checked by the layout oracle on the live widget
tree (tests/support/layout_oracle.py) and saved to
build/screenshots/kiosk_<screen>_<lang>_<orientation>.png for people to look at."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from PIL import Image, ImageStat

from tests.conftest import ROOT, SCREENSHOTS

SCREENS = ["welcome", "welcome_offline", "welcome_paper_out", "code", "code_empty", "code_idle", "phone", "birth",
           "birth_invalid", "busy", "confirm", "representative", "services", "services_waits", "result_doctor",
           "result_registration", "result_box", "result_ticket", "error_not_found", "error_too_early",
           "error_too_late", "error_cancelled", "error_other_site", "error_no_answer", "sameday", "slots",
           "sameday_confirm", "sameday_booked", "rate", "feedback", "callback", "thanks", "welcome_access",
           "code_access", "services_access", "result_access", "error_access", "idle_access"]
SIZES = {"landscape": (1920, 1080), "portrait": (1080, 1920)}
BAR_PX = 100  # the top bar; the screen's own content is below it


def kivy_env() -> dict:
    assert os.environ.get("DISPLAY"), "no X display: run the tests with scripts/test.sh (xvfb-run)"
    env = dict(os.environ, KIVY_NO_ARGS="1", KIVY_NO_CONSOLELOG="1", KIVY_LOG_MODE="PYTHON")
    env.setdefault("KIVY_HOME", str(ROOT / "build" / "kivy-home"))  # Kivy writes its config.ini there
    os.makedirs(env["KIVY_HOME"], exist_ok=True)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return env


@pytest.fixture(scope="module", params=[(lang, o) for lang in ("ru", "zh", "en") for o in SIZES])
def tour(request, tmp_path_factory):
    """One tour per language and orientation, on a display large enough for a portrait window."""
    lang, orientation = request.param
    assert shutil.which("xvfb-run"), "xvfb-run is needed for a display of 1920×1920"
    for old in SCREENSHOTS.glob(f"kiosk_*_{lang}_{orientation}.png"):
        old.unlink()
    width, height = SIZES[orientation]
    report = tmp_path_factory.mktemp("tour") / "oracle.json"
    run = subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1920x1920x24", sys.executable, "-m",
                          "tests.support.kiosk_tour", str(SCREENSHOTS), lang, f"{width}x{height}", str(report)],
                         cwd=ROOT, env=kivy_env(), capture_output=True, text=True, timeout=240, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    return lang, orientation, json.loads(report.read_text(encoding="utf-8"))


def shot(lang: str, orientation: str, screen: str):
    return SCREENSHOTS / f"kiosk_{screen}_{lang}_{orientation}.png"


def test_every_screen_is_saved_in_every_language_and_orientation(tour):
    lang, orientation, _ = tour
    made = sorted(p.name for p in SCREENSHOTS.glob(f"kiosk_*_{lang}_{orientation}.png"))
    assert made == sorted(shot(lang, orientation, s).name for s in SCREENS)


def test_the_layout_oracle_finds_nothing_wrong_on_any_screen(tour):
    """Nothing outside the window or hidden behind a scroll, no overlaps, no text spilling out of
    its box, every touch target at least 15 mm, every text at least 5 mm and at 4.5:1 contrast."""
    _lang, _orientation, report = tour
    assert sorted(report["problems"]) == sorted(SCREENS)
    problems = [f"{screen}: {p}" for screen, found in report["problems"].items() for p in found]
    assert not problems, "\n".join(problems)


def test_the_code_keys_stay_put_whether_the_field_is_empty_or_full(tour):
    """Fault 1: an empty field shrank to a line and the keys jumped under the finger."""
    _lang, _orientation, report = tour
    where = report["keypad"]
    assert {"code", "code_empty", "code_idle"} <= set(where)
    assert where["code_empty"] == where["code"] == where["code_idle"], where


def test_no_screenshot_is_blank(tour):
    lang, orientation, _ = tour
    for screen in SCREENS:
        path = shot(lang, orientation, screen)
        image = Image.open(path).convert("L")
        assert image.size == SIZES[orientation], path.name
        content = image.crop((0, BAR_PX, image.width, image.height))
        assert ImageStat.Stat(content).stddev[0] > 8, f"{path.name} looks blank"


def test_each_screen_shows_something_different(tour):
    lang, orientation, _ = tour
    seen = {}
    for screen in SCREENS:
        pixels = Image.open(shot(lang, orientation, screen)).convert("RGB").tobytes()
        assert pixels not in seen, f"{screen} looks exactly like {seen.get(pixels)}"
        seen[pixels] = screen
