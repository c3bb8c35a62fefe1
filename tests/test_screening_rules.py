"""The screening post's pure rules: what counts as a stable reading, and the suggestion."""
from __future__ import annotations

import pytest

from devices.base import OximeterReading, ThermometerReading
from foundation.config import ConfigError, parse_config
from kiosk.features.screening.decision import Oximetry, Temperature, observations, suggest
from kiosk.features.screening.stability import Rule, stable_reading, why_not
from tests.conftest import ROOT

THERMO = Rule(count=3, window_s=0.9, tolerance=0.1, max_age_s=2.0)
OXI = Rule(count=3, window_s=1.0, tolerance=1, max_age_s=2.0)


def temps(*values, start=100.0, step=0.5):
    return [ThermometerReading(v, 22.0, False, start + i * step) for i, v in enumerate(values)]


def oxi(*pairs, start=100.0, step=0.5, probe="ok"):
    return [OximeterReading(s, p, 8, probe, start + i * step) for i, (s, p) in enumerate(pairs)]


def test_three_readings_within_the_tolerance_over_the_window_are_stable_and_the_newest_is_returned():
    readings = temps(36.60, 36.64, 36.62)
    assert stable_reading(readings, now=101.2, rule=THERMO) is readings[-1]


def test_a_run_shorter_than_the_window_is_not_stable():
    readings = temps(36.6, 36.6, 36.6, step=0.2)
    assert stable_reading(readings, now=100.5, rule=THERMO) is None
    assert why_not(readings, 100.5, THERMO) == "unsettled"


def test_a_jump_beyond_the_tolerance_restarts_the_run():
    readings = temps(36.6, 36.6, 36.6, 37.9, 37.9)
    assert stable_reading(readings, now=102.1, rule=THERMO) is None
    readings += temps(37.9, start=102.5)
    assert stable_reading(readings, now=102.6, rule=THERMO).celsius == 37.9


def test_a_reading_older_than_two_seconds_is_not_a_measurement():
    readings = temps(36.6, 36.6, 36.6)
    assert stable_reading(readings, now=103.1, rule=THERMO) is None
    assert why_not(readings, 103.1, THERMO) == "no_reading"


def test_probe_off_breaks_the_run_and_is_reported_as_the_reason():
    readings = oxi((97, 70), (97, 70), (97, 70)) + [OximeterReading(None, None, 0, "finger_out", 101.5)]
    assert stable_reading(readings, now=101.6, rule=OXI) is None
    assert why_not(readings, 101.6, OXI) == "probe"
    sensor_error = temps(36.6, 36.6) + [ThermometerReading(None, None, True, 101.0)]
    assert why_not(sensor_error, 101.1, THERMO) == "probe"


def test_oximeter_needs_both_spo2_and_pulse_steady():
    assert stable_reading(oxi((97, 70), (98, 71), (97, 70)), now=101.1, rule=OXI) is not None
    assert stable_reading(oxi((97, 70), (97, 74), (97, 70)), now=101.1, rule=OXI) is None


def _suggest(**kw):
    base = {"temperatures": [], "oximetry": None, "box_flag": False, "answers": {}, "box_questions": {"contact"},
            "fever_celsius": 37.5, "spo2_min": 94, "pulse_range": (45, 120)}
    return suggest(**{**base, **kw})


def test_suggestion_rules():
    fever = [Temperature("forehead", 36.6, "t", 0), Temperature("neck", 37.5, "t", 1)]
    assert _suggest(temperatures=fever) == ("box", ["fever"])
    assert _suggest(box_flag=True) == ("box", ["booking_box"])
    assert _suggest(answers={"contact": "yes"}) == ("box", ["questionnaire"])
    assert _suggest(answers={"contact": "no"}) == ("pass", [])
    assert _suggest(oximetry=Oximetry(93, 70, "o", 0)) == ("refer", ["low_spo2"])
    assert _suggest(oximetry=Oximetry(94, 130, "o", 0)) == ("refer", ["pulse"])
    assert _suggest(oximetry=Oximetry(90, 70, "o", 0), box_flag=True)[0] == "box"


def test_observations_carry_codes_units_sites_and_the_values_unchanged():
    obs = observations([Temperature("forehead", 36.62, "thermometer-1", 0)], Oximetry(97, 72, "oximeter-1", 0))
    assert obs == [{"code": "8310-5", "value": 36.62, "unit": "Cel", "site": "forehead", "device": "thermometer-1"},
                   {"code": "59408-5", "value": 97, "unit": "%", "device": "oximeter-1"},
                   {"code": "8867-4", "value": 72, "unit": "/min", "device": "oximeter-1"}]


def test_example_config_ships_the_five_questions_in_every_language():
    import tomllib
    data = tomllib.loads((ROOT / "config" / "example.toml").read_text(encoding="utf-8"))
    config = parse_config(data)
    questions = config.screening.questions
    assert [q.id for q in questions] == ["fever-14d", "cough", "smell-taste", "contact", "travel-14d"]
    assert all(set(q.texts) == {"ru", "zh", "en"} and q.box_if_yes for q in questions)


def test_a_question_missing_a_site_language_is_a_config_error():
    import tomllib
    data = tomllib.loads((ROOT / "config" / "example.toml").read_text(encoding="utf-8"))
    data["screening"]["questions"][0]["texts"].pop("zh")
    with pytest.raises(ConfigError, match="fever-14d.*zh"):
        parse_config(data)
