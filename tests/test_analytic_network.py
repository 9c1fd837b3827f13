"""Analytic estimates of whole architectures against single-station closed forms."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scaleplan.analytic import estimate
from scaleplan.analytic.network import _parallel_join_s, bottleneck
from scaleplan.analytic.queues import (
    expected_max_exponential,
    gigc,
    md1,
    mgc,
    mm1,
    mm1_response_quantile,
    mmc,
    mmc_response_quantile,
)
from scaleplan.result import PERCENTILES
from scaleplan.spec import ArchitectureSpec, DatabaseSpec, TopicSpec, load_spec, parse_spec


def service(mean_ms: float, dist: str = "exponential", **fields: Any) -> dict[str, Any]:
    return {"kind": "service", "service_time": {"dist": dist, "mean_ms": mean_ms}, **fields}


def architecture(
    components: dict[str, Any], rate_per_s: float, entry: str = "a", **workload: Any
) -> ArchitectureSpec:
    return parse_spec(
        {
            "name": "t",
            "workload": {"rate_per_s": rate_per_s, **workload},
            "entry": entry,
            "components": components,
        }
    )


def approx(value: float) -> Any:
    return pytest.approx(value, rel=1e-12)


# --------------------------------------------------------------------------- exact cases


def test_mm1_mean_percentiles_and_shape() -> None:
    result = estimate(architecture({"a": service(10)}, 50))
    assert result.latency_ms.mean == approx(20.0)
    assert result.latency_ms.mean_ci95 == (result.latency_ms.mean, result.latency_ms.mean)
    assert result.latency_ms.p99 == approx(-math.log(0.01) / (100 - 50) * 1000)
    for key, q in PERCENTILES.items():
        assert result.latency_ms.percentile(key) == approx(1000 * mm1_response_quantile(50, 100, q))
    assert result.stable and result.unstable is None and result.warnings == ()
    assert result.seed is None and result.requests.arrived == 0 and result.requests.conserved()
    assert result.throughput_per_s == 50 and result.rate_per_s == 50
    assert result.method == "analytic: M/M/1; exact"
    api = result.components["a"]
    assert api.utilization == approx(0.5)
    assert api.mean_queue == approx(0.5)  # Lq = ρ²/(1 − ρ)
    assert api.wait_ms == approx(10.0)
    assert api.throughput_per_s == 50 and api.rejected == 0 and api.capacity == 1
    assert api.latency_ms.p99 == result.latency_ms.p99


def test_mmc_pooled_station() -> None:
    result = estimate(architecture({"a": service(10, concurrency=4)}, 300))
    expected = mmc(300, 100, 4)
    assert result.latency_ms.mean == approx(1000 * expected.mean_response)
    assert result.latency_ms.p99 == approx(1000 * mmc_response_quantile(300, 100, 4, 0.99))
    assert result.components["a"].utilization == approx(0.75)
    assert result.components["a"].mean_queue == approx(expected.mean_queue)
    assert "exact" in result.method and result.warnings == ()


def test_md1_constant_service() -> None:
    result = estimate(architecture({"a": service(10, dist="constant")}, 50))
    assert result.latency_ms.mean == approx(15.0)  # Wq = ρS/(2(1 − ρ)) = 5 ms
    assert result.latency_ms.mean == approx(1000 * md1(50, 0.010).mean_response)
    assert math.isnan(result.latency_ms.p99)  # not exponential: no exact percentile
    assert result.method == "analytic: M/D/1 (Pollaczek-Khinchine); exact"


def test_tandem_released_before_calls_is_a_sum_of_mmc_responses() -> None:
    components = {
        "a": service(5, concurrency=2, hold_during_calls=False, calls=[{"to": "b"}]),
        "b": service(8, concurrency=3, hold_during_calls=False, calls=[{"to": "c"}]),
        "c": service(2, hold_during_calls=False),
    }
    result = estimate(architecture(components, 200))
    responses = [
        mmc(200, 200, 2).mean_response,
        mmc(200, 125, 3).mean_response,
        mm1(200, 500).mean_response,
    ]
    assert result.latency_ms.mean == approx(1000 * math.fsum(responses))
    assert result.components["c"].latency_ms.mean == approx(1000 * responses[2])
    assert result.components["b"].latency_ms.mean == approx(1000 * math.fsum(responses[1:]))
    assert result.warnings == ()
    assert result.method == "analytic: open queueing network of 3 stations; exact"
    assert math.isnan(result.latency_ms.p99)


def test_random_split_is_mm1_at_a_quarter_of_the_rate() -> None:
    result = estimate(architecture({"a": service(10, replicas=4, dispatch="random")}, 160))
    assert result.latency_ms.mean == approx(1000 * mm1(40, 100).mean_response)
    assert result.latency_ms.p99 == approx(1000 * mm1_response_quantile(40, 100, 0.99))
    component = result.components["a"]
    assert component.utilization == approx(0.4)
    assert component.mean_queue == approx(4 * mm1(40, 100).mean_queue)  # over all replicas
    assert component.replicas == 4 and component.capacity == 4
    assert result.warnings == () and result.method.endswith("; exact")


def test_call_probability_scales_the_callee_rate() -> None:
    components = {"a": service(2, calls=[{"to": "b", "probability": 0.3}]), "b": service(5)}
    result = estimate(architecture(components, 100))
    assert result.components["b"].throughput_per_s == approx(30.0)
    assert result.components["b"].utilization == approx(30 * 0.005)
    assert result.components["a"].throughput_per_s == approx(100.0)


def test_feedback_cycle_is_solved_by_iteration() -> None:
    # A Jackson network with feedback: 1/(1 − 0.2) visits to each, M/M/1 responses at λ/0.8.
    components = {
        "a": service(4, hold_during_calls=False, calls=[{"to": "b"}]),
        "b": service(2, hold_during_calls=False, calls=[{"to": "a", "probability": 0.2}]),
    }
    result = estimate(architecture(components, 100))
    visits = mm1(125, 250).mean_response + mm1(125, 500).mean_response
    assert result.components["a"].throughput_per_s == approx(125)
    assert result.latency_ms.mean == pytest.approx(1000 * visits / 0.8, rel=1e-9)
    assert result.method.endswith("; exact")
    assert any("fixed-point iteration" in warning for warning in result.warnings)


# --------------------------------------------------------------------------- approximations


def test_hold_during_calls_uses_the_callee_response_in_the_holding_time() -> None:
    components = {
        "a": service(20, concurrency=4, calls=[{"to": "b", "probability": 0.5}]),
        "b": service(10, concurrency=2),
    }
    result = estimate(architecture(components, 100))
    callee = mmc(50, 100, 2).mean_response
    holding = 0.020 + 0.5 * callee
    assert result.components["a"].utilization == approx(100 * holding / 4)
    assert result.components["b"].latency_ms.mean == approx(1000 * callee)
    caller = mmc(100, 1 / holding, 4)
    assert result.latency_ms.mean == approx(1000 * caller.mean_response)
    assert result.components["a"].wait_ms == approx(1000 * caller.mean_wait)
    assert any(
        warning.startswith("a: holds its slot during its calls") and "surrogate delays" in warning
        for warning in result.warnings
    )
    assert "approximate" in result.method


def test_round_robin_replicas_are_gigc_with_erlang_arrivals() -> None:
    result = estimate(architecture({"a": service(10, replicas=3, concurrency=2)}, 450))
    expected = gigc(150, 1 / 3, 0.010, 1.0, 2)
    assert result.latency_ms.mean == approx(1000 * expected.mean_response)
    assert (
        "a: arrivals to each replica under round_robin are not Poisson; "
        "Allen–Cunneen GI/G/c approximation with ca²=1/3"
    ) in result.warnings
    assert math.isnan(result.latency_ms.p99)


def test_least_connections_behind_a_balancer_is_pooled() -> None:
    components = {
        "lb": {"kind": "load_balancer", "policy": "least_connections", "to": "a"},
        "a": service(10, replicas=3, concurrency=2),
    }
    result = estimate(architecture(components, 450, entry="lb"))
    assert result.latency_ms.mean == approx(1000 * mmc(450, 100, 6).mean_response)
    assert any("pooled" in warning and "optimistic" in warning for warning in result.warnings)
    balancer = result.components["lb"]
    assert (balancer.utilization, balancer.capacity, balancer.wait_ms) == (0.0, 0, 0.0)
    assert balancer.latency_ms.mean == result.latency_ms.mean  # it forwards without delay


def test_weighted_balancer_splits_by_weight() -> None:
    components = {
        "lb": {"kind": "load_balancer", "to": [{"to": "a", "weight": 3}, {"to": "b"}]},
        "a": service(10),
        "b": service(20),
    }
    result = estimate(architecture(components, 40, entry="lb"))
    assert result.components["a"].throughput_per_s == approx(30)
    assert result.components["b"].throughput_per_s == approx(10)
    expected = 0.75 * mm1(30, 100).mean_response + 0.25 * mm1(10, 50).mean_response
    assert result.latency_ms.mean == approx(1000 * expected)


def test_balancer_with_a_service_time_is_a_station() -> None:
    components = {
        "lb": {
            "kind": "load_balancer",
            "to": "a",
            "concurrency": 2,
            "service_time": {"dist": "exponential", "mean_ms": 1},
        },
        "a": service(5),
    }
    result = estimate(architecture(components, 100, entry="lb"))
    own = mmc(100, 1000, 2).mean_response
    assert result.components["lb"].utilization == approx(0.05)
    assert result.latency_ms.mean == approx(1000 * (own + mm1(100, 200).mean_response))


def test_parallel_calls_join_as_the_maximum_of_exponentials() -> None:
    components = {
        "a": service(
            2,
            parallel=True,
            hold_during_calls=False,
            calls=[{"to": "b", "probability": 0.5}, {"to": "c"}],
        ),
        "b": service(5),
        "c": service(8),
    }
    result = estimate(architecture(components, 50))
    b, c = mm1(25, 200).mean_response, mm1(50, 125).mean_response
    join = 0.5 * c + 0.5 * expected_max_exponential([b, c])
    own = mm1(50, 500).mean_response
    assert result.latency_ms.mean == approx(1000 * (own + join))
    assert any("maximum of independent exponentials" in warning for warning in result.warnings)


def test_many_parallel_calls_integrate_the_same_expectation() -> None:
    calls = [(0.1 + 0.07 * index, 0.001 * (index + 1)) for index in range(12)]
    enumerated = 0.0
    for chosen in itertools.product((False, True), repeat=len(calls)):
        weight = math.prod(
            p if taken else 1 - p for (p, _), taken in zip(calls, chosen, strict=True)
        )
        enumerated += weight * expected_max_exponential(
            [mean for (_, mean), taken in zip(calls, chosen, strict=True) if taken]
        )
    assert _parallel_join_s(calls) == pytest.approx(enumerated, rel=1e-8)


def test_mixed_replica_policies_are_named() -> None:
    components = {
        "lb": {"kind": "load_balancer", "policy": "random", "to": "a"},
        "b": service(1, calls=[{"to": "a"}]),
        "a": service(5, replicas=2, concurrency=2),
    }
    spec = parse_spec(
        {
            "name": "t",
            "workload": {
                "rate_per_s": 100,
                "classes": [{"name": "x", "weight": 3}, {"name": "y", "entry": "b"}],
            },
            "entry": "lb",
            "components": components,
        }
    )
    result = estimate(spec)
    assert any("several replica policies" in warning for warning in result.warnings)
    shares = {"x": 0.75, "y": 0.25}
    assert set(result.classes) == {"x", "y"}
    assert result.latency_ms.mean == approx(
        math.fsum(shares[name] * summary.mean for name, summary in result.classes.items())
    )


def test_non_poisson_arrivals_and_queue_limits_are_stated() -> None:
    spec = architecture({"a": service(10, queue_limit=5)}, 80, arrival="constant")
    result = estimate(spec)
    assert result.warnings[0].startswith("approximation: arrivals treated as Poisson")
    assert any("queue_limit 5 is ignored" in warning for warning in result.warnings)
    assert math.isnan(result.latency_ms.p99) and "approximate" in result.method
    quiet = estimate(architecture({"a": service(10, queue_limit=5)}, 40))
    assert quiet.warnings == ()


def test_service_scv_enters_the_allen_cunneen_approximation() -> None:
    spec = architecture(
        {
            "a": {
                "kind": "service",
                "concurrency": 3,
                "service_time": {"dist": "gamma", "mean_ms": 10, "cv": 0.5},
            }
        },
        200,
    )
    result = estimate(spec)
    assert result.latency_ms.mean == approx(1000 * mgc(200, 0.010, 0.25, 3).mean_response)
    assert any("Allen-Cunneen" in warning for warning in result.warnings)


# --------------------------------------------------------------------------- stability


def test_overload_names_the_component_and_factor() -> None:
    components = {"a": service(1, concurrency=10, calls=[{"to": "b"}]), "b": service(10)}
    result = estimate(architecture(components, 150))
    assert not result.stable
    assert result.unstable is not None
    assert result.unstable.component == "b"
    assert result.unstable.factor == approx(1.5)
    assert "1.5×" in result.unstable.reason
    assert math.isnan(result.latency_ms.mean) and math.isnan(result.components["a"].wait_ms)
    assert result.throughput_per_s == approx(100)  # what b can carry
    assert result.components["a"].utilization == approx(150 * 0.011 / 10)  # a lower bound
    assert any("lower bound" in warning for warning in result.warnings)
    data = json.loads(result.to_json())
    assert data["stable"] is False and data["latency_ms"]["mean"] is None


def test_holding_during_calls_can_make_the_caller_the_bottleneck() -> None:
    components = {"a": service(5, calls=[{"to": "b"}]), "b": service(4, concurrency=4)}
    result = estimate(architecture(components, 150))
    assert result.unstable is not None and result.unstable.component == "a"
    callee = mmc(150, 250, 4).mean_response
    assert result.unstable.factor == approx(150 * (0.005 + callee))


def test_estimate_rejects_a_negative_rate() -> None:
    with pytest.raises(ValueError, match="rate_per_s"):
        estimate(architecture({"a": service(10)}, 50), rate_per_s=-1)


def test_rate_override() -> None:
    result = estimate(architecture({"a": service(10)}, 50), rate_per_s=80)
    assert result.rate_per_s == 80 and result.latency_ms.mean == approx(50.0)


# --------------------------------------------------------------------------- bottleneck


def test_bottleneck_picks_the_limiting_component() -> None:
    components = {
        "lb": {"kind": "load_balancer", "policy": "least_connections", "to": "api"},
        "api": service(12, replicas=3, concurrency=8, calls=[{"to": "db", "probability": 0.6}]),
        "db": service(4, concurrency=16),
    }
    spec = architecture(components, 150, entry="lb")
    # api holds its slot for 12 + 0.6 × 4 ms at low load; 24 slots.
    assert bottleneck(spec) == (pytest.approx(24 / 0.0144), "api")
    slow_db = spec.with_changes(
        {"components.db.concurrency": 1, "components.db.service_time.mean_ms": 10}
    )
    assert bottleneck(slow_db) == (pytest.approx(1 / 0.006), "db")


@settings(max_examples=40, deadline=None)
@given(
    first_ms=st.floats(1, 50),
    second_ms=st.floats(1, 50),
    probability=st.floats(0.05, 1),
    slots=st.integers(1, 8),
)
def test_released_chain_is_stable_exactly_below_the_bottleneck(
    first_ms: float, second_ms: float, probability: float, slots: int
) -> None:
    components = {
        "a": service(
            first_ms, hold_during_calls=False, calls=[{"to": "b", "probability": probability}]
        ),
        "b": service(second_ms, concurrency=slots),
    }
    spec = architecture(components, 1)
    limit, name = bottleneck(spec)
    below = estimate(spec, rate_per_s=0.99 * limit)
    assert below.stable and math.isfinite(below.latency_ms.mean)
    for component in below.components.values():
        assert component.utilization < 1
        # Little's law over the whole component.
        assert component.mean_queue == pytest.approx(
            component.throughput_per_s * component.wait_ms / 1000, rel=1e-9, abs=1e-12
        )
    above = estimate(spec, rate_per_s=1.01 * limit)
    assert above.unstable is not None
    # On a tie (equal loads at a and b) either component is the bottleneck.
    assert above.components[above.unstable.component].utilization == pytest.approx(
        above.components[name].utilization
    )


# --------------------------------------------------------------------------- serialisation


def test_result_serialises_to_json() -> None:
    components = {"a": service(5, calls=[{"to": "b"}]), "b": service(2)}
    data = json.loads(estimate(architecture(components, 50)).to_json())
    assert data["seed"] is None and data["stable"] is True
    assert data["requests"] == {
        "arrived": 0,
        "completed": 0,
        "rejected": 0,
        "failed": 0,
        "in_flight": 0,
    }
    assert data["latency_ms"]["p99"] is None  # a network: no exact percentile
    assert data["latency_ms"]["mean_ci95"][0] == data["latency_ms"]["mean"]
    assert set(data["components"]) == {"a", "b"}
    assert data["components"]["b"]["method"] == "M/M/1"


# --------------------------------------------------------------------------- component kinds
#
# Each estimate below is checked against a computation written out by hand from the engine's
# semantics (scaleplan/kinds/database.py, queue.py): the shard shares come from the spec, the
# queueing formulas from scaleplan.analytic.queues or, where the point is the formula itself,
# from Pollaczek–Khinchine, Che and the TTL formula written out here.


def database(read_ms: float, **fields: Any) -> dict[str, Any]:
    return {"kind": "database", "read_time": {"dist": "exponential", "mean_ms": read_ms}, **fields}


def pool(mean_ms: float, **fields: Any) -> dict[str, Any]:
    return {**service(mean_ms, **fields), "kind": "worker_pool"}


def publisher(**fields: Any) -> dict[str, Any]:
    """An M/M/1 producer that releases its slot before publishing (its output is Poisson)."""
    return service(1, hold_during_calls=False, **fields)


def test_database_shards_get_their_share_of_the_rate_exactly() -> None:
    keys = {"count": 1000, "popularity": "zipf", "s": 1.0}
    components = {
        "a": publisher(concurrency=64, calls=[{"to": "db"}]),
        "db": database(2, shards=4, partitioning="range", keys=keys, concurrency=4),
    }
    spec = architecture(components, 200)
    result = estimate(spec)
    shares = spec.components["db"].shard_shares()
    assert shares[0] > 0.5  # range partitioning keeps the popular keys together
    expected_ms = 0.0
    for index, share in enumerate(shares):
        shard = result.components[f"db/shard-{index}"]
        station = mmc(200 * share, 500, 4)  # one node of 4 slots per shard
        assert shard.kind == "shard" and shard.capacity == 4 and shard.replicas == 1
        assert shard.throughput_per_s == approx(200 * share)
        assert shard.utilization == approx(200 * share * 0.002 / 4)
        assert shard.latency_ms.mean == approx(1000 * station.mean_response)
        assert shard.wait_ms == approx(1000 * station.mean_wait)
        assert shard.mean_queue == approx(station.mean_queue)
        expected_ms += share * 1000 * station.mean_response
    db = result.components["db"]
    assert db.details["shard_shares"] == pytest.approx(list(shares), rel=1e-12)
    assert db.utilization == approx(200 * 0.002 / 16)  # held time over all the slots
    assert db.capacity == 16 and db.replicas == 4
    assert db.latency_ms.mean == pytest.approx(expected_ms, rel=1e-12)
    assert db.details["busiest_node_utilization"] == approx(200 * shares[0] * 0.002 / 4)
    assert result.method.endswith("; exact") and result.warnings == ()


def test_database_node_mix_is_pollaczek_khinchine_per_node() -> None:
    # One shard: a primary and two read replicas, reads spread at random over all three,
    # writes to the primary; one slot per node, so each node is an exact M/G/1.
    components = {
        "db": database(
            4,
            write_time={"dist": "exponential", "mean_ms": 10},
            read_ratio=0.75,
            read_replicas=2,
            read_policy="random",
            concurrency=1,
        )
    }
    result = estimate(architecture(components, 60, entry="db"))
    reads, writes = 45.0, 15.0
    lam_primary = reads / 3 + writes
    mean_primary = (reads / 3 * 0.004 + writes * 0.010) / lam_primary
    second_primary = (reads / 3 * 2 * 0.004**2 + writes * 2 * 0.010**2) / lam_primary
    rho_primary = lam_primary * mean_primary
    wait_primary = lam_primary * second_primary / (2 * (1 - rho_primary))  # P-K
    lam_replica = reads / 3
    wait_replica = lam_replica * 0.004**2 / (1 - lam_replica * 0.004)  # M/M/1: ρ/(μ − λ)
    wait = (lam_primary * wait_primary + 2 * lam_replica * wait_replica) / 60
    shard = result.components["db/shard-0"]
    # The estimate goes through the mix's scv (E[S²]/E[S]² − 1) and back, and a lone shard's
    # share is a float sum over 100 000 key probabilities: round-off only.
    assert shard.wait_ms == pytest.approx(1000 * wait, rel=1e-10)
    assert shard.latency_ms.mean == pytest.approx(
        1000 * (wait + 0.75 * 0.004 + 0.25 * 0.010), rel=1e-10
    )
    assert shard.utilization == approx(60 * 0.0055 / 3)
    assert shard.details["busiest_node_utilization"] == approx(rho_primary)
    assert shard.details["node_utilization"] == pytest.approx(
        [rho_primary, lam_replica * 0.004, lam_replica * 0.004], rel=1e-12
    )
    assert result.latency_ms.mean == approx(shard.latency_ms.mean)
    assert result.method.endswith("; exact")


def test_database_round_robin_replicas_and_write_only_primary() -> None:
    components = {
        "db": database(
            4,
            write_time={"dist": "exponential", "mean_ms": 10},
            read_ratio=0.8,
            read_replicas=2,
            reads_from_primary=False,
            concurrency=2,
        )
    }
    result = estimate(architecture(components, 100, entry="db"))
    replica = gigc(40, 1 / 2, 0.004, 1.0, 2)  # Erlang-2 interarrivals under round_robin
    primary = mmc(20, 100, 2)
    wait = (20 * primary.mean_wait + 2 * 40 * replica.mean_wait) / 100
    assert result.components["db"].wait_ms == approx(1000 * wait)
    assert any("round_robin" in warning for warning in result.warnings)
    assert "approximate" in result.method


def test_database_load_aware_reads_pool_identical_readers() -> None:
    components = {
        "db": database(
            4,
            read_ratio=1.0,
            read_replicas=2,
            read_policy="least_connections",
            concurrency=2,
        )
    }
    result = estimate(architecture(components, 900, entry="db"))
    pooled = mmc(900, 250, 6)
    # A lone shard's share is a float sum over the 100 000 keys' probabilities: 1 − ε.
    assert result.components["db"].mean_queue == pytest.approx(pooled.mean_queue, rel=1e-10)
    assert any("pooled" in warning for warning in result.warnings)


def test_database_load_aware_reads_equalise_the_nodes_with_writes_on_the_primary() -> None:
    components = {
        "db": database(
            4,
            write_time={"dist": "exponential", "mean_ms": 8},
            read_ratio=0.9,
            read_replicas=2,
            read_policy="power_of_two",
            concurrency=2,
        )
    }
    result = estimate(architecture(components, 300, entry="db"))
    loads = result.components["db/shard-0"].details["node_utilization"]
    total = 300 * (0.9 * 0.004 + 0.1 * 0.008)
    assert loads == pytest.approx([total / 6] * 3, rel=1e-12)  # utilisation equalised


def test_hot_shard_makes_the_database_unstable_before_its_total_load_does() -> None:
    keys = {"count": 100, "popularity": "zipf", "s": 1.2}
    components = {"db": database(5, shards=4, partitioning="range", keys=keys, concurrency=1)}
    spec = architecture(components, 400, entry="db")
    share = float(spec.components["db"].shard_shares()[0])
    result = estimate(spec)
    assert result.components["db"].utilization == approx(400 * 0.005 / 4)  # half loaded
    assert not result.stable and result.unstable is not None
    assert result.unstable.component == "db"
    assert result.unstable.factor == approx(400 * share * 0.005)
    # Named as the pre-run check names it (scaleplan.load): the station, then its load.
    assert result.unstable.reason.startswith("db/shard-0 primary: offered load is")
    assert math.isnan(result.latency_ms.mean)
    assert bottleneck(spec) == (pytest.approx(1 / (share * 0.005)), "db")


def test_cache_with_a_fixed_hit_ratio_thins_the_backing_traffic() -> None:
    components = {
        "cache": {
            "kind": "cache",
            "backing": "db",
            "hit_ratio": 0.8,
            "concurrency": 4,
            "service_time": {"dist": "exponential", "mean_ms": 0.5},
        },
        "db": service(5),
    }
    result = estimate(architecture(components, 200, entry="cache"))
    assert result.components["db"].throughput_per_s == approx((1 - 0.8) * 200)
    lookup = mmc(200, 2000, 4).mean_response
    backing = mm1(40, 200).mean_response
    assert result.latency_ms.mean == approx(1000 * (lookup + 0.2 * backing))
    cache = result.components["cache"]
    assert cache.utilization == approx(200 * 0.0005 / 4)
    assert cache.details["backing_rate_per_s"] == approx(40)
    assert result.method.endswith("; exact")


def _che_miss_ratio(p: list[float], size: int) -> float:
    """Che's approximation written out: Σ(1 − e^{−p·t}) = size by bisection, then Σ p·e^{−p·t}."""
    low, high = 0.0, 1.0
    while sum(1 - math.exp(-pk * high) for pk in p) < size:
        high *= 2
    for _ in range(200):
        middle = (low + high) / 2
        if sum(1 - math.exp(-pk * middle) for pk in p) < size:
            low = middle
        else:
            high = middle
    return sum(pk * math.exp(-pk * high) for pk in p)


