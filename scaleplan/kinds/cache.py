"""The ``cache`` kind: a fixed hit ratio, or a real LRU/TTL over sampled keys, in front of a
backing component (spec :class:`~scaleplan.spec.CacheSpec`, station
:class:`CacheStation`, below; Che's approximation in the estimate)."""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import simpy
from pydantic import (
    Field,
    model_validator,
)
from simpy.events import Timeout

from scaleplan.distributions import Constant, Distribution
from scaleplan.engine.protocol import (
    OK,
    Replica,
    Request,
    Station,
    StreamFactory,
    Visit,
    service_times,
)
from scaleplan.engine.streams import key_sampler, uniforms
from scaleplan.kinds.base import ComponentKind, FailureModel, unit_availability
from scaleplan.spec.base import Count, NonNegativeCount, PositiveSeconds, Seconds, Servers
from scaleplan.spec.components import (
    FailureSpec,
    KeySpaceSpec,
    Probability,
    _ComponentBase,
    _key_probabilities,
)

if TYPE_CHECKING:
    from scaleplan.analytic.network import _Context, _Station


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
    size: Count | None = Field(default=None, description="entries held (LRU)")
    ttl_s: PositiveSeconds | None = Field(
        default=None, description="entries expire this long after a fill"
    )
    cold_start: bool = Field(default=False, description="start empty rather than warm")
    restart_at_s: tuple[Seconds, ...] = Field(
        default=(), description="times at which the cache restarts empty"
    )
    service_time: Distribution = Constant(dist="constant", mean_ms=0.5)
    replicas: Servers = 1
    concurrency: Servers = 64
    queue_limit: NonNegativeCount | None = None
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


class CacheStation(Station):
    kind = "cache"

    def __init__(self, name: str, spec: CacheSpec, env: simpy.Environment, streams: StreamFactory):
        super().__init__(name, env)
        self.spec = spec
        self.replicas = [Replica(spec.concurrency) for _ in range(spec.replicas)]
        self.lookup_s = service_times(spec.service_time, streams(f"service:{name}"))
        self.hits_draw: Iterator[float] = uniforms(streams(f"hits:{name}"))
        self.key_draw = (
            key_sampler(spec.keys, streams(f"keys:{name}")) if spec.keys is not None else None
        )
        self.lru: OrderedDict[int, float] = OrderedDict()
        self.prefill_rng = streams(f"prefill:{name}")
        self.next_replica = 0
        self.backing: Station | None = None
        self.hits = 0
        self.lookups = 0
        # (time, hit) of each lookup is too much to keep; per-bucket counts come from
        # the records instead: a hit's record has held == span (no backing call).
        self.restarts = 0
        self.bypassed = 0  # lookups sent to the backing store because their node was down

    def connect(self, stations: dict[str, Station], streams: StreamFactory) -> None:
        self.backing = stations[self.spec.backing]

    def start(self) -> None:
        spec = self.spec
        if spec.keys is not None and not spec.cold_start:
            self.prefill(self.prefill_rng)
        for at in spec.restart_at_s:
            self.env.process(self.restart_at(at))

    def prefill(self, rng: np.random.Generator) -> None:
        """Start warm, in LRU's steady state rather than with the most popular keys.

        Under Che's approximation key k is cached with probability h_k = 1 − e^{−p_k t_C},
        last requested an age ~ Exp(p_k) ago truncated at t_C (in requests): draw each key's
        membership and age from those, most recent last. With a TTL, fills are spread evenly
        over the past TTL so expiries do not all fall at once.
        """
        spec = self.spec
        assert spec.keys is not None
        p = spec.keys.probabilities
        if spec.size is None or spec.size >= spec.keys.count:
            members = np.arange(spec.keys.count)
            ages = rng.random(len(members))
        else:
            t_c = che_characteristic_time(spec.keys, spec.size)
            hit = -np.expm1(-p * t_c)
            members = np.flatnonzero(rng.random(len(p)) < hit)
            # Inverse CDF of an exponential truncated at t_C.
            u = rng.random(len(members))
            ages = -np.log1p(-u * hit[members]) / p[members]
            if len(members) > spec.size:  # keep the most recent, as LRU would
                keep = np.argsort(ages)[: spec.size]
                members, ages = members[keep], ages[keep]
        order = np.argsort(-ages)  # oldest first: the LRU end
        ttl = spec.ttl_s or 0.0
        fills = -ttl * rng.random(len(members)) if ttl else np.zeros(len(members))
        for key, filled in zip(members[order].tolist(), fills.tolist(), strict=True):
            self.lru[key] = filled

    # -- failures: a node that crashes loses its entries (the keys that hash to it); until a
    # health check notices, its lookups miss; then the others take its keys, and when it is
    # back it starts empty

    def crash(self, replica: Replica) -> None:
        super().crash(replica)
        self.forget(replica)

    def set_rotation(self, replica: Replica, serving: bool) -> None:
        if serving:
            self.forget(replica)
        super().set_rotation(replica, serving)

    def forget(self, replica: Replica) -> None:
        nodes = self.all_replicas or self.replicas
        if self.lru and replica in nodes:
            index, count = nodes.index(replica), len(nodes)
            for key in [key for key in self.lru if key % count == index]:
                del self.lru[key]

    def restart_at(self, at: float):  # type: ignore[no-untyped-def]
        yield Timeout(self.env, at)
        self.lru.clear()
        self.restarts += 1

    def hit(self) -> tuple[bool, int]:
        spec = self.spec
        if self.key_draw is None:
            assert spec.hit_ratio is not None
            return next(self.hits_draw) < spec.hit_ratio, -1
        key = int(next(self.key_draw))
        filled = self.lru.get(key)
        if filled is None:
            return False, key
        if spec.ttl_s is not None and self.env.now - filled > spec.ttl_s:
            del self.lru[key]
            return False, key
        self.lru.move_to_end(key)
        return True, key

    def fill(self, key: int) -> None:
        if key < 0:
            return
        self.lru[key] = self.env.now
        self.lru.move_to_end(key)
        size = self.spec.size
        if size is not None and len(self.lru) > size:
            self.lru.popitem(last=False)

    def visit(self, request: Request) -> Visit:
        env = self.env
        arrived = env.now
        replicas = self.replicas
        replica = replicas[self.next_replica % len(replicas)] if replicas else None
        self.next_replica += 1
        if replica is None or not replica.up or replica.extra_error:
            # A node that is down (or no node left) answers nothing: the client treats the
            # error as a miss and reads the backing store, without filling the cache.
            self.bypassed += 1
            assert self.backing is not None
            status = yield from self.backing.visit(request)
            done = env.now
            self.records.append((done, 0.0, 0.0, 0.0, done - arrived))
            return status
        waited = yield from self.serve_simple(replica, self.lookup_s, request.priority)
        own = env.now - arrived - waited
        self.lookups += 1
        hit, key = self.hit()
        status = OK
        if hit:
            self.hits += 1
        else:
            assert self.backing is not None
            status = yield from self.backing.visit(request)
            if status == OK:
                self.fill(key)
        done = env.now
        self.records.append((done, waited, own, own, done - arrived))
        return status

    def details(self) -> dict[str, Any]:
        figures: dict[str, Any] = {
            "lookups": self.lookups,
            "hits": self.hits,
            "hit_ratio_whole_run": self.hits / self.lookups if self.lookups else None,
            "hit_ratio_expected": 1 - self.spec.che_miss_ratio(None)
            if self.spec.ttl_s is None
            else None,
        }
        if self.spec.keys is not None:
            figures["entries"] = len(self.lru)
            figures["restarts"] = self.restarts
        if self.bypassed:
            figures["bypassed_node_down"] = self.bypassed
        return figures


