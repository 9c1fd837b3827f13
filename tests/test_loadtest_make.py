"""``make_plan``: the candidate, its limit, steps back to back and predictions with CIs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from scaleplan.errors import ScaleplanError, SpecError
from scaleplan.loadtest.make import check_size, make_plan, make_plan_context, users_for
from scaleplan.spec import NFRSpec, load_scenario
from scaleplan.spec.scenario import parse_scenario

DATA = Path(__file__).parent / "data" / "scenarios"


def _mm1(fractions: list[float], slos: list[str]) -> dict[str, Any]:
    """One exponential server of 10 ms (capacity 100/s) under Poisson arrivals."""
    return {
        "title": "M/M/1",
        "workload": {"today": {"arrival": "poisson", "rate_per_s": 20}},
        "nfrs": {"slos": slos},
        "candidates": [
            {
                "name": "one",
                "architecture": {
                    "name": "one",
                    "workload": {"rate_per_s": 20},
                    "entry": "api",
                    "components": {
                        "api": {
                            "kind": "service",
                            "service_time": {"dist": "exponential", "mean_ms": 10},
                        }
                    },
                },
            }
        ],
        "run": {
            "seed": 11,
            "replications": 5,
            "requests": 6000,
            "pull_replications": 2,
            "pull_requests": 3000,
            "precision": 0.05,
            "stopping": "fixed",
        },
        "loadtest": {"fractions": fractions, "step_s": 20, "settle_s": 4, "user_rate_per_s": 5},
    }


def test_the_steps_follow_the_limit_back_to_back_and_are_deterministic() -> None:
    scenario = load_scenario(DATA / "tiny-loadtest.yaml")
    plan = make_plan(scenario, workers=1)
    again = make_plan(scenario, workers=2)
    assert plan.to_json() == again.to_json()
    assert plan.candidate == "pair" and plan.bottleneck == "api"
    assert plan.limit_per_s is not None and plan.limit_per_s > 0
    assert [s.rate_per_s / plan.limit_per_s for s in plan.steps] == pytest.approx([0.5, 0.9, 1.1])
    assert [s.start_s for s in plan.steps] == [0.0, 30.0, 60.0]
    assert all(s.duration_s == 30.0 and s.settle_s == 5.0 for s in plan.steps)
    assert [s.users for s in plan.steps] == [users_for(s.rate_per_s, 2.0) for s in plan.steps]
    assert [(c.name, c.weight, c.method, c.path) for c in plan.classes] == [
        ("browse", 3.0, "GET", "/browse"),
        ("checkout", 1.0, "POST", "/checkout"),
    ]
    first = plan.steps[0]
    assert first.meets_slos and first.busiest == "api"
    assert set(first.predicted) == {
        "throughput_per_s",
        "mean_ms",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "error_rate",
    }


def test_the_predicted_mean_ci_covers_the_m_m_1_value() -> None:
    scenario = parse_scenario(_mm1([0.4, 0.6], ["mean<=50ms"]), source="mm1.yaml")
    context = make_plan_context(scenario, workers=1)
    plan = context.plan
    # mean <= 50 ms on M/M/1 of 10 ms: 1/(mu - lambda) = 0.05 s at lambda = 80/s.
    assert plan.limit_ci95 is not None and plan.limit_ci95[0] <= 80.0 <= plan.limit_ci95[1]
    for step in plan.steps:
        exact_ms = 1000.0 / (100.0 - step.rate_per_s)
        band = step.predicted["mean_ms"]
        assert band.low <= exact_ms <= band.high, (step.rate_per_s, band, exact_ms)
        throughput = step.predicted["throughput_per_s"]
        assert throughput.low <= step.rate_per_s <= throughput.high
        assert step.users == users_for(step.rate_per_s, 5.0)


def test_a_step_past_capacity_is_overloaded_and_does_not_meet_the_slos() -> None:
    scenario = parse_scenario(_mm1([0.5, 1.5], ["mean<=50ms"]), source="mm1.yaml")
    plan = make_plan(scenario, workers=1)
    over = plan.steps[1]
    assert over.rate_per_s > 100.0
    assert not over.meets_slos
    assert "p99_ms" not in over.predicted
    assert over.predicted["throughput_per_s"].mean <= 100.0 * 1.05


def test_options_override_the_section_and_are_checked_like_it() -> None:
    scenario = load_scenario(DATA / "tiny-loadtest.yaml")
    plan = make_plan(scenario, workers=1, step_s=10, settle_s=2, fractions=[0.5], host="http://x:1")
    assert len(plan.steps) == 1 and plan.steps[0].duration_s == 10 and plan.host == "http://x:1"
    with pytest.raises(SpecError, match=r"loadtest: settle_s must be shorter than step_s"):
        make_plan(scenario, workers=1, step_s=5)
    with pytest.raises(SpecError, match=r"loadtest\.fractions: .*must increase"):
        make_plan(scenario, workers=1, fractions=[0.5, 0.4])


def test_an_unknown_candidate_is_named_with_the_known_ones() -> None:
    scenario = load_scenario(DATA / "tiny-loadtest.yaml")
    with pytest.raises(SpecError, match=r"no candidate named 'par' \(did you mean 'pair'\?\)"):
        make_plan(scenario, "par", workers=1)


def test_several_candidates_take_the_recommended_one() -> None:
    scenario = load_scenario(DATA / "tiny-api.yaml")
    plan = make_plan(scenario, workers=1, fractions=[0.5])
    assert plan.candidate in scenario.names
    assert plan.classes[0].name == "default" and plan.classes[0].path == "/default"


def test_users_round_up() -> None:
    assert users_for(10.0, 1.0) == 10
    assert users_for(10.5, 1.0) == 11
    assert users_for(0.1, 1.0) == 1


def test_the_bundled_online_shop_plans_its_named_candidate() -> None:
    scenario = load_scenario(Path(__file__).parent.parent / "data/scenarios/online-shop.yaml")
    # A small budget: the test checks the plan's shape, not the shop's numbers.
    small = scenario.run.model_copy(
        update={
            "replications": 2,
            "requests": 3000,
            "pull_replications": 2,
            "pull_requests": 2000,
            "precision": 0.1,
        }
    )
    scenario = scenario.model_copy(update={"run": small})
    plan = make_plan(scenario, "lb-cluster", workers=1, fractions=[0.5, 1.5])
    assert plan.candidate == "lb-cluster" and plan.bottleneck == "api"
    assert [c.name for c in plan.classes] == ["default"]
    assert plan.slos == ("p99<=400ms", "errors<=0.1%")
    assert plan.steps[0].meets_slos and not plan.steps[1].meets_slos
    assert plan.steps[0].users == users_for(plan.steps[0].rate_per_s, 1.0)
    assert plan.steps[1].start_s == 60.0 and plan.steps[1].settle_s == 15.0
    # Past the api's capacity (3 replicas x 8 slots / 12 ms = 2,000/s): overloaded.
    assert plan.steps[1].rate_per_s > 2000.0
    assert "p99_ms" not in plan.steps[1].predicted


def test_no_recommended_candidate_asks_for_one_by_name() -> None:
    scenario = load_scenario(DATA / "tiny-api.yaml")
    strict = scenario.model_copy(update={"nfrs": NFRSpec.from_slos(("p99<=1ms",))})
    with pytest.raises(
        ScaleplanError, match=r"none is recommended .* --candidate \(pooled, replicas\)"
    ):
        make_plan(strict, workers=1)


def test_predictions_too_long_to_simulate_are_refused_before_running() -> None:
    scenario = load_scenario(DATA / "tiny-loadtest.yaml")
    check_size(scenario, scenario.loadtest, None)  # the tiny budget: fine
    huge = scenario.model_copy(update={"run": scenario.run.model_copy(update={"requests": 10**10})})
    with pytest.raises(SpecError, match=r"run\.requests: .* \(3 steps \+ 3 test cases\) of 'pair'"):
        check_size(huge, scenario.loadtest, "pair")
