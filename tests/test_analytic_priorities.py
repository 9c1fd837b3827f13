"""Cobham's priority formulas (:mod:`scaleplan.analytic.priorities`) against textbook numbers
and the identities they must satisfy, and the estimate's per-class latencies under priorities
(:mod:`scaleplan.analytic.class_waits`)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from scaleplan.analytic.network import estimate
from scaleplan.analytic.priorities import (
    PriorityClass,
    levels,
    mg1_nonpreemptive,
    mg1_preemptive_resume,
    mmc_nonpreemptive,
)
from scaleplan.analytic.queues import UnstableError, erlang_c, md1, mg1, mm1, mmc
from scaleplan.spec import parse_spec

EXP = 1.0  # scv of an exponential service time
DET = 0.0  # of a constant one


def test_levels_rank_distinct_priorities() -> None:
    assert levels([5, 0, 5, 2]) == [2, 0, 2, 1]


def test_mm1_nonpreemptive_two_classes_textbook_numbers() -> None:
    # μ = 1, λ1 = λ2 = 0.4 (ρ = 0.8): W0 = ρ/μ = 0.8, W1 = 0.8/0.6, W2 = 0.8/(0.6 × 0.2).
    waits = mg1_nonpreemptive([PriorityClass(0.4, 1.0, EXP, 0), PriorityClass(0.4, 1.0, EXP, 1)])
    assert waits == pytest.approx([4 / 3, 20 / 3], rel=1e-12)


def test_md1_nonpreemptive_three_classes_textbook_numbers() -> None:
    # D = 1, λ = 0.2, 0.3, 0.3 (ρ = 0.8): W0 = Σλ·D²/2 = 0.4;
    # W1 = 0.4/(1 × 0.8), W2 = 0.4/(0.8 × 0.5), W3 = 0.4/(0.5 × 0.2).
    classes = [
        PriorityClass(0.2, 1.0, DET, 0),
        PriorityClass(0.3, 1.0, DET, 1),
        PriorityClass(0.3, 1.0, DET, 2),
    ]
    assert mg1_nonpreemptive(classes) == pytest.approx([0.5, 1.0, 4.0], rel=1e-12)


def test_mm1_preemptive_resume_textbook_numbers() -> None:
    # The top class sees an M/M/1 of its own: 1/(1 − 0.4); T2 = 1/0.6 + 0.8/(0.6 × 0.2).
    times = mg1_preemptive_resume(
        [PriorityClass(0.4, 1.0, EXP, 0), PriorityClass(0.4, 1.0, EXP, 1)]
    )
    assert times == pytest.approx([5 / 3, 5 / 3 + 20 / 3], rel=1e-12)


def test_mmc_nonpreemptive_textbook_numbers() -> None:
    # c = 3, μ = 1, λ = 1.2 + 1.2 (a = 2.4, ρ = 0.8): W_k = C(3, 2.4)/(3 (1 − σ_{k−1})(1 − σ_k)).
    c = erlang_c(3, 2.4)
    assert c == pytest.approx(0.6472, abs=5e-5)  # Erlang C tables
    waits = mmc_nonpreemptive([PriorityClass(1.2, 1.0, EXP, 0), PriorityClass(1.2, 1.0, EXP, 1)], 3)
    assert waits == pytest.approx([c / (3 * 0.6), c / (3 * 0.6 * 0.2)], rel=1e-12)


@pytest.mark.parametrize("scv", [0.0, 0.25, 1.0, 4.0])
def test_nonpreemptive_conserves_the_fifo_wait(scv: float) -> None:
    """Kleinrock's conservation law: with one service time for all, priorities only reorder,
    so the rate-weighted mean wait is FIFO's (Pollaczek–Khinchine)."""
    classes = [PriorityClass(rate, 2.0, scv, p) for rate, p in ((0.1, 0), (0.15, 1), (0.1, 2))]
    waits = mg1_nonpreemptive(classes)
    mean = sum(c.rate * w for c, w in zip(classes, waits, strict=True)) / 0.35
    assert mean == pytest.approx(mg1(0.35, 2.0, scv).mean_wait, rel=1e-12)


