"""The engine's shared protocol: what every station, policy and experiment agrees on.

- **Statuses** a visit ends with: :data:`OK`, :data:`REJECTED` (refused: a full queue, shed
  load, a bulkhead), :data:`FAILED` (an error, a crash, a timeout, an open breaker).
- **A visit** (:data:`Visit`) is a generator a request's process delegates to
  (``status = yield from station.visit(request)``) and that returns the status there.
  ``visit`` may be a plain method that returns another generator (a service returns its
  ``serve``; :func:`answered` for a status known at once): each generator in a chain of
  ``yield from`` is resumed for every event the request waits for below it.
- **The request** (:class:`Request`) travels through every visit, as Ciw's ``Individual``
  does: its id, class, arrival time, retry count, optional deadline, the versions of the
  replicas that served it and the errors it met. Whatever SimPy process runs a part of its
  path (a call with a timeout, a parallel branch), the same object is passed on, so what
  happened to a request is read from the request, never from the process that runs it.
- **A replica** (:class:`Replica`) is a counter of busy slots and a line of waiting events
  (FIFO within a priority, :mod:`scaleplan.engine.waiting`);
  :func:`acquire` and :func:`release` are the only code that takes and frees a slot.
- **A station** (:class:`Station`) is the base of every component kind.
- **Observers** (:class:`Observer`) watch a run without changing it: registered before the
  run (``simulate(observers=...)``), they are called back when a replica has served a
  request and when a request is done. A station calls them only when some are registered, so
  an unobserved run pays one empty-list check per visit.

This module imports nothing else from the engine: ``stations``, ``resilience``,
``autoscale``, ``data`` and ``messaging`` import it, never each other in a circle.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from heapq import heappush
from typing import Any, Protocol

import numpy as np
import simpy
from simpy.events import NORMAL, Event, Timeout

from scaleplan.distributions import Distribution
from scaleplan.engine.rows import Rows
from scaleplan.engine.streams import buffered
from scaleplan.engine.waiting import PriorityLine, prioritised

__all__ = [
    "FAILED",
    "OK",
    "REJECTED",
    "Observer",
    "Replica",
    "Request",
    "Scalable",
    "ServiceTurn",
    "Station",
    "StreamFactory",
    "Visit",
    "acquire",
    "answered",
    "callbacks",
    "crash",
    "full",
    "hand_over",
    "release",
    "service_times",
]


class Request:
    """One request, as it travels through the model.

    ``id`` counts arrivals from 0 within a replication; ``class_index`` is its request class
    (the position in the workload's classes); ``arrived`` its arrival time (s). ``attempt``
    counts the retries made on its behalf so far, by any resilient call on its path (0: every
    call was answered on the first attempt). ``deadline`` is the time after which its client no
    longer waits, when it has one (``None``: it waits for ever). ``versions`` is the set of
    versions of the replicas that served it, as a bit mask (bit ``v`` set: a replica of version
    ``v`` took it; see :meth:`served_by`). ``errors`` lists where it met an error, as
    ``(station name, status)`` in the order they happened, only where the error arose (a caller
    that passes a callee's error on adds nothing).

    Asynchronous work gets a request of its own: a job that a queue or a topic delivers lives
    on after the request that published it has been answered, with its own redeliveries and
    outcome, so the broker gives it a child request (``parent`` is the publishing request).
    ``priority`` is its class's priority when the workload's classes have different ones
    (smaller is served first, in every waiting line: :mod:`scaleplan.engine.waiting`), else 0.

    The publishing request's ``versions`` and ``errors`` therefore cover what its client
    waited for, and a job's cover the job.
    """

    __slots__ = (
        "arrived",
        "attempt",
        "class_index",
        "deadline",
        "errors",
        "id",
        "parent",
        "priority",
        "versions",
    )

    def __init__(
        self,
        id: int,
        class_index: int = 0,
        arrived: float = 0.0,
        deadline: float | None = None,
        parent: Request | None = None,
        priority: int = 0,
    ):
        self.id = id
        self.class_index = class_index
        self.priority = priority
        self.arrived = arrived
        self.deadline = deadline
        self.parent = parent
        self.attempt = 0
        self.versions = 0
        self.errors: list[tuple[str, int]] | None = None

    def served_by(self, version: int) -> bool:
        """Whether a replica of ``version`` served this request."""
        return bool(self.versions >> version & 1)

    def error(self, where: str, status: int) -> None:
        """Note an error that arose at ``where`` (a station's or a call's name)."""
        if self.errors is None:
            self.errors = []
        self.errors.append((where, status))

    def job(self) -> Request:
        """A child request for asynchronous work this request hands off (a published job)."""
        return Request(self.id, self.class_index, self.arrived, parent=self, priority=self.priority)

    def __repr__(self) -> str:
        return (
            f"Request(id={self.id}, class_index={self.class_index}, arrived={self.arrived:g}, "
            f"attempt={self.attempt}, versions={self.versions:#b}, errors={self.errors})"
        )


class Observer:
    """Base of the observers of a run: override the callbacks you need.

    Only overridden callbacks are called (:func:`callbacks` leaves out the base's no-ops), so
    an observer that watches requests only costs nothing per visit. An observer must not
    change the model; to act on it (a rollout, a fault) start a process from a hook.
    """

    def on_served(
        self,
        station: Station,
        replica: Replica,
        request: Request,
        version: int,
        status: int,
        arrived: float,
    ) -> None:
        """A replica of a service (or worker pool) is done with a request, whatever the
        outcome: ``version`` is the replica's version when the request reached it (a
        rollout may relabel the replica meanwhile), ``arrived`` when it did (s), ``status``
        what the visit returns (its own service and, for a service, its calls)."""

    def on_request_done(self, request: Request, status: int) -> None:
        """A request from the workload has its answer (``status``) at the current time."""

    def on_up_changed(self, station: Station, time_s: float, up: int) -> None:
        """What a station's up log counts changed (replicas up; a database's shards taking
        writes) — and once at the start for a component with failures."""


def callbacks(observers: Iterable[Any], name: str) -> list[Callable[..., None]]:
    """The observers' ``name`` callbacks, leaving out those that kept :class:`Observer`'s
    no-op (an observer need not subclass it: having the method is enough)."""
    base = getattr(Observer, name)
    return [
        getattr(observer, name)
        for observer in observers
        if getattr(type(observer), name, base) is not base
    ]


OK = 0
REJECTED = 1
FAILED = 2

Visit = Generator[Any, Any, int]
StreamFactory = Callable[[str], np.random.Generator]


class Replica:
    """One replica: ``concurrency`` slots and its own queue of waiting requests (FIFO within a
    priority level, the smallest level first: :mod:`scaleplan.engine.waiting`).

    Replicas do not use ``simpy.Resource``: a replica is a counter of busy slots and a FIFO of
    waiting events, which is what a Resource does, without the two extra events per request
    (request and release) that made the engine slower than a hand-written model. A slot freed
    with requests waiting is handed straight to the first of them (:func:`release`), so the
    order is strictly FIFO within a priority.

    With ``lifo`` the slot goes to the most recently arrived waiting request instead
    (non-preemptive last-come-first-served; ``discipline: lifo``).

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
        "lifo",
        "queue",
        "served",
        "slowdown",
        "up",
        "version",
        "zone",
    )

    def __init__(self, concurrency: int, zone: str = "", lifo: bool = False):
        self.concurrency = concurrency
        self.busy = 0
        # A deque until a request of a priority other than 0 waits here (then a PriorityLine).
        self.queue: deque[Event] | PriorityLine = deque()
        self.lifo = lifo
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


