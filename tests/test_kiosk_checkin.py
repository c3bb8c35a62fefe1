"""Check-in end to end: real broker, stand-in core, controller, printer simulator on a pty, and an
MQTT client as the kiosk UI. Asserts the answers, the events in the core's inbox and the bytes
that reached the printer."""
from __future__ import annotations

import logging
from datetime import date

import pytest

from devices.printer import escpos_parser as ep
from mqtt.commands import RECEPTION_OFFERED
from tests.kiosk_env import KIOSK, kiosk_env, node_rows, wait_until


@pytest.fixture
def env(tmp_path, broker):
    with kiosk_env(tmp_path, broker) as e:
        yield e


def has_cyrillic(text: str) -> bool:
    return any("\u0400" <= ch <= "\u04ff" for ch in text)


def has_cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" or "\u3000" <= ch <= "\u303f" or "\uff00" <= ch <= "\uffef" for ch in text)


def text_modes(job: list[ep.Event]) -> list[tuple[str, int, bool]]:
    """(text, code page, double-byte mode) for every text run of a job, as the printer sees it."""
    page, kanji, out = 0, False, []
    for kind, value in job:
        if kind == ep.INIT:
            page, kanji = 0, False
        elif kind == ep.CODEPAGE:
            page = value
        elif kind == ep.KANJI:
            kanji = value
        elif kind == ep.TEXT:
            out.append((value, page, kanji))
    return out


def test_on_time_check_in_by_code_prints_a_russian_receipt_and_reports_to_the_core(env):
    appt = env.booking(minutes=5)
    before = env.printed()
    data = env.ok("checkin", {"by": "code", "code": appt.booking, "lang": "ru"})
    assert data["ticket"] == "T001"  # the therapist service lends its prefix
    assert (data["route"], data["arrival"], data["room"], data["floor"]) == ("doctor", "on_time", "12", 2)
    assert data["printed"] is True and data["offline"] is False
    assert data["patient"] == "Тестова А." and data["doctor"] == "Петрова А. С."
    assert "T001" in data["message"] and "Кабинет 12" in data["message"]

    doc = env.next_document(before)
    lines = doc.text_lines
    assert "Доброе утро!" in lines and "Ваш номер" in lines and "T001" in lines
    assert "Пациент: Тестова А." in lines and "Врач: Петрова А. С." in lines and "Терапевт" in lines
    assert "Кабинет 12, этаж 2" in lines and "Время приёма: 23.11.2026 10:05" in lines
    assert not any("Тестова Анна" in line for line in lines)  # never the full name
    assert doc.qr_payloads == [appt.booking]
    assert doc.cut == "partial"
    big = [b for b in doc.blocks if getattr(b, "text", "") == "T001"][0]
    assert big.height >= 4  # the number is printed large

    job = env.sim.jobs()[-1]
    modes = text_modes(job)
    assert all(page == 17 and not kanji for text, page, kanji in modes if has_cyrillic(text)), \
        "Cyrillic must go out in PC866 (ESC t 17), never in double-byte mode"
    assert ep.Event(ep.CODEPAGE, 17) in job
    assert job[-1].kind == ep.CUT

    issued = env.wait_events("ticket.issued", predicate=lambda e: e.data["ticket"] == "T001")[0]
    assert issued.data == {"ticket": "T001", "service": "therapist", "priority": False, "channel": "kiosk",
                           "booking": appt.booking, "kiosk": KIOSK, "printed": True}
    completed = env.wait_events("checkin.completed")[0]
    assert completed.data["booking"] == appt.booking and completed.data["ticket"] == "T001"
    assert (completed.data["route"], completed.data["arrival"], completed.data["doctor_id"]) == \
        ("doctor", "on_time", "d-therapist-1")
    assert completed.historical is False and completed.data["offline"] is False
    assert {"booking": appt.booking, "ticket": "T001"}.items() <= env.core.checkins()[-1].items()


