"""`vestibule kiosk`: the lobby kiosk touch-screen app. Kivy is imported only when it runs, so
registering this command costs the other `vestibule` commands nothing."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

LANGS = ("ru", "zh", "en")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="node configuration (TOML)")
    p.add_argument("--kiosk", default="kiosk-1", help="this kiosk's id (the role of its scanner and printer)")
    p.add_argument("--windowed", action="store_true", help="a normal window, for development")
    p.add_argument("--lang", choices=LANGS, help="the language the kiosk returns to (default: the site's)")
    p.add_argument("--size", default="1280x1024", help="window size with --windowed (WIDTHxHEIGHT)")
    p.add_argument("--idle-timeout", type=float, default=None,
                   help="seconds without a touch before starting over (default: kiosk.idle_timeout_s of the config)")
    p.add_argument("--dpi", type=float, default=None,
                   help="the screen's pixels per inch (default: kiosk.dpi of the config)")
    p.add_argument("--password-file", help="the kiosk's broker password (default: KIOSK-ID.password next to the node's)")
    p.add_argument("--state-file", type=Path, help=argparse.SUPPRESS)  # tests: the current screen as JSON
    p.add_argument("--snap-dir", type=Path, help=argparse.SUPPRESS)  # tests: a PNG of every screen shown


def add_screening_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="node configuration (TOML)")
    p.add_argument("--post", default="screening-1", help="this post's id (the role of its thermometer and oximeter)")
    p.add_argument("--windowed", action="store_true", help="a normal window, for development")
    p.add_argument("--lang", choices=LANGS, help="the language the post returns to (default: the site's)")
    p.add_argument("--size", default="1280x800", help="window size (WIDTHxHEIGHT)")
    p.add_argument("--password-file", help="the post's broker password (default: POST-ID.password next to the node's)")
    p.add_argument("--tour", metavar="OUTDIR", help="render every screen with sample data to OUTDIR and exit")
    p.add_argument("--state-file", type=Path, help=argparse.SUPPRESS)  # tests: what the post shows, as JSON


def register(sub: argparse._SubParsersAction) -> None:
    kiosk = sub.add_parser("kiosk", help="the lobby kiosk touch-screen app (full screen unless --windowed)")
    add_arguments(kiosk)
    kiosk.set_defaults(func=_kiosk)
    screening = sub.add_parser("screening", help="the screening post's staff app (full screen unless --windowed)")
    add_screening_arguments(screening)
    screening.set_defaults(func=_screening)


def _screening(args) -> int:
    from ui.screening_app import run
    return run(args)


def _kiosk(args) -> int:
    if not args.config:
        print("vestibule kiosk: --config is required", file=sys.stderr)
        return 2
    from ui.kiosk_app import run
    return run(args)
