"""The tractor pull and the ramp, refereed by the M/M/c closed forms.

Statistical tests use fixed seeds and assert that a 95% confidence interval covers the
analytic value, so they are deterministic.
"""

from __future__ import annotations

import json

import pytest
from scipy.optimize import brentq

from scaleplan.analytic.queues import mmc_response_quantile
from scaleplan.experiments import pull, ramp
from scaleplan.spec import parse_spec

MU_PER_S = 25.0  # each server: exponential service with mean 40 ms
SERVERS = 4  # c·μ = 100 requests/s


def mmc(queue_limit: int | None = None, name: str = "mmc"):
    """An M/M/c station built with parse_spec: one replica of ``SERVERS`` slots."""
    component = {
        "kind": "service",
        "concurrency": SERVERS,
        "service_time": {"dist": "exponential", "mean_ms": 1000.0 / MU_PER_S},
    }
    if queue_limit is not None:
        component["queue_limit"] = queue_limit
    return parse_spec(
        {
            "name": name,
            "workload": {"rate_per_s": 50},
            "entry": "api",
            "components": {"api": component},
        }
    )


@pytest.fixture(scope="module")
def p99_pull():
    return pull(mmc(), ["p99<=300ms"], seed=1, requests=20_000, replications=5)


@pytest.mark.slow
def test_limit_under_a_p99_slo_covers_the_analytic_rate(p99_pull):
    # The rate at which the M/M/c response-time p99 equals 300 ms (≈ 82.2 requests/s).
    analytic = brentq(
        lambda rate: mmc_response_quantile(rate, MU_PER_S, SERVERS, 0.99) - 0.3,
        1e-6,
        SERVERS * MU_PER_S * (1 - 1e-9),
    )
    low, high = p99_pull.limit_ci95
    assert low <= analytic <= high
    assert p99_pull.replications == 5 and len(p99_pull.limits) == 5
    assert p99_pull.limit_per_min == pytest.approx(60 * p99_pull.limit_per_s)


def test_bisection_converges_within_ten_runs_to_a_two_percent_bracket(p99_pull):
    first = [step for step in p99_pull.steps if step.replication == 0 and step.phase != "curve"]
    first = [step for step in first if step.phase != "probe"]
    assert p99_pull.first_search_runs == len(first) <= 10
    low, high = p99_pull.bracket
    assert 0 < low < high and high / low - 1 <= 0.02
    # Every step of the first search shares the seed: common random numbers.
    assert {step.seed for step in first} == {1}
    # The bracket really is one: the lower end met the SLO and the upper end did not.
    assert any(step.meets and step.rate_per_s == low for step in first)
    assert any(not step.meets and step.rate_per_s == high for step in first)


def test_pull_reports_bottleneck_knee_failure_mode_and_bound(p99_pull):
    assert p99_pull.bottleneck == "api"
    assert p99_pull.analytic_bottleneck == "api"
    assert p99_pull.analytic_bound_per_s == pytest.approx(SERVERS * MU_PER_S)
    # At the limit the utilisation is λ/(cμ): its CI over the searches covers that value
    # at the mean limit (± the limit's own spread).
    low, high = p99_pull.bottleneck_utilization_ci95
    assert low <= p99_pull.limit_per_s / (SERVERS * MU_PER_S) <= high
    assert p99_pull.failure_mode == "queue growth"
    assert "p99<=300ms" in p99_pull.failure_detail
    # The knee (p99 rising faster than the load) lies below the limit, where the analytic
    # elasticity of the M/M/c p99 crosses 1 (about 70 requests/s).
    assert 55 < p99_pull.knee_per_s < p99_pull.limit_per_s


def test_pull_result_is_json_safe_and_has_records(p99_pull):
    data = p99_pull.to_dict()
    json.dumps(data, allow_nan=False)
    assert data["limit_per_s"] == pytest.approx(p99_pull.limit_per_s)
    rows = p99_pull.records()
    assert len(rows) == len(p99_pull.steps)
    assert {"rate_per_s", "rate_per_min", "meets", "p99_ms", "value.p99<=300ms"} <= set(rows[0])


