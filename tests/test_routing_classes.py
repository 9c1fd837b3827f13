"""Routing per call: calls for some request classes only, one of several targets by weight,
and a read or a write named per call on a database — against Jackson's closed forms.

The network (every station one exponential server, slots released before the calls, Poisson
arrivals, random choices): requests of two classes enter a gateway, which calls a catalogue
for every request and payments for ``checkout`` only; payments call exactly one of two
providers (weights 3:1) and then write to a database whose own ``read_ratio`` (0.9) would
make most visits quick reads. By Jackson's theorem each station is an M/M/1 at its own
arrival rate: λ_i = λ Σ_c share_c v_c,i with v_c the class's visits, the writes' service time
at the database, and each class's mean response Σ_i v_c,i / (μ_i − λ_i). Each interval is a
Student-t 95% interval across independent seeds (fixed).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from scipy import stats

from scaleplan.analytic import estimate
from scaleplan.engine import simulate
from scaleplan.errors import SpecError
from scaleplan.graph import build_graph, visit_ratios
from scaleplan.load import traffic
from scaleplan.spec import ArchitectureSpec, parse_spec

SEEDS = (1, 2, 3, 4, 5)
RATE = 40.0
SHARES = {"browse": 0.75, "checkout": 0.25}
#: Mean service times (ms) of the stations; the database's write time, 15 ms, is its service
#: time under writes only (its read time is 2 ms).
MEAN_MS = {
    "gateway": 5.0,
    "catalog": 8.0,
    "payments": 4.0,
    "provider-a": 20.0,
    "provider-b": 30.0,
    "orders-db": 15.0,
}
#: Visits per request of each class.
VISITS = {
    "browse": {"gateway": 1.0, "catalog": 1.0},
    "checkout": {
        "gateway": 1.0,
        "catalog": 1.0,
        "payments": 1.0,
        "provider-a": 0.75,
        "provider-b": 0.25,
        "orders-db": 1.0,
    },
}


def exp(mean_ms: float) -> dict[str, Any]:
    return {"dist": "exponential", "mean_ms": mean_ms}


def shop(**workload: Any) -> dict[str, Any]:
    """The routed shop as a dict (changed by the validation tests)."""
    released = {"kind": "service", "hold_during_calls": False}
    return {
        "name": "routed-shop",
        "workload": {
            "rate_per_s": RATE,
            "requests": 20_000,
            "classes": [
                {"name": "browse", "weight": 3},
                {"name": "checkout", "weight": 1},
            ],
            **workload,
        },
        "entry": "gateway",
        "components": {
            "gateway": {
                **released,
                "service_time": exp(5),
                "calls": [{"to": "catalog"}, {"to": "payments", "classes": ["checkout"]}],
            },
            "catalog": {**released, "service_time": exp(8)},
            "payments": {
                **released,
                "service_time": exp(4),
                "calls": [
                    {"one_of": [{"to": "provider-a", "weight": 3}, {"to": "provider-b"}]},
                    {"to": "orders-db", "operation": "write"},
                ],
            },
            "provider-a": {"kind": "service", "service_time": exp(20)},
            "provider-b": {"kind": "service", "service_time": exp(30)},
            "orders-db": {
                "kind": "database",
                "concurrency": 1,
                "read_ratio": 0.9,
                "read_time": exp(2),
                "write_time": exp(15),
            },
        },
    }


def jackson() -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    """(arrival rate /s, mean response per visit ms, mean response per class ms)."""
    rates = {
        name: RATE * math.fsum(SHARES[c] * VISITS[c].get(name, 0.0) for c in SHARES)
        for name in MEAN_MS
    }
    response = {name: 1e3 / (1e3 / MEAN_MS[name] - rates[name]) for name in MEAN_MS}
    per_class = {
        c: math.fsum(visits * response[name] for name, visits in VISITS[c].items()) for c in SHARES
    }
    return rates, response, per_class


def t_interval(values: Sequence[float]) -> tuple[float, float]:
    x = np.asarray(values, dtype=float)
    half = float(stats.t.ppf(0.975, x.size - 1)) * float(x.std(ddof=1)) / math.sqrt(x.size)
    return float(x.mean()) - half, float(x.mean()) + half


def covers(interval: tuple[float, float], value: float) -> bool:
    return interval[0] <= value <= interval[1]


@pytest.fixture(scope="module")
def spec() -> ArchitectureSpec:
    return parse_spec(shop())


@pytest.fixture(scope="module")
def runs(spec: ArchitectureSpec) -> list[Any]:
    return [simulate(spec, seed=seed, requests=12_000) for seed in SEEDS]


# --------------------------------------------------------------------------- the referee


def test_visit_ratios_follow_each_class_and_the_weights(spec: ArchitectureSpec) -> None:
    rates, _, _ = jackson()
    expected = {name: rate / RATE for name, rate in rates.items()}
    assert visit_ratios(build_graph(spec)) == pytest.approx(expected, rel=1e-12)
    flows = traffic(spec, None, RATE).flows
    assert flows.visits == pytest.approx(expected, rel=1e-12)
    assert flows.classes is not None
    for cls, visits in VISITS.items():
        assert flows.classes[cls].visits == pytest.approx(
            {name: visits.get(name, 0.0) for name in MEAN_MS}, abs=1e-12
        )
    # Every visit to the database is a write named by its call.
    assert flows.read_ratio == {"orders-db": 0.0}


def test_the_estimate_is_jacksons_network(spec: ArchitectureSpec) -> None:
    rates, response, per_class = jackson()
    result = estimate(spec)
    for name, rate in rates.items():
        assert result.components[name].throughput_per_s == pytest.approx(rate, rel=1e-12)
    # Stations without calls: their latency is their own response.
    for name in ("catalog", "provider-a", "provider-b", "orders-db"):
        assert result.components[name].latency_ms.mean == pytest.approx(response[name])
    for cls, mean in per_class.items():
        assert result.classes[cls].mean == pytest.approx(mean, rel=1e-9)
    system = math.fsum(SHARES[c] * per_class[c] for c in SHARES)
    assert result.latency_ms.mean == pytest.approx(system, rel=1e-9)
    assert "exact" in result.method and "approximate" not in result.method


def test_simulated_cis_cover_the_closed_forms(runs: list[Any]) -> None:
    rates, response, per_class = jackson()
    for name, rate in rates.items():
        throughput = t_interval([run.components[name].throughput_per_s for run in runs])
        assert covers(throughput, rate), (name, throughput, rate)
    for name in ("catalog", "provider-a", "provider-b", "orders-db"):
        mean = t_interval([run.components[name].latency_ms.mean for run in runs])
        assert covers(mean, response[name]), (name, mean, response[name])
    for cls, expected in per_class.items():
        mean = t_interval([run.classes[cls].mean for run in runs])
        assert covers(mean, expected), (cls, mean, expected)


def test_the_database_serves_only_the_named_writes(runs: list[Any]) -> None:
    # Drawn from read_ratio 0.9, nine in ten visits would be reads; the calls name writes.
    for run in runs:
        figures = run.components["orders-db/shard-0"].details
        assert figures["reads"] == 0 and figures["writes"] > 0, figures


# --------------------------------------------------------------------------- the engine


def test_retries_act_on_the_chosen_target_only() -> None:
    data = shop(requests=2_000)
    payments = data["components"]["payments"]
    payments["calls"][0]["retries"] = 2
    data["components"]["provider-a"]["error_probability"] = 0.5
    result = simulate(parse_spec(data), seed=3)
    calls = result.components["payments"].details["calls"]
    assert calls["payments->provider-a"]["retries"] > 0
    assert calls["payments->provider-b"]["retries"] == 0
    # The estimate retries provider-a's failures alone: attempts (1 − q³)/(1 − q) at q = ½.
    estimated = estimate(parse_spec(data))
    share_a = RATE * SHARES["checkout"] * 0.75
    assert estimated.components["provider-a"].throughput_per_s == pytest.approx(share_a * 1.75)
    assert estimated.components["provider-b"].throughput_per_s == pytest.approx(RATE / 16)


def test_plain_calls_run_as_before() -> None:
    # A call without classes, one_of or operation is no RoutedCall: the hot loop is unchanged.
    from scaleplan.engine.routing import RoutedCall

    data = shop(requests=200)
    spec = parse_spec(data)
    result = simulate(spec, seed=1)
    assert result.requests.arrived == 200
    import simpy

    from scaleplan.kinds.registry import kind_of

    env = simpy.Environment()
    stations = {
        name: kind_of(c.kind).station(name, c, env, lambda _: np.random.default_rng(0))
        for name, c in spec.components.items()
    }
    stations["gateway"].connect(stations, lambda _: np.random.default_rng(0))
    kinds = [type(station).__name__ for station, _, _ in stations["gateway"].calls]
    assert kinds == ["ServiceStation", RoutedCall.__name__]


# --------------------------------------------------------------------------- the drawing


def test_graph_edges_carry_shares_classes_and_operations(spec: ArchitectureSpec) -> None:
    graph = build_graph(spec)
    assert graph.edges["gateway", "payments"]["label"] == "checkout only"
    assert graph.edges["payments", "provider-a"]["routes"][0]["one_of"] == pytest.approx(0.75)
    assert graph.edges["payments", "provider-a"]["label"] == "one of 2: 75%"
    assert graph.edges["payments", "provider-b"]["label"] == "one of 2: 25%"
    assert graph.edges["payments", "orders-db"]["label"] == "writes"
    assert graph.edges["gateway", "catalog"]["label"] == ""


# --------------------------------------------------------------------------- bad input


def problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(SpecError) as raised:
        parse_spec(data, source="shop.yaml")
    return [str(problem) for problem in raised.value.problems]


def test_an_unknown_class_is_named_with_its_key_path() -> None:
    data = shop()
    data["components"]["gateway"]["calls"][1]["classes"] = ["chekout"]
    (message,) = problems(data)
    assert message.startswith("shop.yaml: components.gateway.calls[1].classes[0]: ")
    assert "no request class named 'chekout' (did you mean 'checkout'?)" in message
    assert "browse, checkout" in message


def test_classes_need_a_workload_with_classes() -> None:
    data = shop()
    del data["workload"]["classes"]
    (message,) = problems(data)
    assert "components.gateway.calls[1].classes[0]" in message
    assert "the workload has no request classes" in message


def test_an_operation_needs_a_database_that_can_do_it() -> None:
    data = shop()
    data["components"]["gateway"]["calls"][0]["operation"] = "read"
    (message,) = problems(data)
    assert "components.gateway.calls[0].to" in message
    assert "operation read applies to a call to a database ('catalog' is a service)" in message
    data = shop()
    data["components"]["orders-db"].update(read_ratio=0.0, reads_from_primary=False)
    data["components"]["payments"]["calls"][1]["operation"] = "read"
    (message,) = problems(data)
    assert "components.payments.calls[1].operation" in message
    assert "reads from neither its primary" in message


@pytest.mark.parametrize(
    ("call", "found"),
    [
        ({"to": "catalog", "one_of": [{"to": "a"}, {"to": "b"}]}, "not both"),
        ({"one_of": [{"to": "catalog"}]}, "at least 2 items"),
        ({"exit": True, "probability": 0.5, "classes": ["browse"]}, "no classes or operation"),
        ({"to": "catalog", "classes": ["browse", "browse"]}, "browse twice"),
        ({"to": "catalog", "operation": "delete"}, "'read' or 'write'"),
        ({"one_of": [{"to": "catalog"}, {"to": "nowhere"}]}, "no component named 'nowhere'"),
    ],
)
def test_bad_call_entries_are_refused(call: dict[str, Any], found: str) -> None:
    data = shop()
    data["components"]["gateway"]["calls"] = [call]
    messages = problems(data)
    assert any(
        found in message and "components.gateway.calls[0]" in message for message in messages
    ), messages


# --------------------------------------------------------------------------- priorities


def test_priority_waits_use_each_class_s_own_visits() -> None:
    """A store both classes reach through the catalogue and checkout also through payments:
    its arrivals are 30/s of browse and 20/s of checkout (not 40/s had every class paid).
    Cobham's non-preemptive M/M/1: W_k = W0 / ((1 − σ_{k−1})(1 − σ_k)), W0 = ρ/μ."""
    released = {"kind": "service", "hold_during_calls": False}
    spec = parse_spec(
        {
            "name": "prioritised",
            "workload": {
                "rate_per_s": RATE,
                "classes": [
                    {"name": "browse", "weight": 3, "priority": 1},
                    {"name": "checkout", "weight": 1, "priority": 0},
                ],
            },
            "entry": "gateway",
            "components": {
                "gateway": {
                    **released,
                    "service_time": exp(5),
                    "calls": [{"to": "catalog"}, {"to": "payments", "classes": ["checkout"]}],
                },
                "catalog": {**released, "service_time": exp(8), "calls": [{"to": "store"}]},
                "payments": {**released, "service_time": exp(4), "calls": [{"to": "store"}]},
                "store": {"kind": "service", "service_time": exp(5)},
            },
        }
    )
    mean_s = 0.005
    browse, checkout = 30.0 * mean_s, 20.0 * mean_s  # each class's load at the store
    w0 = (browse + checkout) * mean_s
    expected = {
        "checkout": 1e3 * w0 / (1 - checkout),
        "browse": 1e3 * w0 / ((1 - checkout) * (1 - checkout - browse)),
    }
    waits = estimate(spec).components["store"].details["wait_ms_by_class"]
    assert waits == pytest.approx(expected, rel=1e-9)