def acquire(
    replica: Replica,
    env: simpy.Environment,
    priority: int = 0,
    service_s: Iterator[float] | None = None,
) -> Event | None:
    """Take a slot of ``replica``: ``None`` when one was free (it is taken), else the event to
    wait for, queued by ``priority`` (smaller first) and FIFO within it; it succeeds with
    ``True`` when :func:`release` hands the slot over, ``False`` when the replica crashed
    meanwhile (:func:`crash`).

    With ``service_s`` (the draws of a plain service step, in seconds of an unslowed replica:
    :class:`ServiceTurn`) a request that waits gets an event that succeeds with ``True`` only
    once the service that starts at the hand-over is done: one event for the wait and the
    service."""
    if replica.busy < replica.concurrency:
        replica.busy += 1
        return None
    turn = Event(env) if service_s is None else ServiceTurn(env, replica, service_s)
    if priority:
        prioritised(replica).append(turn, priority)
    else:  # a deque, or a PriorityLine's level 0
        replica.queue.append(turn)
    return turn


class ServiceTurn(Event):
    """A request's turn for a slot followed at once by its plain service step, as one event.

    A request that waits, then holds its slot for a plain delay, would need two events: the
    turn, which resumes it so that it can start the delay's timeout, and the timeout. Given the
    service's draws, :func:`release` starts the service at the hand-over (:meth:`start`): it
    draws the delay and the replica's ``slowdown`` then, as the request would on resuming, and
    schedules the event for the end of the service; ``started`` says when it began. A crash
    before the hand-over fails it with ``False``, as any turn.
    """

    def __init__(
        self, env: simpy.Environment, replica: Replica, service_s: Iterator[float]
    ) -> None:
        super().__init__(env)
        self.replica = replica
        self.service_s = service_s
        self.started = 0.0

    def start(self) -> None:
        env = self.env
        now = self.started = env._now
        self._ok = True
        self._value = True
        # env.schedule(self, NORMAL, delay), inlined: once per request that waited.
        delay = next(self.service_s) * self.replica.slowdown
        heappush(env._queue, (now + delay, NORMAL, next(env._eid), self))