def test_keyed_lru_cache_uses_ches_approximation() -> None:
    keys = {"count": 500, "popularity": "zipf", "s": 0.8}
    components = {
        "cache": {"kind": "cache", "backing": "db", "keys": keys, "size": 50},
        "db": service(5, concurrency=8),
    }
    result = estimate(architecture(components, 100, entry="cache"))
    weights = [1 / (k + 1) ** 0.8 for k in range(500)]
    p = [w / sum(weights) for w in weights]
    miss = _che_miss_ratio(p, 50)
    assert result.components["db"].throughput_per_s == pytest.approx(100 * miss, rel=1e-7)
    assert result.components["cache"].details["hit_ratio_expected"] == pytest.approx(
        1 - miss, rel=1e-7
    )
    assert any("Che's approximation" in warning for warning in result.warnings)


def test_ttl_cache_hit_ratio_is_taken_at_the_caches_own_rate() -> None:
    keys = {"count": 200, "popularity": "zipf", "s": 1.0}
    components = {
        "a": publisher(concurrency=8, calls=[{"to": "cache", "probability": 0.5}]),
        "cache": {"kind": "cache", "backing": "db", "keys": keys, "ttl_s": 2.0},
        "db": service(5, concurrency=8),
    }
    result = estimate(architecture(components, 50))
    weights = [1 / (k + 1) for k in range(200)]
    p = [w / sum(weights) for w in weights]
    rate = 25.0  # half the requests reach the cache
    hit = sum(pk * (pk * rate * 2.0) / (1 + pk * rate * 2.0) for pk in p)
    assert result.components["db"].throughput_per_s == approx(rate * (1 - hit))


