"""The ``queue`` kind: asynchronous offload to a worker pool; the producer publishes and goes
on (spec :class:`~scaleplan.spec.QueueSpec`, station
:class:`QueueStation`, below).

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
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import simpy
from pydantic import (
    Field,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
)
from simpy.events import Event, Timeout

from scaleplan.distributions import Distribution
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
    service_times,
)
from scaleplan.kinds.base import ComponentKind
from scaleplan.kinds.worker_pool import WorkerPoolStation
from scaleplan.spec.base import StrictModel
from scaleplan.spec.components import (
    FailureSpec,
    _ComponentBase,
)

if TYPE_CHECKING:  # a topic's subscriptions are brokers too; topic imports this module
    from scaleplan.kinds.topic import SubscriptionSpec


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

    def publish(self, request: Request) -> Visit:
        """Accept a message for ``request``; the job it starts carries a child request."""
        limit = self.broker.max_messages
        while limit is not None and self.depth >= limit:
            if self.broker.when_full == "reject":
                self.counts["rejected_full"] += 1
                self.reject_times.append(self.env.now)
                request.error(self.name, REJECTED)
                return REJECTED
            self.counts["blocked"] += 1
            room = Event(self.env)
            self.blocked.append(room)
            yield room
        self.counts["published"] += 1
        self.jobs.started()
        self.env.process(self.deliver(self.env.now, request.job()))
        return OK

    def deliver(self, published: float, job: Request):  # type: ignore[no-untyped-def]
        env = self.env
        consumer = self.consumer
        assert consumer is not None
        pool = consumer.pool
        redeliveries = 0
        first_wait = None
        while True:
            queued = env.now
            turn = acquire(pool, env)
            if turn is not None:
                self.depth += 1
                yield turn
                self.depth -= 1
                if self.blocked:
                    self.blocked.popleft().succeed()
            if first_wait is None:
                first_wait = env.now - queued
            status = yield from consumer.work(job)
            if status == OK:
                self.counts["delivered"] += 1
                break
            if redeliveries >= self.broker.max_retries:
                self.counts["dead_lettered"] += 1
                break
            redeliveries += 1
            job.attempt += 1
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

    def visit(self, request: Request) -> Visit:
        if not accepting(self):
            return refuse(self, request)
        if self.publish_s is not None:
            yield Timeout(self.env, next(self.publish_s))
        return (yield from self.publish(request))

    def prepare_failures(self, spec: Any) -> None:
        prepare_broker_nodes(self, spec)

    def set_rotation(self, replica: Replica, serving: bool) -> None:
        """Producers publish to the cluster, not to a node: no rotation to keep."""


class SubscriptionStation(Broker):
    kind = "subscription"


def prepare_broker_nodes(station: Station, spec: Any) -> None:
    """The broker's nodes, as replicas that can crash (one slot each: they hold no work)."""
    if not station.all_replicas:
        station.all_replicas = [Replica(1) for _ in range(getattr(spec, "nodes", 1))]


def accepting(station: Station) -> bool:
    """Whether a majority of the broker's nodes runs (and none is made to fail by chaos)."""
    nodes = station.all_replicas
    if not nodes:
        return True
    up = sum(node.up and not node.extra_error for node in nodes)
    return 2 * up > len(nodes)


def refuse(station: Station, request: Request) -> int:
    """A publish the broker cannot take: it fails (the producer gets an error)."""
    station.failure_times.append(station.env.now)
    request.error(station.name, FAILED)
    return FAILED


class BrokerKind(ComponentKind):
    """What a queue and a topic share: a broker of ``nodes`` nodes whose publish is a pure
    delay (the estimate's broker station), billed per node."""

    def analytic_station(self, ctx: Any, name: str, spans: Mapping[str, float]) -> Any:
        from scaleplan.analytic import network

        return network._broker_station(ctx, name, ctx.component(name))

    def billable_nodes(self, spec: Any, running_replicas: float | None = None) -> float:
        return float(spec.nodes)

    def failure_units(self, spec: Any) -> str:
        return "each broker node (publishes fail without a majority of nodes up)"


class QueueKind(BrokerKind):
    name = "queue"
    spec_model = QueueSpec
    symbol = "hourglass"
    example: ClassVar[Mapping[str, Any]] = {"kind": "queue", "consumer": "{target}"}
    example_neighbours: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        "target": {
            "kind": "worker_pool",
            "replicas": 2,
            "service_time": {"dist": "exponential", "mean_ms": 10},
        }
    }

    def station(self, name: str, spec: Any, env: Any, streams: Any) -> Any:
        return QueueStation(name, spec, env, streams)

    def passes_poisson(self, ctx: Any, name: str) -> bool:
        return True  # a publish is a pure delay: Poisson in, Poisson out

    def transform_traffic(
        self,
        name: str,
        spec: Any,
        failure: Mapping[str, float],
        miss: float,
        notes: dict[str, str],
    ) -> tuple[list[Any], float]:
        from scaleplan.load import delivery

        # The producer does not wait: the delivery is asynchronous and cannot fail the visit.
        return [delivery(spec.consumer, spec, failure)], 0.0


KIND = QueueKind()