def test_check_in_by_phone_and_birth_date_prints_chinese_in_double_byte_mode(env):
    appt = env.booking(minutes=-5, phone="+79161234567", birth_date=date(1975, 3, 9))
    before = env.printed()
    data = env.ok("checkin", {"by": "phone", "phone": "+79161234567", "birth_date": "1975-03-09", "lang": "zh"})
    assert data["booking"] == appt.booking and data["arrival"] == "late" and data["route"] == "doctor"
    assert "签到成功" in data["message"]

    doc = env.next_document(before)
    assert "早上好！" in doc.text_lines and "您的号码" in doc.text_lines and "内科" in doc.text_lines
    assert "医生: Петрова А. С." in doc.text_lines  # a Cyrillic name inside a Chinese receipt
    assert doc.qr_payloads == [appt.booking] and doc.cut == "partial"

    job = env.sim.jobs()[-1]
    modes = text_modes(job)
    assert any(has_cjk(text) for text, _, _ in modes)
    for text, page, kanji in modes:
        if has_cjk(text):
            assert kanji, f"{text!r} must be inside FS & ... FS ."
        if has_cyrillic(text):
            assert not kanji and page == 17, f"{text!r} printed in double-byte mode turns to garbage"
    kinds = [e for e in job if e.kind == ep.KANJI]
    assert kinds[0].value is True and kinds[-1].value is False  # entered, and left before the cut


def test_english_receipt_and_no_personal_data_in_the_node_store(env):
    appt = env.booking(minutes=10, phone="+79990007777", birth_date=date(1990, 1, 2))
    before = env.printed()
    data = env.ok("checkin", {"by": "code", "code": appt.booking, "lang": "en"})
    doc = env.next_document(before)
    assert "Good morning!" in doc.text_lines and "Your number" in doc.text_lines and data["ticket"] in doc.text_lines
    assert "Room 12, floor 2" in doc.text_lines
    env.wait_events("checkin.completed")
    rows = node_rows(env.controller)
    assert appt.booking in rows  # booking codes and tickets are kept ...
    for personal in ("Тестова", "+79990007777", "7777", "1990-01-02"):
        assert personal not in rows  # ... names, phones and birth dates are not


def test_too_early_says_when_to_come_back_and_prints_nothing(env):
    appt = env.booking(minutes=90)  # 11:30:08; check-in opens 11:00:08
    before = env.printed()
    error = env.error("checkin", {"by": "code", "code": appt.booking, "lang": "ru"})
    assert error.code == "too_early" and "11:00" in error.message
    rejected = env.wait_events("checkin.rejected")[0]
    assert rejected.data == {"reason": "too_early", "kiosk": KIOSK}
    assert env.printed() == before and env.core.checkins() == []


@pytest.mark.parametrize("case", ["too_late", "cancelled", "other_site", "not_found"])
def test_rejections_offer_a_reception_ticket(env, case):
    if case == "too_late":
        code = env.booking(minutes=-20).booking
    elif case == "cancelled":
        code = env.booking(status="cancelled").booking
    elif case == "other_site":
        code = env.booking(site="spb-primorsky", cached=False).booking
    else:
        code = "BK-ZZZZZ"
    error = env.error("checkin", {"by": "code", "code": code, "lang": "ru"})
    assert error.code == case and case in RECEPTION_OFFERED
    assert "талон в регистратуру" in error.message
    env.wait_events("checkin.rejected", predicate=lambda e: e.data["reason"] == case)
    # the UI then takes the offered ticket for registration
    ticket = env.ok("ticket", {"service": "registration", "lang": "ru"})
    assert ticket["ticket"] == "R001" and ticket["room"] == "1"


def test_box_booking_goes_to_the_box_and_the_doctor_is_told(env):
    appt = env.booking(minutes=0, flags=("box",))
    before = env.printed()
    data = env.ok("checkin", {"by": "code", "code": appt.booking, "lang": "ru"})
    assert data["route"] == "box" and "изолятор" in data["message"]
    assert "Пройдите в изолятор (бокс)" in env.next_document(before).text_lines
    box = env.wait_events("routing.box")[0]
    assert box.data == {"booking": appt.booking, "doctor_id": "d-therapist-1"}
    assert env.wait_events("checkin.completed")[0].data["route"] == "box"


def test_child_needs_a_representative_to_confirm(env):
    appt = env.booking(minutes=3, doctor_id="d-pediatrician-1", flags=("child",))
    before = env.printed()
    error = env.error("checkin", {"by": "code", "code": appt.booking, "lang": "ru"})
    assert error.code == "representative_required" and "представител" in error.message
    env.wait_events("checkin.rejected", predicate=lambda e: e.data["reason"] == "representative_required")
    assert env.printed() == before

    data = env.ok("checkin", {"by": "code", "code": appt.booking, "lang": "ru", "representative": True})
    assert data["route"] == "doctor" and data["room"] == "8"
    assert data["ticket"][0] == "D"  # no walk-in service for pediatrics: the doctor-route prefix
    assert "Педиатр" in env.next_document(before).text_lines


