"""``simulate``: run an architecture's SimPy model and summarise it honestly.

One replication builds a fresh ``simpy.Environment`` with one station per component, feeds it
arrivals until the workload's requests (or duration) are used up, lets it drain, and keeps
bounded-memory statistics (:mod:`scaleplan.engine.recorder`). The warm-up is cut (MSER-5 for
``auto``) and every mean gets a 95% confidence interval: batch means within one replication,
or Student-t across independent replications when ``replications > 1``.

A closed workload (``kind: closed``) is fed by its users instead (:class:`_Users`): each sends a
request, waits for its answer, thinks and sends the next; it is stable at any population.

A configuration whose offered load reaches capacity is refused before it runs
(:class:`UnstableError`) unless ``run_anyway``; then the run stops by itself once the requests
in the system pass a bound, so it never hangs and never eats the memory.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from heapq import heappop, heappush
from typing import Any, Literal

import numpy as np
import simpy
from simpy.events import NORMAL, Timeout

from scaleplan.engine.arrivals import PhaseClasses, gaps
from scaleplan.engine.detached import Detached
from scaleplan.engine.faults import Hook, HookContext, start_faults, time_up
from scaleplan.engine.protocol import OK, REJECTED, Observer, Request, Station, callbacks
from scaleplan.engine.recorder import N_BUCKETS, LatencySeries, Recorder, StationSeries, Window
from scaleplan.engine.rows import Rows
from scaleplan.engine.streams import buffered, generator
from scaleplan.errors import SimulationError
from scaleplan.graph import build_graph, check_nesting
from scaleplan.kinds import kind_of
from scaleplan.kinds.queue import Broker, JobCount
from scaleplan.load import (
    check_stability,
    overload_warnings,
    profile_overload_warnings,
    runs_through_profile,
)
from scaleplan.metrics import (
    DEFAULT_BINS,
    MeanCI,
    batch_means_ci,
    batch_quantile_ci,
    mser_batches,
    replication_ci,
)
from scaleplan.progress import Progress
from scaleplan.result import (
    PERCENTILES,
    ComponentResult,
    ComponentSeries,
    LatencySummary,
    RequestCounts,
    RunInfo,
    SimulationResult,
    SystemSeries,
    TimeSeries,
    Unstable,
)
from scaleplan.runsize import check_simulation
from scaleplan.spec import ArchitectureSpec

FLUSH_EVERY = 4096
DEFAULT_REQUESTS = 100_000


class UnstableError(SimulationError):
    """The offered load at a component reaches its capacity: queues would grow for ever."""

    def __init__(self, unstable: Unstable, spec_name: str):
        self.unstable = unstable
        super().__init__(
            f"{spec_name}: unstable: components.{unstable.component}: {unstable.reason}. "
            "Queues would grow without bound; lower the rate, add capacity, "
            "or run anyway to watch it break."
        )


@dataclass
class _RunState:
    in_flight: int = 0
    arrived: int = 0
    done: bool = False
    last_arrival: float = 0.0


@dataclass
class Replication:
    """What one replication leaves behind for the summary."""

    recorder: Recorder
    counts: RequestCounts
    last_arrival_s: float
    end_s: float
    stopped: Unstable | None
    warnings: list[str] = field(default_factory=list)


def simulate(
    spec: ArchitectureSpec,
    *,
    seed: int = 1,
    requests: int | None = None,
    rate_per_s: float | None = None,
    replications: int = 1,
    run_anyway: bool = False,
    max_in_flight: int | None = None,
    progress: Progress | None = None,
    hooks: Sequence[Hook] = (),
    observers: Sequence[Observer] = (),
    bucket_s: float | None = None,
    on_replication: Callable[[Replication], None] | None = None,
) -> SimulationResult:
    """Simulate ``spec`` and return its result (the JSON contract of docs/architecture.md).

    Parameters
    ----------
    spec : ArchitectureSpec
        A validated architecture (:func:`scaleplan.spec.load_spec`).
    seed : int
        One seed gives identical results; candidates under the same seed see the same arrivals.
    requests, rate_per_s : optional
        Override the workload's number of requests and mean arrival rate (an open workload's
        only: a closed workload's rate follows from its users, and a rate is refused).
    replications : int
        Independent replications; with more than one, CIs come from across replications.
    run_anyway : bool
        Run even when the offered load certainly exceeds capacity (the result says unstable).
    max_in_flight : int, optional
        Requests in the system at which a run is stopped as unstable.
    progress : callable, optional
        Called as ``progress(arrived, planned)`` every few thousand arrivals.
    hooks : sequence of callables
        Each is called with a :class:`~scaleplan.engine.faults.HookContext` once the model is
        built, to start processes of its own (rollouts, custom faults). Failures and chaos
        events from the spec are started for every run.
    observers : sequence of observers
        Watch every replication without changing it
        (:class:`~scaleplan.engine.protocol.Observer`): their ``on_served`` is called when a
        replica of a service is done with a request, their ``on_request_done`` when a request
        has its answer. Registered before the first arrival; hooks run before them.
    bucket_s : float, optional
        Width of the recorder's time buckets (default: the horizon ÷ 60); rounded so that a
        whole number of buckets spans the horizon.
    on_replication : callable, optional
        Called with each :class:`Replication` (its recorder's per-bucket series) as it ends:
        how a transient experiment reads every replication's series, not only their mean.

    Examples
    --------
    >>> from scaleplan.spec import example_spec
    >>> result = simulate(example_spec(), seed=1)
    >>> result.requests.conserved(), result.stable
    (True, True)
    >>> low, high = result.latency_ms.mean_ci95
    >>> low < high
    True
    """
    if replications < 1:
        raise SimulationError(f"replications must be at least 1 (got {replications})")
    started = time.perf_counter()
    graph = build_graph(spec)
    check_nesting(graph, spec)
    closed = spec.workload.closed
    if closed:
        if rate_per_s is not None:
            raise SimulationError(
                f"{spec.name}: workload: a closed workload ({spec.workload.total_users} users) "
                f"has no arrival rate to override (got rate_per_s {rate_per_s}); its rate "
                "follows from its users: change workload.users instead"
            )
        from scaleplan.analytic.closed import open_overload, rough_throughput

        # Only to size the recorder's time buckets: a closed network is stable at any
        # population (its users wait for their answers); only a mixed workload's open
        # classes can overload a station, and that is refused as for an open workload.
        rate = rough_throughput(spec, graph)
        unstable = open_overload(spec, graph)
        if unstable is not None and not run_anyway:
            raise UnstableError(unstable, spec.name)
        overloaded = _closed_warnings(spec) if unstable is None else []
    else:
        rate = float(rate_per_s if rate_per_s is not None else spec.workload.mean_rate_per_s)
        if not rate > 0:
            raise SimulationError(f"{spec.name}: rate_per_s must be greater than 0 (got {rate})")
        through_profile = runs_through_profile(spec, rate_per_s, requests)
        unstable = None if through_profile else check_stability(spec, graph, rate)
        if unstable is not None and not run_anyway:
            raise UnstableError(unstable, spec.name)
        overloaded = overload_warnings(spec, graph, rate)
        if through_profile:
            overloaded += profile_overload_warnings(spec, graph)
    # A run too large to finish (a typo in a size key) is refused rather than started.
    check_simulation(
        spec,
        requests=requests,
        rate_per_s=rate_per_s,
        replications=replications,
        requests_key="requests",
        replications_key="replications",
    )
    # A run lasts its duration_s, or its load profile's phases, unless it counts requests.
    bound_s = spec.workload.time_bound_s
    by_count = requests is not None or bound_s is None
    if closed and not by_count:
        planned = max(1, round(float(bound_s or 0.0) * rate))
    else:
        planned = int(
            requests if requests is not None else spec.workload.planned_requests(DEFAULT_REQUESTS)
        )
    horizon = planned / rate if by_count else float(bound_s or 0.0)
    if spec.workload.arrival == "trace" and requests is None:
        horizon = planned / rate
    if closed and by_count:
        # A closed run answers about as many requests as it sends: about planned / rate.
        horizon = planned / rate
    limit = max_in_flight or max(20_000, 20 * sum(c.capacity for c in spec.components.values()))
    buckets = N_BUCKETS if bucket_s is None else max(1, round(horizon / bucket_s))
    plan = _Plan(
        spec, seed, rate, planned if by_count else None, horizon, limit, hooks, observers, buckets
    )
    done_before = 0
    runs: list[Replication] = []
    for replication in range(replications):

        def report(arrived: int, _offset: int = done_before) -> None:
            if progress is not None:
                progress(_offset + arrived, planned * replications)

        runs.append(_replicate(plan, replication, report))
        if on_replication is not None:
            on_replication(runs[-1])
        done_before += runs[-1].counts.arrived
    result = _summarise(spec, seed, rate, runs, unstable)
    return replace(
        result,
        warnings=(*overloaded, *result.warnings),
        wall_time_s=time.perf_counter() - started,
    )


def _closed_warnings(spec: ArchitectureSpec) -> list[str]:
    """What the estimate says of a closed run it cannot call stable: asynchronous jobs that
    the users' rate gives more work than their consumers carry (no user waits for them, so
    nothing slows the users down)."""
    from scaleplan.analytic import estimate

    estimated = estimate(spec)
    if estimated.unstable is None:
        return []
    return [
        f"{estimated.unstable.component}: the analytic estimate puts it at "
        f"{estimated.unstable.factor:.2f}× its capacity ({estimated.unstable.reason}); the "
        "run goes ahead, bounded by its requests or duration, but its backlog may never drain"
    ]


Streams = Callable[[str], np.random.Generator]


@dataclass(frozen=True)
class _Plan:
    """What every replication of one :func:`simulate` call shares."""

    spec: ArchitectureSpec
    seed: int
    rate: float
    planned: int | None  # arrivals per replication; None: arrivals until the horizon
    horizon: float
    max_in_flight: int
    hooks: Sequence[Hook] = ()
    observers: Sequence[Observer] = ()
    n_buckets: int = N_BUCKETS


@dataclass
class _Model:
    """One replication's stations: built, connected, started, watched."""

    env: simpy.Environment
    stations: dict[str, Station]
    # Every station with figures of its own: the components and their parts (shards, ...).
    recorded: dict[str, Station]
    # One count of asynchronous jobs for every broker: the run drains them too.
    jobs: JobCount