def _hand(turn: Event) -> None:
    """Give a slot to the request waiting on ``turn``."""
    if type(turn) is ServiceTurn:
        turn.start()
    else:
        turn.succeed(True)


def full(replica: Replica, queue_limit: int | None) -> bool:
    """Whether a request arriving now would find every slot busy and the queue at its limit."""
    return (
        queue_limit is not None
        and replica.busy >= replica.concurrency
        and len(replica.queue) >= queue_limit
    )


def release(replica: Replica) -> None:
    """Free a slot: hand it to the first waiting request (the last one under ``lifo``), or
    count it idle.

    A replica shrunk by autoscaling has more busy slots than it now owns: those go away.
    """
    if replica.queue and replica.busy <= replica.concurrency:
        queue = replica.queue
        _hand(queue.pop() if replica.lifo else queue.popleft())
    else:
        replica.busy -= 1


def hand_over(replica: Replica) -> None:
    """Hand the replica's free slots to the requests waiting for it (after it grew)."""
    while replica.queue and replica.busy < replica.concurrency:
        replica.busy += 1
        queue = replica.queue
        _hand(queue.pop() if replica.lifo else queue.popleft())


def crash(replica: Replica) -> None:
    """The replica stops: what it serves and what waits for it fails."""
    replica.up = False
    replica.epoch += 1
    replica.busy = 0
    while replica.queue:
        replica.queue.popleft().succeed(False)


def answered(status: int) -> Visit:
    """A visit that ends at once with ``status``: for a ``visit`` that is a plain method
    returning another generator (one frame fewer on the hot path) but must answer by itself."""
    return status
    yield  # unreachable: makes this a generator


def service_times(distribution: Distribution, rng: np.random.Generator) -> Iterator[float]:
    """Seconds of service, drawn a block at a time."""
    return buffered(lambda n: distribution.sample(rng, n) * 1e-3)


