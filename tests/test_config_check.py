"""`vestibule config check` fails wherever the controller would fail at start, and the controller
itself, given such a file, prints the reason and exits 2: never a traceback. Both run as the
technician and systemd run them, as subprocesses."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.conftest import ROOT

VESTIBULE = [sys.executable, "-m", "kiosk.cli"]
NOBODY = 65534


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{ " + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + " }"


def to_toml(data: dict) -> str:
    out = []
    for section, body in data.items():
        if section == "services":
            for service in body:
                out.append("[[services]]")
                out += [f"{k} = {toml_value(v)}" for k, v in service.items()]
        elif section == "devices":
            for name, device in body.items():
                out.append(f"[devices.{name}]")
                out += [f"{k} = {toml_value(v)}" for k, v in device.items()]
        else:
            out.append(f"[{section}]")
            out += [f"{k} = {toml_value(v)}" for k, v in body.items()]
    return "\n".join(out) + "\n"


def example() -> dict:
    return tomllib.loads((ROOT / "config" / "example.toml").read_text(encoding="utf-8"))


def write_config(directory: Path, data: dict, *, store: str | None = "node.db") -> Path:
    if store is not None:
        data["node"]["store"] = store  # relative: resolved against the file's directory
    path = directory / "node.toml"
    path.write_text(to_toml(data), encoding="utf-8")
    return path


# root reads every file; without these two capabilities it meets file modes as a service user does
AS_SERVICE_USER = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"] if os.geteuid() == 0 else []


def run(*args, unprivileged: bool = False, timeout: float = 60) -> subprocess.CompletedProcess:
    prefix = AS_SERVICE_USER if unprivileged else []
    return subprocess.run(prefix + VESTIBULE + list(args), check=False, capture_output=True, text=True, cwd=ROOT,
                          timeout=timeout, env={**os.environ, "PYTHONPATH": str(ROOT)})


def check_fails(config: Path, *keys_and_words: str, unprivileged: bool = False) -> str:
    result = run("config", "check", str(config), unprivileged=unprivileged)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    for expected in keys_and_words:
        assert expected in result.stderr, (expected, result.stderr)
    return result.stderr


def controller_refuses(config: Path, *words: str, unprivileged: bool = False) -> None:
    result = run("controller", "--config", str(config), unprivileged=unprivileged)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    for expected in words:
        assert expected in result.stderr, (expected, result.stderr)


def with_password(data: dict, password_file: str, username: str | None = "controller") -> dict:
    data["broker"] = {"url": "mqtt://127.0.0.1:1", **({"username": username} if username else {}),
                      "password_file": password_file}
    return data


def test_a_good_config_with_a_relative_password_file_passes(tmp_path):
    (tmp_path / "controller.password").write_text("s3cret\n")
    config = write_config(tmp_path, with_password(example(), "controller.password"))
    result = run("config", "check", str(config))
    assert result.returncode == 0, result.stderr
    assert "ok" in result.stdout


def test_missing_password_file_is_reported_and_the_controller_exits_2(tmp_path):
    config = write_config(tmp_path, with_password(example(), str(tmp_path / "nope.password")))
    check_fails(config, "broker.password_file", "no such file")
    controller_refuses(config, "broker.password_file", "no such file")


def test_password_file_that_is_a_directory_or_empty_or_binary_is_reported(tmp_path):
    (tmp_path / "pwdir").mkdir()
    check_fails(write_config(tmp_path, with_password(example(), str(tmp_path / "pwdir"))), "is a directory")
    (tmp_path / "empty.password").write_text("\n")
    check_fails(write_config(tmp_path, with_password(example(), str(tmp_path / "empty.password"))), "is empty")
    (tmp_path / "binary.password").write_bytes(b"\xff\xfe\x00\x81")
    check_fails(write_config(tmp_path, with_password(example(), str(tmp_path / "binary.password"))),
                "not a text file")


def test_password_file_the_service_user_cannot_read_is_reported(tmp_path):
    secret = tmp_path / "controller.password"
    secret.write_text("s3cret\n")
    secret.chmod(0o600)
    if os.geteuid() == 0:
        os.chown(secret, NOBODY, NOBODY)  # someone else's file, as a wrongly owned secret would be
    else:
        secret.chmod(0o000)
    config = write_config(tmp_path, with_password(example(), str(secret)))
    check_fails(config, "broker.password_file", "not readable by this user", unprivileged=True)
    controller_refuses(config, "broker.password_file", "not readable", unprivileged=True)


def test_user_without_password_file_and_password_file_without_user_are_reported(tmp_path):
    data = example()
    data["broker"]["username"] = "controller"
    check_fails(write_config(tmp_path, data), "broker.password_file", "no password file")
    (tmp_path / "p").write_text("x\n")
    check_fails(write_config(tmp_path, with_password(example(), str(tmp_path / "p"), username=None)),
                "broker.username", "no user")


def test_missing_store_directory_is_reported_and_the_controller_exits_2(tmp_path):
    config = write_config(tmp_path, example(), store="no-such-dir/node.db")
    check_fails(config, "node.store", "does not exist")
    controller_refuses(config, "node.store", "does not exist")
    assert not (tmp_path / "no-such-dir").exists()  # the controller did not make a store elsewhere


def test_store_directory_on_a_read_only_filesystem_is_reported(tmp_path):
    readonly = tmp_path / "ro"
    readonly.mkdir()
    if os.geteuid() == 0:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(readonly)], check=True)
    else:
        readonly.chmod(0o555)
    try:
        config = write_config(tmp_path, example(), store="ro/node.db")
        check_fails(config, "node.store", "not writable")
        controller_refuses(config, "node.store", "not writable")
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", str(readonly)], check=True)


def test_store_path_that_is_a_directory_is_reported(tmp_path):
    (tmp_path / "node.db").mkdir()
    check_fails(write_config(tmp_path, example()), "node.store", "is not a file")


def test_two_services_with_one_prefix_are_reported(tmp_path):
    data = example()
    data["services"][1]["prefix"] = data["services"][0]["prefix"]
    check_fails(write_config(tmp_path, data), "prefixes must be unique")


def test_one_device_in_two_roles_is_reported(tmp_path):
    data = example()
    data["devices"] = {
        "printer-1": {"kind": "printer", "protocol": "escpos", "url": "serial:///dev/ttyS7", "role": "kiosk-1"},
        "printer-2": {"kind": "printer", "protocol": "escpos", "url": "serial:///dev/ttyS7?baud=9600", "role": "kiosk-2"},
    }
    check_fails(write_config(tmp_path, data), "devices.printer-2.url", "the same device as devices.printer-1",
                "kiosk-1 and kiosk-2")


def test_boards_sharing_a_line_need_their_own_addresses(tmp_path):
    data = example()
    assert run("config", "check", str(write_config(tmp_path, data))).returncode == 0  # one line, 5 addresses
    data["devices"]["board-floor2"]["options"]["address"] = "01"
    check_fails(write_config(tmp_path, data), "devices.board-floor2.url", "the same device as devices.board-floor1")


@pytest.mark.parametrize("rooms, words", [
    ([" 12"], ["devices.board-lab.rooms[0]"]),
    (["12 "], ["devices.board-lab.rooms[0]"]),
    (["a-room-name-longer-16"], ["devices.board-lab.rooms[0]"]),
    ([""], ["devices.board-lab.rooms[0]"]),
    ([], ["devices.board-lab.rooms", "never shows a call"]),
    (["5", "5"], ["devices.board-lab.rooms", "5 listed more than once"]),
])
def test_board_rooms_no_call_can_reach_are_reported(tmp_path, rooms, words):
    data = example()
    data["devices"]["board-lab"]["rooms"] = rooms
    check_fails(write_config(tmp_path, data), *words)


def test_rooms_on_a_device_that_is_not_a_board_are_reported(tmp_path):
    data = example()
    data["devices"]["printer-1"]["rooms"] = ["12"]
    check_fails(write_config(tmp_path, data), "devices.printer-1.rooms", "only a display shows rooms")


def test_a_service_room_no_call_can_carry_is_reported(tmp_path):
    data = example()
    data["services"][0]["room"] = "Registration hall, ground floor"
    check_fails(write_config(tmp_path, data), "services[0].room")


def test_every_problem_is_listed_in_one_run(tmp_path):
    data = with_password(example(), str(tmp_path / "nope.password"))
    data["devices"]["board-lab"]["rooms"] = []
    stderr = check_fails(write_config(tmp_path, data, store="missing/node.db"),
                         "broker.password_file", "node.store", "devices.board-lab.rooms")
    assert "3 problem(s)" in stderr
