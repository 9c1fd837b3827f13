"""Closed workloads: the spec, the engine's users, and the simulation against exact MVA.

The referee tests run each spec under 8 fixed seeds (one replication each, independent
streams) and assert that the Student-t 95% CI across them covers exact MVA's throughput and
mean response time. Measured over 20 such groups of 8 (seeds 1–160): the repairman's CIs
covered 19/20 (throughput) and 19/20 (response time), the tandem's 19 and 17, the c = 2
station's 19 and 19, processor sharing with lognormal service 19 and 19; over 40 seeds of 40k
requests the tandem's grand means were 5.5579/s [5.5520, 5.5638] and 579.9 ms [578.7, 581.1]
against exact 5.5588/s and 579.37 ms (no bias).
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from scaleplan.analytic import bottleneck, estimate
from scaleplan.analytic.mva import MvaStation, exact_multiclass, exact_mva, repairman_p0
from scaleplan.engine import simulate
from scaleplan.engine.run import UnstableError, starts_at_its_lightest
from scaleplan.errors import ScaleplanError, SimulationError, SpecError
from scaleplan.metrics import replication_ci
from scaleplan.spec import ClosedWorkloadError, WorkloadSpec, load_spec, parse_spec
from scaleplan.spec.architecture import ArchitectureSpec

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "data" / "architectures" / "closed-shop.yaml"
SEEDS = range(1, 9)


def exponential(mean_ms: float) -> dict[str, Any]:
    return {"dist": "exponential", "mean_ms": mean_ms}


def closed_spec(
    components: dict[str, Any],
    users: int | None,
    think_ms: float,
    *,
    entry: str = "a",
    requests: int = 10_000,
    **workload: Any,
) -> ArchitectureSpec:
    return parse_spec(
        {
            "name": "closed",
            "workload": {
                "kind": "closed",
                **({"users": users} if users is not None else {}),
                "think_time": exponential(think_ms) if think_ms else 0,
                "requests": requests,
                **workload,
            },
            "entry": entry,
            "components": components,
        }
    )


def covers(interval: tuple[float, float], value: float) -> bool:
    return interval[0] <= value <= interval[1]


def across_seeds(spec: ArchitectureSpec) -> tuple[tuple[float, float], tuple[float, float]]:
    """95% CIs of throughput and mean response time (ms) across the seeds' runs."""
    runs = [simulate(spec, seed=seed) for seed in SEEDS]
    assert all(run.stable and run.requests.conserved() for run in runs)
    throughput = replication_ci([run.throughput_per_s for run in runs])
    response = replication_ci([run.latency_ms.mean for run in runs])
    return (throughput.low, throughput.high), (response.low, response.high)


# --------------------------------------------------------------------------- the referee


def test_machine_repairman_simulation_covers_exact_mva() -> None:
    """M/M/1//5: 5 users thinking 1 s on average, one server of 0.2 s."""
    spec = closed_spec({"a": {"kind": "service", "service_time": exponential(200)}}, 5, 1000)
    exact = exact_mva([MvaStation("a", 0.2)], 1.0, 5)[-1]
    # The closed form of the finite-source queue, as the referee's own check.
    assert exact.throughput_per_s == pytest.approx((1 - repairman_p0(5, 1.0, 0.2)) / 0.2)
    estimated = estimate(spec)
    assert estimated.method.endswith("; exact") and not estimated.warnings
    assert estimated.throughput_per_s == pytest.approx(exact.throughput_per_s, rel=1e-12)
    assert estimated.latency_ms.mean == pytest.approx(1e3 * exact.response_s, rel=1e-12)
    throughput, response = across_seeds(spec)
    assert covers(throughput, exact.throughput_per_s), (throughput, exact.throughput_per_s)
    assert covers(response, 1e3 * exact.response_s), (response, 1e3 * exact.response_s)