# --------------------------------------------------------------------------- failures


def test_a_failing_target_of_one_of_fails_only_the_requests_that_chose_it() -> None:
    """provider-b fails 20% of its visits after serving them: a checkout that chose it (¼)
    fails with that, and its write is never made. Failures are Bernoulli routing, so the
    network stays Jackson's: the database gets 10 × (1 − ¼ × 0.2) writes/s, and the completed
    checkouts' mean is the outcome fold over the calls a checkout makes."""
    data = shop(requests=8_000)
    data["components"]["provider-b"]["error_probability"] = 0.2
    spec = parse_spec(data)
    estimated = estimate(spec)
    failed_share = SHARES["checkout"] * 0.25 * 0.2
    assert estimated.throughput_per_s == pytest.approx(RATE * (1 - failed_share))
    db_rate = RATE * SHARES["checkout"] * (1 - 0.25 * 0.2)
    assert estimated.components["orders-db"].throughput_per_s == pytest.approx(db_rate)
    _, response, per_class = jackson()
    response["orders-db"] = 1e3 / (1e3 / MEAN_MS["orders-db"] - db_rate)
    checkout_ms = (  # completed checkouts: via a (¾), or via b and served well (¼ × 0.8)
        response["gateway"]
        + response["catalog"]
        + response["payments"]
        + (0.75 * response["provider-a"] + 0.25 * 0.8 * response["provider-b"]) / (1 - 0.05)
        + response["orders-db"]
    )
    assert estimated.classes["checkout"].mean == pytest.approx(checkout_ms, rel=1e-9)
    assert estimated.classes["browse"].mean == pytest.approx(per_class["browse"], rel=1e-9)
    runs = [simulate(spec, seed=seed) for seed in SEEDS]
    failed = t_interval([run.requests.failed / run.requests.arrived for run in runs])
    assert covers(failed, failed_share), (failed, failed_share)
    for cls in SHARES:
        mean = t_interval([run.classes[cls].mean for run in runs])
        assert covers(mean, estimated.classes[cls].mean), (cls, mean)
    writes = t_interval([run.components["orders-db"].throughput_per_s for run in runs])
    assert covers(writes, db_rate), (writes, db_rate)
