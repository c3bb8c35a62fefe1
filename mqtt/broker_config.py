"""Production Mosquitto configuration: a broker user per client, an ACL, anonymous refused.

Users (each its own password file, `<user>.password`):
  controller    the node daemon                core          the booking core (or the stand-in)
  kiosk-N       each kiosk touch-screen UI     screening-N   each screening-post UI
  <display id>  each call board (a board UI shows calls only, never core/schedule/#: personal data)
  doctor        `vestibule provision doctor`: reads the statuses only

The listener sets `use_username_as_clientid`: the broker replaces whatever client id a client
sends with its user name, so nobody can connect under another client's id (and disconnect it)
without that client's password. Each kiosk and post reads only its own reply topic,
`reply/{role}/{user}`; the controller and the core are one user each and read their role's subtree.
"""
from __future__ import annotations

import re
import secrets
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from foundation.config import VestibuleConfig
from mqtt.client import broker_message_limit

ROLES = ("controller", "schedule", "core", "kiosk", "screening", "board", "doctor")
_KIOSK = re.compile(r"^kiosk-[0-9]+$")
_SCREENING = re.compile(r"^screening-[0-9]+$")
_BOARD = re.compile(r"^board-[a-z0-9-]+$")


@dataclass(frozen=True)
class BrokerUser:
    name: str  # the broker user name, which is also its client id
    role: str  # one of ROLES


CONTROLLER = BrokerUser("controller", "controller")
# the controller's second connection, which takes the day's schedule (up to ~46 MB) so that its
# commands never queue behind it (held by its schedule receiver process); a user of its own,
# since the client id is the user name
SCHEDULE = BrokerUser("controller-schedule", "schedule")
CORE = BrokerUser("core", "core")
# The technician's checks log in as their own user: logging in as a service's user would take
# over (disconnect) that service, its client id being its user name.
DOCTOR = BrokerUser("doctor", "doctor")


def users_from_config(config: VestibuleConfig) -> list[BrokerUser]:
    """controller, core, a user per kiosk and screening post (devices' roles kiosk-N, screening-N),
    one per call board (a display device's id, a device role board-X naming a board screen, or a TV
    board of `[boards.ID]`), and the doctor."""
    roles = {dev.role for dev in config.devices.values() if dev.role}
    users = [CONTROLLER, SCHEDULE, CORE]
    users += [BrokerUser(r, "kiosk") for r in sorted(roles) if _KIOSK.match(r)]
    users += [BrokerUser(r, "screening") for r in sorted(roles) if _SCREENING.match(r)]
    boards = set(config.devices_of("display")) | {r for r in roles if _BOARD.match(r)}  # a TV board's screen
    boards |= set(config.boards)  # the TV boards' apps (vestibule board --board ID)
    users += [BrokerUser(name, "board") for name in sorted(boards)]
    return users + [DOCTOR]


def role_rules(site: str, node: str, user: BrokerUser) -> list[tuple[str, str]]:
    """(access, topic) pairs for one user; access is read, write or readwrite."""
    root = f"clinic/v1/{site}"
    n = f"{root}/node/{node}"
    ui_common = [
        ("write", f"{n}/cmd/#"),
        ("read", f"{n}/status"),
        ("read", f"{n}/dev/+/status"),
        ("read", f"{n}/dev/+/reading"),
        ("read", f"{root}/core/status"),
    ]
    if user.role == "controller":
        return [
            ("read", f"{root}/core/status"),
            ("read", f"{root}/core/schedule/#"),
            ("read", f"{root}/core/cmd/#"),
            ("write", f"{root}/core/req/#"),
            ("read", f"{n}/cmd/#"),
            ("write", f"{n}/status"),
            ("write", f"{n}/dev/#"),
            ("write", f"{n}/evt/#"),
            ("write", f"{n}/board/#"),
            ("write", f"{n}/queue/#"),
            ("read", f"{root}/reply/controller/#"),
            ("write", f"{root}/reply/kiosk/#"),
            ("write", f"{root}/reply/screening/#"),
            ("write", f"{root}/reply/core/#"),
        ]
    if user.role == "schedule":
        return [("read", f"{root}/core/status"), ("read", f"{root}/core/schedule/#")]
    if user.role == "core":
        return [
            ("write", f"{root}/core/#"),
            ("read", f"{root}/core/req/#"),
            ("read", f"{root}/node/+/status"),
            ("read", f"{root}/node/+/dev/+/status"),
            ("read", f"{root}/node/+/evt/#"),
            ("read", f"{root}/node/+/board/state"),
            ("write", f"{root}/node/+/cmd/#"),
            ("read", f"{root}/reply/core/#"),
            ("write", f"{root}/reply/controller/#"),
        ]
    if user.role in ("kiosk", "screening"):
        return ui_common + [("read", f"{root}/reply/{user.role}/{user.name}")]
    if user.role == "doctor":
        return [
            ("read", f"{root}/core/status"),
            ("read", f"{n}/status"),
            ("read", f"{n}/dev/+/status"),
        ]
    if user.role == "board":
        return [
            ("read", f"{n}/board/state"),
            ("read", f"{n}/queue/state"),
            ("read", f"{n}/status"),
            ("read", f"{root}/core/status"),
        ]
    raise ValueError(f"unknown role {user.role!r}")