def test_mmc_nonpreemptive_conserves_erlang_c() -> None:
    classes = [PriorityClass(rate, 0.5, EXP, p) for rate, p in ((2.0, 0), (3.0, 1), (2.0, 3))]
    waits = mmc_nonpreemptive(classes, 4)
    mean = sum(c.rate * w for c, w in zip(classes, waits, strict=True)) / 7.0
    assert mean == pytest.approx(mmc(7.0, 2.0, 4).mean_wait, rel=1e-12)


def test_preemptive_resume_exponential_conserves_mm1_and_the_top_class_is_alone() -> None:
    classes = [PriorityClass(rate, 1.0, EXP, p) for rate, p in ((0.3, 0), (0.2, 1), (0.3, 2))]
    times = mg1_preemptive_resume(classes)
    mean = sum(c.rate * t for c, t in zip(classes, times, strict=True)) / 0.8
    assert mean == pytest.approx(mm1(0.8, 1.0).mean_response, rel=1e-12)
    assert times[0] == pytest.approx(mm1(0.3, 1.0).mean_response, rel=1e-12)


def test_preemptive_resume_top_class_is_its_own_mg1() -> None:
    classes = [PriorityClass(0.3, 1.0, DET, 0), PriorityClass(0.5, 1.0, DET, 1)]
    assert mg1_preemptive_resume(classes)[0] == pytest.approx(md1(0.3, 1.0).mean_response)


def test_classes_of_one_priority_share_a_level() -> None:
    split = mg1_nonpreemptive([PriorityClass(0.3, 1.0, EXP, 4), PriorityClass(0.5, 1.0, EXP, 4)])
    assert split == pytest.approx([mm1(0.8, 1.0).mean_wait] * 2, rel=1e-12)


def test_unstable_and_unequal_rates_are_refused() -> None:
    with pytest.raises(UnstableError):
        mg1_nonpreemptive([PriorityClass(0.6, 1.0, EXP, 0), PriorityClass(0.5, 1.0, EXP, 1)])
    with pytest.raises(ValueError, match="one service rate"):
        mmc_nonpreemptive([PriorityClass(0.1, 1.0, EXP, 0), PriorityClass(0.1, 2.0, EXP, 1)], 2)


# --------------------------------------------------------------------------- the estimate


TWO = [
    {"name": "gold", "weight": 3, "priority": 0},
    {"name": "bronze", "weight": 5, "priority": 2},
]


def one_service(**component: Any) -> Any:
    return parse_spec(
        {
            "name": "prio",
            "entry": "api",
            "workload": {"rate_per_s": component.pop("rate", 80), "classes": TWO},
            "components": {
                "api": {
                    "kind": "service",
                    "service_time": {"dist": "exponential", "mean_ms": 10},
                    **component,
                }
            },
        }
    )


def test_estimate_gives_each_class_cobhams_latency_at_one_station() -> None:
    gold, bronze = PriorityClass(0.03, 10.0, EXP, 0), PriorityClass(0.05, 10.0, EXP, 2)
    result = estimate(one_service())
    waits = mg1_nonpreemptive([gold, bronze])
    assert result.classes["gold"].mean == pytest.approx(waits[0] + 10)
    assert result.classes["bronze"].mean == pytest.approx(waits[1] + 10)
    assert result.latency_ms.mean == pytest.approx(mm1(80, 100).mean_response * 1e3)
    assert math.isnan(result.latency_ms.p99)  # FIFO's percentiles no longer hold
    assert result.method.endswith("exact")

    preemptive = estimate(one_service(preemptive=True))
    times = mg1_preemptive_resume([gold, bronze])
    assert [preemptive.classes[k].mean for k in ("gold", "bronze")] == pytest.approx(times)

    three = estimate(one_service(concurrency=3, rate=240))
    waits = mmc_nonpreemptive(
        [PriorityClass(0.09, 10.0, EXP, 0), PriorityClass(0.15, 10.0, EXP, 2)], 3
    )
    assert [three.classes[k].mean for k in ("gold", "bronze")] == pytest.approx(
        [w + 10 for w in waits]
    )


