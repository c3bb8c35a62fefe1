"""`vestibule devcore`: run the booking-core stand-in until SIGTERM or SIGINT."""
from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

DEFAULT_CALL_INTERVAL_S = 20.0


def register(sub: argparse._SubParsersAction) -> None:
    core = sub.add_parser("devcore", help="run the booking-core stand-in (demos and tests; not the real core)")
    core.add_argument("--config", required=True, help="node config: site, time zone, broker, services")
    core.add_argument("--demo", action="store_true",
                      help="appointments around now and calls of issued tickets on a timer")
    core.add_argument("--db", default=None, help="the stand-in's SQLite file (default: devcore.db next to the node store)")
    core.add_argument("--call-interval", type=float, default=None, metavar="S",
                      help=f"seconds between demo calls (default {DEFAULT_CALL_INTERVAL_S:g}; 0 turns calls off)")
    core.add_argument("--seed", type=int, default=7, help="seed of the generated schedule")
    core.add_argument("--username", default=None, help="broker user (default: core, when --password-file is given)")
    core.add_argument("--password-file", default=None, help="file holding the broker password")
    core.add_argument("--log-level", default="INFO")
    core.set_defaults(func=_run)


def _run(args) -> int:
    from kiosk.node.config import ConfigError, load_node_config as load_config
    logging.basicConfig(level=getattr(logging, str(args.log_level).upper(), logging.INFO),
                        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s", stream=sys.stderr)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    password = None
    if args.password_file:
        try:
            password = Path(args.password_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            print(f"{args.password_file}: {exc.strerror}", file=sys.stderr)
            return 2
    username = args.username or ("core" if password else None)
    interval = args.call_interval if args.call_interval is not None else DEFAULT_CALL_INTERVAL_S
    db = Path(args.db) if args.db else config.node.store.parent / "devcore.db"

    from booking_core.service import DevCore
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    core = DevCore(config, db, demo=args.demo, call_interval_s=interval if args.demo else None, seed=args.seed,
                   username=username, password=password)
    core.start()
    try:
        stop.wait()
    finally:
        core.stop()
    return 0
