"""Exits in call lists and load balancers over any kind, against their closed forms.

- **Exits**: a service that repeats with probability p (``calls: [{exit: true, probability:
  1 − p}, {to: <self>}]`` with ``hold_during_calls: false``) is Jackson's M/M/1 with Bernoulli
  feedback (Jackson 1957, 1963; Kleinrock 1975, vol. 1 §4.8): visit ratio 1/(1 − p), per-visit
  sojourn 1/(μ − λ/(1 − p)), mean response (1/(1 − p)) · 1/(μ − λ/(1 − p)). An exit between two
  calls thins the later call's traffic: A calls [B, exit ½, C] makes C's visit ratio ½ and the
  mean response the tandem R_A + R_B + ½ R_C(λ/2).
- **Balancers over whole components**: a random split by weight of a Poisson stream gives
  independent Poisson streams of the weight shares, so two M/M/1 caches behind a 3:1 balancer
  see ¾λ and ¼λ, and the mean is the share-weighted sum of their responses (plus their misses
  at the origin); a worker pool reached both through its queue and directly is one M/M/c FIFO
  of the merged streams.

Each interval is a Student-t 95% interval across independent seeds or the engine's
replications; seeds are fixed.
"""

from __future__ import annotations

import math
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats

from scaleplan.analytic import estimate
from scaleplan.analytic.queues import mm1, mmc
from scaleplan.engine import simulate
from scaleplan.errors import SpecError
from scaleplan.graph import build_graph, visit_ratios
from scaleplan.load import solve_flows, traffic
from scaleplan.spec import ArchitectureSpec, load_spec, parse_spec
from scaleplan.widgets.knobs import discover_knobs

SEEDS = (1, 2, 3, 4, 5)


def t_interval(values: Sequence[float]) -> tuple[float, float]:
    """Student-t 95% interval for the mean of independent replicate values."""
    x = np.asarray(values, dtype=float)
    half = float(stats.t.ppf(0.975, x.size - 1)) * float(x.std(ddof=1)) / math.sqrt(x.size)
    return float(x.mean()) - half, float(x.mean()) + half


def covers(interval: tuple[float, float], value: float) -> bool:
    return interval[0] <= value <= interval[1]


def service(mean_ms: float, **extra: Any) -> dict[str, Any]:
    """One service with exponential service times of ``mean_ms``; ``extra`` keys as given."""
    return {
        "kind": "service",
        "service_time": {"dist": "exponential", "mean_ms": mean_ms},
        **extra,
    }


def architecture(
    components: dict[str, dict[str, Any]], *, entry: str, rate_per_s: float
) -> ArchitectureSpec:
    return parse_spec(
        {
            "name": "routing",
            "workload": {"rate_per_s": rate_per_s},
            "entry": entry,
            "components": components,
        }
    )


def repeat(p: float, rate: float) -> ArchitectureSpec:
    """One M/M/1 (10 ms) that serves a request again with probability p, as a new visit."""
    calls = [{"exit": True, "probability": 1 - p}, {"to": "api"}]
    return architecture(
        {"api": service(10.0, calls=calls, hold_during_calls=False)},
        entry="api",
        rate_per_s=rate,
    )


# --------------------------------------------------------------------------- exits


@pytest.mark.parametrize("p", [0.3, 0.6])
def test_repeat_with_p_is_jacksons_feedback(p: float) -> None:
    mu = 100.0
    rate = 60.0 * (1 - p)  # the station's total arrivals λ/(1 − p) = 60/s: ρ = 0.6
    spec = repeat(p, rate)
    visits = 1 / (1 - p)
    expected_ms = 1e3 * visits / (mu - rate * visits)
    assert visit_ratios(build_graph(spec)) == pytest.approx({"api": visits})
    assert estimate(spec).latency_ms.mean == pytest.approx(expected_ms, rel=1e-9)
    result = simulate(spec, seed=1, requests=40_000, replications=5)
    interval = result.latency_ms.mean_ci95
    assert covers(interval, expected_ms), (interval, expected_ms)


