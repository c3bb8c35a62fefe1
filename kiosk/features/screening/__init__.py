"""The screening post (issue 8): `build(section, ctx)` on the feature contract (kiosk/node/feature.py)."""
from __future__ import annotations

from kiosk.features.screening.feature import ScreeningFeature, build

__all__ = ["ScreeningFeature", "build"]