class _Ledger:
    """One replication's bookkeeping: the requests' outcomes since the last flush into the
    recorder, the run's counts, and the event that stops the run."""

    def __init__(self, env: simpy.Environment, recorder: Recorder, model: _Model) -> None:
        self.recorder = recorder
        # (time, latency, class index) per completed request, flat (engine.rows): the
        # recorder reads both kinds of Rows with np.asarray, as it would a list of tuples.
        self.completions: Any = Rows(3)
        self.unsuccessful: list[tuple[float, int]] = []
        self.arrival_times: list[float] = []
        self.station_lists: dict[str, tuple[Any, list[float], list[float]]] = {
            name: (s.records, s.reject_times, s.failure_times) for name, s in model.recorded.items()
        }
        self.state = _RunState()
        self.stop = env.event()
        self.stopped: list[Unstable] = []
        state, stop, jobs = self.state, self.stop, model.jobs

        def finish_if_drained() -> None:
            if state.done and state.in_flight == 0 and jobs.outstanding == 0 and not stop.triggered:
                stop.succeed()

        # A closure rather than a method: it is called once per request.
        self.finish_if_drained = finish_if_drained
        jobs.on_idle = finish_if_drained

    def flush(self) -> None:
        self.recorder.flush(
            self.completions, self.unsuccessful, self.arrival_times, self.station_lists
        )


