"""The core away: check-ins continue from the cached schedule, tickets keep flowing, and everything
the node owes reaches the core once it is back, flagged historical."""
from __future__ import annotations

from datetime import date

from mqtt.models import CoreStatus
from tests.kiosk_env import kiosk_env, wait_until


def test_core_away_mid_scenario_then_everything_is_delivered_flagged_historical(tmp_path, broker):
    with kiosk_env(tmp_path, broker) as env:
        online = env.booking(minutes=5)
        by_code = env.booking(minutes=10, doctor_id="d-therapist-2")
        by_phone = env.booking(minutes=-3, doctor_id="d-therapist-3", phone="+79112223344",
                               birth_date=date(1966, 6, 6))
        cancelled = env.booking(minutes=0, status="cancelled", doctor_id="d-cardiologist-1")
        first = env.ok("checkin", {"by": "code", "code": online.booking})
        assert first["offline"] is False
        env.wait_events("checkin.completed")
        delivered_live = set(env.core.inbox_ids())

        env.stop_core()
        before = env.printed()
        a = env.ok("checkin", {"by": "code", "code": by_code.booking, "lang": "ru"})
        assert a["offline"] is True and a["printed"] is True and a["room"] == "14"
        assert "передана позже" in a["message"]
        assert env.next_document(before).qr_payloads == [by_code.booking]
        b = env.ok("checkin", {"by": "phone", "phone": "+79112223344", "birth_date": "1966-06-06", "lang": "en"})
        assert b["booking"] == by_phone.booking and b["offline"] is True and b["arrival"] == "late"
        assert env.error("checkin", {"by": "code", "code": cancelled.booking}).code == "cancelled"
        assert env.error("checkin", {"by": "code", "code": "BK-ZZZZZ"}).code == "not_found"
        walk_in = env.ok("ticket", {"service": "lab", "priority": True})
        assert walk_in["ticket"] == "L001" and walk_in["printed"] is True
        env.ok("feedback", {"score": 3})
        info = env.ok("kiosk.info", {})
        assert info["core_online"] is False
        owed = env.controller.outbox.backlog()
        assert owed >= 8  # 2 x (ticket.issued + checkin.completed), 2 rejections, a ticket, feedback

        core = env.start_core()  # the same core database and MQTT session: it comes back
        wait_until(lambda: env.controller.outbox.backlog() == 0, what="outbox drained")
        wait_until(lambda: len(core.inbox()) >= len(delivered_live) + owed, what="owed events at the core")
        late = [e for e in core.inbox() if e.id not in delivered_live]
        assert all(e.historical for e in late), [(e.type, e.historical) for e in late]
        kinds = sorted(e.type for e in late)
        assert kinds.count("checkin.completed") == 2 and kinds.count("ticket.issued") == 3
        assert kinds.count("checkin.rejected") == 2 and kinds.count("feedback.submitted") == 1
        completed = {e.data["booking"]: e.data for e in late if e.type == "checkin.completed"}
        assert completed[by_code.booking]["offline"] is True and completed[by_code.booking]["ticket"] == a["ticket"]
        assert completed[by_phone.booking]["offline"] is True
        seqs = [e.seq for e in core.inbox()]
        assert seqs == sorted(seqs) and len(set(core.inbox_ids())) == len(core.inbox_ids())

        # and back online, check-ins go through the core again
        again = env.booking(minutes=1, doctor_id="d-neurologist-1")
        assert env.ok("checkin", {"by": "code", "code": again.booking})["offline"] is False


def test_a_core_that_does_not_answer_in_time_is_treated_as_away(tmp_path, broker):
    with kiosk_env(tmp_path, broker, config_overrides={"core": {"request_timeout_s": 1.0}}) as env:
        appt = env.booking(minutes=5)
        env.stop_core()
        # something claims the core is online, but nothing answers its requests
        liar = env.new_ui("fake-core-status")
        liar.publish(env.controller.topics.core_status,
                     CoreStatus(online=True, ts=env.clock()).model_dump_json(), retain=True).wait_for_publish(5)
        wait_until(lambda: env.controller.relay.core_online, what="core believed online")
        data = env.ok("checkin", {"by": "code", "code": appt.booking, "lang": "ru"})
        assert data["offline"] is True and data["printed"] is True
        row = env.controller.store.query("SELECT offline, core_accepted FROM kiosk_checkins")[0]
        assert row == {"offline": 1, "core_accepted": None}
        assert data["ticket"] == "T001"
        liar.publish(env.controller.topics.core_status, b"", retain=True).wait_for_publish(5)
