"""The stand-in core's SQLite file: appointments (with full phones), the event inbox, check-ins.

Built on foundation.store.Store (WAL, one lock, BEGIN IMMEDIATE transactions). Its tables are created
here, by the core alone, so a node's store never grows core tables.
A partial unique index on (site, doctor, start) of booked rows makes a double booking impossible
even when two booking.create requests race.
"""
from __future__ import annotations

import json
import sqlite3
from datetime import date, datetime
from pathlib import Path

from foundation.store import Store
from booking_core.records import CoreAppointment, phone_key
from mqtt.models import EventEnvelope


class SlotTaken(Exception):
    """Another booked appointment already holds this doctor's slot."""


_APPOINTMENT_COLUMNS = {
    "booking": str, "site": str, "day": str, "status": str, "full_name": str, "display": str,
    "birth_date": str, "phone": str, "phone_key": str, "first_visit": int, "doctor_id": str,
    "doctor_name": str, "specialty": str, "room": str, "floor": int, "start": str, "end": str,
    "flags": str, "origin": str,
}


def _row(a: CoreAppointment, tz) -> dict:
    return {
        "booking": a.booking, "site": a.site, "day": a.start.astimezone(tz).date().isoformat(),
        "status": a.status, "full_name": a.full_name, "display": a.display,
        "birth_date": a.birth_date.isoformat(), "phone": a.phone, "phone_key": phone_key(a.phone),
        "first_visit": int(a.first_visit), "doctor_id": a.doctor_id, "doctor_name": a.doctor_name,
        "specialty": a.specialty, "room": a.room, "floor": a.floor,
        # one spelling per instant, in the site's offset, so the unique index compares like with like
        "start": a.start.astimezone(tz).isoformat(), "end": a.end.astimezone(tz).isoformat(),
        "flags": json.dumps(list(a.flags)), "origin": a.origin,
    }


def _appointment(row: dict) -> CoreAppointment:
    return CoreAppointment(
        booking=row["booking"], site=row["site"], status=row["status"], full_name=row["full_name"],
        display=row["display"], birth_date=date.fromisoformat(row["birth_date"]), phone=row["phone"],
        first_visit=bool(row["first_visit"]), doctor_id=row["doctor_id"], doctor_name=row["doctor_name"],
        specialty=row["specialty"], room=row["room"], floor=row["floor"],
        start=datetime.fromisoformat(row["start"]), end=datetime.fromisoformat(row["end"]),
        flags=tuple(json.loads(row["flags"])), origin=row["origin"])