def sequence_with_exit(rate: float) -> ArchitectureSpec:
    calls = [{"to": "b"}, {"exit": True, "probability": 0.5}, {"to": "c"}]
    return architecture(
        {
            "a": service(5.0, calls=calls, hold_during_calls=False),
            "b": service(6.0),
            "c": service(10.0),
        },
        entry="a",
        rate_per_s=rate,
    )


def test_an_exit_between_calls_halves_the_later_calls_traffic() -> None:
    rate = 100.0
    spec = sequence_with_exit(rate)
    # The graph, the failure-adjusted traffic and the estimate agree on C's share.
    assert visit_ratios(build_graph(spec)) == pytest.approx({"a": 1.0, "b": 1.0, "c": 0.5})
    assert traffic(spec, None, rate).flows.visits == pytest.approx({"a": 1, "b": 1, "c": 0.5})
    tandem_ms = 1e3 * (
        mm1(rate, 200.0).mean_response
        + mm1(rate, 1e3 / 6).mean_response
        + 0.5 * mm1(rate / 2, 100.0).mean_response
    )
    assert estimate(spec).latency_ms.mean == pytest.approx(tandem_ms, rel=1e-9)
    ratios, means = [], []
    for seed in SEEDS:
        result = simulate(spec, seed=seed, requests=20_000)
        ratios.append(
            result.components["c"].throughput_per_s / result.components["a"].throughput_per_s
        )
        means.append(result.latency_ms.mean)
    assert covers(t_interval(ratios), 0.5), (t_interval(ratios), ratios)
    assert covers(t_interval(means), tandem_ms), (t_interval(means), tandem_ms)


def test_an_exit_counts_as_success_in_the_failure_algebra() -> None:
    # a fails by itself 10%; then half the visits leave; the others call b, which fails 20%.
    spec = architecture(
        {
            "a": service(
                1.0,
                error_probability=0.1,
                calls=[{"exit": True, "probability": 0.5}, {"to": "b"}],
            ),
            "b": service(1.0, error_probability=0.2),
        },
        entry="a",
        rate_per_s=10.0,
    )
    graph = build_graph(spec)
    flows = traffic(spec, graph, 10.0).flows
    assert flows.failure["a"] == pytest.approx(0.1 + 0.9 * 0.5 * 0.2)
    assert flows.visits["b"] == pytest.approx(0.9 * 0.5)
    order = list(reversed(list(graph)))
    assert solve_flows(spec, graph, order, 10.0).failure["a"] == pytest.approx(0.19)
    # The estimate's error share is the same: 19% of the requests fail.
    said = " ".join(estimate(spec).warnings)
    assert "19.000% of requests fail" in said, said


def test_an_exit_of_probability_one_ends_every_visit() -> None:
    spec = architecture(
        {
            "a": service(5.0, calls=[{"exit": True}, {"to": "b"}]),
            "b": service(5.0),
        },
        entry="a",
        rate_per_s=50.0,
    )
    result = simulate(spec, seed=1, requests=2_000)
    assert result.components["b"].throughput_per_s == 0.0
    assert result.requests.completed == 2_000


