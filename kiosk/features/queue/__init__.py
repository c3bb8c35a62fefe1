"""Queue state of the day: waiting counts, last called tickets and wait estimates per service
and room (`node/{node}/queue/state`). `build(section, ctx)` is in kiosk.features.queue.feature."""
from kiosk.features.queue.feature import build

__all__ = ["build"]
