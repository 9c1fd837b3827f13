"""Hypothesis strategies that build random, valid architectures from every kind and feature.

:func:`architectures` draws one :class:`Example`: the spec dict exactly as a user would write it
in YAML, the validated :class:`~scaleplan.spec.ArchitectureSpec` made from it by
:func:`~scaleplan.spec.parse_spec`, and the load it was given. The architecture is a call tree
grown from the entry (a callee is always a new component, or one whose own subtree is already
complete, so there is no call cycle), at most :data:`MAX_COMPONENTS` components. Kinds and
features drawn:

- ``service`` and ``worker_pool``: replicas, concurrency, ``queue_limit``, every service-time
  distribution, sequential (with exits) or ``parallel`` calls with probabilities,
  ``hold_during_calls``, ``dispatch`` policy (and ``d``), ``error_probability``,
  ``load_shedding``, ``autoscale``, ``failures``, ``zones``, ``preemptive``; a service's
  ``discipline`` (``lifo``, or ``ps`` with or without an ``admission_limit``); per call
  ``timeout_ms``, ``retries``, ``circuit_breaker`` and ``bulkhead``; a call to ``one_of``
  two targets by weight, for some request ``classes`` only, or naming its database
  ``operation`` (read or write);
- ``load_balancer`` of each policy (``power_of_d`` with or without ``d``), one target or several
  weighted ones (equal for ``join_shortest_queue``; services, or any kind as a whole component),
  with or without a service time;
- ``database``: shards (hash or range), key popularity (uniform, Zipf, hot keys), read/write
  mix, read replicas, ``reads_from_primary``, read policy, write time, replication lag;
- ``cache``: a fixed ``hit_ratio``, or an LRU and/or TTL over a key space (cold start,
  restarts), in front of a service, a database or a load balancer;
- ``edge``; ``queue`` with its worker pool; ``topic`` with one to three subscriptions;
- the workload: Poisson, constant, bursty, diurnal (a day of half a run, or ``long_day``, of
  fifty runs) or profile arrivals (four phases, one with a class mix), warm-up, request
  classes with entries and priorities of their own; chaos events (kills, zone outages, added
  latency, dropped dependencies) inside the run;
- a closed workload (``closed``, a fifth of the specs): 1 to 40 users, split over the classes
  by weight or given per class, and a think time of any distribution whose mean puts the
  users' think-only rate N / Z at the same factor of the bound as an open load (sometimes no
  think time at all: the users saturate the bottleneck); with classes, now and then a mixed
  workload (``mixed``: the last class open, at 0.3 of that rate).

The load is set from the analytic bottleneck bound (:func:`scaleplan.analytic.bottleneck`):
a factor in (0.1, 0.8) of what the busiest station can carry, so that most runs are stable,
and now and then (``overload``) a factor above 1, which must be refused cleanly.

``exclude`` leaves features out by name (see :data:`FEATURES`): a test whose invariant is
broken by a feature that is still being fixed draws the others meanwhile.
"""

from __future__ import annotations

import atexit
import copy
import hashlib
import math
import shutil
import tempfile
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

from hypothesis import strategies as st

from scaleplan.analytic import bottleneck
from scaleplan.errors import ScaleplanError
from scaleplan.spec import ArchitectureSpec, parse_spec
from scaleplan.spec.components import Policy

MAX_COMPONENTS = 8
#: Requests each simulation of an example runs (the workload's own ``requests``).
BUDGET = 400

# Every policy the spec knows, so a new one is drawn as soon as it is added.
POLICIES: tuple[str, ...] = get_args(Policy)
#: A database's readers take every policy but power_of_d (it has no d).
READ_POLICIES = tuple(policy for policy in POLICIES if policy != "power_of_d")

#: Every feature the generator can leave out (``architectures(exclude=...)``).
FEATURES = frozenset(
    {
        # kinds
        "load_balancer",
        "database",
        "cache",
        "edge",
        "queue",
        "topic",
        # service features
        "parallel",
        "no_hold",
        "queue_limit",
        "errors",
        "load_shedding",
        "autoscale",
        "failures",
        "zones",
        "autoscale_with_failures",
        "lifo",
        "ps",
        "preemptive",
        # per call
        "timeout",
        "retries",
        "circuit_breaker",
        "bulkhead",
        # data stores
        "shards",
        "read_replicas",
        "replication_lag",
        "keyed_cache",
        "failures_on_data_stores",
        "broker_nodes",
        "chaos_on_data_stores",
        # sharing a callee between two callers (a DAG rather than a tree)
        "shared",
        # a service calling itself (with hold_during_calls: false)
        "self_feedback",
        # an exit in a sequential call list; a balancer over kinds other than services
        "exits",
        "balancer_any_kind",
        # routing per call: one of several targets by weight, a call for some classes only, a
        # read or a write named on a call to a database
        "one_of",
        "call_classes",
        "operation",
        # workload
        "bursty",
        "diurnal",
        "long_day",
        "constant",
        "trace",
        "profile",
        "classes",
        "priorities",
        "closed",
        "mixed",
        "chaos",
        "empirical",
    }
)


