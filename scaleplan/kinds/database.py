"""The ``database`` kind: shards (hash or range) over a key popularity, a primary and read
replicas per shard, a read/write mix and replication lag (spec
:class:`~scaleplan.spec.DatabaseSpec`, station :class:`DatabaseStation`, below,
per-shard nodes in the estimate).

A database routes each request to the shard of the key it touches (the shard's share comes
from the key popularity, exactly as :meth:`DatabaseSpec.shard_shares` computes it), reads to
the primary or a read replica, writes to the primary. Each shard is a child station, so the
result shows per-shard load and a hot shard under skew is visible.

A cache with ``keys`` runs a real LRU (with a TTL when given) over keys sampled from their
popularity, so a cold start and its thundering herd on the backing store appear by themselves;
with a fixed ``hit_ratio`` each lookup hits with that probability.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import simpy
from pydantic import (
    Field,
    model_validator,
)
from simpy.events import Timeout

from scaleplan.distributions import Distribution
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
from scaleplan.kinds.base import ComponentKind, FailureModel, unit_availability
from scaleplan.metrics import LatencySketch
from scaleplan.spec.base import NonNegativeCount, NonNegativeServers, Seconds, Servers
from scaleplan.spec.components import (
    BaseFailureSpec,
    KeySpaceSpec,
    Probability,
    _ComponentBase,
    _mix64,
)
from scaleplan.spec.components import (
    Policy as PolicyName,
)

if TYPE_CHECKING:
    from scaleplan.analytic.network import _Child, _Context, _Station


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
    failover_s: Seconds = Field(
        default=30.0, description="promotion of a read replica, after detection"
    )


class DatabaseSpec(_ComponentBase):
    """A sharded, replicated data store.

    Each request touches one key drawn from ``keys``; the key's shard is found by ``hash`` or
    ``range`` partitioning (range keeps the most popular keys together: the classic hot shard).
    A read goes to the shard's primary or one of its ``read_replicas`` (by ``read_policy``), a
    write to its primary. Every node serves ``concurrency`` requests at once from its own queue.
    """

    kind: Literal["database"]
    shards: Servers = 1
    partitioning: Literal["hash", "range"] = "hash"
    keys: KeySpaceSpec = KeySpaceSpec()
    read_ratio: Probability = 0.8
    read_replicas: NonNegativeServers = Field(
        default=0, description="per shard, besides the primary"
    )
    reads_from_primary: bool = True
    read_policy: PolicyName = Field(
        default="round_robin",
        description="how a read picks a reader of its shard (any policy but power_of_d: a "
        "shard has few readers, so use power_of_two or join_shortest_queue)",
    )
    concurrency: Servers = Field(default=8, description="requests one node serves at once")
    queue_limit: NonNegativeCount | None = None
    read_time: Distribution
    write_time: Distribution | None = Field(default=None, description="defaults to read_time")
    replication_lag: Distribution | None = Field(
        default=None, description="how far read replicas trail the primary"
    )
    failures: DatabaseFailureSpec | None = None

    @model_validator(mode="after")
    def _someone_reads(self) -> DatabaseSpec:
        if self.read_policy == "power_of_d":
            raise ValueError(
                "read_policy power_of_d is not offered for a database (it takes no d): use "
                "power_of_two (two readers sampled) or join_shortest_queue (all readers compared)"
            )
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

    def own_mean_s(self) -> float:
        return self.mean_service_s()

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
        turn = acquire(node, env, request.priority)
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
            self.log_up(serving)
        self.on_change()

    def logged_up(self) -> int:
        return int(self.serving)

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
        # The operation is drawn from read_ratio unless the call names it (visit_operation).
        return self.visit_operation(request, next(self.operation) >= self.spec.read_ratio)

    def visit_operation(self, request: Request, write: bool) -> Visit:
        """A read (``write`` False) or a write of ``request`` on the shard of its key."""
        env = self.env
        arrived = env.now
        shard = self.shards[int(next(self.shard_of_request))]
        status = yield from shard.serve(write, request)
        if status == FAILED:
            self.failure_times.append(env.now)
        if status == OK:
            _, waited, own, held, _ = shard.records.last()
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
            self.log_up(serving)

    def logged_up(self) -> int:
        return sum(shard.serving for shard in self.shards)

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


def _nodes_of(unit: Replica | ShardStation) -> Callable[[], list[Replica]]:
    """A failure unit: one node, or every node of a shard."""
    if isinstance(unit, ShardStation):
        return lambda: list(unit.replicas)
    return lambda: [unit]


if TYPE_CHECKING:
    from scaleplan.load import StationLoad


@dataclass(frozen=True)
class Node:
    """A database node of one shard (or readers pooled into one station)."""

    label: str
    reads_per_s: float
    writes_per_s: float
    read_ca2: float
    servers: int
    members: int = 1


def database_nodes(component: DatabaseSpec, shard_rate: float) -> tuple[list[Node], str, bool]:
    """The nodes of one shard with the reads and writes each receives; how reads were spread;
    whether that spread is exact (Poisson in, Poisson out)."""
    count = component.nodes_per_shard
    slots = component.concurrency
    reads = shard_rate * component.read_ratio
    writes = shard_rate * (1.0 - component.read_ratio)
    readers = list(range(0 if component.reads_from_primary else 1, count))
    labels = ["primary", *(f"replica-{index}" for index in range(1, count))]
    shares = [0.0] * count
    ca2 = [1.0] * count
    k = len(readers)
    policy = component.read_policy
    how, exact = f"reads by {policy} over {k} readers", True
    if k == 0:
        how = "writes only"
    elif k == 1 or (k > 1 and policy == "random"):
        for index in readers:
            shares[index] = 1.0 / k
        if k == 1:
            how = f"reads to the {labels[readers[0]]}"
    elif k > 1 and policy == "round_robin":
        for index in readers:
            shares[index], ca2[index] = 1.0 / k, 1.0 / k
        exact = False
    elif k > 1:
        exact = False
        if writes == 0 or 0 not in readers:
            # Identical readers under a load-aware policy: one pooled station (optimistic).
            nodes = [Node("primary", 0.0, writes, 1.0, slots)] if 0 not in readers else []
            first = labels[readers[0]]
            pooled = f"{first}..{labels[readers[-1]]}"
            nodes.append(Node(pooled, reads, 0.0, 1.0, k * slots, k))
            return (
                nodes,
                f"reads by {policy} over {k} readers pooled into {k * slots} servers",
                False,
            )
        # The primary also takes the writes: a load-aware policy sends it fewer reads, so the
        # readers' utilisations equalise as far as they can (water-filling).
        read_s = component.read_time.mean_s
        write_s = (component.write_time or component.read_time).mean_s
        each = (reads * read_s + writes * write_s) / k
        primary = min(reads, max(0.0, (each - writes * write_s) / read_s)) if reads else 0.0
        shares[0] = primary / reads if reads else 0.0
        for index in readers[1:]:
            shares[index] = (1.0 - shares[0]) / (k - 1)
        how = f"reads by {policy} over {k} readers, spread to equalise their utilisation"
    nodes = [
        Node(labels[index], reads * shares[index], writes if index == 0 else 0.0, ca2[index], slots)
        for index in range(count)
    ]
    return nodes, how, exact


def database_loads(name: str, component: DatabaseSpec, arrivals: float) -> list[StationLoad]:
    """One station per node of each shard, with the reads and writes that node receives."""
    from scaleplan.load import StationLoad

    read = component.read_time
    write = component.write_time or read
    found = []
    for index, share in enumerate(component.shard_shares()):
        nodes, _, _ = database_nodes(component, arrivals * float(share))
        for node in nodes:
            lam = node.reads_per_s + node.writes_per_s
            work = node.reads_per_s * read.mean_s + node.writes_per_s * write.mean_s
            found.append(
                StationLoad(
                    name,
                    f"shard-{index} {node.label}",
                    lam,
                    work / lam if lam > 0 else component.mean_service_s(),
                    node.servers,
                    False,
                )
            )
    return found


def _node_service(
    node: Node, read: Distribution, write: Distribution
) -> tuple[float, float, float]:
    """(arrival rate, mean service s, service scv) of a node's read/write mix."""

    lam = node.reads_per_s + node.writes_per_s
    if node.writes_per_s == 0 or write is read:
        return lam, read.mean_s, read.scv
    if node.reads_per_s == 0:
        return lam, write.mean_s, write.scv
    mean = (node.reads_per_s * read.mean_s + node.writes_per_s * write.mean_s) / lam
    second = (
        node.reads_per_s * read.mean_s**2 * (1 + read.scv)
        + node.writes_per_s * write.mean_s**2 * (1 + write.scv)
    ) / lam
    return lam, mean, max(second / mean**2 - 1.0, 0.0)