def test_edge_answers_its_share_and_forwards_the_rest() -> None:
    components = {
        "cdn": {
            "kind": "edge",
            "to": "origin",
            "share": 0.6,
            "concurrency": 8,
            "service_time": {"dist": "exponential", "mean_ms": 5},
        },
        "origin": service(10),
    }
    result = estimate(architecture(components, 100, entry="cdn"))
    assert result.components["origin"].throughput_per_s == approx(40)
    expected = mmc(100, 200, 8).mean_response + 0.4 * mm1(40, 100).mean_response
    assert result.latency_ms.mean == approx(1000 * expected)
    assert result.components["cdn"].details["forwarded_per_s"] == approx(40)
    assert result.method.endswith("; exact")


def queue_system(pool_ms: float, **queue: Any) -> dict[str, Any]:
    return {
        "api": publisher(calls=[{"to": "jobs"}]),
        "jobs": {
            "kind": "queue",
            "consumer": "workers",
            "publish_time": {"dist": "constant", "mean_ms": 2},
            **queue,
        },
        "workers": pool(pool_ms, replicas=2, concurrency=3),
    }


def test_worker_pool_is_one_mmc_over_all_slots_and_the_queue_reports_it() -> None:
    result = estimate(architecture(queue_system(20), 100, entry="api"))
    station = mmc(100, 50, 6)  # 2 replicas × 3 slots pull from one FIFO
    jobs, workers = result.components["jobs"], result.components["workers"]
    assert jobs.latency_ms.mean == approx(1000 * station.mean_response)  # time in system
    assert jobs.wait_ms == approx(1000 * station.mean_wait)  # consumer lag
    assert jobs.mean_queue == approx(station.mean_queue)
    assert (jobs.utilization, jobs.capacity, jobs.replicas) == (0.0, 0, 0.0)
    assert workers.utilization == approx(100 * 0.020 / 6) and workers.capacity == 6
    # As in the engine, a broker-fed job's wait is on the broker's row, not the pool's.
    assert (workers.wait_ms, workers.mean_queue) == (0.0, 0.0)
    assert workers.latency_ms.mean == approx(20.0)
    # The producer waits for the publish only.
    assert result.latency_ms.mean == approx(1000 * mm1(100, 1000).mean_response + 2.0)
    assert result.method.endswith("; exact")


