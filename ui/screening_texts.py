"""Every string the screening post app shows: the one catalog's `screening.*` keys (foundation/i18n.py).

Staff wear gloves and masks and read the screen at arm's length: short words, big numbers.
"""
from __future__ import annotations

from foundation import i18n

LANGS = i18n.LANGS
LANG_NAMES = {"ru": "RU", "zh": "中文", "en": "EN"}

# The post's texts are the catalog's `screening.*` keys (foundation/locale/*.po).
TEXTS = {lang: i18n.section("screening", lang) for lang in LANGS}
RU, ZH, EN = TEXTS["ru"], TEXTS["zh"], TEXTS["en"]
REASONS = ("reason_remeasured", "reason_doctor", "reason_device", "reason_staff")


def tr(key: str, lang: str, **values) -> str:
    return i18n.text("screening." + key, lang, **values)
