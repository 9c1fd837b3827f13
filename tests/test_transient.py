"""Transient runs through a load profile, against exact time-dependent references.

The referee of the queue figures is the M/M/c birth–death chain's forward (Kolmogorov)
equations, solved numerically on a truncated chain (``expm_multiply`` on the sparse
generator; the truncation keeps far under 1e-12 of the mass at the top state here): it gives
E[N(t)] and E[(N(t) − c)⁺] exactly at every t, and the mean over a bucket by Simpson's rule on
a fine grid. Replications start empty, as the chain does.

Coverage threshold (M/M/c step): a 95% CI misses about 1 bucket in 20 on its own, but the
buckets share their replications, so the count of covered buckets varies more than a
binomial's; with 60 buckets the test asserts ≥ 85% (51 buckets), which a correct 95%
interval passes with a wide margin and a reference off by the step's size (the rate's
change shifted by a few buckets, or ρ off by 10%) fails at most buckets of the transient.
Measured with seeds 1–10 (20 replications each): 0.88, 0.92, 0.95, 0.93, 0.95, 0.97, 0.90,
0.88, 0.77, 0.98 — the misses come in runs of neighbouring buckets, as the relaxation time at
ρ 0.9 spans many of them; with 200 replications the coverage was 0.95 and the standardised
errors over the 60 buckets had mean −0.15 and s.d. 0.97 (no bias). The drain test's CI covered
its reference for each of seeds 1–10 (means 28.9–32.6 s against 29.94 s).
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest
from scipy import sparse
from scipy.sparse.linalg import expm_multiply

from scaleplan.errors import ScaleplanError, SpecError
from scaleplan.experiments.transient import TransientError, TransientResult, band, transient
from scaleplan.spec import CostTableSpec, parse_slo, parse_spec
from scaleplan.spec.architecture import ArchitectureSpec


def exponential(mean_ms: float) -> dict[str, Any]:
    return {"dist": "exponential", "mean_ms": mean_ms}


def steps(*phases: tuple[float, float]) -> dict[str, Any]:
    """A profile of steady phases (duration_s, factor)."""
    return {
        "phases": [
            {"name": f"p{index}", "duration_s": duration, "steady": {"factor": factor}}
            for index, (duration, factor) in enumerate(phases)
        ]
    }


def spec_of(
    components: dict[str, Any], entry: str, rate: float, profile: dict[str, Any]
) -> ArchitectureSpec:
    return parse_spec(
        {
            "name": "transient",
            "entry": entry,
            "workload": {"arrival": "profile", "rate_per_s": rate, "profile": profile},
            "components": components,
        }
    )


def forward(
    c: int, mu: float, phases: list[tuple[float, float]], step: float, top: int
) -> np.ndarray:
    """P(N(t) = n) of M/M/c from empty at t = 0, step, 2·step, … to the end of the phases
    (rows), with arrival rate phases[i][1] during phases[i][0] seconds (whole steps);
    truncated at ``top``."""
    states = np.arange(top + 1)
    deaths = np.minimum(states, c) * mu
    p = np.zeros(top + 1)
    p[0] = 1.0
    rows = [p]
    for duration, rate in phases:
        births = np.full(top + 1, rate)
        births[-1] = 0.0
        # dp/dt = Qᵀp: state n loses births + deaths and feeds n ± 1.
        q = sparse.diags([births[:-1], -(births + deaths), deaths[1:]], [-1, 0, 1], format="csc")
        count = round(duration / step)
        path = expm_multiply(q, p, start=0.0, stop=duration, num=count + 1, endpoint=True)
        rows.extend(path[1:])
        p = path[-1]
    out = np.array(rows)
    assert out[:, -1].max() < 1e-12, "truncation too low"
    return out


def bucket_means(values: np.ndarray, per_bucket: int) -> np.ndarray:
    """Simpson's mean over each bucket of values on a grid of 2·per_bucket+1 points each."""
    groups = []
    step = 2 * per_bucket
    for start in range(0, len(values) - 1, step):
        y = values[start : start + step + 1]
        weights = np.ones(len(y))
        weights[1:-1:2], weights[2:-1:2] = 4, 2
        groups.append(float(weights @ y) / (3 * (len(y) - 1)))
    return np.array(groups)


