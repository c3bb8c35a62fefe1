"""Voice: one WAV per language from `vestibule voice` (measured with sox), the number rules per
language, and calls through the controller: queued, never overlapping, a repeat within 10 s not
announced again, and rooms a board's machine speaks left silent at the node."""
from __future__ import annotations

import itertools
import subprocess
import sys
import time
from pathlib import Path

import pytest

from foundation.config import ConfigError
from kiosk.app import build_controller
from kiosk.features.calls.voice import phrase, zh_number
from mqtt.client import MqttClient
from tests.conftest import ROOT, make_config
from tests.kiosk_env import wait_until

SINK = ROOT / "tests" / "support" / "paced_sink.py"
CHIME_S = 0.85 + 0.35  # the chime and the pause after it


def sox_seconds(wav: Path) -> float:
    return float(subprocess.run(["soxi", "-D", str(wav)], capture_output=True, text=True, check=True).stdout)


def sox_rms(wav: Path, start: float, length: float | None = None) -> float:
    trim = ["trim", str(start)] + ([str(length)] if length else [])
    out = subprocess.run(["sox", str(wav), "-n", *trim, "stat"], capture_output=True, text=True, check=True).stderr
    return float(next(line for line in out.splitlines() if line.startswith("RMS     amplitude")).split(":")[1])


