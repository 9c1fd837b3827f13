"""Component kinds of the architecture contract, and the per-call resilience policies.

A component kind is one frozen pydantic class with ``kind`` as its tag. Each tells the graph
where its requests go next (``edges()``: target, expected visits per visit, key path), which
kinds its references may name (``references()``), and its capacity. Each kind's module in
:mod:`scaleplan.kinds` registers its class with everything else the kind is (station, estimate,
cost, failures, knobs, drawing); a new kind's model may live in its own module there.

Kinds: ``service``, ``load_balancer``, ``database`` (shards, read replicas, key popularity),
``cache``, ``edge``, ``queue``, ``topic`` and ``worker_pool``.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    Field,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    field_validator,
    model_validator,
)

from scaleplan.distributions import Constant, Distribution
from scaleplan.spec.base import StrictModel

Policy = Literal["round_robin", "random", "least_connections", "power_of_two"]
NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_-]*$"
Probability = Annotated[float, Field(ge=0, le=1)]


# --------------------------------------------------------------------------- resilience


class RetrySpec(StrictModel):
    """Retries of a failed, rejected or timed-out call, with exponential backoff and jitter."""

    max: NonNegativeInt = Field(default=2, description="retries after the first attempt")
    backoff_ms: PositiveFloat = Field(default=50.0, description="wait before the first retry")
    multiplier: float = Field(default=2.0, ge=1, description="backoff growth per retry")
    jitter: Literal["full", "equal", "none"] = Field(
        default="full", description="full: uniform in [0, backoff]; equal: [backoff/2, backoff]"
    )
    budget: float | None = Field(
        default=None,
        gt=0,
        le=1,
        description="retries allowed per call made (a token bucket, as in gRPC and Finagle)",
    )

    def expected_attempts(self, failure_probability: float) -> float:
        """Attempts per call when each fails independently with ``failure_probability``.

        Examples
        --------
        >>> RetrySpec(max=2).expected_attempts(0.5)
        1.75
        """
        p = failure_probability
        if p >= 1:
            return float(self.max + 1)
        return (1 - p ** (self.max + 1)) / (1 - p)


class CircuitBreakerSpec(StrictModel):
    """Closed → open when the failure ratio over the last ``window`` calls reaches the threshold;
    open for ``open_s``, then half-open: ``half_open_calls`` trial calls decide."""

    failure_ratio: float = Field(default=0.5, gt=0, le=1)
    window: PositiveInt = 20
    min_calls: PositiveInt = 10
    open_s: PositiveFloat = 5.0
    half_open_calls: PositiveInt = 1

    @model_validator(mode="after")
    def _can_open(self) -> CircuitBreakerSpec:
        # The window holds at most `window` outcomes: a larger min_calls is never reached.
        if self.min_calls > self.window:
            raise ValueError(
                f"min_calls must be at most window, or the breaker never opens "
                f"(got min_calls {self.min_calls} and window {self.window})"
            )
        return self


class CallSpec(StrictModel):
    to: str
    probability: float = Field(default=1.0, ge=0, le=1)
    timeout_ms: PositiveFloat | None = Field(
        default=None, description="the caller stops waiting; the callee keeps working"
    )
    retries: RetrySpec | None = None
    circuit_breaker: CircuitBreakerSpec | None = None
    bulkhead: PositiveInt | None = Field(
        default=None, description="calls in flight at once from this caller to this callee"
    )

    @field_validator("retries", mode="before")
    @classmethod
    def _retries_shorthand(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return {"max": value}
        return value

    @property
    def resilient(self) -> bool:
        return any(
            item is not None
            for item in (self.timeout_ms, self.retries, self.circuit_breaker, self.bulkhead)
        )


# --------------------------------------------------------------------------- keys


class KeySpaceSpec(StrictModel):
    """The keys requests touch and how popular each is (key 0 is the most popular).

    ``uniform``; ``zipf`` with exponent ``s`` (p_k ∝ 1/(k+1)^s); or ``hot``: a share
    ``hot_share`` of the accesses spread over the ``hot_keys`` first keys, the rest over the others.
    """

    count: PositiveInt = Field(default=100_000, le=10_000_000)
    popularity: Literal["uniform", "zipf", "hot"] = "uniform"
    s: float = Field(default=1.0, gt=0, description="zipf exponent")
    hot_share: float = Field(default=0.8, gt=0, lt=1)
    hot_keys: PositiveInt = 100

    @model_validator(mode="after")
    def _hot_fits(self) -> KeySpaceSpec:
        if self.popularity == "hot" and self.hot_keys >= self.count:
            raise ValueError(
                f"hot_keys must be fewer than count (got {self.hot_keys} of {self.count})"
            )
        # Keys of another popularity law are likely mistakes: refuse rather than ignore them.
        belongs = {"s": "zipf", "hot_share": "hot", "hot_keys": "hot"}
        for key, law in belongs.items():
            if key in self.model_fields_set and self.popularity != law:
                raise ValueError(
                    f"{key} only applies to popularity {law!r} (got {key} with {self.popularity!r})"
                )
        return self

    @property
    def probabilities(self) -> np.ndarray:
        """Access probability of each key, most popular first (computed once per key space)."""
        return _key_probabilities(self.identity())

    def identity(self) -> tuple[int, str, float, float, int]:
        """The fields that define the key space: equal spaces share cached computations.

        (Caching on the model itself would compare numpy arrays held in its ``__dict__``.)
        """
        return (self.count, self.popularity, self.s, self.hot_share, self.hot_keys)


@functools.lru_cache(maxsize=32)
def _key_probabilities(identity: tuple[int, str, float, float, int]) -> np.ndarray:
    count, popularity, s, hot_share, hot_keys = identity
    if popularity == "zipf":
        weights = 1.0 / np.arange(1, count + 1, dtype=float) ** s
        weights /= weights.sum()
    elif popularity == "hot":
        weights = np.empty(count)
        weights[:hot_keys] = hot_share / hot_keys
        weights[hot_keys:] = (1 - hot_share) / (count - hot_keys)
    else:
        weights = np.full(count, 1.0 / count)
    weights.flags.writeable = False  # shared between callers
    return weights


def _mix64(keys: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser: a fixed, well-spread hash of key ids (as consistent hashing would)."""
    z = keys.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


