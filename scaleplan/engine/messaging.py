"""The SimPy model of asynchronous work: queues, topics and the worker pools that consume them.

Publishing returns as soon as the broker accepts the message (after its ``publish_time``);
the job then waits in the broker until a worker slot is free — the slots of a pool pull from
one shared FIFO, so a pool of r replicas × c slots behaves as one M/G/(r·c) station — and is
redelivered after a backoff when it fails, up to ``max_retries``, then dead-lettered. A broker
records per job its consumer lag (wait) and its time in system (publish → done), apart from the
request latency the user sees. A topic publishes once and delivers to every subscription, each
a broker of its own (a child station named ``<topic>/<subscription>``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

import simpy
from simpy.events import Event, Timeout

from scaleplan.engine.stations import (
    FAILED,
    OK,
    REJECTED,
    Replica,
    ServiceStation,
    Station,
    StreamFactory,
    Visit,
    release,
    service_times,
)
from scaleplan.spec import QueueSpec, SubscriptionSpec, TopicSpec, WorkerPoolSpec


class WorkerPoolStation(ServiceStation):
    """A service whose slots, over all replicas, share one FIFO (workers pull their work)."""

    kind = "worker_pool"

    def __init__(
        self, name: str, spec: WorkerPoolSpec, env: simpy.Environment, streams: StreamFactory
    ):
        super().__init__(name, env=env, spec=spec, streams=streams)
        self.replica_total = spec.replicas
        self.pool = Replica(spec.replicas * spec.concurrency)
        self.replicas = [self.pool]

    @property
    def replica_count(self) -> int:
        return self.replica_total

    def visit(self) -> Visit:
        return (yield from self.serve(self.pool))

    def add_replica(self) -> None:
        self.replica_total += 1
        self.pool.concurrency += self.spec.concurrency
        # New slots take waiting jobs at once.
        while self.pool.queue and self.pool.busy < self.pool.concurrency:
            self.pool.busy += 1
            self.pool.queue.popleft().succeed(True)
        self.notify()

    def remove_replica(self) -> None:
        if self.replica_total <= 1:
            return
        self.replica_total -= 1
        # Busy slots finish their job; the pool simply hands out fewer from now on.
        self.pool.concurrency -= self.spec.concurrency
        self.notify()

    def work(self) -> Visit:
        """A job that holds a slot already: serve it, make its calls, free the slot."""
        env = self.env
        started = env.now
        yield Timeout(env, next(self.service_s))
        served = env.now
        status = OK
        if self.error_probability and next(self.errors) < self.error_probability:
            status = FAILED
            self.failed_here += 1
        if not self.hold:
            release(self.pool)
        if self.calls and status == OK:
            status = yield from (self.call_parallel() if self.parallel else self.call_in_order())
        done = env.now
        if self.hold:
            release(self.pool)
        held = (done if self.hold else served) - started
        self.records.append((done, 0.0, served - started, held, done - started))
        if status != OK:
            self.failure_times.append(done)
        return status


class JobCount:
    """Asynchronous jobs still in the system; ``on_idle`` is called when the last finishes."""

    def __init__(self) -> None:
        self.outstanding = 0
        self.on_idle: Callable[[], None] = lambda: None

    def started(self) -> None:
        self.outstanding += 1

    def finished(self) -> None:
        self.outstanding -= 1
        if self.outstanding == 0:
            self.on_idle()


class Broker(Station):
    """Holds published messages until the consumer pool takes them; redelivers failures."""

    kind = "queue"

    def __init__(
        self,
        name: str,
        spec: QueueSpec | SubscriptionSpec,
        env: simpy.Environment,
        streams: StreamFactory,
    ):
        super().__init__(name, env)
        self.broker = spec
        self.consumer: WorkerPoolStation | None = None
        # Jobs not yet finished, shared with the run so that it drains them before stopping.
        self.jobs = JobCount()
        self.depth = 0
        self.blocked: deque[Event] = deque()
        self.counts = {
            "published": 0,
            "delivered": 0,
            "redelivered": 0,
            "dead_lettered": 0,
            "rejected_full": 0,
            "blocked": 0,
        }

    @property
    def capacity(self) -> int:
        return 0  # a broker holds messages, not slots: its consumers have the capacity

    def waiting(self) -> int:
        return self.depth

    def in_service(self) -> int:
        return 0

    def bind(self, stations: dict[str, Station]) -> None:
        consumer = stations[self.broker.consumer]
        assert isinstance(consumer, WorkerPoolStation)  # checked when the spec was loaded
        self.consumer = consumer

    def publish(self) -> Visit:
        limit = self.broker.max_messages
        while limit is not None and self.depth >= limit:
            if self.broker.when_full == "reject":
                self.counts["rejected_full"] += 1
                self.reject_times.append(self.env.now)
                return REJECTED
            self.counts["blocked"] += 1
            room = Event(self.env)
            self.blocked.append(room)
            yield room
        self.counts["published"] += 1
        self.jobs.started()
        self.env.process(self.deliver(self.env.now))
        return OK

    def deliver(self, published: float):  # type: ignore[no-untyped-def]
        env = self.env
        consumer = self.consumer
        assert consumer is not None
        pool = consumer.pool
        redeliveries = 0
        first_wait = None
        while True:
            queued = env.now
            if pool.busy < pool.concurrency:
                pool.busy += 1
            else:
                turn = Event(env)
                pool.queue.append(turn)
                self.depth += 1
                yield turn
                self.depth -= 1
                if self.blocked:
                    self.blocked.popleft().succeed()
            if first_wait is None:
                first_wait = env.now - queued
            status = yield from consumer.work()
            if status == OK:
                self.counts["delivered"] += 1
                break
            if redeliveries >= self.broker.max_retries:
                self.counts["dead_lettered"] += 1
                break
            redeliveries += 1
            self.counts["redelivered"] += 1
            yield Timeout(env, self.broker.retry_backoff_ms / 1000 * 2 ** (redeliveries - 1))
        done = env.now
        # wait = consumer lag of the first delivery; span = the job's time in system
        self.records.append((done, first_wait, 0.0, 0.0, done - published))
        self.jobs.finished()

    def details(self) -> dict[str, Any]:
        return dict(self.counts)


class QueueStation(Broker):
    kind = "queue"

    def __init__(self, name: str, spec: QueueSpec, env: simpy.Environment, streams: StreamFactory):
        super().__init__(name, spec, env, streams)
        self.publish_s: Iterator[float] | None = (
            service_times(spec.publish_time, streams(f"publish:{name}"))
            if spec.publish_time is not None
            else None
        )

    def connect(self, stations: dict[str, Station], streams: StreamFactory) -> None:
        self.bind(stations)

    def visit(self) -> Visit:
        if self.publish_s is not None:
            yield Timeout(self.env, next(self.publish_s))
        return (yield from self.publish())


class SubscriptionStation(Broker):
    kind = "subscription"


class TopicStation(Station):
    kind = "topic"

    def __init__(self, name: str, spec: TopicSpec, env: simpy.Environment, streams: StreamFactory):
        super().__init__(name, env)
        self.spec = spec
        self.subscriptions = [
            SubscriptionStation(f"{name}/{item.name}", item, env, streams)
            for item in spec.subscriptions
        ]
        self.children = list(self.subscriptions)
        self.publish_s: Iterator[float] | None = (
            service_times(spec.publish_time, streams(f"publish:{name}"))
            if spec.publish_time is not None
            else None
        )
        self.published = 0

    def connect(self, stations: dict[str, Station], streams: StreamFactory) -> None:
        for subscription in self.subscriptions:
            subscription.bind(stations)

    def visit(self) -> Visit:
        env = self.env
        arrived = env.now
        if self.publish_s is not None:
            yield Timeout(env, next(self.publish_s))
        self.published += 1
        status = OK
        for subscription in self.subscriptions:
            outcome = yield from subscription.publish()
            status = max(status, outcome)
        done = env.now
        self.records.append((done, 0.0, done - arrived, 0.0, done - arrived))
        return status

    def details(self) -> dict[str, Any]:
        return {"published": self.published}
