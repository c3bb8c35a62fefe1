"""The one catalog (foundation/locale/*.po) serves screen, receipt and voice: every key in every
language with the same placeholders, every key the code names exists, and one fallback rule."""
from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from foundation import i18n

ROOT = Path(__file__).resolve().parents[1]
ENGLISH = i18n.catalog("en")
APP_SECTIONS = ("screening", "board")  # ui/screening_*.py read `screening.*`, ui/board_*.py `board.*`


@pytest.mark.parametrize("lang", i18n.LANGS)
def test_every_key_exists_in_every_language(lang):
    own = i18n.catalog(lang)
    assert set(own) == set(ENGLISH), {"missing": sorted(set(ENGLISH) - set(own)),
                                      "extra": sorted(set(own) - set(ENGLISH))}


@pytest.mark.parametrize("lang", i18n.LANGS)
def test_every_translation_has_the_placeholders_of_english(lang):
    own = i18n.catalog(lang)
    wrong = {key: (own[key], ENGLISH[key]) for key in ENGLISH
             if key in own and i18n.placeholders(own[key]) != i18n.placeholders(ENGLISH[key])}
    assert wrong == {}


def _keys_named_in_code() -> set[str]:
    named: set[str] = set()
    ui_key = re.compile(r"""\btr\(\s*['"]([a-z0-9_]+)['"]""")
    kiosk_key = re.compile(r"""\btexts\.text\(\s*[\w.]+,\s*['"]([a-z0-9_.]+)['"]""")
    direct = re.compile(r"""\bi18n\.text\(\s*['"]([a-z0-9_.]+)['"]""")
    for path in [*ROOT.glob("ui/*.py"), *ROOT.glob("ui/*.kv")]:
        # each app's own `tr` reads its own section of the catalog
        section = next((s for s in APP_SECTIONS if path.name.startswith(s)), "ui")
        named |= {f"{section}.{k}" for k in ui_key.findall(path.read_text(encoding="utf-8"))
                  if not k.startswith("greeting_")}
    board_key = re.compile(r"""\btext\(\s*\w+,\s*['"]([a-z0-9_]+)['"]""")
    for path in ROOT.glob("ui/board_*.py"):
        named |= {"board." + k for k in board_key.findall(path.read_text(encoding="utf-8"))}
    for path in ROOT.glob("kiosk/**/*.py"):
        source = path.read_text(encoding="utf-8")
        named |= {"kiosk." + k for k in kiosk_key.findall(source)}
        named |= set(direct.findall(source))
    return named


def test_every_key_the_code_names_is_in_the_catalog():
    named = _keys_named_in_code()
    assert len(named) > 50  # the scan found the kiosk's texts at all
    # a key that ends in "." or "_" is a prefix completed at run time (e.g. tr("decision_" + decision))
    assert sorted(k for k in named if k not in ENGLISH and not k.endswith((".", "_"))) == []


def test_a_missing_key_or_language_falls_back_to_english_and_is_logged(caplog):
    caplog.set_level(logging.WARNING, logger="vestibule.i18n")
    assert i18n.text("greeting.morning", "fr") == ENGLISH["greeting.morning"]
    assert i18n.text("no.such.key", "ru") == "no.such.key"
    assert any("no.such.key" in r.getMessage() for r in caplog.records)


def test_screen_receipt_and_voice_name_a_specialty_alike():
    from devices.printer.layout import labels
    from kiosk.features.calls.announcer import phrase
    from kiosk.features.lobby import texts
    from ui.i18n import tr
    assert texts.specialty("therapist", "en") == tr("specialty_therapist", "en") == "Therapist"
    assert labels("zh")["your_number"] == i18n.text("receipt.your_number", "zh")
    assert "12" in phrase("ru", "A023", "12") and phrase("ru", "A023", "12") != phrase("en", "A023", "12")