# --------------------------------------------------------------------------- kinds


class _ComponentBase(StrictModel):
    description: str = ""

    def edges(self) -> list[tuple[str, float, str]]:
        """Where a request goes from here: (target, expected visits per visit, key path)."""
        return []

    def references(self) -> list[tuple[str, str, tuple[str, ...]]]:
        """(key path, named component, kinds it may be; empty for any) of each reference."""
        return [(key, target, ()) for target, _, key in self.edges()]

    def async_targets(self) -> set[str]:
        """Targets reached without the caller waiting (a queue's or a topic's consumers)."""
        return set()

    @property
    def capacity(self) -> int:
        """Requests served at once over all replicas (servers in queueing terms)."""
        return 0

    @property
    def max_capacity(self) -> int:
        """Capacity at the most replicas the component may have (autoscaling)."""
        return self.capacity

    @property
    def own_service_time(self) -> Distribution | None:
        """The time a visit spends being served here, before any call it makes."""
        return getattr(self, "service_time", None)


class AutoscaleSpec(StrictModel):
    """Horizontal autoscaling as Kubernetes' HPA does it: desired = ceil(n · metric / target)."""

    metric: Literal["utilization", "queue_length"] = "utilization"
    target: PositiveFloat = Field(description="utilisation in (0, 1], or waiting per replica")
    min_replicas: PositiveInt = 1
    max_replicas: PositiveInt = 10
    interval_s: PositiveFloat = 15.0
    boot_s: float = Field(default=30.0, ge=0, description="from decision to serving")
    cooldown_s: float = Field(default=60.0, ge=0, description="between scale-downs")
    tolerance: float = Field(default=0.1, ge=0, lt=1, description="no change within ±10%")

    @model_validator(mode="after")
    def _bounds(self) -> AutoscaleSpec:
        if self.max_replicas < self.min_replicas:
            raise ValueError(
                f"max_replicas must be at least min_replicas "
                f"(got {self.max_replicas} < {self.min_replicas})"
            )
        if self.metric == "utilization" and self.target > 1:
            raise ValueError(f"a utilisation target is at most 1 (got {self.target})")
        return self