def test_asynchronous_work_does_not_add_to_the_callers_span() -> None:
    fast = estimate(architecture(queue_system(20), 100, entry="api"))
    slow = estimate(architecture(queue_system(55), 100, entry="api"))
    assert slow.components["workers"].utilization == approx(100 * 0.055 / 6)
    assert slow.components["jobs"].latency_ms.mean > 2 * fast.components["jobs"].latency_ms.mean
    assert slow.latency_ms.mean == fast.latency_ms.mean
    assert slow.components["api"].latency_ms.mean == fast.components["api"].latency_ms.mean


def test_redeliveries_multiply_the_pool_rate_and_the_time_in_system() -> None:
    components = queue_system(20, max_retries=2, retry_backoff_ms=100)
    components["workers"]["error_probability"] = 0.1
    result = estimate(architecture(components, 100, entry="api"))
    attempts = 1 + 0.1 + 0.01
    rate = 100 * attempts
    station = mmc(rate, 50, 6)
    backoff = 0.1 * 0.100 + 0.01 * 0.200
    assert result.components["workers"].throughput_per_s == approx(rate)
    jobs = result.components["jobs"]
    assert jobs.latency_ms.mean == approx(1000 * (attempts * station.mean_response + backoff))
    assert jobs.details["dead_letter_probability"] == approx(0.001)
    assert jobs.details["deliveries_per_message"] == approx(attempts)
    assert any("redeliveries" in warning for warning in result.warnings)