def _report_cache(ctx: _Context, name: str, cache: CacheSpec, station: _Station) -> None:

    miss = ctx.flows.miss[name]
    keys = cache.keys.count if cache.keys is not None else 0
    if cache.hit_ratio is not None:
        method = "fixed hit_ratio"
    elif cache.ttl_s is None and cache.size is not None and cache.size >= keys:
        method = "every key fits: misses only when cold"
    elif cache.ttl_s is not None and cache.size is not None and cache.size < keys:
        method = "Che's approximation (LRU) and the TTL formula, the lower per key"
    elif cache.ttl_s is not None:
        method = "TTL: λ_k·T/(1 + λ_k·T) per key at the cache's arrival rate"
    else:
        method = "Che's approximation (LRU)"
    station.details = {
        "hit_ratio_expected": 1.0 - miss,
        "hit_ratio_method": method,
        "backing_rate_per_s": station.arrival_rate * miss,
    }
    if cache.keys is not None:
        station.exact = False
        station.warnings.append(
            f"{name}: hit ratio {1 - miss:.4g} from the key popularity by {method}, the steady "
            "state under independent references (approximation)"
        )
    if cache.cold_start or cache.restart_at_s:
        station.warnings.append(
            f"{name}: cold_start and restart_at_s are transients: the estimate is the warm "
            "steady state (simulate to see the miss storm)"
        )


class CacheKind(ComponentKind):
    name = "cache"
    spec_model = CacheSpec
    symbol = "hexagon"
    example: ClassVar[Mapping[str, Any]] = {
        "kind": "cache",
        "backing": "{target}",
        "hit_ratio": 0.8,
    }
    example_neighbours: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        "target": {"kind": "service", "service_time": {"dist": "exponential", "mean_ms": 10}}
    }

    def station(self, name: str, spec: Any, env: Any, streams: Any) -> Any:
        return CacheStation(name, spec, env, streams)

    def analytic_station(self, ctx: Any, name: str, spans: Mapping[str, float]) -> Any:
        from scaleplan.analytic import network

        station = network.slot_station(ctx, name, spans)
        _report_cache(ctx, name, ctx.component(name), station)
        return station

    def billable_nodes(self, spec: Any, running_replicas: float | None = None) -> float:
        return float(spec.replicas)

    def availability_model(self, spec: Any) -> FailureModel | None:
        from scaleplan.analytic.availability import k_of_n

        failures, a, together = unit_availability(spec)
        n = spec.replicas
        # A lost node's entries are gone: its lookups go to the backing store until it
        # refills, so a cache's outage is more load elsewhere, never downtime of its own.
        analytic = a if together else k_of_n(1, n, a)
        return FailureModel("cache", "nodes", n, n, 1, failures, a, analytic, False, fallback=True)

    def passes_poisson(self, ctx: Any, name: str) -> bool:
        component = ctx.component(name)
        return bool(
            component.hit_ratio is not None
            and component.replicas == 1
            and component.service_time.scv == 1.0
        )

    def transform_traffic(
        self,
        name: str,
        spec: Any,
        failure: Mapping[str, float],
        miss: float,
        notes: dict[str, str],
    ) -> tuple[list[Any], float]:
        from scaleplan.load import Call

        # A miss goes to the backing store and fails with it; a hit answers here.
        return [Call(spec.backing, miss, miss, 1.0, 0.0, False)], miss * failure[spec.backing]

    def visit_outcome(
        self, ctx: Any, name: str, known: Mapping[str, tuple[float, float, float]]
    ) -> tuple[float, float, float]:
        from scaleplan.analytic.network import forward_outcome

        return forward_outcome(ctx, name, known)


KIND = CacheKind()
