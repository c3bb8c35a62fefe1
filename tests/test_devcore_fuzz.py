"""Malformed requests on every core/req/{name}: each gets an error answer, and the core keeps serving."""
from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, Phase, given, settings, strategies as st

from booking_core.harness import Peer, clock_at, start_core
from mqtt.models import REQUEST_MODELS

# No shrinking: when the core falls silent every attempt costs a full timeout; the first failing
# payload is reported as it is.
FUZZ = settings(max_examples=60, deadline=None, phases=(Phase.explicit, Phase.reuse, Phase.generate),
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
ANSWER_TIMEOUT = 5.0  # a local round trip takes milliseconds; silence must fail fast

VALID = {
    "booking.lookup": {"by": "code", "code": "BK-22222"},
    "checkin": {"booking": "BK-22222", "ticket": "A001"},
    "slots.search": {"specialty": "therapist", "date": "2026-11-23"},
    "booking.create": {"slot": {"doctor_id": "d-therapist-1", "start": "2026-11-23T10:30:00+03:00", "room": "12"},
                       "patient": {"phone": "+79161234567", "birth_date": "1980-01-01"}},
}
assert set(VALID) == set(REQUEST_MODELS)

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12)


def malformed_objects(name: str):
    """JSON objects that cannot be a valid `name` request, each with a transaction to echo."""
    valid = VALID[name]
    required = sorted(valid)
    missing = st.sampled_from(required).map(lambda k: {f: v for f, v in valid.items() if f != k})
    wrong_type = st.tuples(st.sampled_from(required), st.lists(JSON, max_size=3)).map(
        lambda kv: {**valid, kv[0]: kv[1]})  # a list is never a string, a date or an object
    unknown_key = st.tuples(st.text(min_size=1, max_size=12).filter(lambda k: k not in valid and k != "transaction"),
                            JSON).map(lambda kv: {**valid, kv[0]: kv[1]})  # requests forbid unknown keys
    junk = st.dictionaries(st.text(max_size=12).filter(lambda k: k not in valid and k != "transaction"), JSON,
                           max_size=5)
    body = st.one_of(missing, wrong_type, unknown_key, junk)
    return st.tuples(body, st.integers(min_value=0, max_value=10**9)).map(
        lambda bt: {**bt[0], "transaction": f"fuzz-{bt[1]}"})


NOT_OBJECTS = st.one_of(
    st.binary(max_size=300).filter(lambda b: not b.lstrip().startswith(b"{")),
    JSON.filter(lambda v: not isinstance(v, dict)).map(lambda v: json.dumps(v).encode()),
    st.just(b""),
)


@pytest.fixture
def core(node_config, tmp_path):
    c = start_core(node_config, tmp_path / "core.db", clock=clock_at(node_config.site.tz, 10, 7))
    yield c
    c.stop()


@pytest.fixture
def peer(broker, node_config):
    p = Peer("127.0.0.1", broker.port, node_config.site.id).start()
    yield p
    p.stop()


def still_serving(core, peer) -> None:
    a = next(x for x in core.appointments() if x.status == "booked")
    answer = peer.request("booking.lookup", {"by": "code", "code": a.booking})
    assert answer.status == "ok" and answer.data["booking"] == a.booking


@pytest.mark.parametrize("name", sorted(REQUEST_MODELS))
def test_malformed_json_requests_get_an_invalid_error_answer_and_the_core_keeps_serving(core, peer, name):
    @FUZZ
    @given(body=malformed_objects(name))
    def check(body):
        answer = peer.request(name, body, timeout=ANSWER_TIMEOUT)
        assert answer.status == "error" and answer.error.code == "invalid", (body, answer)
        assert answer.transaction == body["transaction"]

    check()
    still_serving(core, peer)


def test_payloads_that_are_not_json_objects_get_an_error_answer_on_every_request(core, peer):
    @FUZZ
    @given(name=st.sampled_from(sorted(REQUEST_MODELS)), payload=NOT_OBJECTS)
    def check(name, payload):
        answer = peer.raw_request(name, payload, timeout=ANSWER_TIMEOUT)
        assert answer.status == "error" and answer.error.code == "invalid", (payload, answer)

    check()
    still_serving(core, peer)


def test_a_request_with_an_unknown_name_gets_an_error_answer(core, peer):
    answer = peer.request("booking.delete", {"code": "BK-22222"})
    assert answer.status == "error" and answer.error.code == "unknown_request"
    still_serving(core, peer)
