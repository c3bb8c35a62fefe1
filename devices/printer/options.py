"""Per-printer options, validated up front; an error names the option and what was expected.

Options come from the device's config section or from the URL query
(`serial:///dev/ttyUSB0?profile=RP326&scripts=latin,cyrillic,cjk`), so every value may arrive
as a string.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from devices.errors import BadDeviceURL

SCRIPTS = ("latin", "cyrillic", "cjk")
DEFAULT_SCRIPTS = ("latin", "cyrillic")  # a printer without a GB18030 font gets CJK as bitmaps
DEFAULT_WIDTH_PX = 576  # 80 mm paper at 203 dpi
FONT_A_WIDTH = 12  # dots per character cell of the printer's font A (12 x 24)


@dataclass(frozen=True)
class PrinterOptions:
    profile: str | None = None  # python-escpos profile name (code page table, paper width)
    cyrillic_codepage: int = 17  # ESC t n selecting PC866: Epson/default 17, Rongta 7, Star 10
    scripts: tuple[str, ...] = DEFAULT_SCRIPTS  # scripts the printer has fonts for
    width_px: int = DEFAULT_WIDTH_PX
    cut: str = "partial"  # "partial" | "full"
    kanji_on_at_init: bool = False  # some Chinese-market printers start in FS & mode

    @property
    def columns(self) -> int:
        return self.width_px // FONT_A_WIDTH

    def supports(self, script: str) -> bool:
        return script == "latin" or script in self.scripts

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any] | None = None) -> "PrinterOptions":
        options = dict(options or {})
        profile_name = options.get("profile") or None
        profile = load_profile(profile_name)
        codepage = options.get("cyrillic_codepage")
        if codepage is None:
            codepage = _profile_cyrillic_page(profile)
        scripts = _scripts(options.get("scripts", DEFAULT_SCRIPTS))
        width = options.get("width_px")
        if width is None:
            width = _profile_width(profile)
        cut = str(options.get("cut", "partial")).lower()
        if cut not in ("partial", "full"):
            raise BadDeviceURL(f"printer option cut={cut!r}: expected 'partial' or 'full'")
        return cls(
            profile=profile_name,
            cyrillic_codepage=_int("cyrillic_codepage", codepage, 0, 255),
            scripts=scripts,
            width_px=_int("width_px", width, 96, 2048),
            cut=cut,
            kanji_on_at_init=_bool("kanji_on_at_init", options.get("kanji_on_at_init", False)),
        )


def load_profile(name: str | None):
    from escpos.capabilities import get_profile

    try:
        return get_profile(name)
    except KeyError:
        raise BadDeviceURL(f"unknown python-escpos printer profile {name!r} "
                           "(see `python-escpos` capabilities, e.g. default, TM-T88V, RP326, TSP600)") from None


def _profile_cyrillic_page(profile) -> int:
    pages = profile.get_code_pages()
    return int(pages.get("CP866", 17))


def _profile_width(profile) -> int:
    try:
        return int(profile.profile_data["media"]["width"]["pixels"])
    except (KeyError, TypeError, ValueError):
        return DEFAULT_WIDTH_PX  # "Unknown" in the default profile


def _scripts(value) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [v for v in (p.strip() for p in value.split(",")) if v]
    scripts = tuple(str(v).lower() for v in value)
    unknown = [s for s in scripts if s not in SCRIPTS]
    if unknown:
        raise BadDeviceURL(f"printer option scripts: unknown script(s) {', '.join(unknown)}; "
                           f"expected some of {', '.join(SCRIPTS)}")
    return tuple(dict.fromkeys(("latin",) + scripts))


def _int(name: str, value, lo: int, hi: int) -> int:
    try:
        number = int(value, 0) if isinstance(value, str) else int(value)
    except (TypeError, ValueError):
        raise BadDeviceURL(f"printer option {name}={value!r}: expected a whole number") from None
    if not lo <= number <= hi:
        raise BadDeviceURL(f"printer option {name}={number}: expected {lo}..{hi}")
    return number


def _bool(name: str, value) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise BadDeviceURL(f"printer option {name}={value!r}: expected true or false")