def test_closed_tandem_with_think_time_covers_exact_mva() -> None:
    """Two FCFS stations in series (a serves, then calls b without holding its slot)."""
    spec = closed_spec(
        {
            "a": {
                "kind": "service",
                "service_time": exponential(100),
                "hold_during_calls": False,
                "calls": [{"to": "b"}],
            },
            "b": {"kind": "service", "service_time": exponential(150)},
        },
        6,
        500,
    )
    exact = exact_mva([MvaStation("a", 0.1), MvaStation("b", 0.15)], 0.5, 6)[-1]
    estimated = estimate(spec)
    assert estimated.method.endswith("; exact"), estimated.warnings
    assert estimated.throughput_per_s == pytest.approx(exact.throughput_per_s, rel=1e-12)
    assert estimated.components["b"].utilization == pytest.approx(exact.utilization["b"])
    # a's span covers its call to b, as the engine measures it.
    assert estimated.components["a"].latency_ms.mean == pytest.approx(
        1e3 * exact.response_s, rel=1e-12
    )
    throughput, response = across_seeds(spec)
    assert covers(throughput, exact.throughput_per_s), (throughput, exact.throughput_per_s)
    assert covers(response, 1e3 * exact.response_s), (response, 1e3 * exact.response_s)


def test_multi_server_station_covers_load_dependent_mva() -> None:
    """M/M/2//8: one replica of 2 slots sharing one queue."""
    spec = closed_spec(
        {"a": {"kind": "service", "concurrency": 2, "service_time": exponential(400)}}, 8, 1000
    )
    exact = exact_mva([MvaStation("a", 0.4, 2)], 1.0, 8)[-1]
    assert estimate(spec).throughput_per_s == pytest.approx(exact.throughput_per_s, rel=1e-12)
    throughput, response = across_seeds(spec)
    assert covers(throughput, exact.throughput_per_s), (throughput, exact.throughput_per_s)
    assert covers(response, 1e3 * exact.response_s), (response, 1e3 * exact.response_s)


def test_processor_sharing_is_product_form_for_any_service_time() -> None:
    spec = closed_spec(
        {
            "a": {
                "kind": "service",
                "discipline": "ps",
                "service_time": {"dist": "lognormal", "mean_ms": 200, "cv": 2},
            }
        },
        5,
        1000,
    )
    exact = exact_mva([MvaStation("a", 0.2)], 1.0, 5)[-1]
    estimated = estimate(spec)
    assert not estimated.warnings
    throughput, response = across_seeds(spec)
    assert covers(throughput, exact.throughput_per_s), (throughput, exact.throughput_per_s)
    assert covers(response, 1e3 * exact.response_s), (response, 1e3 * exact.response_s)


def test_mixed_workload_covers_mixed_mva() -> None:
    """Four users (think 0.5 s) and an open class of 2 requests/s share one M/M/1 station of
    0.1 s. Mixed MVA: the users see the demand inflated by 1 / (1 − 0.2); the open class's
    response time is D (1 + Q_users) / (1 − 0.2). Over 10 groups of 8 seeds the CIs covered
    the users' response time 9 times, the open class's 9 and the throughput 10."""
    spec = closed_spec(
        {"a": {"kind": "service", "service_time": exponential(100)}},
        4,
        500,
        classes=[{"name": "web"}, {"name": "batch", "rate_per_s": 2}],
    )
    assert spec.workload.class_users() == (4, 0) and spec.workload.mixed
    inflated = exact_mva([MvaStation("a", 0.1 / 0.8)], 0.5, 4)[-1]
    batch_s = 0.1 * (1 + inflated.queue_length["a"]) / 0.8
    estimated = estimate(spec)
    assert "mixed exact MVA" in estimated.method and not estimated.warnings
    assert estimated.classes["web"].mean == pytest.approx(1e3 * inflated.response_s, rel=1e-12)
    assert estimated.classes["batch"].mean == pytest.approx(1e3 * batch_s, rel=1e-12)
    assert estimated.throughput_per_s == pytest.approx(inflated.throughput_per_s + 2.0)
    assert estimated.components["a"].utilization == pytest.approx(
        0.1 * (inflated.throughput_per_s + 2.0)
    )
    runs = [simulate(spec, seed=seed) for seed in SEEDS]
    for name in ("web", "batch"):
        ci = replication_ci([run.classes[name].mean for run in runs])
        assert covers((ci.low, ci.high), estimated.classes[name].mean), (name, ci)
    ci = replication_ci([run.throughput_per_s for run in runs])
    assert covers((ci.low, ci.high), estimated.throughput_per_s), ci


