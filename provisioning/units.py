"""The node's systemd units, rendered from the config: what runs, as whom, and what it may touch.

Every unit is hardened the same way (read-only system, no new privileges, no capabilities,
private /tmp, kernel knobs protected). The controller alone gets devices: DevicePolicy=closed and
DeviceAllow for the device classes of the configured devices only (a tty adapter replugged into
another port gets another minor number, so the allowance names the class, not one minor).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from devices.url import parse_device_url

ETC = Path("/etc/vestibule")
STATE = Path("/var/lib/vestibule")
CONFIG = ETC / "node.toml"
BROKER_DIR = ETC / "broker"
SERVICE_USER = "vestibule"
UI_USER = "vestibule-ui"

HARDENING = """NoNewPrivileges=true
ProtectSystem=strict
ProtectHome=true
PrivateTmp=true
ProtectKernelTunables=true
ProtectKernelModules=true
ProtectKernelLogs=true
ProtectControlGroups=true
ProtectClock=true
ProtectHostname=true
RestrictSUIDSGID=true
RestrictRealtime=true
RestrictNamespaces=true
LockPersonality=true
SystemCallArchitectures=native
CapabilityBoundingSet=
UMask=0027"""

# Screen apps, one instance per screen (the instance name is the screen's id). Each app finds its
# broker password next to the controller's (/etc/vestibule/broker), named after its broker user.
SCREEN_APPS = {
    "kiosk": ("Vestibule kiosk touch screen (%i)", "kiosk --config {config} --kiosk %i"),
    "screening": ("Vestibule screening post (%i)", "screening --config {config} --post %i"),
    "board": ("Vestibule call board (%i)", "board --config {config} --board %i"),
}


@dataclass(frozen=True)
class Unit:
    name: str
    text: str
    wanted_by: str | None  # target whose .wants/ gets the enabled instance
    instances: tuple[str, ...] = ()


def device_classes(devices: dict) -> list[str]:
    """DeviceAllow lines for the configured devices' classes (serial tty, USB printer, input)."""
    allow: set[str] = set()
    for section in devices.values():
        url = parse_device_url(section.url)
        if url.scheme == "usb":
            allow.add("char-usb_device rw")
        elif url.scheme == "serial" and section.kind == "scanner" and section.protocol == "hid":
            allow.add("char-input r")
        elif url.scheme == "serial":
            allow |= {"char-ttyUSB rw", "char-ttyACM rw"}
            real = url.path
            if Path(real).name.startswith("ttyS"):
                allow.add("char-ttyS rw")
        elif url.scheme == "file" and section.kind == "printer":
            allow.add(f"{url.path} w")
        elif url.scheme == "sim":  # simulators inside the controller serve pseudo-terminals
            allow |= {"/dev/ptmx rw", "char-pts rw"}
    return sorted(allow)


def controller_unit(exe: str, devices: dict) -> Unit:
    allow = "\n".join(f"DeviceAllow={a}" for a in device_classes(devices))
    text = f"""[Unit]
Description=Vestibule node controller (devices, store, outbox, kiosk flow)
After=network-online.target mosquitto.service
Wants=network-online.target mosquitto.service

[Service]
Type=notify
NotifyAccess=main
User={SERVICE_USER}
Group={SERVICE_USER}
SupplementaryGroups=dialout plugdev input
ExecStartPre={exe} config check {CONFIG}
ExecStart={exe} controller --config {CONFIG}
# pinged only while the outbox relay and the device threads are healthy
WatchdogSec=30
Restart=always
RestartSec=2
TimeoutStopSec=20
StateDirectory=vestibule
StateDirectoryMode=0750
ReadWritePaths={STATE}
DevicePolicy=closed
{allow}
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
{HARDENING}

[Install]
WantedBy=multi-user.target
"""
    return Unit("vestibule-controller.service", text, "multi-user.target")


def screen_unit(app: str, exe: str, screens: list[str]) -> Unit:
    description, args = SCREEN_APPS[app]
    text = f"""[Unit]
Description={description}
After=graphical.target vestibule-controller.service
PartOf=graphical.target

[Service]
User={UI_USER}
Group={UI_USER}
Environment=DISPLAY=:0 KIVY_NO_ARGS=1 KIVY_HOME={STATE}/ui/%i
ExecStart={exe} {args.format(config=CONFIG, broker=BROKER_DIR)}
# a crashed screen comes back; the controller and the devices are untouched by it
Restart=always
RestartSec=1
StateDirectory=vestibule/ui/%i
DevicePolicy=closed
DeviceAllow=/dev/dri rw
DeviceAllow=char-drm rw
DeviceAllow=char-input r
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
{HARDENING}

[Install]
WantedBy=graphical.target
"""
    return Unit(f"vestibule-{app}@.service", text, "graphical.target", tuple(screens))


def devcore_unit(exe: str) -> Unit:
    text = f"""[Unit]
Description=Vestibule booking-core stand-in (demo and acceptance only; a clinic runs its real core)
After=mosquitto.service
Wants=mosquitto.service

[Service]
User={SERVICE_USER}
Group={SERVICE_USER}
ExecStart={exe} devcore --config {CONFIG} --db {STATE}/devcore.db
Restart=on-failure
StateDirectory=vestibule
ReadWritePaths={STATE}
DevicePolicy=closed
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
{HARDENING}

[Install]
WantedBy=multi-user.target
"""
    return Unit("vestibule-devcore.service", text, "multi-user.target")


def mosquitto_dropin(mosquitto: str = "/usr/sbin/mosquitto") -> str:
    """The Debian broker unit, started on our configuration instead of the stock one."""
    return f"""[Service]
ExecStart=
ExecStart={mosquitto} -c {BROKER_DIR}/mosquitto.conf
"""


def screens_by_app(screens: list[str], boards: frozenset[str] = frozenset()) -> dict[str, list[str]]:
    """kiosk-1 -> kiosk, screening-2 -> screening, board-hall -> board; a `[boards.ID]` of the
    config (e.g. tv-1) is a board whatever its name."""
    by_app: dict[str, list[str]] = {app: [] for app in SCREEN_APPS}
    for screen in screens:
        app = "board" if screen in boards else screen.split("-", 1)[0]
        if app not in by_app:
            raise ValueError(f"screen {screen!r}: expected a name starting with kiosk-, screening- or board-")
        by_app[app].append(screen)
    return by_app