class BaseFailureSpec(StrictModel):
    """Times to failure and to repair, and how fast a health check notices (every kind)."""

    mtbf_h: PositiveFloat = Field(description="mean time between failures, hours")
    mttr_min: PositiveFloat = Field(description="mean time to repair, minutes")
    distribution: Literal["exponential", "weibull", "lognormal"] = "exponential"
    shape: PositiveFloat = Field(default=1.0, description="Weibull shape k (1 is exponential)")
    cv: PositiveFloat = Field(default=1.0, description="lognormal coefficient of variation")
    repair_distribution: Literal["exponential", "lognormal", "constant"] = "exponential"
    detection_s: float = Field(
        default=10.0, ge=0, description="health-check delay before traffic avoids a failed replica"
    )
    scope: str = "replica"

    @property
    def availability(self) -> float:
        """Steady-state availability of one unit: MTBF / (MTBF + MTTR)."""
        mtbf = self.mtbf_h * 60
        return mtbf / (mtbf + self.mttr_min)


class FailureSpec(BaseFailureSpec):
    """Crashes and repairs of each replica (or of the whole component), and how fast a health
    check notices. Times to failure and to repair are drawn independently for each replica.

    On a cache a replica is a cache node; on a queue or a topic, a broker node."""

    scope: Literal["replica", "component"] = Field(
        default="replica", description="each replica fails alone, or all fail together"
    )


class DatabaseFailureSpec(BaseFailureSpec):
    """Crashes and repairs of a database's nodes, and the failover that follows a primary's loss.

    ``scope: node`` (the default): every node of every shard fails alone; when a shard's primary
    is lost, writes to the shard fail from the crash until a read replica is promoted,
    ``detection_s + failover_s`` later (reads go on on the surviving nodes). A shard without
    read replicas has nothing to fail over to: it is down until its primary is repaired.
    ``scope: shard``: a shard's nodes fail together, each shard independently;
    ``scope: component``: the whole database at once.
    """

    scope: Literal["node", "shard", "component"] = Field(
        default="node", description="what fails as one: a node, a shard, or the whole database"
    )
    failover_s: float = Field(
        default=30.0, ge=0, description="promotion of a read replica, after detection"
    )


class LoadSheddingSpec(StrictModel):
    """Drop a request that waited longer than ``max_wait_ms`` when its turn comes (its caller has
    most likely given up), rather than serve it late (CoDel-style)."""

    max_wait_ms: PositiveFloat


