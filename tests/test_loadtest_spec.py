"""The scenario's ``loadtest:`` section: defaults, and clear errors for bad values."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from scaleplan.errors import SpecError
from scaleplan.spec import load_scenario
from scaleplan.spec.scenario import LoadTestSpec, parse_scenario

DATA = Path(__file__).parent / "data" / "scenarios"


def _scenario(loadtest: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DATA / "tiny-loadtest.yaml").read_text())
    data["loadtest"] = loadtest
    return data


def test_the_section_is_optional_with_the_documented_defaults() -> None:
    spec = LoadTestSpec()
    assert spec.host == "http://127.0.0.1:8000"
    assert spec.user_rate_per_s == 1.0
    assert (spec.step_s, spec.settle_s) == (60.0, 15.0)
    assert spec.fractions == (0.25, 0.5, 0.75, 0.9, 1.0, 1.1)
    assert spec.request_for("browse").model_dump() == {"method": "GET", "path": "/browse"}


def test_the_tiny_scenario_gives_its_requests() -> None:
    scenario = load_scenario(DATA / "tiny-loadtest.yaml")
    assert scenario.loadtest.request_for("checkout").model_dump() == {
        "method": "POST",
        "path": "/checkout",
    }
    assert scenario.loadtest.fractions == (0.5, 0.9, 1.1)


def test_a_request_for_an_unknown_class_names_it_and_the_known_ones() -> None:
    data = _scenario({"requests": {"chekout": {"path": "/c"}}})
    with pytest.raises(SpecError) as caught:
        parse_scenario(data, source="s.yaml", base_dir=str(DATA))
    text = str(caught.value)
    assert "loadtest.requests.chekout" in text
    assert "no request class 'chekout'" in text
    assert "did you mean 'checkout'" in text
    assert "known: browse, checkout" in text


def test_a_workload_without_classes_knows_only_default() -> None:
    data = _scenario({"requests": {"default": {"path": "/"}}})
    data["candidates"][0]["architecture"]["workload"].pop("classes")
    scenario = parse_scenario(data, source="s.yaml", base_dir=str(DATA))
    assert scenario.loadtest.request_for("default").path == "/"
    data["loadtest"] = {"requests": {"browse": {"path": "/b"}}}
    with pytest.raises(SpecError, match=r"known: default"):
        parse_scenario(data, source="s.yaml", base_dir=str(DATA))


@pytest.mark.parametrize(
    ("loadtest", "key", "message"),
    [
        ({"fractions": [0.5, 0.5]}, "loadtest.fractions", r"must increase \(item 1, 0\.5"),
        ({"fractions": [0.0, 0.5]}, "loadtest.fractions", r"item 0 must be above 0"),
        ({"fractions": []}, "loadtest.fractions", r"at least 1"),
        ({"step_s": 10, "settle_s": 10}, "loadtest", r"settle_s must be shorter than step_s"),
        ({"user_rate_per_s": 0}, "loadtest.user_rate_per_s", r"greater than 0"),
        ({"host": "localhost:8000"}, "loadtest.host", r"pattern"),
        ({"requests": {"browse": {"path": "browse"}}}, "loadtest.requests.browse.path", "pattern"),
        ({"requests": {"browse": {"path": "/b", "method": "GO"}}}, "method", "GET"),
        ({"steps": 3}, "loadtest.steps", r"unknown key|not permitted|Extra"),
    ],
)
def test_bad_values_are_named_by_key(loadtest: dict[str, Any], key: str, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_scenario(_scenario(loadtest), source="s.yaml", base_dir=str(DATA))
    text = str(caught.value)
    assert "s.yaml" in text and key in text, text
    assert re.search(message, text), text