def _replicate(plan: _Plan, replication: int, report: Callable[[int], None]) -> Replication:
    """One replication: build the model, feed it arrivals until the plan is used up, let it
    drain, and keep what the summary needs."""
    env = simpy.Environment()

    def streams(purpose: str) -> np.random.Generator:
        return generator(plan.seed, replication, purpose)

    model = _build(plan, env, streams)
    class_names = [name for name, _, _ in plan.spec.entries()]
    capacities = {name: s.capacity for name, s in model.recorded.items()}
    recorder = Recorder(plan.horizon, class_names, capacities, plan.n_buckets)
    ledger = _Ledger(env, recorder, model)
    done = _request_done(env, ledger, callbacks(plan.observers, "on_request_done"))
    source = _Users if plan.spec.workload.closed else _Source
    source(plan, model, ledger, done, streams, report).start()
    run_until(env, ledger.stop)
    return _close(model, ledger, report)


def run_until(env: simpy.Environment, stop: simpy.Event) -> None:
    """``env.run(until=stop)`` without a method call per event: SimPy's ``step`` inlined.

    Each event is taken off the schedule and its callbacks run, in the same order and with the
    same handling of a failed event nobody defused, as ``Environment.step`` does it; the loop
    ends once ``stop`` has been processed. (``engine.counting`` counts the events of a run by
    running it through ``Environment.step`` instead.)
    """
    queue = env._queue
    while True:
        try:
            env._now, _, _, event = heappop(queue)
        except IndexError:
            raise RuntimeError(
                f'No scheduled events left but "until" event was not triggered: {stop}'
            ) from None
        callbacks, event.callbacks = event.callbacks, None  # type: ignore[assignment]
        for callback in callbacks:
            callback(event)
        if not event._ok and not hasattr(event, "_defused"):
            # A failed event nobody handled: crash the run, as SimPy does.
            failure = event._value
            error = type(failure)(*failure.args)
            error.__cause__ = failure
            raise error
        if event is stop:
            return


def _build(plan: _Plan, env: simpy.Environment, streams: Streams) -> _Model:
    """Build one station per component, connect them, start them, then the spec's failures
    and chaos, the hooks, and the observers of every visit."""
    spec = plan.spec
    stations: dict[str, Station] = {
        name: kind_of(component.kind).station(name, component, env, streams)
        for name, component in spec.components.items()
    }
    for station in stations.values():
        station.connect(stations, streams)
    for station in stations.values():
        # The replica count is logged from the start, so that its time series and the
        # capacity behind utilisation cover the whole run when it later changes.
        station.replica_log.append((0.0, station.replica_count))
        station.start()
    recorded = {
        part.name: part for station in stations.values() for part in (station, *station.children)
    }
    up_observers = callbacks(plan.observers, "on_up_changed")
    for part in recorded.values():
        part.up_observers = up_observers
    context = HookContext(env, spec, stations, streams)
    start_faults(context)
    for hook in plan.hooks:
        hook(context)
    served_observers = callbacks(plan.observers, "on_served")
    for part in recorded.values():
        part.served_observers = served_observers
    jobs = JobCount()
    for station in recorded.values():
        if isinstance(station, Broker):
            station.jobs = jobs
    return _Model(env, stations, recorded, jobs)


RequestDone = Callable[[Request, int], None]


def _request_done(
    env: simpy.Environment, ledger: _Ledger, done_observers: Sequence[Callable[..., Any]]
) -> RequestDone:
    """The end of one request's life (its entry visit returned ``status``): its outcome in the
    ledger and with the observers; the run ends when the last one is done."""
    # Bound once here: this runs once per request.
    completions = ledger.completions
    unsuccessful = ledger.unsuccessful
    state = ledger.state
    finish_if_drained = ledger.finish_if_drained

    def done(job: Request, status: int) -> None:
        now = env._now
        if status == OK:
            completions.append((now, now - job.arrived, job.class_index))
        else:
            unsuccessful.append((now, status))
        if done_observers:
            for observe in done_observers:
                observe(job, status)
        state.in_flight -= 1
        if state.done:  # arrivals are over: the run may end with this one
            finish_if_drained()

    return done


def _class_chooser(
    spec: ArchitectureSpec, stations: dict[str, Station], streams: Streams, env: simpy.Environment
) -> tuple[list[Station], Iterator[float] | None]:
    """The entry station of each request class, and the draws of each arrival's class (None
    with a single class; a load profile's mixes make the shares depend on the time)."""
    entries = spec.entries()
    entry_stations = [stations[entry] for _, entry, _ in entries]
    shares = np.array([share for _, _, share in entries])
    class_rng = streams("classes")
    profile = spec.workload.profile
    if profile is not None and profile.has_mix and len(entries) > 1:
        names = [name for name, _, _ in entries]
        return entry_stations, PhaseClasses(profile, names, shares, class_rng, lambda: env.now)
    choose_class = (
        buffered(lambda n: class_rng.choice(len(shares), n, p=shares)) if len(entries) > 1 else None
    )
    return entry_stations, choose_class


