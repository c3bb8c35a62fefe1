"""Edits of the node's TOML that keep the technician's comments, order and formatting (tomlkit)."""
from __future__ import annotations

from pathlib import Path

import tomlkit


def load(path: Path) -> tomlkit.TOMLDocument:
    return tomlkit.parse(path.read_text(encoding="utf-8"))


def set_device(path: Path, device_id: str, *, kind: str, protocol: str, url: str,
               role: str | None = None) -> bool:
    """Write or update [devices.DEVICE-ID]; keys not named here (options, rooms) stay. True if new."""
    doc = load(path)
    if "devices" not in doc:
        doc.add(tomlkit.nl())
        devices = tomlkit.table(is_super_table=True)
        doc["devices"] = devices
    devices = doc["devices"]
    created = device_id not in devices
    if created:
        section = tomlkit.table()
        devices[device_id] = section
    section = devices[device_id]
    section["kind"] = kind
    section["protocol"] = protocol
    section["url"] = url
    if role is not None:
        section["role"] = role
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(tomlkit.dumps(doc), encoding="utf-8")
    tmp.chmod(path.stat().st_mode & 0o7777)  # the node file may be 0640 root:vestibule: keep it so
    tmp.replace(path)
    return created
