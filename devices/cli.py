"""`vestibule device ...` and `vestibule sim ...`: the technician's and the tests' view of devices.

Each device class implements its commands in devices/<kind>/tool.py; this module only parses.
Every handler returns an exit code: 0 ok, 1 device problem (clear message, no traceback).
"""
from __future__ import annotations

import argparse
import errno
import importlib
import inspect
import os
import signal
import sys
import threading
import time

from devices import registry
from devices.errors import DeviceError


def register(sub: argparse._SubParsersAction) -> None:
    device = sub.add_parser("device", help="read, test and drive one device directly")
    dsub = device.add_subparsers(dest="device_cmd", required=True)

    read = dsub.add_parser("read", help="print readings from a device")
    read.add_argument("kind", choices=["oximeter", "thermometer", "scanner"])
    read.add_argument("--port", required=True, help="device URL, e.g. serial:///dev/ttyUSB0")
    read.add_argument("--protocol", help="contec|nonin (oximeter), bridge|optris (thermometer), cdc|hid (scanner)")
    read.add_argument("--count", type=int, default=None, help="stop after N readings")
    read.add_argument("--timeout", type=float, default=10.0, help="give up after S seconds with no reading")
    read.add_argument("--json", action="store_true", help="one JSON object per line")
    read.set_defaults(func=_read)

    status = dsub.add_parser("status", help="ask a device for its status")
    status.add_argument("kind", choices=["printer"])
    status.add_argument("--printer", required=True, help="printer URL")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=_status)

    prn = dsub.add_parser("print", help="print a sample ticket or receipt (or render it to a PNG)")
    where = prn.add_mutually_exclusive_group(required=True)
    where.add_argument("--printer", help="printer URL")
    where.add_argument("--preview", metavar="FILE.png", help="render what a printer would print to FILE.png")
    prn.add_argument("--sample", choices=["ticket", "receipt"], default="ticket")
    prn.add_argument("--lang", choices=["ru", "zh", "en"], default="ru")
    prn.add_argument("--profile", default=None, help="python-escpos printer profile (code pages)")
    prn.set_defaults(func=_print)

    show = dsub.add_parser("show", help="show text on a call display")
    show.add_argument("--display", required=True, help="display URL")
    show.add_argument("--protocol", choices=["alpha", "modbus"], required=True)
    show.add_argument("--address", default=None, help="Alpha sign address (hex, 00 = all) or Modbus unit id")
    show.add_argument("--text", required=True)
    show.add_argument("--no-answer", action="store_true",
                      help="a one-way Alpha sign (no return line): write without reading back "
                           "(implied by --address 00)")
    show.set_defaults(func=_show)

    sim = sub.add_parser("sim", help="run a device simulator on a pseudo-terminal until stopped",
                         formatter_class=argparse.RawDescriptionHelpFormatter,
                         epilog=_simulator_list())
    sim.add_argument("kind", choices=registry.KINDS)
    sim.add_argument("--protocol", required=True, help="the protocol the simulator speaks (see below)")
    sim.add_argument("--link", default=None, help="path of the stable symlink to the pty")
    sim.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="initial simulator setting, e.g. spo2=97 or probe=finger_out (repeatable); "
                          "while it runs, type `set KEY=VALUE ...` on its stdin")
    sim.set_defaults(func=_sim)


def _simulator_list() -> str:
    lines = ["simulators (kind: protocols):"]
    for kind in registry.KINDS:
        protocols = registry.protocols_for(kind, registry.SIMULATORS)
        lines.append(f"  {kind:<12} {', '.join(protocols) if protocols else '(none: use a real device)'}")
    lines.append("settings: `vestibule sim KIND --protocol P --set nonsense=1` lists the valid ones")
    return "\n".join(lines)


def _tool(kind: str):
    return importlib.import_module(f"devices.{kind}.tool")


def _guarded(fn, *args, **kwargs) -> int:
    try:
        return fn(*args, **kwargs)
    except DeviceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`vestibule device read ... | head`): stop as a filter does, quietly.
        # stdout now points at /dev/null so the interpreter's last flush cannot fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 0


def _read(args) -> int:
    defaults = {"oximeter": "contec", "thermometer": "bridge", "scanner": "cdc"}
    protocol = args.protocol or defaults[args.kind]
    return _guarded(_tool(args.kind).read, args.port, protocol, args.count, args.json, sys.stdout,
                    timeout=args.timeout)