# --------------------------------------------------------------------------- M/M/c step


MMC_C, MMC_MU, MMC_BUCKET = 2, 10.0, 2.0
MMC_PHASES = [(30.0, 10.0), (90.0, 18.0)]  # ρ 0.5, then 0.9


@pytest.fixture(scope="module")
def mmc() -> TransientResult:
    spec = spec_of(
        {"app": {"kind": "service", "concurrency": MMC_C, "service_time": exponential(100)}},
        "app",
        10.0,
        steps((30, 1.0), (90, 1.8)),
    )
    return transient(spec, replications=20, seed=7, bucket_s=MMC_BUCKET)


def test_mmc_step_in_system_ci_covers_the_forward_equations(mmc: TransientResult) -> None:
    per_bucket = 4
    probabilities = forward(MMC_C, MMC_MU, MMC_PHASES, MMC_BUCKET / (2 * per_bucket), top=400)
    exact = bucket_means(probabilities @ np.arange(401), per_bucket)
    measured = mmc.components["app"]["in_system"]
    low, high = np.array(measured.low), np.array(measured.high)
    assert len(low) == len(exact) == 60
    covered = (low <= exact) & (exact <= high)
    assert covered.mean() >= 0.85, (covered.mean(), np.nonzero(~covered)[0])
    # The step is in the series: the last buckets sit far above the first ones.
    assert np.mean(measured.mean[-10:]) > 3 * np.mean(measured.mean[5:15])


def test_mmc_step_arrivals_follow_the_profile(mmc: TransientResult) -> None:
    arrivals = mmc.system["arrivals_per_s"]
    expected = np.where(np.array(mmc.t_s) < 30, 10.0, 18.0)
    covered = (np.array(arrivals.low) <= expected) & (expected <= np.array(arrivals.high))
    assert covered.mean() >= 0.85
    assert [name for name, _, _ in mmc.phases] == ["p0", "p1"]
    assert mmc.peak_phase == "p1"


def test_band_is_a_student_t_interval_across_replications() -> None:
    values = np.array([[1.0, np.nan], [2.0, 5.0], [3.0, np.nan]])
    result = band(values)
    assert result.mean[0] == pytest.approx(2.0)
    assert result.high[0] - result.mean[0] == pytest.approx(4.302652729749464 / math.sqrt(3))
    assert result.mean[1] == 5.0 and math.isnan(result.low[1])


# --------------------------------------------------------------------------- autoscaling

STEP_AT, INTERVAL, BOOT = 60.0, 15.0, 20.0


@pytest.fixture(scope="module")
def scaled() -> TransientResult:
    spec = spec_of(
        {
            "api": {
                "kind": "service",
                "replicas": 2,
                "service_time": exponential(100),
                "autoscale": {
                    "metric": "utilization",
                    "target": 0.25,
                    "min_replicas": 2,
                    "max_replicas": 6,
                    "interval_s": INTERVAL,
                    "boot_s": BOOT,
                    "cooldown_s": 600,
                },
            }
        },
        "api",
        2.0,
        steps((STEP_AT, 1.0), (60, 30.0), (60, 1.0)),
    )
    costs = CostTableSpec.model_validate(
        {
            "currency": "EUR",
            "defaults": {"service": {"per_replica_hour": 0.5, "per_million_requests": 2.0}},
        }
    )
    return transient(spec, replications=5, seed=3, bucket_s=2.0, costs=costs)


