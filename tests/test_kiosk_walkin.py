"""Walk-in tickets end to end: numbers, priority and `ahead`, least-loaded doctor, two kiosks at
once, the local-midnight reset, and a printer out of paper."""
from __future__ import annotations

import threading
from datetime import datetime

import pytest

from kiosk.features.lobby import rules
from tests.kiosk_env import KIOSK, TZ, kiosk_env, wait_until


@pytest.fixture
def env(tmp_path, broker):
    with kiosk_env(tmp_path, broker) as e:
        yield e


def test_walk_in_ticket_prints_number_service_room_and_queue(env):
    before = env.printed()
    data = env.ok("ticket", {"service": "lab", "lang": "en"})
    assert (data["ticket"], data["service"], data["service_name"]) == ("L001", "lab", "Laboratory")
    assert (data["room"], data["floor"], data["ahead"], data["printed"]) == ("5", 1, 0, True)
    doc = env.next_document(before)
    for line in ("Good morning!", "Your number", "L001", "Laboratory", "Room 5, floor 1", "People ahead: 0"):
        assert line in doc.text_lines
    assert doc.cut == "partial" and doc.qr_payloads == []
    event = env.wait_events("ticket.issued")[0]
    assert event.data == {"ticket": "L001", "service": "lab", "priority": False, "channel": "kiosk",
                          "booking": None, "kiosk": KIOSK, "printed": True}


def test_priority_tickets_are_marked_and_go_ahead_of_normal_ones(env):
    def take(priority=False):
        return env.ok("ticket", {"service": "lab", "priority": priority, "lang": "ru"})

    assert [take()["ahead"], take()["ahead"]] == [0, 1]  # L001, L002
    before = env.printed()
    priority = take(priority=True)  # L003: called before the two normal tickets
    assert priority["ticket"] == "L003" and priority["ahead"] == 0 and priority["priority"] is True
    assert "ВНЕ ОЧЕРЕДИ" in env.next_document(before).text_lines
    assert take(priority=True)["ahead"] == 1
    assert take()["ahead"] == 4
    event = env.wait_events("ticket.issued", predicate=lambda e: e.data["ticket"] == "L003")[0]
    assert event.data["priority"] is True

    # the core calls L003 and L001: they no longer wait
    for n, ticket in enumerate(("L003", "L001")):
        env.core.client.publish(env.core.topics.core_cmd_call, {"call_id": f"c-{n}", "ticket": ticket, "room": "5"})
    wait_until(lambda: env.flow.tickets.waiting(env.today().isoformat(), "lab") == ["L004", "L002", "L005"],
               what="called tickets leave the queue")
    assert take()["ahead"] == 3


def test_unknown_service_is_an_error_in_the_patients_language(env):
    error = env.error("ticket", {"service": "astrology", "lang": "zh"})
    assert error.code == "unknown_service" and "没有该服务" in error.message


def test_walk_ins_to_any_doctor_go_to_the_least_loaded_therapist(env):
    day = env.today()
    schedule = [a for a in env.controller.schedule.appointments(day) if a.doctor.specialty == "therapist"]
    booked = [a.doctor.id for a in schedule if a.status == "booked"]
    doctors = {a.doctor.id: a for a in schedule}
    walk_ins: list[str] = []
    for _ in range(4):
        expected = rules.least_loaded_doctor(booked, walk_ins, doctors)
        data = env.ok("ticket", {"service": "therapist", "lang": "ru"})
        assert data["doctor"] == doctors[expected].doctor.name and data["room"] == doctors[expected].room
        assert data["ticket"].startswith("T")
        walk_ins.append(expected)
    assert len(set(walk_ins)) >= 2 or len(doctors) == 1  # the load spreads


def test_numbers_stay_unique_when_two_kiosks_ask_at_once(tmp_path, broker):
    with kiosk_env(tmp_path, broker, second_kiosk=True) as env:
        second = env.new_ui("kiosk-ui-2")
        numbers: list[str] = []
        errors: list = []
        lock = threading.Lock()

        def kiosk(ui, kiosk_id):
            for _ in range(8):
                answer = env.command("ticket", {"kiosk": kiosk_id, "service": "cashier", "lang": "ru"}, ui=ui)
                with lock:
                    (numbers.append(answer.data["ticket"]) if answer.status == "ok" else errors.append(answer))

        threads = [threading.Thread(target=kiosk, args=(env.ui, "kiosk-1")),
                   threading.Thread(target=kiosk, args=(second, "kiosk-2"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert errors == []
        assert sorted(numbers) == [f"C{n:03d}" for n in range(1, 17)]
        env.wait_events("ticket.issued", count=16)
        kiosks = {e.data["kiosk"] for e in env.events("ticket.issued")}
        assert kiosks == {"kiosk-1", "kiosk-2"}


def test_numbers_restart_at_local_midnight(tmp_path, broker):
    with kiosk_env(tmp_path, broker, at=datetime(2026, 11, 23, 23, 58, tzinfo=TZ)) as env:
        assert [env.ok("ticket", {"service": "cashier"})["ticket"] for _ in range(2)] == ["C001", "C002"]
        env.clock.advance(minutes=4)  # 00:02 in Moscow, still 23 November in UTC
        assert env.clock().astimezone(TZ).day == 24
        data = env.ok("ticket", {"service": "cashier", "lang": "ru"})
        assert data["ticket"] == "C001"
        assert "Здравствуйте!" in env.documents(3)[2].text_lines  # no "good ..." at night


def test_paper_out_still_issues_the_ticket_and_keeps_the_job_as_failed(env):
    env.sim.paper_out = True
    before = env.printed()
    data = env.ok("ticket", {"service": "lab", "lang": "ru"})
    assert data["ticket"] == "L001" and data["printed"] is False
    assert "не напечатан" in data["message"] and "L001" in data["message"]
    event = env.wait_events("ticket.issued")[0]
    assert event.data["printed"] is False
    problem = env.wait_events("device.problem", predicate=lambda e: e.data["problem"] == "paper_out")[0]
    assert problem.data["device"] == "printer-1" and problem.data["cleared"] is False
    info = env.ok("kiosk.info", {"lang": "ru"})
    assert info["printer"]["state"] == "fault" and "paper_out" in info["printer"]["problems"]
    jobs = env.flow.printing.failed_jobs()
    assert [(j["ticket"], j["kind"]) for j in jobs] == [("L001", "ticket")] and "paper_out" in jobs[0]["reason"]

    # paper back: the next patient gets a printed ticket; L001 is not printed behind anyone's back
    env.sim.paper_out = False
    data = env.ok("ticket", {"service": "lab", "lang": "ru"})
    assert data["ticket"] == "L002" and data["printed"] is True and data["ahead"] == 1
    docs = env.documents(before + 1)
    assert [d for d in docs[before:] if "L001" in d.text_lines] == []
    assert [j["ticket"] for j in env.flow.printing.failed_jobs()] == ["L001"]
    # staff may reprint it on request
    assert env.flow.printing.reprint(jobs[0]["id"]).printed
    assert "L001" in env.documents(before + 2)[before + 1].text_lines
    assert env.flow.printing.failed_jobs() == []