class _Source:
    """The arrival source: each arrival's request starts its visit to its entry station
    (:class:`~scaleplan.engine.detached.Detached`: no process of its own), until the plan's
    requests (or its horizon) are used up or the requests in the system pass the bound; then
    the drain.

    Driven by the callback of each inter-arrival timeout rather than by a process: one event
    per arrival either way, without a generator to resume in between.
    """

    def __init__(
        self,
        plan: _Plan,
        model: _Model,
        ledger: _Ledger,
        done: RequestDone,
        streams: Streams,
        report: Callable[[int], None],
    ) -> None:
        self.plan, self.model, self.ledger, self.done, self.report = (
            plan,
            model,
            ledger,
            done,
            report,
        )
        self.env = model.env
        self.entry_stations, self.choose_class = _class_chooser(
            plan.spec, model.stations, streams, model.env
        )
        self.entry0 = self.entry_stations[0]
        # Each class's priority, carried by its requests to every queue (all 0: FIFO
        # everywhere).
        self.priorities = plan.spec.class_priorities() or (0,) * len(self.entry_stations)
        self.gaps = gaps(plan.spec.workload, streams("arrivals"), plan.rate)
        # Read once per arrival: kept as attributes of their own.
        self.state = ledger.state
        self.arrival_times = ledger.arrival_times
        # Arrivals end at the plan's count, or (without one) at its horizon.
        self.last = plan.planned if plan.planned is not None else math.inf
        self.horizon = plan.horizon if plan.planned is None else math.inf
        self.arrived = 0
        self.now = 0.0
        self.arrive = self._arrive  # bound once: registered for every arrival

    def start(self) -> None:
        self._schedule()

    def _schedule(self) -> None:
        """The first arrival's timeout, or the end of the arrivals."""
        gap = next(self.gaps, None)
        if gap is None or gap > self.horizon:
            self._end()
            return
        Timeout(self.env, gap).callbacks.append(self.arrive)

    def _arrive(self, tick: simpy.Event) -> None:
        env = self.env
        now = self.now = env._now
        arrived = self.arrived
        self.state.in_flight += 1
        self.arrival_times.append(now)
        if self.choose_class is None:
            job = Request(arrived, 0, now)
            entry = self.entry0
        else:
            index = int(next(self.choose_class))
            job = Request(arrived, index, now, None, None, self.priorities[index])
            entry = self.entry_stations[index]
        Detached(entry.visit(job), self.done, job).resume(None)
        arrived = self.arrived = arrived + 1
        if arrived % FLUSH_EVERY == 0:
            self.ledger.flush()
            state, limit = self.state, self.plan.max_in_flight
            state.arrived = arrived
            self.report(arrived)
            if state.in_flight > limit:
                self.ledger.stopped.append(_runaway(self.model.stations, state.in_flight, limit))
                self._end()
                return
        if arrived >= self.last:
            self._end()
            return
        gap = next(self.gaps, None)
        if gap is None or now + gap > self.horizon:
            self._end()
            return
        # The same timeout again for the next arrival: SimPy is done with it (its callbacks
        # ran), so it is re-armed and put back on the schedule rather than made anew.
        tick.callbacks = [self.arrive]
        heappush(env._queue, (now + gap, NORMAL, next(env._eid), tick))  # env.schedule

    def _end(self) -> None:
        """No more arrivals: stop at once if the run ran away, else let the requests in the
        system finish, but not for ever."""
        ledger, env = self.ledger, self.env
        state, stop = ledger.state, ledger.stop
        state.arrived = self.arrived
        state.last_arrival = self.now
        state.done = True
        if ledger.stopped:
            if not stop.triggered:
                stop.succeed()
            return
        ledger.finish_if_drained()
        if stop.triggered:
            return
        Timeout(env, max(self.plan.horizon, 1e-9)).callbacks.append(self._drained)

    def _drained(self, _event: simpy.Event) -> None:
        if not self.ledger.stop.triggered:
            self.ledger.stop.succeed()