@pytest.mark.parametrize("lang, low, high", [("ru", 3.0, 8.0), ("zh", 3.5, 10.0), ("en", 3.0, 8.0)])
def test_voice_command_writes_a_chime_then_audible_speech_per_language(tmp_path, lang, low, high):
    out = tmp_path / f"call-{lang}.wav"
    done = subprocess.run([sys.executable, "-m", "kiosk.cli", "voice", "--lang", lang, "--ticket", "A023",
                           "--room", "12", "--out", str(out)], cwd=ROOT, capture_output=True, text=True,
                          env={"XDG_CACHE_HOME": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"}, check=False)
    assert done.returncode == 0, done.stderr
    assert low <= sox_seconds(out) <= high
    assert sox_rms(out, 0, 0.8) > 0.05  # the chime
    assert sox_rms(out, CHIME_S) > 0.02  # the speech is not silence
    assert list((tmp_path / "cache" / "vestibule" / "voice").glob(f"{lang}-*.wav"))  # the phrase is cached


def test_all_languages_make_one_longer_announcement_and_a_bad_ticket_is_refused(tmp_path):
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"}
    single = tmp_path / "ru.wav"
    both = tmp_path / "all.wav"
    run = [sys.executable, "-m", "kiosk.cli", "voice", "--ticket", "R007", "--room", "1"]
    assert subprocess.run([*run, "--lang", "ru", "--out", str(single)], cwd=ROOT, env=env, check=False).returncode == 0
    assert subprocess.run([*run, "--out", str(both)], cwd=ROOT, env=env, check=False).returncode == 0
    assert sox_seconds(both) > 2 * sox_seconds(single)
    bad = subprocess.run([sys.executable, "-m", "kiosk.cli", "voice", "--ticket", "Иванов", "--room", "1",
                          "--out", str(tmp_path / "x.wav")], cwd=ROOT, env=env, capture_output=True, text=True,
                         check=False)
    assert bad.returncode == 2 and "letter and three digits" in bad.stderr


def test_numbers_are_said_the_way_each_language_says_them():
    assert phrase("ru", "A023", "12") == "Талон А 23, кабинет 12"
    assert phrase("ru", "C105", "2") == "Талон Эс 105, кабинет 2"
    assert phrase("zh", "A023", "12") == "请 A 零二三 号到 十二 号诊室"
    assert phrase("en", "A023", "12") == "Ticket A 0 2 3, room 12"
    assert phrase("en", "L001", "Box 3") == "Ticket L 0 0 1, room Box 3"
    assert [zh_number(n) for n in (7, 10, 12, 20, 105, 110, 1001)] == \
        ["七", "十", "十二", "二十", "一百零五", "一百一十", "一千零一"]


@pytest.fixture
def node(tmp_path, broker):
    sink_log = tmp_path / "sink.log"
    config = make_config(tmp_path, broker.url,
                         voice={"languages": ["en"], "player": f"{sys.executable} {SINK} {sink_log} {{wav}}"},
                         boards={"tv-lab": {"rooms": ["5"], "voice": True}})
    controller = build_controller(config)
    controller.start()
    core = MqttClient("127.0.0.1", broker.port, "core-test", role="core")
    core.start()
    assert core.wait_connected(15) and controller.client.wait_connected(15)
    yield controller, core, sink_log
    core.stop()
    controller.stop()


def sink_lines(log: Path) -> list[list[str]]:
    return [line.split() for line in log.read_text().splitlines()] if log.exists() else []


def call(core, controller, call_id: str, ticket: str, room: str) -> None:
    core.publish(controller.topics.core_cmd_call, {"call_id": call_id, "ticket": ticket, "room": room})


def played(log: Path) -> list[tuple[str, float, float]]:
    """(file stem, start, end) of each WAV the sink took, in order."""
    out, open_at = [], {}
    for line in sink_lines(log):
        if line[0] == "start":
            open_at[line[2]] = len(out)
            out.append((Path(line[2]).stem, float(line[1]), float("inf")))
        else:
            n = open_at.pop(line[2])
            out[n] = (out[n][0], out[n][1], float(line[1]))
    return out


def test_two_quick_calls_play_one_after_the_other(node):
    controller, core, log = node
    call(core, controller, "c-1", "R001", "1")
    call(core, controller, "c-2", "C001", "2")
    wait_until(lambda: len([x for x in sink_lines(log) if x[0] == "end"]) == 4, timeout=40, what="two played")
    plays = played(log)
    assert [stem for stem, _, _ in plays] == ["chime", "c-1", "chime", "c-2"]  # each: the chime, then its phrase
    for (_, _, ended), (_, started, _) in itertools.pairwise(plays):
        assert started >= ended  # nothing overlaps: each waits for the one before to finish


def test_a_repeat_within_ten_seconds_is_shown_but_not_announced_again(node):
    controller, core, log = node
    call(core, controller, "c-1", "R002", "1")
    call(core, controller, "c-2", "R002", "1")  # the core sent it again at once
    wait_until(lambda: len([x for x in sink_lines(log) if x[0] == "end"]) == 2, timeout=30, what="first played")
    time.sleep(1.0)  # a second announcement would have started by now (its chime is cached)
    assert [stem for stem, _, _ in played(log)] == ["chime", "c-1"]
    assert [p.call_id for p in controller.feature("calls").handler.announcer.history] == ["c-1"]


def test_rooms_a_board_machine_speaks_are_not_announced_by_the_node(node):
    controller, core, log = node
    call(core, controller, "c-lab", "L001", "5")  # tv-lab has voice = true for room 5
    call(core, controller, "c-reg", "R003", "1")
    wait_until(lambda: len([x for x in sink_lines(log) if x[0] == "end"]) == 2, timeout=30, what="room 1 played")
    time.sleep(0.5)
    assert [p.call_id for p in controller.feature("calls").handler.announcer.history] == ["c-reg"]
    assert [stem for stem, _, _ in played(log)] == ["chime", "c-reg"]


def test_two_boards_speaking_one_room_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="announced twice"):
        make_config(tmp_path, "mqtt://127.0.0.1:1883",
                    boards={"tv-1": {"rooms": ["12"], "voice": True}, "tv-2": {"rooms": ["12", "14"], "voice": True}})


def test_phrases_render_at_low_cpu_priority_so_a_call_s_screens_come_first(tmp_path, monkeypatch):
    from kiosk.features.calls.voice import RENDER_NICE, Voice
    real = subprocess.run(["sh", "-c", "command -v espeak-ng"], capture_output=True, text=True).stdout.strip()
    assert real, "espeak-ng is installed by the test command"
    seen = tmp_path / "nice.log"
    wrapper = tmp_path / "bin" / "espeak-ng"
    wrapper.parent.mkdir()
    # the renderer's priority is set right after it starts: look a moment later, then render for real
    wrapper.write_text(f"#!/bin/sh\nsleep 0.3\nps -o ni= -p $$ >> {seen}\nexec {real} \"$@\"\n")
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{wrapper.parent}:/usr/bin:/bin")
    voice = Voice(tmp_path / "voice", languages=["en"])
    clip = voice.clip("en", "Ticket A 0 2 3, room 12")
    assert clip.stat().st_size > 1000
    assert [int(x) for x in seen.read_text().split()] == [RENDER_NICE]
