"""The SimPy model of the basic component kinds: services and load balancers.

A station is one small class per ``kind`` with a generator method ``visit()`` that a request's
process delegates to (``yield from``) and that returns the request's status there (:data:`OK`,
:data:`REJECTED`, :data:`FAILED`). The registry of kinds is :mod:`scaleplan.engine.kinds`;
other kinds live in their own modules (``data``, ``messaging``).

Replicas do not use ``simpy.Resource``: a replica is a counter of busy slots and a FIFO of
waiting events, which is what a Resource does, without the two extra events per request
(request and release) that made the engine slower than a hand-written model. A slot freed with
requests waiting is handed straight to the first of them, so the order is strictly FIFO.

What is recorded per visit is one tuple appended to ``records`` (completion time, wait,
own service, holding time, span), turned into statistics in bulk by the recorder.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator, Iterator
from typing import Any

import numpy as np
import simpy
from simpy.events import Event, Timeout

from scaleplan.distributions import Distribution
from scaleplan.engine.policies import POLICIES, Policy
from scaleplan.engine.streams import buffered, uniforms
from scaleplan.spec import LoadBalancerSpec, ServiceSpec

OK = 0
REJECTED = 1
FAILED = 2

Visit = Generator[Any, Any, int]
StreamFactory = Callable[[str], np.random.Generator]


class Replica:
    """One replica: ``concurrency`` slots and its own FIFO queue of waiting requests.

    ``up`` is whether it runs; ``epoch`` counts its crashes, so a request can tell that the
    replica it was served on crashed meanwhile. ``slowdown`` and ``extra_error`` are how a
    degraded replica or a bad release behaves; ``version`` and ``zone`` label it.
    """

    __slots__ = (
        "busy",
        "concurrency",
        "epoch",
        "errors",
        "extra_error",
        "queue",
        "served",
        "slowdown",
        "up",
        "version",
        "zone",
    )

    def __init__(self, concurrency: int, zone: str = ""):
        self.concurrency = concurrency
        self.busy = 0
        self.queue: deque[Event] = deque()
        self.up = True
        self.epoch = 0
        self.slowdown = 1.0
        self.extra_error = 0.0
        self.version = 0
        self.zone = zone
        # Visits served and visits that failed by an error here, for per-version error
        # rates during a rollout.
        self.served = 0
        self.errors = 0

    def load(self) -> int:
        return self.busy + len(self.queue)


def release(replica: Replica) -> None:
    """Free a slot: hand it to the first waiting request, or count it idle.

    A replica shrunk by autoscaling has more busy slots than it now owns: those go away.
    """
    if replica.queue and replica.busy <= replica.concurrency:
        replica.queue.popleft().succeed(True)
    else:
        replica.busy -= 1


def crash(replica: Replica) -> None:
    """The replica stops: what it serves and what waits for it fails."""
    replica.up = False
    replica.epoch += 1
    replica.busy = 0
    while replica.queue:
        replica.queue.popleft().succeed(False)


def service_times(distribution: Distribution, rng: np.random.Generator) -> Iterator[float]:
    """Seconds of service, drawn a block at a time."""
    return buffered(lambda n: distribution.sample(rng, n) * 1e-3)


class Station:
    """Base of every component kind."""

    kind = ""

    def __init__(self, name: str, env: simpy.Environment):
        self.name = name
        self.env = env
        # (completion time, wait, own service, holding time, span), seconds, one per visit
        self.records: list[tuple[float, float, float, float, float]] = []
        self.reject_times: list[float] = []
        self.replicas: list[Replica] = []
        # Parts with figures of their own in the result (a database's shards, a topic's
        # subscriptions), named "<component>/<part>".
        self.children: list[Station] = []
        # Called when the set of replicas changes (autoscaling), e.g. by a load balancer.
        self.listeners: list[Callable[[], None]] = []
        # (time, replicas) at each change of the replica count, for the time series.
        self.replica_log: list[tuple[float, int]] = []
        # Times of requests that failed here (crashed replica, no healthy replica, errors).
        self.failure_times: list[float] = []
        # Every replica, in rotation or not (``replicas`` is what dispatch sees).
        self.all_replicas: list[Replica] = []
        # (time, replicas up) at each crash or repair, for availability.
        self.up_log: list[tuple[float, int]] = []

    @property
    def capacity(self) -> int:
        return sum(replica.concurrency for replica in self.replicas)

    @property
    def replica_count(self) -> int:
        return len(self.replicas)

    def connect(self, stations: dict[str, Station], streams: StreamFactory) -> None:
        """Resolve references to other stations once all exist."""

    def start(self) -> None:
        """Start the station's own processes (autoscaler, restarts) once connected."""

    def visit(self) -> Visit:
        raise NotImplementedError

    def in_service(self) -> int:
        return sum(replica.busy for replica in self.replicas)

    def waiting(self) -> int:
        return sum(len(replica.queue) for replica in self.replicas)

    def details(self) -> dict[str, Any]:
        """Kind-specific figures for the result (counts, ratios)."""
        return {}

    def serve_simple(
        self, replica: Replica, service_s: Iterator[float]
    ) -> Generator[Any, Any, float]:
        """Wait for a slot, hold it for one service time, release it; returns the wait (s).

        For kinds whose own work is a plain delay; a service's hot path is inlined in
        :meth:`ServiceStation.serve` instead.
        """
        env = self.env
        arrived = env.now
        if replica.busy < replica.concurrency:
            replica.busy += 1
        else:
            turn = Event(env)
            replica.queue.append(turn)
            yield turn
        waited = env.now - arrived
        yield Timeout(env, next(service_s))
        release(replica)
        return waited

    def notify(self) -> None:
        self.replica_log.append((self.env.now, self.replica_count))
        for listener in self.listeners:
            listener()

    # -- failures and rotation (driven by scaleplan.engine.faults) ----------------------

    def replicas_up(self) -> int:
        return sum(replica.up for replica in self.all_replicas or self.replicas)

    def crash(self, replica: Replica) -> None:
        crash(replica)
        self.up_log.append((self.env.now, self.replicas_up()))

    def repair(self, replica: Replica) -> None:
        replica.up = True
        self.up_log.append((self.env.now, self.replicas_up()))

    def set_rotation(self, replica: Replica, serving: bool) -> None:
        """Put a replica in or out of the set that callers dispatch to (health checks)."""
        if not self.all_replicas:
            self.all_replicas = list(self.replicas)
        if serving and replica not in self.replicas:
            self.replicas.append(replica)
        elif not serving and replica in self.replicas:
            self.replicas.remove(replica)
        else:
            return
        self.rotation_changed()

    def rotation_changed(self) -> None:
        self.notify()


