"""Pure generation of the stand-in's day, and the free-slot arithmetic. No I/O, no clock.

Demo mode places the appointments around `now` (not around office hours) so that whenever the
demo runs there are patients due now, soon, later, and some who are too late; flags that change
the kiosk's route (cancelled, box, first visit) each hit at least one patient who is due now.
"""
from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from booking_core.names import person
from booking_core.records import (BOX_FLAG, CHILD_FLAG, DOCTORS, SPECIALTIES, CoreAppointment, DoctorInfo,
                                  doctors_of, new_booking_code)

SLOT = timedelta(minutes=15)
WORKDAY = (time(8, 0), time(20, 0))
DEMO_SLOTS_AHEAD = timedelta(hours=5)  # slots.search in demo mode: from now to this far ahead
OTHER_SITES = ("spb-primorsky", "spb-vyborgsky")
OTHER_SITE_BOOKINGS = 4
SIZE = 100
CANCELLED_SHARE, BOX_SHARE, FIRST_VISIT_SHARE = 0.08, 0.05, 0.15

# Demo buckets by minutes of (start - now), with how many of the day's appointments fall in each.
# "due_now" is the check-in window of the example config: 30 min early .. 15 min late.
DEMO_QUOTAS = {"too_late": 15, "due_now": 20, "soon": 20, "later": 45}
DEMO_SPAN = (-180, 300)
MAX_DENSITY = 0.4


Pick = tuple[DoctorInfo, datetime]


def day_grid(day: date, tz: ZoneInfo) -> list[datetime]:
    """Every 15-minute slot start of the local day."""
    midnight = datetime.combine(day, time(0), tzinfo=tz)
    return [midnight + SLOT * k for k in range(24 * 4)]


def _minutes(start: datetime, now: datetime) -> float:
    return (start - now).total_seconds() / 60


def bucket_of(start: datetime, now: datetime) -> str | None:
    offset = _minutes(start, now)
    if offset < DEMO_SPAN[0] or offset > DEMO_SPAN[1]:
        return None
    if offset < -15:
        return "too_late"
    if offset <= 30:
        return "due_now"
    return "soon" if offset <= 90 else "later"


def other_site_of(site_id: str) -> str:
    return next(s for s in OTHER_SITES if s != site_id)


def _workday_picks(rng: random.Random, day: date, tz: ZoneInfo, size: int) -> list[Pick]:
    start, end = (datetime.combine(day, t, tzinfo=tz) for t in WORKDAY)
    candidates = [(d, s) for d in DOCTORS for s in day_grid(day, tz) if start <= s < end]
    return rng.sample(candidates, min(size, len(candidates)))


def _demo_picks(rng: random.Random, day: date, tz: ZoneInfo, now: datetime, size: int) -> list[Pick]:
    every = [(d, s) for d in DOCTORS for s in day_grid(day, tz)]
    by_bucket: dict[str, list[Pick]] = {name: [] for name in DEMO_QUOTAS}
    for pick in every:
        if (bucket := bucket_of(pick[1], now)) is not None:
            by_bucket[bucket].append(pick)
    chosen: list[Pick] = []
    # one patient due now per specialty, so every route can be shown at once
    for specialty in SPECIALTIES:
        options = [p for p in by_bucket["due_now"] if p[0].specialty == specialty]
        if options:
            chosen.append(rng.choice(options))
    for name, quota in DEMO_QUOTAS.items():
        pool = [p for p in by_bucket[name] if p not in chosen]
        have = len(by_bucket[name]) - len(pool)
        # never fill a bucket beyond MAX_DENSITY: the kiosk must still find free slots to book
        want = min(quota, int(len(by_bucket[name]) * MAX_DENSITY)) - have
        chosen += rng.sample(pool, max(0, min(want, len(pool))))
    if len(chosen) < size:
        # the day's end (or start) cut a bucket short: the rest of the day takes the remainder
        taken = set(chosen)
        outside = [p for p in every if p not in taken and bucket_of(p[1], now) is None]
        chosen += rng.sample(outside, min(size - len(chosen), len(outside)))
    return chosen[:size]


def _pick_indices(rng: random.Random, pool: list[int], count: int, preferred: list[int]) -> set[int]:
    """`count` indices from `pool`, the first one from `preferred` when it has any."""
    chosen: set[int] = set()
    preferred = [i for i in preferred if i in pool]
    if preferred and count:
        chosen.add(rng.choice(preferred))
    rest = [i for i in pool if i not in chosen]
    chosen.update(rng.sample(rest, max(0, min(count - len(chosen), len(rest)))))
    return chosen


def _appointment(rng: random.Random, site: str, day: date, pick: Pick, taken_codes: set[str], taken_phones: set[str],
                 *, cancelled: bool, box: bool, first_visit: bool) -> CoreAppointment:
    doc, start = pick
    child = doc.specialty == "pediatrician"
    patient = person(rng, day, child=child, taken_phones=taken_phones)
    code = new_booking_code(rng)
    while code in taken_codes:
        code = new_booking_code(rng)
    taken_codes.add(code)
    flags = tuple(f for f, on in ((BOX_FLAG, box), (CHILD_FLAG, child)) if on)
    return CoreAppointment(
        booking=code, site=site, status="cancelled" if cancelled else "booked",
        full_name=patient.full_name, display=patient.display, birth_date=patient.birth_date, phone=patient.phone,
        first_visit=first_visit, doctor_id=doc.id, doctor_name=doc.name, specialty=doc.specialty,
        room=doc.room, floor=doc.floor, start=start, end=start + SLOT, flags=flags)


