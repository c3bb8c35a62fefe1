"""`vestibule provision discover|assign|test|credentials|install|doctor`: the technician's tools.

Only argument parsing and output here; each command's work is in its own module. Progress goes
to stderr (rich), results to stdout, so `--json` output can be piped.
"""
from __future__ import annotations

import argparse
import json
import sys
import tomllib
from pathlib import Path

from provisioning import udev


def register(sub: argparse._SubParsersAction) -> None:
    prov = sub.add_parser("provision", help="technician tools: find, bind, test devices; credentials; install; doctor")
    psub = prov.add_subparsers(dest="provision_cmd", required=True)

    def roots(p):
        p.add_argument("--sysfs", type=Path, default=Path("/sys"), help="a tree laid out like /sys (tests, simulators)")
        p.add_argument("--dev", type=Path, default=Path("/dev"), help="a tree laid out like /dev")
        p.add_argument("--rules", type=Path, default=udev.RULES_FILE, help="the udev rules file with the bindings")

    d = psub.add_parser("discover", help="list serial/USB candidates and what answers on each")
    d.add_argument("--json", action="store_true", help="a JSON list on stdout instead of the table")
    d.add_argument("--config", type=Path, default=None, help="node config: show which configured device each is")
    d.add_argument("--port", action="append", default=[], help="probe only this port (repeatable), e.g. an "
                                                               "on-board RS-485 line or a simulator's link")
    roots(d)
    d.set_defaults(func=_discover)

    a = psub.add_parser("assign", help="probe a port, then bind it to a device id (config + udev rule)")
    a.add_argument("device_id")
    a.add_argument("--port", required=True, help="e.g. /dev/ttyUSB1, a /dev/serial/by-id name, or usb://VID:PID/SERIAL")
    a.add_argument("--kind", choices=["printer", "oximeter", "thermometer", "display", "scanner"])
    a.add_argument("--protocol")
    a.add_argument("--role", help="where it serves, e.g. screening-1 or kiosk-1")
    a.add_argument("--config", type=Path, required=True)
    roots(a)
    a.set_defaults(func=_assign)

    t = psub.add_parser("test", help="exercise one configured device and say pass or fail")
    t.add_argument("device_id")
    t.add_argument("--config", type=Path, required=True)
    t.add_argument("--timeout", type=float, default=15.0, help="seconds to wait for readings or a scan")
    t.set_defaults(func=_test)

    c = psub.add_parser("credentials", help="broker users, ACL and each service's password file")
    c.add_argument("--config", type=Path, required=True)
    c.add_argument("--out", type=Path, required=True, help="directory, e.g. /etc/vestibule/broker")
    c.add_argument("--rotate", action="append", default=[], metavar="USER",
                   help="new password for this user only (repeatable); the others keep theirs")
    c.add_argument("--owner", action="store_true", help="chown each password file to its service user")
    c.set_defaults(func=_credentials)

    i = psub.add_parser("install", help="system user, directories, systemd units, udev rules, Mosquitto config")
    i.add_argument("--config", type=Path, required=True)
    i.add_argument("--root", type=Path, default=Path("/"), help="stage everything under this directory")
    i.add_argument("--with-devcore", action="store_true", help="also install the stand-in booking core")
    i.add_argument("--screens", default=None, help="kiosk/screening/board screens, e.g. kiosk-1,screening-1,board-1 "
                                                 "(default: the roles of the configured devices)")
    i.add_argument("--rules", type=Path, default=udev.RULES_FILE, help="the device bindings to install")
    i.set_defaults(func=_install)

    dr = psub.add_parser("doctor", help="check everything on this node; each fault with its fix")
    dr.add_argument("--config", type=Path, required=True)
    dr.add_argument("--json", action="store_true")
    dr.add_argument("--credentials", type=Path, default=None, help="directory with the services' password files")
    dr.add_argument("--disk-min-free-mb", type=float, default=500.0)
    dr.add_argument("--rules", type=Path, default=udev.RULES_FILE)
    dr.set_defaults(func=_doctor)


def _err_console():
    from rich.console import Console
    return Console(stderr=True, highlight=False)


def _raw_config(path: Path | None) -> dict:
    if path is None:
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        print(f"warning: cannot read {path}: {exc}", file=sys.stderr)
        return {}


