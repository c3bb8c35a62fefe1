"""A controller process that emits a burst of events and prints each event id once committed.

Used by the kill -9 test: every id printed was committed, so every id printed must reach the
core, however often this process is killed.
Run: python -m tests.support.producer CONFIG COUNT [INTERVAL_S (default 0.002)]
"""
from __future__ import annotations

import logging
import sys
import time

from foundation.config import load_config
from kiosk.node.controller import Controller


def main() -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    config = load_config(sys.argv[1])
    count = int(sys.argv[2])
    interval = float(sys.argv[3]) if len(sys.argv) > 3 else 0.002
    controller = Controller(config)
    controller.start()
    data = {"ticket": "A001", "service": "registration", "priority": False, "channel": "kiosk",
            "booking": None, "kiosk": "kiosk-1", "printed": True}
    for _ in range(count):
        event_id = controller.outbox.emit("ticket.issued", data)
        print(event_id, flush=True)
        time.sleep(interval)
    print("BURST-DONE", flush=True)
    while True:  # keep relaying until killed
        time.sleep(1)


if __name__ == "__main__":
    sys.exit(main())