@dataclass(frozen=True)
class Example:
    """One generated architecture and the load it was given."""

    data: dict[str, Any]
    spec: ArchitectureSpec
    bound_per_s: float  # the analytic bottleneck bound at the example's rate
    bottleneck: str  # the station that limits it
    factor: float  # the rate over the bound asked for when drawing
    overloaded: bool  # the rate passes the bound (at the final rate)
    features: frozenset[str] = field(default_factory=frozenset)

    @property
    def rate_per_s(self) -> float:
        """The mean arrival rate; a closed workload's: the rate its users about send."""
        if self.spec.workload.closed:
            from scaleplan.analytic.closed import rough_throughput

            return rough_throughput(self.spec)
        return self.spec.workload.mean_rate_per_s

    @property
    def horizon_s(self) -> float:
        """Simulated seconds for :data:`BUDGET` requests at the example's rate."""
        return BUDGET / self.rate_per_s

    def __repr__(self) -> str:  # Hypothesis prints this for a falsifying example
        return (
            f"Example(factor={self.factor:.3g}, overloaded={self.overloaded}, data={self.data!r})"
        )


# --------------------------------------------------------------------------- distributions


def coin(draw: Callable[..., Any], p: float) -> bool:
    """True with probability about ``p``; False is the simpler side that Hypothesis shrinks to.

    (A float in [0, 1] or a wide integer range comes out near 0 far more often than its share;
    a choice among a hundred is close to uniform.)
    """
    return draw(st.sampled_from(range(100))) >= round((1 - p) * 100)


def _ms(draw: Callable[..., Any], low: float, high: float) -> float:
    """A time in milliseconds, rounded so that the spec reads like a hand-written one."""
    value = draw(st.floats(min_value=low, max_value=high, allow_nan=False))
    return float(f"{value:.3g}")


def distribution(draw: Callable[..., Any], low: float, high: float, empirical: bool) -> dict:
    """A service-time distribution of any kind with a mean in about [low, high] ms."""
    kinds = ["exponential", "constant", "lognormal", "lognormal_pct", "gamma", "uniform"]
    if empirical:
        kinds.append("empirical")
    kind = draw(st.sampled_from(kinds))
    mean = _ms(draw, low, high)
    cv = draw(st.sampled_from([0.3, 0.5, 1.0, 1.5]))
    if kind in ("exponential", "constant"):
        return {"dist": kind, "mean_ms": mean}
    if kind == "lognormal":
        return {"dist": "lognormal", "mean_ms": mean, "cv": cv}
    if kind == "lognormal_pct":
        return {"dist": "lognormal", "p50_ms": mean, "p99_ms": float(f"{mean * 4:.3g}")}
    if kind == "gamma":
        return {"dist": "gamma", "mean_ms": mean, "cv": cv}
    if kind == "uniform":
        if draw(st.booleans()):
            return {"dist": "uniform", "low_ms": float(f"{mean / 2:.3g}"), "high_ms": mean * 2}
        return {"dist": "uniform", "mean_ms": mean, "cv": 0.5}
    samples = draw(st.lists(st.sampled_from([0.5, 1.0, 2.0, 5.0, 10.0, 20.0]), min_size=2))
    return {"dist": "empirical", "samples_ms": [round(s * mean / 5, 3) or 0.1 for s in samples]}


# --------------------------------------------------------------------------- the builder


