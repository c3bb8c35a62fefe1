"""Hypothesis: whatever arrives on a kiosk command topic gets an answer (never silence, never an
internal error), and the controller keeps serving real patients afterwards."""
from __future__ import annotations

import json
import threading
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from mqtt.models import AnswerAdapter
from tests.kiosk_env import kiosk_env

VALID = {
    "checkin.preview": {"kiosk": "kiosk-1", "by": "phone", "phone": "+79990001122", "birth_date": "1980-05-17"},
    "checkin": {"kiosk": "kiosk-1", "by": "code", "code": "BK-ZZZZZ", "lang": "ru"},
    "ticket": {"kiosk": "kiosk-1", "service": "lab", "priority": False, "lang": "en"},
    "sameday.slots": {"kiosk": "kiosk-1", "specialty": "therapist", "lang": "zh"},
    "sameday.book": {"kiosk": "kiosk-1", "doctor_id": "d-therapist-1", "start": "2026-11-23T10:15:00+03:00",
                     "room": "12", "phone": "+79215550101", "birth_date": "1984-07-21", "lang": "ru"},
    "feedback": {"kiosk": "kiosk-1", "score": 7, "lang": "ru"},
    "kiosk.info": {"kiosk": "kiosk-1", "lang": "en"},
}
KEYS = sorted({k for body in VALID.values() for k in body} | {"representative", "phone", "birth_date", "comment",
                                                              "ticket", "booking", "transaction"})

scalars = (st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=True)
           | st.text(max_size=40) | st.sampled_from(["", "BK-ZZZZZ", "lab", "2026-11-23", "code", "phone", "zh",
                                                    "+79990001122", "2026-11-23T10:15:00+03:00", "\u0000", "x" * 600]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5),
                                                                                           inner, max_size=3),
                      max_leaves=6)


def mutated(name: str):
    base = VALID[name]
    replace = st.tuples(st.sampled_from(sorted(base)), values).map(lambda kv: {**base, kv[0]: kv[1]})
    drop = st.sampled_from(sorted(base)).map(lambda k: {key: v for key, v in base.items() if key != k})
    extra = st.tuples(st.sampled_from(KEYS), values).map(lambda kv: {**base, kv[0]: kv[1]})
    return (replace | drop | extra).map(lambda d: json.dumps(d, allow_nan=True).encode())


def payloads(name: str):
    return st.one_of(
        st.binary(max_size=80),
        values.map(lambda v: json.dumps(v, allow_nan=True).encode()),
        st.dictionaries(st.sampled_from(KEYS), values, max_size=6).map(lambda d: json.dumps(d, allow_nan=True).encode()),
        mutated(name),
    )


class RawRequester:
    """Sends any bytes as a node command with ResponseTopic + CorrelationData; waits for the answer."""

    def __init__(self, env):
        self.env = env
        self.client = env.new_ui("fuzzer")
        self.reply = env.controller.topics.reply("kiosk", "fuzzer-raw")
        self.answers: dict[bytes, bytes] = {}
        self.cond = threading.Condition()
        self.client.subscribe(self.reply, self._on_answer)

    def _on_answer(self, msg) -> None:
        correlation = getattr(msg.properties, "CorrelationData", None)
        with self.cond:
            self.answers[correlation] = bytes(msg.payload)
            self.cond.notify_all()

    def ask(self, name: str, payload: bytes, timeout: float = 20.0):
        correlation = uuid.uuid4().bytes
        props = Properties(PacketTypes.PUBLISH)
        props.ResponseTopic = self.reply
        props.CorrelationData = correlation
        self.client.publish(self.env.controller.topics.command(name), payload, qos=1, properties=props)
        with self.cond:
            assert self.cond.wait_for(lambda: correlation in self.answers, timeout), f"no answer to {payload!r}"
            return AnswerAdapter.validate_json(self.answers.pop(correlation))


@pytest.mark.parametrize("name", sorted(VALID))
def test_any_payload_on_a_kiosk_command_gets_an_answer_and_serving_goes_on(tmp_path, broker, name):
    with kiosk_env(tmp_path, broker) as env:
        fuzzer = RawRequester(env)

        @settings(max_examples=60, deadline=None, derandomize=True,
                  suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
        @given(payload=payloads(name))
        def run(payload):
            answer = fuzzer.ask(name, payload)
            if answer.status == "error":
                assert answer.error.code != "internal", (payload, answer.error)
                assert answer.error.message

        run()
        # the controller still serves a real check-in and a real ticket
        appt = env.booking(minutes=2)
        assert env.ok("checkin", {"by": "code", "code": appt.booking})["printed"] is True
        assert env.ok("ticket", {"service": "cashier"})["ticket"].startswith("C")