class ServiceStation(Station):
    kind = "service"

    def __init__(
        self, name: str, spec: ServiceSpec, env: simpy.Environment, streams: StreamFactory
    ):
        super().__init__(name, env)
        self.spec = spec
        self.streams = streams
        zones = spec.zones or ("",)
        self.replicas = [
            Replica(spec.concurrency, zones[index % len(zones)]) for index in range(spec.replicas)
        ]
        self.all_replicas = list(self.replicas)
        self.queue_limit = spec.queue_limit
        self.hold = spec.hold_during_calls
        self.parallel = spec.parallel
        self.max_wait_s = (
            spec.load_shedding.max_wait_ms / 1000 if spec.load_shedding is not None else None
        )
        self.error_probability = spec.error_probability
        self.errors: Iterator[float] = uniforms(streams(f"errors:{name}"))
        self.service_s = service_times(spec.service_time, streams(f"service:{name}"))
        self.routing: Iterator[float] = uniforms(streams(f"routing:{name}"))
        # (station, probability, resilient caller or None)
        self.calls: list[tuple[Station, float, Any]] = []
        self.shed = 0
        self.failed_here = 0
        self.dispatch: Policy = POLICIES[spec.dispatch](
            [1.0] * spec.replicas, self.replicas_load, streams(f"dispatch:{name}")
        )

    def replicas_load(self, index: int) -> int:
        return self.replicas[index].load()

    def connect(self, stations: dict[str, Station], streams: StreamFactory) -> None:
        from scaleplan.engine.resilience import ResilientCall

        self.calls = []
        for index, call in enumerate(self.spec.calls):
            target = stations[call.to]
            caller = (
                ResilientCall(self.env, f"{self.name}->{call.to}#{index}", call, target, streams)
                if call.resilient
                else None
            )
            self.calls.append((target, call.probability, caller))

    def start(self) -> None:
        if self.spec.autoscale is not None:
            from scaleplan.engine.autoscale import Autoscaler

            Autoscaler(self, self.spec.autoscale).start()

    def visit(self) -> Visit:
        replicas = self.replicas
        if len(replicas) > 1:
            replica = replicas[self.dispatch.choose()]
        elif replicas:
            replica = replicas[0]
        else:  # every replica is out of rotation
            self.failure_times.append(self.env.now)
            return FAILED
        return (yield from self.serve(replica))

    def serve(self, replica: Replica) -> Visit:
        env = self.env
        arrived = env.now
        if not replica.up:  # crashed, and no health check has noticed yet
            self.failure_times.append(arrived)
            return FAILED
        epoch = replica.epoch
        if replica.busy < replica.concurrency:
            replica.busy += 1
        else:
            if self.queue_limit is not None and len(replica.queue) >= self.queue_limit:
                self.reject_times.append(arrived)
                return REJECTED
            turn = Event(env)
            replica.queue.append(turn)
            # The slot is handed over by release() (True), or the replica crashed (False).
            if not (yield turn):
                self.failure_times.append(env.now)
                return FAILED
            if self.max_wait_s is not None and env.now - arrived > self.max_wait_s:
                release(replica)
                self.shed += 1
                self.reject_times.append(env.now)
                return REJECTED
        started = env.now
        yield Timeout(env, next(self.service_s) * replica.slowdown)
        if replica.epoch != epoch:  # crashed while serving: the slot went with it
            self.failure_times.append(env.now)
            return FAILED
        served = env.now
        status = OK
        error = self.error_probability + replica.extra_error
        replica.served += 1
        if error and next(self.errors) < error:
            status = FAILED
            self.failed_here += 1
            replica.errors += 1
        if not self.hold:
            release(replica)
        if self.calls and status == OK:
            status = yield from (self.call_parallel() if self.parallel else self.call_in_order())
        done = env.now
        if self.hold:
            if replica.epoch != epoch:
                self.failure_times.append(done)
                return FAILED
            release(replica)
            held = done - started
        else:
            held = served - started
        self.records.append((done, started - arrived, served - started, held, done - arrived))
        if status != OK:  # an error here or from a call: this component answered with it
            self.failure_times.append(done)
        return status

    def call_in_order(self) -> Visit:
        routing = self.routing
        for station, probability, caller in self.calls:
            if probability < 1.0 and next(routing) >= probability:
                continue
            if caller is None:
                status = yield from station.visit()
            else:
                status = yield from caller.call()
            if status != OK:
                return status
        return OK

    def call_parallel(self) -> Visit:
        env = self.env
        routing = self.routing
        branches = [
            env.process(station.visit() if caller is None else caller.call())
            for station, probability, caller in self.calls
            if probability >= 1.0 or next(routing) < probability
        ]
        if not branches:
            return OK
        outcome = yield env.all_of(branches)
        statuses = [status for status in outcome.values() if status != OK]
        return max(statuses) if statuses else OK

    # -- autoscaling ------------------------------------------------------------------

    def add_replica(self) -> None:
        zones = self.spec.zones or ("",)
        replica = Replica(self.spec.concurrency, zones[len(self.all_replicas) % len(zones)])
        self.replicas.append(replica)
        self.all_replicas.append(replica)
        self.rotation_changed()

    def rotation_changed(self) -> None:
        if self.replicas:
            self.dispatch.resize([1.0] * len(self.replicas))
        self.notify()

    def remove_replica(self) -> None:
        """Take the least loaded replica out of rotation; it finishes what it already holds."""
        if len(self.replicas) <= 1:
            return
        idle = min(range(len(self.replicas)), key=lambda index: self.replicas[index].load())
        removed = self.replicas.pop(idle)
        self.all_replicas.remove(removed)
        self.rotation_changed()

    def details(self) -> dict[str, Any]:
        figures: dict[str, Any] = {}
        if self.shed:
            figures["shed"] = self.shed
        if self.failed_here:
            figures["errors"] = self.failed_here
        callers = {
            caller.label: caller.figures() for _, _, caller in self.calls if caller is not None
        }
        if callers:
            figures["calls"] = callers
        return figures


