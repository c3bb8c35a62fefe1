"""Every character the kiosk can show is in the character map of the font it renders with, so no
Russian or Chinese patient ever sees empty boxes."""
from __future__ import annotations

import tomllib

import pytest
from PIL import ImageFont

from tests.conftest import ROOT
from ui import fonts, i18n, sfnt
from ui.kiosk_model import BIRTH_ROWS, CODE_ROWS, PHONE_ROWS


def _shown_texts() -> dict[str, str]:
    """(where, text) for every string the kiosk can put on screen by itself."""
    texts = {f"i18n {lang}.{key}": text for lang in i18n.LANGS for key, text in i18n.STRINGS[lang].items()}
    texts.update({f"language button {lang}": name for lang, name in i18n.LANG_NAMES.items()})
    texts["keys"] = "".join(CODE_ROWS + PHONE_ROWS + BIRTH_ROWS) + "_.:-"  # keys, masks, times
    example = tomllib.loads((ROOT / "config" / "example.toml").read_text(encoding="utf-8"))
    for service in example["services"]:
        texts.update({f"service {service['id']}.{lang}": name for lang, name in service["names"].items()})
    texts.update({f"site name {lang}": name for lang, name in example["site"]["name"].items()})
    return texts


@pytest.fixture(scope="module")
def kiosk_fonts():
    return fonts.locate()


@pytest.fixture(scope="module")
def cmap(kiosk_fonts):
    maps = []
    for path in (kiosk_fonts.regular, kiosk_fonts.bold):
        data = sfnt.load(path)
        maps.append(sfnt.codepoints(data, sfnt.read_faces(data)[0]))
    return maps


def test_every_string_of_every_language_is_in_the_fonts_character_map(cmap):
    missing = {}
    for where, text in _shown_texts().items():
        for ch in set(text) - {" ", "\n"}:
            for weight, codepoints in zip(("regular", "bold"), cmap):
                if ord(ch) not in codepoints:
                    missing.setdefault(f"{ch!r} U+{ord(ch):04X} ({weight})", []).append(where)
    assert not missing, missing


def test_the_character_map_reader_reports_what_the_font_lacks(cmap):
    regular = cmap[0]
    assert ord("Ж") in regular and ord("诊") in regular and ord("A") in regular
    assert ord("\u2610") not in regular  # BALLOT BOX: not in Noto Sans CJK, so the check can fail
    assert 0x1F600 not in regular  # an emoji


def test_the_app_renders_with_the_simplified_chinese_face(kiosk_fonts):
    for path in (kiosk_fonts.regular, kiosk_fonts.bold):
        faces = sfnt.read_faces(sfnt.load(path))
        assert len(faces) == 1 and faces[0].family.startswith("Noto Sans CJK SC"), faces[0].family


def test_the_extracted_face_draws_real_glyphs_not_the_missing_glyph_box(kiosk_fonts):
    font = ImageFont.truetype(str(kiosk_fonts.regular), 48)
    notdef = font.getmask("\u2610").getbbox()  # a character the font lacks draws .notdef
    for ch in "ЖяЁ诊號号AQ7":
        mask = font.getmask(ch)
        assert mask.getbbox() is not None, ch
        assert mask.getbbox() != notdef or bytes(mask) != bytes(font.getmask("\u2610")), ch


def test_kivy_is_given_the_font_as_its_default(kiosk_fonts):
    from kivy.core.text import LabelBase
    fonts.register()
    assert LabelBase._fonts[fonts.FONT_NAME][0] == str(kiosk_fonts.regular)
    assert LabelBase._fonts["Roboto"][0] == str(kiosk_fonts.regular)  # widgets that name no font
    assert LabelBase._fonts[fonts.FONT_NAME][2] == str(kiosk_fonts.bold)


def test_a_missing_font_stops_the_kiosk_with_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("VESTIBULE_FONT_DIR", str(tmp_path))
    monkeypatch.setattr(fonts, "FONT_DIRS", (tmp_path / "none",))
    with pytest.raises(fonts.FontMissing, match="fonts-noto-cjk"):
        fonts.locate()


def test_an_unwritable_cache_falls_back_to_the_collection_itself(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("VESTIBULE_CACHE_DIR", str(blocker))
    located = fonts.locate()
    assert located.regular.suffix == ".ttc" and located.regular.is_file()
