"""Hotplug: a pyudev netlink monitor where the kernel offers one; polling otherwise.

Containers and CI have no udev netlink socket, so the manager never depends on events: a
device that is gone is retried on a backoff anyway, and an `add` event only cuts the wait short.
"""
from __future__ import annotations

import logging
from typing import Callable

log = logging.getLogger("vestibule.hotplug")


class HotplugMonitor:
    def __init__(self, on_add: Callable[[str], None]):
        self.on_add = on_add
        self._observer = None

    def start(self) -> bool:
        """True when events will arrive; False means the caller relies on its retry backoff."""
        try:
            import pyudev
            context = pyudev.Context()
            monitor = pyudev.Monitor.from_netlink(context)
            monitor.filter_by("tty")
            monitor.filter_by("usb")

            def event(device):
                if device.action == "add":
                    self.on_add(device.device_node or device.sys_path)

            self._observer = pyudev.MonitorObserver(monitor, callback=event, name="udev-monitor")
            self._observer.daemon = True
            self._observer.start()
            log.info("udev hotplug monitor running")
            return True
        except Exception as exc:  # ImportError, no netlink in a container, no permission
            log.info("no udev hotplug events here (%s); devices are retried on a backoff", exc)
            return False

    def stop(self) -> None:
        if self._observer is not None:
            try:
                self._observer.stop()
            except Exception:
                pass