class LoadBalancerStation(Station):
    """Forwards each request to one replica of its target services, chosen by its policy."""

    kind = "load_balancer"

    def __init__(
        self, name: str, spec: LoadBalancerSpec, env: simpy.Environment, streams: StreamFactory
    ):
        super().__init__(name, env)
        self.spec = spec
        self.endpoints: list[tuple[ServiceStation, Replica]] = []
        self.targets: list[tuple[ServiceStation, float]] = []
        self.policy: Policy | None = None
        self.service_s: Iterator[float] | None = None
        if spec.service_time is not None:
            self.service_s = service_times(spec.service_time, streams(f"service:{name}"))
            self.replicas = [Replica(spec.concurrency)]

    def connect(self, stations: dict[str, Station], streams: StreamFactory) -> None:
        for target in self.spec.to:
            station = stations[target.to]
            assert isinstance(station, ServiceStation)  # checked when the spec was loaded
            self.targets.append((station, target.weight))
            station.listeners.append(self.rebuild)
        weights = self._endpoint_weights()
        self.policy = POLICIES[self.spec.policy](
            weights, self.endpoint_load, streams(f"dispatch:{self.name}")
        )

    def _endpoint_weights(self) -> list[float]:
        self.endpoints = []
        weights: list[float] = []
        for station, weight in self.targets:
            for replica in station.replicas:
                self.endpoints.append((station, replica))
                weights.append(weight / len(station.replicas))
        return weights

    def rebuild(self) -> None:
        """A target gained or lost replicas: spread over the current ones."""
        assert self.policy is not None
        weights = self._endpoint_weights()
        if weights:
            self.policy.resize(weights)

    def endpoint_load(self, index: int) -> int:
        return self.endpoints[index][1].load()

    def visit(self) -> Visit:
        env = self.env
        arrived = env.now
        waited = own = 0.0
        if self.service_s is not None:
            waited = yield from self.serve_simple(self.replicas[0], self.service_s)
            own = env.now - arrived - waited
        assert self.policy is not None
        if not self.endpoints:  # no healthy replica behind the balancer
            self.failure_times.append(env.now)
            return FAILED
        station, replica = self.endpoints[self.policy.choose()]
        status = yield from station.serve(replica)
        done = env.now
        self.records.append((done, waited, own, own, done - arrived))
        if status != OK:
            self.failure_times.append(done)
        return status