def test_each_measured_step_gives_its_percentiles_intervals(p99_pull):
    """Every percentile a step reports comes with the run's 95% interval (issue 13)."""
    measured = [step for step in p99_pull.steps if step.requests > 0]
    assert measured
    for step in measured:
        for value, (low, high) in ((step.p50_ms, step.p50_ci95), (step.p99_ms, step.p99_ci95)):
            assert low <= value <= high, (step.rate_per_s, value, low, high)
    data = measured[0].to_dict()
    assert data["p99_ci95"] == list(measured[0].p99_ci95)


@pytest.mark.slow
def test_limit_with_only_a_throughput_slo_approaches_the_capacity():
    capacity = SERVERS * MU_PER_S
    result = pull(mmc(), ["throughput>=99%"], seed=1, requests=20_000, replications=5)
    assert 0.95 * capacity <= result.limit_per_s < capacity
    assert result.limit_ci95[1] <= capacity  # cut at the certain analytic bound
    assert result.bracket[1] <= capacity


def test_steps_at_or_beyond_capacity_cost_nothing_and_never_hang():
    # The bound's bracket climbs to the bound; the analytic one may never get there.
    result = pull(
        mmc(), ["p99<=300ms"], seed=1, requests=5000, replications=2, curve=(), bracket="bound"
    )
    refused = [step for step in result.steps if not step.stable]
    assert refused, "the search must have tried the analytic bound"
    assert all(step.requests == 0 for step in refused if step.rate_per_s >= 100.0)
    assert all(step.reason for step in refused)


def test_rejects_are_the_failure_mode_of_a_bounded_queue():
    # With room for 3 waiting requests per replica, overload shows as rejects.
    result = pull(mmc(queue_limit=3), ["errors<=1%"], seed=1, requests=5000, replications=2)
    assert result.failure_mode == "rejects"
    assert "rejected" in result.failure_detail
    assert 0 < result.limit_per_s < SERVERS * MU_PER_S


def test_an_impossible_slo_gives_a_zero_limit():
    # No load at all brings p99 under 10 ms when the mean service time is 40 ms.
    result = pull(mmc(), ["p99<=10ms"], seed=1, requests=2000, replications=2, curve=())
    assert result.limit_per_s == 0.0
    # Diagnosed from api's own service time (p99 = 40 ms × ln 100 ≈ 184 ms), not bisected.
    assert result.failure_mode == "unreachable" and result.runs == 1
    assert any("unreachable: api's own p99" in note for note in result.notes)


def test_one_search_publishes_its_bracket_with_a_note():
    result = pull(mmc(), ["p99<=300ms"], seed=1, requests=2000, replications=1, curve=())
    assert result.limit_ci95 == result.bracket
    assert any("its final bracket" in note and "not a 95%" in note for note in result.notes)
    several = pull(mmc(), ["p99<=300ms"], seed=1, requests=2000, replications=2, curve=())
    assert not any("bracket" in note for note in several.notes)


def test_objectives_for_a_missing_class_are_ignored_with_a_note():
    result = pull(mmc(), ["checkout.p99<=300ms"], seed=1, requests=2000, replications=2, curve=())
    assert result.slos == ()
    assert any("no request class 'checkout'" in note for note in result.notes)


def test_ramp_shows_the_system_breaking_as_load_steps_up():
    result = ramp(mmc(), slos=["p99<=300ms", "errors<=1%"], steps=6, requests=30_000)
    offered = [step["offered_per_s"] for step in result.steps]
    assert offered == sorted(offered) and offered[0] == pytest.approx(20.0)
    assert offered[-1] == pytest.approx(120.0)
    assert result.broke_at is not None
    # It breaks once the offered load passes capacity, if not before.
    assert result.broke_at_rate_per_s <= SERVERS * MU_PER_S * 1.2
    assert result.steps[0]["meets"]
    last = result.steps[-1]
    assert last["throughput_per_s"] < 0.9 * last["offered_per_s"]  # it cannot keep up
    series = result.timeseries.system
    assert len(series.p99_ms) == len(result.timeseries.t_s)
    json.dumps(result.to_dict(), allow_nan=False)
    assert len(result.records()) == 6
    # Each step's window percentiles come with a 95% interval across the step's windows.
    for step in result.steps:
        for name in ("window_p50_ms", "window_p99_ms"):
            low, high = step[f"{name}_ci95"]
            assert low <= step[name] <= high, (step["step"], name, low, step[name], high)