def _database_station(ctx: _Context, name: str, component: DatabaseSpec) -> _Station:
    from scaleplan.analytic.disciplines import queue_metrics
    from scaleplan.analytic.network import (
        UnstableError,
        _arrival_notes,
        _Child,
        _Station,
    )

    arrival_rate = ctx.rates[name]
    read = component.read_time
    write = component.write_time or read
    mean_s = component.mean_service_s()
    shares = ctx.shard_shares(name, component)
    per_shard = component.nodes_per_shard * component.concurrency
    notes: list[str] = []
    exact, arrival_notes = _arrival_notes(ctx, name, "retried attempts")
    notes.extend(arrival_notes)
    methods: list[str] = []
    children: list[_Child] = []
    waiting_total = 0.0
    peak, peak_at, peak_servers = 0.0, "", component.concurrency
    unstable = False
    how = ""
    for index, share in enumerate(shares):
        shard = f"{name}/shard-{index}"
        shard_rate = arrival_rate * share
        nodes, how, split_exact = database_nodes(component, shard_rate)
        exact = exact and split_exact
        waiting = 0.0  # Σ λ·Wq over the shard's nodes: its mean number waiting
        node_loads: list[float] = []
        shard_methods: list[str] = []
        for node in nodes:
            lam, node_mean, scv = _node_service(node, read, write)
            load = lam * node_mean / node.servers if lam > 0 else 0.0
            node_loads.extend([load] * node.members)
            if load > peak or not peak_at:
                peak, peak_at, peak_servers = load, f"shard-{index} {node.label}", node.servers
            if lam == 0:
                continue
            if load >= 1.0:
                unstable = True
                continue
            ca2 = (node.reads_per_s * node.read_ca2 + node.writes_per_s) / lam
            try:
                metrics = queue_metrics(lam, ca2, node_mean, scv, node.servers)
            except UnstableError:
                unstable = True
                continue
            exact = exact and metrics.exact
            for found in (methods, shard_methods):
                if metrics.method not in found:
                    found.append(metrics.method)
            waiting += lam * metrics.mean_wait
        shard_wait = waiting / shard_rate if shard_rate > 0 else 0.0
        children.append(
            _Child(
                shard,
                "shard",
                shard_rate,
                shard_rate * mean_s / per_shard,
                shard_wait,
                shard_wait + mean_s,
                waiting,
                per_shard,
                float(component.nodes_per_shard),
                f"{' / '.join(shard_methods) or 'no load'} per node; {how}",
                {
                    "share": share,
                    "busiest_node_utilization": max(node_loads),
                    "node_utilization": node_loads,
                    "reads_per_s": shard_rate * component.read_ratio,
                    "writes_per_s": shard_rate * (1.0 - component.read_ratio),
                },
            )
        )
        waiting_total += waiting
    if "round_robin" in how:
        notes.append(
            f"{name}: reads under round_robin reach each reader with Erlang interarrivals; "
            "Allen–Cunneen GI/G/c approximation per node"
        )
    elif "pooled" in how or "equalise" in how:
        notes.append(f"{name}: {how} (approximation: real nodes queue separately)")
    elif methods and any("approximation" in method for method in methods):
        notes.append(f"{name}: {' / '.join(methods)} per node (read/write mix)")
    details: dict[str, Any] = {
        "shards": component.shards,
        "shard_shares": shares,
        "busiest_node": peak_at,
        "busiest_node_utilization": peak,
        "read_split": how,
    }
    if component.replication_lag is not None and component.read_replicas:
        details["replication_lag_ms_mean"] = component.replication_lag.mean_s * 1000
    shape = f"{component.shards} shard(s) × {component.nodes_per_shard} node(s)"
    wait_s = math.inf if unstable else (waiting_total / arrival_rate if arrival_rate else 0.0)
    return _Station(
        name,
        arrival_rate,
        arrival_rate * mean_s / component.capacity,
        wait_s,
        wait_s + mean_s,
        math.inf if unstable else waiting_total,
        mean_s,
        f"{'unstable' if unstable else ' / '.join(methods) or 'M/G/c'} per node, {shape}",
        exact and not unstable,
        warnings=notes,
        peak=peak,
        job_s=mean_s,
        replicas=float(component.shards * component.nodes_per_shard),
        capacity=component.capacity,
        details=details,
        children=children,
        unstable_reason=(
            f"{name}/{peak_at}: offered load is {peak:.3g}× its capacity of {peak_servers} "
            f"slots ({arrival_rate:.4g} arrivals/s at the database)"
        ),
    )


