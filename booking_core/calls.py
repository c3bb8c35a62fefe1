"""Which ticket the demo core calls next, and to which room. No MQTT here.

Tickets are remembered from `ticket.issued` and `checkin.completed` (either may arrive first);
the oldest uncalled ticket whose room is known is called next.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

MAX_TICKETS = 2000  # a demo runs for hours at most; called tickets beyond this are forgotten


@dataclass
class PendingTicket:
    ticket: str
    service: str | None
    room: str | None
    called: bool = False


class CallQueue:
    def __init__(self, room_for_service: Callable[[str], str | None]):
        self._room_for_service = room_for_service
        self._tickets: OrderedDict[str, PendingTicket] = OrderedDict()
        self._lock = threading.Lock()

    def ticket_issued(self, ticket: str, service: str, booking_room: str | None = None) -> None:
        with self._lock:
            entry = self._tickets.get(ticket)
            if entry is None:
                room = booking_room or self._room_for_service(service)
                self._tickets[ticket] = PendingTicket(ticket, service, room)
                self._trim()
            else:
                entry.service = entry.service or service

    def checked_in(self, ticket: str, room: str, service: str | None) -> None:
        """The check-in names the doctor's room: it wins over a guess from the service."""
        with self._lock:
            entry = self._tickets.get(ticket)
            if entry is None:
                self._tickets[ticket] = PendingTicket(ticket, service, room)
                self._trim()
            elif not entry.called:
                entry.room = room
                entry.service = entry.service or service

    def next_call(self) -> PendingTicket | None:
        """The oldest uncalled ticket with a room, marked called."""
        with self._lock:
            for entry in self._tickets.values():
                if not entry.called and entry.room:
                    entry.called = True
                    return PendingTicket(entry.ticket, entry.service, entry.room, True)
        return None

    def waiting(self) -> int:
        with self._lock:
            return sum(1 for e in self._tickets.values() if not e.called)

    def _trim(self) -> None:
        while len(self._tickets) > MAX_TICKETS:
            oldest_called = next((k for k, e in self._tickets.items() if e.called), None)
            if oldest_called is None:
                break
            del self._tickets[oldest_called]