def test_autoscaler_reaches_the_policy_replicas_within_boot_and_one_interval(
    scaled: TransientResult,
) -> None:
    # Before the step the 2 replicas are 10% busy: HPA asks ceil(2 × 0.1/0.25) = 1, held at
    # the minimum. From the step (60/s against 20/s of capacity) both are saturated: the first
    # decision after it (at 75 s, its interval wholly after the step) asks ceil(2 × 1/0.25) = 8,
    # held at max_replicas 6; they serve after boot_s: by 60 + 15 + 20 = 95 s.
    figure = scaled.scaling["api"]
    assert figure.max_replicas.mean == 6 and figure.max_replicas.n == 5
    assert figure.max_replicas.ci95 == (6.0, 6.0)
    low, high = figure.first_reached_s.ci95
    assert STEP_AT < low <= high <= STEP_AT + INTERVAL + BOOT + 1e-9


def test_replica_hours_and_event_cost_are_the_integral_of_the_replica_series(
    scaled: TransientResult,
) -> None:
    series = scaled.components["api"]["replicas"]
    # The series' mean over replications × bucket width, summed, is the replica-seconds.
    integral_h = float(np.sum(series.mean)) * scaled.bucket_s / 3600.0
    assert scaled.replica_hours["api"].mean == pytest.approx(integral_h, rel=1e-12)
    served_per_rep = sum(np.array(scaled.system["throughput_per_s"].mean)) * scaled.bucket_s
    assert scaled.event_cost is not None
    expected = 0.5 * integral_h + 2.0 * served_per_rep / 1e6
    assert scaled.event_cost.total.mean == pytest.approx(expected, rel=1e-9)
    assert scaled.event_cost.currency == "EUR"
    # Not a month: the event's node-hours are at most 6 replicas × 180 s.
    assert 2 * 180 / 3600 < integral_h < 6 * 180 / 3600


def test_replica_hours_equal_the_exact_replica_log() -> None:
    """One replication's replica-hours from its bucket series equal the step function of its
    replica log integrated exactly (the two come from the same log)."""
    from scaleplan.engine.run import simulate

    spec = spec_of(
        {
            "api": {
                "kind": "service",
                "replicas": 1,
                "service_time": exponential(100),
                "autoscale": {
                    "target": 0.5,
                    "min_replicas": 1,
                    "max_replicas": 4,
                    "interval_s": 5,
                    "boot_s": 7,
                },
            }
        },
        "api",
        2.0,
        steps((20, 1.0), (30, 12.0), (20, 1.0)),
    )
    kept: list[Any] = []
    simulate(spec, seed=2, run_anyway=True, bucket_s=1.0, on_replication=kept.append)
    series = kept[0].recorder.stations["api"]
    log = [*series.replica_log, (70.0, 0)]
    exact = sum((b[0] - a[0]) * a[1] for a, b in itertools.pairwise(log) if a[0] < 70.0)
    assert len(series.replica_log) > 1
    assert float(np.sum(series.replicas[:70])) * 1.0 == pytest.approx(exact, rel=1e-12)


# --------------------------------------------------------------------------- backlog drain

POOL, POOL_MU = 4, 10.0
DRAIN_PHASES = [(30.0, 20.0), (30.0, 60.0), (90.0, 20.0)]


@pytest.fixture(scope="module")
def backlog() -> TransientResult:
    spec = spec_of(
        {
            "api": {
                "kind": "service",
                "concurrency": 64,
                "service_time": {"dist": "constant", "mean_ms": 1},
                "calls": [{"to": "jobs"}],
            },
            "jobs": {
                "kind": "queue",
                "consumer": "workers",
                "publish_time": {"dist": "constant", "mean_ms": 1},
            },
            "workers": {
                "kind": "worker_pool",
                "concurrency": POOL,
                "service_time": exponential(100),
            },
        },
        "api",
        20.0,
        steps((30, 1.0), (30, 3.0), (90, 1.0)),
    )
    slos = [parse_slo("p99<=500ms"), parse_slo("errors<=1%")]
    return transient(spec, replications=10, seed=11, bucket_s=1.0, slos=slos, window_s=10)


