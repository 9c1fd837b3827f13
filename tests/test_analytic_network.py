"""Analytic estimates of whole architectures against single-station closed forms."""

from __future__ import annotations

import itertools
import json
import math
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
from scaleplan.spec import ArchitectureSpec, parse_spec


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