def test_an_exit_has_a_share_knob_and_no_edge() -> None:
    spec = sequence_with_exit(100.0)
    labels = {knob.label: knob.key_path for knob in discover_knobs(spec)}
    assert labels["a → exit share"] == "components.a.calls.1.probability"
    assert set(build_graph(spec).edges) == {("a", "b"), ("a", "c")}
    changed = spec.with_changes({"components.a.calls.1.probability": 0.75})
    assert visit_ratios(build_graph(changed))["c"] == pytest.approx(0.25)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ({"exit": True, "to": "b"}, "not both"),
        ({"exit": True, "bulkhead": 3}, "takes no resilience policy"),
        ({"probability": 0.5}, "needs `to`"),
    ],
)
def test_a_bad_exit_entry_is_refused(call: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        architecture(
            {"a": service(5.0, calls=[call, {"to": "b"}]), "b": service(5.0)},
            entry="a",
            rate_per_s=10.0,
        )


def test_an_exit_in_parallel_calls_is_refused() -> None:
    with pytest.raises(SpecError, match="parallel calls all go out at once"):
        architecture(
            {
                "a": service(5.0, parallel=True, calls=[{"to": "b"}, {"exit": True}]),
                "b": service(5.0),
            },
            entry="a",
            rate_per_s=10.0,
        )


def test_a_self_loop_holding_its_slot_is_refused_even_behind_an_exit() -> None:
    calls = [{"exit": True, "probability": 0.5}, {"to": "api"}]
    with pytest.raises(SpecError, match="cannot call itself"):
        architecture({"api": service(10.0, calls=calls)}, entry="api", rate_per_s=10.0)


# --------------------------------------------------------------------------- balancers


def cache(mean_ms: float) -> dict[str, Any]:
    """One exponential lookup slot (M/M/1) answering 80% of its visits."""
    return {
        "kind": "cache",
        "hit_ratio": 0.8,
        "backing": "origin",
        "concurrency": 1,
        "service_time": {"dist": "exponential", "mean_ms": mean_ms},
    }


def two_caches(policy: str, rate: float) -> ArchitectureSpec:
    balancer = {
        "kind": "load_balancer",
        "policy": policy,
        "to": [{"to": "c1", "weight": 3}, {"to": "c2", "weight": 1}],
    }
    return architecture(
        {"lb": balancer, "c1": cache(4.0), "c2": cache(8.0), "origin": service(10.0)},
        entry="lb",
        rate_per_s=rate,
    )


def test_a_random_balancer_over_two_caches_splits_by_weight() -> None:
    rate = 200.0
    spec = two_caches("random", rate)
    # ¾λ = 150/s at 250/s, ¼λ = 50/s at 125/s, and the misses (20%) at the origin, 40/s.
    expected_ms = 1e3 * (
        0.75 * mm1(150.0, 250.0).mean_response
        + 0.25 * mm1(50.0, 125.0).mean_response
        + 0.2 * mm1(40.0, 100.0).mean_response
    )
    estimated = estimate(spec)
    assert estimated.latency_ms.mean == pytest.approx(expected_ms, rel=1e-9)
    assert "exact" in estimated.method and "approximate" not in estimated.method
    shares: dict[str, list[float]] = {"c1": [], "c2": []}
    means = []
    for seed in SEEDS:
        result = simulate(spec, seed=seed, requests=20_000)
        for name, values in shares.items():
            values.append(result.components[name].throughput_per_s / rate)
        means.append(result.latency_ms.mean)
    assert covers(t_interval(shares["c1"]), 0.75), shares["c1"]
    assert covers(t_interval(shares["c2"]), 0.25), shares["c2"]
    assert covers(t_interval(means), expected_ms), (t_interval(means), expected_ms)


@pytest.mark.parametrize("policy", ["round_robin", "least_connections", "power_of_two"])
def test_other_policies_over_whole_components_are_stated_approximations(policy: str) -> None:
    spec = two_caches(policy, 200.0)
    estimated = estimate(spec)
    assert "approximate" in estimated.method
    said = " ".join(estimated.warnings)
    assert f"lb: {policy} across whole components (c1, c2) taken as a random split" in said
    result = simulate(spec, seed=1, requests=4_000)
    assert result.stable
    assert result.requests.completed == 4_000


def test_a_balancer_over_a_queue_and_its_worker_pool_feeds_one_fifo() -> None:
    # Half the requests are published to q (answered at once), half go straight to the pool;
    # the pool's one FIFO takes both: M/M/2 at 150/s with 10 ms each (ρ = 0.75).
    rate = 150.0
    pool = {
        "kind": "worker_pool",
        "replicas": 2,
        "service_time": {"dist": "exponential", "mean_ms": 10},
    }
    spec = architecture(
        {
            "lb": {"kind": "load_balancer", "policy": "random", "to": ["q", "workers"]},
            "q": {"kind": "queue", "consumer": "workers"},
            "workers": pool,
        },
        entry="lb",
        rate_per_s=rate,
    )
    response_ms = 1e3 * mmc(rate, 100.0, 2).mean_response
    estimated = estimate(spec)
    assert estimated.latency_ms.mean == pytest.approx(0.5 * response_ms, rel=1e-9)
    result = simulate(spec, seed=1, requests=30_000, replications=5)
    assert covers(result.latency_ms.mean_ci95, 0.5 * response_ms), result.latency_ms.mean_ci95
    queued = result.components["q"].latency_ms.mean_ci95  # a job's time in system
    assert covers(queued, response_ms), queued


def test_a_balancer_may_spread_over_balancers_databases_and_edges() -> None:
    data = {
        "name": "anykind",
        "workload": {"rate_per_s": 20},
        "entry": "front",
        "components": {
            "front": {"kind": "load_balancer", "to": ["inner", "db", "cdn"]},
            "inner": {"kind": "load_balancer", "to": "api"},
            "api": service(5.0),
            "db": {"kind": "database", "read_time": {"dist": "exponential", "mean_ms": 3}},
            "cdn": {
                "kind": "edge",
                "share": 0.5,
                "to": "api",
                "service_time": {"dist": "exponential", "mean_ms": 1},
            },
        },
    }
    spec = parse_spec(data)
    assert visit_ratios(build_graph(spec)) == pytest.approx(
        {"front": 1, "inner": 1 / 3, "db": 1 / 3, "cdn": 1 / 3, "api": 0.5}
    )
    result = simulate(spec, seed=1, requests=3_000)
    assert result.requests.completed == 3_000
    assert result.components["api"].throughput_per_s > 0


# --------------------------------------------------------------------------- the bundled example


EXAMPLE = Path(__file__).resolve().parent.parent / "data" / "architectures" / "retry-loop-exit.yaml"


def test_the_example_is_validated_drawn_and_estimated_exactly() -> None:
    from scaleplan.views.graph import figure_graph

    said = subprocess.run(
        [sys.executable, "-m", "scaleplan", "validate", str(EXAMPLE)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert said.returncode == 0, said.stderr
    assert "6 calls, 1 exit;" in " ".join(said.stdout.split())
    spec = load_spec(EXAMPLE)
    figure = figure_graph(build_graph(spec))
    hovers = " ".join(str(text) for trace in figure.data for text in (trace.hovertext or ()))
    assert "exit: calls[1] ends 70% of the visits reaching it" in hovers
    estimated = estimate(spec)
    assert "exact" in estimated.method and "approximate" not in estimated.method
    assert estimated.components["render"].throughput_per_s == pytest.approx(120 / 0.7)
    assert estimated.components["cache-near"].throughput_per_s == pytest.approx(0.75 * 120 / 0.7)


def test_an_exit_then_a_random_balancer_is_an_exclusive_three_way_choice() -> None:
    spec = architecture(
        {
            "a": service(
                2.0,
                hold_during_calls=False,
                calls=[{"exit": True, "probability": 0.2}, {"to": "pick"}],
            ),
            "pick": {
                "kind": "load_balancer",
                "policy": "random",
                "to": [{"to": "b", "weight": 5}, {"to": "c", "weight": 3}],
            },
            "b": service(2.0),
            "c": service(2.0),
        },
        entry="a",
        rate_per_s=10.0,
    )
    assert visit_ratios(build_graph(spec)) == pytest.approx(
        {"a": 1.0, "pick": 0.8, "b": 0.5, "c": 0.3}
    )


def test_an_exit_without_errors_leaves_no_failure_residue() -> None:
    """No error anywhere: the failure probability is exactly 0, not a rounding residue
    (1 − reach − left gave 5.6e-17, printed as "failure probability 5.551e-17")."""
    spec = architecture(
        {
            "a": service(1.0, calls=[{"exit": True, "probability": 0.3}, {"to": "b"}]),
            "b": service(1.0),
        },
        entry="a",
        rate_per_s=10.0,
    )
    flows = traffic(spec, build_graph(spec), 10.0).flows
    assert flows.failure["a"] == 0.0
    assert "failure_probability" not in estimate(spec).components["a"].details
