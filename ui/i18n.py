"""Every string the kiosk shows comes from the one catalog (foundation/i18n.py, `ui.*` keys).

The kv file only names keys; `tr(key, lang, **values)` fills the {placeholders}. Texts are short:
many patients are elderly, so one idea per line, no jargon.
"""
from __future__ import annotations

from datetime import datetime, time

from foundation import i18n

LANGS = i18n.LANGS

# Each language's own name, shown on the language buttons whatever the current language.
LANG_NAMES = {"ru": "Русский", "zh": "中文", "en": "English"}

# The kiosk's texts are the catalog's `ui.*` keys (foundation/locale/*.po); STRINGS is that
# section per language, for code that walks every text.
STRINGS = {lang: i18n.section("ui", lang) for lang in LANGS}
RU = STRINGS["ru"]

# How each language writes a birth date: the order the keypad fills and the mask it shows.
DATE_ORDER = {"ru": "dmy", "zh": "ymd", "en": "dmy"}
DATE_SEPARATOR = {"ru": ".", "zh": "-", "en": "."}


def tr(key: str, lang: str, **values) -> str:
    """A kiosk text; `greeting_<period>` keys are the catalog's shared greetings."""
    if key.startswith("greeting_"):
        return i18n.text("greeting." + key.removeprefix("greeting_"), lang, **values)
    if not i18n.has("ui." + key):
        return key  # not a key: a literal such as a score digit, shown as it is
    return i18n.text("ui." + key, lang, **values)


placeholders = i18n.placeholders


def greeting_key(period: str) -> str:
    return f"greeting_{period}" if i18n.has(f"greeting.{period}") else "greeting_day"


def local_period(now: datetime | time) -> str:
    """The same rule the controller applies (07–11, 11–17, 17–22), for when it has not answered."""
    from foundation.config import greeting_period
    return greeting_period(now.time() if isinstance(now, datetime) else now)