class _Users(_Source):
    """A closed workload's users: each sends a request to its class's entry, waits for its
    answer (whatever its status), thinks, and sends the next, until the plan's requests (or
    its horizon) are used up; then the drain, as for arrivals.

    Users are exchangeable within a class, so a user is not an object: an answered request of
    class c schedules the next request of class c after a think time. Every user starts with
    a think (users with no think time all send at t = 0). The next request is always sent by
    a timeout, even after no think time, so that a request answered at once (rejected) cannot
    recurse into the next.
    """

    def __init__(
        self,
        plan: _Plan,
        model: _Model,
        ledger: _Ledger,
        done: RequestDone,
        streams: Streams,
        report: Callable[[int], None],
    ) -> None:
        self.plan, self.model, self.ledger, self.report = plan, model, ledger, report
        self.env = model.env
        self.entry_stations = [model.stations[entry] for _, entry, _ in plan.spec.entries()]
        self.priorities = plan.spec.class_priorities() or (0,) * len(self.entry_stations)
        workload = plan.spec.workload
        self.users = workload.class_users()
        think, rng = workload.think_time, streams("think")
        self.think = buffered(lambda n: think.sample(rng, n) * 1e-3) if think is not None else None
        self.state = ledger.state
        self.arrival_times = ledger.arrival_times
        self.last = plan.planned if plan.planned is not None else math.inf
        self.horizon = plan.horizon if plan.planned is None else math.inf
        self.arrived = 0
        self.now = 0.0
        self.send = self._send
        # Requests sent at one instant before a run that ends at its horizon is called
        # timeless (a run that counts its requests ends by itself).
        self.instant = 0
        self.most_at_once = 1000 * sum(self.users) + 100_000 if plan.planned is None else math.inf
        # The open classes of a mixed workload: Poisson arrivals at their summed rate, each
        # arrival's class drawn by its share of it (no user to return to when answered).
        rates = workload.open_rates()
        self.open_rate = math.fsum(rates)
        self.open_gaps: Iterator[float] | None = None
        self.open_class: Iterator[float] | None = None
        if self.open_rate > 0:
            arrivals, classes = streams("arrivals"), streams("classes")
            mean_gap = 1.0 / self.open_rate
            shares = np.array(rates) / self.open_rate
            self.open_gaps = buffered(lambda n: arrivals.exponential(mean_gap, n))
            self.open_class = buffered(lambda n: classes.choice(len(shares), n, p=shares))
        self.arrive_open = self._arrive_open
        users = self.users

        def answered(job: Request, status: int) -> None:
            done(job, status)
            if users[job.class_index]:
                self._next(job.class_index)

        self.answered = answered

    def start(self) -> None:
        for index, users in enumerate(self.users):
            for _ in range(users):
                self._next(index)
        if self.open_gaps is not None:
            Timeout(self.env, next(self.open_gaps)).callbacks.append(self.arrive_open)

    def _arrive_open(self, _event: simpy.Event) -> None:
        """An arrival of an open class, and the timeout of the next one."""
        if self.state.done or self.open_gaps is None or self.open_class is None:
            return
        now = self.env.now
        if now > self.horizon:
            self._end()
            return
        self.now, self.instant = now, 0
        self._dispatch(int(next(self.open_class)), now)
        if not self.state.done:
            Timeout(self.env, next(self.open_gaps)).callbacks.append(self.arrive_open)

    def _next(self, index: int) -> None:
        """A user of class ``index`` thinks, then sends (nothing once the sending is over)."""
        if self.state.done:
            return
        pause = next(self.think) if self.think is not None else 0.0
        Timeout(self.env, pause, index).callbacks.append(self.send)

    def _send(self, event: simpy.Event) -> None:
        if self.state.done:
            return
        now = self.env.now
        if now > self.horizon:
            self._end()
            return
        if now == self.now:
            # Requests answered in no time by users who do not think: the clock would never
            # reach the horizon. Stopped as a runaway once that is certain.
            self.instant += 1
            if self.instant > self.most_at_once:
                self.ledger.stopped.append(self._timeless())
                self._end()
                return
        else:
            self.now, self.instant = now, 0
        self._dispatch(event._value, now)

    def _dispatch(self, index: int, now: float) -> None:
        """Send a request of class ``index``; stop at the plan's count, or when the open
        classes of a mixed workload run away."""
        arrived = self.arrived
        self.state.in_flight += 1
        self.arrival_times.append(now)
        job = Request(arrived, index, now, None, None, self.priorities[index])
        Detached(self.entry_stations[index].visit(job), self.answered, job).resume(None)
        arrived = self.arrived = arrived + 1
        if arrived % FLUSH_EVERY == 0:
            self.ledger.flush()
            state, limit = self.state, self.plan.max_in_flight
            state.arrived = arrived
            self.report(arrived)
            if self.open_rate > 0 and state.in_flight > limit:
                self.ledger.stopped.append(_runaway(self.model.stations, state.in_flight, limit))
                self._end()
                return
        if arrived >= self.last:
            self._end()

    def _timeless(self) -> Unstable:
        entry = self.entry_stations[0].name
        return Unstable(
            component=entry,
            factor=math.nan,
            reason=(
                f"{self.instant} requests were sent at t = {self.now:g} s without the clock "
                "moving: the users do not think and their requests take no time (answered or "
                "rejected at once), so the run would never reach its duration"
            ),
        )


def _close(model: _Model, ledger: _Ledger, report: Callable[[int], None]) -> Replication:
    """The end of the run: the last flush, each station's own figures, the counts, and
    warnings for what was still in the system."""
    ledger.flush()
    recorder, state, jobs, stopped = ledger.recorder, ledger.state, model.jobs, ledger.stopped
    for name, station in model.recorded.items():
        series = recorder.stations[name]
        series.kind = station.kind
        series.details = station.details()
        series.up_log = list(station.up_log)
        series.replica_log = list(station.replica_log)
        series.total_replicas = len(station.all_replicas or station.replicas)
        initial = series.capacity / max(station.replica_log[0][1], 1) if station.replica_log else 0
        series.scale(station.replica_log, initial, station.replica_count)
    report(state.arrived)
    in_flight = int(state.in_flight)
    counts = RequestCounts(
        arrived=int(state.arrived),
        completed=int(recorder.system.count.sum()),
        rejected=int(recorder.rejected.sum()),
        failed=int(recorder.failed.sum()),
        in_flight=in_flight,
    )
    warnings = []
    if jobs.outstanding and not stopped:
        warnings.append(
            f"{jobs.outstanding} asynchronous jobs were still queued or running when the run "
            "stopped draining"
        )
    if in_flight and not stopped:
        warnings.append(
            f"{in_flight} requests were still in the system when the run stopped draining"
        )
    return Replication(
        recorder=recorder,
        counts=counts,
        last_arrival_s=float(state.last_arrival),
        end_s=float(model.env.now),
        stopped=stopped[0] if stopped else None,
        warnings=warnings,
    )


