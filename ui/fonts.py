"""One font for every language on the kiosk: Noto Sans CJK (Debian fonts-noto-cjk), which carries
Latin, Cyrillic and CJK glyphs, so a Russian, Chinese or English screen never shows empty boxes.

Kivy's SDL2 text provider opens face 0 of a collection (the JP face); we copy the SC face out once
into a cache so Chinese renders with simplified-Chinese glyph forms. If the cache cannot be
written we fall back to the collection itself (JP forms, same coverage) rather than not starting.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from ui import sfnt

log = logging.getLogger("vestibule.ui.fonts")

FONT_NAME = "VestibuleSans"
FONT_DIRS = (Path("/usr/share/fonts/opentype/noto"), Path("/usr/share/fonts/opentype/noto-cjk"))
FILES = {"regular": "NotoSansCJK-Regular.ttc", "bold": "NotoSansCJK-Bold.ttc"}
PREFERRED_FACE = "Noto Sans CJK SC"


class FontMissing(RuntimeError):
    """The CJK font is not installed: the kiosk would show boxes instead of Russian and Chinese."""


@dataclass(frozen=True)
class KioskFonts:
    regular: Path
    bold: Path


def _find(name: str) -> Path:
    override = os.environ.get("VESTIBULE_FONT_DIR")
    folders = ([Path(override)] if override else []) + list(FONT_DIRS)
    for folder in folders:
        if (folder / name).is_file():
            return folder / name
    searched = ", ".join(str(d) for d in folders)
    raise FontMissing(f"font {name} not found (looked in {searched}); install the Debian package "
                      f"fonts-noto-cjk (apt-get install fonts-noto-cjk) or set VESTIBULE_FONT_DIR")


def cache_dir() -> Path:
    base = os.environ.get("VESTIBULE_CACHE_DIR") or os.environ.get("XDG_CACHE_HOME")
    return Path(base) / "vestibule" if base else Path.home() / ".cache" / "vestibule"


def _face_file(source: Path) -> Path:
    """The SC face of `source` as its own file, made once per installed font version."""
    stat = source.stat()
    target = cache_dir() / "fonts" / f"{source.stem}-SC-{stat.st_size}-{int(stat.st_mtime)}.otf"
    if target.is_file():
        return target
    data = sfnt.load(source)
    faces = sfnt.read_faces(data)
    face = next((f for f in faces if f.family.startswith(PREFERRED_FACE)), None)  # "... SC Bold" too
    if face is None or len(faces) == 1:
        return source  # a plain font file, or a collection without an SC face: use as is
    return sfnt.extract_face(data, face, target)


def locate() -> KioskFonts:
    """The font files the kiosk renders with; raises FontMissing with what to install."""
    paths = {}
    for weight, name in FILES.items():
        source = _find(name)
        try:
            paths[weight] = _face_file(source)
        except (OSError, sfnt.FontFileError) as exc:
            log.warning("using %s as is (JP glyph forms): %s", source, exc)
            paths[weight] = source
    return KioskFonts(regular=paths["regular"], bold=paths["bold"])


def register() -> KioskFonts:
    """Register the font with Kivy and make it the default for every Label and Button."""
    from kivy.config import Config
    from kivy.core.text import LabelBase

    fonts = locate()
    LabelBase.register(name=FONT_NAME, fn_regular=str(fonts.regular), fn_bold=str(fonts.bold))
    # Roboto (Kivy's default) has no CJK; every widget that does not name a font gets ours.
    Config.set("kivy", "default_font", [FONT_NAME, str(fonts.regular), str(fonts.regular),
                                        str(fonts.bold), str(fonts.bold)])
    LabelBase.register(name="Roboto", fn_regular=str(fonts.regular), fn_bold=str(fonts.bold))
    return fonts