def test_backlog_drains_in_the_time_the_rate_difference_implies(backlog: TransientResult) -> None:
    # The backlog is the queue's consumer lag: jobs waiting for one of the pool's workers.
    drain = backlog.drain["jobs"]
    assert drain.drained == drain.replications == 10
    assert set(backlog.drain) == {"jobs"}
    probabilities = forward(POOL, POOL_MU, DRAIN_PHASES[:2], 1.0, top=1200)
    waiting = np.clip(np.arange(1201) - POOL, 0, None)
    backlog_at_end = float(probabilities[60] @ waiting)
    pre_level = float(np.mean(probabilities[:31] @ waiting))
    # The backlog above the threshold drains at capacity − rate after: (40 − 20)/s.
    expected = (backlog_at_end - drain.threshold) / (POOL * POOL_MU - 20.0)
    low, high = drain.seconds.ci95
    assert low <= expected <= high, (expected, drain)
    assert drain.pre_peak_level == pytest.approx(pre_level, abs=0.2)
    # The largest queue is near the backlog at the spike's end (≈ 590 waiting).
    assert backlog.max_queue["jobs"].ci95[0] > 0.8 * backlog_at_end


def test_the_backlog_nfr_is_judged_on_the_drain_and_the_largest_queue(
    backlog: TransientResult,
) -> None:
    """``nfrs.backlog``: the same drain (its CI covers the 29.9 s the rate difference implies)
    passes a 60 s bound and fails a 10 s one; the largest queue (≈ 590 waiting) passes 2,000
    and fails 100 — each by where the 95% interval lies against the bound."""
    from scaleplan.experiments.transient import backlog_verdicts
    from scaleplan.spec import BacklogNFR

    drain = backlog.drain["jobs"].seconds
    assert drain.ci95[1] < 60 and drain.ci95[0] > 10
    queue = backlog.max_queue["jobs"]
    assert queue.ci95[1] < 2000 and queue.ci95[0] > 100
    loose = BacklogNFR(drain_within_s=60, max_queue=2000)
    tight = BacklogNFR(drain_within_s=10, max_queue=100, component="jobs")
    assert [v.status for v in backlog_verdicts(backlog, loose)] == ["pass", "pass"]
    judged = backlog_verdicts(backlog, tight)
    assert [v.status for v in judged] == ["fail", "fail"]
    assert judged[0].nfr == "backlog drains within 10 s after the peak phase at jobs"
    assert judged[0].measured == drain.mean and judged[0].ci95 == drain.ci95
    assert "jobs's backlog takes" in judged[0].reason()
    assert judged[1].nfr == "queue<=100 requests at jobs through the load profile"
    assert "jobs holds" in judged[1].reason()


def test_a_backlog_some_replication_never_drained_is_a_lower_bound(
    backlog: TransientResult,
) -> None:
    from dataclasses import replace

    from scaleplan.experiments.transient import Drain, Figure, backlog_verdicts
    from scaleplan.spec import BacklogNFR

    figure = Figure(20.0, (15.0, 25.0), "s", 3)
    never = Drain(5.0, 0.0, figure, drained=2, replications=3)
    result = replace(backlog, drain={"jobs": never})
    # Clear of a 60 s bound, but one replication never drained: not a pass.
    (verdict,) = backlog_verdicts(result, BacklogNFR(drain_within_s=60))
    assert verdict.status == "inconclusive" and "lower bound" in verdict.detail
    # Beyond a 10 s bound even as a lower bound: a fail.
    (verdict,) = backlog_verdicts(result, BacklogNFR(drain_within_s=10))
    assert verdict.status == "fail"


def test_window_verdicts_pass_before_and_fail_in_the_spike(backlog: TransientResult) -> None:
    p99 = [w for w in backlog.windows if w.verdict.nfr == "p99<=500ms"]
    assert len(p99) == 15 and backlog.window_s == 10.0
    # The API answers in 2 ms whatever the backlog (the jobs are asynchronous): every window
    # passes; an errors SLO with no errors passes by the rule of three.
    assert all(w.verdict.status == "pass" for w in p99)
    errors = [w for w in backlog.windows if w.verdict.nfr == "errors<=1%"]
    assert all(w.verdict.status == "pass" for w in errors)
    assert [v.status for v in backlog.verdicts()] == ["pass", "pass"]
    assert backlog.error_rate.mean == 0.0