def _runaway(stations: dict[str, Station], in_flight: int, limit: int) -> Unstable:
    """The component with the longest queue per slot, when the system passed its bound."""

    def backlog(station: Station) -> float:
        return station.waiting() / max(station.capacity, 1)

    worst = max(stations.values(), key=backlog)
    return Unstable(
        component=worst.name,
        factor=math.nan,
        reason=(
            f"{in_flight} requests in the system (bound {limit}); {worst.waiting()} waiting "
            f"at {worst.name} for {worst.capacity} slots"
        ),
    )


# --------------------------------------------------------------------------- summary


def starts_at_its_lightest(spec: ArchitectureSpec) -> bool:
    """Whether a run of ``spec`` starts in its lightest state: empty queues, every replica up,
    caches warm. Not so with an autoscaler (it starts at its minimum) or a cold cache, whose
    initial transients are *slow*; nor with a closed workload: its users all start at once
    (with no think time, or a constant one, they send together), a burst heavier than the
    steady state as often as not, so its warm-up cut stays two-sided."""
    if spec.workload.closed:
        return False
    for component in spec.components.values():
        if getattr(component, "autoscale", None) is not None:
            return False
        if getattr(component, "cold_start", False):
            return False
    return True


def _window(
    run: Replication, warmup: float | str, warmup_s: float | None, lightest_start: bool
) -> Window:
    recorder = run.recorder
    width = recorder.width_s
    if warmup == "auto":
        batches = recorder.system.batches
        start: Literal["unknown", "lightest"] = "lightest" if lightest_start else "unknown"
        cut = mser_batches(batches.means, start=start) if len(batches.means) >= 3 else 0
        warmup_time = float(batches.end_times[cut - 1]) if cut else 0.0
    elif isinstance(warmup, float):
        batches = recorder.system.batches
        skip = warmup * run.counts.completed
        ends = np.cumsum(batches.counts)
        position = int(np.searchsorted(ends, skip)) if len(ends) else 0
        warmup_time = float(batches.end_times[position]) if position < len(ends) and skip else 0.0
    else:
        warmup_time = warmup_s or 0.0
    first = math.ceil(warmup_time / width - 1e-9)
    end = run.end_s if run.stopped is not None else run.last_arrival_s
    # The last bucket also holds whatever came after the recorder's time range: never measure it.
    last = min(int(end / width + 1e-9), recorder.n_buckets - 1)
    if last <= first:
        # Too short to measure after the warm-up: keep what there is rather than nothing.
        first, last = 0, max(1, min(math.ceil(end / width), recorder.n_buckets))
    return Window(first, last, width, warmup_time)


def _batch_ci(series: LatencySeries, window: Window) -> MeanCI:
    batches = series.batches
    ends = batches.end_times
    mask = (ends > window.start_s) & (ends <= window.end_s)
    return batch_means_ci(batches.means[mask], batches.counts[mask])


def _percentiles(hist: np.ndarray) -> dict[str, float]:
    values = DEFAULT_BINS.quantiles(hist, list(PERCENTILES.values()))
    return {name: float(value) for name, value in zip(PERCENTILES, values, strict=True)}


def _percentile_cis(per_run: list[tuple[LatencySeries, Window]]) -> dict[str, tuple[float, float]]:
    """Each percentile's 95% CI by sectioning: over the time buckets of one run's window
    (grouped into sections), or over the replications' windows (one section each)."""
    if len(per_run) > 1:
        sections = np.array([_window_hist(series, window) for series, window in per_run])
        cis = batch_quantile_ci(sections, list(PERCENTILES.values()), n_batches=len(per_run))
    else:
        series, window = per_run[0]
        buckets = series.hist[window.first : window.last]
        cis = batch_quantile_ci(buckets, list(PERCENTILES.values()))
    return {name: (ci.low, ci.high) for name, ci in zip(PERCENTILES, cis, strict=True)}


def _window_hist(series: LatencySeries, window: Window) -> np.ndarray:
    return series.hist[window.first : window.last].sum(axis=0)


def _window_mean(series: LatencySeries, window: Window) -> tuple[float, int]:
    count = int(series.count[window.first : window.last].sum())
    total = float(series.sum_ms[window.first : window.last].sum())
    return (total / count if count else math.nan), count


def _latency(
    per_run: list[tuple[LatencySeries, Window]],
) -> LatencySummary:
    hist = np.sum([_window_hist(series, window) for series, window in per_run], axis=0)
    means = [_window_mean(series, window) for series, window in per_run]
    count = sum(n for _, n in means)
    if count == 0:
        return LatencySummary(mean=math.nan, count=0)
    if len(per_run) > 1:
        ci = replication_ci([mean for mean, n in means if n])
        mean = ci.mean
    else:
        series, window = per_run[0]
        ci = _batch_ci(series, window)
        mean = means[0][0]
    values = _percentiles(hist)
    cis = _percentile_cis(per_run)
    return LatencySummary(
        mean=mean,
        mean_ci95=(ci.low, ci.high),
        count=count,
        p50=values["p50"],
        p90=values["p90"],
        p95=values["p95"],
        p99=values["p99"],
        p999=values["p999"],
        p50_ci95=cis["p50"],
        p90_ci95=cis["p90"],
        p95_ci95=cis["p95"],
        p99_ci95=cis["p99"],
        p999_ci95=cis["p999"],
    )


def _without_intervals(summary: LatencySummary) -> LatencySummary:
    nan = (math.nan, math.nan)
    return replace(
        summary,
        mean_ci95=nan,
        p50_ci95=nan,
        p90_ci95=nan,
        p95_ci95=nan,
        p99_ci95=nan,
        p999_ci95=nan,
    )