class CoreStore:
    def __init__(self, path: str | Path, tz):
        self.tz = tz
        self.store = Store(path)
        self._create_tables()

    def _create_tables(self) -> None:
        db = self.store.db
        with self.store.lock:
            db["appointments"].create(_APPOINTMENT_COLUMNS, pk="booking", if_not_exists=True)
            db.execute("CREATE UNIQUE INDEX IF NOT EXISTS appointments_slot ON appointments (site, doctor_id, start)"
                       " WHERE status = 'booked'")
            db["appointments"].create_index(["phone_key", "birth_date"], if_not_exists=True)
            db["appointments"].create_index(["day", "site"], if_not_exists=True)
            # arrival order is the rowid
            db["inbox"].create({"id": str, "type": str, "node": str, "session": int, "seq": int,
                                "historical": int, "ts": str, "received": str, "envelope": str},
                               if_not_exists=True)
            db["inbox"].create_index(["id"], unique=True, if_not_exists=True)
            db["checkins"].create({"booking": str, "ticket": str, "at": str}, pk=("booking", "ticket"),
                                  if_not_exists=True)
            # the doctors told that their patient went to the isolation box (routing.box)
            db["notifications"].create({"event": str, "booking": str, "doctor_id": str, "doctor": str, "at": str},
                                       pk="event", if_not_exists=True)

    def close(self) -> None:
        self.store.close()

    # -- schedule ----------------------------------------------------------------------------
    def version(self, day: date) -> int:
        return self.store.meta(f"version:{day.isoformat()}")

    def generated_at(self, day: date) -> int:
        """Unix time the day was generated (0: never)."""
        return self.store.meta(f"generated:{day.isoformat()}")

    def replace_day(self, day: date, appointments: list[CoreAppointment], generated_at: int) -> int:
        """Swap the whole day (every site) for `appointments`; returns the new snapshot version."""
        with self.store.transaction() as tx:
            tx.execute("DELETE FROM appointments WHERE day = ?", (day.isoformat(),))
            rows = [_row(a, self.tz) for a in appointments]
            if rows:  # one statement for the whole day: a 100,000-appointment day in about a second
                columns = list(rows[0])
                names = ", ".join(f'"{c}"' for c in columns)
                tx.conn.executemany(f"INSERT INTO appointments ({names}) VALUES ({', '.join('?' * len(columns))})",
                                    [tuple(r[c] for c in columns) for r in rows])
            tx.meta_set(f"generated:{day.isoformat()}", generated_at)
            return tx.meta_increment(f"version:{day.isoformat()}")

    def add(self, appointment: CoreAppointment) -> int:
        """Insert one appointment; raises SlotTaken. Returns the new version of its day."""
        row = _row(appointment, self.tz)
        try:
            with self.store.transaction() as tx:
                tx.insert("appointments", row)
                return tx.meta_increment(f"version:{row['day']}")
        except sqlite3.IntegrityError as exc:
            if "appointments.booking" in str(exc):
                raise ValueError(f"booking {appointment.booking} exists already") from None
            raise SlotTaken(f"{appointment.doctor_id} at {row['start']} is booked") from None

    def set_status(self, booking: str, status: str) -> tuple[CoreAppointment, int] | None:
        """Change a booking's status; returns it and its day's new version, or None if unknown."""
        with self.store.transaction() as tx:
            row = tx.execute("SELECT day FROM appointments WHERE booking = ?", (booking,)).fetchone()
            if row is None:
                return None
            tx.execute("UPDATE appointments SET status = ? WHERE booking = ?", (status, booking))
            version = tx.meta_increment(f"version:{row[0]}")
        return self.get(booking), version

    def get(self, booking: str) -> CoreAppointment | None:
        rows = self.store.query("SELECT * FROM appointments WHERE booking = ?", (booking,))
        return _appointment(rows[0]) if rows else None

    def by_phone(self, phone: str, birth: date) -> list[CoreAppointment]:
        rows = self.store.query("SELECT * FROM appointments WHERE phone_key = ? AND birth_date = ? ORDER BY start",
                                (phone_key(phone), birth.isoformat()))
        return [_appointment(r) for r in rows]

    def day(self, day: date, site: str | None = None) -> list[CoreAppointment]:
        if site is None:
            rows = self.store.query("SELECT * FROM appointments WHERE day = ?", (day.isoformat(),))
        else:
            rows = self.store.query("SELECT * FROM appointments WHERE day = ? AND site = ?", (day.isoformat(), site))
        return sorted((_appointment(r) for r in rows), key=lambda a: (a.start, a.doctor_id))

    def all(self) -> list[CoreAppointment]:
        return sorted((_appointment(r) for r in self.store.query("SELECT * FROM appointments")),
                      key=lambda a: (a.start, a.doctor_id))

    def days(self) -> list[date]:
        return [date.fromisoformat(r["day"]) for r in self.store.query("SELECT DISTINCT day FROM appointments")]

    def clear_day(self, day: date) -> None:
        """Forget a past day's patients (personal data is kept for the day only)."""
        with self.store.transaction() as tx:
            tx.execute("DELETE FROM appointments WHERE day = ?", (day.isoformat(),))

    # -- check-ins ---------------------------------------------------------------------------
    def add_checkin(self, booking: str, ticket: str, at: datetime) -> bool:
        """Record an accepted check-in; False when the same (booking, ticket) was recorded before."""
        with self.store.transaction() as tx:
            cur = tx.execute("INSERT OR IGNORE INTO checkins (booking, ticket, at) VALUES (?, ?, ?)",
                             (booking, ticket, at.isoformat()))
            return cur.rowcount == 1

    def checkins(self) -> list[dict]:
        return self.store.query("SELECT booking, ticket, at FROM checkins ORDER BY rowid")

    # -- inbox -------------------------------------------------------------------------------
    def record_event(self, envelope: EventEnvelope, received: datetime) -> bool:
        """Keep an event once: True when new, False (and counted) when its id was seen before."""
        with self.store.transaction() as tx:
            cur = tx.execute(
                "INSERT OR IGNORE INTO inbox (id, type, node, session, seq, historical, ts, received, envelope)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (envelope.id, envelope.type, envelope.node, envelope.session, envelope.seq,
                 int(envelope.historical), envelope.ts.isoformat(), received.isoformat(),
                 envelope.model_dump_json()))
            if cur.rowcount == 1:
                return True
            tx.meta_increment("duplicate_events")
            return False

    def count_malformed(self) -> int:
        with self.store.transaction() as tx:
            return tx.meta_increment("malformed_events")

    def inbox(self) -> list[EventEnvelope]:
        rows = self.store.query("SELECT envelope FROM inbox ORDER BY rowid")
        return [EventEnvelope.model_validate_json(r["envelope"]) for r in rows]

    def inbox_ids(self) -> list[str]:
        return [r["id"] for r in self.store.query("SELECT id FROM inbox ORDER BY rowid")]

    def inbox_count(self) -> int:
        return self.store.query("SELECT COUNT(*) AS n FROM inbox")[0]["n"]

    def counter(self, name: str) -> int:
        return self.store.meta(name)


    # -- doctors' notifications --------------------------------------------------------------
    def add_notification(self, event_id: str, booking: str, doctor_id: str, doctor: str, at: datetime) -> None:
        with self.store.transaction() as tx:
            tx.execute("INSERT OR IGNORE INTO notifications (event, booking, doctor_id, doctor, at) VALUES (?,?,?,?,?)",
                       (event_id, booking, doctor_id, doctor, at.isoformat()))

    def notifications(self) -> list[dict]:
        return self.store.query("SELECT event, booking, doctor_id, doctor, at FROM notifications ORDER BY rowid")
