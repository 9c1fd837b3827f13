"""Failures and availability against the closed forms, with fixed seeds.

Every statistical test asserts that a 95% interval from independent replications covers the
analytic value, and also that the interval is narrow enough to tell the answer from its
plausible wrong neighbours (so a test that would pass whatever the engine did fails).
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Any

import pytest

from scaleplan.analytic.availability import MINUTES_PER_MONTH, k_of_n, series, steady_state
from scaleplan.engine import HookContext, simulate
from scaleplan.experiments.availability import (
    down_intervals,
    failures,
    required_components,
    time_with_at_least,
)
from scaleplan.kinds.service import ServiceStation
from scaleplan.spec import ArchitectureSpec, parse_spec


def _service(replicas: int, failures: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    component: dict[str, Any] = {
        "kind": "service",
        "replicas": replicas,
        "service_time": {"dist": "exponential", "mean_ms": 5},
        **extra,
    }
    if failures is not None:
        component["failures"] = failures
    return component


def _spec(components: dict[str, Any], entry: str, **top: Any) -> ArchitectureSpec:
    return parse_spec(
        {
            "name": "t",
            "entry": entry,
            "workload": {"rate_per_s": 20, "warmup": "none"},
            "components": components,
            **top,
        }
    )


# --------------------------------------------------------------------------- the up/down logs


def test_down_intervals_and_time_up() -> None:
    log = [(10.0, 1), (12.0, 0), (15.0, 1), (20.0, 2), (50.0, 0)]
    assert down_intervals(log, 2, 0.0, 100.0) == [(12.0, 15.0), (50.0, 100.0)]
    assert down_intervals(log, 2, 0.0, 100.0, k=2) == [(10.0, 20.0), (50.0, 100.0)]
    # Windows cut intervals at their edges; an outage before the window starts is clipped.
    assert down_intervals(log, 2, 13.0, 60.0) == [(13.0, 15.0), (50.0, 60.0)]
    assert time_with_at_least(log, 2, 0.0, 100.0) == pytest.approx(100 - 3 - 50)
    assert time_with_at_least([], 3, 0.0, 10.0, k=3) == 10.0


def test_required_components_follow_calls_taken_every_time() -> None:
    spec = _spec(
        {
            "lb": {"kind": "load_balancer", "to": "api"},
            "api": _service(2, calls=[{"to": "db"}, {"to": "cache", "probability": 0.5}]),
            "db": _service(1),
            "cache": _service(1),
        },
        "lb",
    )
    assert required_components(spec) == ["api", "db", "lb"]


# --------------------------------------------------------------------------- the referee


def test_one_of_three_replicas_matches_the_parallel_formula() -> None:
    # a = 60 / (60 + 30) = 2/3 per replica; the service is up while any replica is.
    spec = _spec(
        {"api": _service(3, {"mtbf_h": 1, "mttr_min": 30, "detection_s": 5})},
        "api",
    )
    result = failures(spec, seed=11, replications=20, duration_h=1000, probes=200)
    a = steady_state(60.0, 30.0)
    expected = 1 - (1 - a) ** 3
    api = result.component("api")
    ci = api.time_availability
    assert api.analytic == pytest.approx(expected)
    assert ci.low <= expected <= ci.high, (ci, expected)
    assert result.covered is True and api.covered is True
    # Narrow enough to rule out the neighbours: two replicas, or four.
    assert ci.high - ci.low < 0.004
    assert not ci.low <= 1 - (1 - a) ** 2 <= ci.high
    assert not ci.low <= 1 - (1 - a) ** 4 <= ci.high
    # Capacity: at 20 requests/s of 5 ms one replica carries the load (k = 1).
    assert api.needed_replicas == 1
    # Downtime per month is the same figure in minutes.
    assert api.downtime_min_per_month.mean == pytest.approx((1 - ci.mean) * MINUTES_PER_MONTH)


def test_series_of_two_components_matches_the_product() -> None:
    spec = _spec(
        {
            "api": _service(1, {"mtbf_h": 2, "mttr_min": 20}, calls=[{"to": "db"}]),
            "db": _service(1, {"mtbf_h": 3, "mttr_min": 40}),
        },
        "api",
    )
    a1, a2 = steady_state(120.0, 20.0), steady_state(180.0, 40.0)
    captured: list[HookContext] = []
    result = failures(
        spec, seed=3, replications=20, duration_h=1500, probes=200, hooks=[captured.append]
    )
    ci = result.system_time
    assert result.required == ("api", "db")
    assert result.analytic == pytest.approx(series(a1, a2))
    assert ci.low <= a1 * a2 <= ci.high, (ci, a1 * a2)
    # The product, not either factor alone, nor as if outages never overlapped.
    assert not ci.low <= a1 <= ci.high and not ci.low <= a2 <= ci.high
    assert not ci.low <= 1 - (1 - a1) - (1 - a2) <= ci.high
    # Each component's share of the downtime: more from the db, and together more than all
    # of it, since some outages overlap.
    shares = {item.name: item.share_of_system_downtime for item in result.components}
    assert shares["db"] > shares["api"] > 0
    assert shares["db"] + shares["api"] > 1

    # The same figure recomputed here, independently: one sweep over both components' up
    # logs, over the same window (after the warm-up, to the end of each run).
    start = result.warmup_h * 3600
    values = []
    for context in captured:
        end = context.env.now
        events = sorted(
            [(t, "api", up) for t, up in context.stations["api"].up_log]
            + [(t, "db", up) for t, up in context.stations["db"].up_log]
        )
        up = {"api": 1, "db": 1}
        last, total = start, 0.0
        for time, name, count in events:
            if time > start:
                if all(up.values()):
                    total += min(time, end) - last
                last = min(time, end)
            up[name] = count
        if all(up.values()):
            total += end - last
        values.append(total / (end - start))
    mean = sum(values) / len(values)
    sd = math.sqrt(sum((x - mean) ** 2 for x in values) / (len(values) - 1))
    half = 2.093 * sd / math.sqrt(len(values))  # t(0.975, 19)
    assert mean == pytest.approx(ci.mean, rel=1e-9)
    assert mean - half <= a1 * a2 <= mean + half, (mean, half, a1 * a2)


def test_availability_holds_for_weibull_failures_and_lognormal_repairs() -> None:
    # An alternating renewal process is up MTBF / (MTBF + MTTR) of the time, whatever the
    # distributions: the referee applies to wear-out failures too.
    failures_spec = {
        "mtbf_h": 1,
        "mttr_min": 20,
        "distribution": "weibull",
        "shape": 2.0,
        "repair_distribution": "lognormal",
    }
    spec = _spec({"api": _service(1, failures_spec)}, "api")
    result = failures(spec, seed=5, replications=20, duration_h=800, probes=100)
    a = steady_state(60.0, 20.0)
    ci = result.component("api").time_availability
    assert ci.low <= a <= ci.high, (ci, a)
    assert ci.high - ci.low < 0.01


def test_capacity_availability_is_k_of_n() -> None:
    # 3 replicas of 1 slot at 5 ms: 300 requests/s offer 1.5 Erlangs, so 2 of 3 must be up.
    spec = _spec({"api": _service(3, {"mtbf_h": 1, "mttr_min": 15})}, "api").with_changes(
        {"workload.rate_per_s": 300}
    )
    result = failures(spec, seed=2, replications=20, duration_h=600, probes=100)
    api = result.component("api")
    a = steady_state(60.0, 15.0)
    assert api.needed_replicas == 2
    assert api.capacity_analytic == pytest.approx(k_of_n(2, 3, a))
    ci = api.capacity_availability
    assert ci.low <= k_of_n(2, 3, a) <= ci.high, (ci, k_of_n(2, 3, a))
    assert not ci.low <= k_of_n(1, 3, a) <= ci.high


def test_error_budget_and_verdicts() -> None:
    spec = _spec({"api": _service(2, {"mtbf_h": 1, "mttr_min": 30})}, "api")
    result = failures(spec, seed=1, replications=8, duration_h=500, probes=300, availability=99.9)
    budget = result.budget
    assert budget is not None
    assert budget.budget_min_per_month == pytest.approx(0.001 * MINUTES_PER_MONTH)
    assert budget.burn_rate.mean == pytest.approx(
        budget.burned_min_per_month.mean / budget.budget_min_per_month
    )
    # The burn rate is the downtime over the budget, (1 − A) / (1 − 0.999), with A the analytic
    # availability of two replicas each up 60 / (60 + 30) of the time: 1 − (1/3)², so ≈ 111.
    unit = steady_state(60.0, 30.0)
    expected = (1 - k_of_n(1, 2, unit)) / (1 - 0.999)
    ci = budget.burn_rate
    assert ci.low <= expected <= ci.high, (ci, expected)
    # ... and tells it from one replica's burn, (1 − 2/3) / 0.001 ≈ 333.
    assert not ci.low <= (1 - unit) / (1 - 0.999) <= ci.high
    statuses = {verdict.nfr: verdict.status for verdict in result.verdicts}
    assert statuses == {
        "availability>=99.9% (time)": "fail",
        "availability>=99.9% (requests)": "fail",
    }
    lenient = failures(spec, seed=1, replications=8, duration_h=500, probes=300, availability=50)
    assert {v.status for v in lenient.verdicts} == {"pass"}


def test_request_availability_sees_what_health_checks_miss() -> None:
    # Until a crash is detected, requests still go to the crashed replica and fail at once:
    # with slow detection, requests fare worse than time.
    spec = _spec({"api": _service(2, {"mtbf_h": 0.5, "mttr_min": 5, "detection_s": 120})}, "api")
    result = failures(spec, seed=4, replications=6, duration_h=300, probes=3000)
    assert result.system_requests.high < result.system_time.low


# --------------------------------------------------------------------------- zones and chaos


def test_zone_outage_takes_down_exactly_the_replicas_in_that_zone() -> None:
    spec = _spec(
        {
            "lb": {"kind": "load_balancer", "to": "api"},
            "api": _service(6, zones=["a", "b", "c"], calls=[{"to": "db"}]),
            "db": _service(2, zones=["a", "b"]),
        },
        "lb",
        chaos=[{"at_s": 10, "action": "zone_outage", "zone": "a", "duration_s": 20}],
    ).with_changes({"workload": {"rate_per_s": 50, "duration_s": 60, "warmup": "none"}})
    seen: dict[float, dict[str, list[tuple[str, bool]]]] = {}

    def inspect(context: HookContext) -> None:
        def probe() -> Generator[Any, Any, None]:
            for at in (5.0, 15.0, 29.0, 45.0):
                yield context.env.timeout(at - context.env.now)
                seen[at] = {
                    name: [(replica.zone, replica.up) for replica in station.all_replicas]
                    for name, station in context.stations.items()
                    if isinstance(station, ServiceStation)
                }

        context.env.process(probe())

    result = simulate(spec, seed=1, hooks=[inspect])
    zones = {"api": ["a", "b", "c", "a", "b", "c"], "db": ["a", "b"]}
    for at in (15.0, 29.0):  # during the outage
        for name, replicas in seen[at].items():
            assert [zone for zone, _ in replicas] == zones[name]
            assert [up for _, up in replicas] == [zone != "a" for zone in zones[name]], (at, name)
    for at in (5.0, 45.0):  # before and after
        assert all(up for replicas in seen[at].values() for _, up in replicas)
    # Requests failed while the crashed replicas were still in rotation, none were lost.
    assert result.requests.failed > 0 and result.requests.conserved()


def test_game_day_with_a_dropped_dependency_costs_requests_not_uptime() -> None:
    spec = _spec(
        {"api": _service(2, calls=[{"to": "db"}]), "db": _service(1)},
        "api",
        chaos=[{"at_s": 20, "action": "drop_dependency", "component": "db", "duration_s": 10}],
    ).with_changes({"workload": {"rate_per_s": 40, "duration_s": 60, "warmup": "none"}})
    result = failures(spec, seed=1, game_day_replications=2)
    game = result.game_day
    assert result.mode == "game day" and game is not None
    assert game.time_availability.mean == 1.0
    # Every request reaching db during the 10 s of a 60 s run fails. Poisson arrivals are
    # uniform in time given their number, so the expected failed share is 10/60 = 1/6, up to
    # edge effects of one service time (5 ms) at each end of the drop, about 1e-4 of the
    # requests and far inside the interval.
    ci = game.request_availability
    assert ci.low <= 1 - 1 / 6 <= ci.high, ci
    assert not ci.low <= 1.0 <= ci.high
    assert any("dropped dependency" in note for note in result.notes)
    assert result.timeline["chaos"][0]["action"] == "drop_dependency"


def test_result_serialises_and_repeats() -> None:
    import json

    spec = _spec({"api": _service(2, {"mtbf_h": 2, "mttr_min": 10})}, "api")
    first = failures(spec, seed=7, replications=2, duration_h=200, probes=100, availability=99)
    second = failures(spec, seed=7, replications=2, duration_h=200, probes=100, availability=99)
    assert first.to_dict() == second.to_dict()
    text = json.dumps(first.to_dict(), allow_nan=False)
    assert '"time_availability"' in text
    rows = first.records()
    assert [row["component"] for row in rows] == ["system", "api"]
    assert first.timeline["components"]["api"]["up"][0] == 2


# --------------------------------------------------------------------------- autoscaling


def _autoscaled_failing_service(**failures_extra: Any) -> ArchitectureSpec:
    # A load that swings between 40 and 360 requests/s (30 s period), so that the autoscaler
    # adds and removes replicas all the time, while replicas crash every few minutes.
    return _spec(
        {
            "lb": {"kind": "load_balancer", "to": "api"},
            "api": _service(
                2,
                {"mtbf_h": 0.05, "mttr_min": 1, "detection_s": 5, **failures_extra},
                concurrency=4,
                autoscale={
                    "target": 0.5,
                    "min_replicas": 1,
                    "max_replicas": 8,
                    "interval_s": 5,
                    "boot_s": 3,
                    "cooldown_s": 5,
                },
            ),
        },
        "lb",
    ).with_changes(
        {
            "workload": {
                "arrival": "diurnal",
                "rate_per_s": 200,
                "diurnal": {"profile": [0.2, 1.8], "period_s": 30},
                "duration_s": 1800,
                "warmup": "none",
            }
        }
    )


def test_autoscaling_and_failures_compose() -> None:
    """Regression (issue 9, defect 4): scale-downs and health checks both took replicas out of
    rotation, a repaired replica that the autoscaler had removed came back, and the next
    scale-down ended the run in ``list.remove(x): x not in list``."""
    spec = _autoscaled_failing_service()
    initial: list[Any] = []
    seen: list[Any] = []
    removed: set[int] = set()
    violations: list[str] = []

    def watch(context: HookContext) -> None:
        station = context.stations["api"]
        initial.extend(station.all_replicas)

        def check() -> Generator[Any, Any, None]:
            while True:
                yield context.env.timeout(0.25)
                members = {id(replica) for replica in station.all_replicas}
                for replica in station.all_replicas:
                    if id(replica) in removed:
                        violations.append(f"removed replica back at {context.env.now}")
                    if all(replica is not other for other in seen):
                        seen.append(replica)
                for replica in station.replicas:
                    if id(replica) not in members:
                        violations.append(f"non-member in rotation at {context.env.now}")
                removed.update(id(r) for r in seen if id(r) not in members)

        context.env.process(check())

    result = simulate(spec, seed=2, hooks=[watch])
    assert result.requests.conserved()
    assert violations == []
    assert removed, "the autoscaler never removed a replica: the test exercises nothing"
    added = [replica for replica in seen if all(replica is not r for r in initial)]
    assert added, "the autoscaler never added a replica"
    # Replicas added by the autoscaler fail too (epoch counts a replica's crashes).
    assert any(replica.epoch > 0 for replica in added)
    # ... and `scaleplan failures` gets to the end, with an availability in [0, 1].
    outcome = failures(spec, seed=1, replications=2, duration_h=2, probes=200)
    assert 0.0 <= outcome.system_time.mean <= 1.0
    # The steady state holds the autoscaled service at fixed replicas: its closed form applies.
    assert outcome.analytic_applies is True


def test_a_replica_added_while_others_are_down_serves() -> None:
    """One of two replicas is killed; once a health check takes it out of rotation the other
    runs at twice the target utilisation, and the autoscaler adds a replica (its count
    includes the crashed one, so one more reaches max_replicas = 3). The new replica is in
    rotation and serves although a replica is down; the crashed one stays out until repaired.

    25 requests/s of 1 s on 2 × 50 slots: utilisation 0.25 = the target, with ±50% tolerance,
    so nothing moves before the kill; after it, 0.5 on the survivor's 50 slots.
    """
    spec = _spec(
        {
            "api": {
                "kind": "service",
                "replicas": 2,
                "concurrency": 50,
                "service_time": {"dist": "exponential", "mean_ms": 1000},
                "autoscale": {
                    "target": 0.25,
                    "tolerance": 0.5,
                    "min_replicas": 2,
                    "max_replicas": 3,
                    "interval_s": 2,
                    "boot_s": 1,
                    "cooldown_s": 1000,
                },
            }
        },
        "api",
        chaos=[
            {"at_s": 5, "action": "kill_replicas", "component": "api", "count": 1, "duration_s": 60}
        ],
    ).with_changes({"workload": {"rate_per_s": 25, "duration_s": 40, "warmup": "none"}})
    states: dict[float, tuple[int, int, int]] = {}

    def watch(context: HookContext) -> None:
        station = context.stations["api"]

        def probe() -> Generator[Any, Any, None]:
            for at in (4.0, 35.0):
                yield context.env.timeout(at - context.env.now)
                states[at] = (
                    len(station.all_replicas),
                    sum(replica.up for replica in station.all_replicas),
                    sum(replica.up for replica in station.replicas),
                )

        context.env.process(probe())

    result = simulate(spec, seed=1, hooks=[watch])
    assert states[4.0] == (2, 2, 2)
    members, up, serving = states[35.0]
    assert (members, up, serving) == (3, 2, 2)
    assert result.requests.completed > 0 and result.requests.conserved()


# --------------------------------------------------------------------------- data stores


def _database(read_replicas: int, failures: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "kind": "database",
        "read_replicas": read_replicas,
        "read_time": {"dist": "exponential", "mean_ms": 2},
        "failures": failures,
        **extra,
    }


def _behind_api(store: dict[str, Any], **top: Any) -> ArchitectureSpec:
    return _spec({"api": _service(2, calls=[{"to": "db"}]), "db": store}, "api", **top)


def test_a_single_database_is_a_single_point_of_failure() -> None:
    """Regression (issue 9, defect 5): ``failures:`` on a database was refused. A database
    with no read replica is down whenever its one node is: the system's availability is the
    node's, a = 60 / (60 + 30), and all of its downtime is the database's."""
    spec = _behind_api(_database(0, {"mtbf_h": 1, "mttr_min": 30}))
    result = failures(spec, seed=1, replications=20, duration_h=600, probes=500)
    a = steady_state(60.0, 30.0)
    db = result.component("db")
    assert result.required == ("api", "db")
    assert db.kind == "database" and db.spof and db.required
    assert not result.component("api").spof  # two replicas that never fail
    assert any("single points of failure" in note and "db" in note for note in result.notes)
    assert result.analytic == pytest.approx(a) and result.analytic_applies
    ci = result.system_time
    assert ci.low <= a <= ci.high, (ci, a)
    assert result.covered is True and db.covered is True
    # ... and not a replicated database's availability.
    assert not ci.low <= 1 - (1 - a) ** 2 <= ci.high
    assert db.share_of_system_downtime == pytest.approx(1.0)
    # Requests: every probe reaching the database while it is down fails.
    assert result.system_requests.low <= a <= result.system_requests.high


def test_a_read_replica_takes_over_when_the_primary_fails() -> None:
    """With one read replica and an instant failover (detection and promotion 0 s) the shard
    takes writes whenever either node runs: 1 − (1 − a)²; a failover that takes two minutes
    costs availability on top, and makes the closed form a first-order guide."""
    a = steady_state(60.0, 30.0)
    instant = {"mtbf_h": 1, "mttr_min": 30, "detection_s": 0, "failover_s": 0}
    replicated = failures(
        _behind_api(_database(1, instant)), seed=2, replications=20, duration_h=600, probes=500
    )
    db = replicated.component("db")
    expected = 1 - (1 - a) ** 2
    assert db.analytic == pytest.approx(expected) and not db.spof
    ci = replicated.system_time
    assert ci.low <= expected <= ci.high, (ci, expected)
    assert not ci.low <= a <= ci.high  # higher than a single node's
    assert replicated.covered is True

    slow = {**instant, "detection_s": 60, "failover_s": 60}
    delayed = failures(
        _behind_api(_database(1, slow)), seed=2, replications=20, duration_h=600, probes=500
    )
    assert delayed.system_time.high < ci.low
    assert delayed.analytic_applies is False and delayed.covered is None
    assert delayed.analytic < expected
    assert any("first order" in note for note in delayed.notes)


def test_each_shard_fails_on_its_own() -> None:
    """``scope: shard``: three shards, each down a share 1 − a of the time independently. The
    database (and the system) is up when all three are, a³; a request touches one shard, so
    the share of requests served is a — a lost shard fails about a third of them."""
    spec = _behind_api(_database(0, {"mtbf_h": 1, "mttr_min": 30, "scope": "shard"}, shards=3))
    result = failures(spec, seed=3, replications=20, duration_h=600, probes=2000)
    a = steady_state(60.0, 30.0)
    assert result.analytic == pytest.approx(a**3)
    time_ci, request_ci = result.system_time, result.system_requests
    assert time_ci.low <= a**3 <= time_ci.high, (time_ci, a**3)
    assert request_ci.low <= a <= request_ci.high, (request_ci, a)
    assert not time_ci.low <= a <= time_ci.high


def test_killing_one_shard_fails_its_share_of_requests() -> None:
    """A chaos event kills shard 0's only node for 10 s of a 60 s game day: the requests that
    land on shard 0 meanwhile fail, share₀ · 10 / 60 of them; the database is down (not every
    shard takes writes) 10 s of 60."""
    spec = _behind_api(
        {"kind": "database", "shards": 4, "read_time": {"dist": "exponential", "mean_ms": 2}},
        chaos=[{"at_s": 20, "action": "kill_replicas", "component": "db", "duration_s": 10}],
    ).with_changes({"workload": {"rate_per_s": 200, "duration_s": 60, "warmup": "none"}})
    share = float(spec.components["db"].shard_shares()[0])  # type: ignore[union-attr]
    result = failures(spec, seed=1, game_day_replications=4)
    game = result.game_day
    assert game is not None and result.required == ("api", "db")
    ci = game.request_availability
    assert ci.low <= 1 - share * 10 / 60 <= ci.high, (ci, share)
    assert not ci.low <= 1 - 10 / 60 <= ci.high  # not every request: one shard's
    assert game.time_availability.mean == pytest.approx(50 / 60, abs=1e-3)


def test_a_lost_cache_node_sends_its_lookups_to_the_backing_store() -> None:
    """A cache's outage is not the system's: its lookups go to the database (which does not
    fail here), so every probe is served, while the cache's own nodes are each up a."""
    spec = _spec(
        {
            "api": _service(2, calls=[{"to": "cache"}]),
            "cache": {
                "kind": "cache",
                "backing": "db",
                "hit_ratio": 0.8,
                "replicas": 2,
                "failures": {"mtbf_h": 1, "mttr_min": 30},
            },
            "db": {"kind": "database", "read_time": {"dist": "exponential", "mean_ms": 2}},
        },
        "api",
    )
    captured: list[HookContext] = []
    result = failures(
        spec, seed=4, replications=10, duration_h=300, probes=500, hooks=[captured.append]
    )
    a = steady_state(60.0, 30.0)
    cache = result.component("cache")
    assert not cache.required and not cache.spof and "cache" not in result.required
    assert result.system_time.mean == 1.0
    assert result.requests["failed"] == 0 and result.requests["completed"] > 0
    ci = cache.time_availability
    assert ci.low <= 1 - (1 - a) ** 2 <= ci.high, (ci, 1 - (1 - a) ** 2)
    assert (
        sum(
            context.stations["cache"].details().get("bypassed_node_down", 0) for context in captured
        )
        > 0
    )


