"""Names for the USB ids a technician meets at a clinic entrance, and what each usually carries.

A generic USB-serial bridge (CP210x, CH340, FTDI, Prolific) says nothing about the device behind
it: the hint only decides which probe goes first. Vendors that make whole devices (Epson, Star,
Honeywell...) name the device kind outright.
"""
from __future__ import annotations

# (vendor, product or None for any product) -> (name, kinds it usually is, most likely first)
KNOWN: dict[tuple[int, int | None], tuple[str, tuple[str, ...]]] = {
    (0x10C4, 0xEA60): ("Silicon Labs CP210x USB-serial", ("oximeter", "thermometer", "display")),
    (0x10C4, 0xEA70): ("Silicon Labs CP2105 dual USB-serial", ("oximeter", "display")),
    (0x1A86, 0x7523): ("WCH CH340 USB-serial", ("thermometer", "display", "oximeter")),
    (0x1A86, 0x55D4): ("WCH CH9102 USB-serial", ("thermometer", "display", "oximeter")),
    (0x0403, 0x6001): ("FTDI FT232R USB-serial", ("thermometer", "display", "oximeter")),
    (0x0403, 0x6015): ("FTDI FT231X USB-serial", ("thermometer", "display", "oximeter")),
    (0x0403, 0x6010): ("FTDI FT2232 dual USB-serial", ("display", "thermometer")),
    (0x067B, 0x2303): ("Prolific PL2303 USB-serial", ("display", "oximeter", "thermometer")),
    (0x2E8A, 0x0005): ("Raspberry Pi Pico (MicroPython)", ("thermometer",)),
    (0x303A, None): ("Espressif ESP32 (MicroPython)", ("thermometer",)),
    (0x04B8, None): ("Seiko Epson printer", ("printer",)),
    (0x0519, None): ("Star Micronics printer", ("printer",)),
    (0x0DD4, None): ("Custom Engineering printer", ("printer",)),
    (0x0FE6, 0x811E): ("ICS Advent / Xprinter thermal printer", ("printer",)),
    (0x0416, 0x5011): ("Winbond-based thermal printer", ("printer",)),
    (0x1FC9, 0x2016): ("Rongta thermal printer", ("printer",)),
    (0x0C2E, None): ("Honeywell (Metrologic) scanner", ("scanner",)),
    (0x05E0, None): ("Zebra (Symbol) scanner", ("scanner",)),
    (0x05F9, None): ("Datalogic scanner", ("scanner",)),
    (0x1EAB, None): ("Newland scanner", ("scanner",)),
    (0x2DD6, None): ("Zebex / Netum scanner", ("scanner",)),
    (0x28E9, None): ("GigaDevice-based scanner", ("scanner",)),
}


def lookup(vendor: int | None, product: int | None) -> tuple[str | None, tuple[str, ...]]:
    """(name, likely kinds) for a VID:PID; (None, ()) when unknown."""
    if vendor is None:
        return None, ()
    for key in ((vendor, product), (vendor, None)):
        if key in KNOWN:
            return KNOWN[key]
    return None, ()
