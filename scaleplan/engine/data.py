"""The SimPy model of data components: sharded databases, caches, and edge offload.

A database routes each request to the shard of the key it touches (the shard's share comes
from the key popularity, exactly as :meth:`DatabaseSpec.shard_shares` computes it), reads to
the primary or a read replica, writes to the primary. Each shard is a child station, so the
result shows per-shard load and a hot shard under skew is visible.

A cache with ``keys`` runs a real LRU (with a TTL when given) over keys sampled from their
popularity, so a cold start and its thundering herd on the backing store appear by themselves;
with a fixed ``hit_ratio`` each lookup hits with that probability.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Generator, Iterator
from typing import Any

import numpy as np
import simpy
from simpy.events import Timeout

from scaleplan.engine.policies import POLICIES, Policy
from scaleplan.engine.protocol import (
    FAILED,
    OK,
    REJECTED,
    Replica,
    Request,
    Station,
    StreamFactory,
    Visit,
    acquire,
    crash,
    full,
    release,
    service_times,
)
from scaleplan.engine.streams import buffered, uniforms
from scaleplan.metrics import LatencySketch
from scaleplan.spec import CacheSpec, DatabaseSpec, EdgeSpec, KeySpaceSpec
from scaleplan.spec.components import che_characteristic_time


def key_sampler(keys: KeySpaceSpec, rng: np.random.Generator) -> Iterator[float]:
    """Key ids drawn from their popularity (0 is the most popular)."""
    cumulative = np.cumsum(keys.probabilities)
    cumulative[-1] = 1.0
    return buffered(lambda n: np.searchsorted(cumulative, rng.random(n), side="right"))


class ShardStation(Station):
    """One shard: a primary and its read replicas, each a node with its own queue."""

    kind = "shard"

    def __init__(
        self,
        name: str,
        spec: DatabaseSpec,
        env: simpy.Environment,
        streams: StreamFactory,
    ):
        super().__init__(name, env)
        self.spec = spec
        self.replicas = [Replica(spec.concurrency) for _ in range(spec.nodes_per_shard)]
        self.queue_limit = spec.queue_limit
        self.read_s = service_times(spec.read_time, streams(f"read:{name}"))
        self.write_s = service_times(spec.write_time or spec.read_time, streams(f"write:{name}"))
        readers = list(range(0 if spec.reads_from_primary else 1, spec.nodes_per_shard))
        self.readers = readers
        self.read_policy: Policy = POLICIES[spec.read_policy](
            [1.0] * len(readers),
            lambda index: self.replicas[self.readers[index]].load(),
            streams(f"dispatch:{name}"),
        )
        self.reads = 0
        self.writes = 0
        # Failures (scaleplan.engine.faults): the node holding the primary role (None while
        # failing over, or while every node is down), the nodes health checks see as up, and
        # the promotion time.
        self.primary: Replica | None = self.replicas[0]
        self.rotation: list[Replica] = list(self.replicas)
        self.failing_over = False
        self.failover_s = spec.failures.failover_s if spec.failures is not None else 0.0
        self.on_change: Callable[[], None] = lambda: None
        self.errors_draw: Iterator[float] = uniforms(streams(f"errors:{name}"))
        self.lost = 0
        self.failovers = 0

    @property
    def serving(self) -> bool:
        """Whether the shard takes writes: a primary holds the role and runs."""
        return self.primary is not None and self.primary.up

    def serve(self, write: bool, request: Request) -> Visit:
        env = self.env
        arrived = env.now
        node: Replica | None
        if write:
            node = self.primary
            service_s = self.write_s
            self.writes += 1
        else:
            readers = self.readers
            node = self.replicas[readers[self.read_policy.choose()]] if readers else self.primary
            service_s = self.read_s
            self.reads += 1
        if node is None or not node.up:  # failing over, or a crash not yet noticed
            return self.fail(request)
        if full(node, self.queue_limit):
            self.reject_times.append(arrived)
            request.error(self.name, REJECTED)
            return REJECTED
        epoch = node.epoch
        turn = acquire(node, env)
        if turn is not None and not (yield turn):  # the node crashed while we waited
            return self.fail(request)
        started = env.now
        yield Timeout(env, next(service_s) * node.slowdown)
        if node.epoch != epoch:  # crashed while serving: the slot went with it
            return self.fail(request)
        release(node)
        if node.extra_error and next(self.errors_draw) < node.extra_error:
            return self.fail(request)
        done = env.now
        own = done - started
        self.records.append((done, started - arrived, own, own, done - arrived))
        return OK

    def fail(self, request: Request) -> int:
        self.lost += 1
        self.failure_times.append(self.env.now)
        request.error(self.name, FAILED)
        return FAILED

    # -- failures: a node's crash, repair and rotation, and the primary's failover --------

    def crash_node(self, node: Replica) -> None:
        crash(node)
        self.changed()

    def repair_node(self, node: Replica) -> None:
        node.up = True
        if self.primary is None and not self.failing_over:  # the first node back leads
            self.primary = node
        self.changed()

    def set_node_rotation(self, node: Replica, serving: bool) -> None:
        if serving and node not in self.rotation:
            self.rotation.append(node)
        elif not serving and node in self.rotation:
            self.rotation.remove(node)
            if node is self.primary and len(self.replicas) > 1:
                # The primary is gone: promote a read replica if one runs; with none, the
                # first node repaired takes the role.
                self.primary = None
                if any(other.up for other in self.replicas):
                    self.failing_over = True
                    self.env.process(self.failover())
        else:
            return
        self.changed()

    def failover(self) -> Generator[Timeout, Any, None]:
        yield Timeout(self.env, self.failover_s)
        self.failing_over = False
        candidates = [node for node in self.rotation if node.up] or [
            node for node in self.replicas if node.up
        ]
        if candidates and self.primary is None:
            self.primary = candidates[0]
            self.failovers += 1
        self.changed()

    def changed(self) -> None:
        """Reads go to the nodes in rotation (the primary among them when it takes reads; the
        primary alone when no read replica is left)."""
        spec = self.spec
        readers = [
            index
            for index, node in enumerate(self.replicas)
            if node in self.rotation and (spec.reads_from_primary or node is not self.primary)
        ]
        if readers != self.readers:
            self.readers = readers
            if readers:
                self.read_policy.resize([1.0] * len(readers))
        serving = int(self.serving)
        if serving != (self.up_log[-1][1] if self.up_log else 1):
            self.up_log.append((self.env.now, serving))
        self.on_change()

    def details(self) -> dict[str, Any]:
        figures: dict[str, Any] = {"reads": self.reads, "writes": self.writes}
        if self.lost:
            figures["failed"] = self.lost
        if self.failovers:
            figures["failovers"] = self.failovers
        return figures


class DatabaseStation(Station):
    kind = "database"

    def __init__(
        self, name: str, spec: DatabaseSpec, env: simpy.Environment, streams: StreamFactory
    ):
        super().__init__(name, env)
        self.spec = spec
        self.shards = [
            ShardStation(f"{name}/shard-{index}", spec, env, streams)
            for index in range(spec.shards)
        ]
        self.children = list(self.shards)
        # Every node of every shard, so that capacity and utilisation cover the whole store.
        self.replicas = [node for shard in self.shards for node in shard.replicas]
        cumulative = np.cumsum(spec.shard_shares())
        cumulative[-1] = 1.0
        rng = streams(f"keys:{name}")
        self.shard_of_request: Iterator[float] = buffered(
            lambda n: np.searchsorted(cumulative, rng.random(n), side="right")
        )
        self.operation: Iterator[float] = uniforms(streams(f"operation:{name}"))
        self.lag_s = (
            service_times(spec.replication_lag, streams(f"lag:{name}"))
            if spec.replication_lag is not None and spec.read_replicas
            else None
        )
        self.lags: list[float] = []
        self.lag_sketch = LatencySketch()
        self.shard_of_node = {id(node): shard for shard in self.shards for node in shard.replicas}
        for shard in self.shards:
            shard.on_change = self.shard_changed

    def visit(self, request: Request) -> Visit:
        env = self.env
        arrived = env.now
        shard = self.shards[int(next(self.shard_of_request))]
        write = next(self.operation) >= self.spec.read_ratio
        status = yield from shard.serve(write, request)
        if status == FAILED:
            self.failure_times.append(env.now)
        if status == OK:
            _, waited, own, held, _ = shard.records[-1]
            done = env.now
            self.records.append((done, waited, own, held, done - arrived))
            if write and self.lag_s is not None:
                self.lags.append(next(self.lag_s) * 1e3)
                if len(self.lags) >= 4096:
                    self.lag_sketch.add_many(np.asarray(self.lags))
                    self.lags.clear()
        return status

    # -- failures: nodes crash and are repaired in their shard; the database's up log counts
    # the shards that take writes (it is up when every shard is)

    def failure_units(self, scope: str) -> list[Callable[[], list[Replica]]]:
        if scope == "component":
            return [lambda: list(self.all_replicas)]
        if scope == "shard":
            return [_nodes_of(shard) for shard in self.shards]
        return [_nodes_of(node) for node in self.all_replicas]

    def crash(self, replica: Replica) -> None:
        self.shard_of_node[id(replica)].crash_node(replica)

    def repair(self, replica: Replica) -> None:
        self.shard_of_node[id(replica)].repair_node(replica)

    def set_rotation(self, replica: Replica, serving: bool) -> None:
        self.shard_of_node[id(replica)].set_node_rotation(replica, serving)

    def shard_changed(self) -> None:
        serving = sum(shard.serving for shard in self.shards)
        if serving != (self.up_log[-1][1] if self.up_log else len(self.shards)):
            self.up_log.append((self.env.now, serving))

    def details(self) -> dict[str, Any]:
        figures: dict[str, Any] = {
            "shards": len(self.shards),
            "shard_shares_expected": [round(float(x), 6) for x in self.spec.shard_shares()],
        }
        if self.lag_s is not None:
            if self.lags:
                self.lag_sketch.add_many(np.asarray(self.lags))
                self.lags.clear()
            if self.lag_sketch.count:
                figures["replication_lag_ms"] = {
                    "mean": self.lag_sketch.mean,
                    "p99": self.lag_sketch.quantile(0.99),
                }
        return figures


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
        waited = yield from self.serve_simple(replica, self.lookup_s)
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


class EdgeStation(Station):
    """Answers a share of requests itself (its own latency); forwards the rest."""

    kind = "edge"

    def __init__(self, name: str, spec: EdgeSpec, env: simpy.Environment, streams: StreamFactory):
        super().__init__(name, env)
        self.spec = spec
        self.replicas = [Replica(spec.concurrency)]
        self.edge_s = service_times(spec.service_time, streams(f"service:{name}"))
        self.answered: Iterator[float] = uniforms(streams(f"routing:{name}"))
        self.origin: Station | None = None
        self.at_edge = 0
        self.forwarded = 0

    def connect(self, stations: dict[str, Station], streams: StreamFactory) -> None:
        self.origin = stations[self.spec.to]

    def visit(self, request: Request) -> Visit:
        env = self.env
        arrived = env.now
        waited = yield from self.serve_simple(self.replicas[0], self.edge_s)
        own = env.now - arrived - waited
        status = OK
        if next(self.answered) < self.spec.share:
            self.at_edge += 1
        else:
            self.forwarded += 1
            assert self.origin is not None
            status = yield from self.origin.visit(request)
        done = env.now
        self.records.append((done, waited, own, own, done - arrived))
        return status

    def details(self) -> dict[str, Any]:
        total = self.at_edge + self.forwarded
        return {
            "answered_at_edge": self.at_edge,
            "forwarded": self.forwarded,
            "edge_share": self.at_edge / total if total else None,
        }


def _nodes_of(unit: Replica | ShardStation) -> Callable[[], list[Replica]]:
    """A failure unit: one node, or every node of a shard."""
    if isinstance(unit, ShardStation):
        return lambda: list(unit.replicas)
    return lambda: [unit]