def test_open_classes_that_overload_a_station_are_refused() -> None:
    spec = closed_spec(
        {"a": {"kind": "service", "service_time": exponential(100)}},
        2,
        500,
        requests=3000,
        classes=[{"name": "web"}, {"name": "batch", "rate_per_s": 12}],
    )
    estimated = estimate(spec)
    assert not estimated.stable and estimated.unstable is not None
    assert estimated.unstable.component == "a" and "open classes alone" in estimated.unstable.reason
    with pytest.raises(UnstableError, match="open classes alone"):
        simulate(spec, seed=1)
    result = simulate(spec, seed=1, run_anyway=True, max_in_flight=500)
    assert not result.stable and result.requests.conserved()


# --------------------------------------------------------------------------- the estimate


def test_estimate_says_why_it_is_approximate() -> None:
    spec = closed_spec(
        {
            "a": {
                "kind": "service",
                "replicas": 2,
                "service_time": {"dist": "lognormal", "mean_ms": 100, "cv": 2},
            }
        },
        4,
        500,
    )
    result = estimate(spec)
    assert "approximate" in result.method
    text = " ".join(result.warnings)
    assert "not exponential" in text and "2 replicas" in text


def test_classes_with_different_entries_use_exact_multiclass_mva() -> None:
    spec = closed_spec(
        {
            "a": {"kind": "service", "service_time": exponential(50)},
            "b": {"kind": "service", "service_time": exponential(80)},
        },
        10,
        500,
        classes=[{"name": "x", "entry": "a", "users": 6}, {"name": "y", "entry": "b", "users": 4}],
    )
    result = estimate(spec)
    assert "exact multi-class MVA" in result.method and result.method.endswith("; exact")
    # The classes share no station: two repairman models, each exact on its own.
    for name, station, users, service in (("x", "a", 6, 0.05), ("y", "b", 4, 0.08)):
        alone = exact_mva([MvaStation(station, service)], 0.5, users)[-1]
        assert result.classes[name].mean == pytest.approx(1e3 * alone.response_s, rel=1e-12)
        assert result.components[station].throughput_per_s == pytest.approx(
            alone.throughput_per_s, rel=1e-12
        )


def test_classes_sharing_a_station_cover_exact_multiclass_mva() -> None:
    """Class x visits a then b (a does not hold its slot), class y visits b alone: b's queue
    is shared. Each class's mean response time: the CI across the seeds covers exact
    multi-class MVA (over 20 groups of 8 seeds: 18/20 for x, 20/20 for y; the 160 runs'
    grand means 256.0 ms [255.4, 256.6] and 178.5 ms [178.0, 179.0] against exact 256.15 and
    178.77 ms)."""
    spec = closed_spec(
        {
            "a": {
                "kind": "service",
                "service_time": exponential(60),
                "hold_during_calls": False,
                "calls": [{"to": "b"}],
            },
            "b": {"kind": "service", "service_time": exponential(90)},
        },
        None,
        400,
        classes=[{"name": "x", "entry": "a", "users": 3}, {"name": "y", "entry": "b", "users": 2}],
    )
    x, y = exact_multiclass(
        [{"a": 0.06, "b": 0.09}, {"a": 0.0, "b": 0.09}], {"a": 1, "b": 1}, [0.4, 0.4], [3, 2]
    )
    estimated = estimate(spec)
    assert estimated.classes["x"].mean == pytest.approx(1e3 * x.response_s, rel=1e-12)
    assert estimated.classes["y"].mean == pytest.approx(1e3 * y.response_s, rel=1e-12)
    runs = [simulate(spec, seed=seed) for seed in SEEDS]
    for name, exact in (("x", x), ("y", y)):
        ci = replication_ci([run.classes[name].mean for run in runs])
        assert covers((ci.low, ci.high), 1e3 * exact.response_s), (name, ci, exact.response_s)


def test_classes_at_stations_of_several_slots_use_schweitzer() -> None:
    spec = closed_spec(
        {
            "a": {"kind": "service", "concurrency": 2, "service_time": exponential(50)},
            "b": {"kind": "service", "service_time": exponential(80)},
        },
        10,
        500,
        classes=[{"name": "x", "entry": "a", "users": 6}, {"name": "y", "entry": "b", "users": 4}],
    )
    result = estimate(spec)
    assert any("Schweitzer" in warning for warning in result.warnings)
    assert "approximate" in result.method


