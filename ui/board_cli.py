"""`vestibule board`: the waiting room's TV call board. Kivy is imported only when it runs."""
from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", required=True, help="node configuration (TOML) with a [boards.ID] section")
    p.add_argument("--board", required=True, help="this board's id, e.g. tv-1")
    p.add_argument("--windowed", action="store_true", help="a normal window, for development and the demo")
    p.add_argument("--size", help="window size (WIDTHxHEIGHT, or fit: 16:9 in what the display has right of --at, "
                        "at most 960x540; default from the board's orientation)")
    p.add_argument("--at", help="window position X,Y on the display with --windowed (e.g. beside the kiosk)")
    p.add_argument("--lang", choices=("ru", "zh", "en"), help="one language only (no alternation)")
    p.add_argument("--password-file", help="the board role's broker password")
    p.add_argument("--state-file", type=Path, help=argparse.SUPPRESS)  # tests: what the board shows, as JSON
    p.add_argument("--snap", type=Path, help=argparse.SUPPRESS)  # tests: a PNG once the states arrived


def register(sub: argparse._SubParsersAction) -> None:
    board = sub.add_parser("board", help="the waiting room's TV call board (full screen unless --windowed)")
    add_arguments(board)
    board.set_defaults(func=_board)


def _board(args) -> int:
    from ui.board_app import run
    return run(args)
