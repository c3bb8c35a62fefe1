"""`vestibule device status printer` and `vestibule device print`: the technician's printer checks.

Printer options ride in the URL query, e.g.
    vestibule device print --printer "serial:///dev/ttyUSB0?baud=115200&scripts=latin,cyrillic,cjk"
    vestibule device print --preview receipt.png --sample receipt --lang zh   # no printer: a PNG
Exit codes: 0 the printer answered and can print; 1 it cannot (fault, unreachable, silent).
"""
from __future__ import annotations

import json
from typing import TextIO

from devices.printer.document import parse_documents
from devices.printer.driver import EscposPrinter
from devices.printer.layout import layout_for, sample_receipt, sample_ticket
from devices.printer.options import PrinterOptions
from devices.printer.preview import save_preview
from devices.printer.render import render
from devices.status import DeviceState
from devices.url import parse_device_url


def _printer(url_text: str, profile: str | None = None) -> EscposPrinter:
    options = {"profile": profile} if profile else {}
    return EscposPrinter("cli", parse_device_url(url_text), options)


def status(printer: str, as_json: bool, out: TextIO) -> int:
    device = _printer(printer)
    device.open()
    try:
        device.query_status()
        result = device.status()
    finally:
        device.close()
    if as_json:
        print(json.dumps({"state": result.state.value, "problems": list(result.problems)}), file=out, flush=True)
    else:
        problems = ", ".join(result.problems) or "none"
        print(f"printer {printer}: {result.state.value} (problems: {problems})", file=out, flush=True)
    return 1 if result.state in (DeviceState.FAULT, DeviceState.OFFLINE) else 0


def print_sample(printer: str, sample: str, lang: str, out: TextIO, profile: str | None = None) -> int:
    device = _printer(printer, profile)
    doc = sample_receipt(lang) if sample == "receipt" else sample_ticket(lang)
    data = render(layout_for(doc), device.printer_options)
    device.open()
    try:
        outcome = device.print_job(data)
    finally:
        device.close()
    problems = ", ".join(outcome.problems) or "none"
    if outcome.printed:
        print(f"printed sample {sample} ({lang}, {len(data)} bytes) on {printer}; problems: {problems}",
              file=out, flush=True)
        return 0
    verb = "sent but not confirmed" if outcome.sent else "not printed"
    print(f"sample {sample} ({lang}) {verb} on {printer}: {problems}", file=out, flush=True)
    return 1


def preview_sample(path: str, sample: str, lang: str, out: TextIO, profile: str | None = None) -> int:
    """The same bytes a printer would get, parsed back and drawn: what the paper would show."""
    doc = sample_receipt(lang) if sample == "receipt" else sample_ticket(lang)
    options = {"scripts": "latin,cyrillic,cjk", **({"profile": profile} if profile else {})}
    data = render(layout_for(doc), PrinterOptions.from_mapping(options))
    [parsed] = parse_documents(data)
    saved = save_preview(parsed, path)
    print(f"preview of sample {sample} ({lang}, {len(data)} bytes) written to {saved}", file=out, flush=True)
    return 0
