"""Ticket and receipt layouts as data: a document plus a language gives a list of blocks.

Blocks say *what* to print (text with alignment/size/bold, the big ticket number, a QR code,
a separator, a cut); render.py decides *how* in ESC/POS for a given printer. Keeping layouts as
data lets the same layout feed the printer, the preview and the tests.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Union

from foundation import i18n

Align = Literal["left", "center", "right"]
Size = Literal["normal", "tall", "double", "big"]  # 1x1, 1x2, 2x2, 4x4 character cells
LANGS = i18n.LANGS


# -- blocks ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Text:
    text: str
    align: Align = "left"
    size: Size = "normal"
    bold: bool = False


@dataclass(frozen=True)
class BigNumber:
    """The ticket number, as large as the printer's font allows."""
    text: str


@dataclass(frozen=True)
class QrCode:
    data: str
    module_size: int = 6  # dots per QR module (GS ( k function 167)


@dataclass(frozen=True)
class Separator:
    char: str = "-"


@dataclass(frozen=True)
class Feed:
    lines: int = 1


@dataclass(frozen=True)
class Cut:
    partial: bool = True  # a partial cut leaves the ticket hanging instead of dropping it


Block = Union[Text, BigNumber, QrCode, Separator, Feed, Cut]


# -- documents ------------------------------------------------------------------------------
@dataclass(frozen=True)
class TicketDoc:
    number: str  # "A023"
    service: str  # already in the ticket's language
    issued_at: datetime
    lang: str = "ru"
    priority: bool = False
    people_ahead: int = 0
    wait_minutes: float | None = None  # the queue's estimate; None: not enough calls today to say
    greeting: str = ""  # empty: the language's default greeting
    site: str = ""  # clinic name / address line
    footer: str = ""


@dataclass(frozen=True)
class ReceiptDoc:
    number: str
    patient_name: str  # masked: "Иванов И." (see mask_name); never the full name
    doctor_name: str
    specialty: str
    room: str
    appointment_at: datetime
    booking_code: str
    lang: str = "ru"
    floor: str = ""
    route_note: str = ""  # a catalog key under receipt.route ("registration_first") or free text
    first_stop: str = ""  # where the first stop is, e.g. "Регистратура, кабинет 1, этаж 1" (large, first)
    people_ahead: int | None = None  # in the doctor's queue; None: not printed (another first stop, a reprint)
    wait_minutes: float | None = None  # that queue's estimate; None: not enough calls today to say
    greeting: str = ""
    site: str = ""
    footer: str = ""


# -- per-language labels --------------------------------------------------------------------

FIRST_STOPS = frozenset({"registration_first", "isolation_box"})


def labels(lang: str) -> dict[str, str]:
    """The receipt's words in the language: the catalog's `receipt.*` keys (foundation/i18n.py)."""
    if lang not in LANGS:
        raise ValueError(f"unsupported language {lang!r}; expected one of {', '.join(LANGS)}")
    return i18n.section("receipt", lang)


def format_time(when: datetime, lang: str) -> str:
    if lang == "ru":
        return when.strftime("%d.%m.%Y %H:%M")
    return when.strftime("%Y-%m-%d %H:%M")  # unambiguous for zh and en readers alike


def route_note_text(note: str, lang: str) -> str:
    key = "receipt.route." + note
    return i18n.text(key, lang) if i18n.has(key) else note


def mask_name(full_name: str) -> str:
    """'Иванов Иван Иванович' -> 'Иванов И.'; '王小明' -> '王**'. Receipts never carry full names."""
    parts = full_name.split()
    if not parts:
        return ""
    if len(parts) == 1:
        name = parts[0]
        if any(_is_cjk(ch) for ch in name):
            return name[0] + "*" * (len(name) - 1)
        return name
    return f"{parts[0]} {parts[1][0]}."


def _is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"


# -- layouts --------------------------------------------------------------------------------
def ticket_layout(doc: TicketDoc) -> list[Block]:
    t = labels(doc.lang)
    blocks: list[Block] = []
    if doc.site:
        blocks.append(Text(doc.site, align="center", bold=True))
    blocks.append(Text(doc.greeting or t["greeting"], align="center"))
    blocks.append(Separator())
    blocks.append(Text(t["your_number"], align="center"))
    blocks.append(BigNumber(doc.number))
    blocks.append(Text(doc.service, align="center", size="tall", bold=True))
    if doc.priority:
        blocks.append(Text(t["priority"], align="center", size="double", bold=True))
    blocks.append(Feed())
    blocks.append(Text(t["people_ahead"].format(n=doc.people_ahead)))
    if doc.wait_minutes is not None:
        blocks.append(Text(t["wait_minutes"].format(n=max(1, round(doc.wait_minutes)))))
    blocks.append(Text(f"{t['issued']}: {format_time(doc.issued_at, doc.lang)}"))
    blocks.append(Text(t["wait_call"]))
    blocks.append(Separator())
    if doc.footer:
        blocks.append(Text(doc.footer, align="center"))
    blocks.append(Cut())
    return blocks


