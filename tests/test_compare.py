"""Paired comparison under common random numbers, NFR gates, decision matrix, Pareto, choice."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from scaleplan.analytic.queues import mm1, mmc
from scaleplan.engine import simulate
from scaleplan.experiments import CompareSettings, compare
from scaleplan.experiments.compare import PairedDifference
from scaleplan.metrics import replication_ci
from scaleplan.spec import CostTableSpec, NFRSpec, load_scenario, parse_spec

ROOT = Path(__file__).resolve().parent.parent


def station(name: str, servers: int, mean_ms: float = 10.0, rate_per_s: float = 60.0):
    return parse_spec(
        {
            "name": name,
            "workload": {"rate_per_s": rate_per_s},
            "entry": "api",
            "components": {
                "api": {
                    "kind": "service",
                    "concurrency": servers,
                    "service_time": {"dist": "exponential", "mean_ms": mean_ms},
                }
            },
        }
    )


def test_a_candidate_against_itself_differs_by_exactly_zero():
    spec = station("same", 1)
    result = compare(
        {"a": spec, "b": spec},
        CompareSettings(nfrs=["p99<=500ms"], replications=4, requests=3000, pull_replications=0),
    )
    for metric in ("p99_ms", "mean_ms", "p50_ms"):
        difference = result.difference("b", metric)
        low, high = difference.ci95
        assert low <= 0.0 <= high
        # Same spec, same seeds: the engine replays the same sample path, so every
        # per-replication difference is exactly 0 and so is the whole interval.
        assert (low, high) == (0.0, 0.0) and difference.identical
        assert not difference.significant
    assert "equals" in result.difference("b").sentence()


def test_paired_differences_are_the_paired_t_interval_under_common_random_numbers():
    one, two = station("one", 1), station("two", 2)
    result = compare(
        {"one": one, "two": two},
        CompareSettings(nfrs=["mean<=50ms"], replications=5, requests=4000, pull_replications=0),
    )
    a = np.array([simulate(one, seed=s, requests=4000).latency_ms.mean for s in range(1, 6)])
    b = np.array([simulate(two, seed=s, requests=4000).latency_ms.mean for s in range(1, 6)])
    paired = replication_ci(b - a)
    difference = result.difference("two", "mean_ms")
    assert difference.ci95 == pytest.approx((paired.low, paired.high))
    assert difference.relative_ci95 == pytest.approx(
        (replication_ci(b / a - 1).low, replication_ci(b / a - 1).high)
    )
    # The analytic difference of the means at 60/s with 10 ms service: M/M/2 − M/M/1.
    analytic = 1000 * (mmc(60.0, 100.0, 2).mean_response - mm1(60.0, 100.0).mean_response)
    assert difference.ci95[0] <= analytic <= difference.ci95[1]
    assert difference.significant and "lower" in difference.sentence()
    # Common random numbers make the paired interval narrower than an unpaired one.
    unpaired = replication_ci(b).half_width + replication_ci(a).half_width
    assert paired.half_width < unpaired


def test_gates_matrix_pareto_and_recommendation():
    slow, fast = station("slow", 1, 10.0), station("fast", 3, 10.0)
    costs = CostTableSpec.model_validate(
        {
            "defaults": {"service": {"per_replica_hour": 1.0}},
            "candidates": {"fast": {"api": {"per_replica_hour": 3.0}}},
        }
    )
    nfrs = NFRSpec.model_validate({"slos": ["p99<=60ms"], "headroom": {"min_percent": 20}})
    result = compare(
        {"slow": slow, "fast": fast},
        CompareSettings(
            nfrs=nfrs,
            replications=3,
            requests=3000,
            costs=costs,
            weights={"p99_ms": 1, "cost_per_month": 1},
            pull_replications=2,
            pull_requests=3000,
            precision=0.05,
        ),
    )
    slow_result, fast_result = result.candidate("slow"), result.candidate("fast")
    # M/M/1 at ρ = 0.6: p99 = ln(100)/(100 − 60) s ≈ 115 ms, beyond 60 ms: a hard gate.
    assert slow_result.gated and any("p99<=60ms" in r for r in slow_result.gate_reasons)
    assert not fast_result.gated
    assert result.recommended == "fast"
    assert result.weights == {"p99_ms": 0.5, "cost_per_month": 0.5}
    # Scores are relative to the best candidate that passes the gates.
    assert fast_result.scores == {"p99_ms": 1.0, "cost_per_month": 1.0}
    assert slow_result.scores["cost_per_month"] == 1.0  # cheaper than the best eligible one
    # Cheaper but slower against dearer and faster: both on the frontier.
    assert set(result.pareto) == {"slow", "fast"}
    assert any("excluded" in reason and "slow" in reason for reason in result.reasons)
    assert fast_result.pull is not None and fast_result.runway is not None
    matrix = result.matrix_records()
    assert [row["candidate"] for row in matrix] == ["slow", "fast"]
    assert matrix[1]["recommended"] and matrix[0]["gated"]
    json.dumps(result.to_dict(), allow_nan=False)
    assert len(result.records()) == 2 and len(result.difference_records()) == 4


def test_no_recommendation_when_every_candidate_fails_a_gate():
    result = compare(
        {"a": station("a", 1), "b": station("b", 1, 12.0)},
        CompareSettings(nfrs=["p99<=5ms"], replications=2, requests=2000, pull_replications=0),
    )
    assert result.recommended is None
    assert "No candidate passes" in result.reasons[0]


def test_a_candidate_unstable_at_peak_fails_its_gates():
    result = compare(
        {"small": station("small", 1), "big": station("big", 2)},
        CompareSettings(
            nfrs=["p99<=1s"],
            peak_rate_per_s=150.0,
            replications=2,
            requests=2000,
            pull_replications=0,
        ),
    )
    small = result.candidate("small")
    assert not small.stable_at_peak and small.gated
    assert result.recommended == "big"
    assert np.isnan(result.difference("big").difference)


@pytest.mark.slow
def test_the_online_shop_scenario_runs_to_a_recommendation():
    scenario = load_scenario(ROOT / "data/scenarios/online-shop.yaml")
    result = compare(
        scenario,
        CompareSettings(
            replications=2, requests=4000, pull_replications=2, pull_requests=4000, precision=0.05
        ),
        workers=2,
    )
    assert [c.name for c in result.candidates] == ["monolith", "lb-cluster", "three-tier"]
    assert result.baseline == "monolith"
    assert result.recommended in scenario.names
    assert result.checklist and result.checklist[0]["area"] == "compliance"
    recommended = result.candidate(result.recommended)
    assert not recommended.gated
    verdicts = {v.nfr: v.status for v in recommended.verdicts}
    assert verdicts["availability>=99.9%"] in ("not evaluated", "pass", "inconclusive")
    assert result.currency == "EUR"
    json.dumps(result.to_dict(), allow_nan=False)


def test_bad_arguments_are_refused():
    spec = station("a", 1)
    with pytest.raises(ValueError, match="at least 2 replications"):
        compare({"a": spec}, CompareSettings(replications=1, pull_replications=0))
    with pytest.raises(ValueError, match="baseline"):
        compare({"a": spec}, CompareSettings(baseline="z", pull_replications=0))
    with pytest.raises(ValueError, match="unknown criteria"):
        compare({"a": spec}, CompareSettings(weights={"speed": 1}, pull_replications=0))


def test_a_half_width_under_half_a_percent_is_not_printed_as_zero() -> None:
    # "orders-three's mean is 24% ± 0% lower" read as an exact figure: the interval is printed
    # with one significant digit when it rounds to 0 at whole percents.
    narrow = PairedDifference(
        metric="mean_ms",
        candidate="b",
        baseline="a",
        candidate_mean=76.0,
        baseline_mean=100.0,
        difference=-24.0,
        ci95=(-24.3, -23.7),
        relative=-0.24,
        relative_ci95=(-0.243, -0.237),
        replications=3,
        identical=False,
    )
    assert narrow.sentence() == "b's mean is 24% ± 0.3% lower than a's"
    wide = dataclasses.replace(narrow, relative_ci95=(-0.28, -0.20))
    assert wide.sentence() == "b's mean is 24% ± 4% lower than a's"


def test_a_diurnal_candidate_is_measured_at_its_peak_rate_held_steady() -> None:
    """The peak of a diurnal workload is its busiest slice's rate; a run there of a few
    thousand requests covered only the start of the day (its night, at a fifth of that), so
    the gates judged a fifth of the peak (a composition defect of diurnal × compare)."""
    day = [0.2, 0.2, 0.4, 0.8, 1.0, 1.2, 1.4, 1.6, 1.8, 2.0, 1.0, 0.4]  # mean 1, busiest 2
    spec = station("diurnal", 2, rate_per_s=60.0).with_changes(
        {"workload.arrival": "diurnal", "workload.diurnal": {"period_s": 240, "profile": day}}
    )
    result = compare(
        {"diurnal": spec},
        CompareSettings(nfrs=["mean<=50ms"], replications=5, requests=4000, pull_replications=0),
    )
    assert result.peak_rate_per_s == pytest.approx(120.0)
    candidate = result.candidates[0]
    low, high = candidate.metrics_ci95["throughput_per_s"]
    assert low <= 120.0 <= high, (low, high)
    low, high = candidate.metrics_ci95["mean_ms"]
    exact = 1000 * mmc(120.0, 100.0, 2).mean_response
    assert low <= exact <= high, (low, high, exact)