def test_ramp_without_slos_breaks_where_queues_run_away():
    result = ramp(mmc(), steps=4, requests=20_000, max_in_flight=500)
    assert result.stopped_early
    assert result.broke_at is not None
    # Only a step offered more than the capacity can run its queues away.
    assert result.steps[result.broke_at]["offered_per_s"] > SERVERS * MU_PER_S
    assert all(row["meets"] for row in result.steps[: result.broke_at])


def test_pull_rejects_bad_arguments():
    with pytest.raises(ValueError, match="precision"):
        pull(mmc(), ["p99<=300ms"], precision=0)
    with pytest.raises(ValueError, match="not an SLO"):
        pull(mmc(), ["p99 fast"])


AUTOSCALED = {
    "name": "hpa",
    "workload": {"arrival": "poisson", "rate_per_s": 20, "requests": 2000},
    "entry": "api",
    "components": {
        "api": {
            "kind": "service",
            "replicas": 1,
            "concurrency": 4,
            "queue_limit": 100,
            "service_time": {"dist": "exponential", "mean_ms": 100},
            "autoscale": {
                "metric": "utilization",
                "target": 0.7,
                "min_replicas": 1,
                "max_replicas": 8,
                "interval_s": 15,
                "boot_s": 60,
            },
        }
    },
}


def test_an_autoscaled_service_is_pulled_at_the_replicas_its_autoscaler_settles_on() -> None:
    """A sustained rate is a steady state: each step starts the autoscaled service at the
    replicas its autoscaler settles on there (issue 10's composition of autoscaling × pull).
    Eight replicas of 4 slots at 100 ms carry 320 requests/s; one replica (where a step from
    cold stays, its 60 s boot longer than the step) carries 40."""
    found = pull(
        parse_spec(AUTOSCALED), ["p99<=1000ms", "errors<=1%"], replications=2, precision=0.05
    )
    assert found.limit_ci95[0] > 4 * 40, (found.limit_per_s, found.limit_ci95)
    assert found.bottleneck == "api"


#: A day squeezed into 240 s: a quiet night (0.2) and a busy evening (2.0), mean 1.
DAY = [0.2, 0.2, 0.4, 0.8, 1.0, 1.2, 1.4, 1.6, 1.8, 2.0, 1.0, 0.4]


def test_a_diurnal_workload_is_pulled_at_steady_rates_not_at_the_start_of_its_day() -> None:
    """A step at a rate measures a steady state there. A diurnal workload's step replayed
    as much of its day as its requests happened to cover, so the limit depended on the run's
    length (a composition defect of diurnal × pull): here, steps long enough for the whole
    240 s day read 48 requests/s (95% CI 46–50) against the steady 82.2, and a short step of
    a long day reads its night. Each step now holds its rate steady, the busiest slice's
    case, and a note says so."""
    spec = mmc(name="diurnal").with_changes(
        {
            "workload.arrival": "diurnal",
            "workload.diurnal": {"period_s": 240, "profile": DAY},
        }
    )
    found = pull(spec, ["p99<=300ms"], seed=1, requests=20_000, replications=5)
    analytic = brentq(
        lambda rate: mmc_response_quantile(rate, MU_PER_S, SERVERS, 0.99) - 0.3,
        1e-6,
        SERVERS * MU_PER_S * (1 - 1e-9),
    )
    low, high = found.limit_ci95
    assert low <= analytic <= high, (found.limit_per_s, found.limit_ci95)
    assert any("diurnal" in note and "steady" in note for note in found.notes), found.notes
