"""One translation catalog for the screens, the receipts and the voice.

The catalog is gettext: one PO file per language in foundation/locale/, read with Babel, and
edited with any PO editor. Message ids are dotted keys (`kiosk.error.not_found`,
`receipt.your_number`, `voice.call`, `greeting.morning`, `ui.welcome_prompt`); English holds the
reference text. Placeholders are `{name}` fields filled by `text(..., name=value)`.

One fallback rule everywhere: a language the catalog lacks, or a key missing in a language, is
answered in English, and the miss is logged once. A test fails when any key is missing in any
language or when a translation's placeholders differ from English's, so in a release the rule
never has to act.
"""
from __future__ import annotations

import logging
import threading
from functools import lru_cache
from pathlib import Path
from string import Formatter

from babel.messages.pofile import read_po

log = logging.getLogger("vestibule.i18n")

LANGS = ("ru", "zh", "en")
FALLBACK = "en"
LOCALE_DIR = Path(__file__).with_name("locale")

_missed: set[tuple[str, str]] = set()
_missed_lock = threading.Lock()


@lru_cache(maxsize=None)
def catalog(lang: str) -> dict[str, str]:
    """Every key of one language; empty when the language has no PO file."""
    path = LOCALE_DIR / f"{lang}.po"
    if not path.exists():
        return {}
    with path.open("rb") as fh:
        return {m.id: m.string for m in read_po(fh) if m.id and m.string}


def text(key: str, lang: str, **values) -> str:
    """The text of `key` in `lang` (else English), with its {placeholders} filled."""
    found = catalog(lang).get(key)
    if found is None:
        found = catalog(FALLBACK).get(key)
        with _missed_lock:
            if (key, lang) not in _missed:
                _missed.add((key, lang))
                log.warning("no %s text for %s; %s", lang, key, "English used" if found else "the key is shown")
        if found is None:
            return key
    return found.format(**values) if values else found


def has(key: str) -> bool:
    return key in catalog(FALLBACK)


def section(prefix: str, lang: str) -> dict[str, str]:
    """The keys under `prefix.` in one language (prefix stripped), English filling the gaps."""
    start = prefix + "."
    merged = {k[len(start):]: v for k, v in catalog(FALLBACK).items() if k.startswith(start)}
    merged.update({k[len(start):]: v for k, v in catalog(lang).items() if k.startswith(start)})
    return merged


def placeholders(message: str) -> set[str]:
    return {name for _, name, _, _ in Formatter().parse(message) if name}
