"""Checks of the node config that need more than the file's shape: one device configured twice
(device URLs, from the devices layer) and, for the controller, the files it will open at start
(the broker password, the store's directory). Each reads the raw TOML data, with relative paths
already resolved against the file's directory, and returns (key path, message) pairs."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from devices.errors import BadDeviceURL
from devices.url import parse_device_url

Problems = list[tuple[str, str]]


def _device_identity(device: dict) -> tuple | None:
    """What names one physical device; None when the entry cannot collide with another."""
    try:
        url = parse_device_url(device.get("url"))
    except BadDeviceURL:
        return None  # reported by check_devices
    options = device.get("options") if isinstance(device.get("options"), dict) else {}
    if url.scheme == "sim":
        line = url.option("line")
        if line is None:
            return None  # each sim:// without a line is a simulator of its own
        where: tuple = ("sim", line)
    elif url.scheme in ("serial", "file"):
        where = (url.scheme, os.path.realpath(url.path))  # /dev/vestibule/x and its /dev/tty target
    elif url.scheme == "tcp":
        where = ("tcp", url.host, url.port)
    else:
        where = ("usb", url.vendor_id, url.product_id, url.serial_number)
    if device.get("kind") == "display":
        # boards share an RS-485 line by design: one board is a line and an address
        return (*where, str(options.get("address", "")))
    return where


def check_device_used_twice(data: dict) -> Problems:
    """One physical device under two ids (two roles, or two drivers fighting over one port)."""
    devices = data.get("devices")
    if not isinstance(devices, dict):
        return []
    problems: Problems = []
    first: dict[tuple, str] = {}
    for name, device in devices.items():
        if not isinstance(device, dict):
            continue
        identity = _device_identity(device)
        if identity is None:
            continue
        if identity in first:
            other = first[identity]
            roles = {devices[other].get("role"), device.get("role")}
            what = f"roles {' and '.join(sorted(map(str, roles)))}" if len(roles) > 1 else "twice"
            message = f"the same device as devices.{other} ({device.get('url')}); one device cannot serve {what}"
            problems.append((f"devices.{name}.url", message))
        else:
            first[identity] = name
    return problems


def check_password_file(data: dict) -> Problems:
    broker = data.get("broker")
    if not isinstance(broker, dict):
        return []
    path, user = broker.get("password_file"), broker.get("username")
    if path is None:
        return [("broker.password_file", f"broker.username {user!r} is set but no password file")] if user else []
    if not isinstance(path, str):
        return []  # the model reports the type
    problems: Problems = []
    if not user:
        problems.append(("broker.username", "a password file is set but no user: the broker would refuse"))
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return problems + [("broker.password_file", f"{path}: no such file")]
    except IsADirectoryError:
        return problems + [("broker.password_file", f"{path}: is a directory, not a file")]
    except PermissionError:
        return problems + [("broker.password_file", f"{path}: not readable by this user (uid {os.getuid()})")]
    except UnicodeDecodeError:
        return problems + [("broker.password_file", f"{path}: not a text file")]
    except OSError as exc:
        return problems + [("broker.password_file", f"{path}: cannot be read: {exc.strerror}")]
    if not text.strip():
        problems.append(("broker.password_file", f"{path}: is empty"))
    return problems


def check_store_location(data: dict) -> Problems:
    """The store's directory exists and takes new files (SQLite writes -wal and -shm beside it);
    an existing store file is a regular file we may read and write."""
    node = data.get("node")
    if not isinstance(node, dict) or not isinstance(node.get("store"), str) or not node["store"]:
        return []
    store = Path(node["store"])
    directory = store.parent
    if not directory.exists():
        return [("node.store", f"directory {directory} does not exist (create it, or fix the path)")]
    if not directory.is_dir():
        return [("node.store", f"{directory} is not a directory")]
    try:
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".vestibule-check-"):
            pass
    except OSError as exc:
        message = f"directory {directory} is not writable by this user (uid {os.getuid()}): {exc.strerror}"
        return [("node.store", message)]
    if store.exists():
        if not store.is_file():
            return [("node.store", f"{store} exists and is not a file")]
        if not os.access(store, os.R_OK | os.W_OK):
            return [("node.store", f"{store} is not readable and writable by this user (uid {os.getuid()})")]
    return []
