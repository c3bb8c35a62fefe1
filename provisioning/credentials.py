"""`vestibule provision credentials`: a broker user per client, the ACL, each service's password file.

A thin layer over mqtt/broker_config: it asks broker_config which users there are and what the
ACL says (the three functions below are the only calls into it) and writes the files:
  passwords            Mosquitto's password file, hashed by `mosquitto_passwd` (mode 0640, group mosquitto)
  acl                  the ACL
  mosquitto.conf       the listener, password_file and acl_file lines
  USER.password        one per user, mode 0600, owned by the service user that connects as USER
Running it again keeps every existing user's password; `--rotate USER` gives only USER a new one.
"""
from __future__ import annotations

import secrets
import shutil
import subprocess
from pathlib import Path
from typing import TextIO

from mqtt import broker_config
from provisioning import units

# Which system user runs the service that connects as each broker user (units.py); the doctor's
# is the technician's (root), every other one a UI's.
DOCTOR_USER = broker_config.DOCTOR.name
SERVICE_USER = {"controller": units.SERVICE_USER, "controller-schedule": units.SERVICE_USER, "core": units.SERVICE_USER,
                DOCTOR_USER: "root"}


def broker_users(config) -> list[str]:
    """The broker's users for this node's config: controller, core, and one per kiosk, screening
    post and board (broker_config.users_from_config); each user name is also its client id."""
    return [user.name for user in broker_config.users_from_config(config)]


def acl_text(config) -> str:
    return broker_config.render_acl(config.site.id, config.node.id, broker_config.users_from_config(config))


def acl_rules(config) -> dict[str, list[tuple[str, str]]]:
    """user -> (access, topic filter) pairs, for checks and tests."""
    return broker_config.acl_rules(config.site.id, config.node.id, broker_config.users_from_config(config))


def service_user(broker_user: str) -> str:
    return SERVICE_USER.get(broker_user, units.UI_USER)


def _mosquitto_passwd() -> str:
    tool = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
    if not Path(tool).exists():
        raise FileNotFoundError("mosquitto_passwd not found: apt-get install mosquitto")
    return tool


def _users_in(passwords: Path) -> set[str]:
    try:
        return {line.split(":", 1)[0] for line in passwords.read_text().splitlines() if ":" in line}
    except FileNotFoundError:
        return set()


def write_credentials(out: Path, config, *, rotate: list[str] = (), chown: bool = False,
                      conf_dir: Path | None = None) -> dict[str, str]:
    """Write the files; returns user -> "new" | "rotated" | "kept" | "removed".
    `conf_dir` is where the files will be on the node when `out` is a staging directory."""
    users = broker_users(config)
    unknown = sorted(set(rotate) - set(users))
    if unknown:
        raise ValueError(f"no broker user {', '.join(unknown)}; users are {', '.join(users)}")
    out.mkdir(parents=True, exist_ok=True)
    tool = _mosquitto_passwd()
    passwords = out / "passwords"
    if not passwords.exists():
        passwords.write_text("")
    outcome: dict[str, str] = {}
    hashed = _users_in(passwords)
    for user in users:
        secret = out / f"{user}.password"
        if user in rotate or not secret.exists() or user not in hashed:
            password = secrets.token_urlsafe(24)
            outcome[user] = "rotated" if user in rotate and secret.exists() else "new"
            tmp = secret.with_suffix(".tmp")
            tmp.touch(mode=0o600)
            tmp.chmod(0o600)
            tmp.write_text(password + "\n")
            # mosquitto_passwd -b updates one user's hash in place: the other users' lines stay
            subprocess.run([tool, "-b", str(passwords), user, password], check=True, capture_output=True)
            tmp.replace(secret)
        else:
            outcome[user] = "kept"
        secret.chmod(0o600)
        if chown:
            shutil.chown(secret, user=service_user(user), group=service_user(user))
    # a user we once wrote (it has a .password file here) and the config no longer has; users
    # added by hand (no file) are not ours to remove
    for stale in sorted(u for u in hashed - set(users) if (out / f"{u}.password").exists()):
        subprocess.run([tool, "-D", str(passwords), stale], check=True, capture_output=True)
        (out / f"{stale}.password").unlink(missing_ok=True)
        outcome[stale] = "removed"
    (out / "acl").write_text(acl_text(config), encoding="utf-8")
    (out / "mosquitto.conf").write_text(broker_config.render_conf(conf_dir or out, config.broker.port),
                                        encoding="utf-8")
    # the broker drops root for the "mosquitto" user: it must read the hashes, nobody else may
    passwords.chmod(0o640)
    (out / "acl").chmod(0o640)
    try:
        shutil.chown(passwords, group="mosquitto")
        shutil.chown(out / "acl", group="mosquitto")
    except (LookupError, PermissionError):
        pass
    return outcome


def run_credentials(config_path: Path, out_dir: Path, *, rotate: list[str], chown: bool, out: TextIO) -> int:
    from kiosk.node.config import ConfigError, load_node_config
    try:
        config = load_node_config(config_path)
    except ConfigError as exc:
        print(f"error: {exc}", file=out)
        return 2
    try:
        outcome = write_credentials(out_dir, config, rotate=rotate, chown=chown)
    except (ValueError, FileNotFoundError, LookupError, subprocess.CalledProcessError) as exc:
        print(f"error: {exc}", file=out)
        return 1
    for user, what in outcome.items():
        print(f"  {user:<12} {what:<8} {out_dir / (user + '.password') if what != 'removed' else ''}", file=out)
    print(f"wrote {out_dir}/passwords, acl, mosquitto.conf; reload the broker: sudo systemctl reload mosquitto "
          f"(or restart), then restart the services whose passwords changed", file=out)
    return 0
