"""udev rules that give each configured device a stable name: /dev/vestibule/DEVICE-ID.

One rules file holds every binding; each device's rule sits under a `# vestibule: DEVICE-ID`
line so that re-assigning the device replaces exactly its rule. A rule matches the USB device's
VID:PID and serial number (or, for adapters without a serial, the USB port it is plugged into),
sets the group and mode the service user needs, and tells ModemManager to leave the port alone
(it would otherwise send AT commands to a freshly plugged serial adapter).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

RULES_FILE = Path("/etc/udev/rules.d/70-vestibule.rules")
RELOAD_COMMAND = "sudo udevadm control --reload-rules && sudo udevadm trigger --action=add"
STABLE_DIR = "vestibule"  # under /dev

# per kind: (udev subsystem match, group, mode); pyusb printers are usb devices, HID scanners input
ACCESS = {
    "tty": ('SUBSYSTEM=="tty"', "dialout", "0660"),
    "usb": ('SUBSYSTEM=="usb", ENV{DEVTYPE}=="usb_device"', "plugdev", "0660"),
    "input": ('SUBSYSTEM=="input", KERNEL=="event*"', "input", "0640"),
}
_MARK = re.compile(r"^# vestibule: (?P<id>[a-z0-9][a-z0-9-]*)\s*$")
_PAIR = re.compile(r'(?P<key>[A-Z]+(?:\{[^}]*\})?)\s*(?P<op>==|!=|\+=|:=|=)\s*"(?P<value>[^"]*)"')


@dataclass(frozen=True)
class Binding:
    device_id: str
    subsystem: str  # tty | usb | input
    vendor_id: int
    product_id: int
    serial: str | None
    usb_path: str | None = None  # used when the adapter has no serial number

    @property
    def key(self) -> tuple:
        return (self.vendor_id, self.product_id, self.serial or f"@{self.usb_path}")


def render_rule(b: Binding) -> str:
    match, group, mode = ACCESS[b.subsystem]
    parts = [match, f'ATTRS{{idVendor}}=="{b.vendor_id:04x}"', f'ATTRS{{idProduct}}=="{b.product_id:04x}"']
    if b.serial:
        parts.append(f'ATTRS{{serial}}=="{_escape(b.serial)}"')
    elif b.usb_path:
        parts.append(f'KERNELS=="{b.usb_path}"')
    else:
        raise ValueError(f"{b.device_id}: a device without a serial number needs its USB port path")
    parts += [f'SYMLINK+="{STABLE_DIR}/{b.device_id}"', f'GROUP="{group}"', f'MODE="{mode}"',
              'ENV{ID_MM_DEVICE_IGNORE}="1"']
    return ", ".join(parts)


def _escape(value: str) -> str:
    if '"' in value or "\n" in value:
        raise ValueError(f"serial number {value!r} cannot be matched by a udev rule")
    return value


def parse_rule(line: str) -> dict[str, str]:
    """KEY -> value of one rule line (match and assignment keys alike); raises on junk."""
    pairs = {}
    rest = line.strip()
    for item in (p.strip() for p in rest.split(",")):
        m = _PAIR.fullmatch(item)
        if not m:
            raise ValueError(f"not a udev key/value pair: {item!r}")
        pairs[m["key"]] = m["value"]
    return pairs


def read_bindings(path: Path = RULES_FILE) -> dict[str, Binding]:
    """The bindings in our rules file, by device id (an absent file has none)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return {}
    bindings: dict[str, Binding] = {}
    current = None
    for line in lines:
        mark = _MARK.match(line)
        if mark:
            current = mark["id"]
            continue
        if current and line.strip() and not line.startswith("#"):
            pairs = parse_rule(line)
            subsystem = pairs.get("SUBSYSTEM", "tty")
            bindings[current] = Binding(current, subsystem, int(pairs["ATTRS{idVendor}"], 16),
                                        int(pairs["ATTRS{idProduct}"], 16), pairs.get("ATTRS{serial}"),
                                        pairs.get("KERNELS"))
            current = None
    return bindings


def by_key(bindings: dict[str, Binding]) -> dict[tuple, str]:
    return {b.key: device_id for device_id, b in bindings.items()}


def write_binding(binding: Binding, path: Path = RULES_FILE) -> list[str]:
    """Put `binding` in the rules file; drop the device's old rule and any other device's rule
    for the same physical device. Returns the ids whose rules were replaced or removed."""
    bindings = read_bindings(path)
    replaced = [d for d, b in bindings.items() if d == binding.device_id or b.key == binding.key]
    for device_id in replaced:
        del bindings[device_id]
    bindings[binding.device_id] = binding
    path.parent.mkdir(parents=True, exist_ok=True)
    text = ["# Vestibule device bindings, written by `vestibule provision assign`: one rule per device.",
            "# Reload after a change: " + RELOAD_COMMAND, ""]
    for device_id in sorted(bindings):
        text += [f"# vestibule: {device_id}", render_rule(bindings[device_id]), ""]
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(text), encoding="utf-8")
    tmp.chmod(0o644)
    tmp.replace(path)
    return replaced
