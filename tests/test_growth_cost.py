"""Growth runway and the cost model: plain arithmetic, checked against the formulas."""

from __future__ import annotations

import json
import math

import pytest
import yaml

from scaleplan.experiments import cost, runway, runway_months
from scaleplan.spec import HOURS_PER_MONTH, CostTableSpec, RetentionNFR, parse_spec


@pytest.mark.parametrize(
    ("limit", "today", "growth"),
    [(300.0, 100.0, 0.08), (1665.0, 225.0, 0.08), (101.0, 100.0, 0.01), (5e4, 3.0, 0.5)],
)
def test_runway_is_log_limit_over_today_over_log_one_plus_growth(limit, today, growth):
    expected = math.log(limit / today) / math.log(1 + growth)
    result = runway(limit, today, growth, horizon_months=24)
    assert result.months == pytest.approx(expected, rel=1e-12)
    # In the month of breach the load has passed the limit; the month before it had not.
    month = result.breach_month
    assert month == math.floor(expected) + 1
    assert today * (1 + growth) ** month > limit
    assert today * (1 + growth) ** (month - 1) <= limit


def test_runway_edge_cases():
    assert runway_months(100.0, 100.0, 0.1) == 0.0
    assert runway_months(90.0, 100.0, 0.1) == 0.0
    assert runway_months(200.0, 100.0, 0.0) == math.inf
    assert runway_months(200.0, 100.0, -0.05) == math.inf
    assert math.isnan(runway_months(math.nan, 100.0, 0.1))
    flat = runway(200.0, 100.0, 0.0)
    assert flat.breach_month is None and flat.to_dict()["months"] is None
    assert flat.to_dict()["months_is_infinite"]
    assert runway(90.0, 100.0, 0.1).breach_month == 0


def test_runway_interval_and_headroom_curve():
    result = runway(300.0, 100.0, 0.08, limit_ci95=(280.0, 320.0), horizon_months=24)
    low, high = result.months_ci95
    assert low == pytest.approx(runway_months(280.0, 100.0, 0.08))
    assert high == pytest.approx(runway_months(320.0, 100.0, 0.08))
    assert low < result.months < high
    assert result.meets_horizon is False
    curve = result.curve
    assert curve[0]["headroom"] == pytest.approx(1 - 100 / 300)
    assert curve[12]["load_per_s"] == pytest.approx(100 * 1.08**12)
    assert all(p["headroom_low"] <= p["headroom"] <= p["headroom_high"] for p in curve)
    # The headroom crosses 0 exactly at the runway.
    crossing = next(p["month"] for p in curve if p["headroom"] < 0)
    assert crossing == result.breach_month
    assert len(curve) >= 25
    json.dumps(result.to_dict(), allow_nan=False)
    assert result.records()[0]["month"] == 0.0


def shop():
    """lb → api (3 replicas) → db, called with probability 0.5."""
    return parse_spec(
        {
            "name": "shop",
            "workload": {"rate_per_s": 100},
            "entry": "lb",
            "components": {
                "lb": {"kind": "load_balancer", "to": "api"},
                "api": {
                    "kind": "service",
                    "replicas": 3,
                    "service_time": {"dist": "exponential", "mean_ms": 10},
                    "calls": [{"to": "db", "probability": 0.5}],
                },
                "db": {
                    "kind": "service",
                    "service_time": {"dist": "exponential", "mean_ms": 2},
                },
            },
        }
    )


TABLE = CostTableSpec.model_validate(
    {
        "currency": "EUR",
        "defaults": {
            "service": {"per_replica_hour": 0.1},
            "load_balancer": {"fixed_per_month": 20, "per_million_requests": 1.0},
        },
        "candidates": {"shop": {"db": {"per_replica_hour": 0.5, "per_gb_month": 0.1}}},
    }
)


def test_cost_per_month_adds_replica_hours_requests_storage_and_fees():
    retention = RetentionNFR(writes_per_request=0.2, record_kb=1, days=30, component="db")
    result = cost(shop(), TABLE, today_per_s=100.0, peak_per_s=200.0, retention=retention)
    month_s = HOURS_PER_MONTH * 3600
    stored_today = 100 * 0.2 * 1 * 30 * 86_400 / 1e6  # GB
    expected_today = (
        (20 + 1.0 * 100 * month_s / 1e6)  # load balancer: fee + every request
        + 0.1 * 3 * HOURS_PER_MONTH  # api: 3 replicas
        + 0.5 * HOURS_PER_MONTH
        + 0.1 * stored_today  # db: 1 replica + storage
    )
    assert result.per_month_today == pytest.approx(expected_today)
    assert result.storage_gb == pytest.approx(stored_today)
    rows = {row["component"]: row for row in result.records()}
    assert rows["db"]["requests_per_s"] == pytest.approx(50.0)  # visit ratio 0.5
    assert rows["api"]["nodes"] == 3
    # At peak the per-request and storage parts double; the replica-hours do not.
    extra = 1.0 * 100 * month_s / 1e6 + 0.1 * stored_today
    assert result.per_month_peak == pytest.approx(expected_today + extra)
    assert result.per_million_requests == pytest.approx(expected_today / (100 * month_s / 1e6))
    json.dumps(result.to_dict(), allow_nan=False)