def test_asynchronous_jobs_are_outside_the_closed_network() -> None:
    """Users wait for the publish, not for the job: the workers get the users' rate as an
    open load (here 1.96× their capacity) and the users are not slowed down by them."""
    spec = closed_spec(
        {
            "a": {"kind": "service", "service_time": exponential(10), "calls": [{"to": "q"}]},
            "q": {"kind": "queue", "consumer": "workers"},
            "workers": {"kind": "worker_pool", "concurrency": 2, "service_time": exponential(50)},
        },
        10,
        100,
        requests=3000,
    )
    estimated = estimate(spec)
    assert estimated.unstable is not None and estimated.unstable.component == "workers"
    alone = exact_mva([MvaStation("a", 0.01)], 0.1, 10)[-1]
    assert estimated.throughput_per_s == pytest.approx(alone.throughput_per_s, rel=1e-12)
    assert estimated.components["workers"].utilization == pytest.approx(
        alone.throughput_per_s * 0.05 / 2, rel=1e-12
    )
    simulated = simulate(spec, seed=1)
    assert any(
        warning.startswith("workers: the analytic estimate") for warning in simulated.warnings
    )


def test_estimate_and_bottleneck_of_a_closed_spec_have_no_rate_to_take() -> None:
    spec = load_spec(EXAMPLE)
    with pytest.raises(ClosedWorkloadError, match="closed workload"):
        estimate(spec, rate_per_s=10)
    bound, limiting = bottleneck(spec)
    assert limiting == "db" and bound == pytest.approx(25.0)


# --------------------------------------------------------------------------- the engine


def test_users_keep_sending_after_rejections_and_the_run_ends() -> None:
    """A request rejected at once still returns its user to thinking (here no think time):
    the next request is sent by a timeout, never by recursion."""
    spec = closed_spec(
        {"a": {"kind": "service", "queue_limit": 0, "service_time": exponential(10)}},
        3,
        0,
        requests=5000,
    )
    result = simulate(spec, seed=3)
    counts = result.requests
    assert counts.conserved() and counts.arrived == 5000 and counts.in_flight == 0
    assert counts.rejected > 0 and counts.completed > 0


def test_a_timed_run_whose_users_never_let_the_clock_move_is_stopped() -> None:
    """Two users, no think time, one slot and no waiting place: one user's request is served
    while the other's are rejected at once, for ever at t = 0; a run by duration would never
    end, so it is stopped and said unstable."""
    spec = closed_spec(
        {"a": {"kind": "service", "queue_limit": 0, "service_time": exponential(10)}},
        2,
        0,
        requests=None,
        duration_s=10,
    )
    result = simulate(spec, seed=1)
    assert not result.stable and result.unstable is not None
    assert "without the clock moving" in result.unstable.reason
    assert result.requests.conserved()


def test_users_are_split_over_the_classes() -> None:
    spec = closed_spec(
        {"a": {"kind": "service", "service_time": exponential(20)}},
        12,
        1000,
        classes=[{"name": "browse", "weight": 3}, {"name": "buy", "weight": 1}],
    )
    assert spec.workload.class_users() == (9, 3)
    result = simulate(spec, seed=1)
    ratio = result.classes["browse"].count / result.classes["buy"].count
    # Same think time and entry: each class sends in proportion to its users (9:3).
    assert 2.7 < ratio < 3.3


def test_a_duration_bounds_the_sending() -> None:
    spec = closed_spec(
        {"a": {"kind": "service", "service_time": exponential(100)}},
        4,
        400,
        requests=None,
        duration_s=300,
    )
    result = simulate(spec, seed=2)
    assert result.run is not None and 300 <= result.run.simulated_s < 310
    # About 300 s × X(4); X(4) by MVA.
    rate = exact_mva([MvaStation("a", 0.1)], 0.4, 4)[-1].throughput_per_s
    assert abs(result.requests.arrived - 300 * rate) < 5 * math.sqrt(300 * rate)


def test_a_closed_run_does_not_start_at_its_lightest() -> None:
    assert not starts_at_its_lightest(load_spec(EXAMPLE))


def test_simulate_refuses_a_rate_override() -> None:
    with pytest.raises(SimulationError, match=r"change workload\.users"):
        simulate(load_spec(EXAMPLE), rate_per_s=5, requests=100)