def _status(args) -> int:
    return _guarded(_tool("printer").status, args.printer, args.json, sys.stdout)


def _print(args) -> int:
    if args.preview:
        return _tool("printer").preview_sample(args.preview, args.sample, args.lang, sys.stdout, profile=args.profile)
    return _guarded(_tool("printer").print_sample, args.printer, args.sample, args.lang, sys.stdout,
                    profile=args.profile)


def _show(args) -> int:
    return _guarded(_tool("display").show, args.display, args.protocol, args.address, args.text, sys.stdout,
                    answers=not args.no_answer)


def _parse_setting(text: str):
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ValueError(f"--set expects KEY=VALUE, got {text!r}")
    for convert in (int, float):
        try:
            return key, convert(value)
        except ValueError:
            pass
    return key, {"true": True, "false": False}.get(value.lower(), value)


def simulator_settings(cls) -> list[str]:
    """The keys `--set` accepts for a simulator class: its constructor's keyword settings, then
    its live settings (cls.SETTINGS, also changeable while it runs)."""
    params = inspect.signature(cls).parameters
    keys = [name for name, p in params.items()
            if name != "link_path" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    return keys + [key for key in cls.SETTINGS if key not in keys]


def _sim(args) -> int:
    try:
        cls = registry.simulator_class(args.kind, args.protocol)
    except KeyError as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 2
    try:
        settings = dict(_parse_setting(s) for s in args.set)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    valid = simulator_settings(cls)
    unknown = sorted(set(settings) - set(valid))
    if unknown:
        print(f"error: {args.kind}/{args.protocol} simulator has no setting {', '.join(map(repr, unknown))}; "
              f"valid settings: {', '.join(valid)}", file=sys.stderr)
        return 2
    constructor = set(inspect.signature(cls).parameters)
    try:
        sim = cls(link_path=args.link, **{k: v for k, v in settings.items() if k in constructor})
        live = {k: v for k, v in settings.items() if k not in constructor}
        if live:
            sim.set(**live)
    except (ValueError, DeviceError) as exc:
        print(f"error: bad simulator setting: {exc}", file=sys.stderr)
        return 2
    path = sim.start()
    print(f"{args.kind}/{args.protocol} simulator serving on {path}", flush=True)
    if cls.SETTINGS:
        print(f"type `set KEY=VALUE ...` to change {', '.join(cls.SETTINGS)}; `help` for more", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    if hasattr(signal, "SIGTTIN"):
        signal.signal(signal.SIGTTIN, signal.SIG_IGN)  # see _control
    # stdin is read on its own thread: a signal must end the simulator even while a read waits,
    # and the end of stdin (a sim started in the background) must not.
    threading.Thread(target=_control, args=(sim, sys.stdin, sys.stdout, sys.stderr), daemon=True,
                     name="sim-control").start()
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
    return 0


def _control(sim, lines, out, err) -> None:
    """Commands typed into a running simulator, one a line: `set KEY=VALUE ...`, `help`.

    Started in the background of a shell (`vestibule sim ... &`), reading the terminal would stop
    the whole simulator (SIGTTIN): _sim ignores that signal, so the read fails with EIO instead
    and is tried again now and then, and `fg` brings the controls back."""
    while True:
        try:
            line = lines.readline()
        except OSError as exc:
            if exc.errno != errno.EIO:
                return
            time.sleep(1.0)  # in the background of a shell: wait to be brought to the foreground
            continue
        except ValueError:  # stdin closed under us
            return
        if not line:
            return  # end of input; the simulator runs on until stopped
        words = line.split()
        if not words:
            continue
        try:
            print(_command(sim, words), file=out, flush=True)
        except ValueError as exc:
            print(f"error: {exc}", file=err, flush=True)


def _command(sim, words: list[str]) -> str:
    if words[0] == "help":
        if not sim.SETTINGS:
            return "this simulator has no live settings"
        return "\n".join(["set KEY=VALUE ... with:"] +
                         [f"  {key:<8} {setting.help}" for key, setting in sim.SETTINGS.items()])
    if words[0] != "set" or len(words) < 2:
        raise ValueError(f"unknown command {' '.join(words)!r}; type `set KEY=VALUE ...` or `help`")
    applied = sim.set(**dict(_parse_setting(w) for w in words[1:]))
    return "ok " + " ".join(f"{k}={v}" for k, v in applied.items())
