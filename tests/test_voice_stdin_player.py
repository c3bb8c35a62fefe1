"""A player that reads the WAV on standard input (`aplay -q -`, the default) is started ahead and
waits: a call's sound starts with a write, the chime first and the phrase after it in one stream;
calls still never overlap, a waiting player that died is replaced, and stopping ends it silently."""
from __future__ import annotations

import array
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from kiosk.app import build_controller
from kiosk.features.calls.announcer import STREAM_OPEN_LENGTH
from mqtt.client import MqttClient
from tests.conftest import ROOT, make_config
from tests.kiosk_env import wait_until

SINK = ROOT / "tests" / "support" / "paced_sink.py"
RATE = 22050
CHIME_S = 0.85 + 0.35  # the chime and the pause after it


def lines(log: Path, kind: str | None = None) -> list[list[str]]:
    found = [line.split() for line in log.read_text().splitlines()] if log.exists() else []
    return [x for x in found if kind is None or x[0] == kind]


def rms(samples: array.array) -> float:
    return (sum(s * s for s in samples) / max(1, len(samples))) ** 0.5 / 32768


@pytest.fixture
def node(tmp_path, broker):
    log, saved = tmp_path / "sink.log", tmp_path / "streams"
    saved.mkdir()
    config = make_config(tmp_path, broker.url,
                         voice={"languages": ["en"], "player": f"{sys.executable} {SINK} {log} - {saved}"})
    controller = build_controller(config)
    controller.start()
    core = MqttClient("127.0.0.1", broker.port, "core-test", role="core")
    core.start()
    assert core.wait_connected(15) and controller.client.wait_connected(15)
    yield controller, core, log, saved
    core.stop()
    controller.stop()


def call(core, controller, call_id: str, ticket: str, room: str) -> None:
    core.publish(controller.topics.core_cmd_call, {"call_id": call_id, "ticket": ticket, "room": room})


def test_a_waiting_player_gets_the_chime_then_the_phrase_in_one_stream_and_calls_never_overlap(node):
    controller, core, log, saved = node
    wait_until(lambda: lines(log, "ready"), timeout=15, what="a player started ahead, before any call")
    called_at = time.time()
    call(core, controller, "c-1", "R001", "1")
    call(core, controller, "c-2", "C001", "2")
    wait_until(lambda: len(lines(log, "end")) == 2, timeout=40, what="two announcements played")
    ready = {x[2]: float(x[1]) for x in lines(log, "ready")}
    starts = [(x[2], float(x[1])) for x in lines(log, "start")]
    ends = [float(x[1]) for x in lines(log, "end")]
    assert ready[starts[0][0]] < called_at  # the first call's player was waiting before the call
    assert starts[1][1] >= ends[0]  # the second starts once the first has finished
    for name, _ in starts:
        stream = (saved / f"{name}.wav").read_bytes()
        assert stream[:4] == b"RIFF" and stream[8:16] == b"WAVEfmt "
        assert int.from_bytes(stream[40:44], "little") == STREAM_OPEN_LENGTH  # length open: read to the end
        samples = array.array("h", stream[44:])
        assert CHIME_S + 1.0 < len(samples) / RATE < CHIME_S + 8.0
        assert rms(samples[:int(0.8 * RATE)]) > 0.05  # the chime comes first
        assert rms(samples[int(CHIME_S * RATE):]) > 0.02  # then speech, not silence


def test_a_waiting_player_that_died_is_replaced_at_the_next_call(node):
    controller, core, log, _ = node
    wait_until(lambda: lines(log, "ready"), timeout=15, what="a waiting player")
    first = lines(log, "ready")[0]
    os.kill(int(first[3]), signal.SIGKILL)
    time.sleep(0.3)
    call(core, controller, "c-1", "R002", "1")
    wait_until(lambda: lines(log, "end"), timeout=30, what="the call played all the same")
    assert lines(log, "start")[0][2] != first[2]


def test_stopping_the_controller_ends_the_waiting_player_without_a_sound(node):
    controller, _, log, _ = node
    wait_until(lambda: lines(log, "ready"), timeout=15, what="a waiting player")
    pid = int(lines(log, "ready")[0][3])
    controller.stop()
    wait_until(lambda: lines(log, "empty"), timeout=10, what="the waiting player ended")
    assert not lines(log, "start")
    with pytest.raises(ProcessLookupError):
        for _ in range(50):
            os.kill(pid, 0)
            time.sleep(0.05)