def receipt_layout(doc: ReceiptDoc) -> list[Block]:
    t = labels(doc.lang)
    room = f"{t['room']} {doc.room}"
    if doc.floor:
        room += f", {doc.floor} {t['floor']}" if doc.lang == "zh" else f", {t['floor']} {doc.floor}"
    blocks: list[Block] = []
    if doc.site:
        blocks.append(Text(doc.site, align="center", bold=True))
    blocks.append(Text(doc.greeting or t["greeting"], align="center"))
    blocks.append(Separator())
    blocks.append(Text(t["your_number"], align="center"))
    blocks.append(BigNumber(doc.number))
    # a stop before the doctor (registration for a first visit, the box) is the first thing to
    # do: it comes first and large, as on the screen; the doctor's room is then the second step
    first = doc.route_note in FIRST_STOPS
    if first:
        blocks.append(Text(route_note_text(doc.route_note, doc.lang), align="center", size="tall", bold=True))
        if doc.first_stop:
            blocks.append(Text(doc.first_stop, align="center", size="tall", bold=True))
        blocks.append(Feed())
    blocks.append(Text(f"{t['patient']}: {doc.patient_name}"))
    blocks.append(Text(f"{t['doctor']}: {doc.doctor_name}"))
    blocks.append(Text(doc.specialty))
    blocks.append(Text(room, size="normal" if first else "tall", bold=True))
    blocks.append(Text(f"{t['time']}: {format_time(doc.appointment_at, doc.lang)}"))
    if doc.people_ahead is not None:
        blocks.append(Text(t["people_ahead"].format(n=doc.people_ahead)))
        if doc.wait_minutes is not None:
            blocks.append(Text(t["wait_minutes"].format(n=max(1, round(doc.wait_minutes)))))
    if doc.route_note and not first:
        blocks.append(Feed())
        blocks.append(Text(route_note_text(doc.route_note, doc.lang), align="center", bold=True))
    blocks.append(Separator())
    blocks.append(QrCode(doc.booking_code))
    blocks.append(Text(f"{t['booking_code']}: {doc.booking_code}", align="center"))
    if doc.footer:
        blocks.append(Text(doc.footer, align="center"))
    blocks.append(Cut())
    return blocks


def layout_for(doc: TicketDoc | ReceiptDoc) -> list[Block]:
    return ticket_layout(doc) if isinstance(doc, TicketDoc) else receipt_layout(doc)


# -- samples (fictional people and places) ----------------------------------------------------
_SAMPLE_SITE = {"ru": "Клиника «Вестибюль»", "zh": "前厅诊所", "en": "Vestibule Clinic"}
_SAMPLE_SERVICE = {"ru": "Терапевт", "zh": "内科", "en": "General practitioner"}
_SAMPLE_FOOTER = {"ru": "Берегите себя", "zh": "祝您早日康复", "en": "Take care"}
_SAMPLE_PATIENT = {"ru": "Иванов Иван Иванович", "zh": "王小明", "en": "John Smith"}
_SAMPLE_DOCTOR = {"ru": "Петрова А. С.", "zh": "李华", "en": "Dr. A. Petrova"}
_SAMPLE_SPECIALTY = {"ru": "Врач-терапевт", "zh": "内科医生", "en": "General practitioner"}
_SAMPLE_TIME = datetime(2025, 3, 12, 10, 30)


def sample_ticket(lang: str = "ru") -> TicketDoc:
    labels(lang)
    return TicketDoc(number="A023", service=_SAMPLE_SERVICE[lang], issued_at=datetime(2025, 3, 12, 9, 41),
                     lang=lang, priority=False, people_ahead=3, site=_SAMPLE_SITE[lang],
                     footer=_SAMPLE_FOOTER[lang])


def sample_receipt(lang: str = "ru") -> ReceiptDoc:
    labels(lang)
    return ReceiptDoc(number="B105", patient_name=mask_name(_SAMPLE_PATIENT[lang]),
                      doctor_name=_SAMPLE_DOCTOR[lang], specialty=_SAMPLE_SPECIALTY[lang], room="214",
                      floor="2", appointment_at=_SAMPLE_TIME, booking_code="BK-7F3K2Q", lang=lang,
                      route_note="registration_first", site=_SAMPLE_SITE[lang],
                      footer=_SAMPLE_FOOTER[lang])
