"""The instrumentation plan: bucket edges with every SLO bound, and each kind's instruments."""

from __future__ import annotations

import itertools
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from scaleplan.apm.instruments import (
    MAX_EDGES,
    bucket_edges,
    instrumentation_plan,
    le_matcher,
    prometheus_name,
)
from scaleplan.spec import parse_spec

EXP = {"dist": "exponential", "mean_ms": 5}
EVERYTHING = parse_spec(
    {
        "name": "everything",
        "workload": {"arrival": "poisson", "rate_per_s": 20, "requests": 2000},
        "entry": "edge",
        "components": {
            "edge": {"kind": "edge", "to": "lb", "share": 0.3},
            "lb": {"kind": "load_balancer", "to": "api"},
            "api": {
                "kind": "service",
                "replicas": 2,
                "concurrency": 4,
                "queue_limit": 50,
                "service_time": EXP,
                "autoscale": {"target": 0.6, "min_replicas": 2, "max_replicas": 6},
                "calls": [{"to": "cache"}, {"to": "jobs"}, {"to": "events"}],
            },
            "cache": {"kind": "cache", "backing": "db", "hit_ratio": 0.8},
            "db": {"kind": "database", "shards": 2, "read_replicas": 1, "read_time": EXP},
            "jobs": {"kind": "queue", "consumer": "workers"},
            "workers": {"kind": "worker_pool", "concurrency": 2, "service_time": EXP},
            "events": {"kind": "topic", "subscriptions": [{"name": "audit", "consumer": "audit"}]},
            "audit": {"kind": "worker_pool", "concurrency": 1, "service_time": EXP},
        },
    }
)

thresholds = st.lists(
    st.floats(min_value=0.001, max_value=120.0).map(lambda v: float(f"{v:.3g}")),
    min_size=1,
    max_size=6,
)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(thresholds, st.floats(0.0005, 5.0), st.floats(1.0, 30.0))
def test_every_slo_bound_is_an_edge(bounds: list[float], p50: float, spread: float) -> None:
    edges = bucket_edges(bounds, p50_s=p50, p99_s=p50 * spread)
    for bound in bounds:
        assert bound in edges, (bound, edges)
    assert list(edges) == sorted(set(edges)) and all(e > 0 and math.isfinite(e) for e in edges)
    assert len(edges) <= MAX_EDGES
    # The ladder reaches past the largest bound, so the slow tail is still measured.
    assert edges[-1] >= max(bounds)


def test_the_predicted_region_gets_finer_buckets() -> None:
    coarse = bucket_edges([0.4])
    fine = bucket_edges([0.4], p50_s=0.011, p99_s=0.064)
    inside = [e for e in fine if 0.011 / 1.5 <= e <= 0.064 * 1.5]
    assert len(inside) > len([e for e in coarse if 0.011 / 1.5 <= e <= 0.064 * 1.5]) + 4
    # Neighbours inside the region are at most 2^(1/4) apart, after rounding to 2 digits.
    assert all(b / a <= 1.25 for a, b in itertools.pairwise(inside))


def test_an_edge_near_a_bound_gives_way_to_it() -> None:
    edges = bucket_edges([0.26])  # the advised 0.25 is within 8%
    assert 0.26 in edges and 0.25 not in edges


def test_names_and_bucket_matchers() -> None:
    assert prometheus_name("http.server.request.duration", "s", "histogram") == (
        "http_server_request_duration_seconds"
    )
    assert prometheus_name("app.cache.evictions", "{entry}", "counter") == (
        "app_cache_evictions_total"
    )
    assert le_matcher(0.4) == 'le="0.4"'
    assert le_matcher(2.0) == 'le=~"2(\\\\.0)?"'  # "2" from Go, "2.0" from Python


def _signals(name: str) -> set[str]:
    plan = instrumentation_plan(EVERYTHING, [0.4]).component(name)
    return {signal for instrument in plan.instruments for signal in instrument.signals}


def test_each_kind_gets_its_methods() -> None:
    plan = instrumentation_plan(EVERYTHING, [0.4], predicted_p50_s=0.01, predicted_p99_s=0.1)
    methods = {c.name: c.methods for c in plan.components}
    assert methods["api"] == ("RED", "replicas and scaling", "USE")
    assert methods["lb"] == ("RED",)  # no service time: it holds no slots
    assert methods["edge"] == ("RED", "hit ratio", "USE")
    assert methods["cache"] == ("RED", "hit ratio", "USE")
    assert methods["db"] == ("RED", "replication lag", "per-shard load", "USE")
    assert methods["jobs"] == ("depth/age/lag",) and methods["events"] == ("depth/age/lag",)
    assert methods["workers"] == ("RED", "USE")
    assert {"rate", "errors", "duration", "utilisation", "saturation"} <= _signals("api")
    assert {"replicas", "scaling events"} <= _signals("api")
    assert {"depth", "age", "lag"} <= _signals("jobs")
    assert {"hit ratio", "evictions"} <= _signals("cache")
    assert {"replication lag", "shard load"} <= _signals("db")
    assert plan.entries == ("edge",) and 0.4 in plan.buckets_s


def test_semantic_convention_names_where_one_exists() -> None:
    plan = instrumentation_plan(EVERYTHING, [0.4])
    api = plan.component("api")
    red = api.instrument("http.server.request.duration")
    assert red is not None and red.semconv and red.unit == "s"
    assert red.series == (
        "http_server_request_duration_seconds_bucket",
        "http_server_request_duration_seconds_sum",
        "http_server_request_duration_seconds_count",
    )
    assert "error.type" in red.attributes
    db = plan.component("db").instrument("db.client.operation.duration")
    assert db is not None and db.component_label == "server_address"
    sent = plan.component("jobs").instrument("messaging.client.sent.messages")
    assert sent is not None and sent.prometheus == "messaging_client_sent_messages_total"
    slots = api.instrument("app.worker.count")
    assert slots is not None and not slots.semconv  # no convention covers a server's slots
    data = plan.to_dict()
    assert data["histogram_buckets_s"] == list(plan.buckets_s)
    assert [c["name"] for c in data["components"]] == list(EVERYTHING.components)
