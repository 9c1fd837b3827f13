"""The instrumentation plan: per component, the metrics to collect and why.

What a component is decides what to measure (``signals`` below):

- **RED** (rate, errors, duration) for everything that serves requests — a service, a load
  balancer, an edge, a cache or a database seen from its callers, a worker pool's jobs;
- **USE** (utilisation of its slots, saturation = requests waiting for one, errors = requests
  turned away) for every component with slots (``capacity`` > 0);
- **depth, age and lag** for a queue and for each subscription of a topic;
- **hit ratio and evictions** for a cache (and the share an edge answers itself);
- **replication lag** for a database with read replicas, **per-shard load** for a sharded one;
- **replicas and scaling events** for an autoscaled service.

Names follow the OpenTelemetry semantic conventions where one exists
(``http.server.request.duration`` in seconds, ``http.server.active_requests``,
``messaging.client.sent.messages``, ``messaging.process.duration``,
``db.client.operation.duration``, ``k8s.hpa.*``); what no convention covers (a server's worker
slots, a broker's depth, a cache's hits) is an ``app.*`` instrument modelled on the closest
convention (``db.client.connection.count``/``.max``/``.pending_requests`` for slots). Each has
its Prometheus name as the OpenTelemetry collector's Prometheus exporter writes it (dots to
underscores, the unit as a suffix, ``_total`` on counters, ``_bucket``/``_sum``/``_count``
series for a histogram) and the ``job`` label is the component's name.

Histogram buckets (:func:`bucket_edges`): the semantic conventions' advised boundaries for
``http.server.request.duration``, every latency SLO bound *exactly* as an edge (the latency SLI
is the share of requests above it, read off that edge), and finer steps over the region the
model predicts for p50 … p99 at peak.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from scaleplan.spec import ArchitectureSpec

__all__ = [
    "ADVISED_BUCKETS_S",
    "ComponentPlan",
    "Instrument",
    "InstrumentationPlan",
    "bucket_edges",
    "instrumentation_plan",
    "le_matcher",
    "prometheus_name",
]

#: The boundaries the HTTP semantic conventions advise for ``http.server.request.duration`` (s).
ADVISED_BUCKETS_S = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
)
#: Steps per doubling of the finer ladder over the predicted p50 … p99 region (×2^¼ ≈ 1.19).
FINE_STEPS_PER_DOUBLING = 4
#: An edge closer than this (relative) to a kept one adds no resolution and is dropped.
MIN_EDGE_GAP = 0.08
#: At most this many finite edges (each is one series per label set in Prometheus).
MAX_EDGES = 40

InstrumentType = Literal["histogram", "counter", "updowncounter", "gauge"]
_UNIT_SUFFIX = {"s": "seconds", "By": "bytes", "1": "ratio"}


def prometheus_name(name: str, unit: str, instrument: InstrumentType) -> str:
    """The series name the collector's Prometheus exporter gives an OpenTelemetry instrument.

    Examples
    --------
    >>> prometheus_name("http.server.request.duration", "s", "histogram")
    'http_server_request_duration_seconds'
    >>> prometheus_name("messaging.client.sent.messages", "{message}", "counter")
    'messaging_client_sent_messages_total'
    """
    base = name.replace(".", "_")
    suffix = _UNIT_SUFFIX.get(unit)
    if suffix and not base.endswith("_" + suffix):
        base += "_" + suffix
    if instrument == "counter":
        base += "_total"
    return base


def le_matcher(edge_s: float) -> str:
    r"""A PromQL matcher for the bucket whose upper edge is ``edge_s``.

    Exporters print a whole number either way (``1`` from Go, ``1.0`` from Python), so a whole
    edge is matched by a regex that takes both (the backslash doubled in a PromQL string).

    >>> print(le_matcher(0.4), le_matcher(1.0))
    le="0.4" le=~"1(\\.0)?"
    """
    if float(edge_s).is_integer():
        return f'le=~"{int(edge_s)}(\\\\.0)?"'
    return f'le="{float(edge_s)!r}"'


def _round2(value: float) -> float:
    return float(f"{value:.2g}")


def bucket_edges(
    thresholds_s: Iterable[float], p50_s: float = math.nan, p99_s: float = math.nan
) -> tuple[float, ...]:
    """Histogram boundaries (seconds) with every threshold exactly as an edge.

    The advised ladder, plus steps of 2^¼ (two significant digits) from p50/1.5 to p99×1.5
    when the model predicts them, up to twice the largest threshold; an edge within 8% of a
    threshold or of a smaller kept edge is dropped (a threshold never is).

    Examples
    --------
    >>> edges = bucket_edges([0.4, 0.8], p50_s=0.02, p99_s=0.12)
    >>> 0.4 in edges and 0.8 in edges, edges == tuple(sorted(edges))
    (True, True)
    """
    exact = sorted({float(t) for t in thresholds_s if math.isfinite(t) and t > 0})
    candidates = set(ADVISED_BUCKETS_S)
    if math.isfinite(p50_s) and math.isfinite(p99_s) and 0 < p50_s <= p99_s:
        step = 2.0 ** (1.0 / FINE_STEPS_PER_DOUBLING)
        value = p50_s / 1.5
        while value <= p99_s * 1.5:
            candidates.add(_round2(value))
            value *= step
    top = max([ADVISED_BUCKETS_S[-1], *(2 * t for t in exact)])
    while max(candidates) < top:
        candidates.add(_round2(max(candidates) * 2))
    kept: list[float] = []
    for edge in sorted(candidates):
        near_exact = any(abs(edge / t - 1) < MIN_EDGE_GAP for t in exact)
        near_kept = bool(kept) and edge / kept[-1] - 1 < MIN_EDGE_GAP
        if not near_exact and not near_kept:
            kept.append(edge)
    merged = sorted({*kept, *exact})
    if len(merged) > MAX_EDGES:  # keep the thresholds, thin the rest evenly
        others = [e for e in merged if e not in exact]
        keep = MAX_EDGES - len(exact)
        stride = len(others) / max(keep, 1)
        merged = sorted({*exact, *(others[int(i * stride)] for i in range(max(keep, 0)))})
    return tuple(merged)


@dataclass(frozen=True)
class Instrument:
    """One metric to collect: its OpenTelemetry name, type and unit, its Prometheus series
    name, the attributes to record, what it shows (``signals``) and why."""

    name: str
    instrument: InstrumentType
    unit: str
    signals: tuple[str, ...]
    why: str
    attributes: tuple[str, ...] = ()
    semconv: bool = True
    prometheus: str = ""
    #: The Prometheus label that names the component in its series: ``job`` for what the
    #: component exports itself, ``server_address`` for what its callers measure,
    #: ``messaging_destination_name`` for a broker, ``k8s_hpa_name`` for an autoscaler.
    component_label: str = "job"

    def __post_init__(self) -> None:
        if not self.prometheus:
            object.__setattr__(
                self, "prometheus", prometheus_name(self.name, self.unit, self.instrument)
            )

    @property
    def series(self) -> tuple[str, ...]:
        """The Prometheus series it produces."""
        if self.instrument == "histogram":
            return tuple(f"{self.prometheus}_{part}" for part in ("bucket", "sum", "count"))
        return (self.prometheus,)


@dataclass(frozen=True)
class ComponentPlan:
    """The instruments of one component and the methods they serve (RED, USE, …)."""

    name: str
    kind: str
    methods: tuple[str, ...]
    instruments: tuple[Instrument, ...]
    notes: tuple[str, ...] = ()

    def instrument(self, name: str) -> Instrument | None:
        return next((i for i in self.instruments if i.name == name), None)


@dataclass(frozen=True)
class InstrumentationPlan:
    """The instrumentation of one candidate: entries, histogram buckets, per component."""

    candidate: str
    entries: tuple[str, ...]
    buckets_s: tuple[float, ...]
    thresholds_s: tuple[float, ...]
    predicted_p50_s: float
    predicted_p99_s: float
    components: tuple[ComponentPlan, ...]
    routes: dict[str, str] = field(default_factory=dict)

    def component(self, name: str) -> ComponentPlan:
        for plan in self.components:
            if plan.name == name:
                return plan
        raise KeyError(name)

    def series(self) -> set[str]:
        """Every Prometheus series name the plan has the system export."""
        return {s for c in self.components for i in c.instruments for s in i.series}

    def to_dict(self) -> dict[str, Any]:
        def finite(value: float) -> float | None:
            return value if math.isfinite(value) else None

        return {
            "candidate": self.candidate,
            "entries": list(self.entries),
            "routes": dict(self.routes),
            "histogram_buckets_s": list(self.buckets_s),
            "slo_thresholds_s": list(self.thresholds_s),
            "predicted_p50_s": finite(self.predicted_p50_s),
            "predicted_p99_s": finite(self.predicted_p99_s),
            "job_label": "the component's name (OpenTelemetry service.name)",
            "components": [
                {
                    "name": c.name,
                    "kind": c.kind,
                    "methods": list(c.methods),
                    "notes": list(c.notes),
                    "instruments": [
                        {**asdict(i), "attributes": list(i.attributes), "series": list(i.series)}
                        for i in c.instruments
                    ],
                }
                for c in self.components
            ],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n"


# --------------------------------------------------------------------------- the instruments

HTTP_DURATION = "http.server.request.duration"
WORKER_COUNT = "app.worker.count"
WORKER_MAX = "app.worker.max"
WORKER_PENDING = "app.worker.pending_requests"
WORKER_REJECTED = "app.worker.rejected"


def _red(what: str) -> Instrument:
    return Instrument(
        HTTP_DURATION,
        "histogram",
        "s",
        ("rate", "errors", "duration"),
        f"RED of {what}: its count is the request rate, error.type marks the errors, its "
        "buckets the latency (every SLO bound is an edge)",
        ("http.request.method", "http.route", "http.response.status_code", "error.type"),
    )


def _use(slots: int, queue_limit: int | None) -> tuple[Instrument, ...]:
    limit = f"; at most {queue_limit} may wait" if queue_limit is not None else ""
    return (
        Instrument(
            WORKER_COUNT,
            "updowncounter",
            "{worker}",
            ("utilisation",),
            f"USE utilisation: slots busy out of {slots} (the model's utilisation)",
            ("app.worker.state",),
            semconv=False,
        ),
        Instrument(
            WORKER_MAX,
            "updowncounter",
            "{worker}",
            ("utilisation",),
            "USE: the slots there are (changes with replicas)",
            semconv=False,
        ),
        Instrument(
            WORKER_PENDING,
            "updowncounter",
            "{request}",
            ("saturation",),
            f"USE saturation: requests waiting for a slot (the model's queue){limit}",
            semconv=False,
        ),
        Instrument(
            WORKER_REJECTED,
            "counter",
            "{request}",
            ("errors",),
            "USE errors: requests turned away (a full queue, load shedding)",
            ("error.type",),
            semconv=False,
        ),
    )


def _broker(what: str) -> tuple[Instrument, ...]:
    group = ("messaging.destination.name", "messaging.consumer.group.name")
    by = "messaging_destination_name"
    return (
        Instrument(
            "messaging.client.sent.messages",
            "counter",
            "{message}",
            ("rate",),
            f"messages published to {what}",
            ("messaging.destination.name", "error.type"),
            component_label=by,
        ),
        Instrument(
            "messaging.client.consumed.messages",
            "counter",
            "{message}",
            ("rate",),
            f"messages delivered from {what}",
            group,
            component_label=by,
        ),
        Instrument(
            "app.messaging.queue.depth",
            "updowncounter",
            "{message}",
            ("depth",),
            "messages waiting: grows without bound when consumers fall behind",
            group,
            semconv=False,
            component_label=by,
        ),
        Instrument(
            "app.messaging.queue.oldest_age",
            "gauge",
            "s",
            ("age",),
            "age of the oldest waiting message: the delay the next delivery adds",
            group,
            semconv=False,
            component_label=by,
        ),
        Instrument(
            "app.messaging.consumer.lag",
            "gauge",
            "s",
            ("lag",),
            "time from publish to delivery (the model's consumer lag)",
            group,
            semconv=False,
            component_label=by,
        ),
    )


def _kind_instruments(
    name: str, component: Any, kind: str
) -> tuple[list[str], list[Instrument], list[str]]:
    """(methods, instruments, notes) of one component by its kind."""
    methods: list[str] = []
    instruments: list[Instrument] = []
    notes: list[str] = []
    if kind in ("service", "load_balancer", "edge"):
        methods.append("RED")
        instruments.append(_red(f"{name}'s requests"))
        instruments.append(
            Instrument(
                "http.server.active_requests",
                "updowncounter",
                "{request}",
                ("concurrency",),
                "requests in progress (served and waiting): Little's law gives the time inside",
                ("http.request.method",),
            )
        )
    if kind == "load_balancer":
        instruments.append(
            Instrument(
                "http.client.request.duration",
                "histogram",
                "s",
                ("balance",),
                "per upstream (server.address): how evenly the policy spreads the load",
                ("server.address", "http.response.status_code", "error.type"),
            )
        )
    if kind == "worker_pool":
        methods.append("RED")
        instruments.append(
            Instrument(
                "messaging.process.duration",
                "histogram",
                "s",
                ("rate", "errors", "duration"),
                f"RED of {name}'s jobs: processing rate, failures (error.type) and time",
                ("messaging.destination.name", "messaging.consumer.group.name", "error.type"),
            )
        )
    if kind in ("queue", "topic"):
        methods.append("depth/age/lag")
        instruments.extend(_broker(name))
        if kind == "topic":
            subscriptions = ", ".join(s.name for s in component.subscriptions)
            notes.append(f"one series per subscription (consumer group): {subscriptions}")
    if kind in ("cache", "database"):
        methods.append("RED")
        instruments.append(
            Instrument(
                "db.client.operation.duration",
                "histogram",
                "s",
                ("rate", "errors", "duration"),
                f"RED of {name} seen from its callers: operations, failures, time",
                ("db.system.name", "db.operation.name", "server.address", "error.type"),
                component_label="server_address",
            )
        )
    if kind in ("cache", "edge"):
        methods.append("hit ratio")
        what = "lookups" if kind == "cache" else "requests"
        instruments.append(
            Instrument(
                f"app.{kind}.{what}",
                "counter",
                "{request}",
                ("hit ratio",),
                f"{what} by app.{kind}.result (hit, miss): the hit ratio the model assumes",
                (f"app.{kind}.result",),
                semconv=False,
            )
        )
    if kind == "cache":
        instruments.append(
            Instrument(
                "app.cache.evictions",
                "counter",
                "{entry}",
                ("evictions",),
                "entries evicted: a rate that rises means the cache is too small for its keys",
                semconv=False,
            )
        )
    if kind == "database":
        if component.read_replicas > 0:
            methods.append("replication lag")
            instruments.append(
                Instrument(
                    "app.db.replication.lag",
                    "gauge",
                    "s",
                    ("replication lag",),
                    f"how far each of the {component.read_replicas} read replicas per shard "
                    "trails its primary (stale reads)",
                    ("db.namespace", "server.address"),
                    semconv=False,
                )
            )
        if component.shards > 1:
            methods.append("per-shard load")
            instruments.append(
                Instrument(
                    "app.db.shard.operations",
                    "counter",
                    "{operation}",
                    ("shard load",),
                    f"operations per shard ({component.shards} shards, "
                    f"{component.partitioning} partitioning): a hot shard saturates first",
                    ("app.db.shard", "db.operation.name"),
                    semconv=False,
                )
            )
    if getattr(component, "autoscale", None) is not None:
        methods.append("replicas and scaling")
        scale = component.autoscale
        instruments.append(
            Instrument(
                "k8s.hpa.current_pods",
                "updowncounter",
                "{pod}",
                ("replicas",),
                f"replicas running ({scale.min_replicas}–{scale.max_replicas}; the autoscaler "
                f"targets {scale.metric} {scale.target:g})",
                ("k8s.hpa.name",),
                component_label="k8s_hpa_name",
            )
        )
        instruments.append(
            Instrument(
                "k8s.hpa.desired_pods",
                "updowncounter",
                "{pod}",
                ("scaling events",),
                "replicas wanted: each change is a scaling event, and wanted > running is the "
                f"boot time ({scale.boot_s:g} s in the model) being paid",
                ("k8s.hpa.name",),
                component_label="k8s_hpa_name",
            )
        )
    if component.capacity > 0:
        methods.append("USE")
        instruments.extend(_use(component.capacity, getattr(component, "queue_limit", None)))
    if not methods:
        notes.append("adds no delay and holds no slots in the model: nothing of its own to watch")
    return methods, instruments, notes


def instrumentation_plan(
    spec: ArchitectureSpec,
    thresholds_s: Sequence[float],
    *,
    predicted_p50_s: float = math.nan,
    predicted_p99_s: float = math.nan,
    routes: dict[str, str] | None = None,
) -> InstrumentationPlan:
    """The instrumentation of ``spec``: every component's instruments, in the spec's order.

    ``thresholds_s`` are the latency SLO bounds (seconds) that must be bucket edges;
    ``predicted_p50_s``/``predicted_p99_s`` the model's figures at peak (finer buckets there);
    ``routes`` maps a request class to the ``http.route`` its per-class SLOs select.
    """
    components = []
    for name, component in spec.components.items():
        methods, instruments, notes = _kind_instruments(name, component, component.kind)
        components.append(
            ComponentPlan(name, component.kind, tuple(methods), tuple(instruments), tuple(notes))
        )
    entries = tuple(dict.fromkeys(entry for _, entry, _ in spec.entries() if entry))
    return InstrumentationPlan(
        candidate=spec.name,
        entries=entries,
        buckets_s=bucket_edges(thresholds_s, predicted_p50_s, predicted_p99_s),
        thresholds_s=tuple(sorted(set(thresholds_s))),
        predicted_p50_s=predicted_p50_s,
        predicted_p99_s=predicted_p99_s,
        components=tuple(components),
        routes=dict(routes or {}),
    )
