"""The `vestibule` command: one entry point, subcommands registered by the package that owns them."""
from __future__ import annotations

import argparse
import importlib
import sys

# (module, function) pairs that add their subcommands to the parser.
_REGISTRARS = [
    "kiosk.cli_node:register",
    "devices.cli:register",
    "kiosk.cli_core:register",
    "ui.cli:register",
    "kiosk.cli_voice:register",
    "ui.board_cli:register",
    "provisioning.cli:register",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vestibule", description="Clinic entrance node")
    sub = parser.add_subparsers(dest="command", required=True)
    for spec in _REGISTRARS:
        module, _, name = spec.partition(":")
        try:
            getattr(importlib.import_module(module), name)(sub)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
