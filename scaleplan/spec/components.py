"""What every component kind shares: the components' base model, calls and their resilience
policies (timeouts, retries, circuit breakers, bulkheads), key popularity, autoscaling, failures
and chaos events.

A component kind is one frozen pydantic class with ``kind`` as its tag, in its own module of
:mod:`scaleplan.kinds` beside everything else the kind is (station, estimate, cost, failures,
knobs, drawing). Each tells the graph where its requests go next (``edges()``: target, expected
visits per visit, key path), which kinds its references may name (``references()``), and its
capacity; the base of them all is :class:`_ComponentBase` here.
"""

from __future__ import annotations

import functools
import math
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    Field,
    PositiveInt,
    PrivateAttr,
    field_validator,
    model_validator,
)

from scaleplan.distributions import Distribution
from scaleplan.spec.base import (
    CV,
    MAX_FACTOR,
    NUMBER,
    Count,
    Factor,
    Hours,
    Milliseconds,
    Minutes,
    PositiveSeconds,
    Seconds,
    Servers,
    StrictModel,
    Weight,
)

Policy = Literal[
    "round_robin",
    "random",
    "least_connections",
    "power_of_two",
    "power_of_d",
    "join_shortest_queue",
]
#: How a policy spreads requests (the ``policy`` / ``dispatch`` fields' description).
POLICY_DESCRIPTION = (
    "how a request picks a replica: round_robin, random, least_connections (fewest requests "
    "in service or waiting per unit weight, ties in turn), power_of_two, power_of_d (d "
    "replicas sampled by weight, the least loaded per unit weight wins) or join_shortest_queue "
    "(the textbook rule: fewest requests in service or waiting, weights ignored, ties at "
    "random; with equal weights it counts exactly what least_connections counts)"
)
#: The ``d`` key's description, shared by the balancer and a service's dispatch.
D_DESCRIPTION = (
    "replicas sampled per request by power_of_d (only with that policy); when fewer are in "
    "rotation (autoscaling, crashes) all of them are compared"
)


def check_d(policy: str, d: int, given: bool, key: str) -> None:
    """``d`` belongs to ``power_of_d``: refuse it with any other policy."""
    if given and policy != "power_of_d":
        raise ValueError(
            f"d is the sample size of power_of_d; it was given with {key} {policy} "
            f"(got d {d}): set {key} power_of_d or remove d"
        )


NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_-]*$"
Probability = Annotated[float, Field(ge=0, le=1), NUMBER]
#: Retries of one call at most: each is a term of the expected backoff, and more than a few
#: dozen only hide an outage.
MAX_RETRIES = 1_000
#: The longest circuit-breaker window (outcomes kept per caller and callee).
MAX_WINDOW = 1_000_000
#: The Weibull shapes a time to failure may have: below 0.1 the mean is Γ(1 + 1/k) times the
#: scale, past 10**9 for k = 0.05, and a run sees one failure and nothing else; above 100 it is
#: a constant.
MIN_WEIBULL_SHAPE = 0.1
MAX_WEIBULL_SHAPE = 100.0


# --------------------------------------------------------------------------- resilience


class RetrySpec(StrictModel):
    """Retries of a failed, rejected or timed-out call, with exponential backoff and jitter."""

    max: int = Field(default=2, ge=0, le=MAX_RETRIES, description="retries after the first attempt")
    backoff_ms: Milliseconds = Field(default=50.0, description="wait before the first retry")
    multiplier: float = Field(
        default=2.0, ge=1, le=MAX_FACTOR, description="backoff growth per retry"
    )
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
    window: int = Field(default=20, ge=1, le=MAX_WINDOW)
    min_calls: int = Field(default=10, ge=1, le=MAX_WINDOW)
    open_s: PositiveSeconds = 5.0
    half_open_calls: int = Field(default=1, ge=1, le=MAX_WINDOW)

    @model_validator(mode="after")
    def _can_open(self) -> CircuitBreakerSpec:
        # The window holds at most `window` outcomes: a larger min_calls is never reached.
        if self.min_calls > self.window:
            raise ValueError(
                f"min_calls must be at most window, or the breaker never opens "
                f"(got min_calls {self.min_calls} and window {self.window})"
            )
        return self


#: What a call does on a database: a read or a write (absent: the database's read_ratio draws).
Operation = Literal["read", "write"]


class ChoiceSpec(StrictModel):
    """One target of a call that goes to exactly one of several (``one_of``), chosen with
    probability weight / Σ weights, as a weighted balancer's targets are written."""

    to: str = Field(description="the component called when this target is chosen")
    weight: Weight = Field(default=1.0, description="relative chance of being chosen")