def test_topic_subscriptions_are_child_rows_named_like_the_engine() -> None:
    components = {
        "api": publisher(calls=[{"to": "events"}]),
        "events": {
            "kind": "topic",
            "publish_time": {"dist": "constant", "mean_ms": 1},
            "subscriptions": [
                {"name": "mail", "consumer": "m"},
                {"name": "stats", "consumer": "s"},
            ],
        },
        "m": pool(30, concurrency=4),
        "s": pool(5),
    }
    result = estimate(architecture(components, 80, entry="api"))
    mail, stats = result.components["events/mail"], result.components["events/stats"]
    assert mail.kind == stats.kind == "subscription"
    assert mail.throughput_per_s == stats.throughput_per_s == approx(80)
    assert mail.latency_ms.mean == approx(1000 * mmc(80, 1000 / 30, 4).mean_response)
    assert stats.latency_ms.mean == approx(1000 * mm1(80, 200).mean_response)
    assert stats.wait_ms == approx(1000 * mm1(80, 200).mean_wait)
    assert result.components["events"].latency_ms.mean == approx(1.0)
    assert result.latency_ms.mean == approx(1000 * mm1(80, 1000).mean_response + 1.0)
    assert (
        list(result.components).index("events/mail") == list(result.components).index("events") + 1
    )