def _summarise(
    spec: ArchitectureSpec,
    seed: int,
    rate: float,
    runs: list[Replication],
    unstable_before: Unstable | None,
) -> SimulationResult:
    warmup = spec.workload.warmup
    warmup_s = spec.workload.warmup_duration_s()
    lightest_start = starts_at_its_lightest(spec)
    windows = [_window(run, warmup, warmup_s, lightest_start) for run in runs]
    measured_s = sum(window.seconds for window in windows)
    counts = RequestCounts(
        arrived=sum(run.counts.arrived for run in runs),
        completed=sum(run.counts.completed for run in runs),
        rejected=sum(run.counts.rejected for run in runs),
        failed=sum(run.counts.failed for run in runs),
        in_flight=sum(run.counts.in_flight for run in runs),
    )
    completed_in_window = sum(
        int(run.recorder.system.count[window.first : window.last].sum())
        for run, window in zip(runs, windows, strict=True)
    )
    stopped = next((run.stopped for run in runs if run.stopped is not None), None)
    paired = list(zip(runs, windows, strict=True))
    components = {
        name: _component([(run.recorder.stations[name], w) for run, w in paired])
        for name in runs[0].recorder.stations
    }
    # A closed network cannot grow past its users: only an open one can run away.
    growing = None if spec.workload.closed else _growing(paired, components)
    unstable = stopped or unstable_before or growing
    if spec.workload.closed and measured_s:
        # The rate it was offered is the rate its users sent at, measured.
        sent = sum(
            int(run.recorder.arrivals[window.first : window.last].sum()) for run, window in paired
        )
        rate = sent / measured_s
    warnings = [warning for run in runs for warning in run.warnings]
    if any(run.end_s > (run.recorder.n_buckets - 1) * run.recorder.width_s for run in runs):
        warnings.append(
            "the run lasted more than twice its planned horizon: what happened after that is "
            "left out of the figures"
        )
    if unstable is not None:
        warnings.insert(0, f"unstable: {unstable.component}: {unstable.reason}")
    latency = _latency([(run.recorder.system, window) for run, window in paired])
    classes = {}
    for name in runs[0].recorder.class_names:
        if len(runs[0].recorder.class_names) == 1:
            classes[name] = latency
        else:
            classes[name] = _latency([(run.recorder.classes[name], w) for run, w in paired])
    if unstable is not None:
        # Without a steady state a mean or a percentile has nothing to converge to: no interval.
        latency = _without_intervals(latency)
        classes = {name: _without_intervals(summary) for name, summary in classes.items()}
    for window in windows:
        if window.warmup_s > 0.5 * window.end_s:
            warnings.append(
                "the warm-up took more than half of the run: no steady state may have been "
                "reached; run more requests"
            )
            break
    return SimulationResult(
        spec=spec.name,
        seed=seed,
        stable=unstable is None,
        warnings=tuple(dict.fromkeys(warnings)),
        requests=counts,
        throughput_per_s=completed_in_window / measured_s if measured_s else math.nan,
        latency_ms=latency,
        components=components,
        classes=classes,
        unstable=unstable,
        rate_per_s=rate,
        method="simulation",
        run=RunInfo(
            replications=len(runs),
            warmup=warmup,
            warmup_s=tuple(window.warmup_s for window in windows),
            measured_s=measured_s,
            simulated_s=sum(run.end_s for run in runs),
            ci_method="replications" if len(runs) > 1 else "batch means",
        ),
        timeseries=_timeseries(spec, runs),
    )


def _growing(
    paired: list[tuple[Replication, Window]], components: dict[str, ComponentResult]
) -> Unstable | None:
    """Runtime instability: the requests in the system grew through the measured window while
    a component was saturated (the signature of a queue without a steady state).

    A stable system's backlog fluctuates by about the square root of its arrivals; a growth of
    five times that, with a component busy 98% of the time or more, is not a fluctuation.
    """
    for run, window in paired:
        recorder = run.recorder
        span = slice(window.first, window.last)
        arrived = int(recorder.arrivals[span].sum())
        left = int(
            recorder.system.count[span].sum()
            + recorder.rejected[span].sum()
            + recorder.failed[span].sum()
        )
        growth = arrived - left
        saturated = {
            name: result for name, result in components.items() if result.utilization >= 0.98
        }
        if saturated and growth > max(100.0, 5 * math.sqrt(max(arrived, 1))):
            name = max(
                saturated, key=lambda key: (saturated[key].utilization, saturated[key].mean_queue)
            )
            rate = growth / window.seconds if window.seconds else math.nan
            return Unstable(
                component=name,
                factor=math.nan,
                reason=(
                    f"the requests in the system grew by {growth} ({rate:.3g}/s) through the "
                    f"measured window while {name} was {saturated[name].utilization:.0%} busy"
                ),
            )
    return None