class ServiceSpec(_ComponentBase):
    """A pool of replicas, each serving ``concurrency`` requests at once from its own FIFO queue."""

    kind: Literal["service"]
    replicas: PositiveInt = 1
    concurrency: PositiveInt = Field(default=1, description="requests one replica serves at once")
    queue_limit: NonNegativeInt | None = Field(
        default=None, description="waiting requests per replica; beyond it a request is rejected"
    )
    service_time: Distribution
    calls: tuple[CallSpec, ...] = ()
    parallel: bool = Field(default=False, description="make the calls at once and join them")
    hold_during_calls: bool = Field(
        default=True, description="the slot stays busy while the calls are out"
    )
    dispatch: Policy = Field(
        default="round_robin", description="how a caller picks a replica when calling directly"
    )
    error_probability: Probability = Field(
        default=0.0, description="share of requests that fail after being served"
    )
    load_shedding: LoadSheddingSpec | None = None
    autoscale: AutoscaleSpec | None = None
    failures: FailureSpec | None = None
    zones: tuple[Annotated[str, Field(pattern=NAME_PATTERN)], ...] = Field(
        default=(), description="replica i runs in zones[i mod len(zones)]"
    )

    @model_validator(mode="after")
    def _autoscale_range(self) -> ServiceSpec:
        scale = self.autoscale
        if scale is not None and not scale.min_replicas <= self.replicas <= scale.max_replicas:
            raise ValueError(
                f"replicas must lie within autoscale min_replicas..max_replicas "
                f"(got {self.replicas} outside {scale.min_replicas}..{scale.max_replicas})"
            )
        return self

    def edges(self) -> list[tuple[str, float, str]]:
        return [
            (call.to, call.probability, f"calls[{index}].to")
            for index, call in enumerate(self.calls)
        ]

    @property
    def capacity(self) -> int:
        return self.replicas * self.concurrency

    @property
    def max_capacity(self) -> int:
        most = self.autoscale.max_replicas if self.autoscale is not None else self.replicas
        return most * self.concurrency


class WorkerPoolSpec(ServiceSpec):
    """Workers consuming a queue or a topic subscription: a service fed by a broker, whose slots
    pull the next message when free (one shared FIFO over all replicas)."""

    kind: Literal["worker_pool"]  # type: ignore[assignment]


class WeightedTarget(StrictModel):
    to: str
    weight: PositiveFloat = 1.0


class LoadBalancerSpec(_ComponentBase):
    """Spreads each request over the replicas of its target(s) by ``policy``.

    Adds no delay unless it has a ``service_time``; then it is a station of ``concurrency``
    slots like a service.
    """

    kind: Literal["load_balancer"]
    policy: Policy = "round_robin"
    to: tuple[WeightedTarget, ...] = Field(min_length=1)
    service_time: Distribution | None = None
    concurrency: PositiveInt = 1024

    @field_validator("to", mode="before")
    @classmethod
    def _single_target(cls, value: Any) -> Any:
        if isinstance(value, str):
            return ({"to": value},)
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return tuple({"to": item} for item in value)
        return value

    def edges(self) -> list[tuple[str, float, str]]:
        total = sum(target.weight for target in self.to)
        return [
            (target.to, target.weight / total, f"to[{index}]")
            for index, target in enumerate(self.to)
        ]

    def references(self) -> list[tuple[str, str, tuple[str, ...]]]:
        return [(key, target, ("service",)) for target, _, key in self.edges()]

    @property
    def capacity(self) -> int:
        return self.concurrency if self.service_time is not None else 0