def test_pool_called_directly_reports_the_wait_of_its_direct_calls() -> None:
    components = queue_system(20)
    components["api"]["calls"] = [{"to": "jobs"}, {"to": "workers", "probability": 0.5}]
    result = estimate(architecture(components, 60, entry="api"))
    station = mmc(90, 50, 6)
    workers = result.components["workers"]
    assert workers.throughput_per_s == approx(90)
    assert workers.wait_ms == approx(1000 * station.mean_wait / 3)  # a third came directly
    assert workers.mean_queue == approx(30 * station.mean_wait)
    assert result.components["jobs"].wait_ms == approx(1000 * station.mean_wait)
    expected = mm1(60, 1000).mean_response + 0.002 + 0.5 * station.mean_response
    assert result.latency_ms.mean == approx(1000 * expected)


def test_failures_and_retries_follow_the_engine() -> None:
    # a → b with up to 2 retries (10 ms backoff, no jitter); b fails 20% of its visits after
    # its service and then makes no call to c. Every station is released before its calls.
    components = {
        "a": publisher(
            concurrency=8,
            calls=[{"to": "b", "retries": {"max": 2, "backoff_ms": 10, "jitter": "none"}}],
        ),
        "b": service(
            3, concurrency=4, hold_during_calls=False, error_probability=0.2, calls=[{"to": "c"}]
        ),
        "c": service(1, concurrency=2),
    }
    result = estimate(architecture(components, 100))
    attempts = 1 + 0.2 + 0.04
    assert result.components["b"].throughput_per_s == approx(100 * attempts)
    assert result.components["c"].throughput_per_s == approx(100 * attempts * 0.8)
    tau_a = mmc(100, 1000, 8).mean_response
    tau_b = mmc(100 * attempts, 1000 / 3, 4).mean_response
    tau_c = mmc(100 * attempts * 0.8, 1000, 2).mean_response
    # Every visit, failed or not, is in a component's own latency ...
    backoff = 0.2 * 0.010 + 0.04 * 0.020
    span_a = tau_a + attempts * (tau_b + 0.8 * tau_c) + backoff
    assert result.components["a"].latency_ms.mean == approx(1000 * span_a)
    # ... but the end-to-end mean is over the requests that complete, as the engine counts it.
    waited = [0.0, 0.010, 0.030]
    completed = sum(0.2**k * 0.8 for k in range(3))
    time_ok = sum(0.2**k * 0.8 * (k * tau_b + waited[k] + tau_b + tau_c) for k in range(3))
    assert completed == approx(1 - 0.2**3)
    assert result.latency_ms.mean == approx(1000 * (tau_a + time_ok / completed))
    assert result.throughput_per_s == approx(100 * completed)
    assert result.components["a"].details["failure_probability"] == approx(0.2**3)
    assert any("of requests fail" in warning for warning in result.warnings)


