"""The values an oximeter reading may carry, whatever the codec: one rule for Contec and Nonin.

Reportable ranges (inclusive):
  SpO2  50..100 %   No oximeter we drive is specified below 70 % (Contec CMS50D+ and Nonin OEM III
                    quote accuracy for 70..100 %); 50 leaves room for a genuinely low patient
                    while a value under it is noise, not a number to show a screening post.
  pulse 25..250 bpm The Contec CMS50D+ measures 30..250 bpm, the Nonin OEM III 18..321; 25..250
                    covers every patient who walks up to a kiosk and nothing a cable glitch invents.
Each protocol has its own "no value" markers (Contec 0 / 0x7F / 0xFF, Nonin HR 511 and SpO2 127):
a marker only blanks its own number (a device may show a pulse before it has a saturation).
Any other value outside its range is one the device cannot have measured: the packet is not to be
trusted (Contec has no checksum at all), so the reading carries neither number. A reading with
no numbers is never a good reading.
"""
from __future__ import annotations

SPO2_RANGE = (50, 100)
PULSE_RANGE = (25, 250)


def checked(spo2: int, pulse: int, no_spo2: frozenset[int], no_pulse: frozenset[int]
            ) -> tuple[int | None, int | None]:
    """(spo2, pulse) as a reading may carry them: markers -> None, an impossible value -> (None, None)."""
    s = None if spo2 in no_spo2 else spo2
    p = None if pulse in no_pulse else pulse
    if (s is not None and not SPO2_RANGE[0] <= s <= SPO2_RANGE[1]) or \
            (p is not None and not PULSE_RANGE[0] <= p <= PULSE_RANGE[1]):
        return None, None
    return s, p