def test_a_balancer_entry_sends_the_users_on() -> None:
    spec = closed_spec(
        {
            "lb": {"kind": "load_balancer", "to": [{"to": "a"}]},
            "a": {"kind": "service", "service_time": exponential(10)},
        },
        2,
        0,
        entry="lb",
    )
    result = simulate(spec, seed=1, requests=200)
    assert result.requests.completed == 200
    # No think time and one server: the server is never idle once the users are in.
    assert estimate(spec).throughput_per_s == pytest.approx(100.0)


# --------------------------------------------------------------------------- the spec


@pytest.mark.parametrize(
    ("workload", "message"),
    [
        ({"kind": "closed"}, "needs users"),
        ({"kind": "closed", "users": 0}, "must be at least 1"),
        ({"kind": "closed", "users": 5, "rate_per_s": 10}, "remove rate_per_s"),
        ({"kind": "closed", "users": 5, "arrival": "constant"}, "remove arrival"),
        ({"rate_per_s": 10, "users": 5}, "closed workload only"),
        ({"rate_per_s": 10, "think_time": exponential(5)}, "closed workload only"),
        (
            {"kind": "closed", "users": 1, "classes": [{"name": "a"}, {"name": "b"}]},
            "cannot be split",
        ),
        (
            {"kind": "closed", "classes": [{"name": "a", "users": 2}, {"name": "b"}]},
            "every request class",
        ),
        (
            {"kind": "closed", "users": 4, "classes": [{"name": "a", "users": 2}]},
            "must equal",
        ),
        ({"kind": "half-open", "users": 4}, "kind"),
        (
            {"kind": "closed", "users": 4, "classes": [{"name": "a", "users": 2, "rate_per_s": 1}]},
            "not both",
        ),
        (
            {"kind": "closed", "users": 4, "classes": [{"name": "a", "rate_per_s": 1}]},
            "needs a class of users",
        ),
        (
            {"rate_per_s": 5, "classes": [{"name": "a", "rate_per_s": 1}]},
            "closed workload only",
        ),
    ],
)
def test_bad_closed_workloads_name_the_key(workload: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError, match=message) as caught:
        parse_spec(
            {
                "name": "bad",
                "workload": workload,
                "entry": "a",
                "components": {"a": {"kind": "service", "service_time": exponential(5)}},
            }
        )
    assert "workload" in str(caught.value)


def test_every_open_workload_stays_valid_and_open() -> None:
    workload = WorkloadSpec(rate_per_s=10)
    assert workload.kind == "open" and not workload.closed and workload.is_poisson
    assert workload.mean_rate_per_s == 10


def test_closed_workload_has_no_rate() -> None:
    workload = WorkloadSpec(kind="closed", users=3, think_time=exponential(100))
    assert workload.think_time_s == 0.1 and not workload.is_poisson
    with pytest.raises(ClosedWorkloadError, match="3 users"):
        _ = workload.mean_rate_per_s
    assert issubclass(ClosedWorkloadError, ScaleplanError)


def test_explicit_class_users() -> None:
    workload = WorkloadSpec(
        kind="closed", classes=[{"name": "a", "users": 2}, {"name": "b", "users": 5}]
    )
    assert workload.total_users == 7 and workload.class_users() == (2, 5)


# --------------------------------------------------------------------------- the CLI


def scaleplan(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scaleplan", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_cli_validates_and_estimates_a_closed_spec() -> None:
    done = scaleplan("validate", str(EXAMPLE))
    assert done.returncode == 0, done.stderr
    assert "40 users send about 12.5 requests/s" in " ".join(done.stdout.split())
    done = scaleplan("estimate", str(EXAMPLE))
    assert done.returncode == 0, done.stderr
    assert "exact MVA" in done.stdout


def test_cli_verbs_that_need_a_rate_name_the_file() -> None:
    done = scaleplan(
        "failures", str(EXAMPLE), "--replications", "2", "--duration-h", "1", "--probes", "50"
    )
    assert done.returncode == 2
    assert "closed-shop.yaml: workload: a closed workload (40 users)" in " ".join(
        done.stderr.split()
    )
    assert "Traceback" not in done.stderr


def test_cli_refuses_a_rate_for_a_closed_spec() -> None:
    done = scaleplan("simulate", str(EXAMPLE), "--rate-per-s", "5", "--requests", "100")
    assert done.returncode == 2
    assert "closed workload" in done.stderr and "Traceback" not in done.stderr