class DatabaseSpec(_ComponentBase):
    """A sharded, replicated data store.

    Each request touches one key drawn from ``keys``; the key's shard is found by ``hash`` or
    ``range`` partitioning (range keeps the most popular keys together: the classic hot shard).
    A read goes to the shard's primary or one of its ``read_replicas`` (by ``read_policy``), a
    write to its primary. Every node serves ``concurrency`` requests at once from its own queue.
    """

    kind: Literal["database"]
    shards: PositiveInt = 1
    partitioning: Literal["hash", "range"] = "hash"
    keys: KeySpaceSpec = KeySpaceSpec()
    read_ratio: Probability = 0.8
    read_replicas: NonNegativeInt = Field(default=0, description="per shard, besides the primary")
    reads_from_primary: bool = True
    read_policy: Policy = "round_robin"
    concurrency: PositiveInt = Field(default=8, description="requests one node serves at once")
    queue_limit: NonNegativeInt | None = None
    read_time: Distribution
    write_time: Distribution | None = Field(default=None, description="defaults to read_time")
    replication_lag: Distribution | None = Field(
        default=None, description="how far read replicas trail the primary"
    )
    failures: DatabaseFailureSpec | None = None

    @model_validator(mode="after")
    def _someone_reads(self) -> DatabaseSpec:
        if not self.reads_from_primary and self.read_replicas == 0 and self.read_ratio > 0:
            raise ValueError("reads_from_primary is false but there are no read_replicas")
        if self.replication_lag is not None and self.read_replicas == 0:
            raise ValueError(
                "replication_lag needs read_replicas to lag behind the primary "
                "(got read_replicas 0)"
            )
        return self

    @property
    def nodes_per_shard(self) -> int:
        return 1 + self.read_replicas

    @property
    def capacity(self) -> int:
        return self.shards * self.nodes_per_shard * self.concurrency

    @property
    def own_service_time(self) -> Distribution:
        return self.read_time

    def mean_service_s(self) -> float:
        write = self.write_time or self.read_time
        return self.read_ratio * self.read_time.mean_s + (1 - self.read_ratio) * write.mean_s

    def shard_of_keys(self) -> np.ndarray:
        """The shard of every key, most popular key first."""
        keys = np.arange(self.keys.count)
        if self.partitioning == "range":
            return (keys * self.shards) // self.keys.count
        return (_mix64(keys) % np.uint64(self.shards)).astype(np.int64)

    def shard_shares(self) -> np.ndarray:
        """Share of the requests that land on each shard (exact, from the key popularity).

        Examples
        --------
        >>> spec = DatabaseSpec(kind="database", shards=2, partitioning="range",
        ...                     read_time={"dist": "constant", "mean_ms": 1})
        >>> spec.shard_shares().round(3).tolist()
        [0.5, 0.5]
        """
        return np.bincount(
            self.shard_of_keys(), weights=self.keys.probabilities, minlength=self.shards
        )


class CacheSpec(_ComponentBase):
    """A cache in front of a ``backing`` component; a miss goes there and fills the cache.

    Give a fixed ``hit_ratio``; or ``keys`` with a ``size`` (entries, LRU) and/or ``ttl_s``, in
    which case the simulation runs a real LRU over the sampled keys (so a cold start and its
    thundering herd appear by themselves) and the analytic referee uses Che's approximation.
    """

    kind: Literal["cache"]
    backing: str
    hit_ratio: Probability | None = None
    keys: KeySpaceSpec | None = None
    size: PositiveInt | None = Field(default=None, description="entries held (LRU)")
    ttl_s: PositiveFloat | None = Field(
        default=None, description="entries expire this long after a fill"
    )
    cold_start: bool = Field(default=False, description="start empty rather than warm")
    restart_at_s: tuple[Annotated[float, Field(ge=0)], ...] = Field(
        default=(), description="times at which the cache restarts empty"
    )
    service_time: Distribution = Constant(dist="constant", mean_ms=0.5)
    replicas: PositiveInt = 1
    concurrency: PositiveInt = 64
    queue_limit: NonNegativeInt | None = None
    failures: FailureSpec | None = Field(
        default=None,
        description="cache nodes crash and come back empty; their lookups go to the backing",
    )

    @model_validator(mode="after")
    def _one_way_to_hit(self) -> CacheSpec:
        keyed = self.keys is not None
        if self.hit_ratio is not None and keyed:
            raise ValueError(
                f"give either hit_ratio or keys, not both (got hit_ratio {self.hit_ratio} and keys)"
            )
        if self.hit_ratio is None and not keyed:
            raise ValueError("give either hit_ratio, or keys with size and/or ttl_s (got neither)")
        if not keyed and (self.size is not None or self.ttl_s is not None):
            found = "size" if self.size is not None else "ttl_s"
            raise ValueError(
                f"{found} only applies to a keyed cache; a fixed hit_ratio has no entries "
                f"(got {found} with hit_ratio {self.hit_ratio})"
            )
        if keyed and self.size is None and self.ttl_s is None:
            raise ValueError("a keyed cache needs size (LRU entries) and/or ttl_s")
        if not keyed and (self.cold_start or self.restart_at_s):
            raise ValueError(
                "cold_start and restart_at_s need keys and size: a fixed hit_ratio has no state"
            )
        return self

    def edges(self) -> list[tuple[str, float, str]]:
        miss = 1 - self.hit_ratio if self.hit_ratio is not None else self.che_miss_ratio(None)
        return [(self.backing, miss, "backing")]

    def che_hit_probabilities(self, rate_per_s: float | None) -> np.ndarray:
        """Steady-state probability that each key is cached when requested.

        Che's approximation for LRU; for a TTL the exact hit ratio of a TTL cache with Poisson
        requests, λT/(1 + λT) per key. Without a rate the TTL is left out, which can only
        overstate the hits (the graph's per-visit figures use that lower bound on misses).
        """
        assert self.keys is not None
        p = self.keys.probabilities
        per_key = np.ones_like(p)
        if self.size is not None and self.size < self.keys.count:
            t_c = che_characteristic_time(self.keys, self.size)
            per_key = -np.expm1(-p * t_c)  # time in requests
        if self.ttl_s is not None and rate_per_s:
            ttl_hit = p * rate_per_s * self.ttl_s / (1 + p * rate_per_s * self.ttl_s)
            per_key = np.minimum(per_key, ttl_hit)
        return per_key

    def che_miss_ratio(self, rate_per_s: float | None) -> float:
        """Steady-state miss ratio (see :meth:`che_hit_probabilities`)."""
        if self.hit_ratio is not None:
            return 1 - self.hit_ratio
        assert self.keys is not None
        return float(1 - np.dot(self.keys.probabilities, self.che_hit_probabilities(rate_per_s)))

    @property
    def capacity(self) -> int:
        return self.replicas * self.concurrency