def test_first_visit_goes_to_registration_before_the_doctor(env):
    appt = env.booking(minutes=5, first_visit=True)
    before = env.printed()
    data = env.ok("checkin", {"by": "code", "code": appt.booking, "lang": "ru"})
    assert data["route"] == "registration"
    assert data["ticket"] == "N001"  # the registration letter, not the therapist's T
    assert "регистратуру (кабинет 1)" in data["message"] and "кабинет 12" in data["message"]
    lines = env.next_document(before).text_lines
    assert "Сначала пройдите в регистратуру" in lines
    # the first action first: where registration is, before the doctor's details
    where = lines.index("Регистратура, кабинет 1, этаж 1")
    assert lines.index("Сначала пройдите в регистратуру") < where < next(
        i for i, line in enumerate(lines) if line.startswith("Врач"))
    assert env.wait_events("checkin.completed")[0].data["route"] == "registration"


def test_called_ticket_leaves_the_queue(env):
    """A check-in ticket the core calls stops counting as waiting (kiosk/calls.py -> on_call)."""
    appt = env.booking(minutes=5)
    env.ok("checkin", {"by": "code", "code": appt.booking, "lang": "ru"})
    day = env.today().isoformat()
    flow = env.flow
    assert flow.tickets.waiting(day, "doctor:d-therapist-1") == ["T001"]
    env.core.client.publish(env.core.topics.core_cmd_call,
                            {"call_id": "c-1", "ticket": "T001", "room": "12", "service": "therapist"})
    wait_until(lambda: flow.tickets.waiting(day, "doctor:d-therapist-1") == [], what="T001 called")


def test_scanning_twice_gives_the_same_number_again_and_nothing_new_to_the_core(env):
    appt = env.booking(minutes=5)
    first = env.ok("checkin", {"by": "code", "code": appt.booking, "lang": "ru"})
    env.wait_events("checkin.completed")
    before = env.printed()
    again = env.ok("checkin", {"by": "code", "code": appt.booking, "lang": "ru"})
    assert again["ticket"] == first["ticket"] and again["repeated"] is True and "уже отмечены" in again["message"]
    assert first["ticket"] in env.next_document(before).text_lines  # the receipt again
    assert env.ok("ticket", {"service": "therapist"})["ticket"] == "T002"  # no number was spent
    env.wait_events("ticket.issued", count=2)
    assert len(env.events("checkin.completed")) == 1 and len(env.core.checkins()) == 1


def test_preview_shows_the_appointment_to_confirm_without_issuing_anything(env):
    appt = env.booking(minutes=5, doctor_id="d-pediatrician-2", flags=("child",))
    before = env.printed()
    data = env.ok("checkin.preview", {"by": "code", "code": appt.booking, "lang": "en"})
    assert (data["booking"], data["patient"], data["doctor"], data["specialty"]) == \
        (appt.booking, "Тестова А.", "Никитина Л. Р.", "Pediatrician")
    assert (data["room"], data["floor"], data["route"], data["child"], data["checked_in"]) == ("9", 1, "doctor", True, False)
    assert env.printed() == before and env.flow.tickets.waiting(env.today().isoformat(), "doctor:d-pediatrician-2") == []
    assert env.error("checkin.preview", {"by": "code", "code": env.booking(minutes=120).booking}).code == "too_early"
    env.ok("checkin", {"by": "code", "code": appt.booking, "representative": True})
    assert env.ok("checkin.preview", {"by": "code", "code": appt.booking})["checked_in"] is True


def test_a_check_in_the_core_refuses_is_not_issued_and_the_patient_goes_to_registration(env, monkeypatch):
    appt = env.booking(minutes=5)
    # the booking is cancelled at the core, and the node's cached snapshot has not heard yet
    monkeypatch.setattr(env.controller.schedule, "take", lambda topic_day, payload, epoch: None)
    env.core.cancel(appt.booking)
    before = env.printed()
    error = env.error("checkin", {"by": "code", "code": appt.booking, "lang": "ru"})
    assert error.code == "refused" and "регистратур" in error.message
    assert env.printed() == before  # nothing printed for a refused check-in
    monkeypatch.undo()
    assert env.ok("ticket", {"service": "therapist"})["ticket"] == "T002"  # T001 stays a gap, never reused
    env.wait_events("ticket.issued", predicate=lambda e: e.data["ticket"] == "T002")  # relayed in order: all before it too
    assert [e.data["ticket"] for e in env.events("ticket.issued")] == ["T002"]
    assert env.events("checkin.completed") == [] and env.core.checkins() == []