def _alone(replica: Replica) -> Callable[[], list[Replica]]:
    return lambda: [replica]


class Station:
    """Base of every component kind."""

    kind = ""

    def __init__(self, name: str, env: simpy.Environment):
        self.name = name
        self.env = env
        # (completion time, wait, own service, holding time, span), seconds, one row per visit
        self.records = Rows(5)
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
        # Observers of the up log (Observer.on_up_changed), set by the run before faults start.
        self.up_observers: list[Callable[..., None]] = []
        # The observers' on_served callbacks (set by the run before the first arrival).
        self.served_observers: list[Callable[..., None]] = []

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

    def visit(self, request: Request) -> Visit:
        """The request's visit here: a generator returning its status."""
        raise NotImplementedError

    def in_service(self) -> int:
        return sum(replica.busy for replica in self.replicas)

    def waiting(self) -> int:
        return sum(len(replica.queue) for replica in self.replicas)

    def details(self) -> dict[str, Any]:
        """Kind-specific figures for the result (counts, ratios)."""
        return {}

    def serve_simple(
        self, replica: Replica, service_s: Iterator[float], priority: int = 0
    ) -> Generator[Any, Any, float]:
        """Wait for a slot (by ``priority``, the request's), hold it for one service time,
        release it; returns the wait (s).

        For kinds whose own work is a plain delay; a service's hot path is inlined in
        :meth:`ServiceStation.serve` instead.
        """
        env = self.env
        arrived = env.now
        turn = acquire(replica, env, priority)
        if turn is not None:
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

    def log_up(self, count: int) -> None:
        """Log what the up log counts now, and tell the observers."""
        now = float(self.env.now)  # SimPy's clock starts at the integer 0
        self.up_log.append((now, count))
        for observe in self.up_observers:
            observe(self, now, count)

    def logged_up(self) -> int:
        """What this station's up log counts now (replicas up; a database counts shards that
        take writes), for the log's first entry."""
        return self.replicas_up()

    def crash(self, replica: Replica) -> None:
        crash(replica)
        self.log_up(self.replicas_up())

    def repair(self, replica: Replica) -> None:
        replica.up = True
        self.log_up(self.replicas_up())

    def prepare_failures(self, spec: Any) -> None:
        """Make what can fail before the first failure (every replica, by default)."""
        if not self.all_replicas:
            self.all_replicas = list(self.replicas)

    def failure_units(self, scope: str) -> list[Callable[[], list[Replica]]]:
        """What fails as one, each as a callable giving its replicas at the time of the crash:
        each replica alone, or (``scope: component``) every replica the component runs then."""
        if scope == "component":
            return [lambda: list(self.all_replicas)]
        return [_alone(replica) for replica in self.all_replicas]

    def is_member(self, replica: Replica) -> bool:
        """Whether the replica still belongs to the component (a scale-down retires it)."""
        return replica in (self.all_replicas or self.replicas)

    def set_rotation(self, replica: Replica, serving: bool) -> None:
        """Put a replica in or out of the set that callers dispatch to (health checks)."""
        if not self.all_replicas:
            self.all_replicas = list(self.replicas)
        if serving and replica not in self.replicas:
            if replica not in self.all_replicas:  # retired by a scale-down: it stays gone
                return
            self.replicas.append(replica)
        elif not serving and replica in self.replicas:
            self.replicas.remove(replica)
        else:
            return
        self.rotation_changed()

    def rotation_changed(self) -> None:
        self.notify()


class Scalable(Protocol):
    """What an autoscaler needs of the station it scales."""

    env: simpy.Environment

    @property
    def capacity(self) -> int: ...

    @property
    def replica_count(self) -> int: ...

    @property
    def members(self) -> int: ...

    def in_service(self) -> int: ...

    def waiting(self) -> int: ...

    def add_replica(self) -> None: ...

    def remove_replica(self) -> None: ...
