"""The SimPy model of each component kind: how a request is served at it.

A station is one small class per ``kind`` (see :data:`STATIONS`) with a generator method
``visit()`` that a request's process delegates to (``yield from``) and that returns the
request's status there (:data:`OK`, :data:`REJECTED`). Adding a kind touches this file only.

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

from scaleplan.engine.policies import POLICIES, Policy
from scaleplan.engine.streams import buffered, uniforms
from scaleplan.spec import LoadBalancerSpec, ServiceSpec

OK = 0
REJECTED = 1
FAILED = 2

Visit = Generator[Any, Any, int]
StreamFactory = Callable[[str], np.random.Generator]


class Replica:
    """One replica: ``concurrency`` slots and its own FIFO queue of waiting requests."""

    __slots__ = ("busy", "concurrency", "queue")

    def __init__(self, concurrency: int):
        self.concurrency = concurrency
        self.busy = 0
        self.queue: deque[Event] = deque()

    def load(self) -> int:
        return self.busy + len(self.queue)


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

    @property
    def capacity(self) -> int:
        return sum(replica.concurrency for replica in self.replicas)

    def connect(self, stations: dict[str, Station], streams: StreamFactory) -> None:
        """Resolve references to other stations once all exist."""

    def visit(self) -> Visit:
        raise NotImplementedError

    def in_service(self) -> int:
        return sum(replica.busy for replica in self.replicas)

    def waiting(self) -> int:
        return sum(len(replica.queue) for replica in self.replicas)


class ServiceStation(Station):
    kind = "service"

    def __init__(
        self, name: str, spec: ServiceSpec, env: simpy.Environment, streams: StreamFactory
    ):
        super().__init__(name, env)
        self.spec = spec
        self.replicas = [Replica(spec.concurrency) for _ in range(spec.replicas)]
        self.queue_limit = spec.queue_limit
        self.hold = spec.hold_during_calls
        self.parallel = spec.parallel
        rng = streams(f"service:{name}")
        distribution = spec.service_time
        self.service_s: Iterator[float] = buffered(lambda n: distribution.sample(rng, n) * 1e-3)
        self.routing: Iterator[float] = uniforms(streams(f"routing:{name}"))
        self.calls: list[tuple[Station, float]] = []
        self.dispatch: Policy = POLICIES[spec.dispatch](
            [1.0] * spec.replicas,
            self.replicas_load,
            streams(f"dispatch:{name}"),
        )

    def replicas_load(self, index: int) -> int:
        return self.replicas[index].load()

    def connect(self, stations: dict[str, Station], streams: StreamFactory) -> None:
        self.calls = [(stations[call.to], call.probability) for call in self.spec.calls]

    def visit(self) -> Visit:
        replicas = self.replicas
        replica = replicas[self.dispatch.choose()] if len(replicas) > 1 else replicas[0]
        return (yield from self.serve(replica))

    def serve(self, replica: Replica) -> Visit:
        env = self.env
        arrived = env.now
        if replica.busy < replica.concurrency:
            replica.busy += 1
        else:
            if self.queue_limit is not None and len(replica.queue) >= self.queue_limit:
                self.reject_times.append(arrived)
                return REJECTED
            turn = Event(env)
            replica.queue.append(turn)
            yield turn  # the slot is handed over by release(); busy is unchanged
        started = env.now
        yield Timeout(env, next(self.service_s))
        served = env.now
        status = OK
        if not self.hold:
            self.release(replica)
        if self.calls:
            status = yield from (self.call_parallel() if self.parallel else self.call_in_order())
        done = env.now
        if self.hold:
            self.release(replica)
            held = done - started
        else:
            held = served - started
        self.records.append((done, started - arrived, served - started, held, done - arrived))
        return status

    @staticmethod
    def release(replica: Replica) -> None:
        if replica.queue:
            replica.queue.popleft().succeed()
        else:
            replica.busy -= 1

    def call_in_order(self) -> Visit:
        routing = self.routing
        for station, probability in self.calls:
            if probability < 1.0 and next(routing) >= probability:
                continue
            status = yield from station.visit()
            if status != OK:
                return status
        return OK

    def call_parallel(self) -> Visit:
        env = self.env
        routing = self.routing
        branches = [
            env.process(station.visit())
            for station, probability in self.calls
            if probability >= 1.0 or next(routing) < probability
        ]
        if not branches:
            return OK
        outcome = yield env.all_of(branches)
        statuses = [status for status in outcome.values() if status != OK]
        return max(statuses) if statuses else OK


class LoadBalancerStation(Station):
    """Forwards each request to one replica of its target services, chosen by its policy."""

    kind = "load_balancer"

    def __init__(
        self, name: str, spec: LoadBalancerSpec, env: simpy.Environment, streams: StreamFactory
    ):
        super().__init__(name, env)
        self.spec = spec
        self.endpoints: list[tuple[ServiceStation, Replica]] = []
        self.policy: Policy | None = None
        self.service_s: Iterator[float] | None = None
        if spec.service_time is not None:
            rng = streams(f"service:{name}")
            distribution = spec.service_time
            self.service_s = buffered(lambda n: distribution.sample(rng, n) * 1e-3)
            self.replicas = [Replica(spec.concurrency)]

    def connect(self, stations: dict[str, Station], streams: StreamFactory) -> None:
        weights: list[float] = []
        for target in self.spec.to:
            station = stations[target.to]
            assert isinstance(station, ServiceStation)  # checked when the spec was loaded
            for replica in station.replicas:
                self.endpoints.append((station, replica))
                weights.append(target.weight / len(station.replicas))
        self.policy = POLICIES[self.spec.policy](
            weights, self.endpoint_load, streams(f"dispatch:{self.name}")
        )

    def endpoint_load(self, index: int) -> int:
        return self.endpoints[index][1].load()

    def visit(self) -> Visit:
        env = self.env
        arrived = env.now
        started = served = arrived
        if self.service_s is not None:
            own = self.replicas[0]
            if own.busy < own.concurrency:
                own.busy += 1
            else:
                turn = Event(env)
                own.queue.append(turn)
                yield turn
            started = env.now
            yield Timeout(env, next(self.service_s))
            served = env.now
            ServiceStation.release(own)
        assert self.policy is not None
        station, replica = self.endpoints[self.policy.choose()]
        status = yield from station.serve(replica)
        done = env.now
        self.records.append(
            (done, started - arrived, served - started, served - started, done - arrived)
        )
        return status


STATIONS: dict[str, Callable[..., Station]] = {
    "service": ServiceStation,
    "load_balancer": LoadBalancerStation,
}