class CallSpec(StrictModel):
    """One entry of a call list: a call to ``to`` (or to exactly one of ``one_of``), or an exit
    (``exit: true``).

    An exit ends a sequential visit successfully with ``probability`` when the request reaches
    it, so the later calls are made only with probability 1 − p: "repeat with p, otherwise
    leave" is ``[{exit: true, probability: 1 - p}, {to: <self>}]`` (Jackson's feedback).

    ``classes`` makes a call for the requests of those classes only (the others skip it, as if
    it were not in the list); ``one_of`` picks one target per call by weight, and the call's
    timeout, retries, circuit breaker and bulkhead act on the chosen one (each target has its
    own breaker and bulkhead); ``operation`` makes a call to a database that read or write
    instead of drawing from the database's ``read_ratio``.
    """

    to: str | None = Field(default=None, description="the component called (absent on an exit)")
    one_of: tuple[ChoiceSpec, ...] | None = Field(
        default=None,
        min_length=2,
        max_length=1_000,
        description="instead of `to`: exactly one of these targets is called, chosen by weight "
        "(retries, timeout, circuit breaker and bulkhead apply to the chosen one)",
    )
    classes: tuple[str, ...] | None = Field(
        default=None,
        min_length=1,
        max_length=1_000,
        description="make the call only for requests of these classes (names of "
        "workload.classes); absent: for every request",
    )
    operation: Operation | None = Field(
        default=None,
        description="to a database: this call is a read or a write (absent: drawn from the "
        "database's read_ratio)",
    )
    exit: bool = Field(
        default=False,
        description="end the visit here, successfully, with `probability`: the later calls "
        "are not made (sequential call lists only)",
    )
    probability: float = Field(default=1.0, ge=0, le=1)
    timeout_ms: Milliseconds | None = Field(
        default=None, description="the caller stops waiting; the callee keeps working"
    )
    retries: RetrySpec | None = None
    circuit_breaker: CircuitBreakerSpec | None = None
    bulkhead: Count | None = Field(
        default=None, description="calls in flight at once from this caller to this callee"
    )
    # The positions of ``classes`` in the workload's classes, bound when the architecture is
    # validated (the engine's requests carry their class's position, not its name).
    _class_indices: frozenset[int] | None = PrivateAttr(default=None)

    @field_validator("retries", mode="before")
    @classmethod
    def _retries_shorthand(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return {"max": value}
        return value

    @field_validator("classes")
    @classmethod
    def _distinct_classes(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is not None and len(set(value)) < len(value):
            twice = sorted({name for name in value if value.count(name) > 1})
            raise ValueError(f"each class is named once (got {', '.join(twice)} twice)")
        return value

    @model_validator(mode="after")
    def _call_or_exit(self) -> CallSpec:
        if not self.exit:
            if self.to is None and self.one_of is None:
                raise ValueError(
                    "a call entry needs `to` (the component called), `one_of` (targets of which "
                    "one is called), or `exit: true` to end the visit there"
                )
            if self.to is not None and self.one_of is not None:
                raise ValueError(
                    f"a call goes `to` one component or to `one_of` several, not both "
                    f"(got to {self.to!r} with one_of)"
                )
            return self
        if self.to is not None or self.one_of is not None:
            found = f"to {self.to!r}" if self.to is not None else "one_of"
            raise ValueError(
                f"an entry is a call (`to` or `one_of`) or an exit (`exit: true`), not both "
                f"(got {found} with exit: true)"
            )
        policies = [
            key
            for key in ("timeout_ms", "retries", "circuit_breaker", "bulkhead")
            if getattr(self, key) is not None
        ]
        if policies:
            raise ValueError(
                f"an exit makes no call, so it takes no resilience policy "
                f"(got {', '.join(policies)} with exit: true)"
            )
        routing = [key for key in ("classes", "operation") if getattr(self, key) is not None]
        if routing:
            raise ValueError(
                f"an exit makes no call, so it takes no classes or operation "
                f"(got {', '.join(routing)} with exit: true)"
            )
        return self

    @property
    def target(self) -> str:
        """The component called (only for a call to one `to`, not an exit or a one_of)."""
        assert self.to is not None, "an exit or a one_of call has no single target"
        return self.to

    def targets(self) -> list[tuple[str, float, str]]:
        """(component, probability it is the one called, key path below the call) of each
        target: one of share 1 for `to`, the weight shares of `one_of`, none for an exit."""
        if self.to is not None:
            return [(self.to, 1.0, "to")]
        if self.one_of is None:
            return []
        total = math.fsum(choice.weight for choice in self.one_of)
        return [
            (choice.to, choice.weight / total, f"one_of[{index}].to")
            for index, choice in enumerate(self.one_of)
        ]

    def applies_to(self, class_name: str) -> bool:
        """Whether a request of class ``class_name`` makes this call."""
        return self.classes is None or class_name in self.classes

    @property
    def resilient(self) -> bool:
        return any(
            item is not None
            for item in (self.timeout_ms, self.retries, self.circuit_breaker, self.bulkhead)
        )


def calls_for_class(calls: tuple[CallSpec, ...], class_name: str) -> tuple[CallSpec, ...]:
    """The call list as a request of ``class_name`` meets it: a call for other classes only
    stays in its place with probability 0 (so every class's list has the same positions)."""
    if all(call.applies_to(class_name) for call in calls):
        return calls
    return tuple(
        call if call.applies_to(class_name) else call.model_copy(update={"probability": 0.0})
        for call in calls
    )


def routes_by_class(components: Any) -> bool:
    """Whether some call of these components (a mapping of name → spec) is for some request
    classes only: the traffic then differs by class."""
    return any(
        call.classes is not None
        for component in components.values()
        for call in getattr(component, "calls", ())
    )


def for_class(component: Any, class_name: str) -> Any:
    """The component as requests of ``class_name`` meet it: its calls for other classes only
    made with probability 0 (the same component when every call is for every class)."""
    calls = getattr(component, "calls", ())
    routed = calls_for_class(calls, class_name)
    return component if routed is calls else component.model_copy(update={"calls": routed})


# --------------------------------------------------------------------------- keys


class KeySpaceSpec(StrictModel):
    """The keys requests touch and how popular each is (key 0 is the most popular).

    ``uniform``; ``zipf`` with exponent ``s`` (p_k ∝ 1/(k+1)^s); or ``hot``: a share
    ``hot_share`` of the accesses spread over the ``hot_keys`` first keys, the rest over the others.
    """

    count: PositiveInt = Field(default=100_000, le=10_000_000)
    popularity: Literal["uniform", "zipf", "hot"] = "uniform"
    s: Factor = Field(default=1.0, description="zipf exponent")
    hot_share: float = Field(default=0.8, gt=0, lt=1)
    hot_keys: Count = 100

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


#: The most slots (replicas × concurrency, at the most replicas) one component may have: every
#: closed form of a station is computed over its servers one by one.
MAX_SLOTS = 1_000_000


class _ComponentBase(StrictModel):
    description: str = ""

    @model_validator(mode="after")
    def _slots_bounded(self) -> _ComponentBase:
        if self.max_capacity > MAX_SLOTS:
            raise ValueError(
                f"has {self.max_capacity:,} slots (replicas × concurrency); at most "
                f"{MAX_SLOTS:,} per component"
            )
        return self

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

    def broker_limits(self, name: str) -> list[tuple[str, int | None, str, str]]:
        """(label, max_messages, when_full, consumer) of each broker this component is (none
        for a kind that holds no messages)."""
        return []

    def own_mean_s(self) -> float:
        """Mean seconds of a visit's own work here (0 for a kind that adds no delay)."""
        distribution = self.own_service_time
        return distribution.mean_s if distribution is not None else 0.0


class AutoscaleSpec(StrictModel):
    """Horizontal autoscaling as Kubernetes' HPA does it: desired = ceil(n · metric / target)."""

    metric: Literal["utilization", "queue_length"] = "utilization"
    target: Factor = Field(description="utilisation in (0, 1], or waiting per replica")
    min_replicas: Servers = 1
    max_replicas: Servers = 10
    interval_s: PositiveSeconds = 15.0
    boot_s: Seconds = Field(default=30.0, description="from decision to serving")
    cooldown_s: Seconds = Field(default=60.0, description="between scale-downs")
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

    mtbf_h: Hours = Field(description="mean time between failures, hours")
    mttr_min: Minutes = Field(description="mean time to repair, minutes")
    distribution: Literal["exponential", "weibull", "lognormal"] = "exponential"
    shape: float = Field(
        default=1.0,
        ge=MIN_WEIBULL_SHAPE,
        le=MAX_WEIBULL_SHAPE,
        description="Weibull shape k (1 is exponential)",
    )
    cv: CV = Field(default=1.0, description="lognormal coefficient of variation")
    repair_distribution: Literal["exponential", "lognormal", "constant"] = "exponential"
    detection_s: Seconds = Field(
        default=10.0, description="health-check delay before traffic avoids a failed replica"
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


# The union of every kind's model (``ComponentSpec``) is built from the registry of kinds,
# :mod:`scaleplan.kinds`, in :mod:`scaleplan.spec.architecture`.


class ChaosEventSpec(StrictModel):
    """A scheduled fault, as in a game day: kill replicas, take a zone down, slow a component
    down, or make it fail every request (a dropped dependency)."""

    at_s: Seconds
    action: Literal["kill_replicas", "zone_outage", "add_latency", "drop_dependency"]
    component: str | None = None
    zone: str | None = None
    count: Servers = 1
    duration_s: PositiveSeconds | None = Field(
        default=None, description="how long until it heals; for ever when absent"
    )
    latency_factor: Factor = Field(default=2.0, description="service time multiplier")

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
