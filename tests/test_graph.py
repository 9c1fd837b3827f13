"""Tests for scaleplan.graph: the component graph, visit ratios, arrival rates, offered load
and layers, with every expected number worked out by hand from the traffic equations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scaleplan.engine import simulate
from scaleplan.errors import SpecError
from scaleplan.graph import (
    ENTRY_WEIGHT,
    arrival_rates,
    build_graph,
    capacity,
    layers,
    visit_ratios,
)
from scaleplan.load import offered_loads, station_loads
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
    # λ·v·S / (replicas × concurrency), where api holds its slot during its call to db:
    # api 150·1·(0.012 + 0.6·0.004)/(3·8), db 150·0.6·0.004/(1·16).
    assert offered_loads(example("lb-cluster"), graph, 150) == approx(
        {"lb": 0.0, "api": 150 * (0.012 + 0.6 * 0.004) / 24, "db": 150 * 0.6 * 0.004 / 16}
    )


def test_monolith_visits_rates_and_load() -> None:
    graph = build_graph(example("monolith"))
    assert visit_ratios(graph) == approx({"app": 1.0, "db": 0.6})
    assert arrival_rates(graph, 150) == approx({"app": 150.0, "db": 90.0})
    assert offered_loads(example("monolith"), graph, 150) == approx(
        {"app": 150 * (0.025 + 0.6 * 0.004) / 8, "db": 90 * 0.004 / 16}
    )


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
    # Both services hold their slots during their calls (the default): app for its own
    # service and 0.8 database spans, web for its own and 0.7 app spans.
    app_span = app_mean_s + 0.8 * 0.005
    assert offered_loads(example("three-tier"), graph, 200) == approx(
        {
            "lb": 0.0,
            "checkout-lb": 0.0,
            "web": 200 * web * (0.008 + 0.7 * app_span) / 16,
            "app": 200 * app * app_span / 24,
            "db": 200 * db * 0.005 / 32,
        }
    )


@pytest.mark.parametrize("hold", [False, True])
def test_offered_load_is_rate_times_visits_times_holding_over_capacity(hold: bool) -> None:
    spec = architecture(
        "api",
        api=service(12, replicas=2, concurrency=3, hold_during_calls=hold, calls=[{"to": "db"}]),
        db=service(4, concurrency=5, calls=[{"to": "audit", "probability": 0.5}]),
        audit=service(2),
    )
    graph = build_graph(spec)
    # db holds its slot for its 4 ms and half an audit (2 ms); api, when it holds, for its
    # 12 ms and a whole db span (4 + 0.5·2 ms).
    api_holding = 0.012 + (0.004 + 0.5 * 0.002 if hold else 0.0)
    stations = {station.name: station for station in station_loads(spec, graph, 100)}
    assert stations["api"].holding_s == pytest.approx(api_holding, rel=1e-12)
    assert stations["db"].holding_s == pytest.approx(0.005, rel=1e-12)
    assert offered_loads(spec, graph, 100) == approx(
        {"api": 100 * api_holding / 6, "db": 100 * 0.005 / 5, "audit": 50 * 0.002 / 1}
    )
    assert capacity(graph, "api") == stations["api"].servers == 6


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
    assert offered_loads(spec, graph, 100)["lb"] == pytest.approx(100 * 0.002 / 4)


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
    assert offered_loads(spec, graph, 100)["db"] == 0.0


# --------------------------------------------------------------------------- one overload formula


def hot_shard() -> ArchitectureSpec:
    """The bundled sharded database at 12 API replicas: the API has room, shard 0 does not."""
    return example("sharded-db").with_changes({"components.api.replicas": 12})


def hot_shard_primary_load(spec: ArchitectureSpec, rate: float) -> float:
    """Shard 0's primary by hand: its share of the keys, all of its writes and, round robin
    over the primary and one read replica, half of its reads, over its 8 slots."""
    db = spec.components["orders-db"]
    share = float(db.shard_shares()[0])
    reads = rate * share * 0.85 / 2
    writes = rate * share * 0.15
    return (reads * 0.003 + writes * 0.009) / 8


def test_hot_shard_is_refused_before_the_run_naming_the_shard() -> None:
    from scaleplan.engine import UnstableError, simulate

    spec = hot_shard()
    with pytest.raises(UnstableError) as raised:
        simulate(spec, rate_per_s=6000, requests=2000, seed=1)
    unstable = raised.value.unstable
    assert unstable.component == "orders-db"
    assert unstable.factor == pytest.approx(hot_shard_primary_load(spec, 6000), rel=1e-12)
    assert unstable.factor > 1.6
    assert (
        "unstable: components.orders-db: offered load at its shard-0 primary is 1.62× its "
        "capacity of 8 slots at 6000 requests/s"
    ) in str(raised.value)


def test_validate_names_the_busiest_station() -> None:
    from typer.testing import CliRunner

    from scaleplan.cli import app

    path = ARCHITECTURES / "sharded-db.yaml"
    outcome = CliRunner().invoke(app, ["validate", str(path)])
    assert outcome.exit_code == 0, outcome.output
    load = hot_shard_primary_load(example("sharded-db"), 600)
    said = " ".join(outcome.output.split())
    assert f"busiest station: orders-db/shard-0 primary at {load:.0%}" in said


def test_a_weighted_balancer_overloads_the_heavier_target_first() -> None:
    from scaleplan.load import check_stability, station_loads

    spec = architecture(
        "lb",
        lb={"kind": "load_balancer", "to": [{"to": "a", "weight": 3}, {"to": "b", "weight": 1}]},
        a=service(10, replicas=2),
        b=service(10, replicas=2),
    )
    graph = build_graph(spec)
    # 240/s: a gets 180/s over 2 slots (0.9), b 60/s (0.3); 280/s puts a at 1.05 while the
    # four slots together are at 0.7.
    loads = {station.name: station.load for station in station_loads(spec, graph, 240)}
    assert loads == approx({"a": 0.9, "b": 0.3})
    assert check_stability(spec, graph, 240) is None
    unstable = check_stability(spec, graph, 280)
    assert unstable is not None and unstable.component == "a"
    assert unstable.factor == pytest.approx(1.05, rel=1e-12)


# Open workloads only: a closed workload has no arrival rate to check (its users pace it).
OPEN_ARCHITECTURES = sorted(
    path for path in ARCHITECTURES.glob("*.yaml") if load_spec(path).workload.kind == "open"
)


@pytest.mark.parametrize("path", OPEN_ARCHITECTURES, ids=lambda path: path.stem)
def test_the_pre_run_check_agrees_with_the_analytic_estimate(path: Path) -> None:
    """Where the estimate calls a station overloaded, the pre-run check refuses the run or
    says so in the run's warnings (a queue limit turns overload into rejections; a holding
    time that includes the callees' queueing is an approximation); where the check refuses,
    the estimate is unstable too; and at the bottleneck bound, the same formula, it refuses."""
    from scaleplan.analytic import bottleneck, estimate
    from scaleplan.load import check_stability, overload_warnings

    spec = load_spec(path)
    graph = build_graph(spec)
    bound, limiter = bottleneck(spec)
    workload = spec.workload.mean_rate_per_s
    for rate in (workload, 0.5 * bound, 0.99 * bound, 1.01 * bound, 2 * bound, 6 * workload):
        unstable = check_stability(spec, graph, rate)
        result = estimate(spec, rate_per_s=rate)
        if result.unstable is not None and unstable is None:
            said = " ".join(overload_warnings(spec, graph, rate))
            assert f"{result.unstable.component}" in said, (rate, result.unstable, said)
        if unstable is not None:
            assert not result.stable, (rate, unstable)
    bounded = getattr(spec.components[limiter], "queue_limit", None) is not None
    assert (check_stability(spec, graph, 1.01 * bound) is None) == bounded
    assert check_stability(spec, graph, 0.99 * bound) is None


# --------------------------------------------------------------------------- feedback to oneself


def feedback(hold: bool, p: float = 0.3) -> dict[str, Any]:
    """An M/M/1 (λ = 50/s, mean service 10 ms) that sends a request back to itself with
    probability ``p`` after each service."""
    return {
        "name": "feedback",
        "workload": {"rate_per_s": 50, "requests": 100_000},
        "entry": "api",
        "components": {
            "api": service(10, hold_during_calls=hold, calls=[{"to": "api", "probability": p}])
        },
    }


def test_feedback_to_oneself_is_jacksons_mm1_with_feedback() -> None:
    from scaleplan.analytic import estimate
    from scaleplan.engine import simulate

    p, lam, mu = 0.3, 50.0, 100.0
    spec = parse_spec(feedback(hold=False, p=p), source="feedback.yaml")
    graph = build_graph(spec)
    visits = 1 / (1 - p)  # a geometric number of visits
    effective = lam * visits  # arrivals at the station, fed-back ones included
    per_visit_s = 1 / (mu - effective)  # M/M/1 sojourn at the effective rate
    total_ms = 1000 * visits * per_visit_s  # 50 ms
    assert visit_ratios(graph) == approx({"api": visits})
    assert offered_loads(spec, graph, lam) == approx({"api": effective / mu})
    result = estimate(spec)
    assert result.latency_ms.mean == pytest.approx(total_ms, rel=1e-9)
    assert result.components["api"].throughput_per_s == pytest.approx(effective, rel=1e-12)
    simulated = simulate(spec, seed=7)
    assert simulated.stable
    low, high = simulated.latency_ms.mean_ci95
    assert low <= total_ms <= high, (low, total_ms, high)


def test_a_service_holding_its_slot_cannot_call_itself() -> None:
    with pytest.raises(SpecError, match="the slot would wait on itself"):
        parse_spec(feedback(hold=True), source="feedback.yaml")


def test_validate_refuses_a_self_call_that_holds_its_slot(tmp_path: Path) -> None:
    import subprocess
    import sys

    import yaml

    def validate(data: dict[str, Any]) -> subprocess.CompletedProcess[str]:
        path = tmp_path / "feedback.yaml"
        path.write_text(yaml.safe_dump(data))
        command = [sys.executable, "-m", "scaleplan", "validate", str(path)]
        return subprocess.run(command, capture_output=True, text=True, timeout=120)

    refused = validate(feedback(hold=True))
    assert refused.returncode == 2
    said = " ".join(refused.stderr.split())
    assert "components.api.calls[0].to" in said
    assert "holds its slot during its calls cannot call itself" in said
    assert "the slot would wait on itself" in said
    assert "Traceback" not in refused.stderr
    assert validate(feedback(hold=False)).returncode == 0


def _self_loop(repeat: float) -> dict[str, Any]:
    return {
        "name": "loop",
        "entry": "a",
        "workload": {"rate_per_s": 0.5, "requests": 300},
        "components": {
            "a": {
                "kind": "service",
                "hold_during_calls": False,
                "service_time": {"dist": "exponential", "mean_ms": 1},
                "calls": [{"exit": True, "probability": 1 - repeat}, {"to": "a"}],
            }
        },
    }


def test_a_cycle_nesting_too_deep_for_the_engine_is_refused_before_the_run() -> None:
    """A repeat with probability 0.99 nests 100 calls deep on average and past 250 in 8% of
    requests: the run used to stop with a RecursionError part-way; it is refused up front."""
    spec = parse_spec(_self_loop(0.99), source="loop.yaml")
    with pytest.raises(SpecError) as caught:
        simulate(spec, seed=1)
    assert [problem.key_path for problem in caught.value.problems] == ["components.a.calls"]
    assert "nest more than 250 calls deep with probability 0.081" in str(caught.value)
    assert "keep it at most 0.946 per pass" in str(caught.value)
    # The closed forms have no such limit: the graph's visit ratios stand (100 visits).
    assert visit_ratios(build_graph(spec))["a"] == pytest.approx(100)


def test_a_cycle_within_the_nesting_bound_runs() -> None:
    result = simulate(parse_spec(_self_loop(0.9), source="loop.yaml"), seed=1)
    assert result.requests.completed == 300