@pytest.mark.parametrize(("nodes", "spof"), [(1, True), (3, False)])
def test_a_broker_takes_publishes_while_a_majority_of_its_nodes_runs(
    nodes: int, spof: bool
) -> None:
    spec = _spec(
        {
            "api": _service(2, calls=[{"to": "jobs"}]),
            "jobs": {
                "kind": "queue",
                "consumer": "workers",
                "nodes": nodes,
                "failures": {"mtbf_h": 1, "mttr_min": 20},
            },
            "workers": {
                "kind": "worker_pool",
                "replicas": 2,
                "service_time": {"dist": "exponential", "mean_ms": 5},
            },
        },
        "api",
    )
    result = failures(spec, seed=5, replications=20, duration_h=500, probes=500)
    a = steady_state(60.0, 20.0)
    expected = k_of_n(nodes // 2 + 1, nodes, a)
    jobs = result.component("jobs")
    assert jobs.needed_replicas == nodes // 2 + 1 and jobs.spof is spof
    ci = result.system_time
    assert ci.low <= expected <= ci.high, (ci, expected)
    assert result.system_requests.low <= expected <= result.system_requests.high


def test_failures_where_a_kind_cannot_fail_says_where_the_key_belongs() -> None:
    """Regression (issue 9): the hint suggested the very key it refused ("unknown key
    'failures' (did you mean 'failures'?)"). A valid key in the wrong kind names the kinds that
    have it; a misspelt one still gets its suggestion."""
    from scaleplan.errors import SpecError

    with pytest.raises(SpecError) as caught:
        _spec(
            {
                "lb": {
                    "kind": "load_balancer",
                    "to": "api",
                    "failures": {"mtbf_h": 1, "mttr_min": 1},
                },
                "api": _service(1, failurs={"mtbf_h": 1, "mttr_min": 1}),
            },
            "lb",
        )
    text = str(caught.value)
    assert "did you mean 'failures'?)" in text  # for the misspelt 'failurs'
    assert "'failures' is not a key of a load_balancer; it is a key of: " in text
    owners = text.split("it is a key of: ")[1].split("\n")[0].split(", ")
    assert {"service", "database", "cache", "queue", "topic"} <= set(owners)
    assert "load_balancer" not in owners
    # A database takes it.
    assert _behind_api(_database(0, {"mtbf_h": 1, "mttr_min": 1})).components["db"].failures


def test_an_autoscaled_component_holds_its_steady_replicas_in_the_steady_state() -> None:
    """Regression (issue 9, found on a ticketing client case): the steady-state runs of an
    autoscaled service with failures ran its autoscaler every half second of simulated time for
    hundreds of thousands of hours of probe traffic — a decision record never finished. Probe
    traffic cannot drive an autoscaler; the steady state holds the replicas its policy keeps at
    the workload's rate, says so, and the closed form (k of n) is its referee again."""
    spec = _autoscaled_failing_service()
    seen: list[Any] = []

    def watch(context: HookContext) -> None:
        seen.append(context.spec.components["api"])

    result = failures(spec, seed=3, replications=3, duration_h=20, probes=2000, hooks=[watch])
    assert seen and all(component.autoscale is None for component in seen)
    # 200 requests/s of 5 ms on 4-slot replicas at a 50% target: ceil(200 · 0.005 / 4 / 0.5) = 1.
    held = {component.replicas for component in seen}
    assert held == {1}
    assert any("held at 1 replica," in note for note in result.notes)
    api = next(row for row in result.components if row.name == "api")
    assert api.replicas == 1
    assert result.analytic_applies and result.covered