class _Builder:
    """Grows the call tree from the entry; a callee is a new component or a finished one."""

    def __init__(
        self,
        draw: Callable[..., Any],
        exclude: Collection[str],
        size: int,
        bias: Mapping[str, float],
    ):
        self.draw = draw
        self.exclude = frozenset(exclude)
        self.bias = dict(bias)
        self.size = size
        self.components: dict[str, dict[str, Any]] = {}
        self.finished: list[str] = []  # components whose subtree is complete
        self.used: set[str] = set()

    # ---------------------------------------------------------------- helpers

    def has(self, feature: str) -> bool:
        return feature not in self.exclude

    def chance(self, feature: str, p: float = 0.3) -> bool:
        """Draw whether to use ``feature`` (never when it is excluded; ``bias`` may override
        the chance ``p``)."""
        if not self.has(feature):
            return False
        taken = coin(self.draw, self.bias.get(feature, p))
        if taken:
            self.used.add(feature)
        return taken

    def room(self, count: int = 1) -> bool:
        return len(self.components) + count <= self.size

    def reserve(self, kind: str) -> str:
        index = sum(1 for name in self.components if name.startswith(kind.replace("_", "")))
        name = f"{kind.replace('_', '')}{index + 1}"
        self.components[name] = {"kind": kind}
        return name

    def dist(self, low: float, high: float) -> dict[str, Any]:
        empirical = self.has("empirical")
        taken = distribution(self.draw, low, high, empirical)
        if taken["dist"] == "empirical":
            self.used.add("empirical")
        return taken

    # ---------------------------------------------------------------- kinds

    def build(self, kind: str, depth: int) -> str:
        builders = {
            "service": self.service,
            "worker_pool": self.service,
            "load_balancer": self.load_balancer,
            "database": self.database,
            "cache": self.cache,
            "edge": self.edge,
            "queue": self.queue,
            "topic": self.topic,
        }
        name = self.reserve(kind)
        builders[kind](name, depth)
        self.finished.append(name)
        self.used.add(kind)
        return name

    def callee(self, depth: int, kinds: tuple[str, ...] | None = None) -> str | None:
        """A new component to call (or a finished one to share), or None when there is no room."""
        if kinds is None:
            kinds = ("service", "database", "cache", "load_balancer", "edge", "queue", "topic")
        # A queue or a topic needs its worker pool as well.
        options = [
            kind
            for kind in kinds
            if (kind == "service" or self.has(kind))
            and self.room(2 if kind in ("queue", "topic") else 1)
            and (depth < 4 or kind in ("service", "database"))
        ]
        shareable = [
            name
            for name in self.finished
            if self.components[name]["kind"] in kinds
            and self.components[name]["kind"] in ("service", "database", "cache")
        ]
        share = bool(shareable) and self.has("shared") and coin(self.draw, 0.25)
        if share or (not options and shareable and self.has("shared")):
            self.used.add("shared")
            return self.draw(st.sampled_from(shareable))
        if not options:
            return None
        weights = {"service": 5, "database": 2, "cache": 2, "load_balancer": 2, "queue": 2}
        pool = [kind for kind in options for _ in range(weights.get(kind, 1))]
        return self.build(self.draw(st.sampled_from(pool)), depth + 1)

    def service(self, name: str, depth: int) -> None:
        component = self.components[name]
        replicas = self.draw(st.integers(1, 4))
        component.update(
            replicas=replicas,
            concurrency=self.draw(st.sampled_from([1, 2, 4, 8])),
            service_time=self.dist(0.5, 40),
        )
        if self.chance("queue_limit", 0.2):
            component["queue_limit"] = self.draw(st.integers(0, 40))
        calls = []
        for _ in range(max(depth == 0, self.draw(st.sampled_from([1, 2, 3, 2, 0])))):
            target = self.callee(depth)
            if target is None:
                break
            call = self.call(target)
            if self.has("one_of") and coin(self.draw, self.bias.get("one_of", 0.15)):
                other = self.callee(depth)
                if other is not None and other != target:
                    # exactly one of the two, by weight; its policies act on the chosen one
                    self.used.add("one_of")
                    weights = st.sampled_from([1.0, 1.0, 3.0])
                    call["one_of"] = [
                        {"to": call.pop("to"), "weight": self.draw(weights)},
                        {"to": other, "weight": self.draw(weights)},
                    ]
            calls.append(call)
        feedback = self.chance("self_feedback", 0.08)
        if feedback:
            # Bernoulli feedback: the request comes back to this service (Jackson's p_ii > 0),
            # which only a service that releases its slot before its calls may do.
            call = self.call(name)
            call["probability"] = self.draw(st.sampled_from([0.1, 0.3, 0.5]))
            calls.insert(self.draw(st.integers(0, len(calls))), call)
        if calls:
            component["calls"] = calls
            if len(calls) > 1 and self.chance("parallel", 0.4):
                component["parallel"] = True
            if feedback or self.chance("no_hold", 0.25):
                component["hold_during_calls"] = False
            if not component.get("parallel") and self.chance("exits", 0.2):
                # The visit ends here with p (successfully); the later calls get 1 − p of it.
                exit_entry: dict[str, Any] = {"exit": True}
                if coin(self.draw, 0.8):
                    exit_entry["probability"] = self.draw(st.sampled_from([0.2, 0.5, 0.7]))
                calls.insert(self.draw(st.integers(0, len(calls))), exit_entry)
        if self.draw(st.booleans()):
            component["dispatch"] = self.draw(st.sampled_from(POLICIES))
        if component["kind"] == "service":  # a worker pool pulls from its broker: fifo only
            if self.chance("ps", 0.15):
                component["discipline"] = "ps"
                if self.draw(st.booleans()):
                    factor = self.draw(st.sampled_from([1, 2, 8]))
                    component["admission_limit"] = component["concurrency"] * factor
            elif self.chance("lifo", 0.1):
                component["discipline"] = "lifo"
        if self.chance("errors", 0.2):
            component["error_probability"] = self.draw(st.sampled_from([0.001, 0.01, 0.05]))
        if self.chance("load_shedding", 0.15):
            component["load_shedding"] = {"max_wait_ms": _ms(self.draw, 5, 500)}
        # Preemption takes a slot from a request; under ps the admitted share the processors.
        if component.get("discipline") != "ps" and self.chance("preemptive", 0.2):
            component["preemptive"] = True
        autoscaled = self.chance("autoscale", 0.2)
        if autoscaled:
            low = self.draw(st.integers(1, replicas))
            high = self.draw(st.integers(replicas, replicas + 4))
            metric = self.draw(st.sampled_from(["utilization", "queue_length"]))
            component["autoscale"] = {
                "metric": metric,
                "target": self.draw(st.sampled_from([0.5, 0.7]))
                if metric == "utilization"
                else self.draw(st.sampled_from([1.0, 4.0])),
                "min_replicas": low,
                "max_replicas": high,
                "interval_s": self.draw(st.sampled_from([2.0, 15.0])),
                "boot_s": self.draw(st.sampled_from([0.0, 1.0, 5.0])),
                "cooldown_s": self.draw(st.sampled_from([0.0, 10.0])),
            }
        most = component["autoscale"]["max_replicas"] if autoscaled else replicas
        if component.get("dispatch") == "power_of_d" and most >= 2 and self.draw(st.booleans()):
            component["d"] = self.draw(st.integers(2, most))
        if (not autoscaled or self.has("autoscale_with_failures")) and self.chance(
            "failures", 0.25
        ):
            if autoscaled:
                self.used.add("autoscale_with_failures")
            component["failures"] = self.failures()
        if self.chance("zones", 0.25):
            component["zones"] = self.draw(
                st.sampled_from([["a"], ["a", "b"], ["a", "b", "c"], ["b", "c"]])
            )

    def failures(self, scopes: tuple[str, ...] = ("replica", "component")) -> dict[str, Any]:
        """A ``failures:`` block; ``scopes`` are the kind's (a database's node, shard, ...)."""
        spec: dict[str, Any] = {
            "mtbf_h": self.draw(st.sampled_from([0.05, 0.5, 2.0, 5.0])),
            "mttr_min": self.draw(st.sampled_from([0.5, 3.0, 20.0])),
        }
        law = self.draw(st.sampled_from(["exponential", "weibull", "lognormal"]))
        if law != "exponential":
            spec["distribution"] = law
            if law == "weibull":
                spec["shape"] = self.draw(st.sampled_from([0.7, 1.5]))
            else:
                spec["cv"] = self.draw(st.sampled_from([0.5, 1.5]))
        if self.draw(st.booleans()):
            spec["repair_distribution"] = self.draw(
                st.sampled_from(["exponential", "lognormal", "constant"])
            )
        if coin(self.draw, 0.3):
            spec["scope"] = self.draw(st.sampled_from(scopes[1:]))
        spec["detection_s"] = self.draw(st.sampled_from([0.0, 5.0, 30.0]))
        if "shard" in scopes and self.draw(st.booleans()):
            spec["failover_s"] = self.draw(st.sampled_from([0.0, 5.0, 30.0]))
        return spec

    def call(self, target: str) -> dict[str, Any]:
        call: dict[str, Any] = {"to": target}
        if coin(self.draw, 0.4):
            call["probability"] = self.draw(st.sampled_from([0.1, 0.3, 0.5, 0.9]))
        if self.chance("timeout", 0.25):
            call["timeout_ms"] = _ms(self.draw, 5, 2000)
        if self.chance("retries", 0.2):
            if self.draw(st.booleans()):
                call["retries"] = self.draw(st.integers(0, 3))
            else:
                retries: dict[str, Any] = {
                    "max": self.draw(st.integers(0, 3)),
                    "backoff_ms": _ms(self.draw, 1, 100),
                    "jitter": self.draw(st.sampled_from(["full", "equal", "none"])),
                }
                if self.draw(st.booleans()):
                    retries["budget"] = self.draw(st.sampled_from([0.1, 0.2, 1.0]))
                call["retries"] = retries
        if self.chance("circuit_breaker", 0.15):
            window = self.draw(st.integers(5, 50))
            call["circuit_breaker"] = {
                "failure_ratio": self.draw(st.sampled_from([0.2, 0.5, 1.0])),
                "window": window,
                "min_calls": self.draw(st.integers(1, window)),
                "open_s": self.draw(st.sampled_from([0.1, 1.0, 5.0])),
                "half_open_calls": self.draw(st.integers(1, 3)),
            }
        if self.chance("bulkhead", 0.15):
            call["bulkhead"] = self.draw(st.integers(1, 40))
        return call

    def load_balancer(self, name: str, depth: int) -> None:
        component = self.components[name]
        component["policy"] = self.draw(st.sampled_from(POLICIES))
        targets = []
        # Services (per replica) or, as whole components, any kind that serves requests.
        kinds = (
            ("service", "database", "cache", "load_balancer", "edge", "queue", "topic")
            if self.chance("balancer_any_kind", 0.4)
            else ("service",)
        )
        for _ in range(self.draw(st.integers(1, 2))):
            target = self.callee(depth, kinds)
            if target is None or target in targets:
                break
            targets.append(target)
        if not targets:  # no room left: the balancer still needs one service behind it
            target = self.reserve("service")
            self.service(target, 99)
            self.finished.append(target)
            targets.append(target)
        if component["policy"] == "power_of_d" and self.draw(st.booleans()):
            component["d"] = self.draw(st.integers(2, 5))  # past the replicas: all compared
        if component["policy"] == "join_shortest_queue" and len(targets) > 1:
            component["to"] = targets  # JSQ ignores weights, so the spec refuses unequal ones
        elif len(targets) > 1 or self.draw(st.booleans()):
            component["to"] = [
                {"to": target, "weight": self.draw(st.sampled_from([1.0, 2.0, 5.0]))}
                for target in targets
            ]
        else:
            component["to"] = targets[0]
        if coin(self.draw, 0.3):
            component["service_time"] = self.dist(0.1, 2)
            component["concurrency"] = self.draw(st.sampled_from([16, 64, 1024]))

    def keys(self) -> dict[str, Any]:
        count = self.draw(st.sampled_from([50, 500, 5000]))
        keys: dict[str, Any] = {"count": count}
        popularity = self.draw(st.sampled_from(["uniform", "zipf", "hot"]))
        if popularity == "zipf":
            keys.update(popularity="zipf", s=self.draw(st.sampled_from([0.6, 1.0, 1.3])))
        elif popularity == "hot":
            keys.update(
                popularity="hot",
                hot_share=self.draw(st.sampled_from([0.5, 0.9])),
                hot_keys=self.draw(st.sampled_from([1, 10])),
            )
        return keys

    def database(self, name: str, depth: int) -> None:
        component = self.components[name]
        component.update(
            concurrency=self.draw(st.sampled_from([1, 4, 8])),
            read_time=self.dist(0.5, 20),
            read_ratio=self.draw(st.sampled_from([0.0, 0.5, 0.8, 1.0])),
        )
        if self.chance("shards", 0.5):
            component["shards"] = self.draw(st.integers(2, 4))
            component["partitioning"] = self.draw(st.sampled_from(["hash", "range"]))
        if self.draw(st.booleans()):
            component["keys"] = self.keys()
        if self.chance("read_replicas", 0.5):
            component["read_replicas"] = self.draw(st.integers(1, 2))
            component["read_policy"] = self.draw(st.sampled_from(READ_POLICIES))
            if coin(self.draw, 0.3):
                component["reads_from_primary"] = False
            if self.chance("replication_lag", 0.3):
                component["replication_lag"] = self.dist(1, 100)
        if self.draw(st.booleans()):
            component["write_time"] = self.dist(1, 30)
        if self.chance("queue_limit", 0.15):
            component["queue_limit"] = self.draw(st.integers(0, 40))
        if self.chance("failures_on_data_stores", 0.2):
            component["failures"] = self.failures(("node", "shard", "component"))

    def cache(self, name: str, depth: int) -> None:
        component = self.components[name]
        backing = self.callee(depth, ("database", "service", "load_balancer"))
        if backing is None:
            backing = self.reserve("database")
            self.database(backing, 99)
            self.finished.append(backing)
        component["backing"] = backing
        if self.chance("keyed_cache", 0.5):
            keys = self.keys()
            component["keys"] = keys
            if coin(self.draw, 0.8):
                component["size"] = max(1, keys["count"] // self.draw(st.sampled_from([2, 10])))
            if "size" not in component or self.draw(st.booleans()):
                component["ttl_s"] = self.draw(st.sampled_from([0.5, 5.0, 60.0]))
            if coin(self.draw, 0.3):
                component["cold_start"] = True
            if coin(self.draw, 0.2):
                component["restart_at_s"] = [0.5]
        else:
            component["hit_ratio"] = self.draw(st.sampled_from([0.0, 0.5, 0.9, 1.0]))
        if self.draw(st.booleans()):
            component["service_time"] = self.dist(0.1, 2)
        if self.draw(st.booleans()):
            component["replicas"] = self.draw(st.integers(1, 3))
            component["concurrency"] = self.draw(st.sampled_from([4, 64]))
        if self.chance("failures_on_data_stores", 0.15):
            component["failures"] = self.failures()

    def edge(self, name: str, depth: int) -> None:
        component = self.components[name]
        target = self.callee(depth, ("service", "load_balancer", "cache"))
        if target is None:
            target = self.reserve("service")
            self.service(target, 99)
            self.finished.append(target)
        component.update(to=target, share=self.draw(st.sampled_from([0.0, 0.3, 0.65, 0.95])))
        if self.draw(st.booleans()):
            component["service_time"] = self.dist(1, 10)

    def broker_nodes(self, component: dict[str, Any]) -> None:
        if self.chance("broker_nodes", 0.3):
            component["nodes"] = self.draw(st.integers(2, 3))
        if self.chance("failures_on_data_stores", 0.15):
            component["failures"] = self.failures()

    def broker(self, component: dict[str, Any]) -> None:
        if coin(self.draw, 0.3):
            component["max_messages"] = self.draw(st.sampled_from([1, 10, 1000]))
            component["when_full"] = self.draw(st.sampled_from(["reject", "block"]))
        if coin(self.draw, 0.3):
            component["max_retries"] = self.draw(st.integers(0, 3))
            component["retry_backoff_ms"] = _ms(self.draw, 1, 200)

    def worker_pool(self, depth: int) -> str:
        return self.build("worker_pool", depth + 1)

    def queue(self, name: str, depth: int) -> None:
        component = self.components[name]
        component["consumer"] = self.worker_pool(depth)
        self.broker(component)
        self.broker_nodes(component)
        if self.draw(st.booleans()):
            component["publish_time"] = self.dist(0.1, 3)

    def topic(self, name: str, depth: int) -> None:
        component = self.components[name]
        subscriptions = []
        for index in range(self.draw(st.integers(1, 3))):
            if index and not self.room():
                break
            subscription: dict[str, Any] = {
                "name": f"sub{index + 1}",
                "consumer": self.worker_pool(depth),
            }
            self.broker(subscription)
            subscriptions.append(subscription)
        component["subscriptions"] = subscriptions
        self.broker_nodes(component)
        if self.draw(st.booleans()):
            component["publish_time"] = self.dist(0.1, 3)


# --------------------------------------------------------------------------- the whole spec


def _workload(draw: Callable[..., Any], builder: _Builder) -> dict[str, Any]:
    arrivals = ["poisson", "poisson"] + [
        kind for kind in ("constant", "bursty", "diurnal", "trace", "profile") if builder.has(kind)
    ]
    arrival = draw(st.sampled_from(arrivals))
    workload: dict[str, Any] = {"arrival": arrival, "requests": BUDGET}
    if arrival != "poisson":
        builder.used.add(arrival)
    workload["warmup"] = draw(st.sampled_from(["auto", "none", 0.1]))
    return workload


_TRACES: list[Path] = []


def _trace_file(mean_rate: float) -> Path:
    """A recorded trace of :data:`BUDGET` arrivals at ``mean_rate`` (uneven gaps), written once
    per rate into a folder that lives as long as the test session."""
    if not _TRACES:
        folder = Path(tempfile.mkdtemp(prefix="scaleplan-traces-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        _TRACES.append(folder)
    gaps = [0.2, 1.8, 0.5, 1.5] * (BUDGET // 4)
    times, now = [], 0.0
    for gap in gaps:
        now += gap / mean_rate
        times.append(f"{now:.9f}")
    text = "t_s\n" + "\n".join(times) + "\n"
    path = _TRACES[0] / f"trace-{hashlib.sha1(text.encode()).hexdigest()[:12]}.csv"
    if not path.exists():
        path.write_text(text, encoding="utf-8")
    return path


def _set_rate(
    data: dict[str, Any], mean_rate: float, horizon_s: float, day_share: float = 0.5
) -> None:
    """Give the workload a mean rate of ``mean_rate`` (bursty: base and bursts around it; a
    diurnal day lasts ``day_share`` of the run: 0.5, two days a run, or a real day's many
    runs, a run seeing only its first slice)."""
    workload = data["workload"]
    if workload["arrival"] == "bursty":
        # Bursts at three times the base rate a fifth of the time: mean = base × 1.4.
        base = mean_rate / 1.4
        workload["rate_per_s"] = base
        workload["burst"] = {
            "rate_per_s": 3 * base,
            "mean_duration_s": horizon_s / 20,
            "mean_gap_s": horizon_s / 5,
        }
    elif workload["arrival"] == "trace":
        workload["trace"] = {"file": str(_trace_file(mean_rate))}
    elif workload["arrival"] == "profile":
        # Four phases whose factors average 1 over the run (a load profile lasts its phases:
        # no request count); a phase with a class mix when there are classes.
        workload.pop("requests", None)
        workload["rate_per_s"] = mean_rate
        quarter = horizon_s / 4
        phases: list[dict[str, Any]] = [
            {"duration_s": quarter, "steady": {"factor": 0.5}},
            {"duration_s": quarter, "ramp": {"from": 0.5, "to": 1.5}},
            {"duration_s": quarter, "spike": {"factor": 1.5, "rise_s": quarter / 10, "base": 1.5}},
            {"duration_s": quarter, "ramp": {"from": 1.5, "to": 0.5}},
        ]
        names = [cls["name"] for cls in workload.get("classes", [])]
        if names:
            phases[2]["mix"] = {names[-1]: 2.0, names[0]: 1.0}
        workload["profile"] = {"phases": phases}
    else:
        workload["rate_per_s"] = mean_rate
        if workload["arrival"] == "diurnal":
            workload["diurnal"] = {
                "period_s": horizon_s * day_share,
                "profile": [0.5, 1.0, 1.5, 1.0],
            }


def _chaos(
    draw: Callable[..., Any], components: dict[str, dict[str, Any]], data_stores: bool
) -> list[dict[str, Any]]:
    """Chaos events as fractions of the run (scaled to seconds once the rate is known);
    ``data_stores``: databases, caches and brokers may be their targets too."""
    kinds = ("service", "worker_pool") + (
        ("database", "cache", "queue", "topic") if data_stores else ()
    )
    services = [name for name, component in components.items() if component["kind"] in kinds]
    zones = sorted(
        {zone for component in components.values() for zone in component.get("zones", ())}
    )
    actions = ["kill_replicas", "add_latency", "drop_dependency"]
    if zones:
        actions.append("zone_outage")
    events = []
    for _ in range(draw(st.integers(1, 2))):
        action = draw(st.sampled_from(actions))
        event: dict[str, Any] = {"at_s": draw(st.sampled_from([0.0, 0.2, 0.5])), "action": action}
        if action == "zone_outage":
            event["zone"] = draw(st.sampled_from(zones))
        else:
            target = draw(st.sampled_from(services))
            event["component"] = target
            if action == "kill_replicas":
                most = components[target].get("replicas", 1)
                event["count"] = draw(st.integers(1, most))
            if action == "add_latency":
                event["latency_factor"] = draw(st.sampled_from([0.5, 2.0, 5.0]))
        if draw(st.booleans()):
            event["duration_s"] = draw(st.sampled_from([0.1, 0.3]))
        events.append(event)
    return events


def _close_workload(draw: Callable[..., Any], workload: dict[str, Any], builder: _Builder) -> None:
    """Make ``workload`` closed: users instead of arrivals (the think time comes with the
    load)."""
    builder.used.discard(workload.pop("arrival"))
    workload["kind"] = "closed"
    classes = workload.get("classes", [])
    users = draw(st.sampled_from([1, 3, 10, 40]))
    if classes and coin(draw, 0.3):
        for cls in classes:
            cls["users"] = draw(st.integers(1, 5))
    else:
        workload["users"] = max(users, len(classes))


def probe_users(workload: dict[str, Any]) -> int:
    return int(workload.get("users") or sum(cls["users"] for cls in workload["classes"]))


def _closed_rate(data: dict[str, Any]) -> float:
    from scaleplan.analytic.closed import rough_throughput

    try:
        return rough_throughput(parse_spec(data, source="<composition>"))
    except ScaleplanError:  # no time anywhere: the run is refused, any horizon will do
        return 100.0


def _bound(data: dict[str, Any]) -> tuple[ArchitectureSpec, float, str]:
    # A drawn trace lives in the session's trace folder: read it as a spec written there
    # would (data files are confined to the spec's folder tree, scaleplan.paths).
    base = str(_TRACES[0]) if "trace" in data["workload"] and _TRACES else "."
    spec = parse_spec(data, source="<composition>", base_dir=base)
    limit, station = bottleneck(spec)
    return spec, limit, station


def _route_calls(
    draw: Callable[..., Any],
    builder: _Builder,
    components: dict[str, dict[str, Any]],
    classes: list[dict[str, Any]],
) -> None:
    """Now and then a call made for some request classes only, and a read or a write named
    on a call whose targets are all databases (a read only where the database can read)."""
    names = [cls["name"] for cls in classes]
    for component in components.values():
        for call in component.get("calls", []):
            if call.get("exit"):
                continue
            if names and builder.chance("call_classes", 0.3):
                count = draw(st.integers(1, len(names)))
                call["classes"] = draw(st.permutations(names))[:count]
            targets = [call["to"]] if "to" in call else [c["to"] for c in call["one_of"]]
            if not all(components[t]["kind"] == "database" for t in targets):
                continue
            readable = all(
                components[t].get("reads_from_primary", True) or components[t].get("read_replicas")
                for t in targets
            )
            if builder.chance("operation", 0.3):
                operations = ["read", "write"] if readable else ["write"]
                call["operation"] = draw(st.sampled_from(operations))


@st.composite
def architectures(
    draw: Callable[..., Any],
    exclude: Collection[str] = (),
    overload: float = 0.1,
    max_components: int = MAX_COMPONENTS,
    bias: Mapping[str, float] | None = None,
) -> Example:
    """A random valid architecture (see the module docstring).

    ``overload`` is the chance of a load above the analytic bound; ``bias`` maps a feature
    (``failures``, ``chaos``, ``classes``, ...) to the chance of drawing it where it can be
    drawn, for tests that need it more often than the default.
    """
    unknown = set(exclude) - FEATURES
    if unknown:
        raise ValueError(f"unknown features {sorted(unknown)}")
    size = draw(st.sampled_from([5, 8, 3, 6, 1, 4, 7, 2]))
    size = min(size, max_components)
    builder = _Builder(draw, exclude, size, bias or {})
    chance = builder.chance
    entry_kinds = ["service", "service"] + [
        kind for kind in ("load_balancer", "edge", "cache", "database") if builder.has(kind)
    ]
    entry = builder.build(draw(st.sampled_from(entry_kinds)), 0)
    components = builder.components
    data: dict[str, Any] = {
        "name": "composed",
        "workload": _workload(draw, builder),
        "entry": entry,
        "components": components,
    }
    if chance("classes", 0.2):
        candidates = [name for name, c in components.items() if c["kind"] != "worker_pool"]
        count = draw(st.integers(2, 3))
        prioritised = chance("priorities", 0.6)
        data["workload"]["classes"] = [
            {
                "name": f"class{index + 1}",
                "weight": draw(st.sampled_from([1.0, 3.0])),
                **({"entry": draw(st.sampled_from(candidates))} if index else {}),
                **({"priority": draw(st.integers(0, 3))} if prioritised else {}),
            }
            for index in range(count)
        ]
    _route_calls(draw, builder, components, data["workload"].get("classes", []))
    closed = chance("closed", 0.2)
    if closed:
        _close_workload(draw, data["workload"], builder)
    chaos_fractions: list[dict[str, Any]] = []
    has_service = any(c["kind"] in ("service", "worker_pool") for c in components.values())
    if has_service and chance("chaos", 0.25):
        data_stores = chance("chaos_on_data_stores", 0.6)
        chaos_fractions = _chaos(draw, components, data_stores)

    # The load: a factor of the analytic bound, which is found at a placeholder rate first
    # (only a TTL cache's miss ratio depends on the rate).
    probe = copy.deepcopy(data)
    if not closed:
        _set_rate(probe, 1.0, BUDGET)
    _, limit, _ = _bound(probe)
    # Mostly a moderate load; now and then an overload, or a load near the bound, where
    # the pre-run check and the analytic estimate must agree.
    load = "moderate"
    if overload > 0 and coin(draw, overload):
        load = draw(st.sampled_from(["over", "over", "near"]))
    factor = {
        "moderate": lambda: draw(st.floats(0.1, 0.8)),
        "over": lambda: draw(st.floats(1.2, 3.0)),
        "near": lambda: draw(st.floats(0.9, 1.1)),
    }[load]()
    rate = float(f"{(limit if math.isfinite(limit) else 100.0) * factor:.4g}")
    if closed:
        # The users' think-only rate N / Z at the factor of the bound (now and then no think
        # time: every user always waiting, the bottleneck saturated).
        if coin(draw, 0.15):
            data["workload"].pop("think_time", None)
        else:
            users = probe_users(data["workload"])
            think_ms = float(f"{1e3 * users / rate:.4g}")
            kind = draw(st.sampled_from(["exponential", "constant", "lognormal"]))
            think: dict[str, Any] = {"dist": kind, "mean_ms": think_ms}
            if kind == "lognormal":
                think["cv"] = draw(st.sampled_from([0.5, 2.0]))
            data["workload"]["think_time"] = think
        classes = data["workload"].get("classes", [])
        if classes and chance("mixed", 0.3):
            # A mixed workload: the last class open, at a share of the load beside the users.
            classes[-1].pop("users", None)
            classes[-1]["rate_per_s"] = float(f"{0.3 * rate:.4g}")
        horizon = BUDGET / _closed_rate(data)
    else:
        horizon = BUDGET / rate
        long_day = data["workload"]["arrival"] == "diurnal" and chance("long_day", 0.5)
        _set_rate(data, rate, horizon, day_share=50.0 if long_day else 0.5)
    if chaos_fractions:
        data["chaos"] = [
            {
                **event,
                "at_s": round(event["at_s"] * horizon, 6),
                **(
                    {"duration_s": round(event["duration_s"] * horizon, 6) or 1e-6}
                    if "duration_s" in event
                    else {}
                ),
            }
            for event in chaos_fractions
        ]
    spec, limit, station = _bound(data)
    return Example(
        data=data,
        spec=spec,
        bound_per_s=limit,
        bottleneck=station,
        factor=factor,
        # A closed workload cannot overload anything: its users wait for their answers.
        overloaded=not closed and spec.workload.mean_rate_per_s > limit,
        features=frozenset(builder.used),
    )
