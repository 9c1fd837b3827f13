"""Power of d choices and join the shortest queue: the policies, their spec key ``d``, their
referees (:mod:`scaleplan.analytic.balancing`) and the engine against them.

The engine tests run a load balancer over ``n`` single-slot exponential replicas and assert that
the 95% CI of the mean latency across replications covers the exact mean of the Markov chain on
the queue lengths (docs/architecture.md, "Honest numbers"). Seeds are fixed.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sparse
from scipy.sparse.linalg import spsolve

from scaleplan.analytic import estimate
from scaleplan.analytic.balancing import (
    TruncationError,
    exact_sojourn,
    mean_field_sojourn,
)
from scaleplan.analytic.queues import mm1, mmc
from scaleplan.engine import simulate
from scaleplan.engine.policies import JoinShortestQueue, PowerOfD, make_policy
from scaleplan.errors import SpecError
from scaleplan.spec import ArchitectureSpec, parse_spec

MEAN_MS = 10.0


def balanced(
    replicas: int, load: float, policy: str, d: int | None = None, **workload: Any
) -> ArchitectureSpec:
    """A balancer over ``replicas`` single-slot exponential replicas at per-replica ``load``."""
    balancer: dict[str, Any] = {"kind": "load_balancer", "policy": policy, "to": "api"}
    if d is not None:
        balancer["d"] = d
    return parse_spec(
        {
            "name": "balanced",
            "workload": {"rate_per_s": load * replicas * 1000 / MEAN_MS, **workload},
            "entry": "lb",
            "components": {
                "lb": balancer,
                "api": {
                    "kind": "service",
                    "replicas": replicas,
                    "service_time": {"dist": "exponential", "mean_ms": MEAN_MS},
                },
            },
        }
    )


# --------------------------------------------------------------------------- the exact chain


def brute_force_sojourn(servers: int, d: int, lam: float, cap: int) -> float:
    """The same chain written independently: ordered queue vectors, every d-subset sampled
    with equal chance, ties split evenly, arrivals to a queue at ``cap`` dropped."""
    space = list(itertools.product(range(cap + 1), repeat=servers))
    index = {state: i for i, state in enumerate(space)}
    subsets = list(itertools.combinations(range(servers), d))
    rows, cols, rates = [], [], []
    lost = np.zeros(len(space))
    for i, state in enumerate(space):
        for subset in subsets:
            shortest = min(state[j] for j in subset)
            tied = [j for j in subset if state[j] == shortest]
            for j in tied:
                chance = 1.0 / len(subsets) / len(tied)
                if state[j] == cap:
                    lost[i] += chance
                    continue
                after = list(state)
                after[j] += 1
                rows.append(i)
                cols.append(index[tuple(after)])
                rates.append(lam * chance)
        for j in range(servers):
            if state[j] > 0:
                after = list(state)
                after[j] -= 1
                rows.append(i)
                cols.append(index[tuple(after)])
                rates.append(1.0)
    size = len(space)
    q = sparse.coo_matrix((rates, (rows, cols)), shape=(size, size)).tocsr()
    q = (q - sparse.diags(np.asarray(q.sum(axis=1)).ravel())).T.tolil()
    q[0, :] = np.ones(size)
    rhs = np.zeros(size)
    rhs[0] = 1.0
    pi = spsolve(q.tocsc(), rhs)
    number = float(pi @ np.array([sum(state) for state in space], dtype=float))
    return number / (lam * (1 - float(pi @ lost)))


@pytest.mark.parametrize(("servers", "d"), [(3, 2), (3, 3), (2, 2)])
def test_the_multiset_chain_matches_an_independent_chain_on_ordered_queues(
    servers: int, d: int
) -> None:
    lam = 0.5 * servers
    exact = exact_sojourn(servers, d, lam)
    assert exact.boundary_mass < 1e-9
    assert exact.mean_sojourn == pytest.approx(
        brute_force_sojourn(servers, d, lam, exact.cap), rel=1e-9
    )


@pytest.mark.parametrize(("servers", "load"), [(2, 0.6), (3, 0.5)])
def test_one_choice_is_independent_mm1_queues(servers: int, load: float) -> None:
    # d = 1: a uniform random split, so n independent M/M/1 at λ/n: T = 1/(μ − λ/n).
    solution = exact_sojourn(servers, 1, load * servers)
    assert solution.mean_sojourn == pytest.approx(mm1(load, 1.0).mean_response, rel=1e-7)


@pytest.mark.parametrize("load", [0.5, 0.8, 0.9])
def test_jsq_on_two_servers_lies_between_the_central_queue_and_two_separate_ones(
    load: float,
) -> None:
    # JSQ (Haight 1958; exact by Flatto & McKean 1977, Adan, Wessels & Zijm 1990) cannot beat
    # one central M/M/2 queue (no server idles while anyone waits there) and does better than
    # a random split into two M/M/1 queues.
    jsq = exact_sojourn(2, 2, 2 * load).mean_sojourn
    assert mmc(2 * load, 1.0, 2).mean_response < jsq < mm1(load, 1.0).mean_response


def test_more_choices_wait_less_and_jsq_waits_least() -> None:
    means = [exact_sojourn(3, d, 1.8).mean_sojourn for d in (1, 2, 3)]
    assert means == sorted(means, reverse=True)
    assert means[0] == pytest.approx(2.5, rel=1e-6)  # M/M/1 at 0.6


def test_a_truncation_over_the_budget_is_refused() -> None:
    with pytest.raises(TruncationError, match="over the budget"):
        exact_sojourn(5, 2, 4.75, max_states=2_000)
    with pytest.raises(ValueError, match="unstable"):
        exact_sojourn(2, 2, 2.0)


# --------------------------------------------------------------------------- mean field


def test_mean_field_formula() -> None:
    # d = 1 is the M/M/1; d = 2 at ρ = 0.5: Σ 0.5^(2^i − 2) = 1 + 0.25 + 0.5^6 + 0.5^14 + …
    assert mean_field_sojourn(0.5, 1) == pytest.approx(2.0)
    series = sum(0.5 ** (2**i - 2) for i in range(1, 8))
    assert mean_field_sojourn(0.5, 2) == pytest.approx(series, rel=1e-15)
    assert mean_field_sojourn(0.9, 3) < mean_field_sojourn(0.9, 2) < mean_field_sojourn(0.9, 1)


def test_finite_pools_approach_the_mean_field_limit_as_they_grow() -> None:
    # d = 2 at ρ = 0.5 (the docstring of scaleplan.analytic.balancing shows ρ = 0.7): the gap
    # between the exact finite-n mean and Mitzenmacher's limit shrinks with every server added.
    limit = mean_field_sojourn(0.5, 2)
    gaps = [exact_sojourn(n, 2, 0.5 * n).mean_sojourn - limit for n in range(2, 6)]
    assert all(gap > 0 for gap in gaps), gaps  # a finite pool waits longer than the limit
    assert all(later < earlier for earlier, later in itertools.pairwise(gaps)), gaps


# --------------------------------------------------------------------------- the engine


ENGINE_CASES = [
    # (replicas, load, policy, d, requests per replication, seed)
    pytest.param(4, 0.8, "power_of_d", 2, 30_000, 1, id="power_of_d-n4-d2"),
    pytest.param(4, 0.8, "power_of_d", 3, 30_000, 1, id="power_of_d-n4-d3"),
    pytest.param(2, 0.85, "join_shortest_queue", None, 30_000, 1, id="jsq-n2"),
    pytest.param(3, 0.85, "join_shortest_queue", None, 30_000, 1, id="jsq-n3"),
]


@pytest.mark.parametrize(("replicas", "load", "policy", "d", "requests", "seed"), ENGINE_CASES)
def test_simulated_mean_latency_covers_the_exact_chain(
    replicas: int, load: float, policy: str, d: int | None, requests: int, seed: int
) -> None:
    spec = balanced(replicas, load, policy, d)
    result = simulate(spec, seed=seed, requests=requests, replications=5)
    chain = exact_sojourn(replicas, d or replicas, load * replicas)
    exact_ms = MEAN_MS * chain.mean_sojourn
    low, high = result.latency_ms.mean_ci95
    assert low <= exact_ms <= high, (low, exact_ms, high)


# --------------------------------------------------------------------------- the policies


def test_power_of_d_compares_all_endpoints_when_d_exceeds_them() -> None:
    loads = [3, 1, 2]
    policy = PowerOfD([1.0] * 3, loads.__getitem__, np.random.default_rng(1), d=5)
    assert {policy.choose() for _ in range(50)} == {1}
    policy.resize([1.0, 1.0])  # scaled in: two endpoints left
    assert {policy.choose() for _ in range(50)} == {1}


def test_power_of_d_samples_distinct_endpoints_by_weight() -> None:
    rng = np.random.default_rng(7)
    policy = PowerOfD([3.0, 1.0, 1.0, 1.0], lambda index: 0, rng, d=2)
    draws = [policy.sample() for _ in range(20_000)]
    assert all(len(set(draw)) == 2 for draw in draws)
    firsts = np.bincount([draw[0] for draw in draws], minlength=4) / len(draws)
    assert firsts == pytest.approx([0.5, 1 / 6, 1 / 6, 1 / 6], abs=0.015)


def test_jsq_ignores_weights_and_breaks_ties_at_random() -> None:
    loads = [2, 1, 1, 5]
    policy = JoinShortestQueue([10.0, 1.0, 1.0, 1.0], loads.__getitem__, np.random.default_rng(3))
    picks = np.bincount([policy.choose() for _ in range(4_000)], minlength=4)
    assert picks[0] == picks[3] == 0
    assert abs(picks[1] - picks[2]) < 200  # each ≈ 2000: a fair coin between the tied ones


def test_make_policy_hands_d_only_to_power_of_d() -> None:
    rng = np.random.default_rng(0)
    sampled = make_policy("power_of_d", [1.0] * 5, lambda index: 0, rng, 4)
    assert isinstance(sampled, PowerOfD) and sampled.d == 4
    assert isinstance(
        make_policy("join_shortest_queue", [1.0], lambda i: 0, rng, 4), JoinShortestQueue
    )


# --------------------------------------------------------------------------- the spec


def spec_problem(components: dict[str, Any], entry: str = "lb") -> str:
    with pytest.raises(SpecError) as caught:
        parse_spec(
            {"name": "x", "workload": {"rate_per_s": 10}, "entry": entry, "components": components}
        )
    return str(caught.value)


API = {"kind": "service", "replicas": 4, "service_time": {"dist": "exponential", "mean_ms": 10}}


def test_d_needs_power_of_d() -> None:
    message = spec_problem({"lb": {"kind": "load_balancer", "d": 3, "to": "api"}, "api": API})
    assert "components.lb: d is the sample size of power_of_d" in message
    assert "policy round_robin" in message
    message = spec_problem({"api": {**API, "dispatch": "random", "d": 2}}, entry="api")
    assert "set dispatch power_of_d or remove d" in message


def test_d_below_two_is_refused() -> None:
    message = spec_problem(
        {"lb": {"kind": "load_balancer", "policy": "power_of_d", "d": 1, "to": "api"}, "api": API}
    )
    assert "components.lb.d: must be at least 2 (got 1)" in message


def test_a_service_cannot_sample_more_replicas_than_it_has() -> None:
    message = spec_problem({"api": {**API, "dispatch": "power_of_d", "d": 5}}, entry="api")
    assert "d must not exceed the replicas it samples from (got d 5 with 4 replicas)" in message
    scaled = {
        **API,
        "dispatch": "power_of_d",
        "d": 5,
        "autoscale": {"target": 0.7, "max_replicas": 6},
    }
    spec = parse_spec(
        {"name": "x", "workload": {"rate_per_s": 10}, "entry": "api", "components": {"api": scaled}}
    )
    assert spec.components["api"].d == 5  # clamped to the replicas running while scaled in


def test_jsq_refuses_weighted_targets() -> None:
    message = spec_problem(
        {
            "lb": {
                "kind": "load_balancer",
                "policy": "join_shortest_queue",
                "to": [{"to": "api", "weight": 3}, {"to": "b"}],
            },
            "api": API,
            "b": API,
        }
    )
    assert "join_shortest_queue ignores weights" in message


def test_a_database_refuses_power_of_d_but_takes_jsq() -> None:
    db = {
        "kind": "database",
        "read_replicas": 2,
        "read_time": {"dist": "exponential", "mean_ms": 2},
    }
    message = spec_problem({"db": {**db, "read_policy": "power_of_d"}}, entry="db")
    assert "read_policy power_of_d is not offered for a database" in message
    spec = parse_spec(
        {
            "name": "x",
            "workload": {"rate_per_s": 100},
            "entry": "db",
            "components": {"db": {**db, "read_policy": "join_shortest_queue"}},
        }
    )
    assert simulate(spec, seed=1, requests=2_000).requests.completed == 2_000


# --------------------------------------------------------------------------- the estimate


def test_estimate_is_the_exact_chain_for_few_single_slot_exponential_replicas() -> None:
    result = estimate(balanced(3, 0.7, "join_shortest_queue"))
    exact = exact_sojourn(3, 3, 2.1).mean_sojourn
    assert result.latency_ms.mean == pytest.approx(MEAN_MS * exact, rel=1e-12)
    assert "exact CTMC" in result.components["api"].method
    assert result.method.endswith("exact")
    wait_ms = MEAN_MS * (exact - 1)
    assert result.components["api"].wait_ms == pytest.approx(wait_ms, rel=1e-12)


def test_estimate_takes_the_mean_field_limit_for_a_large_pool() -> None:
    result = estimate(balanced(40, 0.8, "power_of_d", 3))
    assert result.latency_ms.mean == pytest.approx(MEAN_MS * mean_field_sojourn(0.8, 3))
    assert any("mean-field" in warning and "optimistic" in warning for warning in result.warnings)


def test_estimate_pools_a_large_jsq_pool_as_a_lower_bound() -> None:
    result = estimate(balanced(40, 0.8, "join_shortest_queue"))
    pooled = mmc(3200, 100, 40).mean_response
    assert result.latency_ms.mean == pytest.approx(1000 * pooled)
    assert any("lower bound" in warning for warning in result.warnings)


def test_estimate_pools_multi_slot_replicas_and_says_so() -> None:
    spec = balanced(3, 0.5, "power_of_d", 2).with_changes({"components.api.concurrency": 2})
    result = estimate(spec)
    assert any("multi-slot or non-exponential" in warning for warning in result.warnings)
    assert math.isfinite(result.latency_ms.mean)


def test_the_explorer_offers_d_with_power_of_d_and_the_new_policies() -> None:
    from pathlib import Path

    from scaleplan.spec import load_spec
    from scaleplan.widgets import discover_knobs

    example = Path(__file__).parent.parent / "data" / "architectures" / "power-of-d.yaml"
    knobs = {knob.key_path: knob for knob in discover_knobs(load_spec(example))}
    d = knobs["components.lb.d"]
    assert (d.kind, d.value, d.minimum) == ("int", 3, 2)
    assert {"power_of_d", "join_shortest_queue"} <= set(knobs["components.lb.policy"].options)
    assert "components.lb.d" not in {k.key_path for k in discover_knobs(balanced(2, 0.5, "random"))}


def test_a_balanced_pool_that_no_request_reaches_waits_nothing_in_the_estimate() -> None:
    # Found by the composition test's long profile: a call list that always exits before its
    # call leaves the power-of-d pool behind it without load, and the estimate asked the exact
    # chain for an arrival rate of 0 (a ValueError, not an answer).
    spec = parse_spec(
        {
            "name": "unreached-pool",
            "workload": {"rate_per_s": 10, "requests": 500},
            "entry": "front",
            "components": {
                "front": {
                    "kind": "service",
                    "service_time": {"dist": "exponential", "mean_ms": 5},
                    "calls": [{"exit": True}, {"to": "pool"}],
                },
                "pool": {
                    "kind": "service",
                    "replicas": 3,
                    "concurrency": 1,
                    "dispatch": "power_of_d",
                    "d": 3,
                    "service_time": {"dist": "exponential", "mean_ms": 20},
                },
            },
        }
    )
    estimated = estimate(spec)
    assert estimated.components["pool"].throughput_per_s == 0
    # Only the front's own M/M/1 sojourn: 1 / (μ − λ) = 1 / (200 − 10) s.
    assert estimated.latency_ms.mean == pytest.approx(1000 / (200 - 10))
