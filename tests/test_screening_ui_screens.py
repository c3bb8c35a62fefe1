"""Every screen of the screening post app in Russian, Chinese and English, rendered by the real app
under the test display, checked by the layout oracle while it is up (widget tree: nothing outside
the window, no overlapping siblings, text fits, targets >= 15 mm at the panel's 149 dpi, contrast
>= 4.5:1), and saved to build/screenshots/screening_<screen>_<lang>.png for people to look at."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from PIL import Image, ImageStat

from tests.conftest import ROOT, SCREENSHOTS
from tests.test_ui_kiosk_screens import kivy_env
from ui.screening_tour import SCREENS


@pytest.fixture(scope="module", params=["ru", "zh", "en"])
def tour(request, tmp_path_factory):
    lang = request.param
    for old in SCREENSHOTS.glob(f"screening_*_{lang}.png"):
        old.unlink()
    result = tmp_path_factory.mktemp("screening-tour") / "layout.json"
    run = subprocess.run([sys.executable, "-m", "tests.support.screening_tour_check", str(SCREENSHOTS), lang,
                          str(result)], cwd=ROOT, env=kivy_env(), capture_output=True, text=True, timeout=120,
                         check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    return lang, json.loads(result.read_text(encoding="utf-8"))


def test_every_screen_is_saved_in_every_language(tour):
    lang, _ = tour
    made = sorted(p.name for p in SCREENSHOTS.glob(f"screening_*_{lang}.png"))
    assert made == sorted(f"screening_{screen}_{lang}.png" for screen in SCREENS)


def test_every_screen_passes_the_layout_oracle(tour):
    _, problems = tour
    assert sorted(problems) == sorted(SCREENS), "a screen was not checked"
    bad = {screen: found for screen, found in problems.items() if found}
    assert not bad, json.dumps(bad, ensure_ascii=False, indent=1)


def test_no_screen_is_blank_and_each_is_different(tour):
    lang, _ = tour
    seen = {}
    for screen in SCREENS:
        image = Image.open(SCREENSHOTS / f"screening_{screen}_{lang}.png").convert("RGB")
        assert image.size == (1280, 800)
        grey = image.convert("L")
        assert ImageStat.Stat(grey).stddev[0] > 8 and grey.getextrema()[0] < 60, f"{screen} looks blank"
        pixels = image.tobytes()
        assert pixels not in seen, f"{screen} looks exactly like {seen.get(pixels)}"
        seen[pixels] = screen


def test_box_flag_is_a_large_red_block_only_for_a_flagged_booking(tour):
    lang, _ = tour

    def red_share(screen):
        image = Image.open(SCREENSHOTS / f"screening_{screen}_{lang}.png").convert("RGB")
        top = image.crop((0, 0, image.width, 120))
        colours = top.getcolors(maxcolors=1 << 20)
        red = sum(n for n, (r, g, b) in colours if r > 140 and g < 30 and b < 30)
        return red / (top.width * top.height)
    assert red_share("post_flagged") > 0.12
    assert red_share("post_captured") < 0.01
