"""The TV call board end to end: its own process and window under Xvfb, the real controller,
the stand-in core and a real Mosquitto. Calls appear; it rebuilds after a broker restart and
after its own restart; it says it is offline when the node stops; no name is ever rendered."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.board_rig import BOARD_START_S, BoardProcess, board_config, call
from tests.conftest import ROOT
from tests.kiosk_env import kiosk_env, wait_until

SINK = ROOT / "tests" / "support" / "paced_sink.py"


@pytest.fixture
def env(tmp_path, broker):
    with kiosk_env(tmp_path, broker) as e:
        yield e


@pytest.fixture
def start_board(tmp_path, broker, env):
    started = []
    config = board_config(tmp_path, broker.url)

    def start(board: str = "tv-1", **kwargs) -> BoardProcess:
        app = BoardProcess(tmp_path, config, board, name=f"board{len(started)}", **kwargs)
        started.append(app)
        app.wait(lambda s: s.get("online") and not s.get("rebuilding"), "online and rebuilt", BOARD_START_S)
        return app
    yield start
    for app in started:
        app.stop()


def test_calls_appear_newest_highlighted_with_the_queues_waiting_counts(env, start_board):
    board = start_board(lang="en")
    for _ in range(3):
        env.ok("ticket", {"service": "lab", "lang": "en"})
    env.ok("ticket", {"service": "cashier", "lang": "en"})
    call(env, "c-1", "L001", "5")
    shown = board.wait(lambda s: s["newest"] == "L001", "L001 called")
    assert shown["highlighted"] and shown["newest_room"] == "5"
    assert "L001 → 5" in shown["texts"] and "Room 5, floor 1" in shown["texts"]
    call(env, "c-2", "C001", "2")
    call(env, "c-3", "R001", "14")  # a room this board does not serve
    shown = board.wait(lambda s: s["newest"] == "C001" and s["calls"] == ["L001"], "C001 then L001")
    # the queue state is its own message, published after the board's: wait for both calls in it
    queues = {name: (waiting, wait) for name, waiting, wait in board.wait(
        lambda s: {q[0]: q[1] for q in s["queues"]}.get("Laboratory · room 5") == "2"
        and {q[0]: q[1] for q in s["queues"]}.get("Cashier · room 2") == "0", "both queues")["queues"]}
    assert queues["Laboratory · room 5"] == ("2", "—") and queues["Cashier · room 2"] == ("0", "—")
    assert all("R001" not in t for t in board.state()["all_texts"])
    board.wait(lambda s: not s["highlighted"], "highlight ends", timeout=15)


def test_the_board_rebuilds_after_a_broker_restart_and_after_its_own_restart(env, broker, start_board):
    board = start_board(lang="ru")
    env.ok("ticket", {"service": "registration", "lang": "ru"})
    call(env, "c-1", "R001", "1")
    board.wait(lambda s: s["newest"] == "R001", "R001")
    broker.restart()
    board.wait(lambda s: not s["online"], "offline while the broker is away")
    board.wait(lambda s: s["online"] and s["newest"] == "R001" and not s["highlighted"], "rebuilt after restart",
               timeout=40)
    assert "Кабинет 1, 1 этаж" in board.state()["texts"]
    wait_until(lambda: env.controller.client.connected.is_set(), what="controller back")
    wait_until(lambda: env.core.client.connected.is_set(), what="core back")
    call(env, "c-2", "C001", "2")
    board.wait(lambda s: s["newest"] == "C001" and s["calls"] == ["R001"], "a call after the restart")

    board.stop()
    again = start_board(lang="ru")
    shown = again.wait(lambda s: s["newest"] == "C001", "rebuilt at its start")
    assert shown["calls"] == ["R001"] and not shown["highlighted"]
    assert any(q[0].startswith("Регистратура") for q in shown["queues"])


def test_a_call_right_after_the_board_connects_is_news_once_the_retained_state_is_in(env, broker, tmp_path):
    call(env, "c-1", "R001", "1")
    env.wait_events("call.displayed", predicate=lambda e: e.data["call_id"] == "c-1")
    board = BoardProcess(tmp_path, board_config(tmp_path, broker.url), "tv-1", name="late", lang="en")
    try:
        board.wait(lambda s: s.get("link"), "connected", BOARD_START_S)
        call(env, "c-2", "C001", "2")  # well within the old fixed 1.5 s rebuild window
        shown = board.wait(lambda s: s["newest"] == "C001", "C001")
        assert shown["highlighted"] and shown["calls"] == ["R001"]  # R001 was history, C001 is news
    finally:
        board.stop()


def test_the_board_shows_its_offline_state_when_the_node_stops(env, start_board):
    board = start_board(lang="zh")
    call(env, "c-1", "L001", "5")
    board.wait(lambda s: s["newest"] == "L001", "L001")
    env.controller.stop()
    env.controller = None
    shown = board.wait(lambda s: not s["online"], "offline")
    assert "叫号屏已离线" in shown["texts"] and "L001 → 5" not in shown["texts"]  # no stale call on screen
    assert "L001 → 5" in shown["all_texts"]  # kept, hidden, for when the node is back


def test_no_name_of_a_patient_or_doctor_is_ever_rendered(env, start_board):
    board = start_board("tv-all", lang="ru", size="1080x1920")
    names = set()
    booked = env.booking(minutes=5)
    for appointment in env.core.appointments():
        names.add(appointment.full_name)
        names.update(part for part in appointment.full_name.split() if len(part) > 3)  # a surname alone
        names.add(appointment.doctor_name)
    result = env.ok("checkin", {"by": "code", "code": booked.booking, "lang": "ru"})
    names.update({result["patient"], result["doctor"]})
    call(env, "c-doc", result["ticket"], result["room"])
    shown = board.wait(lambda s: s["newest"] == result["ticket"] and s["queues"], "the doctor's call and queues")
    rendered = "\n".join(shown["all_texts"])  # hidden panels too
    assert result["ticket"] in rendered
    leaked = sorted(n for n in names if n and n in rendered)
    assert not leaked, f"names on the board: {leaked}"


def test_a_board_with_voice_speaks_its_rooms_calls_and_the_node_stays_silent_for_them(tmp_path, broker):
    sink_log = tmp_path / "board-speaker.log"
    voice = {"languages": ["en"], "player": f"{sys.executable} {SINK} {sink_log} {{wav}}"}
    boards = {"tv-lab": {"rooms": ["5"], "voice": True}}
    with kiosk_env(tmp_path, broker, config_overrides={"boards": boards, "voice": voice}) as env:
        board = BoardProcess(tmp_path, board_config(tmp_path, broker.url, boards=boards, voice=voice), "tv-lab",
                             lang="en")
        try:
            board.wait(lambda s: s.get("online") and not s.get("rebuilding"), "online and rebuilt", BOARD_START_S)
            call(env, "c-lab", "L001", "5")
            board.wait(lambda s: s["newest"] == "L001", "L001 shown")
            wait_until(lambda: sink_log.exists() and sink_log.read_text().count("end ") == 2, 30,
                       "the board's machine played the chime and the phrase")
            started = [line.split()[2] for line in sink_log.read_text().splitlines() if line.startswith("start")]
            assert [Path(w).stem for w in started] == ["chime", "c-lab"]
            displayed = env.wait_events("call.displayed", predicate=lambda e: e.data["call_id"] == "c-lab")[0]
            assert displayed.data["announced"] is False  # the node did not speak it too
            assert list(env.controller.feature("calls").handler.announcer.history) == []

            # within 10 s: the same call again is not spoken again, unless the core says `repeat`
            call(env, "c-lab-again", "L001", "5")
            env.wait_events("call.displayed", predicate=lambda e: e.data["call_id"] == "c-lab-again")
            env.core.client.publish(env.core.topics.core_cmd_call,
                                    {"call_id": "c-lab-repeat", "ticket": "L001", "room": "5", "repeat": True})
            wait_until(lambda: sink_log.read_text().count("end ") == 4, 30, "the repeat played")
            started = [line.split()[2] for line in sink_log.read_text().splitlines() if line.startswith("start")]
            assert [Path(w).stem for w in started] == ["chime", "c-lab", "chime", "c-lab-repeat"]
            assert board.state()["calls"] == []  # moved up, not listed twice
        finally:
            board.stop()


def test_malformed_states_are_ignored_with_a_logged_reason_and_the_board_keeps_showing(env, start_board):
    board = start_board(lang="en")
    env.ok("ticket", {"service": "lab", "lang": "en"})
    call(env, "c-1", "L001", "5")
    board.wait(lambda s: s["newest"] == "L001", "L001")
    topics = env.controller.topics
    env.ui.publish(topics.board_state, b'{"ts": "yesterday", "calls": [{"ticket": "Ivanov"}]}', qos=1)
    env.ui.publish(topics.queue_state, b"not json", qos=1)
    call(env, "c-2", "C001", "2")  # a real call after the garbage still arrives
    shown = board.wait(lambda s: s["newest"] == "C001" and s["calls"] == ["L001"], "C001 after the garbage")
    assert all("Ivanov" not in t for t in shown["all_texts"])
    assert "ignoring a malformed BoardState" in board.output()
    assert "ignoring a malformed QueueState" in board.output()
