"""Tests for scaleplan.graph: the component graph, visit ratios, arrival rates, offered load
and layers, with every expected number worked out by hand from the traffic equations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scaleplan.errors import SpecError
from scaleplan.graph import (
    ENTRY_WEIGHT,
    arrival_rates,
    build_graph,
    capacity,
    layers,
    offered_load,
    service_demand_s,
    visit_ratios,
)
from scaleplan.spec import ArchitectureSpec, load_spec, parse_spec

ARCHITECTURES = Path(__file__).resolve().parent.parent / "data" / "architectures"


def example(name: str) -> ArchitectureSpec:
    return load_spec(ARCHITECTURES / f"{name}.yaml")


def service(mean_ms: float = 10, **fields: Any) -> dict[str, Any]:
    return {
        "kind": "service",
        "service_time": {"dist": "exponential", "mean_ms": mean_ms},
        **fields,
    }


def architecture(entry: str, **components: dict[str, Any]) -> ArchitectureSpec:
    return parse_spec(
        {
            "name": "graph-test",
            "workload": {"rate_per_s": 100},
            "entry": entry,
            "components": components,
        },
        source="graph-test.yaml",
    )


def approx(values: dict[str, float]) -> Any:
    return pytest.approx(values, rel=1e-12, abs=1e-12)


# --------------------------------------------------------------------------- the examples


def test_lb_cluster_visits_rates_and_load() -> None:
    graph = build_graph(example("lb-cluster"))
    # Every request passes the balancer to an API replica; 60% of them call the database.
    assert visit_ratios(graph) == approx({"lb": 1.0, "api": 1.0, "db": 0.6})
    assert arrival_rates(graph, 150) == approx({"lb": 150.0, "api": 150.0, "db": 0.6 * 150})
    # λ·v·S / (replicas × concurrency): api 150·1·0.012/(3·8), db 150·0.6·0.004/(1·16).
    assert offered_load(graph, 150) == approx(
        {"lb": 0.0, "api": 150 * 0.012 / 24, "db": 150 * 0.6 * 0.004 / 16}
    )


def test_monolith_visits_rates_and_load() -> None:
    graph = build_graph(example("monolith"))
    assert visit_ratios(graph) == approx({"app": 1.0, "db": 0.6})
    assert arrival_rates(graph, 150) == approx({"app": 150.0, "db": 90.0})
    assert offered_load(graph, 150) == approx({"app": 150 * 0.025 / 8, "db": 90 * 0.004 / 16})


def test_three_tier_visits_rates_and_load() -> None:
    graph = build_graph(example("three-tier"))
    # 85% browse through lb → web, 70% of web calls app; 15% check out through checkout-lb →
    # app; 80% of app visits call db.
    web = 0.85
    app = 0.7 * web + 0.15
    db = 0.8 * app
    expected = {"lb": 0.85, "checkout-lb": 0.15, "web": web, "app": app, "db": db}
    assert visit_ratios(graph) == approx(expected)
    assert arrival_rates(graph, 200) == approx({name: 200 * v for name, v in expected.items()})
    # app's lognormal with p50 10 ms and p99 80 ms: mean = p50 · exp(σ²/2), σ = ln 8 / z₀.₉₉.
    sigma = 2.0794415416798357 / 2.3263478740408408
    app_mean_s = 0.010 * 2.718281828459045 ** (sigma**2 / 2)
    assert offered_load(graph, 200) == approx(
        {
            "lb": 0.0,
            "checkout-lb": 0.0,
            "web": 200 * web * 0.008 / 16,
            "app": 200 * app * app_mean_s / 24,
            "db": 200 * db * 0.005 / 32,
        }
    )


@pytest.mark.parametrize("name", ["lb-cluster", "monolith", "three-tier"])
def test_offered_load_is_rate_times_visits_times_service_over_capacity(name: str) -> None:
    spec = example(name)
    graph = build_graph(spec)
    rate = spec.workload.mean_rate_per_s
    visits = visit_ratios(graph)
    for component_name, load in offered_load(graph, rate).items():
        component = spec.components[component_name]
        service_time = getattr(component, "service_time", None)
        if service_time is None:
            assert load == 0.0
            continue
        servers = component.capacity
        expected = rate * visits[component_name] * service_time.mean_value_ms() / 1000 / servers
        assert load == pytest.approx(expected, rel=1e-12)
        assert capacity(graph, component_name) == servers
        assert service_demand_s(graph)[component_name] == pytest.approx(
            visits[component_name] * service_time.mean_value_ms() / 1000, rel=1e-12
        )


def test_three_tier_layers_run_left_to_right() -> None:
    graph = build_graph(example("three-tier"))
    layer = layers(graph)
    assert layer == {"lb": 0, "checkout-lb": 0, "web": 1, "app": 2, "db": 3}
    for source, target in graph.edges:
        assert layer[source] < layer[target]


def test_graph_carries_the_specs() -> None:
    spec = example("lb-cluster")
    graph = build_graph(spec)
    assert graph.graph["spec"] is spec
    assert graph.graph["name"] == "lb-cluster"
    assert graph.nodes["api"]["spec"] is spec.components["api"]
    assert graph.nodes["lb"]["kind"] == "load_balancer"
    assert graph.nodes["lb"][ENTRY_WEIGHT] == 1.0
    assert graph.nodes["db"][ENTRY_WEIGHT] == 0.0
    assert sorted(graph.edges(data="visits")) == [("api", "db", 0.6), ("lb", "api", 1.0)]


# --------------------------------------------------------------------------- load balancers


def test_load_balancer_splits_visits_by_weight() -> None:
    spec = architecture(
        "lb",
        lb={"kind": "load_balancer", "to": [{"to": "blue", "weight": 3}, {"to": "green"}]},
        blue=service(),
        green=service(),
    )
    graph = build_graph(spec)
    assert visit_ratios(graph) == approx({"lb": 1.0, "blue": 0.75, "green": 0.25})
    assert arrival_rates(graph, 100) == approx({"lb": 100.0, "blue": 75.0, "green": 25.0})


def test_load_balancer_list_of_names_splits_evenly() -> None:
    spec = architecture(
        "lb",
        lb={"kind": "load_balancer", "to": ["a", "b", "c", "d"]},
        a=service(),
        b=service(),
        c=service(),
        d=service(),
    )
    visits = visit_ratios(build_graph(spec))
    assert visits == approx({"lb": 1.0, "a": 0.25, "b": 0.25, "c": 0.25, "d": 0.25})


def test_load_balancer_with_service_time_is_a_station() -> None:
    spec = architecture(
        "lb",
        lb={
            "kind": "load_balancer",
            "to": "api",
            "service_time": {"dist": "constant", "mean_ms": 2},
            "concurrency": 4,
        },
        api=service(),
    )
    graph = build_graph(spec)
    assert capacity(graph, "lb") == 4
    assert offered_load(graph, 100)["lb"] == pytest.approx(100 * 0.002 / 4)


@given(weights=st.lists(st.floats(0.01, 100), min_size=1, max_size=6))
def test_load_balancer_visits_are_proportional_to_weights(weights: list[float]) -> None:
    names = [f"s{index}" for index in range(len(weights))]
    spec = architecture(
        "lb",
        lb={
            "kind": "load_balancer",
            "to": [{"to": name, "weight": w} for name, w in zip(names, weights, strict=True)],
        },
        **{name: service() for name in names},
    )
    visits = visit_ratios(build_graph(spec))
    total = sum(weights)
    for name, weight in zip(names, weights, strict=True):
        assert visits[name] == pytest.approx(weight / total, rel=1e-9)


# --------------------------------------------------------------------------- calls and cycles


def test_repeated_calls_add_up() -> None:
    spec = architecture(
        "api",
        api=service(calls=[{"to": "db", "probability": 0.5}, {"to": "db"}, {"to": "cache"}]),
        db=service(),
        cache=service(),
    )
    graph = build_graph(spec)
    assert graph.edges["api", "db"]["visits"] == 1.5
    assert visit_ratios(graph) == approx({"api": 1.0, "db": 1.5, "cache": 1.0})


def test_cycle_with_probability_below_one_back_is_accepted() -> None:
    # a → b with 0.8, b → a with 0.5: v_a = 1 + 0.5·v_b, v_b = 0.8·v_a,
    # so v_a = 1 / (1 − 0.5·0.8) = 5/3 and v_b = 4/3.
    spec = architecture(
        "a",
        a=service(calls=[{"to": "b", "probability": 0.8}]),
        b=service(calls=[{"to": "a", "probability": 0.5}]),
    )
    graph = build_graph(spec)
    assert visit_ratios(graph) == approx({"a": 5 / 3, "b": 4 / 3})
    assert arrival_rates(graph, 30) == approx({"a": 50.0, "b": 40.0})
    # A cycle is one strongly connected component: both ends share a layer.
    assert layers(graph) == {"a": 0, "b": 0}


@given(
    forward=st.floats(0, 1),
    # Below 1 by a margin: within 1e-9 of 1 the visits are infinite to the solver too.
    back=st.floats(0, 0.999),
)
def test_two_component_cycle_visits(forward: float, back: float) -> None:
    spec = architecture(
        "a",
        a=service(calls=[{"to": "b", "probability": forward}]),
        b=service(calls=[{"to": "a", "probability": back}]),
    )
    visits = visit_ratios(build_graph(spec))
    v_a = 1 / (1 - forward * back)
    assert visits["a"] == pytest.approx(v_a, rel=1e-9)
    assert visits["b"] == pytest.approx(forward * v_a, rel=1e-9)


@pytest.mark.parametrize(
    ("calls_to_b", "back", "per_pass"),
    [
        ([1.0], 1.0, "1"),  # a → b → a, both certain
        ([1.0, 1.0], 0.5, "1"),  # two calls to b, half of them come back
        ([0.6, 0.6, 0.6], 0.6, "1.08"),  # 3·0.6 calls to b per visit to a, 0.6 back: 1.8·0.6
    ],
    ids=["certain", "two-calls-half-back", "1.8-out-0.6-back"],
)
def test_cycle_with_infinite_visits_is_refused(
    calls_to_b: list[float], back: float, per_pass: str
) -> None:
    spec = architecture(
        "a",
        a=service(calls=[{"to": "b", "probability": p} for p in calls_to_b]),
        b=service(calls=[{"to": "a", "probability": back}]),
    )
    with pytest.raises(SpecError) as caught:
        build_graph(spec)
    (problem,) = caught.value.problems
    assert problem.file == "graph-test.yaml"
    assert problem.key_path in ("components.a.calls", "components.b.calls")
    cycle = "a → b → a" if problem.key_path == "components.a.calls" else "b → a → b"
    assert problem.message == (
        f"the call cycle {cycle} repeats forever on average "
        f"(expected calls per pass {per_pass}, must be below 1)"
    )


def test_three_component_cycle_is_named_in_full() -> None:
    spec = architecture(
        "a",
        a=service(calls=[{"to": "b"}]),
        b=service(calls=[{"to": "c"}]),
        c=service(calls=[{"to": "a"}]),
    )
    with pytest.raises(SpecError) as caught:
        build_graph(spec)
    (problem,) = caught.value.problems
    rotations = {"a → b → c → a", "b → c → a → b", "c → a → b → c"}
    assert any(f"the call cycle {rotation} " in problem.message for rotation in rotations)


@given(probabilities=st.lists(st.floats(0, 1), min_size=1, max_size=6))
def test_chain_visits_are_products_of_probabilities(probabilities: list[float]) -> None:
    names = [f"s{index}" for index in range(len(probabilities) + 1)]
    components = {
        name: service(calls=[{"to": names[index + 1], "probability": probabilities[index]}])
        for index, name in enumerate(names[:-1])
    }
    components[names[-1]] = service()
    graph = build_graph(architecture("s0", **components))
    visits = visit_ratios(graph)
    expected = 1.0
    for index, name in enumerate(names):
        assert visits[name] == pytest.approx(expected, rel=1e-9, abs=1e-12)
        if index < len(probabilities):
            expected *= probabilities[index]
    assert layers(graph) == {name: index for index, name in enumerate(names)}


# --------------------------------------------------------------------------- reachability


def test_unreachable_components_are_all_named() -> None:
    spec = architecture(
        "api",
        api=service(),
        batch=service(calls=[{"to": "store"}]),
        store=service(),
    )
    with pytest.raises(SpecError) as caught:
        build_graph(spec)
    assert str(caught.value).splitlines() == [
        "graph-test.yaml: components.batch: no request can reach it from the entry 'api'",
        "graph-test.yaml: components.store: no request can reach it from the entry 'api'",
    ]


def test_class_entries_make_components_reachable() -> None:
    spec = parse_spec(
        {
            "name": "two-doors",
            "workload": {
                "rate_per_s": 100,
                "classes": [{"name": "read", "weight": 3}, {"name": "write", "entry": "writer"}],
            },
            "entry": "reader",
            "components": {
                "reader": service(calls=[{"to": "db", "probability": 0.5}]),
                "writer": service(calls=[{"to": "db"}]),
                "db": service(),
            },
        }
    )
    graph = build_graph(spec)
    # reads are 3/4 of arrivals, writes 1/4; db sees 0.75·0.5 + 0.25·1.
    assert visit_ratios(graph) == approx({"reader": 0.75, "writer": 0.25, "db": 0.625})
    assert arrival_rates(graph, 100) == approx({"reader": 75.0, "writer": 25.0, "db": 62.5})
    assert layers(graph) == {"reader": 0, "writer": 0, "db": 1}


def test_zero_probability_call_still_reaches() -> None:
    # A call with probability 0 is an edge: its target is reachable in structure, visited 0 times.
    spec = architecture("api", api=service(calls=[{"to": "db", "probability": 0}]), db=service())
    graph = build_graph(spec)
    assert visit_ratios(graph) == approx({"api": 1.0, "db": 0.0})
    assert offered_load(graph, 100)["db"] == 0.0