def test_failed_visit_makes_no_calls() -> None:
    components = {
        "a": service(2, error_probability=0.25, calls=[{"to": "b"}, {"to": "c"}]),
        "b": service(1, error_probability=0.5),
        "c": service(1),
    }
    result = estimate(architecture(components, 40))
    assert result.components["b"].throughput_per_s == approx(40 * 0.75)
    # A failed call ends the sequence: c is called only when a and b both succeeded.
    assert result.components["c"].throughput_per_s == approx(40 * 0.75 * 0.5)


def test_retry_budget_caps_the_attempts() -> None:
    retries = {"max": 3, "backoff_ms": 10, "budget": 0.1}
    components = {
        "a": service(1, concurrency=4, calls=[{"to": "b", "retries": retries}]),
        "b": service(1, concurrency=4, error_probability=0.5),
    }
    result = estimate(architecture(components, 50))
    assert result.components["b"].throughput_per_s == approx(50 * 1.1)
    assert any("retry budget 0.1 binds" in warning for warning in result.warnings)


def autoscaled(rate: float, **scale: Any) -> ArchitectureSpec:
    component = service(80, replicas=3, concurrency=4, dispatch="random")
    component["autoscale"] = {"target": 0.6, "min_replicas": 3, "max_replicas": 30, **scale}
    return architecture({"a": component}, rate)


