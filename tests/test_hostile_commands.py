"""Hostile payloads on every node command through the real broker: each one is answered (no
silence, no `internal`, no logged exception), and the controller serves real patients after.

Per command: the targeted cases of issue 7 (integers past 4,300 digits, nesting 1,000 deep, lone
surrogates, payloads over 256 KiB and over the node's limit, strings for numbers and booleans,
an unconfigured kiosk) plus hypothesis-generated ones, HOSTILE_EXAMPLES in all (10,000 by
default; VESTIBULE_HOSTILE_EXAMPLES overrides), sent pipelined and matched by correlation data.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from mqtt.commands import COMMAND_MODELS
from mqtt.models import AnswerAdapter
from tests.kiosk_env import kiosk_env

HOSTILE_EXAMPLES = int(os.environ.get("VESTIBULE_HOSTILE_EXAMPLES", "10000"))
LIMIT_MIB = 1  # the node's payload limit in this test, so that "over the limit" is quick to send

VALID = {
    "ping": {},
    "checkin.preview": {"kiosk": "kiosk-1", "by": "phone", "phone": "+79990001122", "birth_date": "1980-05-17"},
    "checkin": {"kiosk": "kiosk-1", "by": "code", "code": "BK-ZZZZZ", "lang": "ru"},
    "ticket": {"kiosk": "kiosk-1", "service": "lab", "priority": False, "lang": "en"},
    "sameday.slots": {"kiosk": "kiosk-1", "specialty": "therapist", "lang": "zh"},
    "sameday.book": {"kiosk": "kiosk-1", "doctor_id": "d-therapist-1", "start": "2026-11-23T10:15:00+03:00",
                     "room": "12", "phone": "+79215550101", "birth_date": "1984-07-21", "lang": "ru"},
    "feedback": {"kiosk": "kiosk-1", "score": 7, "lang": "ru"},
    "kiosk.info": {"kiosk": "kiosk-1", "lang": "en"},
    # the screening post's commands (this node has no post: unknown_post / unknown_session answers)
    "screening.info": {"post": "screening-1", "lang": "en"},
    "screening.start": {"post": "screening-1", "by": "none", "lang": "ru"},
    "screening.measure": {"session": "s-0001", "what": "temperature", "site": "forehead"},
    "screening.answers": {"session": "s-0001", "answers": {"fever_14d": "no"}},
    "screening.complete": {"session": "s-0001", "decision": "pass", "reason": "checked"},
    "screening.cancel": {"session": "s-0001"},
}
assert set(VALID) == set(COMMAND_MODELS) | {"ping"}, "every node command is fuzzed"

HUGE_INT = "9" * 5000
DEEP = "[" * 1000 + "]" * 1000
DEEPER = "{\"a\":" * 100_000 + "1" + "}" * 100_000


def _raw(body: dict, key: str, literal: str) -> bytes:
    """`body` as JSON with `key` set to a raw JSON literal (one json.dumps cannot write)."""
    text = json.dumps({**body, key: "@@"})
    return text.replace('"@@"', literal).encode()


def targeted(name: str) -> list[bytes]:
    base = VALID[name]
    keys = sorted(base) + ["transaction"]
    cases = [b"", b"null", b"[]", b"7", b'"x"', b"{", b"\xff\xfe\x00", b"\xef\xbb\xbf{}", b"{}" * 3,
             DEEP.encode(), DEEPER.encode(), HUGE_INT.encode(), b"NaN", b"Infinity", b"1e400",
             json.dumps(base).encode("utf-16"),
             b'{"transaction": "\\ud800"}', b'{"transaction": "\xed\xa0\x80"}',  # lone surrogate: escaped, raw
             json.dumps({**base, "transaction": "t" * 129}).encode(),
             json.dumps({**base, "padding": "x" * 300_000}).encode(),  # over the first wave's 256 KiB
             json.dumps({**base, "comment": "ж" * 200_000}).encode(),
             b" " * (LIMIT_MIB * 1024 * 1024 - 10) + json.dumps(base).encode()[:10],  # just under the limit
             json.dumps({**base, "padding": "x" * (LIMIT_MIB * 1024 * 1024 + 1000)}).encode()]  # over: too_large
    for key in keys:
        for literal in (HUGE_INT, "-" + HUGE_INT, DEEP, '"\\udc00"', '"\\ud800\\ud800"', "1e999", "-0", "true",
                        '"7"', '"yes"', "1", "0", "null", "[]", "{}", '"' + "ю" * 70_000 + '"',
                        '"\\u0000"', '"😀\u202e\u200b"'):
            cases.append(_raw(base, key, literal))
    if "kiosk" in base:
        cases += [json.dumps({**base, "kiosk": k}).encode() for k in ("kiosk-99", "screening-1x", "KIOSK-1", "")]
    return cases


surrogates = st.text(st.characters(codec=None, categories=["Cs", "Lo", "Zs", "Cc", "So"]), max_size=20)
HUGE = "@@huge-integer@@"  # written as a 5,000-digit integer literal (json.dumps and hypothesis cannot)
scalars = (st.none() | st.booleans() | st.integers() | st.just(HUGE) | st.floats(allow_nan=True) | st.text(max_size=30) | surrogates
           | st.sampled_from(["7", "yes", "true", "kiosk-99", "BK-ZZZZZ", "lab", "2026-11-23", "+79990001122",
                              "2026-11-23T10:15:00+03:00", "x" * 300]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5),
                                                                                           inner, max_size=3),
                      max_leaves=5)


def _encode(value, ascii_only: bool) -> bytes:
    text = json.dumps(value, allow_nan=True, ensure_ascii=ascii_only).replace(f'"{HUGE}"', HUGE_INT)
    return text.encode("utf-8", "surrogatepass")  # raw surrogates stay as their (invalid) UTF-8 bytes


HYPOTHESIS_DRAWS = 4000  # drawn once per test session; each is placed five ways in every command
_draws: list = []


def hypothesis_draws() -> list:
    """Hostile JSON values (with whether to escape non-ASCII) and raw byte strings, from hypothesis."""
    if not _draws:
        @settings(max_examples=HYPOTHESIS_DRAWS, deadline=None, derandomize=True, database=None,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        @given(draw=st.tuples(values, st.booleans(), st.binary(max_size=60)))
        def collect(draw):
            _draws.append(draw)

        collect()
    return _draws


def generated(name: str, count: int) -> list[bytes]:
    base = VALID[name]
    keys = sorted(base) + ["transaction", "representative", "comment", "priority", "score", "extra"]
    out: dict[bytes, None] = {}  # distinct payloads, in order
    for i, (value, ascii_only, raw) in enumerate(hypothesis_draws()):
        k1, k2 = keys[i % len(keys)], keys[(i * 7 + 3) % len(keys)]
        for body in ({**base, k1: value}, {**base, k2: value}, value, {k1: value, k2: value}):
            out[_encode(body, ascii_only)] = None
        out[raw] = None
    return list(out)[:count]


def hostile_payloads(name: str, count: int) -> list[bytes]:
    cases = list(dict.fromkeys(targeted(name)))
    known = set(cases)
    return cases + [p for p in generated(name, count) if p not in known][:max(0, count - len(cases))]


class Firehose:
    """Sends payloads as node commands with ResponseTopic + CorrelationData, `window` at a time."""

    def __init__(self, env, window: int = 200):
        self.env = env
        self.client = env.new_ui("hostile")
        self.answers: dict[bytes, bytes] = {}
        self.cond = threading.Condition()
        self.window = window
        self.client.paho.message_callback_add(self.client.reply_topic, self._on_answer)

    def _on_answer(self, client, userdata, msg) -> None:
        correlation = getattr(msg.properties, "CorrelationData", None)
        with self.cond:
            self.answers[correlation] = bytes(msg.payload)
            self.cond.notify_all()

    def fire(self, name: str, payloads: list[bytes], timeout: float = 240) -> dict[bytes, tuple[bytes, bytes]]:
        sent: dict[bytes, bytes] = {}
        topic = self.env.controller.topics.command(name)
        deadline = time.monotonic() + timeout
        for payload in payloads:
            with self.cond:
                assert self.cond.wait_for(lambda: len(sent) - len(self.answers.keys() & sent.keys()) < self.window,
                                          deadline - time.monotonic()), "answers stopped coming"
            correlation = uuid.uuid4().bytes
            props = Properties(PacketTypes.PUBLISH)
            props.ResponseTopic = self.client.reply_topic
            props.CorrelationData = correlation
            sent[correlation] = payload
            self.client.publish(topic, payload, qos=1, properties=props)
        with self.cond:
            self.cond.wait_for(lambda: sent.keys() <= self.answers.keys(), max(0.1, deadline - time.monotonic()))
            return {c: (p, self.answers.get(c)) for c, p in sent.items()}


# The commands' runs are split over two files so that the test workers share them (10,000
# payloads a command take 10-30 s each): this file the kiosk's, test_hostile_post_commands.py the post's.
KIOSK_COMMANDS = sorted(n for n in VALID if not n.startswith("screening."))
POST_COMMANDS = sorted(n for n in VALID if n.startswith("screening."))


@pytest.mark.slow
@pytest.mark.parametrize("name", KIOSK_COMMANDS)
def test_every_hostile_payload_on_a_node_command_is_answered_and_serving_goes_on(tmp_path, broker, name, caplog):
    check_hostile_run(tmp_path, broker, name, caplog)


def check_hostile_run(tmp_path, broker, name, caplog):
    payloads = hostile_payloads(name, HOSTILE_EXAMPLES)
    assert len(payloads) >= HOSTILE_EXAMPLES
    with kiosk_env(tmp_path, broker, config_overrides={"broker": {"max_payload_mib": LIMIT_MIB}}) as env:
        caplog.set_level(logging.WARNING, logger="vestibule")
        results = Firehose(env).fire(name, payloads)
        unanswered = [p[:80] for p, answer in results.values() if answer is None]
        assert unanswered == [], f"{len(unanswered)} of {len(payloads)} unanswered, e.g. {unanswered[:3]}"
        codes: dict[str, int] = {}
        for payload, raw in results.values():
            answer = AnswerAdapter.validate_json(raw)
            code = answer.error.code if answer.status == "error" else "ok"
            codes[code] = codes.get(code, 0) + 1
            assert code != "internal", payload[:200]
            if len(payload) > LIMIT_MIB * 1024 * 1024:
                assert code == "too_large"
            if code != "ok":
                assert answer.error.message
        assert codes.get("too_large", 0) >= 1 and codes.get("invalid", 0) > len(payloads) // 2, codes
        if "kiosk" in VALID[name]:
            assert codes.get("unknown_kiosk", 0) >= 3, codes
        crashes = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert crashes == [], crashes[:3]
        # the controller still serves a real check-in and a real ticket
        appt = env.booking(minutes=2)
        assert env.ok("checkin", {"by": "code", "code": appt.booking})["printed"] is True
        assert env.ok("ticket", {"service": "cashier"})["ticket"].startswith("C")


@pytest.mark.parametrize(("body", "field"), [({"score": "7"}, "score"), ({"score": 7.0}, "score"),
                                             ({"score": True}, "score")])
def test_feedback_scores_must_be_integers(tmp_path, broker, body, field):
    with kiosk_env(tmp_path, broker) as env:
        error = env.error("feedback", body)
        assert error.code == "invalid" and field in error.message


def test_strict_booleans_and_unconfigured_kiosks_are_refused(tmp_path, broker):
    with kiosk_env(tmp_path, broker) as env:
        assert env.error("ticket", {"service": "lab", "priority": "yes"}).code == "invalid"
        assert env.error("ticket", {"service": "lab", "priority": 1}).code == "invalid"
        error = env.error("ticket", {"service": "lab", "kiosk": "kiosk-99"})
        assert error.code == "unknown_kiosk" and "kiosk-99" in error.message
        assert env.error("kiosk.info", {"kiosk": "kiosk-99"}).code == "unknown_kiosk"
        assert env.ok("ticket", {"service": "lab", "priority": True})["priority"] is True