def _component(per_run: list[tuple[StationSeries, Window]]) -> ComponentResult:
    first = per_run[0][0]
    seconds = sum(window.seconds for _, window in per_run)
    count = sum(int(series.span.count[w.first : w.last].sum()) for series, w in per_run)
    held = [float(series.held_s[w.first : w.last].sum()) for series, w in per_run]
    slot_seconds = [float(series.capacity_s[w.first : w.last].sum()) for series, w in per_run]
    waited = sum(float(series.wait_s[w.first : w.last].sum()) for series, w in per_run)
    rejected = sum(int(series.rejects.sum()) for series, _ in per_run)
    utilization = sum(held) / sum(slot_seconds) if sum(slot_seconds) else 0.0
    utilization_ci = (math.nan, math.nan)
    queue_ci = (math.nan, math.nan)
    if len(per_run) > 1:
        if first.capacity:
            ci = replication_ci([h / c for h, c in zip(held, slot_seconds, strict=True) if c])
            utilization_ci = (ci.low, ci.high)
        ci = replication_ci(
            [float(s.wait_s[w.first : w.last].sum()) / w.seconds for s, w in per_run if w.seconds]
        )
        queue_ci = (ci.low, ci.high)
    else:
        # One run: batch means over its time buckets, as for the latency.
        series, window = per_run[0]
        span = slice(window.first, window.last)
        if first.capacity and (series.capacity_s[span] > 0).all():
            ci = batch_means_ci(series.held_s[span] / series.capacity_s[span])
            utilization_ci = (ci.low, ci.high)
        ci = batch_means_ci(series.wait_s[span] / window.width_s)
        queue_ci = (ci.low, ci.high)
    replicas = float(np.mean([series.replicas[w.first : w.last].mean() for series, w in per_run]))
    details = first.details if len(per_run) == 1 else _merge_details(per_run)
    if any(series.up_log for series, _ in per_run):
        shares = [
            time_up(series.up_log, w.start_s, w.end_s, series.total_replicas) / w.seconds
            for series, w in per_run
            if w.seconds
        ]
        details = {**details, "time_availability": float(np.mean(shares))}
        if len(shares) > 1:
            ci = replication_ci(shares)
            details["time_availability_ci95"] = [ci.low, ci.high]
    return ComponentResult(
        kind=first.kind,
        utilization=utilization,
        mean_queue=waited / seconds if seconds else math.nan,
        throughput_per_s=count / seconds if seconds else math.nan,
        rejected=rejected,
        latency_ms=_latency([(series.span, window) for series, window in per_run]),
        capacity=first.capacity,
        replicas=round(replicas, 6),
        wait_ms=1e3 * waited / count if count else math.nan,
        utilization_ci95=utilization_ci,
        mean_queue_ci95=queue_ci,
        method="simulation",
        details=details,
    )


def _merge_details(per_run: list[tuple[StationSeries, Window]]) -> dict[str, Any]:
    """Counts add up over replications; other figures are shown per replication."""
    merged: dict[str, Any] = {}
    for key in per_run[0][0].details:
        values = [series.details.get(key) for series, _ in per_run]
        if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            merged[key] = sum(values)
        else:
            merged[key] = values
    return merged


def _row_quantiles(rows: np.ndarray, q: float) -> np.ndarray:
    """``DEFAULT_BINS.quantiles(row, [q])`` of every row of bin counts at once (NaN for an
    empty row): the same lower-rank convention, vectorised over a run's time buckets."""
    cumulative = np.cumsum(rows, axis=1)
    total = cumulative[:, -1]
    rank = q * (total - 1)
    # searchsorted(cumulative, rank, side="right") of each row: the counts at or below it.
    index = (cumulative <= rank[:, None]).sum(axis=1)
    return np.where(total > 0, DEFAULT_BINS.representative(index), np.nan)


def _timeseries(spec: ArchitectureSpec, runs: list[Replication]) -> TimeSeries:
    """Per time bucket, averaged over replications: what an APM dashboard would chart."""
    recorder = runs[0].recorder
    width = recorder.width_s
    used = max(min(math.ceil(run.end_s / width), recorder.n_buckets) for run in runs)
    replications = len(runs)

    def per_bucket(arrays: list[np.ndarray], scale: float = 1.0) -> tuple[float, ...]:
        total = np.sum(arrays, axis=0) / (width * replications) * scale
        return tuple(float(value) for value in total[:used])

    def quantile_rows(hists: list[np.ndarray], q: float) -> tuple[float, ...]:
        merged = hists[0][:used] if len(hists) == 1 else np.sum(hists, axis=0)[:used]
        return tuple(float(value) for value in _row_quantiles(merged, q))

    recorders = [run.recorder for run in runs]
    system = SystemSeries(
        arrivals_per_s=per_bucket([r.arrivals for r in recorders]),
        throughput_per_s=per_bucket([r.system.count for r in recorders]),
        errors_per_s=per_bucket([r.rejected + r.failed for r in recorders]),
        p50_ms=quantile_rows([r.system.hist for r in recorders], 0.5),
        p99_ms=quantile_rows([r.system.hist for r in recorders], 0.99),
    )
    components: dict[str, ComponentSeries] = {}
    for name in recorders[0].stations:
        series = [r.stations[name] for r in recorders]
        held = np.sum([s.held_s for s in series], axis=0)
        slot_seconds = np.sum([s.capacity_s for s in series], axis=0)
        utilization = np.divide(held, slot_seconds, out=np.zeros_like(held), where=slot_seconds > 0)
        components[name] = ComponentSeries(
            throughput_per_s=per_bucket([s.span.count for s in series]),
            errors_per_s=per_bucket([s.rejects + s.failures for s in series]),
            p50_ms=quantile_rows([s.span.hist for s in series], 0.5),
            p99_ms=quantile_rows([s.span.hist for s in series], 0.99),
            utilization=tuple(float(value) for value in utilization[:used]),
            mean_queue=per_bucket([s.wait_s for s in series]),
            replicas=tuple(
                float(value) for value in np.mean([s.replicas for s in series], axis=0)[:used]
            ),
        )
    return TimeSeries(
        bucket_s=width,
        t_s=tuple(width * (index + 0.5) for index in range(used)),
        system=system,
        components=components,
    )


__all__ = ["REJECTED", "UnstableError", "check_stability", "simulate"]
