"""The design of a chosen option: the recommended one, a named one measured alone, the only one."""

from __future__ import annotations

from pathlib import Path

import pytest
from _apm import shop, shop_design

from scaleplan.apm import design, make_design
from scaleplan.apm.design import _alone
from scaleplan.errors import ScaleplanError, SpecError
from scaleplan.spec import load_scenario

DATA = Path(__file__).resolve().parent / "data/scenarios"


def test_the_recommended_candidate_from_the_comparison() -> None:
    scenario, comparison = shop()
    made = design(scenario, comparison)
    assert made.name == comparison.recommended and made.recommended
    assert made.candidate is comparison.candidate(made.name)
    other = next(n for n in scenario.names if n != comparison.recommended)
    assert not shop_design(candidate=other).recommended
    with pytest.raises(KeyError):
        design(scenario, comparison, "nonesuch")


def test_a_named_candidate_is_measured_alone() -> None:
    scenario, _ = shop()
    alone = _alone(scenario, "three-tier")
    assert alone.names == ["three-tier"] and alone.baseline == "three-tier"
    assert alone.source == scenario.source and scenario.names == [
        "monolith",
        "lb-cluster",
        "three-tier",
    ]
    tiny = load_scenario(DATA / "tiny-loadtest.yaml")  # its only candidate: no comparison
    made = make_design(tiny, workers=1)
    assert made.name == "pair" and made.candidate.pull is not None
    assert made.plan.routes == {"browse": "/browse", "checkout": "/checkout"}
    assert {0.2, 0.12} <= set(made.plan.buckets_s)  # both latency bounds are edges
    again = make_design(tiny, "pair", workers=1)
    assert again.rules.to_yaml() == made.rules.to_yaml()  # one seed, one design


def test_unknown_candidate_and_no_recommendation() -> None:
    tiers = load_scenario(DATA / "tiny-tiers.yaml")
    with pytest.raises(SpecError, match="no candidate named 'three'"):
        make_design(tiers, "three", workers=1)
    impossible = tiers.model_copy(
        update={"nfrs": tiers.nfrs.model_validate({"slos": ["p99<=0.01ms"]})}
    )
    with pytest.raises(ScaleplanError, match="none is recommended to monitor"):
        make_design(impossible, workers=1)


def test_an_objective_for_a_class_the_candidate_lacks_is_not_watched() -> None:
    nfrs = {"slos": ["checkout.p99<=800ms", "errors<=0.1%"]}
    lacking = shop_design(nfrs)  # lb-cluster has no request classes
    assert [o.text for o in lacking.objectives] == ["errors<=0.1%"]
    assert "checkout.p99<=800ms: lb-cluster has no request class 'checkout'" in lacking.notes[0]
    assert 0.8 not in lacking.plan.buckets_s
    having = shop_design(nfrs, candidate="three-tier")
    assert [o.text for o in having.objectives] == ["checkout.p99<=800ms", "errors<=0.1%"]
