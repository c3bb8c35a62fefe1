"""The espeak-ng voice of each site language, shared by the node's call announcements and the
kiosk's read-aloud results, so a patient hears one voice per language at the entrance."""
from __future__ import annotations

ESPEAK_VOICES = {"ru": "ru", "en": "en-gb", "zh": "cmn"}
