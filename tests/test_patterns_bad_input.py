"""Bad input for the keys of the architecture patterns (issue #3): every one gives a clear
error that names the file, the key path and what was found (docs/architecture.md).

Files under ``tests/data/bad/patterns/`` show the line number as a user sees it; the rest of
the table changes one key of a valid spec that uses every new kind, so each row shows the
exact message for exactly one mistake.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from scaleplan.errors import SpecError
from scaleplan.graph import build_graph
from scaleplan.spec import load_spec, parse_spec

BAD = Path(__file__).resolve().parent / "data" / "bad" / "patterns"
SOURCE = "p.yaml"


def lines_of(error: SpecError) -> list[str]:
    return str(error).splitlines()


# --------------------------------------------------------------------------- files

BAD_FILES = [
    (
        "cache-hit-ratio-and-keys.yaml",
        "cache-hit-ratio-and-keys.yaml:5: components.cache: "
        "give either hit_ratio or keys, not both (got hit_ratio 0.8 and keys)",
    ),
    (
        "hot-keys-not-fewer-than-count.yaml",
        "hot-keys-not-fewer-than-count.yaml:8: components.cache.keys: "
        "hot_keys must be fewer than count (got 50 of 50)",
    ),
    (
        "autoscale-max-below-min.yaml",
        "autoscale-max-below-min.yaml:9: components.api.autoscale: "
        "max_replicas must be at least min_replicas (got 2 < 4)",
    ),
    (
        "replicas-outside-autoscale-range.yaml",
        "replicas-outside-autoscale-range.yaml:5: components.api: "
        "replicas must lie within autoscale min_replicas..max_replicas (got 12 outside 2..10)",
    ),
    (
        "queue-consumer-not-a-worker-pool.yaml",
        "queue-consumer-not-a-worker-pool.yaml:11: components.orders.consumer: "
        "a queue sends to a worker_pool ('billing' is a service)",
    ),
    (
        "topic-duplicate-subscription.yaml",
        "topic-duplicate-subscription.yaml:11: components.events.subscriptions: "
        "subscription names must be unique (got ['email'] twice)",
    ),
    (
        "database-without-readers.yaml",
        "database-without-readers.yaml:5: components.db: "
        "reads_from_primary is false but there are no read_replicas",
    ),
    (
        "retry-budget-above-one.yaml",
        "retry-budget-above-one.yaml:11: components.api.calls[0].retries.budget: "
        "must be at most 1 (got 1.5)",
    ),
]


@pytest.mark.parametrize(
    ("file_name", "expected"), BAD_FILES, ids=[name.removesuffix(".yaml") for name, _ in BAD_FILES]
)
def test_bad_pattern_file_names_file_line_key_path_and_what_was_found(
    file_name: str, expected: str
) -> None:
    with pytest.raises(SpecError) as caught:
        load_spec(BAD / file_name)
    assert lines_of(caught.value) == [expected]


def test_every_bad_pattern_file_is_in_the_table() -> None:
    assert {path.name for path in BAD.glob("*.yaml")} == {name for name, _ in BAD_FILES}


# --------------------------------------------------------------------------- one key at a time


def valid() -> dict[str, Any]:
    """A valid spec with every new kind and policy, each key at a sensible value."""
    exp = {"dist": "exponential", "mean_ms": 5}
    return {
        "name": "patterns",
        "workload": {"rate_per_s": 10},
        "entry": "edge",
        "components": {
            "edge": {"kind": "edge", "to": "api", "share": 0.3},
            "api": {
                "kind": "service",
                "service_time": exp,
                "error_probability": 0.01,
                "load_shedding": {"max_wait_ms": 200},
                "autoscale": {"target": 0.6, "min_replicas": 1, "max_replicas": 4},
                "calls": [
                    {
                        "to": "pay",
                        "timeout_ms": 100,
                        "retries": {"max": 2, "backoff_ms": 10, "budget": 0.1},
                        "circuit_breaker": {"failure_ratio": 0.5, "window": 20, "min_calls": 10},
                        "bulkhead": 8,
                    },
                    {"to": "cache"},
                    {"to": "jobs"},
                    {"to": "events"},
                ],
            },
            "pay": {"kind": "service", "service_time": exp},
            "cache": {
                "kind": "cache",
                "backing": "db",
                "keys": {"count": 1000, "popularity": "zipf", "s": 0.9},
                "size": 100,
                "ttl_s": 60,
                "cold_start": True,
                "restart_at_s": [30],
            },
            "db": {
                "kind": "database",
                "shards": 2,
                "partitioning": "hash",
                "keys": {"count": 1000, "popularity": "hot", "hot_keys": 10, "hot_share": 0.8},
                "read_ratio": 0.9,
                "read_replicas": 1,
                "read_policy": "round_robin",
                "read_time": exp,
                "replication_lag": exp,
            },
            "jobs": {
                "kind": "queue",
                "consumer": "workers",
                "max_messages": 100,
                "when_full": "block",
                "max_retries": 2,
                "retry_backoff_ms": 50,
            },
            "events": {
                "kind": "topic",
                "subscriptions": [
                    {"name": "email", "consumer": "workers"},
                    {"name": "audit", "consumer": "workers", "max_messages": 10},
                ],
            },
            "workers": {"kind": "worker_pool", "concurrency": 4, "service_time": exp},
        },
    }


def changed(key_path: str, value: Any) -> dict[str, Any]:
    """The valid spec with the value at a dotted key path (list items by index) replaced, or
    the key removed when ``value`` is ``DELETE``."""
    data = valid()
    *parents, last = key_path.split(".")
    node: Any = data
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    if value is DELETE:
        del node[last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return data


DELETE = object()
C = "components."
CALL = "components.api.calls[0]."

BAD_KEYS = [
    (
        "cache.hit_ratio",
        0.5,
        "components.cache",
        "give either hit_ratio or keys, not both (got hit_ratio 0.5 and keys)",
    ),
    (
        "cache.keys",
        DELETE,
        "components.cache",
        "give either hit_ratio, or keys with size and/or ttl_s (got neither)",
    ),
    ("cache.hit_ratio", 1.5, "components.cache.hit_ratio", "must be at most 1 (got 1.5)"),
    ("cache.size", 0, "components.cache.size", "must be at least 1 (got 0)"),
    ("cache.ttl_s", 0, "components.cache.ttl_s", "must be greater than 0 (got 0)"),
    ("cache.restart_at_s", [-1], "components.cache.restart_at_s[0]", "must be at least 0 (got -1)"),
    (
        "cache.backing",
        "dbb",
        "components.cache.backing",
        "no component named 'dbb' (did you mean 'db'?)",
    ),
    (
        "cache.keys.popularity",
        "pareto",
        "components.cache.keys.popularity",
        "input should be 'uniform', 'zipf' or 'hot' (got 'pareto')",
    ),
    ("cache.keys.s", 0, "components.cache.keys.s", "must be greater than 0 (got 0)"),
    (
        "cache.keys.count",
        20000000,
        "components.cache.keys.count",
        "must be at most 10000000 (got 20000000)",
    ),
    (
        "db.keys.hot_keys",
        1000,
        "components.db.keys",
        "hot_keys must be fewer than count (got 1000 of 1000)",
    ),
    ("db.keys.hot_share", 1, "components.db.keys.hot_share", "must be less than 1 (got 1)"),
    ("db.shards", 0, "components.db.shards", "must be at least 1 (got 0)"),
    (
        "db.partitioning",
        "list",
        "components.db.partitioning",
        "input should be 'hash' or 'range' (got 'list')",
    ),
    ("db.read_ratio", 1.5, "components.db.read_ratio", "must be at most 1 (got 1.5)"),
    ("db.read_replicas", -1, "components.db.read_replicas", "must be at least 0 (got -1)"),
    (
        "db.read_policy",
        "fastest",
        "components.db.read_policy",
        "input should be 'round_robin', 'random', 'least_connections', 'power_of_two', "
        "'power_of_d' or 'join_shortest_queue' (got 'fastest')",
    ),
    ("db.read_time", DELETE, "components.db.read_time", "required key is missing"),
    (
        "db.replication_lag",
        {"dist": "exponential"},
        "components.db.replication_lag.mean_ms",
        "required key is missing",
    ),
    ("edge.share", 1.5, "components.edge.share", "must be at most 1 (got 1.5)"),
    ("edge.share", DELETE, "components.edge.share", "required key is missing"),
    (
        "api.error_probability",
        1.5,
        "components.api.error_probability",
        "must be at most 1 (got 1.5)",
    ),
    (
        "api.preemptive",
        "sometimes",
        "components.api.preemptive",
        "input should be a valid boolean, unable to interpret input (got 'sometimes')",
    ),
    (
        "workers.preemptive",
        "sometimes",
        "components.workers.preemptive",
        "input should be a valid boolean, unable to interpret input (got 'sometimes')",
    ),
    (
        "api.load_shedding.max_wait_ms",
        0,
        "components.api.load_shedding.max_wait_ms",
        "must be greater than 0 (got 0)",
    ),
    (
        "api.autoscale.target",
        1.5,
        "components.api.autoscale",
        "a utilisation target is at most 1 (got 1.5)",
    ),
    ("api.autoscale.target", DELETE, "components.api.autoscale.target", "required key is missing"),
    (
        "api.autoscale.metric",
        "cpu",
        "components.api.autoscale.metric",
        "input should be 'utilization' or 'queue_length' (got 'cpu')",
    ),
    (
        "api.autoscale.tolerance",
        1,
        "components.api.autoscale.tolerance",
        "must be less than 1 (got 1)",
    ),
    (
        "api.autoscale.max_replicas",
        0,
        "components.api.autoscale.max_replicas",
        "must be at least 1 (got 0)",
    ),
    (
        "api.calls.0.timeout_ms",
        0,
        "components.api.calls[0].timeout_ms",
        "must be greater than 0 (got 0)",
    ),
    ("api.calls.0.retries", -1, "components.api.calls[0].retries", "must be at least 0 (got -1)"),
    (
        "api.calls.0.retries.budget",
        0,
        "components.api.calls[0].retries.budget",
        "must be greater than 0 (got 0)",
    ),
    (
        "api.calls.0.retries.multiplier",
        0.5,
        "components.api.calls[0].retries.multiplier",
        "must be at least 1 (got 0.5)",
    ),
    (
        "api.calls.0.retries.jitter",
        "half",
        "components.api.calls[0].retries.jitter",
        "input should be 'full', 'equal' or 'none' (got 'half')",
    ),
    (
        "api.calls.0.retries.backoff_ms",
        0,
        "components.api.calls[0].retries.backoff_ms",
        "must be greater than 0 (got 0)",
    ),
    (
        "api.calls.0.retries.maximum",
        3,
        "components.api.calls[0].retries.maximum",
        "unknown key 'maximum' (did you mean 'max'?)",
    ),
    (
        "api.calls.0.circuit_breaker.failure_ratio",
        0,
        "components.api.calls[0].circuit_breaker.failure_ratio",
        "must be greater than 0 (got 0)",
    ),
    (
        "api.calls.0.circuit_breaker.window",
        0,
        "components.api.calls[0].circuit_breaker.window",
        "must be at least 1 (got 0)",
    ),
    (
        "api.calls.0.circuit_breaker.open_s",
        0,
        "components.api.calls[0].circuit_breaker.open_s",
        "must be greater than 0 (got 0)",
    ),
    ("api.calls.0.bulkhead", 0, "components.api.calls[0].bulkhead", "must be at least 1 (got 0)"),
    (
        "jobs.consumer",
        "pay",
        "components.jobs.consumer",
        "a queue sends to a worker_pool ('pay' is a service)",
    ),
    (
        "jobs.consumer",
        "wrkers",
        "components.jobs.consumer",
        "no component named 'wrkers' (did you mean 'workers'?)",
    ),
    (
        "api.discipline",
        "random",
        "components.api.discipline",
        "input should be 'fifo', 'lifo' or 'ps' (got 'random')",
    ),
    (
        "api.admission_limit",
        4,
        "components.api",
        "admission_limit applies to discipline ps only (got discipline 'fifo' with "
        "admission_limit 4)",
    ),
    ("pay.admission_limit", 0, "components.pay.admission_limit", "must be at least 1 (got 0)"),
    (
        "workers.discipline",
        "ps",
        "components.workers.discipline",
        "a worker_pool's free slots pull the next message from its broker in order, so its "
        "discipline is fifo only (got 'ps'); a service takes lifo or ps",
    ),
    ("jobs.max_messages", 0, "components.jobs.max_messages", "must be at least 1 (got 0)"),
    (
        "jobs.when_full",
        "drop",
        "components.jobs.when_full",
        "input should be 'reject' or 'block' (got 'drop')",
    ),
    ("jobs.max_retries", -1, "components.jobs.max_retries", "must be at least 0 (got -1)"),
    (
        "jobs.retry_backoff_ms",
        0,
        "components.jobs.retry_backoff_ms",
        "must be greater than 0 (got 0)",
    ),
    (
        "events.subscriptions",
        [],
        "components.events.subscriptions",
        "tuple should have at least 1 item after validation, not 0 (got a list)",
    ),
    (
        "events.subscriptions.1.consumer",
        "pay",
        "components.events.subscriptions[1].consumer",
        "a topic sends to a worker_pool ('pay' is a service)",
    ),
    (
        "events.subscriptions.1.name",
        "1st",
        "components.events.subscriptions[1].name",
        "string should match pattern '^[A-Za-z][A-Za-z0-9_-]*$' (got '1st')",
    ),
    (
        "events.subscriptions.1.when_full",
        "drop",
        "components.events.subscriptions[1].when_full",
        "input should be 'reject' or 'block' (got 'drop')",
    ),
]


@pytest.mark.parametrize(
    ("key_path", "value", "where", "message"),
    BAD_KEYS,
    ids=[f"{key}={'deleted' if value is DELETE else value}" for key, value, _, _ in BAD_KEYS],
)
def test_bad_pattern_key_names_key_path_and_what_was_found(
    key_path: str, value: Any, where: str, message: str
) -> None:
    build_graph(parse_spec(valid()))  # the base is valid: each row has exactly one mistake
    with pytest.raises(SpecError) as caught:
        build_graph(parse_spec(changed(C + key_path, value), source=SOURCE))
    assert lines_of(caught.value) == [f"{SOURCE}: {where}: {message}"]


@pytest.mark.parametrize(
    ("priority", "message"),
    [
        (10, "must be at most 9 (got 10)"),
        (-1, "must be at least 0 (got -1)"),
        ("first", "input should be a valid integer, unable to parse string as an integer"),
    ],
)
def test_a_bad_class_priority_names_its_key_path(priority: Any, message: str) -> None:
    data = valid()
    data["workload"]["classes"] = [
        {"name": "gold", "priority": 0},
        {"name": "x", "priority": priority},
    ]
    with pytest.raises(SpecError) as caught:
        parse_spec(data, source=SOURCE)
    (line,) = lines_of(caught.value)
    assert line.startswith(f"{SOURCE}: workload.classes[1].priority: {message}"), line


# --------------------------------------------------------------------------- gaps found and closed


def test_a_cache_with_both_or_neither_ways_to_hit_says_which() -> None:
    messages = []
    for key_path, value in (("cache.hit_ratio", 0.5), ("cache.keys", DELETE)):
        with pytest.raises(SpecError) as caught:
            parse_spec(changed(C + key_path, value), source=SOURCE)
        messages.append(str(caught.value))
    assert all("(got " in message for message in messages), messages
    assert messages[0] != messages[1]


def test_a_circuit_breaker_that_can_never_open_is_refused() -> None:
    data = changed(C + "api.calls.0.circuit_breaker", {"window": 20, "min_calls": 30})
    with pytest.raises(SpecError) as caught:
        parse_spec(data, source=SOURCE)
    (line,) = lines_of(caught.value)
    assert line.startswith(f"{SOURCE}: {CALL}circuit_breaker"), line
    assert "min_calls" in line and "window" in line and "(got " in line, line


FIXED_HIT_RATIO = {"kind": "cache", "backing": "db", "hit_ratio": 0.5}


@pytest.mark.parametrize(
    ("key_path", "value", "where"),
    [
        ("cache.keys", {"count": 1000, "popularity": "uniform", "s": 1.2}, "components.cache.keys"),
        ("db.keys", {"count": 1000, "popularity": "zipf", "hot_keys": 10}, "components.db.keys"),
        ("cache", {**FIXED_HIT_RATIO, "size": 100}, "components.cache"),
        ("cache", {**FIXED_HIT_RATIO, "ttl_s": 60}, "components.cache"),
        ("db.read_replicas", 0, "components.db"),  # replication_lag with no replica to lag
    ],
    ids=[
        "uniform-with-s",
        "zipf-with-hot_keys",
        "hit_ratio-with-size",
        "hit_ratio-with-ttl_s",
        "replication_lag-without-replicas",
    ],
)
def test_a_key_without_effect_is_refused(key_path: str, value: Any, where: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(changed(C + key_path, value), source=SOURCE)
    (line,) = lines_of(caught.value)
    assert line.startswith(f"{SOURCE}: {where}"), line


def test_a_cycle_through_a_queue_names_the_queue_consumer_key() -> None:
    data = changed(C + "workers.calls", [{"to": "jobs"}])
    with pytest.raises(SpecError) as caught:
        build_graph(parse_spec(data, source=SOURCE))
    assert lines_of(caught.value) == [
        f"{SOURCE}: components.jobs.consumer: the call cycle jobs → workers → jobs repeats "
        "forever on average (expected calls per pass 1, must be below 1)"
    ]


def test_a_ps_admission_limit_below_the_processors_is_refused() -> None:
    data = valid()
    data["components"]["pay"].update(discipline="ps", concurrency=4, admission_limit=2)
    with pytest.raises(SpecError) as caught:
        parse_spec(data, source=SOURCE)
    assert lines_of(caught.value) == [
        f"{SOURCE}: components.pay: admission_limit must be at least concurrency, the "
        "processors it shares (got 2 < 4)"
    ]


def test_preemption_under_processor_sharing_is_refused() -> None:
    data = valid()
    data["components"]["pay"].update(discipline="ps", preemptive=True)
    with pytest.raises(SpecError) as caught:
        parse_spec(data, source=SOURCE)
    assert lines_of(caught.value) == [
        f"{SOURCE}: components.pay: preemptive applies to a replica whose slots serve one "
        "request each at full speed; under discipline ps the admitted requests already share "
        "the processors (got discipline 'ps' with preemptive: true)"
    ]
