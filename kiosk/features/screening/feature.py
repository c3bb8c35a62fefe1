"""The screening feature's wiring: its commands, its bus listener, its table, its purge."""
from __future__ import annotations

from kiosk.features.screening.lookup import BookingFinder
from kiosk.features.screening.post import ScreeningPosts, create_tables
from kiosk.node.core_link import CoreAway, CoreRefused
from kiosk.node.feature import BaseFeature, FeatureContext
from mqtt.commands import (
    ScreeningAnswersCommand,
    ScreeningCancelCommand,
    ScreeningCompleteCommand,
    ScreeningInfoCommand,
    ScreeningMeasureCommand,
    ScreeningStartCommand,
)


def _device_state(devices):
    """device id -> its state now ("ready", ..., "offline"), from the device manager."""
    def state(device_id: str) -> str | None:
        for status in devices.statuses():
            if status.device == device_id:
                return status.state.value
        return None
    return state


class ScreeningFeature(BaseFeature):
    name = "screening"

    def __init__(self, posts: ScreeningPosts, bus):
        self.posts = posts
        self._bus = bus

    def commands(self):
        p = self.posts
        return {
            "screening.info": (ScreeningInfoCommand, p.info),
            "screening.start": (ScreeningStartCommand, p.start),
            "screening.measure": (ScreeningMeasureCommand, p.measure),
            "screening.answers": (ScreeningAnswersCommand, p.answers),
            "screening.complete": (ScreeningCompleteCommand, p.complete),
            "screening.cancel": (ScreeningCancelCommand, p.cancel),
        }

    def tables(self, db) -> None:
        create_tables(db)

    def start(self) -> None:
        self._bus.listen("device.reading", self.posts.on_reading)

    def get_status(self) -> dict:
        self.posts.expire()
        return {"posts": sorted(self.posts.posts), "open_sessions": self.posts.open_sessions()}

    def purge(self, cutoff_day: str) -> None:
        self.posts.purge(cutoff_day)


def build(section, ctx: FeatureContext) -> ScreeningFeature:
    finder = BookingFinder(ctx.schedule, ctx.core, ctx.store, core_away=(CoreAway,), core_refused=CoreRefused)
    posts = ScreeningPosts(section, devices_config=ctx.config.devices, languages=ctx.site.languages,
                           default_language=ctx.site.default_language, clock=ctx.clock, store=ctx.store,
                           outbox=ctx.outbox, finder=finder, device_state=_device_state(ctx.devices))
    return ScreeningFeature(posts, ctx.bus)