def che_characteristic_time(keys: KeySpaceSpec, size: int) -> float:
    """Solve Σ (1 − e^{−p_k t}) = size for t, in requests (Che, Tung and Wang 2002).

    Cached: a million keys take a noticeable fraction of a second, and the explorer and the
    graph ask for the same cache again and again.
    """
    return _che_time(keys.identity(), size)


@functools.lru_cache(maxsize=64)
def _che_time(identity: tuple[int, str, float, float, int], size: int) -> float:
    from scipy.optimize import brentq

    p = _key_probabilities(identity)

    def filled(t: float) -> float:
        return float(np.sum(-np.expm1(-p * t))) - size

    # Σ(1 − e^{−p t}) ≤ Σ p t = t, so the root is at least `size`: start the search there.
    high = float(size)
    while filled(high) < 0:
        high *= 2
    return float(brentq(filled, high / 2 if high > size else 0.0, high, xtol=1e-9, rtol=1e-12))


class EdgeSpec(_ComponentBase):
    """Work moved to the edge or the front end: a ``share`` of requests is answered there with
    its own latency; the rest goes on to ``to``."""

    kind: Literal["edge"]
    to: str
    share: Probability = Field(description="share of requests answered at the edge")
    service_time: Distribution = Constant(dist="constant", mean_ms=5)
    concurrency: PositiveInt = 4096

    def edges(self) -> list[tuple[str, float, str]]:
        return [(self.to, 1 - self.share, "to")]

    @property
    def capacity(self) -> int:
        return self.concurrency


class _BrokerFields(StrictModel):
    # Not called ``capacity``: that is every component's number of slots.
    max_messages: PositiveInt | None = Field(
        default=None, description="messages waiting at most (the broker's capacity); unbounded"
    )
    when_full: Literal["reject", "block"] = "reject"
    max_retries: NonNegativeInt = Field(default=0, description="redeliveries of a failed job")
    retry_backoff_ms: PositiveFloat = 100.0


