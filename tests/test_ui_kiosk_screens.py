"""Every kiosk screen in Russian, Chinese and English, rendered by the real app under the test
display and saved to build/screenshots/kiosk_<screen>_<lang>.png for people to look at."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from PIL import Image, ImageStat

from tests.conftest import ROOT, SCREENSHOTS

SCREENS = ["welcome", "welcome_offline", "code", "phone", "birth", "busy", "confirm", "representative", "services",
           "result_doctor", "result_registration", "result_box", "result_ticket", "error_not_found",
           "error_too_early", "error_too_late", "error_cancelled", "error_other_site", "error_no_answer",
           "sameday", "slots", "sameday_booked", "feedback", "thanks"]
TOP_BAR_PX = 100  # the blue bar; the screen's own content is below it


def kivy_env() -> dict:
    assert os.environ.get("DISPLAY"), "no X display: run the tests with scripts/test.sh (xvfb-run)"
    env = dict(os.environ, KIVY_NO_ARGS="1", KIVY_NO_CONSOLELOG="1", KIVY_LOG_MODE="PYTHON")
    env.setdefault("KIVY_HOME", str(ROOT / "build" / "kivy-home"))  # Kivy writes its config.ini there
    return env


@pytest.fixture(scope="module", params=["ru", "zh", "en"])
def tour(request):
    lang = request.param
    for old in SCREENSHOTS.glob(f"kiosk_*_{lang}.png"):
        old.unlink()
    run = subprocess.run([sys.executable, "-m", "ui.kiosk_app", "--tour", str(SCREENSHOTS), "--lang", lang],
                         cwd=ROOT, env=kivy_env(), capture_output=True, text=True, timeout=80)
    assert run.returncode == 0, run.stderr[-3000:]
    return lang


def test_every_screen_is_saved_in_every_language(tour):
    made = sorted(p.name for p in SCREENSHOTS.glob(f"kiosk_*_{tour}.png"))
    assert made == sorted(f"kiosk_{screen}_{tour}.png" for screen in SCREENS)


def test_no_screenshot_is_blank(tour):
    for screen in SCREENS:
        path = SCREENSHOTS / f"kiosk_{screen}_{tour}.png"
        assert path.stat().st_size > 8_000, path.name
        image = Image.open(path).convert("L")
        assert image.size == (1280, 1024), path.name
        content = image.crop((0, TOP_BAR_PX, image.width, image.height))
        # text on white: a blank, black or single-colour frame has (almost) no variance
        assert ImageStat.Stat(content).stddev[0] > 8, f"{path.name} looks blank"
        assert content.getextrema()[0] < 60, f"{path.name} has no dark text"


def test_each_screen_shows_something_different(tour):
    seen = {}
    for screen in SCREENS:
        pixels = Image.open(SCREENSHOTS / f"kiosk_{screen}_{tour}.png").convert("RGB").tobytes()
        assert pixels not in seen, f"{screen} looks exactly like {seen.get(pixels)}"
        seen[pixels] = screen


def test_the_body_is_dark_text_on_white(tour):
    """High contrast: the background of every screen is white and the text near-black or dark blue."""
    for screen in SCREENS:
        image = Image.open(SCREENSHOTS / f"kiosk_{screen}_{tour}.png").convert("RGB")
        colours = image.crop((0, TOP_BAR_PX, image.width, image.height)).getcolors(maxcolors=1 << 20)
        white = sum(n for n, rgb in colours if min(rgb) >= 250)
        assert white > 0.4 * (image.width * (image.height - TOP_BAR_PX)), f"{screen}: not on white"
        mid_grey = sum(n for n, (r, g, b) in colours if 90 < r < 200 and abs(r - g) < 12 and abs(g - b) < 12)
        assert mid_grey < 0.02 * image.width * image.height, f"{screen}: grey text or grey fills"