def acl_rules(site: str, node: str, users: Iterable[BrokerUser]) -> dict[str, list[tuple[str, str]]]:
    return {user.name: role_rules(site, node, user) for user in users}


def render_acl(site: str, node: str, users: Iterable[BrokerUser]) -> str:
    lines = ["# Generated by `vestibule broker config`: one user per client. Anything not listed is denied.", ""]
    for user in users:
        lines.append(f"# {user.role}")
        lines.append(f"user {user.name}")
        lines += [f"topic {access} {topic}" for access, topic in role_rules(site, node, user)]
        lines.append("")
    return "\n".join(lines)


def render_conf(directory: Path, port: int = 1883, bind: str = "127.0.0.1", *,
                persistence_location: Path = Path("/var/lib/mosquitto"), log_dest: str = "syslog") -> str:
    return "\n".join([
        "# Vestibule site broker (generated). Loopback only: the booking core runs on the same node;",
        "# a bridge to the central cluster goes in a separate conf.d file.",
        f"listener {port} {bind}",
        # the client id is the user name: nobody can take over another client's id
        "use_username_as_clientid true",
        "allow_anonymous false",
        f"password_file {directory / 'passwords'}",
        f"acl_file {directory / 'acl'}",
        "persistence true",
        f"persistence_location {persistence_location}/",
        "autosave_interval 60",  # the broker is a secondary buffer; the outbox is the record
        "max_queued_messages 200000",
        f"message_size_limit {broker_message_limit()}",  # payload bytes: a large site's day is ~46 MB
        "set_tcp_nodelay true",  # request/response and calls are small packets: no Nagle delay
        f"log_dest {log_dest}",
        "",
    ])


def write_broker_config(directory: Path, site: str, node: str, *, users: Iterable[BrokerUser] | None = None,
                        port: int = 1883, passwords: dict[str, str] | None = None,
                        persistence_location: Path = Path("/var/lib/mosquitto"),
                        log_dest: str = "syslog") -> dict[str, str]:
    """Write mosquitto.conf, acl, passwords and one <user>.password file per user (mode 0600).

    `users` defaults to the controller and the core; `passwords` fixes some (tests), the rest are
    random. Returns user → password."""
    users = list(users) if users is not None else [CONTROLLER, CORE]
    directory = directory.resolve()  # the broker reads these paths from wherever it runs
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "acl").write_text(render_acl(site, node, users), encoding="utf-8")
    (directory / "mosquitto.conf").write_text(
        render_conf(directory, port, persistence_location=persistence_location, log_dest=log_dest), encoding="utf-8")
    given = passwords or {}
    chosen = {user.name: given.get(user.name) or secrets.token_urlsafe(18) for user in users}
    tool = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
    pw_file = directory / "passwords"
    pw_file.write_text("")
    for name, password in chosen.items():
        subprocess.run([tool, "-b", str(pw_file), name, password], check=True, capture_output=True)
        secret = directory / f"{name}.password"
        secret.write_text(password + "\n")
        secret.chmod(0o600)
    # The broker drops root for the "mosquitto" user; it must read the file, nobody else may.
    pw_file.chmod(0o640)
    try:
        shutil.chown(pw_file, group="mosquitto")
    except (LookupError, PermissionError):
        pass
    return chosen
