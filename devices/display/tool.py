"""`vestibule device show --display URL --protocol alpha|modbus [--address A] [--no-answer] --text TEXT`."""
from __future__ import annotations

import sys

from devices.display import alpha, modbus
from devices.display.driver import AlphaBoard, ModbusNumberBoard
from devices.url import parse_device_url


def show(display: str, protocol: str, address: str | None, text: str, out, answers: bool = True) -> int:
    """Show `text` on one board; 0 when the board confirmed it (or, one-way, when the packet left
    the port), 1 with a message otherwise.

    Device problems (missing port, board not answering) raise DeviceError, which the CLI turns
    into `error: ...` and exit 1; bad input (text a board cannot show) is reported here."""
    url = parse_device_url(display)
    options = {} if address is None else {"address": address}
    try:  # refuse what a board cannot show before touching the port
        if protocol == "alpha":
            alpha.to_sign_text(text)
            if not answers or alpha.normalize_address(address) == alpha.BROADCAST:
                options["answers"] = False
            board = AlphaBoard("cli-display", url, options)
            def action():
                return board.show(text)
        elif protocol == "modbus":
            if not answers:
                raise ValueError("--no-answer is for one-way Alpha signs; a Modbus board always echoes")
            number = _whole_number(text)
            modbus.to_register(number)
            board = ModbusNumberBoard("cli-display", url, options)
            def action():
                return board.show_number(number)
        else:
            raise ValueError(f"unknown display protocol {protocol!r}; expected alpha or modbus")
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    with board:
        action()
    where = f"sign {board.address}" if protocol == "alpha" else f"unit {board.unit}"
    if board.answers:
        print(f"shown on {protocol} {where} at {url.path}: {text}", file=out, flush=True)
    else:
        print(f"sent to {protocol} {where} at {url.path} (one-way: not confirmed): {text}", file=out, flush=True)
    return 0


def _whole_number(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise ValueError(f"a Modbus number board shows a whole number; --text {text!r} is not one") from None