def generate_schedule(site_id: str, tz: ZoneInfo | str, day: date, now: datetime, seed: int,
                      demo: bool = True, size: int = SIZE) -> list[CoreAppointment]:
    """About `size` appointments of `site_id` on `day`, plus a few of another site; sorted by start.

    The same arguments always give the same schedule.
    """
    tz = ZoneInfo(tz) if isinstance(tz, str) else tz
    rng = random.Random(f"devcore:{seed}:{site_id}:{day.isoformat()}")
    picks = _demo_picks(rng, day, tz, now, size) if demo else _workday_picks(rng, day, tz, size)
    picks.sort(key=lambda p: (p[1], p[0].id))
    n = len(picks)
    everyone = list(range(n))
    due = [i for i, (_, s) in enumerate(picks) if bucket_of(s, now) == "due_now"] if demo else []
    cancelled = _pick_indices(rng, everyone, round(n * CANCELLED_SHARE), due)
    open_ = [i for i in everyone if i not in cancelled]
    box = _pick_indices(rng, open_, round(n * BOX_SHARE), due)
    first = _pick_indices(rng, [i for i in open_ if i not in box], round(n * FIRST_VISIT_SHARE), due)
    codes: set[str] = set()
    phones: set[str] = set()
    out = [_appointment(rng, site_id, day, p, codes, phones, cancelled=i in cancelled, box=i in box,
                        first_visit=i in first) for i, p in enumerate(picks)]
    out += _other_site(rng, other_site_of(site_id), day, tz, now, demo, codes, phones, set(picks))
    return out


def _other_site(rng: random.Random, site: str, day: date, tz: ZoneInfo, now: datetime, demo: bool,
                codes: set[str], phones: set[str], busy: set[Pick]) -> list[CoreAppointment]:
    """Bookings the kiosk must refuse as `other_site`; in demo mode they are due now too."""
    grid = day_grid(day, tz)
    if demo:
        starts = [s for s in grid if bucket_of(s, now) == "due_now"] or grid
    else:
        starts = [s for s in grid if WORKDAY[0] <= s.time() < WORKDAY[1]]
    adults = [d for d in DOCTORS if d.specialty != "pediatrician"]
    options = [(d, s) for d in adults for s in starts if (d, s) not in busy]
    picks = sorted(rng.sample(options, min(OTHER_SITE_BOOKINGS, len(options))), key=lambda p: (p[1], p[0].id))
    return [_appointment(rng, site, day, p, codes, phones, cancelled=False, box=False, first_visit=False)
            for p in picks]


def free_slots(appointments: list[CoreAppointment], site_id: str, specialty: str, day: date, tz: ZoneInfo,
               now: datetime, *, demo: bool) -> list[Pick]:
    """Free 15-minute slots of `day` after `now` for every doctor of `specialty`, by start then doctor.

    Office hours bound them; in demo mode the next few hours do instead, so a demo at night has slots.
    """
    if demo:
        first, last = now, now + DEMO_SLOTS_AHEAD
    else:
        first, last = (datetime.combine(day, t, tzinfo=tz) for t in WORKDAY)
    taken = {(a.doctor_id, a.start) for a in appointments if a.site == site_id and a.status == "booked"}
    slots = [(d, s) for s in day_grid(day, tz) for d in doctors_of(specialty)
             if s > now and first <= s < last and (d.id, s) not in taken]
    return slots


def on_grid(start: datetime, day: date, tz: ZoneInfo) -> bool:
    """True when `start` is one of the day's 15-minute slot starts."""
    return start in set(day_grid(day, tz))


def large_day_roster(size: int) -> list[DoctorInfo]:
    """Enough doctors for `size` appointments on the whole-day grid: the fixed roster first, then
    numbered colleagues in every specialty (a real site: 40 specialties, hundreds of doctors)."""
    needed = -(-size // (24 * 4))
    roster = list(DOCTORS)
    count = {s: len(doctors_of(s)) for s in SPECIALTIES}
    k = 0
    while len(roster) < needed:
        base = DOCTORS[k % len(DOCTORS)]
        count[base.specialty] = n = count[base.specialty] + 1
        roster.append(DoctorInfo(f"d-{base.specialty}-{n}", f"Врач {base.specialty} {n}", base.specialty,
                                 f"{base.room}-{n}", base.floor))
        k += 1
    return roster


def generate_large_day(site_id: str, tz: ZoneInfo | str, day: date, seed: int, size: int) -> list[CoreAppointment]:
    """`size` appointments of `site_id` spread over the whole day (every 15-minute slot of a large
    roster), for scale tests and benchmarks; same arguments, same day. Quick: no demo buckets."""
    tz = ZoneInfo(tz) if isinstance(tz, str) else tz
    rng = random.Random(f"devcore-large:{seed}:{site_id}:{day.isoformat()}:{size}")
    grid = day_grid(day, tz)
    roster = large_day_roster(size)
    codes: set[str] = set()
    phones: set[str] = set()
    out = []
    for i in range(size):
        pick = (roster[i // len(grid)], grid[i % len(grid)])
        draw = rng.random()
        out.append(_appointment(rng, site_id, day, pick, codes, phones, cancelled=draw < CANCELLED_SHARE,
                                box=CANCELLED_SHARE <= draw < CANCELLED_SHARE + BOX_SHARE,
                                first_visit=draw > 1 - FIRST_VISIT_SHARE))
    out.sort(key=lambda a: (a.start, a.doctor_id))
    return out
