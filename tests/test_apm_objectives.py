"""NFRs as monitoring objectives: what each SLI counts and the error budget it may spend."""

from __future__ import annotations

import math

import pytest

from scaleplan.apm.objectives import objectives, unwatched
from scaleplan.spec import NFRSpec


def _one(slo: str) -> tuple[str, float, float]:
    [objective] = objectives(NFRSpec.model_validate({"slos": [slo]}))
    return objective.kind, objective.budget, objective.threshold_s


@pytest.mark.parametrize(
    ("slo", "kind", "budget", "threshold_s"),
    [
        ("errors<=0.1%", "errors", 0.001, math.nan),
        ("errors<=0.02", "errors", 0.02, math.nan),
        # A percentile objective: the share of requests allowed above the bound.
        ("p99<=400ms", "latency", 0.01, 0.4),
        ("p95<=1s", "latency", 0.05, 1.0),
        ("p999<=2s", "latency", 0.001, 2.0),
        ("p90<=250ms", "latency", 0.10, 0.25),
        ("p50<=80ms", "latency", 0.50, 0.08),
    ],
)
def test_budget_from_the_nfr(slo: str, kind: str, budget: float, threshold_s: float) -> None:
    got_kind, got_budget, got_threshold = _one(slo)
    assert got_kind == kind
    assert got_budget == pytest.approx(budget, rel=1e-12)
    assert got_threshold == pytest.approx(threshold_s, nan_ok=True)


def test_availability_and_per_class_objectives() -> None:
    nfrs = NFRSpec.model_validate(
        {"slos": ["checkout.p99<=800ms", "mean<=50ms"], "availability": {"min_percent": 99.95}}
    )
    per_class, mean, availability = objectives(nfrs)
    assert (per_class.kind, per_class.request_class, per_class.ident) == (
        "latency",
        "checkout",
        "CheckoutLatencyP99",
    )
    assert per_class.budget == pytest.approx(0.01) and per_class.target == pytest.approx(0.99)
    # A mean is not a share of requests: no budget, a threshold alert instead.
    assert mean.kind == "mean" and math.isnan(mean.budget) and mean.threshold_s == 0.05
    assert availability.kind == "availability" and availability.text == "availability>=99.95%"
    assert availability.budget == pytest.approx(0.0005, rel=1e-9)


def test_throughput_objectives_are_left_to_the_capacity_alerts() -> None:
    nfrs = NFRSpec.model_validate({"slos": ["throughput>=99%", "throughput>=500/s", "p99<=1s"]})
    assert [o.text for o in objectives(nfrs)] == ["p99<=1s"]
    assert unwatched(nfrs) == ("throughput>=99%", "throughput>=500/s")
