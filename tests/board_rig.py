"""The TV board as a user runs it: `python -m ui.board_app` in its own process with a window on
the test display, against the kiosk rig's broker, controller and stand-in core. It reports what
it shows in a test-mode state file (texts of the widget tree, newest call, queues, online)."""
from __future__ import annotations

import json
import subprocess
import sys
import time
import tomllib
from pathlib import Path

from kiosk.demo import dump_toml
from tests.support.app_process import app_output, stop_app
from tests.conftest import ROOT
from tests.kiosk_env import wait_until
from tests.support.processes import popen_child
from tests.test_ui_kiosk_screens import kivy_env

BOARD_START_S = 40.0
BOARDS = {
    "tv-1": {"rooms": ["1", "2", "5"], "services": ["registration", "cashier", "lab"]},
    "tv-all": {"orientation": "portrait"},
    "tv-both": {"language_mode": "side_by_side", "languages": ["ru", "en"]},
}


def board_config(tmp_path: Path, broker_url: str, boards: dict = BOARDS, voice: dict | None = None) -> Path:
    """The example config pointed at the test broker, with these TV boards instead of its own."""
    data = tomllib.loads((ROOT / "config" / "example.toml").read_text(encoding="utf-8"))
    data["broker"]["url"] = broker_url
    data["node"]["store"] = str(tmp_path / "board-unused.db")
    data["boards"] = boards
    if voice:
        data["voice"] = {**data.get("voice", {}), **voice}
    path = tmp_path / "board.toml"
    path.write_text(dump_toml(data), encoding="utf-8")
    return path


class BoardProcess:
    def __init__(self, tmp_path: Path, config: Path, board: str = "tv-1", size: str = "1920x1080",
                 lang: str | None = None, name: str = "board"):
        self.state_file = tmp_path / f"{name}-state.json"
        self.state_file.unlink(missing_ok=True)
        (ROOT / "build").mkdir(exist_ok=True)  # Kivy's home (kivy_env) lives there
        self.log = open(tmp_path / f"{name}.log", "w+")  # noqa: SIM115 (closed in stop())
        self.proc = popen_child([sys.executable, "-m", "ui.board_app", "--config", str(config), "--board", board,
                                 "--windowed", "--size", size, *(["--lang", lang] if lang else []),
                                 "--state-file", str(self.state_file)],
                                cwd=ROOT, env=kivy_env(), stdout=self.log, stderr=subprocess.STDOUT)

    def state(self) -> dict:
        assert self.proc.poll() is None, f"the board exited:\n{self.output()}"
        try:
            return json.loads(self.state_file.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return {}

    def wait(self, predicate, what: str, timeout: float = 20.0) -> dict:
        try:
            def shown():
                state = self.state()
                return state if state and predicate(state) else None
            return wait_until(shown, timeout, what)
        except AssertionError:
            raise AssertionError(f"board never showed {what}; last state {self.state()}\n{self.output()}") from None

    def output(self) -> str:
        return app_output(self.log)

    def stop(self) -> None:
        stop_app(self.proc, self.log)


def call(env, call_id: str, ticket: str, room: str) -> float:
    sent = time.time()
    env.core.client.publish(env.core.topics.core_cmd_call, {"call_id": call_id, "ticket": ticket, "room": room})
    return sent