def test_autoscale_is_evaluated_at_the_replicas_that_meet_the_target() -> None:
    result = estimate(autoscaled(150))  # a = 150 × 0.08 / 4 = 3 replicas busy; 3 / 0.6 = 5
    a = result.components["a"]
    assert (a.replicas, a.capacity) == (5, 20)
    assert a.utilization == approx(0.6)
    assert result.latency_ms.mean == approx(1000 * mmc(30, 12.5, 4).mean_response)
    assert any("evaluated at 5 replicas" in warning for warning in result.warnings)
    assert estimate(autoscaled(10)).components["a"].replicas == 3  # clamped to min_replicas
    capped = estimate(autoscaled(150, max_replicas=4))
    assert capped.components["a"].replicas == 4
    assert capped.components["a"].utilization == approx(0.75)
    assert any("even at max_replicas 4" in warning for warning in capped.warnings)
    over = estimate(autoscaled(250, max_replicas=4))
    assert over.unstable is not None and "at max_replicas 4" in over.unstable.reason
    assert bottleneck(autoscaled(150)) == (pytest.approx(30 * 4 / 0.08), "a")


def test_autoscale_on_queue_length_takes_the_fewest_replicas_meeting_it() -> None:
    result = estimate(autoscaled(150, metric="queue_length", target=0.05))
    expected = next(
        n
        for n in range(3, 31)
        if 150 * 0.08 / (4 * n) < 1 and mmc(150 / n, 12.5, 4).mean_queue <= 0.05
    )
    assert expected > 3
    assert result.components["a"].replicas == expected


def test_what_the_closed_forms_leave_out_is_named() -> None:
    components = {
        "a": service(
            1,
            concurrency=8,
            calls=[
                {
                    "to": "b",
                    "timeout_ms": 100,
                    "circuit_breaker": {"failure_ratio": 0.5},
                    "bulkhead": 4,
                }
            ],
        ),
        "b": service(2, load_shedding={"max_wait_ms": 50}),
    }
    result = estimate(architecture(components, 20))
    text = "\n".join(result.warnings)
    assert "b: load_shedding (max_wait_ms 50) is not modelled" in text
    assert "a → b: timeout_ms, circuit_breaker, bulkhead not modelled" in text
    assert "approximate" in result.method


EXAMPLES = sorted((Path(__file__).parent.parent / "data" / "architectures").glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[path.stem for path in EXAMPLES])
def test_every_example_estimates_with_the_engines_rows(path: Path) -> None:
    spec = load_spec(path)
    result = estimate(spec)
    assert result.stable and math.isfinite(result.latency_ms.mean)
    expected = set(spec.components)
    for name, component in spec.components.items():
        if isinstance(component, DatabaseSpec):
            expected |= {f"{name}/shard-{index}" for index in range(component.shards)}
        if isinstance(component, TopicSpec):
            expected |= {f"{name}/{item.name}" for item in component.subscriptions}
    assert set(result.components) == expected
    for row in result.components.values():
        assert 0 <= row.utilization < 1
        # Little's law holds on every row, the broker-fed pools' included.
        assert row.mean_queue == pytest.approx(
            row.throughput_per_s * row.wait_ms / 1000, rel=1e-9, abs=1e-12
        )
    json.loads(result.to_json())
    limit, name = bottleneck(spec)
    assert name in spec.components and limit > 0