# -- discover -------------------------------------------------------------------------------------
def _discover(args) -> int:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from provisioning import discover as disc
    console = _err_console()
    bindings = udev.by_key(udev.read_bindings(args.rules))
    ports = disc.config_ports(_raw_config(args.config).get("devices", {}))
    with Progress(TextColumn("[bold]discover[/]"), BarColumn(), TextColumn("{task.completed}/{task.total} ports"),
                  TextColumn("{task.description}"), TimeElapsedColumn(), console=console, transient=True) as progress:
        total = len(args.port) or len(disc.candidates(args.sysfs, args.dev))
        task = progress.add_task("", total=total)
        found = disc.discover(args.sysfs, args.dev, bindings=bindings, config_ports=ports, ports=args.port or None,
                              on_step=lambda c, p: progress.update(task, description=f"{c.name}: {p}"),
                              on_done=lambda f: progress.advance(task))
    if args.json:
        print(json.dumps([f.to_dict() for f in found], indent=2))
    else:
        _discover_table(found)
    console.print(f"{len(found)} candidate(s), {sum(1 for f in found if f.result.identification)} identified")
    return 0


def _discover_table(found) -> None:
    from rich.console import Console
    from rich.table import Table
    table = Table(title="Serial and USB candidates", show_lines=False)
    for column in ("port", "by-id", "VID:PID", "adapter", "serial", "manufacturer / product", "answered as",
                   "configured"):
        table.add_column(column, overflow="fold")
    for f in found:
        c = f.candidate
        ident = f.result.identification
        answer = ident.summary() if ident else (f"error: {f.result.error}" if f.result.error else (f.note or "-"))
        table.add_row(c.port, c.by_id or "-", c.vid_pid or "-", c.adapter or "-", c.serial or "-",
                      " / ".join(x for x in (c.manufacturer, c.product) if x) or "-", answer, f.configured or "-")
    Console(soft_wrap=False, width=200).print(table)


# -- assign ---------------------------------------------------------------------------------------
def _assign(args) -> int:
    from provisioning.assign import AssignError, assign
    console = _err_console()
    try:
        with console.status(f"probing {args.port} ..."):
            done = assign(args.device_id, args.port, args.config, kind=args.kind, protocol=args.protocol,
                          role=args.role, sysfs=args.sysfs, dev=args.dev, rules=args.rules)
    except AssignError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    ident = f" ({done.identification.summary()})" if done.identification else ""
    print(f"{done.device_id}: {done.kind}/{done.protocol} on {done.port}{ident}")
    print(f"  config {args.config}: [devices.{done.device_id}] {'added' if done.created else 'updated'}, url = {done.url}")
    if done.rule:
        old = [d for d in done.replaced if d != done.device_id]
        print(f"  udev rule in {args.rules}{' (replaces the old binding)' if done.device_id in done.replaced else ''}:")
        print(f"    {done.rule}")
        if old:
            print(f"  this device was bound to {', '.join(old)}: that binding is removed")
        if done.linked:
            print(f"  staged tree: linked {done.linked} -> {done.port} (what udev does after the reload)")
        print(f"  reload the rules and replug (or trigger): {udev.RELOAD_COMMAND}")
    else:
        print("  no udev rule: not a USB device (an on-board port keeps its name)")
    return 0


# -- later commands ---------------------------------------------------------------------------------
def _test(args) -> int:
    from provisioning.devtest import run_test
    return run_test(args.device_id, args.config, timeout=args.timeout, out=sys.stdout)


def _credentials(args) -> int:
    from provisioning.credentials import run_credentials
    return run_credentials(args.config, args.out, rotate=args.rotate, chown=args.owner, out=sys.stdout)


def _install(args) -> int:
    from provisioning.install import run_install
    screens = args.screens.split(",") if args.screens else None
    return run_install(args.config, args.root, with_devcore=args.with_devcore, screens=screens, out=sys.stdout,
                       rules=args.rules)


def _doctor(args) -> int:
    from provisioning.doctor import run_doctor
    return run_doctor(args.config, as_json=args.json, credentials=args.credentials,
                      disk_min_free_mb=args.disk_min_free_mb, rules=args.rules, out=sys.stdout)