def test_latency_windows_fail_where_a_synchronous_service_is_overloaded(
    mmc: TransientResult,
) -> None:
    spec = spec_of(
        {"app": {"kind": "service", "concurrency": 2, "service_time": exponential(100)}},
        "app",
        10.0,
        steps((30, 1.0), (30, 3.0), (30, 1.0)),
    )
    result = transient(
        spec, replications=4, seed=5, bucket_s=3.0, window_s=15, slos=[parse_slo("p99<=1000ms")]
    )
    statuses = [w.verdict.status for w in result.windows]
    assert statuses[:2] == ["pass", "pass"]  # ρ 0.5: p99 ≈ 0.5 s... well under 1 s
    assert "fail" in statuses[2:]  # the overload: the queue grows ~10 requests/s
    overall = result.verdicts()[0]
    assert overall.status == "fail" and "windows fail" in overall.detail


# --------------------------------------------------------------------------- bad input


def test_a_transient_run_needs_a_profile_and_two_replications() -> None:
    plain = parse_spec(
        {
            "name": "plain",
            "entry": "a",
            "workload": {"rate_per_s": 5, "requests": 100},
            "components": {"a": {"kind": "service", "service_time": exponential(10)}},
        }
    )
    with pytest.raises(TransientError, match="arrival: profile"):
        transient(plain)
    spec = spec_of(
        {"a": {"kind": "service", "service_time": exponential(10)}}, "a", 5.0, steps((10, 1.0))
    )
    with pytest.raises(ScaleplanError, match="at least 2"):
        transient(spec, replications=1)


def test_json_is_strict_and_states_the_interval(backlog: TransientResult) -> None:
    import json

    data = json.loads(json.dumps(backlog.to_dict(), allow_nan=False))
    assert data["ci"] == "95% Student-t across 10 replications"
    assert data["drain"]["jobs"]["drained"] == 10
    assert len(data["t_s"]) == 150
    assert SpecError  # imported for the module's other tests


def test_drain_is_interpolated_and_a_run_that_never_drains_is_a_lower_bound() -> None:
    from scaleplan.experiments.transient import _drain

    bounds = [("calm", 0.0, 5.0), ("peak", 5.0, 10.0)]
    rows = np.zeros((3, 14))
    rows[:, 5:10] = 5.0
    rows[0, 10:12] = [3.0, 0.5]  # crosses 1 between the centres 10.5 and 11.5, at 11.3 s
    rows[1, 10:14] = 4.0  # still above when its run ends at 14 s, every request answered
    rows[2, 10:14] = 4.0  # stopped (ran away): never drained
    found = _drain(rows, 1.0, bounds, 1, 1.0, [(14.0, True), (14.0, True), (14.0, False)])
    assert found is not None
    assert found.threshold == 1.0 and found.pre_peak_level == 0.0
    assert found.drained == 2 and found.lower_bound
    assert found.seconds.mean == pytest.approx((1.3 + 4.0 + 4.0) / 3)
    # Back under after the largest queue (bucket 5, the first at 5 waiting): the same
    # crossings as absolute times.
    assert found.back_under_s is not None
    assert found.back_under_s.mean == pytest.approx((11.3 + 14.0 + 14.0) / 3)
    # No queue above the threshold in the peak phase: no drain to speak of.
    assert _drain(np.zeros((2, 14)), 1.0, bounds, 1, 1.0, [(14.0, True)] * 2) is None


def test_the_chart_says_why_a_panel_is_empty(mmc: TransientResult) -> None:
    from scaleplan.views.transient import figure_transient

    figure = figure_transient({"mmc": mmc}, [parse_slo("p99<=900ms")])
    texts = " ".join(str(a.text) for a in figure.layout.annotations)
    assert "no component autoscales" in texts and "no request failed" in texts
    assert "p0" in texts and "p1" in texts  # the phases, named
    # A queue formed (ρ 0.9 holds several waiting): its panel has a line, no excuse.
    assert "no queue formed" not in texts
    names = {trace.name for trace in figure.data if trace.name}
    assert names == {"mmc p99", "mmc app waiting"}
