"""What the kiosk screens show, as plain data: input rules and the texts built from the node's
answers. No Kivy here, so every rule is tested without a display.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from ui.i18n import DATE_ORDER, DATE_SEPARATOR, STRINGS, tr

BOOKING_CODE = re.compile(r"^[A-Z0-9][A-Z0-9-]{2,31}$")  # mqtt.models.BookingCode
CODE_MAX = 32
PHONE_MAX = 16  # "+" and 15 digits
RECEPTION_SERVICE = "registration"
# On-screen keys: booking codes are A–Z, 0–9 and "-"; phone and birth date are digits.
CODE_ROWS = ["1234567890", "ABCDEFGHIJ", "KLMNOPQRST", "UVWXYZ-"]
PHONE_ROWS = ["123", "456", "789", "+0"]
BIRTH_ROWS = ["123", "456", "789", " 0"]


@dataclass
class Session:
    """Everything one patient entered; dropped whole on idle timeout or "start over"."""
    lang: str
    code: str = ""
    phone: str = "+7"
    birth: str = ""  # digits only, in the language's date order
    purpose: str = "checkin"  # what the phone + birth date are for: "checkin" or "sameday"
    by: str = "code"  # how the booking is looked up: "code" or "phone"
    child: bool = False  # the appointment shown for confirmation is a child's
    specialty: str | None = None
    slot: dict | None = None
    representative: bool | None = None
    priority: bool = False
    feedback_for: dict = field(default_factory=dict)  # {"ticket": ...} or {"booking": ...}


# -- input ------------------------------------------------------------------------------------
def scanned_code(text: str) -> str | None:
    """A booking code from what the scanner read: the code itself, or a link whose last part or
    `code=` parameter is the code (SMS QR codes are often links)."""
    text = (text or "").strip()
    match = re.search(r"[?&]code=([A-Za-z0-9-]+)", text)
    if match:
        text = match.group(1)
    elif "/" in text:
        text = text.rstrip("/").rsplit("/", 1)[-1]
    text = text.upper()
    return text if BOOKING_CODE.match(text) else None


def code_ok(code: str) -> bool:
    return bool(BOOKING_CODE.match(code))


TICKET_NUMBER = re.compile(r"^[A-Z][0-9]{3}$")  # mqtt.commands.FeedbackCommand.ticket


def ticket_ok(text: str) -> bool:
    return bool(TICKET_NUMBER.match(text))


def type_code(code: str, key: str) -> str:
    return code if len(code) >= CODE_MAX else code + key


def type_phone(phone: str, key: str) -> str:
    if key == "+":
        return phone if phone else "+"
    return phone if len(phone) >= PHONE_MAX else phone + key


def phone_number(typed: str) -> str | None:
    """The number as the node expects it (+ and 10–15 digits); a Russian 8-prefix becomes +7."""
    digits = re.sub(r"\D", "", typed)
    if not typed.startswith("+"):
        if len(digits) == 11 and digits[0] == "8":
            digits = "7" + digits[1:]
        elif len(digits) == 10 and digits[0] == "9":
            digits = "7" + digits
    if not 10 <= len(digits) <= 15:
        return None
    return "+" + digits


def show_phone(typed: str) -> str:
    """Groups digits so the patient can check them: +7 921 555 44 17."""
    digits = re.sub(r"\D", "", typed)
    plus = "+" if typed.startswith("+") else ""
    if plus and digits.startswith("7") and len(digits) <= 11:
        rest = digits[1:]
        groups = [rest[:3], rest[3:6], rest[6:8], rest[8:10]]
        return " ".join(["+7"] + [g for g in groups if g])
    return plus + " ".join(digits[i:i + 3] for i in range(0, len(digits), 3))


def type_birth(birth: str, key: str) -> str:
    return birth if len(birth) >= 8 else birth + key


def show_birth(birth: str, lang: str) -> str:
    """The typed digits in the date mask of the language: 02.04.19__ or 1961-04-__."""
    order, sep = DATE_ORDER.get(lang, "dmy"), DATE_SEPARATOR.get(lang, ".")
    widths = {"d": 2, "m": 2, "y": 4}
    out, at = [], 0
    for part in order:
        chunk = birth[at:at + widths[part]]
        out.append(chunk + "_" * (widths[part] - len(chunk)))
        at += widths[part]
    return sep.join(out)


def birth_date(birth: str, lang: str, today: date) -> date | None:
    """The date typed, if it is a real date between 1900 and today."""
    if len(birth) != 8 or not birth.isdigit():
        return None
    order = DATE_ORDER.get(lang, "dmy")
    parts, at = {}, 0
    for part in order:
        width = 4 if part == "y" else 2
        parts[part] = int(birth[at:at + width])
        at += width
    try:
        value = date(parts["y"], parts["m"], parts["d"])
    except ValueError:
        return None
    return value if date(1900, 1, 1) <= value <= today else None


# -- the node's answers -------------------------------------------------------------------------
@dataclass
class Choice:
    id: str
    name: str
    waiting: int | None = None  # kiosk.info's waiting count, when the node sends it
    wait_minutes: int | None = None  # and its estimate


@dataclass
class KioskInfo:
    period: str = "day"
    greeting: str | None = None  # the controller's own text in the asked language
    core_online: bool = True
    site: str | None = None
    services: list[Choice] = field(default_factory=list)
    specialties: list[Choice] = field(default_factory=list)
    printer_state: str = "ready"  # mqtt.commands.PrinterInfo.state
    printer_problems: list[str] = field(default_factory=list)


def _count(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _choices(items, lang: str) -> list[Choice]:
    out = []
    for item in items or []:
        if isinstance(item, dict) and item.get("id"):
            out.append(Choice(str(item["id"]), str(item.get("name") or item["id"]),
                              waiting=_count(item.get("waiting")), wait_minutes=_count(item.get("wait_minutes"))))
    return out


def wait_text(choice: Choice, lang: str) -> str:
    """"3 waiting · about 12 min" under a walk-in service, when kiosk.info says so."""
    if choice.waiting is None:
        return ""
    if choice.wait_minutes is None:
        return tr("wait_count", lang, n=choice.waiting)
    return tr("wait_line", lang, n=choice.waiting, minutes=choice.wait_minutes)


PAPER_OUT = "paper_out"  # devices.status.PAPER_OUT, as kiosk.info reports it


def printer_note(info: KioskInfo, lang: str) -> str:
    """What the welcome screen says about the printer before anyone takes a ticket."""
    if PAPER_OUT in info.printer_problems:
        return tr("paper_out", lang)
    if info.printer_state in ("fault", "offline"):
        return tr("printer_down", lang)
    return ""


def specialty_name(specialty: str, lang: str, fallback: str | None = None) -> str:
    key = f"specialty_{specialty}"
    name = tr(key, lang)
    return name if name != key else fallback or specialty


def config_services(config, lang: str) -> list[Choice]:
    """Walk-in services from the node config, for before the controller has answered."""
    return [Choice(s.id, s.names.get(lang) or s.names.get("ru") or s.id) for s in config.services]


def _specialties(services: list[tuple[str | None, str]], lang: str) -> list[Choice]:
    """Same-day specialties: those of the walk-in services, each called by its own name."""
    out: list[Choice] = []
    for specialty, service_name in services:
        if specialty and specialty not in {c.id for c in out}:
            out.append(Choice(specialty, specialty_name(specialty, lang, service_name)))
    return out


def parse_info(data: dict, lang: str, config=None) -> KioskInfo:
    """kiosk.info's answer (mqtt.commands.KioskInfoResult); what it leaves out comes from the node
    config the kiosk was started with, so the kiosk draws its screens before the first answer."""
    info = KioskInfo()
    greeting = data.get("greeting")
    if isinstance(greeting, str) and greeting:
        if f"greeting_{greeting}" in STRINGS["ru"]:
            info.period = greeting  # a period name rather than a sentence
        else:
            info.greeting = greeting
    if "core_online" in data:
        info.core_online = bool(data["core_online"])
    info.site = data.get("site") or None
    printer = data.get("printer")
    if isinstance(printer, dict):
        info.printer_state = str(printer.get("state") or "ready")
        info.printer_problems = [str(p) for p in printer.get("problems") or []]
    info.services = _choices(data.get("services"), lang)
    info.specialties = _specialties([(item.get("specialty"), str(item.get("name") or "")) for item in
                                     data.get("services") or [] if isinstance(item, dict)], lang)
    if config is not None:
        info.services = info.services or config_services(config, lang)
        info.specialties = info.specialties or _specialties(
            [(s.specialty, s.names.get(lang) or s.id) for s in config.services], lang)
    return info


def hhmm(value: str | datetime | None) -> str:
    """Clock time of an ISO timestamp as the site wrote it (its own UTC offset)."""
    if not value:
        return ""
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        return ""
    return moment.strftime("%H:%M")


def times_in(message: str) -> list[str]:
    """Every HH:MM in a message, e.g. when an early patient may check in."""
    found = re.findall(r"\b([01]?\d|2[0-3]):([0-5]\d)\b", message or "")  # not "." : that takes dates
    return [f"{int(h):02d}:{m}" for h, m in found]


def time_in(message: str) -> str | None:
    found = times_in(message)
    return found[0] if found else None


def where(room, floor, lang: str) -> str:
    if not room:
        return ""
    if floor is None:
        return tr("where_room", lang, room=room)
    return tr("where_room_floor", lang, room=room, floor=floor)


def directions(floor, lang: str) -> str:
    if floor is None:
        return ""
    return tr("directions_ground", lang) if int(floor) <= 1 else tr("directions_up", lang, floor=floor)


@dataclass
class ResultView:
    """The result screen: the number large, where to go in bold, then a few plain lines."""
    number: str
    main: list[str]
    lines: list[str]
    printed: bool
    feedback_for: dict = field(default_factory=dict)


def _feedback_for(data: dict) -> dict:
    return {"ticket": data["ticket"]} if data.get("ticket") else {}


def checkin_view(data: dict, lang: str, reception: tuple[str | None, int | None] = (None, None)) -> ResultView:
    """`reception`: room and floor of registration, where a first visit goes before the doctor."""
    route, doctor = data.get("route", "doctor"), data.get("doctor") or ""
    if data.get("specialty"):
        doctor += f" ({data['specialty']})"
    place = where(data.get("room"), data.get("floor"), lang)
    at = tr("at_time", lang, time=hhmm(data.get("start")))
    if route == "box":
        main, lines = [tr("route_box", lang), place], [directions(data.get("floor"), lang)]
    elif route == "registration":
        main = [tr("route_registration", lang), where(reception[0], reception[1], lang)]
        lines = [tr("route_registration_then", lang, doctor=doctor), place, at]  # registration staff direct on
    else:
        main, lines = [tr("route_doctor", lang, doctor=doctor), place], [at, directions(data.get("floor"), lang)]
    if route == "doctor" and data.get("ahead") is not None:  # the doctor's queue, right after the time
        queue = tr("ahead", lang, n=int(data["ahead"]))  # one line: the screen has room for one more
        if data.get("wait_minutes") is not None:
            queue += " · " + tr("wait_minutes", lang, n=max(1, round(data["wait_minutes"])))
        lines.insert(lines.index(at) + 1 if at in lines else len(lines), queue)
    return ResultView(number=str(data.get("ticket", "")), main=[x for x in main if x],
                      lines=[x for x in lines if x], printed=bool(data.get("printed", True)),
                      feedback_for=_feedback_for(data))


def ticket_view(data: dict, lang: str) -> ResultView:
    service = str(data.get("service_name") or data.get("service") or "")
    if data.get("priority"):
        service += f" · {tr('priority_mark', lang)}"
    doctor = tr("route_doctor", lang, doctor=data["doctor"]) if data.get("doctor") else ""
    lines = [tr("ahead", lang, n=int(data.get("ahead", 0))), directions(data.get("floor"), lang)]
    if data.get("wait_minutes") is not None:  # the queue's estimate, once it has one
        lines.insert(1, tr("wait_minutes", lang, n=max(1, round(data["wait_minutes"]))))
    return ResultView(number=str(data.get("ticket", "")),
                      main=[x for x in (service, doctor, where(data.get("room"), data.get("floor"), lang)) if x],
                      lines=[x for x in lines if x], printed=bool(data.get("printed", True)),
                      feedback_for=_feedback_for(data))


@dataclass
class ErrorView:
    code: str
    title: str
    lines: list[str]
    big: str = ""  # e.g. the time to come back, shown large
    reception: bool = True  # offer a reception ticket with one tap
    retry: bool = False
    calm: bool = False  # not a failure (booked, come back later): the title is not red


_TITLES = {"not_found": "err_not_found", "too_early": "err_too_early", "too_late": "err_too_late",
           "cancelled": "err_cancelled", "other_site": "err_other_site", "invalid": "err_invalid",
           "refused": "err_refused", "slot_taken": "err_slot_taken", "no_answer": "err_no_answer",
           "core_offline": "err_sameday_off", "no_slots": "slots_none", "representative_missing": "err_rep_missing"}


def error_view(code: str, message: str, lang: str, early_minutes: int = 30) -> ErrorView:
    """What the patient sees when the node says no; `message` is the node's, read only for a time."""
    title = tr(_TITLES.get(code, "err_generic"), lang)
    if code == "too_early":
        back = time_in(message)
        return ErrorView(code, title, [tr("err_too_early_text", lang, minutes=early_minutes)],
                         big=tr("err_too_early_back", lang, time=back) if back else "", reception=False, calm=True)
    if code in ("not_found", "invalid"):
        return ErrorView(code, title, [tr(f"err_{code}_text", lang)], retry=True)
    if code == "slot_taken":
        return ErrorView(code, title, [], reception=False, retry=True)
    if code == "no_answer":  # the node itself is unreachable: a ticket request would fail the same way
        return ErrorView(code, title, [tr("err_go_reception", lang)], reception=False)
    return ErrorView(code, title, [tr("err_go_reception", lang)])