def test_cost_per_slo_meeting_request_and_at_the_month_of_breach():
    growth = runway(150.0, 100.0, 0.1)
    result = cost(
        shop(),
        TABLE,
        today_per_s=100.0,
        peak_per_s=200.0,
        limit_per_s=150.0,
        growth_per_month=0.1,
        breach_month=growth.breach_month,
    )
    month_s = HOURS_PER_MONTH * 3600
    # Beyond the limit only 150/s of the 200/s peak are served within the SLOs.
    assert result.per_slo_meeting_request == pytest.approx(result.per_month_peak / (150 * month_s))
    at_breach = cost(shop(), TABLE, today_per_s=100.0 * 1.1**growth.breach_month)
    assert result.breach_month == 5
    assert result.per_month_at_breach == pytest.approx(at_breach.per_month_today)
    unpriced = cost(shop(), CostTableSpec(), today_per_s=100.0)
    assert unpriced.per_month_today == 0.0


def every_kind() -> tuple[object, dict[str, float]]:
    """One component of every kind, and the nodes each must be billed for."""
    spec = parse_spec(
        {
            "name": "every-kind",
            "workload": {"rate_per_s": 20, "requests": 500},
            "entry": "edge",
            "components": {
                "edge": {"kind": "edge", "to": "lb", "share": 0.2},
                "lb": {"kind": "load_balancer", "to": "api"},
                "api": {
                    "kind": "service",
                    "replicas": 3,
                    "service_time": {"dist": "exponential", "mean_ms": 5},
                    "autoscale": {"target": 0.6, "min_replicas": 2, "max_replicas": 6},
                    "calls": [
                        {"to": "cache"},
                        {"to": "jobs", "probability": 0.5},
                        {"to": "events", "probability": 0.5},
                    ],
                },
                "cache": {"kind": "cache", "backing": "db", "hit_ratio": 0.7, "replicas": 3},
                "db": {
                    "kind": "database",
                    "shards": 4,
                    "read_replicas": 1,
                    "read_time": {"dist": "exponential", "mean_ms": 2},
                },
                "jobs": {"kind": "queue", "consumer": "workers", "nodes": 3},
                "events": {
                    "kind": "topic",
                    "nodes": 2,
                    "subscriptions": [{"name": "audit", "consumer": "auditors"}],
                },
                "workers": {
                    "kind": "worker_pool",
                    "replicas": 2,
                    "service_time": {"dist": "exponential", "mean_ms": 5},
                },
                "auditors": {
                    "kind": "worker_pool",
                    "replicas": 5,
                    "service_time": {"dist": "exponential", "mean_ms": 5},
                },
            },
        }
    )
    nodes = {
        "edge": 1,
        "lb": 1,
        "api": 3,
        "cache": 3,
        "db": 4 * (1 + 1),  # shards × (primary + read replica)
        "jobs": 3,
        "events": 2,
        "workers": 2,
        "auditors": 5,
    }
    return spec, nodes


def test_every_kind_is_billed_for_each_of_its_nodes():
    from scaleplan.kinds import REGISTRY

    spec, nodes = every_kind()
    assert {component.kind for component in spec.components.values()} == set(REGISTRY)
    table = CostTableSpec.model_validate(
        {"defaults": {kind: {"per_replica_hour": 1.0} for kind in REGISTRY}}
    )
    result = cost(spec, table, today_per_s=20.0)
    rows = {row.component: row for row in result.components}
    for name, expected in nodes.items():
        assert rows[name].nodes == expected, name
        assert rows[name].per_month == pytest.approx(expected * HOURS_PER_MONTH), name
    assert result.per_month_today == pytest.approx(sum(nodes.values()) * HOURS_PER_MONTH)


def test_autoscaled_replicas_are_billed_for_the_replica_hours_a_run_measured():
    from scaleplan.engine import simulate

    spec, _ = every_kind()
    table = CostTableSpec.model_validate({"defaults": {"service": {"per_replica_hour": 1.0}}})
    measured = simulate(spec, seed=1).components["api"].replicas
    # At 20 requests/s the autoscaler scales the 3 starting replicas down towards its minimum:
    # what ran is not what the spec starts with.
    assert measured != 3
    result = cost(spec, table, today_per_s=20.0, running_replicas={"api": measured})
    api = next(row for row in result.components if row.component == "api")
    assert api.nodes == pytest.approx(measured)
    assert api.per_month == pytest.approx(measured * HOURS_PER_MONTH)


def test_settled_autoscaled_replicas_price_today_and_the_month_of_breach():
    """With ``settle``, today and the month of breach are billed for the replicas the
    autoscaler settles on at their loads (HPA: ceil(a/target)), the peak for what ran."""
    from scaleplan.experiments.cost import settled_replicas

    spec = parse_spec(
        yaml.safe_load(
            """
name: hpa
workload: {rate_per_s: 10, requests: 100}
entry: api
components:
  api:
    kind: service
    replicas: 1
    concurrency: 2
    service_time: {dist: exponential, mean_ms: 100}
    autoscale: {metric: utilization, target: 0.5, min_replicas: 1, max_replicas: 20}
"""
        )
    )
    # a = λ·S/concurrency: 10 × 0.1 / 2 = 0.5 replicas → ceil(0.5/0.5) = 1; at 45/s, 2.25 → 5.
    assert settled_replicas(spec, 10.0) == {"api": 1.0}
    assert settled_replicas(spec, 45.0) == {"api": 5.0}
    table = CostTableSpec.model_validate({"defaults": {"service": {"per_replica_hour": 1.0}}})
    result = cost(
        spec,
        table,
        today_per_s=10.0,
        peak_per_s=30.0,
        growth_per_month=0.5,
        breach_month=3,  # 10 × 1.5³ = 33.75/s: a = 1.6875 → ceil(3.375) = 4
        running_replicas={"api": 2.5},
        settle=True,
    )
    assert result.per_month_today == pytest.approx(1 * HOURS_PER_MONTH)
    assert result.per_month_peak == pytest.approx(2.5 * HOURS_PER_MONTH)
    assert result.per_month_at_breach == pytest.approx(4 * HOURS_PER_MONTH)
