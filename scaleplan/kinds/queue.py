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

import math
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import simpy
from pydantic import (
    Field,
)
from simpy.events import Event, Timeout

from scaleplan.distributions import Distribution
from scaleplan.engine.preemption import take_slot
from scaleplan.engine.protocol import (
    FAILED,
    OK,
    REJECTED,
    Replica,
    Request,
    Station,
    StreamFactory,
    Visit,
    service_times,
)
from scaleplan.kinds.base import ComponentKind, FailureModel, unit_availability
from scaleplan.kinds.worker_pool import WorkerPoolStation
from scaleplan.spec.base import Count, Milliseconds, Servers, StrictModel
from scaleplan.spec.components import (
    MAX_RETRIES,
    FailureSpec,
    _ComponentBase,
)

if TYPE_CHECKING:
    from scaleplan.analytic.network import _Context, _Station
    from scaleplan.load import Call


class _BrokerFields(StrictModel):
    # Not called ``capacity``: that is every component's number of slots.
    max_messages: Count | None = Field(
        default=None, description="messages waiting at most (the broker's capacity); unbounded"
    )
    when_full: Literal["reject", "block"] = "reject"
    max_retries: int = Field(
        ge=0, le=MAX_RETRIES, default=0, description="redeliveries of a failed job"
    )
    retry_backoff_ms: Milliseconds = 100.0


class QueueSpec(_ComponentBase, _BrokerFields):
    """A message queue: the producer publishes and goes on; a worker pool consumes.

    A job that fails is redelivered up to ``max_retries`` times after a backoff, then counted as
    dead-lettered.
    """

    kind: Literal["queue"]
    consumer: str
    nodes: Servers = Field(default=1, description="broker nodes (billed per node-hour)")
    publish_time: Distribution | None = Field(
        default=None, description="time the producer waits for the broker's acknowledgement"
    )
    failures: FailureSpec | None = Field(
        default=None, description="broker nodes crash; publishes fail without a majority up"
    )

    def broker_limits(self, name: str) -> list[tuple[str, int | None, str, str]]:
        return [(name, self.max_messages, self.when_full, self.consumer)]

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
        spec: Any,  # a QueueSpec, or a topic's SubscriptionSpec (a broker of its own)
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
            turn = take_slot(consumer.preemption, pool, env, job.priority)
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


def _broker_station(ctx: _Context, name: str, component: Any) -> _Station:
    """A queue or a topic: its producer waits only for the publish; the rest is reported."""
    from scaleplan.analytic.network import _Child, _Station

    arrival_rate = ctx.rates[name]
    publish_s = component.own_mean_s()
    deliveries = ctx.flows.calls[name]
    figures = [_delivery_figures(ctx, call) for call in deliveries]
    exact = all(call.attempts == 1 for call in deliveries)
    details: dict[str, Any] = {}
    if isinstance(component, QueueSpec):
        (lag_s, in_system_s), call = figures[0], deliveries[0]
        details = _broker_details(ctx, component.consumer, component.max_retries, call, figures[0])
        return _Station(
            name,
            arrival_rate,
            0.0,
            0.0,
            publish_s,
            arrival_rate * lag_s,
            0.0,
            f"broker: time in system = consumer lag + work at {component.consumer}",
            exact,
            latency_s=in_system_s,
            reported_wait_s=lag_s,
            job_s=publish_s,
            replicas=0.0,
            details=details,
        )
    children = [
        _Child(
            f"{name}/{item.name}",
            "subscription",
            arrival_rate,
            0.0,
            lag_s,
            in_system_s,
            arrival_rate * lag_s,
            0,
            0.0,
            f"broker: time in system = consumer lag + work at {item.consumer}",
            _broker_details(ctx, item.consumer, item.max_retries, call, (lag_s, in_system_s)),
        )
        for item, call, (lag_s, in_system_s) in zip(
            component.subscriptions, deliveries, figures, strict=True
        )
    ]
    return _Station(
        name,
        arrival_rate,
        0.0,
        0.0,
        publish_s,
        0.0,
        0.0,
        f"broker: publish to {len(children)} subscription(s)",
        exact,
        job_s=publish_s,
        replicas=0.0,
        details={"subscriptions": len(children)},
        children=children,
    )


def _delivery_figures(ctx: _Context, call: Call) -> tuple[float, float]:
    """(consumer lag, time in system) of one message, in seconds.

    Every delivery waits in the pool's FIFO and is worked on; the attempts are a stopping
    time over independent deliveries, so by Wald's identity the means multiply.
    """

    pool = ctx.stations.get(call.target)
    if pool is None:  # the first pass of a cycle: the consumer is not evaluated yet
        return 0.0, 0.0
    lag_s, job_s = pool.wait_s, pool.job_s
    if not (math.isfinite(lag_s) and math.isfinite(job_s)):
        return math.inf, math.inf
    return lag_s, call.attempts * (lag_s + job_s) + call.backoff_s


def _broker_details(
    ctx: _Context, consumer: str, max_retries: int, call: Call, figures: tuple[float, float]
) -> dict[str, Any]:
    from scaleplan.analytic.network import _ms

    q = ctx.flows.failure[consumer]
    return {
        "consumer": consumer,
        "deliveries_per_message": call.attempts,
        "dead_letter_probability": q ** (max_retries + 1) if q > 0 else 0.0,
        "consumer_lag_ms": _ms(figures[0]),
        "time_in_system_ms": _ms(figures[1]),
    }


class BrokerKind(ComponentKind):
    """What a queue and a topic share: a broker of ``nodes`` nodes whose publish is a pure
    delay (the estimate's broker station), billed per node."""

    def analytic_station(self, ctx: Any, name: str, spans: Mapping[str, float]) -> Any:

        return _broker_station(ctx, name, ctx.component(name))

    def billable_nodes(self, spec: Any, running_replicas: float | None = None) -> float:
        return float(spec.nodes)

    def availability_model(self, spec: Any) -> FailureModel | None:
        from scaleplan.analytic.availability import k_of_n, quorum

        failures, a, together = unit_availability(spec)
        # Publishes fail unless a majority of the broker's nodes is up.
        n, q = spec.nodes, quorum(spec.nodes)
        analytic = a if together else k_of_n(q, n, a)
        return FailureModel(spec.kind, "nodes", n, n, q, failures, a, analytic, q == n or together)

    def visit_outcome(
        self, ctx: Any, name: str, known: Mapping[str, tuple[float, float, float]]
    ) -> tuple[float, float, float]:
        # The producer waits for the publish only; the job's fate is the consumer's.
        return 1.0, ctx.component(name).own_mean_s(), 0.0


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