def booked_view(data: dict, lang: str, early_minutes: int) -> ErrorView:
    """Same-day booking made but no check-in yet (too early): when and where, and when to come back."""
    start = data.get("start")
    # the message names the booked time first, then the check-in time
    times = times_in(data.get("message", "")) if data.get("checkin_error") == "too_early" else []
    back = times[-1] if times else None
    if back is None and start:
        try:
            back = hhmm(datetime.fromisoformat(str(start)) - timedelta(minutes=early_minutes))
        except ValueError:
            back = None
    lines = [tr("route_doctor", lang, doctor=data.get("doctor") or ""), where(data.get("room"), None, lang)]
    return ErrorView("booked", tr("sameday_booked", lang, time=hhmm(start)), [x for x in lines if x],
                     big=tr("err_too_early_back", lang, time=back) if back else "", reception=False, calm=True)


def slot_label(slot: dict, lang: str) -> str:
    start, room = hhmm(slot.get("start")), slot.get("room", "")
    doctor = slot.get("doctor") or slot.get("doctor_name")
    if not doctor:  # the contract's slot has no name; our stand-in adds one
        return f"{start}   {tr('where_room', lang, room=room)}"
    return tr("slot_line", lang, time=start, doctor=doctor, room=room)


def slot_lines(slot: dict, lang: str) -> list[tuple[str, str]]:
    """(label, value) rows of the same-day slot the patient is about to book."""
    rows = [("label_time", hhmm(slot.get("start"))),
            ("label_doctor", slot.get("doctor") or slot.get("doctor_name")),
            ("label_where", where(slot.get("room"), slot.get("floor"), lang))]
    return [(tr(label, lang), str(value)) for label, value in rows if value]


def confirm_lines(data: dict, lang: str) -> list[tuple[str, str]]:
    """(label, value) rows of the appointment the patient is asked to confirm."""
    doctor = data.get("doctor")
    if doctor and data.get("specialty"):
        doctor += f" ({data['specialty']})"
    rows = [("label_patient", data.get("patient")),
            ("label_doctor", doctor),
            ("label_time", hhmm(data.get("start"))),
            ("label_where", where(data.get("room"), data.get("floor"), lang))]
    return [(tr(label, lang), str(value)) for label, value in rows if value]
