"""Screenshots of the TV board in both orientations and the three languages, each checked by the
layout oracle (tests/support/layout_oracle.py) in the board's own process: nothing outside the
window, no overlapping siblings, no text wider than its box, contrast, and text big enough to
read across a waiting room. PNGs: build/screenshots/board_<orientation>_<lang>.png."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from PIL import Image, ImageStat

from tests.board_rig import board_config, call
from tests.conftest import ROOT, SCREENSHOTS
from tests.kiosk_env import kiosk_env, wait_until
from tests.test_ui_kiosk_screens import kivy_env

SIZES = {"landscape": (1920, 1080), "portrait": (1080, 1920)}


@pytest.fixture(scope="module")
def waiting_room(tmp_path_factory):
    """A morning's queues: tickets issued and called minutes apart, so the lab and the cashier
    have estimates, registration has waiting tickets and none yet, and the board has 8 calls."""
    from mqtt.broker import Broker
    tmp = tmp_path_factory.mktemp("board-screens")
    (tmp / "broker").mkdir()
    broker = Broker(workdir=str(tmp / "broker"))
    broker.start()
    try:
        with kiosk_env(tmp, broker) as env:
            for service in ("lab", "cashier"):
                for _ in range(4):
                    env.ok("ticket", {"service": service, "lang": "ru"})
                    env.clock.advance(minutes=3)
            for _ in range(3):
                env.ok("ticket", {"service": "registration", "lang": "ru"})
            for n, (ticket, room) in enumerate([("L001", "5"), ("C001", "2"), ("L002", "5"), ("C002", "2"),
                                                ("L003", "5"), ("C003", "2"), ("R001", "1"), ("L004", "5")]):
                env.clock.advance(minutes=4)
                call(env, f"c-{n}", ticket, room)
                wait_until(lambda n=n: len(env.controller.feature("calls").handler.recent) == n + 1, what=f"call {n + 1} handled")
            yield tmp, broker
    finally:
        broker.cleanup()


def shoot(tmp, broker, orientation: str, lang: str, name: str, board: str | None = None) -> dict:
    """The board in its own process until settled: the oracle's report; the PNG checked not blank."""
    config = board_config(tmp, broker.url)
    png = SCREENSHOTS / f"{name}.png"
    png.unlink(missing_ok=True)
    report = tmp / f"report-{name}.json"
    width, height = SIZES[orientation]
    run = subprocess.run([sys.executable, "-m", "tests.support.board_check", str(config),
                          board or ("tv-all" if orientation == "portrait" else "tv-1"), lang, f"{width}x{height}", str(png),
                          str(report)], cwd=ROOT, env=kivy_env(), capture_output=True, text=True, timeout=90,
                         check=False)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    result = json.loads(report.read_text(encoding="utf-8"))
    assert result["size"] == [width, height]
    # multisampling made each frame 2.5-4x slower to swap under software GL: calls waited on it
    assert result["gl_samples"] == 0, "the window was opened with multisampling"
    assert not result["problems"], "\n".join(result["problems"])
    image = Image.open(png).convert("L")
    assert image.size == (width, height)
    assert ImageStat.Stat(image).stddev[0] > 20, f"{png.name} looks blank"
    return result


@pytest.mark.parametrize("orientation", ["landscape", "portrait"])
@pytest.mark.parametrize("lang", ["ru", "zh", "en"])
def test_board_screens_pass_the_layout_oracle(waiting_room, orientation, lang):
    tmp, broker = waiting_room
    result = shoot(tmp, broker, orientation, lang, f"board_{orientation}_{lang}")
    assert result["online"]
    assert "L004 → 5" in result["texts"] and not any("не на связи" in t or "offline" in t for t in result["texts"])


@pytest.mark.parametrize("orientation", ["landscape", "portrait"])
def test_two_languages_side_by_side_fit_the_layout(waiting_room, orientation):
    tmp, broker = waiting_room
    result = shoot(tmp, broker, orientation, "board", f"board_side_by_side_{orientation}", board="tv-both")
    assert "Приглашается / Now calling" in result["texts"]
    assert "Кабинет 5, 1 этаж / Room 5, floor 1" in result["texts"]


@pytest.mark.parametrize("orientation, lang", [("landscape", "ru"), ("portrait", "en")])
def test_the_offline_screen_passes_the_layout_oracle(tmp_path, broker, orientation, lang):
    with kiosk_env(tmp_path, broker) as env:
        call(env, "c-1", "L001", "5")
        wait_until(lambda: env.controller.feature("calls").handler.recent, what="call handled")
        env.controller.stop()  # the node says it is offline (its last will in a crash)
        env.controller = None
        result = shoot(tmp_path, broker, orientation, lang, f"board_offline_{orientation}_{lang}")
    assert not result["online"]
    offline = {"ru": "Табло не на связи", "en": "Board offline"}[lang]
    assert offline in result["texts"] and "L001 → 5" not in result["texts"]
