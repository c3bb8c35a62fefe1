"""Which driver and which simulator serve a (kind, protocol) pair; imported lazily by name."""
from __future__ import annotations

import importlib

DRIVERS: dict[tuple[str, str], str] = {
    ("printer", "escpos"): "devices.printer.driver:EscposPrinter",
    ("oximeter", "contec"): "devices.oximeter.driver:ContecOximeter",
    ("oximeter", "nonin"): "devices.oximeter.driver:NoninOximeter",
    ("thermometer", "bridge"): "devices.thermometer.driver:BridgeThermometer",
    ("thermometer", "optris"): "devices.thermometer.driver:OptrisThermometer",
    ("display", "alpha"): "devices.display.driver:AlphaBoard",
    ("display", "modbus"): "devices.display.driver:ModbusNumberBoard",
    ("scanner", "cdc"): "devices.scanner.driver:LineScanner",
    ("scanner", "hid"): "devices.scanner.driver:HidScanner",
}

SIMULATORS: dict[tuple[str, str], str] = {
    ("printer", "escpos"): "devices.printer.sim:EscposPrinterSim",
    ("oximeter", "contec"): "devices.oximeter.sim:ContecSim",
    ("oximeter", "nonin"): "devices.oximeter.sim:NoninSim",
    ("thermometer", "bridge"): "devices.thermometer.bridge_sim:BridgeBoardSim",
    ("thermometer", "optris"): "devices.thermometer.sim:OptrisSim",
    ("display", "alpha"): "devices.display.sim:AlphaBoardSim",
    ("display", "modbus"): "devices.display.sim:ModbusBoardSim",
    ("scanner", "cdc"): "devices.scanner.sim:LineScannerSim",
}

KINDS = sorted({kind for kind, _ in DRIVERS})


def protocols_for(kind: str, table: dict = DRIVERS) -> list[str]:
    return sorted(p for k, p in table if k == kind)


def _load(path: str):
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def driver_class(kind: str, protocol: str):
    try:
        return _load(DRIVERS[(kind, protocol)])
    except KeyError:
        raise KeyError(f"no driver for kind {kind!r} with protocol {protocol!r}; "
                       f"known: {', '.join(f'{k}/{p}' for k, p in sorted(DRIVERS))}") from None


def simulator_class(kind: str, protocol: str):
    try:
        return _load(SIMULATORS[(kind, protocol)])
    except KeyError:
        raise KeyError(f"no simulator for {kind}/{protocol}; "
                       f"known: {', '.join(f'{k}/{p}' for k, p in sorted(SIMULATORS))}") from None