def test_purge_deletes_the_kiosk_rows_of_days_past_the_retention(env):
    appt = env.booking(minutes=5)
    env.ok("checkin", {"by": "code", "code": appt.booking})
    env.ok("ticket", {"service": "lab"})
    env.ok("feedback", {"score": 2, "comment": "позвоните мне"})
    env.sim.paper_out = True
    env.ok("ticket", {"service": "lab"})
    env.sim.paper_out = False
    store = env.controller.store
    tables = ("tickets", "kiosk_checkins", "feedback", "print_jobs", "ticket_counters")
    assert all(store.query(f"SELECT COUNT(*) AS n FROM {t}")[0]["n"] for t in tables)
    env.clock.advance(days=1)
    env.controller.purge()  # retention 1 day: yesterday is kept
    assert store.query("SELECT COUNT(*) AS n FROM tickets")[0]["n"] == 3
    env.clock.advance(days=1)
    env.controller.purge()
    assert [store.query(f"SELECT COUNT(*) AS n FROM {t}")[0]["n"] for t in tables] == [0] * len(tables)


def test_one_code_scanned_at_two_kiosks_at_once_issues_one_ticket(tmp_path, broker):
    with kiosk_env(tmp_path, broker, second_kiosk=True) as env:
        from concurrent.futures import ThreadPoolExecutor
        appt = env.booking(minutes=5)
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda kiosk: env.ok("checkin", {"kiosk": kiosk, "by": "code", "code": appt.booking}),
                                    ["kiosk-1", "kiosk-2", "kiosk-1", "kiosk-2"]))
        assert len({a["ticket"] for a in answers}) == 1, answers
        env.wait_events("checkin.completed")
        import time
        time.sleep(1.0)  # any second issue would have been relayed by now
        assert len(env.events("checkin.completed")) == 1


def test_logs_carry_no_name_phone_or_birth_date_through_check_ins_and_failures(env, caplog):
    caplog.set_level(logging.DEBUG)
    appt = env.booking(minutes=10, phone="+79990005566", birth_date=date(1987, 6, 5))
    env.ok("checkin", {"by": "code", "code": appt.booking, "lang": "ru"})
    env.ok("checkin", {"by": "phone", "phone": "+79990005566", "birth_date": "1987-06-05", "lang": "ru"})
    env.error("checkin", {"by": "phone", "phone": "+79990001122", "birth_date": "1950-01-01", "lang": "ru"})
    env.error("checkin", {"by": "phone", "phone": "not a phone", "birth_date": "1987-06-05", "lang": "ru"})
    env.wait_events("checkin.completed")
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert appt.booking in text or "check-in" in text  # the logs do speak of what happened ...
    surname = appt.full_name.split()[0]
    for personal in (surname, "+79990005566", "79990005566", "5566", "1987-06-05", "+79990001122", "1950-01-01"):
        assert personal not in text, f"{personal!r} leaked into the logs"


def test_check_in_after_its_preview_asks_the_core_once_for_the_booking(env):
    """The confirm screen's look-up serves the check-in: the core sees one booking.lookup per patient."""
    env.booking(minutes=-5, phone="+79161234567", birth_date=date(1975, 3, 9))
    body = {"by": "phone", "phone": "+79161234567", "birth_date": "1975-03-09", "lang": "ru"}
    served = env.core.dispatcher.served
    env.ok("checkin.preview", body)
    assert env.core.dispatcher.served == served + 1  # the look-up
    data = env.ok("checkin", body)
    assert data["ticket"]
    assert env.core.dispatcher.served == served + 2  # the core's `checkin`; no second look-up
    # without a preview first, the check-in looks the booking up itself
    again = env.ok("checkin", {**body, "lang": "en"})
    assert again["ticket"] == data["ticket"]
    assert env.core.dispatcher.served == served + 3