class QueueSpec(_ComponentBase, _BrokerFields):
    """A message queue: the producer publishes and goes on; a worker pool consumes.

    A job that fails is redelivered up to ``max_retries`` times after a backoff, then counted as
    dead-lettered.
    """

    kind: Literal["queue"]
    consumer: str
    nodes: PositiveInt = Field(default=1, description="broker nodes (billed per node-hour)")
    publish_time: Distribution | None = Field(
        default=None, description="time the producer waits for the broker's acknowledgement"
    )
    failures: FailureSpec | None = Field(
        default=None, description="broker nodes crash; publishes fail without a majority up"
    )

    def edges(self) -> list[tuple[str, float, str]]:
        return [(self.consumer, 1.0, "consumer")]

    def references(self) -> list[tuple[str, str, tuple[str, ...]]]:
        return [("consumer", self.consumer, ("worker_pool",))]

    def async_targets(self) -> set[str]:
        return {self.consumer}

    @property
    def own_service_time(self) -> Distribution | None:
        return self.publish_time


class SubscriptionSpec(_BrokerFields):
    name: str = Field(pattern=NAME_PATTERN)
    consumer: str


class TopicSpec(_ComponentBase):
    """Publish once, deliver to every subscription, each with its own queue and consumer group."""

    kind: Literal["topic"]
    nodes: PositiveInt = Field(default=1, description="broker nodes (billed per node-hour)")
    subscriptions: tuple[SubscriptionSpec, ...] = Field(min_length=1)
    publish_time: Distribution | None = None
    failures: FailureSpec | None = Field(
        default=None, description="broker nodes crash; publishes fail without a majority up"
    )

    @field_validator("subscriptions")
    @classmethod
    def _unique(cls, value: tuple[SubscriptionSpec, ...]) -> tuple[SubscriptionSpec, ...]:
        names = [item.name for item in value]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"subscription names must be unique (got {twice} twice)")
        return value

    def edges(self) -> list[tuple[str, float, str]]:
        return [
            (item.consumer, 1.0, f"subscriptions[{index}].consumer")
            for index, item in enumerate(self.subscriptions)
        ]

    def references(self) -> list[tuple[str, str, tuple[str, ...]]]:
        return [(key, target, ("worker_pool",)) for target, _, key in self.edges()]

    def async_targets(self) -> set[str]:
        return {item.consumer for item in self.subscriptions}

    @property
    def own_service_time(self) -> Distribution | None:
        return self.publish_time


# The union of every kind's model (``ComponentSpec``) is built from the registry of kinds,
# :mod:`scaleplan.kinds`, in :mod:`scaleplan.spec.architecture`.


class ChaosEventSpec(StrictModel):
    """A scheduled fault, as in a game day: kill replicas, take a zone down, slow a component
    down, or make it fail every request (a dropped dependency)."""

    at_s: float = Field(ge=0)
    action: Literal["kill_replicas", "zone_outage", "add_latency", "drop_dependency"]
    component: str | None = None
    zone: str | None = None
    count: PositiveInt = 1
    duration_s: PositiveFloat | None = Field(
        default=None, description="how long until it heals; for ever when absent"
    )
    latency_factor: float = Field(default=2.0, gt=0, description="service time multiplier")

    @model_validator(mode="after")
    def _target(self) -> ChaosEventSpec:
        if self.action == "zone_outage":
            if self.zone is None:
                raise ValueError("a zone_outage needs a zone")
        elif self.component is None:
            raise ValueError(f"{self.action} needs a component")
        return self


def expected_queue_attempts(failure_probability: float, max_retries: int) -> float:
    """Deliveries per message when each fails with ``failure_probability`` (geometric, capped)."""
    p = failure_probability
    if p >= 1:
        return float(max_retries + 1)
    return (1 - p ** (max_retries + 1)) / (1 - p) if p > 0 else 1.0
