"""Tests for scaleplan.engine: the simulation against queueing theory, and its invariants.

The analytic module is the referee (docs/architecture.md, "Honest numbers"): on every case with a
closed form, the 95% confidence interval the engine reports must cover the analytic value.
Seeds are fixed, so every test is deterministic; request counts are chosen for what the
physics needs (slower-mixing queues get longer runs). An honest 95% interval misses one seed in
twenty, so with a dozen interval tests some seed will miss: where ``SEED`` missed, the test says
so, names the interval it gave and how often the interval covered over other seeds, and uses
another seed. Tolerances are never widened instead.

Times: the spec speaks milliseconds, :mod:`scaleplan.analytic.queues` speaks whatever unit the
rates are in; rates here are per second, so analytic times are converted with ``1e3``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from scipy import stats

from scaleplan.analytic.queues import md1, mm1, mm1_response_quantile, mmc
from scaleplan.engine import HookContext, UnstableError, check_stability, simulate
from scaleplan.engine.protocol import (
    FAILED,
    OK,
    Observer,
    Replica,
    Request,
    Station,
    callbacks,
)
from scaleplan.graph import build_graph
from scaleplan.metrics import DEFAULT_BINS
from scaleplan.result import SimulationResult
from scaleplan.spec import ArchitectureSpec, parse_spec

SEED = 1
Z95 = float(stats.norm.ppf(0.975))
# Rounding slack for quantities that are exact in theory (utilisation ≤ 1, a zero wait).
EPSILON = 1e-9


def covers(interval: tuple[float, float], value: float) -> bool:
    low, high = interval
    return low <= value <= high


def t_interval(values: list[float]) -> tuple[float, float]:
    """Student-t 95% interval for the mean of independent replicate values."""
    x = np.asarray(values, dtype=float)
    half = float(stats.t.ppf(0.975, x.size - 1)) * float(x.std(ddof=1)) / math.sqrt(x.size)
    return float(x.mean()) - half, float(x.mean()) + half


def assert_covers(result: SimulationResult, analytic_ms: float) -> None:
    interval = result.latency_ms.mean_ci95
    assert covers(interval, analytic_ms), (
        f"95% CI {interval} (mean {result.latency_ms.mean:.4g} ms, "
        f"{result.latency_ms.count} requests) misses the analytic {analytic_ms:.4g} ms"
    )


# --------------------------------------------------------------------------- vs analytic


@pytest.mark.slow
@pytest.mark.parametrize(
    ("rho", "requests"),
    [
        (0.5, 200_000),
        # At ρ = 0.9 the response times are far more correlated: the integrated autocorrelation
        # time of M/M/1 waits is ≈ ρ(2 + 5ρ − 4ρ² + ρ³)/(1 − ρ)⁴ divided by Var(T)·μ² = 1/(1−ρ)²,
        # about 360 customers (≈ 4 at ρ = 0.5). A million requests gives each of the 20
        # batch-mean groups some 140 of those, enough for the batch means to be near-normal.
        # Seed 2: since the warm-up cut keeps a run's early busy periods (tests/test_warmup.py),
        # seed 1's interval at this size is (95.05, 99.75) against 100, the one seed in twenty a
        # 95% interval misses (seeds 2–8 all cover); the coverage over seeds is asserted there.
        (0.9, 1_000_000),
    ],
)
def test_mm1_mean_response_ci_covers_analytic(
    make_service_spec: Callable[..., ArchitectureSpec], rho: float, requests: int
) -> None:
    mu = 100.0  # 10 ms mean service
    spec = make_service_spec(rho * mu, 10.0)
    result = simulate(spec, seed=SEED if rho < 0.9 else 2, requests=requests)
    assert result.stable
    assert_covers(result, 1e3 * mm1(rho * mu, mu).mean_response)


def test_mmc_mean_response_ci_covers_analytic(
    make_service_spec: Callable[..., ArchitectureSpec],
) -> None:
    # replicas 1, concurrency 4: one pooled FIFO queue in front of four servers, ρ = 0.8.
    spec = make_service_spec(320.0, 10.0, concurrency=4)
    result = simulate(spec, seed=SEED, requests=200_000)
    assert_covers(result, 1e3 * mmc(320.0, 100.0, 4).mean_response)


def test_md1_mean_response_ci_covers_analytic(
    make_service_spec: Callable[..., ArchitectureSpec],
) -> None:
    spec = make_service_spec(80.0, 10.0, dist="constant")
    result = simulate(spec, seed=SEED, requests=200_000)
    assert_covers(result, 1e3 * md1(80.0, 0.010).mean_response)


@pytest.mark.slow
def test_tandem_without_holding_is_a_jackson_network(
    make_chain_spec: Callable[..., ArchitectureSpec],
) -> None:
    # With hold_during_calls false each station frees its slot before calling the next, so by
    # Burke's theorem every station sees Poisson arrivals at λ and the end-to-end mean is the
    # sum of the three stations' own M/M/c responses.
    rate = 100.0
    means_ms = [5.0, 16.0, 7.0]
    concurrency = [1, 2, 1]
    spec = make_chain_spec(rate, means_ms, concurrency=concurrency, hold_during_calls=False)
    result = simulate(spec, seed=SEED, requests=150_000)
    expected_s = sum(
        mmc(rate, 1e3 / mean_ms, c).mean_response
        for mean_ms, c in zip(means_ms, concurrency, strict=True)
    )
    assert_covers(result, 1e3 * expected_s)


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["service dispatch", "load balancer"])
def test_random_split_over_four_replicas_is_four_mm1_queues(
    make_spec: Callable[..., ArchitectureSpec],
    make_service: Callable[..., dict[str, object]],
    variant: str,
) -> None:
    # Each replica has its own queue, and a random choice independent of the state thins the
    # Poisson arrivals into four independent Poisson streams of λ/4: four M/M/1 queues, each at
    # ρ = 0.7. (Round robin would not do: it makes the arrivals at a replica Erlang-4.)
    rate, replicas = 280.0, 4
    api = make_service(10.0, replicas=replicas)
    if variant == "service dispatch":
        spec = make_spec({"api": {**api, "dispatch": "random"}}, entry="api", rate_per_s=rate)
    else:
        lb = {"kind": "load_balancer", "policy": "random", "to": "api"}
        spec = make_spec({"lb": lb, "api": api}, entry="lb", rate_per_s=rate)
    # Seed 2, not SEED: seed 1's interval (31.7, 32.9) ms misses 33.3 ms in both variants, which
    # share its arrivals and service times; over seeds 1 to 12 the interval covered 11 times.
    result = simulate(spec, seed=2, requests=150_000)
    assert_covers(result, 1e3 * mm1(rate / replicas, 100.0).mean_response)


def test_call_with_probability_adds_its_share_of_the_callee(
    make_chain_spec: Callable[..., ArchitectureSpec],
) -> None:
    # s1 (ρ = 0.6) calls s2 with probability 0.3; s2 sees a thinned Poisson stream of 30/s
    # (ρ = 0.6). Without holding: mean = R1 + 0.3·R2.
    rate = 100.0
    spec = make_chain_spec(rate, [6.0, 20.0], probabilities=0.3, hold_during_calls=False)
    result = simulate(spec, seed=SEED, requests=200_000)
    expected_s = mm1(rate, 1e3 / 6.0).mean_response + 0.3 * mm1(0.3 * rate, 50.0).mean_response
    assert_covers(result, 1e3 * expected_s)


# --------------------------------------------------------------------------- percentiles


@pytest.mark.slow
def test_mm1_p99_within_sketch_error_and_sampling_error(
    make_service_spec: Callable[..., ArchitectureSpec],
) -> None:
    # The sampling error of a sample quantile is q(1−q)/(n f(x_q)²) only for independent
    # observations; successive response times of a queue are positively correlated, so that
    # formula (with n = the counted requests) would be too narrow by an unknown factor.
    # Independent replications sidestep that: ten seeds give ten independent sample p99s, and
    # a Student-t interval over them covers their expectation, which differs from the true p99
    # by O(1/n), far below the interval's width. The sketch reports each p99 within a relative
    # error α = 1% of the sample quantile, so the true p99 lies in [low/(1+α), high/(1−α)].
    lam, mu = 50.0, 100.0
    spec = make_service_spec(lam, 10.0)
    p99s = [simulate(spec, seed=seed, requests=50_000).latency_ms.p99 for seed in range(1, 11)]
    low, high = t_interval(p99s)
    alpha = DEFAULT_BINS.relative_accuracy
    analytic_ms = 1e3 * mm1_response_quantile(lam, mu, 0.99)
    assert low / (1 + alpha) <= analytic_ms <= high / (1 - alpha), (p99s, analytic_ms)


# --------------------------------------------------------------------------- CI coverage

MMC_RATE, MMC_MU, MMC_C = 320.0, 100.0, 4  # ρ = 0.8


@pytest.fixture(scope="module")
def mmc_runs(make_service_spec: Callable[..., ArchitectureSpec]) -> list[SimulationResult]:
    """Twenty independent M/M/4 runs at ρ = 0.8, shared by the coverage and component tests."""
    spec = make_service_spec(MMC_RATE, 1e3 / MMC_MU, concurrency=MMC_C)
    return [simulate(spec, seed=seed, requests=50_000) for seed in range(1, 21)]


@pytest.mark.slow
def test_mmc_ci_covers_the_analytic_mean_in_most_seeds(
    mmc_runs: list[SimulationResult],
) -> None:
    # A 95% interval misses 1 time in 20 on average; at least 17 of 20 fails only with
    # probability ≈ 1.6% for an honest interval, but would catch one that is too narrow.
    analytic_ms = 1e3 * mmc(MMC_RATE, MMC_MU, MMC_C).mean_response
    hits = [covers(result.latency_ms.mean_ci95, analytic_ms) for result in mmc_runs]
    assert sum(hits) >= 17, [result.latency_ms.mean_ci95 for result in mmc_runs]


# --------------------------------------------------------------------------- replications


def test_replications_give_a_ci_that_covers_mm1(
    make_service_spec: Callable[..., ArchitectureSpec],
) -> None:
    spec = make_service_spec(50.0, 10.0)
    result = simulate(spec, seed=SEED, requests=40_000, replications=5)
    assert result.run.ci_method == "replications"
    assert result.run.replications == 5
    assert len(result.run.warmup_s) == 5
    assert result.requests.arrived == 5 * 40_000
    assert_covers(result, 1e3 * mm1(50.0, 100.0).mean_response)


# --------------------------------------------------------------------------- determinism


def without_wall_time(result: SimulationResult) -> dict[str, object]:
    data = result.to_dict()
    assert "wall_time_s" not in json.dumps(data)  # the record leaves the wall time out
    return data


def test_same_seed_gives_the_same_numbers(
    make_service_spec: Callable[..., ArchitectureSpec],
) -> None:
    spec = make_service_spec(300.0, 10.0, replicas=2, concurrency=2, queue_limit=3)
    first = simulate(spec, seed=7, requests=20_000)
    second = simulate(spec, seed=7, requests=20_000)
    assert first.requests.rejected > 0  # the rejection path is exercised too
    assert json.dumps(without_wall_time(first)) == json.dumps(without_wall_time(second))


def test_same_seed_gives_identical_json(
    make_service_spec: Callable[..., ArchitectureSpec],
) -> None:
    spec = make_service_spec(50.0, 10.0)
    first = simulate(spec, seed=7, requests=5_000)
    second = simulate(spec, seed=7, requests=5_000)
    assert first.to_json() == second.to_json()


def test_different_seeds_give_different_results(
    make_service_spec: Callable[..., ArchitectureSpec],
) -> None:
    spec = make_service_spec(50.0, 10.0)
    first = simulate(spec, seed=1, requests=5_000)
    second = simulate(spec, seed=2, requests=5_000)
    assert first.latency_ms.mean != second.latency_ms.mean
    assert json.dumps(without_wall_time(first)) != json.dumps(without_wall_time(second))


def test_common_random_numbers_same_arrivals_for_different_architectures(
    make_spec: Callable[..., ArchitectureSpec],
    make_service: Callable[..., dict[str, object]],
    make_service_spec: Callable[..., ArchitectureSpec],
) -> None:
    rate, requests = 200.0, 20_000
    single = make_service_spec(rate, 4.0)
    cluster = make_spec(
        {
            "lb": {"kind": "load_balancer", "policy": "least_connections", "to": "api"},
            "api": make_service(12.0, dist="lognormal", replicas=3, cv=2.0),
        },
        entry="lb",
        rate_per_s=rate,
    )

    def arrivals(spec: ArchitectureSpec, seed: int) -> list[float]:
        result = simulate(spec, seed=seed, requests=requests)
        # The horizon (requests / rate) and so the buckets are the same for both; the buckets
        # after it only hold the drain and differ in number.
        return result.timeseries.system.arrivals_per_s[:60]

    assert arrivals(single, 3) == arrivals(cluster, 3)
    assert arrivals(single, 3) != arrivals(single, 4)


# --------------------------------------------------------------------------- conservation


Builders = dict[str, Callable[..., ArchitectureSpec]]


def lb_cluster(make: Builders) -> ArchitectureSpec:
    """A load balancer over three API replicas that call a db and a cache in parallel."""
    return make["spec"](
        {
            "lb": {"kind": "load_balancer", "policy": "power_of_two", "to": "api"},
            "api": {
                "kind": "service",
                "replicas": 3,
                "concurrency": 2,
                "queue_limit": 2,
                "service_time": {"dist": "lognormal", "mean_ms": 20.0, "cv": 1.5},
                "calls": [{"to": "db", "probability": 0.6}, {"to": "cache"}],
                "parallel": True,
            },
            "db": {
                "kind": "service",
                "concurrency": 4,
                "queue_limit": 1,
                "service_time": {"dist": "exponential", "mean_ms": 10.0},
            },
            "cache": {"kind": "service", "service_time": {"dist": "constant", "mean_ms": 0.5}},
        },
        entry="lb",
        rate_per_s=250.0,
    )


# (build the spec, simulate's options, expect rejections, expect a stopped run)
CONSERVATION_CASES = [
    pytest.param(lambda make: make["service"](50.0, 10.0), {}, False, False, id="mm1"),
    pytest.param(
        lambda make: make["service"](90.0, 10.0, queue_limit=2),
        {},
        True,
        False,
        id="queue_limit",
    ),
    pytest.param(
        lambda make: make["chain"](60.0, [5.0, 8.0, 3.0], probabilities=[0.5, 0.9]),
        {},
        False,
        False,
        id="chain holding slots",
    ),
    pytest.param(lb_cluster, {}, True, False, id="cluster rejecting at two levels"),
    pytest.param(
        lambda make: make["service"](150.0, 10.0),
        {"run_anyway": True, "max_in_flight": 50},
        False,
        True,
        id="stopped as unstable",
    ),
]


@pytest.mark.parametrize(("build", "options", "rejects", "stops"), CONSERVATION_CASES)
def test_requests_are_conserved(
    make_spec: Callable[..., ArchitectureSpec],
    make_service_spec: Callable[..., ArchitectureSpec],
    make_chain_spec: Callable[..., ArchitectureSpec],
    build: Callable[[Builders], ArchitectureSpec],
    options: dict[str, object],
    rejects: bool,
    stops: bool,
) -> None:
    spec = build({"spec": make_spec, "service": make_service_spec, "chain": make_chain_spec})
    result = simulate(spec, seed=SEED, requests=20_000, **options)
    counts = result.requests
    assert counts.conserved(), counts
    assert counts.arrived > 0
    # A request is rejected once however many stations turn it away (parallel calls may).
    station_rejects = sum(component.rejected for component in result.components.values())
    assert (counts.rejected > 0) == rejects
    assert counts.rejected <= station_rejects
    assert result.stable != stops
    assert (counts.in_flight > 0) == stops


SmallArchitecture = tuple[dict[str, dict[str, object]], str, dict[str, object]]


@st.composite
def small_architectures(draw: st.DrawFn) -> SmallArchitecture:
    """One to three services in a line, optionally behind a load balancer, under any load:
    (components, entry, workload)."""
    n = draw(st.integers(1, 3))
    components: dict[str, dict[str, object]] = {}
    for index in range(n):
        component: dict[str, object] = {
            "kind": "service",
            "replicas": draw(st.integers(1, 3)),
            "concurrency": draw(st.integers(1, 4)),
            "service_time": {
                "dist": draw(st.sampled_from(["exponential", "constant"])),
                "mean_ms": draw(st.floats(0.5, 30.0)),
            },
            "hold_during_calls": draw(st.booleans()),
            "parallel": draw(st.booleans()),
            "dispatch": draw(st.sampled_from(["round_robin", "random", "least_connections"])),
        }
        queue_limit = draw(st.none() | st.integers(0, 5))
        if queue_limit is not None:
            component["queue_limit"] = queue_limit
        if index < n - 1:
            component["calls"] = [{"to": f"s{index + 2}", "probability": draw(st.floats(0, 1))}]
        components[f"s{index + 1}"] = component
    entry = "s1"
    if draw(st.booleans()):
        policy = draw(st.sampled_from(["round_robin", "random", "least_connections"]))
        components["lb"] = {"kind": "load_balancer", "policy": policy, "to": "s1"}
        entry = "lb"
    workload = {
        "arrival": draw(st.sampled_from(["poisson", "constant"])),
        "rate_per_s": draw(st.floats(5.0, 400.0)),
        "warmup": draw(st.sampled_from(["auto", "none", "1s", 0.1])),
    }
    return components, entry, workload


# Overloaded specs are drawn too (run_anyway), and must keep the invariants.
SMALL_SPEC_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,  # the same examples every run: the suite stays deterministic
    suppress_health_check=[HealthCheck.too_slow],
)


def simulate_small(
    make_spec: Callable[..., ArchitectureSpec], architecture: SmallArchitecture, seed: int
) -> SimulationResult:
    components, entry, workload = architecture
    spec = make_spec(components, entry=entry, **workload)
    return simulate(spec, seed=seed, requests=2_000, run_anyway=True)


@SMALL_SPEC_SETTINGS
@given(architecture=small_architectures(), seed=st.integers(0, 2**32 - 1))
def test_requests_are_conserved_for_any_small_spec(
    make_spec: Callable[..., ArchitectureSpec], architecture: SmallArchitecture, seed: int
) -> None:
    result = simulate_small(make_spec, architecture, seed)
    assert result.requests.conserved(), result.requests
    for name, component in result.components.items():
        assert component.utilization >= 0, (name, component.utilization)
        assert component.rejected >= 0


# D/D/1 at ρ = 1.2 with a 1 s warm-up: the server is busy without a break from the first
# arrival on, so nothing random decides the outcome. Visits of exactly 100 ms end at
# 1/12 + 0.1·k s; the measured window is whole buckets of 100/36 s from 2.78 s to 166.67 s, and
# the 1639 visits ending in it are counted whole, 163.9 s of service in 163.89 s:
# the engine reports 1.0000678.
SATURATED_DD1: SmallArchitecture = (
    {"s1": {"kind": "service", "service_time": {"dist": "constant", "mean_ms": 100.0}}},
    "s1",
    {"arrival": "constant", "rate_per_s": 12.0, "warmup": "1s"},
)


@SMALL_SPEC_SETTINGS
@example(architecture=SATURATED_DD1, seed=1)
@given(architecture=small_architectures(), seed=st.integers(0, 2**32 - 1))
def test_utilisation_is_at_most_one_for_any_small_spec(
    make_spec: Callable[..., ArchitectureSpec], architecture: SmallArchitecture, seed: int
) -> None:
    result = simulate_small(make_spec, architecture, seed)
    for name, component in result.components.items():
        assert component.utilization <= 1 + EPSILON, (name, component.utilization)


# --------------------------------------------------------------------------- unstable


@pytest.mark.parametrize("factor", [1.0, 1.2])
def test_overload_raises_before_running_naming_component_and_factor(
    make_service_spec: Callable[..., ArchitectureSpec], factor: float
) -> None:
    spec = make_service_spec(100.0 * factor, 10.0, name="overloaded")
    calls: list[tuple[int, int]] = []
    with pytest.raises(UnstableError) as caught:
        simulate(spec, seed=SEED, requests=1_000_000, progress=lambda a, p: calls.append((a, p)))
    assert calls == []  # refused before a single arrival
    message = str(caught.value)
    assert message.startswith("overloaded: unstable: components.api: ")
    assert f"{factor:.2f}× its capacity of 1 slots" in message
    assert caught.value.unstable.component == "api"
    assert caught.value.unstable.factor == pytest.approx(factor)


@pytest.mark.parametrize("hold", [True, False])
def test_overload_downstream_in_a_chain_names_that_component(
    make_chain_spec: Callable[..., ArchitectureSpec], hold: bool
) -> None:
    # s1 at ρ = 0.5, s2 at ρ = 1.2. The check uses each component's own service demand, so it
    # names s2 whether or not s1 holds its slot during the call.
    spec = make_chain_spec(100.0, [5.0, 12.0], concurrency=[2, 1], hold_during_calls=hold)
    with pytest.raises(UnstableError, match=r"components\.s2: offered load is 1\.20×"):
        simulate(spec, seed=SEED, requests=100_000)
    unstable = check_stability(spec, build_graph(spec), 100.0)
    assert unstable is not None and unstable.component == "s2"


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("chain", "culprit"), [([10.0], "s1"), ([5.0, 12.0], "s2")], ids=["single", "downstream"]
)
def test_run_anyway_stops_a_runaway_and_says_where(
    make_chain_spec: Callable[..., ArchitectureSpec], chain: list[float], culprit: str
) -> None:
    # Ten million requests would take minutes (the timeout fails the test); the bound on
    # requests in the system must stop the run within a few thousand arrivals.
    rate = 120.0 if len(chain) == 1 else 100.0
    spec = make_chain_spec(rate, chain, hold_during_calls=False)
    result = simulate(spec, seed=SEED, requests=10_000_000, run_anyway=True, max_in_flight=100)
    assert not result.stable
    assert result.unstable is not None and result.unstable.component == culprit
    assert result.requests.arrived < 100_000
    assert result.requests.in_flight > 100
    assert result.requests.conserved(), result.requests
    assert any(warning.startswith(f"unstable: {culprit}") for warning in result.warnings)


# --------------------------------------------------------------------------- components


def test_component_utilisation_ci_and_throughput_of_mmc(
    make_service_spec: Callable[..., ArchitectureSpec],
) -> None:
    # A fixed warm-up keeps the measured window independent of the data.
    spec = make_service_spec(MMC_RATE, 1e3 / MMC_MU, concurrency=MMC_C, workload={"warmup": "2s"})
    # Seed 2, not SEED: under seed 1 the interval is (0.7942, 0.7987), one of the 1 in 20 that
    # miss (its five replicate utilisations happen to lie close together: half-width 0.0023
    # where the spread of single runs, sd 0.0044, predicts 0.0055). Seeds 2 to 5 all cover.
    result = simulate(spec, seed=2, requests=50_000, replications=5)
    api = result.components["api"]
    assert covers(api.utilization_ci95, MMC_RATE / (MMC_C * MMC_MU)), api.utilization_ci95
    # By Burke's theorem the departures of a stationary M/M/c are Poisson at λ, so the count
    # in the measured window is Poisson(λ·T): within λT ± 1.96·√(λT) with 95% probability.
    seconds = result.run.measured_s
    count = round(api.throughput_per_s * seconds)
    expected = MMC_RATE * seconds
    assert abs(count - expected) <= Z95 * math.sqrt(expected), (count, expected)
    assert api.capacity == MMC_C and api.replicas == 1


@pytest.mark.slow
def test_component_wait_and_queue_of_mmc_match_erlang_c(
    mmc_runs: list[SimulationResult],
) -> None:
    # The engine gives no interval for a component's wait or queue length, so build one the
    # same way it does across replications: twenty independent seeds, a Student-t interval.
    analytic = mmc(MMC_RATE, MMC_MU, MMC_C)
    waits = [result.components["api"].wait_ms for result in mmc_runs]
    queues = [result.components["api"].mean_queue for result in mmc_runs]
    utilisations = [result.components["api"].utilization for result in mmc_runs]
    assert covers(t_interval(waits), 1e3 * analytic.mean_wait), (t_interval(waits), analytic)
    assert covers(t_interval(queues), analytic.mean_queue), (t_interval(queues), analytic)
    assert covers(t_interval(utilisations), analytic.utilization)
    # Little's law ties the three figures of one run together exactly.
    api = mmc_runs[0].components["api"]
    assert api.mean_queue == pytest.approx(api.throughput_per_s * api.wait_ms / 1e3)


# --------------------------------------------------------------------------- arrivals


def test_constant_arrivals_through_constant_service_never_wait(
    make_service_spec: Callable[..., ArchitectureSpec],
) -> None:
    # D/D/1 at ρ = 0.5: every request finds the server idle.
    spec = make_service_spec(50.0, 10.0, dist="constant", workload={"arrival": "constant"})
    result = simulate(spec, seed=SEED, requests=5_000)
    api = result.components["api"]
    assert api.wait_ms == pytest.approx(0.0, abs=EPSILON)
    assert api.mean_queue == pytest.approx(0.0, abs=EPSILON)
    assert result.latency_ms.mean == pytest.approx(10.0)
    assert api.utilization == pytest.approx(0.5, rel=0.01)  # the window edge is one service


@pytest.mark.slow
def test_bursty_arrivals_have_the_workload_mean_rate(
    make_service_spec: Callable[..., ArchitectureSpec],
) -> None:
    # Markov-modulated arrivals are over-dispersed, so a Poisson interval would be too narrow:
    # count arrivals over a fixed duration in ten independent runs and put a t-interval on them.
    # Starting in the base state biases a run by (burst share)·(relaxation time)·(rate gap)
    # ≈ 0.1·0.45 s·450/s ≈ 20 arrivals, two orders below the interval's width.
    workload = {
        "arrival": "bursty",
        "duration_s": 100.0,
        "burst": {"rate_per_s": 500.0, "mean_duration_s": 0.5, "mean_gap_s": 4.5},
    }
    spec = make_service_spec(50.0, 1.0, workload=workload)
    mean_rate = spec.workload.mean_rate_per_s
    assert mean_rate == pytest.approx(95.0)
    counts = [simulate(spec, seed=seed).requests.arrived for seed in range(1, 11)]
    assert covers(t_interval(counts), mean_rate * 100.0), (counts, mean_rate)


def test_diurnal_arrivals_have_the_workload_mean_rate(
    make_service_spec: Callable[..., ArchitectureSpec],
) -> None:
    # A Poisson process with a piecewise-constant rate puts Poisson(∫rate) arrivals in any
    # interval; over whole periods the integral is mean rate × duration.
    workload = {
        "arrival": "diurnal",
        "duration_s": 200.0,
        "diurnal": {"profile": [1.0, 3.0, 2.0, 0.0], "period_s": 10.0},
    }
    spec = make_service_spec(100.0, 1.0, workload=workload)
    result = simulate(spec, seed=SEED)
    expected = 100.0 * 200.0
    assert abs(result.requests.arrived - expected) <= Z95 * math.sqrt(expected)


def test_trace_replays_exactly_its_arrivals(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    times = np.sort(1000.0 + rng.uniform(0.0, 60.0, 997))
    trace = tmp_path / "arrivals.csv"
    trace.write_text("t_s\n" + "\n".join(f"{t:.17g}" for t in times) + "\n")
    data = {
        "name": "replay",
        "workload": {"arrival": "trace", "trace": {"file": "arrivals.csv"}, "warmup": "none"},
        "entry": "api",
        "components": {
            "api": {"kind": "service", "service_time": {"dist": "exponential", "mean_ms": 5}}
        },
    }
    spec = parse_spec(data, base_dir=str(trace.parent))
    result = simulate(spec, seed=SEED)
    assert result.requests.arrived == len(times)
    assert result.requests.completed == len(times)
    # The replay starts at the first recorded time: the arrivals per bucket are the trace's.
    width = result.timeseries.bucket_s
    replayed = np.round(np.asarray(result.timeseries.system.arrivals_per_s) * width)
    recorded = np.bincount(((times - times[0]) / width).astype(int), minlength=replayed.size)
    assert replayed.tolist() == recorded[: replayed.size].tolist()


# --------------------------------------------------------------------------- classes


def test_request_classes_share_arrivals_by_weight(
    make_spec: Callable[..., ArchitectureSpec],
    make_service: Callable[..., dict[str, object]],
) -> None:
    rate = 60.0
    spec = make_spec(
        {"web": make_service(10.0), "jobs": make_service(10.0)},
        entry="web",
        rate_per_s=rate,
        classes=[
            {"name": "interactive", "weight": 4.0},
            {"name": "batch", "weight": 1.0, "entry": "jobs"},
        ],
    )
    result = simulate(spec, seed=SEED, requests=100_000)
    assert set(result.classes) == {"interactive", "batch"}
    interactive = result.classes["interactive"].count
    batch = result.classes["batch"].count
    n = interactive + batch
    assert n == result.latency_ms.count
    # Each arrival's class is an independent draw, so the interactive count is binomial
    # (up to the few requests on the window's edges, whose latencies differ by milliseconds).
    share = interactive / n
    assert abs(share - 0.8) <= Z95 * math.sqrt(0.8 * 0.2 / n), share
    # Each entry sees a thinned Poisson stream: two M/M/1 queues at ρ = 0.48 and 0.12.
    assert covers(
        result.classes["interactive"].mean_ci95, 1e3 * mm1(0.8 * rate, 100.0).mean_response
    )
    assert covers(result.classes["batch"].mean_ci95, 1e3 * mm1(0.2 * rate, 100.0).mean_response)


# --------------------------------------------------------------------------- warm-up


def test_warmup_as_a_duration_and_none_are_honoured(
    make_service_spec: Callable[..., ArchitectureSpec],
) -> None:
    def run(warmup: object, replications: int = 1) -> SimulationResult:
        spec = make_service_spec(100.0, 5.0, workload={"warmup": warmup})
        return simulate(spec, seed=SEED, requests=15_000, replications=replications)

    fixed, none = run("5s"), run("none")
    assert fixed.run.warmup == "5s"
    assert fixed.run.warmup_s == (5.0,)
    assert none.run.warmup_s == (0.0,)
    assert run("5s", replications=2).run.warmup_s == (5.0, 5.0)
    # Same seed, same arrivals, same end: the windows differ only in where they start, at the
    # first whole time bucket after the warm-up.
    width = none.timeseries.bucket_s
    assert none.run.measured_s - fixed.run.measured_s == pytest.approx(
        math.ceil(5.0 / width) * width
    )


def test_warmup_as_a_fraction_of_requests_is_honoured(
    make_service_spec: Callable[..., ArchitectureSpec],
) -> None:
    spec = make_service_spec(100.0, 5.0, workload={"warmup": 0.2})
    result = simulate(spec, seed=SEED, requests=15_000)
    (warmup_s,) = result.run.warmup_s
    # The cut falls at the end of the batch holding the (0.2·completed)-th completion; batches
    # are 5 requests here (15 000 completions never fill the recorder's 4096 batches).
    skip = 0.2 * result.requests.completed
    width = result.timeseries.bucket_s
    per_bucket = np.round(np.asarray(result.timeseries.system.throughput_per_s) * width)
    done = np.cumsum(per_bucket)
    bucket = int(warmup_s / width)
    before = done[bucket - 1] if bucket else 0
    assert before < skip + 5 and done[bucket] >= skip, (warmup_s, before, done[bucket], skip)


# --------------------------------------------------------------------------- queue limit


@pytest.mark.slow
def test_queue_limit_rejects_as_mm1k(make_service_spec: Callable[..., ArchitectureSpec]) -> None:
    # queue_limit counts the requests waiting at a replica, not the one in service: with one
    # slot and queue_limit K − 1 at most K are in the station, an M/M/1/K queue, which by
    # PASTA rejects with probability P_K = (1 − ρ)ρ^K / (1 − ρ^{K+1}).
    # Rejections come in clumps (while the queue is full), so they are not independent
    # Bernoulli trials and a binomial interval would be too narrow: ten independent seeds and a
    # t-interval instead. Each run starts empty, which biases it by about (relaxation time /
    # run length) ≈ 0.1 s / 250 s relative, far below the interval's width.
    rho, k = 0.8, 5
    spec = make_service_spec(80.0, 10.0, queue_limit=k - 1)
    fractions = []
    for seed in range(1, 11):
        result = simulate(spec, seed=seed, requests=20_000)
        assert result.requests.conserved()
        assert result.components["api"].rejected == result.requests.rejected
        fractions.append(result.requests.rejected / result.requests.arrived)
    blocking = (1 - rho) * rho**k / (1 - rho ** (k + 1))
    assert covers(t_interval(fractions), blocking), (t_interval(fractions), blocking)


def test_overload_with_a_queue_limit_is_a_stable_loss_system(
    make_service_spec: Callable[..., ArchitectureSpec],
) -> None:
    # ρ = 1.5 with at most 2 waiting: M/M/1/3, which rejects but never grows.
    spec = make_service_spec(150.0, 10.0, queue_limit=2)
    result = simulate(spec, seed=SEED, requests=20_000)
    assert result.stable
    assert any("queue_limit bounds the queue" in warning for warning in result.warnings)
    # The server carries at most μ, so at least 1 − μ/λ = 1/3 of the arrivals are lost.
    assert result.requests.rejected / result.requests.arrived >= 1 - 1 / 1.5


def test_a_slot_held_during_calls_counts_in_the_stability_check(
    make_spec: Callable[..., ArchitectureSpec],
) -> None:
    # api holds its one slot for 5 ms of its own plus db's 10 ms: 80/s × 15 ms = 1.2.
    spec = make_spec(
        {
            "api": {
                "kind": "service",
                "service_time": {"dist": "exponential", "mean_ms": 5},
                "calls": [{"to": "db"}],
            },
            "db": {
                "kind": "service",
                "concurrency": 8,
                "service_time": {"dist": "exponential", "mean_ms": 10},
            },
        },
        entry="api",
        rate_per_s=80.0,
    )
    with pytest.raises(UnstableError) as caught:
        simulate(spec, seed=SEED, requests=20_000)
    assert "components.api" in str(caught.value) and "1.20×" in str(caught.value)
    result = simulate(spec, seed=SEED, requests=20_000, run_anyway=True)
    assert not result.stable
    # No steady state, so no interval is published for its mean.
    assert all(math.isnan(bound) for bound in result.latency_ms.mean_ci95)


def test_errors_injected_at_a_component_are_in_its_error_series(
    make_service_spec: Callable[..., ArchitectureSpec],
) -> None:
    spec = make_service_spec(50.0, 5.0, error_probability=0.1)
    result = simulate(spec, seed=SEED, requests=5_000)
    series = result.timeseries.components["api"].errors_per_s
    assert round(sum(series) * result.timeseries.bucket_s) == result.requests.failed > 0


def test_a_single_run_gives_intervals_that_cover_utilisation_and_queue(
    make_service_spec: Callable[..., ArchitectureSpec],
) -> None:
    # M/M/1 at ρ = 0.5: utilisation 0.5 and mean queue Lq = ρ²/(1 − ρ) = 0.5.
    spec = make_service_spec(50.0, 10.0)
    api = simulate(spec, seed=SEED, requests=200_000).components["api"]
    low, high = api.utilization_ci95
    assert low <= 0.5 <= high
    low, high = api.mean_queue_ci95
    assert low <= 0.5 <= high


# --------------------------------------------------------------------------- request and observers


class _Watch(Observer):
    """Records what the run shows its observers."""

    def __init__(self) -> None:
        self.served: list[tuple[str, int, int, int]] = []  # (station, request id, version, status)
        self.done: list[Request] = []
        self.statuses: list[int] = []

    def on_served(
        self,
        station: Station,
        replica: Replica,
        request: Request,
        version: int,
        status: int,
        arrived: float,
    ) -> None:
        self.served.append((station.name, request.id, version, status))

    def on_request_done(self, request: Request, status: int) -> None:
        self.done.append(request)
        self.statuses.append(status)


def _label_api(version: int) -> Callable[[HookContext], None]:
    """A hook that gives every replica of ``api`` the version ``version``."""

    def hook(context: HookContext) -> None:
        for replica in context.stations["api"].all_replicas:
            replica.version = version

    return hook


def _fan_out(call: dict[str, object], api_errors: float = 0.0) -> ArchitectureSpec:
    """front calls, at once, the balancer in front of api (shaped by ``call``) and aux."""
    return parse_spec(
        {
            "name": "fan-out",
            "entry": "front",
            "workload": {"rate_per_s": 50.0, "requests": 3000},
            "components": {
                "front": {
                    "kind": "service",
                    "concurrency": 32,
                    "parallel": True,
                    "service_time": {"dist": "exponential", "mean_ms": 1},
                    "calls": [{"to": "lb", **call}, {"to": "aux"}],
                },
                "lb": {"kind": "load_balancer", "policy": "round_robin", "to": "api"},
                "api": {
                    "kind": "service",
                    "replicas": 2,
                    "concurrency": 4,
                    "error_probability": api_errors,
                    "service_time": {"dist": "exponential", "mean_ms": 10},
                },
                "aux": {
                    "kind": "service",
                    "concurrency": 8,
                    "error_probability": 0.05,
                    "service_time": {"dist": "exponential", "mean_ms": 2},
                },
            },
        }
    )


def test_a_request_carries_the_versions_that_served_it_through_child_processes() -> None:
    # The call to api runs in a parallel branch and, with a timeout, in a process of its own
    # again: what served the request is read from the request, not from a process.
    watch = _Watch()
    result = simulate(
        _fan_out({"timeout_ms": 600_000}), seed=2, hooks=[_label_api(1)], observers=[watch]
    )
    assert result.requests.conserved()
    assert len(watch.done) == result.requests.arrived == 3000
    assert sorted(request.id for request in watch.done) == list(range(3000))
    api_visits = {request_id for name, request_id, _, _ in watch.served if name == "api"}
    assert len(api_visits) == 3000  # one visit to api per request, each observed
    assert all(version == 1 for name, _, version, _ in watch.served if name == "api")
    assert all(version == 0 for name, _, version, _ in watch.served if name != "api")
    for request in watch.done:
        # front and aux are version 0, api version 1: both bits, whatever process ran api.
        assert request.served_by(0) and request.served_by(1), request
        assert request.attempt == 0
    # The errors follow the request too: each failed request names aux, where it arose.
    failed = [r for r, status in zip(watch.done, watch.statuses, strict=True) if status != OK]
    assert len(failed) == result.requests.failed > 50
    assert all(request.errors == [("aux", FAILED)] for request in failed)
    assert all(
        request.errors is None
        for request, status in zip(watch.done, watch.statuses, strict=True)
        if status == OK
    )


def test_a_request_counts_its_retries() -> None:
    watch = _Watch()
    result = simulate(_fan_out({"retries": 2}, api_errors=0.3), seed=4, observers=[watch])
    retries = result.components["front"].details["calls"]["front->lb"]["retries"]
    assert retries > 500
    assert sum(request.attempt for request in watch.done) == retries
    assert max(request.attempt for request in watch.done) == 2
    # Every failed attempt at api is an error of the request, in the order it met them.
    api_errors = sum(1 for name, _, _, status in watch.served if name == "api" and status == FAILED)
    assert api_errors == sum(
        1 for request in watch.done for where, _ in request.errors or () if where == "api"
    )


def test_a_queued_job_is_a_child_request_of_its_publisher() -> None:
    spec = parse_spec(
        {
            "name": "async",
            "entry": "api",
            "workload": {"rate_per_s": 20.0, "requests": 500},
            "components": {
                "api": {
                    "kind": "service",
                    "service_time": {"dist": "exponential", "mean_ms": 2},
                    "calls": [{"to": "jobs"}],
                },
                "jobs": {"kind": "queue", "consumer": "workers", "max_retries": 3},
                "workers": {
                    "kind": "worker_pool",
                    "concurrency": 4,
                    "error_probability": 0.2,
                    "service_time": {"dist": "exponential", "mean_ms": 20},
                },
            },
        }
    )
    jobs: list[Request] = []

    class Jobs(Observer):
        def on_served(self, station: Station, replica: Replica, request: Request, *_: object):
            if station.name == "workers":
                jobs.append(request)

    watch = _Watch()
    result = simulate(spec, seed=3, observers=[Jobs(), watch])
    publishers = {request.id: request for request in watch.done}
    assert len(publishers) == 500
    assert {job.id for job in jobs} == set(publishers)  # every request published one job
    for job in jobs:
        assert job.parent is publishers[job.id]
    # Redeliveries are the job's attempts; what a worker did is the job's, not the publisher's.
    details = result.components["jobs"].details
    distinct = {id(job): job for job in jobs}.values()
    assert sum(job.attempt for job in distinct) == details["redelivered"] > 50
    assert all(request.errors is None for request in watch.done)


def test_observers_are_called_only_for_the_callbacks_they_override() -> None:
    class DoneOnly(Observer):
        def on_request_done(self, request: Request, status: int) -> None:
            pass

    class DuckTyped:  # need not subclass Observer
        def on_served(self, *args: object) -> None:
            pass

    done, duck = DoneOnly(), DuckTyped()
    assert callbacks([done, duck], "on_served") == [duck.on_served]
    assert callbacks([done, duck], "on_request_done") == [done.on_request_done]
    assert callbacks([Observer()], "on_served") == []


def test_observers_see_the_up_log_as_the_run_writes_it() -> None:
    """Failures are observed, not read off the stations after the run: an observer's
    ``on_up_changed`` gets every entry of each station's up log, the first at time 0."""
    spec = parse_spec(
        {
            "name": "up",
            "entry": "api",
            "workload": {"rate_per_s": 20, "duration_s": 600},
            "components": {
                "api": {
                    "kind": "service",
                    "replicas": 2,
                    "service_time": {"dist": "exponential", "mean_ms": 5},
                    "failures": {"mtbf_h": 0.02, "mttr_min": 0.5},
                }
            },
        }
    )

    class UpWatch(Observer):
        def __init__(self) -> None:
            self.seen: list[tuple[str, float, int]] = []

        def on_up_changed(self, station: Any, time_s: float, up: int) -> None:
            self.seen.append((station.name, time_s, up))

    stations: list[Any] = []
    watch = UpWatch()
    simulate(spec, seed=4, observers=[watch], hooks=[lambda c: stations.append(c.stations)])
    logged = stations[0]["api"].up_log
    assert [(time, up) for _, time, up in watch.seen] == logged
    assert logged[0] == (0.0, 2) and len(logged) > 3  # crashes and repairs happened


def _engine_imports() -> dict[str, set[str]]:
    """Each engine module's imports of other engine modules, at any depth of its code."""
    import ast

    folder = Path(__file__).parent.parent / "scaleplan" / "engine"
    graph: dict[str, set[str]] = {}
    for path in folder.glob("*.py"):
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            found.update(
                name.split(".")[2] for name in names if name.startswith("scaleplan.engine.")
            )
        graph[path.stem] = found
    return graph


def test_the_engine_has_no_import_cycle_and_resilience_needs_only_the_protocol() -> None:
    import networkx as nx

    graph = _engine_imports()
    assert graph["protocol"] <= {"rows", "streams", "waiting"}
    assert graph["waiting"] == set()  # the waiting line knows nothing of the engine
    assert graph["rows"] == set()  # nor do the flat rows a station records into
    assert graph["detached"] == set()  # nor does the driver of a request's life
    assert graph["resilience"] <= {"protocol", "streams"}
    assert graph["autoscale"] <= {"protocol", "streams"}
    cycles = list(nx.simple_cycles(nx.DiGraph([(a, b) for a, bs in graph.items() for b in bs])))
    assert cycles == []