class DatabaseKind(ComponentKind):
    name = "database"
    spec_model = DatabaseSpec
    symbol = "square"
    example: ClassVar[Mapping[str, Any]] = {
        "kind": "database",
        "shards": 2,
        "read_replicas": 1,
        "concurrency": 4,
        "read_time": {"dist": "exponential", "mean_ms": 2},
    }

    def station(self, name: str, spec: Any, env: Any, streams: Any) -> Any:
        return DatabaseStation(name, spec, env, streams)

    def analytic_station(self, ctx: Any, name: str, spans: Mapping[str, float]) -> Any:

        return _database_station(ctx, name, ctx.component(name))

    def billable_nodes(self, spec: Any, running_replicas: float | None = None) -> float:
        # Every shard runs a primary and its read replicas.
        return float(spec.shards * spec.nodes_per_shard)

    def availability_model(self, spec: Any) -> FailureModel | None:
        from scaleplan.analytic.availability import primary_with_failover

        failures, a, together = unit_availability(spec)
        shards, replicas = spec.shards, spec.read_replicas
        nodes = shards * spec.nodes_per_shard
        exact = True
        if failures is None or together:
            analytic = a
        elif failures.scope == "shard":
            analytic = a**shards
        else:
            # A primary's loss fails the shard's writes until a read replica is promoted
            # (detection_s + failover_s later): first order in λ·W unless that is instant.
            window_h = (failures.detection_s + failures.failover_s) / 3600
            shard = primary_with_failover(a, replicas, 1 / failures.mtbf_h, window_h)
            analytic = shard**shards
            exact = replicas == 0 or window_h == 0
        alone = replicas == 0 or (failures is not None and failures.scope != "node")
        return FailureModel(
            "database", "nodes", nodes, shards, shards, failures, a, analytic, alone, exact=exact
        )

    def passes_poisson(self, ctx: Any, name: str) -> bool:
        return False  # it calls nobody: nothing downstream to keep Poisson

    def transform_traffic(
        self,
        name: str,
        spec: Any,
        failure: Mapping[str, float],
        miss: float,
        notes: dict[str, str],
    ) -> tuple[list[Any], float]:
        return [], 0.0  # a database neither calls nor fails on its own

    def station_loads(
        self, name: str, spec: Any, arrivals_per_s: float, holding_s: float
    ) -> list[Any]:
        return database_loads(name, spec, arrivals_per_s)

    def visit_outcome(
        self, ctx: Any, name: str, known: Mapping[str, tuple[float, float, float]]
    ) -> tuple[float, float, float]:
        from scaleplan.analytic.network import own_stage

        return own_stage(ctx, name)


KIND = DatabaseKind()