def test_estimate_preemptive_mmc_top_class_sees_its_own_mmc() -> None:
    result = estimate(one_service(concurrency=3, rate=240, preemptive=True))
    assert result.classes["gold"].mean == pytest.approx(1e3 * mmc(90, 100, 3).mean_response)
    # The two classes' rate-weighted mean is the M/M/3 FIFO mean (exponential: conserved).
    mean = (3 * result.classes["gold"].mean + 5 * result.classes["bronze"].mean) / 8
    assert mean == pytest.approx(1e3 * mmc(240, 100, 3).mean_response)


def test_estimate_uses_each_class_own_visits() -> None:
    """gold enters at api, which calls db; batch enters at db directly. Only db mixes the
    classes: gold's latency is api's M/M/1 span plus its Cobham wait at db."""
    spec = parse_spec(
        {
            "name": "prio-net",
            "entry": "api",
            "workload": {
                "rate_per_s": 60,
                "classes": [
                    {"name": "gold", "weight": 1, "priority": 0},
                    {"name": "batch", "weight": 2, "priority": 1, "entry": "db"},
                ],
            },
            "components": {
                "api": {
                    "kind": "service",
                    "hold_during_calls": False,
                    "service_time": {"dist": "exponential", "mean_ms": 20},
                    "calls": [{"to": "db"}],
                },
                "db": {"kind": "service", "service_time": {"dist": "exponential", "mean_ms": 10}},
            },
        }
    )
    result = estimate(spec)
    at_db = mg1_nonpreemptive(
        [PriorityClass(0.02, 10.0, EXP, 0), PriorityClass(0.04, 10.0, EXP, 1)]
    )
    api_ms = 1e3 * mm1(20, 50).mean_response
    assert result.classes["gold"].mean == pytest.approx(api_ms + at_db[0] + 10)
    assert result.classes["batch"].mean == pytest.approx(at_db[1] + 10)
    assert result.components["db"].details["wait_ms_by_class"] == pytest.approx(
        {"gold": at_db[0], "batch": at_db[1]}
    )


def test_equal_priorities_leave_the_estimate_as_it_was() -> None:
    plain = one_service()
    unprioritised = [{"name": cls["name"], "weight": cls["weight"]} for cls in TWO]
    equal = [{**cls, "priority": 3} for cls in unprioritised]
    results = [
        estimate(plain.with_changes({"workload.classes": classes}))
        for classes in (unprioritised, equal)
    ]
    assert results[0].to_dict() == results[1].to_dict()
    assert "wait_ms_by_class" not in results[1].components["api"].details
    assert not any("priorit" in warning for warning in results[1].warnings)


def test_under_processor_sharing_every_class_gets_the_ps_sojourn() -> None:
    """The admitted share the processors whatever their class, and without an admission limit
    nothing waits: each class's mean is M/M/1-PS's E[S]/(1 − ρ), not Cobham's."""
    result = estimate(one_service(discipline="ps"))
    assert result.classes["gold"].mean == pytest.approx(10 / (1 - 0.8))
    assert result.classes["bronze"].mean == pytest.approx(10 / (1 - 0.8))
    limited = estimate(one_service(discipline="ps", admission_limit=2))
    assert any("priorities are not modelled in closed form at api" in w for w in limited.warnings)


def test_a_balancer_without_a_service_time_is_not_named_as_unmodelled() -> None:
    """A balancer that forwards at once has no queue for priorities to reorder."""
    spec = parse_spec(
        {
            "name": "prio-lb",
            "entry": "lb",
            "workload": {"rate_per_s": 80, "classes": TWO},
            "components": {
                "lb": {"kind": "load_balancer", "to": "api"},
                "api": {"kind": "service", "service_time": {"dist": "exponential", "mean_ms": 10}},
            },
        }
    )
    said = " ".join(estimate(spec).warnings)
    assert "not modelled in closed form" not in said, said
