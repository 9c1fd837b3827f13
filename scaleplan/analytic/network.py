"""Instant estimates of a whole architecture from queueing closed forms.

This module owns the step from a validated spec to an analytic :class:`SimulationResult`: it
turns every component into one or more queueing stations, chains them along the call graph and
says, in the result's ``warnings``, every approximation it had to make and every feature it
does not model. The station formulas themselves live in :mod:`scaleplan.analytic.queues`; the
graph in :mod:`scaleplan.graph`. It does not simulate anything, and it does not model losses
(``queue_limit``, ``max_messages``, load shedding), timeouts, circuit breakers, bulkheads,
crashes or time-varying load: each of those is named in the warnings when the spec uses it.

The traffic equations are solved here rather than taken from the graph, with the engine's
semantics of failure: a visit whose own service fails (``error_probability``) makes none of its
calls, a failed call ends a sequence of calls, a failure travels back to the caller (which may
retry it: expected attempts ``(1 − qᵐ⁺¹)/(1 − q)`` with ``q`` the callee's whole failure
probability, not only its own), a queue redelivers a failed job, and a TTL cache's miss ratio
depends on its own arrival rate.

The model, per component (times are per visit):

- a ``service`` is ``replicas`` stations of ``concurrency`` slots. A slot is held for the
  service time and, with ``hold_during_calls``, also for the calls (the method of surrogate
  delays: the holding time is the service time plus the callees' mean spans). How arrivals
  split over the replicas follows the ``policy`` of the load balancer in front or the service's
  ``dispatch`` when it is called directly: ``random`` is an exact Poisson split,
  ``round_robin`` gives each replica Erlang-r interarrivals (GI/G/c), and
  the load-aware policies (``least_connections`` over one target's equal replicas,
  ``join_shortest_queue``, ``power_of_two``, ``power_of_d``) over single-slot exponential
  replicas are the exact Markov chain of :mod:`scaleplan.analytic.balancing` while it has at
  most :data:`ESTIMATE_STATES` states; past it ``power_of_two`` / ``power_of_d`` take
  Mitzenmacher's mean-field limit (optimistic by the finite-n gap) and the JSQ-like ones one
  pooled station (a lower bound); over multi-slot or non-exponential replicas, all of them
  are one pooled station (optimistic), as the warnings say. A call
  with retries takes ``attempts × callee span + expected backoff``. With ``autoscale`` the
  service is evaluated at the replica count the autoscaler settles on for the mean load;
- a service's ``discipline`` changes its station (:mod:`scaleplan.analytic.disciplines`):
  ``lifo`` keeps FIFO's means; ``ps`` is processor sharing over ``concurrency`` processors per
  replica, whose mean sojourn is M/M/c's for any service distribution (a symmetric queue) and,
  with an ``admission_limit``, exactly so for exponential service only. Its wait is the
  sojourn minus the mean service time; neither gets percentiles;
- a ``worker_pool`` is one FIFO over ``replicas × concurrency`` slots (M/G/c), fed by its
  queues and topics with every delivery attempt. As in the engine, a job that came through a
  broker has its wait reported on the broker's row, not the pool's;
- a ``load_balancer`` adds no delay unless it has a ``service_time``, when it is one M/G/c
  station of ``concurrency`` slots before it forwards;
- a ``database`` splits its arrivals over its shards by the exact shard shares of the key
  popularity; in each shard, writes go to the primary and reads to the readers (primary and/or
  read replicas) by ``read_policy``; every node is an M/G/c station of ``concurrency`` slots
  with the read/write mix it receives. Each shard is reported as ``<db>/shard-<i>``;
- a ``cache`` is a lookup station (round robin over ``replicas`` of ``concurrency`` slots) that
  sends a miss ratio of its visits on to ``backing``: ``1 − hit_ratio``, or from the key
  popularity by Che's approximation (LRU) and the exact TTL formula at its arrival rate;
- an ``edge`` is one M/G/c station of ``concurrency`` slots answering ``share`` of its visits
  and forwarding the rest;
- a ``queue`` costs its producer only the ``publish_time``; its own row reports the consumer
  lag as wait and the job's time in system (lag + work, over all deliveries, plus the
  redelivery backoffs) as latency. A ``topic`` does the same per subscription, reported as
  ``<topic>/<subscription>``;
- the span of a component is what its caller waits for: wait + own service + its synchronous
  calls (summed when sequential, the expected maximum of exponentials when ``parallel``); the
  end-to-end mean is the share-weighted span of the entries.

With Poisson arrivals, exponential service, random or no splits and slots released before the
calls, this is an open Jackson (Kelly) network and the means are exact.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import networkx as nx

from scaleplan.analytic.class_waits import ClassWaits, class_waits
from scaleplan.analytic.disciplines import queue_metrics
from scaleplan.analytic.queues import (
    UnstableError,
    bottleneck_throughput,
    expected_max_exponential,
    mm1_response_quantile,
    mmc_response_quantile,
)
from scaleplan.graph import ENTRY_WEIGHT
from scaleplan.load import JITTER_MEAN, MAX_PASSES, Call, Traffic, operated, station_loads, traffic
from scaleplan.load import Flows as _Flows
from scaleplan.load import close as _close
from scaleplan.load import own_mean_s as _own_mean_s
from scaleplan.result import (
    PERCENTILES,
    ComponentResult,
    LatencySummary,
    RequestCounts,
    SimulationResult,
    Unstable,
)
from scaleplan.spec import (
    ArchitectureSpec,
    ComponentSpec,
    DatabaseSpec,
    RetrySpec,
    ServiceSpec,
)
from scaleplan.spec.components import for_class

__all__ = ["bottleneck", "estimate"]

#: Up to this many calls of probability strictly between 0 and 1 a parallel join enumerates
#: which calls are made (2ⁿ subsets); beyond it the same expectation is integrated numerically.
MAX_ENUMERATED_CALLS = 10
#: A component with a queue_limit above this utilisation would reject requests noticeably.
QUEUE_LIMIT_WARNING_UTILIZATION = 0.5

Component = ComponentSpec
#: Policies that sample d replicas and take the least loaded.
_SAMPLED = ("power_of_two", "power_of_d")
#: Policies that compare every replica's queue (equal weights behind one target).
_JSQ_LIKE = ("join_shortest_queue", "least_connections")
#: The state budget of the exact balancing chain inside an estimate (about a second).
ESTIMATE_STATES = 20_000


# --------------------------------------------------------------------------- records


@dataclass
class _Child:
    """A part with its own row in the result: a database shard, a topic subscription."""

    name: str
    kind: str
    arrival_rate: float
    utilization: float
    wait_s: float
    latency_s: float
    mean_queue: float
    capacity: int
    replicas: float
    method: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Station:
    """The figures of one component at the current iterate (seconds and per second).

    ``wait_s`` and ``span_s`` are what a visit really waits and what its caller waits for;
    ``latency_s``, ``reported_wait_s`` and ``mean_queue`` are what its row reports, which
    differ for brokers and broker-fed worker pools exactly as they do in the engine.
    """

    name: str
    arrival_rate: float
    utilization: float
    wait_s: float
    span_s: float
    mean_queue: float
    holding_s: float
    method: str
    exact: bool
    lower_bound: bool = False
    warnings: list[str] = field(default_factory=list)
    peak: float | None = None  # the most loaded queue inside (a database node); stability
    latency_s: float | None = None
    reported_wait_s: float | None = None
    job_s: float = 0.0  # a visit's time once it holds a slot: own service + calls
    replicas: float = 1.0
    capacity: int = 0
    details: dict[str, Any] = field(default_factory=dict)
    children: list[_Child] = field(default_factory=list)
    unstable_reason: str = ""  # the whole reason, when the generic one does not fit
    capacity_note: str = ""  # said after the capacity in the generic reason
    # A slot station's queue as solved: (arrival rate per queue, ca², mean holding time,
    # its scv, servers per queue), for the per-class waits under priorities.
    queue: tuple[float, float, float, float, int] | None = None

    @property
    def load(self) -> float:
        return self.utilization if self.peak is None else self.peak


@dataclass(frozen=True)
class _Split:
    """How a service's arrivals reach its replicas."""

    policy: str
    mixed: tuple[str, ...] = ()
    d: int = 2  # power_of_d's sample size (the policy compares at most the replicas there are)
    shared: bool = False  # its balancers also spread over other targets, or differ in d


@dataclass
class _Context:
    """Everything a station needs: the spec, its graph and the traffic at the rate asked."""

    spec: ArchitectureSpec
    graph: nx.DiGraph
    rate: float
    flows: _Flows
    rates: dict[str, float]
    splits: dict[str, _Split] = field(default_factory=dict)
    poisson_in: dict[str, bool] = field(default_factory=dict)
    retried: set[str] = field(default_factory=set)
    low_load: dict[str, float] = field(default_factory=dict)
    solved: Traffic | None = None  # the traffic of scaleplan.load: visits and holding bounds
    stations: dict[str, _Station] = field(default_factory=dict)
    shares: dict[str, list[float]] = field(default_factory=dict)

    operated: dict[str, Component] = field(default_factory=dict)
    # The class whose requests' outcomes are being folded (its calls only), or None.
    route_class: str | None = None

    def component(self, name: str) -> Component:
        component: Component = self.graph.nodes[name]["spec"]
        if name in self.flows.read_ratio:  # a database some calls name the operation of
            if name not in self.operated:
                self.operated[name] = operated(component, name, self.flows)
            return self.operated[name]
        if self.route_class is not None:
            routed: Component = for_class(component, self.route_class)
            return routed
        return component

    def shard_shares(self, name: str, database: DatabaseSpec) -> list[float]:
        """The database's shard shares, computed once (it hashes every key)."""
        if name not in self.shares:
            self.shares[name] = [float(share) for share in database.shard_shares()]
        return self.shares[name]


def _context(spec: ArchitectureSpec, rate: float) -> tuple[_Context, list[str], list[list[str]]]:
    solved = traffic(spec, None, rate)
    graph, order, cycles, flows = solved.graph, solved.order, solved.cycles, solved.flows
    ctx = _Context(
        spec, graph, rate, flows, {name: rate * visits for name, visits in flows.visits.items()}
    )
    ctx.solved = solved
    ctx.splits = {name: _split(ctx, name) for name in graph}
    ctx.poisson_in = _poisson_inputs(ctx)
    ctx.retried = {
        call.target for calls in flows.calls.values() for call in calls if call.attempts > 1
    }
    ctx.low_load = solved.spans
    return ctx, order, cycles


# --------------------------------------------------------------------------- public verbs


def estimate(spec: ArchitectureSpec, *, rate_per_s: float | None = None) -> SimulationResult:
    """Estimate the steady state of ``spec`` from closed forms, in no measurable time.

    Parameters
    ----------
    spec : ArchitectureSpec
        A validated architecture, of any component kinds.
    rate_per_s : float, optional
        Requests per second arriving at the system; defaults to the workload's mean rate.

    Returns
    -------
    SimulationResult
        With ``seed=None`` and no requests counted (nothing was simulated). The mean latency's
        CI is the point itself (a closed form has no sampling error); percentiles are given
        only where they are exact (one M/M/1 or M/M/c service, Poisson arrivals), otherwise
        NaN. Each component reports its offered utilisation, the number waiting over all its
        replicas, its arrival rate, its per-visit latency, the method used and kind-specific
        ``details`` (shard shares, hit ratios, deliveries per message, ...); database shards
        and topic subscriptions get rows of their own, named as the engine names them.
        ``warnings`` names every approximation and every feature that is not modelled. When
        some queue's utilisation is at least 1, ``stable`` is False, ``unstable`` names the
        component and its factor, every latency is NaN and ``throughput_per_s`` is the rate
        that component can carry (rate / factor).

    Raises
    ------
    ValueError
        If ``rate_per_s`` is negative or not finite.

    Examples
    --------
    >>> from scaleplan.spec import example_spec
    >>> result = estimate(example_spec())  # M/M/1: λ = 50/s, mean service 10 ms
    >>> result.latency_ms.mean, result.components["api"].utilization
    (20.0, 0.5)
    >>> round(result.latency_ms.p99, 3), result.method
    (92.103, 'analytic: M/M/1; exact')
    """
    if spec.workload.closed:
        # A closed workload's rate follows from its users: Mean Value Analysis.
        from scaleplan.analytic.closed import closed_estimate
        from scaleplan.spec import ClosedWorkloadError

        if rate_per_s is not None:
            raise ClosedWorkloadError(
                f"{spec.name}: workload: a closed workload ({spec.workload.total_users} users) "
                f"has no arrival rate to set (got rate_per_s {rate_per_s}): change its users"
            )
        return closed_estimate(spec)
    rate = _rate(spec, rate_per_s)
    ctx, order, cycles = _context(spec, rate)
    graph = ctx.graph

    warnings: list[str] = []
    if not spec.workload.is_poisson:
        warnings.append(
            f"approximation: arrivals treated as Poisson at the mean rate {rate:g}/s "
            f"(the workload's arrival is {spec.workload.arrival!r})"
        )
    warnings.extend(
        f"call cycle through {', '.join(members)}: spans found by fixed-point iteration"
        for members in cycles
    )
    warnings.extend(ctx.flows.notes)
    unmodelled = _unmodelled(spec)
    warnings.extend(unmodelled)

    spans = {name: 0.0 for name in graph}
    stations = ctx.stations
    for _ in range(MAX_PASSES):
        previous = dict(spans)
        for name in order:
            stations[name] = _station(ctx, name, spans)
            spans[name] = stations[name].span_s
        if all(_close(spans[name], previous[name]) for name in graph):
            break
    else:
        warnings.append(
            f"the spans did not converge in {MAX_PASSES} passes of the fixed-point iteration; "
            "the figures are the last iterate"
        )

    for name in graph:
        warnings.extend(stations[name].warnings)
        warnings.extend(_limit_warnings(ctx, name))

    exact = not ctx.flows.notes and not unmodelled
    outcomes = _class_outcomes(ctx, order) if any(ctx.flows.failure.values()) else None
    by_class = class_waits(ctx, order, stations)
    if by_class is not None:
        warnings.extend(by_class.warnings)
        exact = exact and len(by_class.warnings) == 1  # only the note of what was done
    routed = class_spans(ctx, order)
    return _result(ctx, stations, warnings, exact, outcomes, by_class, routed)


def bottleneck(spec: ArchitectureSpec, rate_per_s: float | None = None) -> tuple[float, str]:
    """The most requests per second ``spec`` can carry, and the component that limits it.

    The bottleneck bound: each station can complete at most servers / (visits × mean holding
    time) requests per second, with the stations and loads of :func:`scaleplan.load.station_loads`
    (the formula the engine's pre-run check uses): for a service that holds its slot during its
    calls the holding time is taken at low load, its own service plus its callees' spans without
    any queueing (a parallel join at least its longest branch). An autoscaled service counts at
    its ``max_replicas``; a database at each node of each shard; load balancers without a
    ``service_time``, queues and topics never limit.

    Parameters
    ----------
    spec : ArchitectureSpec
        A validated architecture.
    rate_per_s : float, optional
        Only a TTL cache's miss ratio depends on the rate; defaults to the workload's rate.

    Returns
    -------
    tuple[float, str]
        The maximum throughput in requests per second and the limiting component.

    Examples
    --------
    >>> from scaleplan.spec import example_spec
    >>> bottleneck(example_spec())
    (100.0, 'api')
    """
    # A closed workload has no rate of its own: its bound is the same at any reference rate.
    closed = spec.workload.closed and rate_per_s is None
    rate = 1.0 if closed else _rate(spec, rate_per_s)
    reference = rate if rate > 0 else 1.0  # loads scale with the rate; any positive one will do
    stations = station_loads(spec, None, reference)
    demands = {
        station.name: (station.arrival_rate / reference * station.holding_s, float(station.servers))
        for station in stations
    }
    limit, name = bottleneck_throughput(demands)
    return limit, next(station.component for station in stations if station.name == name)


# --------------------------------------------------------------------------- traffic


def _edge_flow(ctx: _Context, source: str, target: str) -> float:
    """Expected visits to ``target`` per visit to ``source``."""
    return math.fsum(
        call.made * call.attempts for call in ctx.flows.calls[source] if call.target == target
    )


# --------------------------------------------------------------------------- one station


def _station(ctx: _Context, name: str, spans: Mapping[str, float]) -> _Station:
    """A component's station figures: its kind's own (:mod:`scaleplan.kinds`), then what every
    kind shares (its failure probability and its retried calls)."""
    from scaleplan.kinds import kind_of

    component = ctx.component(name)
    station: _Station = kind_of(component.kind).analytic_station(ctx, name, spans)
    if ctx.flows.failure.get(name, 0.0) > 0:
        station.details["failure_probability"] = ctx.flows.failure[name]
    retried = {
        f"{name}->{call.target}": {"attempts_per_call": call.attempts}
        for call in ctx.flows.calls[name]
        if call.attempts > 1 and not call.asynchronous
    }
    if retried:
        station.details["calls"] = retried
    return station


def _arrival_notes(ctx: _Context, name: str, retried: str) -> tuple[bool, list[str]]:
    """Whether the closed form's Poisson arrivals are exact at ``name``, and what it assumed."""
    notes: list[str] = []
    exact = bool(ctx.poisson_in[name])
    if ctx.spec.workload.is_poisson and not exact:
        notes.append(
            f"{name}: its arrivals come from stations whose departures are not Poisson; "
            "treated as Poisson (approximation)"
        )
    if name in ctx.retried:
        exact = False
        notes.append(
            f"{name}: receives {retried} after a backoff; treated as Poisson (approximation)"
        )
    return exact, notes


def slot_station(
    ctx: _Context, name: str, spans: Mapping[str, float], replicas: int | None = None
) -> _Station:
    """A station of slots: a service, a worker pool, a balancer, a cache lookup, an edge."""
    component = ctx.component(name)
    arrival_rate = ctx.rates[name]
    calls = _calls_s(ctx, name, spans)
    if component.own_service_time is None:  # a balancer without a service time
        policy = getattr(component, "policy", "")
        return _Station(
            name,
            arrival_rate,
            0.0,
            0.0,
            calls,
            0.0,
            0.0,
            f"no delay: forwards by {policy}",
            True,
            job_s=calls,
            replicas=0.0,
        )

    notes: list[str] = []
    own_s = _own_mean_s(component)
    holds = bool(getattr(component, "hold_during_calls", False))
    has_calls = any(call.made > 0 and not call.asynchronous for call in ctx.flows.calls[name])
    discipline, admitted, approximate = _discipline(ctx, name, holds and has_calls, notes)
    # Under ps a request's calls take no processor share: the processors hold its own work only.
    surrogate = holds and has_calls and discipline != "ps"
    exact, arrival_notes = _arrival_notes(ctx, name, "retried attempts or redeliveries")
    exact = exact and not approximate
    notes.extend(arrival_notes)

    if surrogate:
        holding_s = own_s + calls
        scv = 1.0
        exact = False
        notes.append(
            f"{name}: holds its slot during its calls; M/G/c with holding time = service + "
            "the callees' mean spans (method of surrogate delays), holding-time scv taken as 1 "
            "(approximation)"
        )
    else:
        holding_s = own_s
        scv = _own_scv(component)
    if getattr(component, "parallel", False) and has_calls:
        exact = False
        notes.append(
            f"{name}: parallel calls joined as the maximum of independent exponentials with "
            "the callees' mean spans (approximation)"
        )

    if replicas is None:
        replicas = int(getattr(component, "replicas", 1))
    slots = int(getattr(component, "concurrency", 1))
    # A worker pool's slots pull from one shared FIFO (one pooled M/G/c station).
    pooled_fifo = component.kind == "worker_pool"
    lower_bound = False
    if not math.isfinite(holding_s):
        # A callee is unstable, so the slots are held without bound; the callees' low-load
        # spans still give a utilisation that this component cannot be below.
        assert ctx.solved is not None
        holding_for_load = ctx.solved.holding[name]
        lower_bound = True
        unstable_callees = [
            call.target for call in ctx.flows.calls[name] if not math.isfinite(spans[call.target])
        ]
        notes.append(
            f"{name}: utilisation is a lower bound: it holds its slots while calling "
            f"unstable {', '.join(sorted(set(unstable_callees)))}"
        )
    else:
        holding_for_load = holding_s
    utilization = arrival_rate * holding_for_load / (replicas * slots)

    queue_rate, servers, ca2, shape = arrival_rate, slots, 1.0, ""
    if pooled_fifo:
        servers = replicas * slots
        if replicas > 1:
            shape = f", one FIFO over {replicas} replicas × {slots} slots"
    elif replicas > 1:
        split = ctx.splits[name]
        if split.mixed:
            exact = False
            notes.append(
                f"{name}: reached under several replica policies ({', '.join(split.mixed)}); "
                f"modelled with {split.policy}, which carries most of its traffic (approximation)"
            )
        if split.policy == "random":
            queue_rate = arrival_rate / replicas
            shape = f" per replica, random split over {replicas}"
        elif split.policy == "round_robin":
            queue_rate, ca2 = arrival_rate / replicas, 1.0 / replicas
            shape = f" per replica, round_robin over {replicas}"
            exact = False
            notes.append(
                f"{name}: arrivals to each replica under round_robin are not Poisson; "
                f"Allen–Cunneen GI/G/c approximation with ca²=1/{replicas}"
            )
        else:
            balanced = _balanced(ctx, name, split, replicas, slots, scv, surrogate, holding_s)
            if balanced is not None and utilization < 1.0:
                wait_s, method, chain_exact, note = balanced
                exact = exact and chain_exact
                notes.extend([note] if note else [])
                job_s = holding_s + (0.0 if surrogate else calls)
                return _Station(
                    name,
                    arrival_rate,
                    utilization,
                    wait_s,
                    wait_s + job_s,
                    arrival_rate * wait_s,  # Little's law over all replicas
                    holding_s,
                    method,
                    exact,
                    lower_bound,
                    notes,
                    job_s=job_s,
                    replicas=float(replicas),
                    capacity=replicas * slots,
                )
            servers = replicas * slots
            admitted = None if admitted is None else replicas * admitted
            shape = f", {split.policy} over {replicas} replicas pooled into {servers} servers"
            exact = False
            why = (
                "a lower bound: real replicas queue separately"
                if split.policy in _JSQ_LIKE and slots == 1 and scv == 1.0 and not surrogate
                else "optimistic: real replicas queue separately"
            )
            notes.append(
                f"{name}: {split.policy} over {replicas} replicas approximated as one pooled "
                f"station of {servers} servers ({why})"
            )
            if slots > 1 or scv != 1.0 or surrogate:
                notes.append(
                    f"{name}: no closed form for {split.policy} over multi-slot or "
                    "non-exponential replicas; the pooled station stands in for it"
                )

    capacity = replicas * slots
    if utilization >= 1.0 or lower_bound:
        return _Station(
            name,
            arrival_rate,
            utilization,
            math.inf,
            math.inf,
            math.inf,
            holding_for_load,
            f"unstable{shape}",
            False,
            lower_bound,
            notes,
            job_s=math.inf,
            replicas=float(replicas),
            capacity=capacity,
        )
    try:
        metrics = queue_metrics(queue_rate, ca2, holding_s, scv, servers, discipline, admitted)
    except UnstableError as error:  # rounding at utilisation 1 - ε
        return _Station(
            name,
            arrival_rate,
            max(utilization, error.utilization),
            math.inf,
            math.inf,
            math.inf,
            holding_s,
            f"unstable{shape}",
            False,
            lower_bound,
            notes,
            job_s=math.inf,
            replicas=float(replicas),
            capacity=capacity,
        )
    if not metrics.exact and not surrogate and ca2 == 1.0:
        notes.append(f"{name}: {metrics.method} (service scv {scv:.3g})")
    job_s = holding_s + (0.0 if surrogate else calls)
    station = _Station(
        name,
        arrival_rate,
        utilization,
        metrics.mean_wait,
        metrics.mean_wait + job_s,
        arrival_rate * metrics.mean_wait,  # Little's law over all replicas
        holding_s,
        f"{metrics.method}{shape}",
        exact and metrics.exact,
        lower_bound,
        notes,
        job_s=job_s,
        replicas=float(replicas),
        capacity=capacity,
    )
    station.queue = (queue_rate, ca2, holding_s, scv, servers)
    return station


def _balanced(
    ctx: _Context,
    name: str,
    split: _Split,
    replicas: int,
    slots: int,
    scv: float,
    surrogate: bool,
    holding_s: float,
) -> tuple[float, str, bool, str] | None:
    """A load-aware split over single-slot exponential replicas: (mean wait, method, exact,
    note), or None where the pooled station must stand in.

    Sampling ``d`` of the ``n`` replicas and joining the shortest is a Markov chain on the
    queue lengths (:func:`scaleplan.analytic.balancing.exact_sojourn`): ``power_of_two`` is
    ``d = 2``, ``join_shortest_queue`` ``d = n``, and ``least_connections`` over one target's
    equal-weight replicas counts what JSQ counts (its tie-break does not change the queue
    lengths' law). Exact up to the chain's budget of :data:`ESTIMATE_STATES`; past it,
    ``power_of_d`` takes Mitzenmacher's mean-field limit (optimistic by the finite-n gap) and
    the JSQ-like policies return None (the pooled station, a lower bound).
    """
    from scaleplan.analytic.balancing import TruncationError, exact_sojourn, mean_field_sojourn

    policy = split.policy
    if policy not in _SAMPLED and policy not in _JSQ_LIKE:
        return None
    if slots != 1 or scv != 1.0 or surrogate or split.shared or split.mixed:
        return None
    d = 2 if policy == "power_of_two" else split.d if policy == "power_of_d" else replicas
    d = min(d, replicas)
    load = ctx.rates[name] * holding_s  # offered load in servers (λ/μ)
    if not load < replicas:
        return None
    rule = "join the shortest queue" if d == replicas else f"best of {d} sampled"
    if not load > 0:
        # No request reaches the pool (e.g. behind a call list that always exits first).
        return 0.0, f"{policy} (d={d}) over {replicas} replicas, no load", True, ""
    try:
        chain = exact_sojourn(replicas, d, load, 1.0, max_states=ESTIMATE_STATES)
    except TruncationError:
        if policy in _JSQ_LIKE:
            return None
        sojourn = mean_field_sojourn(load / replicas, d)
        return (
            (sojourn - 1.0) * holding_s,
            f"mean-field {policy} (d={d}) over {replicas} replicas",
            False,
            f"{name}: {policy} over {replicas} replicas by Mitzenmacher's mean-field limit for "
            f"d={d} (optimistic: a finite pool waits longer; the exact chain exceeds "
            f"{ESTIMATE_STATES} states)",
        )
    return (
        (chain.mean_sojourn - 1.0) * holding_s,
        f"exact CTMC ({rule}) over {replicas} replicas",
        True,
        "",
    )


def _discipline(
    ctx: _Context, name: str, holds_during_calls: bool, notes: list[str]
) -> tuple[str, int | None, bool]:
    """A service's ``discipline`` and ``admission_limit`` (fifo for other kinds), and whether
    the estimate approximates them, noting what it makes of them."""
    component = ctx.component(name)
    discipline = str(getattr(component, "discipline", "fifo"))
    admitted = getattr(component, "admission_limit", None)
    if discipline == "lifo":
        notes.append(
            f"{name}: discipline lifo: the means are FIFO's (the order does not change the "
            "mean wait of a discipline blind to service times); its waits have a longer tail, "
            "so no percentiles are given"
        )
    elif discipline == "ps":
        notes.append(
            f"{name}: discipline ps: its wait is the processor-sharing sojourn minus the mean "
            "service time; the sojourn's distribution is not FIFO's, so no percentiles are given"
        )
        if admitted is not None and holds_during_calls:
            notes.append(
                f"{name}: under ps a request keeps its admission place while its calls are out; "
                f"admission_limit {admitted} is taken not to bind then (approximation)"
            )
            return discipline, admitted, True
    return discipline, admitted, False


def _own_scv(component: Component) -> float:
    distribution = component.own_service_time
    return distribution.scv if distribution is not None else 1.0


# --------------------------------------------------------------------------- databases


# --------------------------------------------------------------------------- brokers


# --------------------------------------------------------------------------- calls


def _calls_s(
    ctx: _Context, name: str, spans: Mapping[str, float], made: Sequence[Call] | None = None
) -> float:
    """Mean time a visit waits for its calls (or forwarding), given the callees' spans.

    A call with retries costs attempts × the callee's span plus the expected backoff; a
    broker's deliveries cost its caller nothing (they are asynchronous). ``made``: one
    class's calls instead of the mixed traffic's.
    """
    component = ctx.component(name)
    made = ctx.flows.calls[name] if made is None else made
    calls = [call for call in made if not call.asynchronous]
    if getattr(component, "parallel", False):
        own = 1.0 - float(getattr(component, "error_probability", 0.0))
        joined = _parallel_join_s(
            [
                (call.probability, call.attempts * spans[call.target] + call.backoff_s)
                for call in calls
            ]
        )
        return own * joined if own > 0 else 0.0
    # A load balancer forwards to exactly one target, chosen with these probabilities; a
    # service makes its calls one after another.
    return math.fsum(
        call.made * (call.attempts * spans[call.target] + call.backoff_s)
        for call in calls
        if call.made > 0
    )


def class_spans(ctx: _Context, order: Sequence[str]) -> dict[str, dict[str, float]] | None:
    """Each class's span at every component when some calls are made for some classes only
    (None otherwise): a station's own part (its wait and work, the same for every class under
    FIFO) plus the calls that class makes, with its callees' spans for that class."""
    classes = ctx.flows.classes
    if classes is None:
        return None
    stations = ctx.stations
    mixed = {name: stations[name].span_s for name in ctx.graph}
    own = {name: mixed[name] - _calls_s(ctx, name, mixed) for name in ctx.graph}
    found: dict[str, dict[str, float]] = {}
    for class_name, flows in classes.items():
        spans = dict(mixed)
        for _ in range(MAX_PASSES):
            previous = dict(spans)
            for name in order:
                spans[name] = own[name] + _calls_s(ctx, name, spans, flows.calls[name])
            if all(_close(spans[name], previous[name]) for name in ctx.graph):
                break
        found[class_name] = spans
    return found


def _parallel_join_s(calls: Sequence[tuple[float, float]]) -> float:
    """E[max] of the spans of the calls that are made, each made with its probability.

    Each span is taken as exponential with its mean (the stated approximation). With few
    uncertain calls the subsets of calls made are enumerated and `expected_max_exponential`
    weighted by their probabilities; with many, the same expectation is the integral of
    1 − Π(1 − p·e^{−t/m}).
    """
    made = [(probability, mean) for probability, mean in calls if probability > 0 and mean > 0]
    if any(math.isinf(mean) for _, mean in made):
        return math.inf
    certain = [mean for probability, mean in made if probability >= 1.0]
    uncertain = [(probability, mean) for probability, mean in made if probability < 1.0]
    if len(uncertain) <= MAX_ENUMERATED_CALLS:
        total = 0.0
        for chosen in itertools.product((False, True), repeat=len(uncertain)):
            weight = math.prod(
                probability if taken else 1.0 - probability
                for (probability, _), taken in zip(uncertain, chosen, strict=True)
            )
            means = certain + [
                mean for (_, mean), taken in zip(uncertain, chosen, strict=True) if taken
            ]
            total += weight * expected_max_exponential(means)
        return total

    def survival(t: float) -> float:
        return 1.0 - math.prod(
            1.0 - probability * math.exp(-t / mean) for probability, mean in made
        )

    from scipy.integrate import quad  # imported here: a quarter second off every command

    value: float = quad(survival, 0.0, math.inf, limit=200)[0]
    return value


# --------------------------------------------------------------------------- graph passes


def _fixed_point(
    graph: nx.DiGraph, order: Sequence[str], update: Callable[[str, dict[str, float]], float]
) -> dict[str, float]:
    values = {name: 0.0 for name in graph}
    for _ in range(MAX_PASSES):
        previous = dict(values)
        for name in order:
            values[name] = update(name, values)
        if all(_close(values[name], previous[name]) for name in graph):
            break
    return values


def _split(ctx: _Context, name: str) -> _Split:
    """The replica policy of ``name``: the load balancer's in front, else its ``dispatch``.

    A cache spreads its lookups round robin over its replicas, as the engine does.
    """
    component = ctx.component(name)
    if not hasattr(component, "dispatch"):  # e.g. a cache: round robin over its replicas
        return _Split("round_robin")
    by_policy: dict[tuple[str, int, bool], float] = {}
    own = (component.dispatch, getattr(component, "d", 2), False)
    external = ctx.rate * ctx.graph.nodes[name][ENTRY_WEIGHT]
    if external > 0:
        by_policy[own] = external
    for caller in ctx.graph.predecessors(name):
        caller_spec = ctx.component(caller)
        # A balancer in front picks the replica by its policy; a direct caller by dispatch.
        policy = getattr(caller_spec, "policy", None)
        targets = getattr(caller_spec, "to", ())
        key = (
            (policy, int(getattr(caller_spec, "d", 2)), len(targets) > 1)
            if policy is not None
            else own
        )
        flow = ctx.rates[caller] * _edge_flow(ctx, caller, name)
        by_policy[key] = by_policy.get(key, 0.0) + flow
    if not by_policy:
        return _Split(component.dispatch, d=own[1])
    chosen = max(by_policy, key=lambda key: by_policy[key])
    names = sorted({key[0] for key in by_policy})
    mixed = tuple(names) if len(names) > 1 else ()
    alike = [key for key in by_policy if key[0] == chosen[0]]
    # Several balancers with different d, or one spreading over other targets too: no one
    # chain of this service's replicas describes them.
    shared = any(key[2] for key in alike) or len({key[1] for key in alike}) > 1
    return _Split(chosen[0], mixed, chosen[1], shared)


def _poisson_inputs(ctx: _Context) -> dict[str, bool]:
    """Whether each component's arrivals form a Poisson (product-form) stream.

    A station passes Poisson traffic on (Burke's theorem, or Kelly's for feedback) when it is
    an exponential station that releases its slot before its calls and whose replicas, if
    several, get a random split; a pure delay (a broker's publish) passes it on too, and a
    Bernoulli thinning (a fixed hit ratio, an edge's share) keeps it Poisson. The greatest
    fixed point is found by starting from True.
    """
    graph, poisson_workload = ctx.graph, ctx.spec.workload.is_poisson

    from scaleplan.kinds import kind_of

    def passes_on(name: str) -> bool:
        return kind_of(ctx.component(name).kind).passes_poisson(ctx, name)

    poisson = {name: poisson_workload for name in graph}
    passing = {name: passes_on(name) for name in graph}
    changed = True
    while changed:
        changed = False
        for name in graph:
            value = poisson_workload and all(
                poisson[caller] and passing[caller] for caller in graph.predecessors(name)
            )
            if value != poisson[name]:
                poisson[name], changed = value, True
    return poisson


# --------------------------------------------------------------------------- outcomes

#: (P(ok), E[T·1{ok}], E[T·1{failed}]) of a visit: the engine's end-to-end latency is the mean
#: over the requests that complete, so a failing request's time must be kept apart.
_Outcome = tuple[float, float, float]


def then(first: _Outcome, second: _Outcome) -> _Outcome:
    """``second`` runs only when ``first`` succeeded (independent stages)."""
    ok1, t_ok1, t_fail1 = first
    ok2, t_ok2, t_fail2 = second
    return ok1 * ok2, t_ok1 * ok2 + ok1 * t_ok2, t_fail1 + t_ok1 * (1 - ok2) + ok1 * t_fail2


def maybe(probability: float, stage: _Outcome) -> _Outcome:
    ok, t_ok, t_fail = stage
    return 1 - probability + probability * ok, probability * t_ok, probability * t_fail


def mixture(parts: Sequence[tuple[float, _Outcome]]) -> _Outcome:
    return (
        math.fsum(weight * stage[0] for weight, stage in parts),
        math.fsum(weight * stage[1] for weight, stage in parts),
        math.fsum(weight * stage[2] for weight, stage in parts),
    )


def own_stage(ctx: _Context, name: str) -> _Outcome:
    """A visit's own part: it waits at the station, then does its own work; it cannot fail."""
    return 1.0, ctx.stations[name].wait_s + ctx.component(name).own_mean_s(), 0.0


def forward_outcome(ctx: _Context, name: str, known: Mapping[str, _Outcome]) -> _Outcome:
    """A visit that does its own work, then sends on its one call when it is made (a cache's
    miss, an edge's forward): the outcome every such kind shares."""
    (call,) = ctx.flows.calls[name]
    return then(own_stage(ctx, name), maybe(call.made, known[call.target]))


def retried(stage: _Outcome, retries: RetrySpec | None) -> _Outcome:
    """A call that retries a failed attempt after a backoff, up to ``retries.max`` times.

    Attempt k+1 is made when the first k failed (probability qᵏ); a call that succeeds at
    attempt k+1 spent k failed attempts (E[T | failed] each), k backoffs and one success.
    """
    ok, t_ok, t_fail = stage
    q = 1 - ok
    if retries is None or q <= 0:
        return stage
    jitter = JITTER_MEAN[retries.jitter]
    backoffs = [
        retries.backoff_ms / 1000 * retries.multiplier ** (retry - 1) * jitter
        for retry in range(1, retries.max + 1)
    ]
    waited = [math.fsum(backoffs[:k]) for k in range(retries.max + 1)]
    most = retries.max
    full: _Outcome = (
        1 - q ** (most + 1),
        math.fsum(
            k * t_fail * q ** (k - 1) * ok + q**k * ok * waited[k] + q**k * t_ok
            for k in range(most + 1)
        ),
        (most + 1) * t_fail * q**most + q ** (most + 1) * waited[most],
    )
    wanted = retries.expected_attempts(q) - 1
    if retries.budget is None or wanted <= retries.budget:
        return full
    granted = retries.budget / wanted  # as in _retry_figures
    return mixture([(granted, full), (1 - granted, stage)])


def _outcomes(ctx: _Context, order: Sequence[str]) -> dict[str, _Outcome]:
    """Each component's visit outcome from the stations' waits, callees first."""

    from scaleplan.kinds import kind_of

    def outcome(name: str, known: dict[str, _Outcome]) -> _Outcome:
        component = ctx.component(name)
        return kind_of(component.kind).visit_outcome(ctx, name, known)

    values: dict[str, _Outcome] = {name: (1.0, 0.0, 0.0) for name in ctx.graph}
    for _ in range(MAX_PASSES):
        previous = dict(values)
        for name in order:
            values[name] = outcome(name, values)
        if all(
            all(_close(new, old) for new, old in zip(values[name], previous[name], strict=True))
            for name in ctx.graph
        ):
            break
    return values


def _class_outcomes(ctx: _Context, order: Sequence[str]) -> dict[str, _Outcome]:
    """Each request class's outcome at its entry. When some calls are made for some classes
    only, each class's outcome is folded over the calls its requests make (its own traffic's
    calls and failures; the stations' waits are the mixed traffic's)."""
    entries = ctx.spec.entries()
    classes = ctx.flows.classes
    if classes is None:
        mixed = _outcomes(ctx, order)
        return {name: mixed[entry] for name, entry, _ in entries}
    found: dict[str, _Outcome] = {}
    for name, entry, _ in entries:
        own = classes[name]
        flows = replace(ctx.flows, calls=own.calls, failure=own.failure)
        routed = replace(ctx, flows=flows, route_class=name, operated={})
        found[name] = _outcomes(routed, order)[entry]
    return found


# --------------------------------------------------------------------------- what is not modelled


def _unmodelled(spec: ArchitectureSpec) -> list[str]:
    """Features the closed forms leave out, named so nobody takes the estimate for them."""
    notes: list[str] = []
    for name, component in spec.components.items():
        shedding = getattr(component, "load_shedding", None)
        if shedding is not None:
            notes.append(
                f"{name}: load_shedding (max_wait_ms {shedding.max_wait_ms:g}) "
                "is not modelled in closed form: the figures are those without shedding"
            )
        if getattr(component, "failures", None) is not None:
            notes.append(
                f"{name}: failures (crashes and repairs) are not modelled by the queueing "
                "closed forms: the figures are those with every replica and node up"
            )
        for call in getattr(component, "calls", ()):
            policies = [
                key
                for key, value in (
                    ("timeout_ms", call.timeout_ms),
                    ("circuit_breaker", call.circuit_breaker),
                    ("bulkhead", call.bulkhead),
                )
                if value is not None
            ]
            if policies:
                notes.append(
                    f"{name} → {' | '.join(to for to, _, _ in call.targets())}: "
                    f"{', '.join(policies)} not modelled in closed form: "
                    "they act on load-dependent failures (simulate to see them); the caller "
                    "is taken to wait for the callee's full span, and retries count only "
                    "failures from error_probability"
                )
    if getattr(spec, "chaos", ()):
        notes.append(
            "chaos events are not modelled in closed form: the figures are the steady state "
            "without faults"
        )
    return notes


def _limit_warnings(ctx: _Context, name: str) -> list[str]:
    """Limits that reject or block are ignored: say so where they would bite."""
    component = ctx.component(name)
    station = ctx.stations[name]
    notes: list[str] = []
    limit = getattr(component, "queue_limit", None)
    if limit is not None and station.load > QUEUE_LIMIT_WARNING_UTILIZATION:
        notes.append(
            f"{name}: queue_limit {limit} is ignored by the closed forms at utilisation "
            f"{station.load:.2f}: rejections are not modelled"
        )
    brokers = component.broker_limits(name)
    for label, most, when_full, consumer in brokers:
        pool = ctx.stations.get(consumer)
        if most is not None and pool is not None and pool.load > QUEUE_LIMIT_WARNING_UTILIZATION:
            notes.append(
                f"{label}: max_messages {most} ({when_full} when full) is ignored by the closed "
                f"forms at {consumer}'s utilisation {pool.load:.2f}: the broker is unbounded here"
            )
    return notes


# --------------------------------------------------------------------------- the result


def _rate(spec: ArchitectureSpec, rate_per_s: float | None) -> float:
    rate = spec.workload.mean_rate_per_s if rate_per_s is None else float(rate_per_s)
    if not math.isfinite(rate) or rate < 0:
        raise ValueError(f"rate_per_s must be a finite number >= 0 (got {rate_per_s!r})")
    return rate


def _ms(seconds: float) -> float:
    return seconds * 1000.0 if math.isfinite(seconds) else math.nan


def _point(mean_ms: float, percentiles: Mapping[str, float] | None = None) -> LatencySummary:
    known = dict(percentiles or {})
    return LatencySummary(
        mean=mean_ms,
        mean_ci95=(mean_ms, mean_ms),
        p50=known.get("p50", math.nan),
        p90=known.get("p90", math.nan),
        p95=known.get("p95", math.nan),
        p99=known.get("p99", math.nan),
        p999=known.get("p999", math.nan),
    )


def _result(
    ctx: _Context,
    stations: Mapping[str, _Station],
    warnings: list[str],
    modelled: bool,
    outcomes: Mapping[str, _Outcome] | None,
    by_class: ClassWaits | None = None,
    routed: Mapping[str, Mapping[str, float]] | None = None,
) -> SimulationResult:
    spec, graph, rate = ctx.spec, ctx.graph, ctx.rate
    entries = spec.entries()
    worst = max(stations.values(), key=lambda station: station.load)
    stable = worst.load < 1.0
    queueing = [name for name in graph if graph.nodes[name]["spec"].capacity > 0]
    exact = (
        modelled
        and spec.workload.is_poisson
        and all(station.exact for station in stations.values())
    )

    def shown(seconds: float) -> float:
        return _ms(seconds) if stable else math.nan

    # Each class's span at its entry: the calls only it makes (routed) and its waits under
    # priorities move it from the entry's mixed span.
    def span_s(name: str, entry: str) -> float:
        span = stations[entry].span_s + (by_class.entry_delta_s[name] if by_class else 0.0)
        if routed is not None:
            span += routed[name][entry] - stations[entry].span_s
        return span

    # The mean latency is over the requests that complete, as the engine reports it.
    class_ms = {name: shown(span_s(name, entry)) for name, entry, _ in entries}
    completed = 1.0
    if outcomes is not None:  # per class, folded over the calls each class makes
        completed = math.fsum(share * outcomes[name][0] for name, _, share in entries)
        class_ms = {
            name: shown(
                outcomes[name][1] / outcomes[name][0]
                + (by_class.entry_delta_s[name] if by_class else 0.0)
            )
            if outcomes[name][0] > 0
            else math.nan
            for name, _, _ in entries
        }
        warnings.append(
            f"{1 - completed:.3%} of requests fail (error_probability, after retries): the "
            "end-to-end latency and throughput are those of the requests that complete"
        )
    if stable and completed > 0:
        mean_ms = math.fsum(
            share * (outcomes[name][0] / completed if outcomes else 1.0) * class_ms[name]
            for name, _, share in entries
        )
    else:
        mean_ms = math.nan
    # Priorities reorder the queues: FIFO's percentiles no longer hold there.
    fifo = by_class is None or not by_class.prioritised
    percentiles = _exact_percentiles(ctx, stations) if stable and fifo else None

    components: dict[str, ComponentResult] = {}
    for name in graph:
        component = ctx.component(name)
        station = stations[name]
        latency_s = station.span_s if station.latency_s is None else station.latency_s
        wait_s = station.wait_s if station.reported_wait_s is None else station.reported_wait_s
        components[name] = ComponentResult(
            kind=component.kind,
            utilization=station.utilization,
            mean_queue=station.mean_queue if stable else math.nan,
            throughput_per_s=station.arrival_rate,
            rejected=0,
            latency_ms=_point(shown(latency_s), percentiles),
            capacity=station.capacity if station.capacity else component.capacity,
            replicas=station.replicas,
            wait_ms=shown(wait_s),
            method=station.method,
            details=station.details,
        )
        for child in station.children:
            components[child.name] = ComponentResult(
                kind=child.kind,
                utilization=child.utilization,
                mean_queue=child.mean_queue if stable else math.nan,
                throughput_per_s=child.arrival_rate,
                rejected=0,
                latency_ms=_point(shown(child.latency_s)),
                capacity=child.capacity,
                replicas=child.replicas,
                wait_ms=shown(child.wait_s),
                method=child.method,
                details=child.details,
            )

    unstable = None
    if not stable:
        bound = " at least" if worst.lower_bound else ""
        reason = worst.unstable_reason
        if not reason:
            capacity = worst.capacity or graph.nodes[worst.name]["spec"].capacity
            reason = (
                f"{worst.name}: offered load is{bound} {worst.utilization:.3g}× its capacity "
                f"of {capacity} slots{worst.capacity_note} ({worst.arrival_rate:.4g} "
                f"arrivals/s, mean holding time {_ms(worst.holding_s):.4g} ms)"
            )
        unstable = Unstable(component=worst.name, factor=worst.load, reason=reason)
    classes = {}
    if spec.workload.classes:
        # Over the requests that complete, as the engine reports a class (and as the mean).
        classes = {name: _point(class_ms[name]) for name, _, _ in entries}

    if len(queueing) == 1:
        model = stations[queueing[0]].method
    else:
        model = f"open queueing network of {len(queueing)} stations"
    method = f"analytic: {model}; {'exact' if exact else 'approximate (see warnings)'}"
    return SimulationResult(
        spec=spec.name,
        seed=None,
        stable=stable,
        warnings=tuple(dict.fromkeys(warnings)),
        requests=RequestCounts(),
        throughput_per_s=rate * completed if stable else rate / worst.load,
        latency_ms=_point(mean_ms, percentiles),
        components=components,
        classes=classes,
        unstable=unstable,
        rate_per_s=rate,
        method=method,
    )


def _exact_percentiles(ctx: _Context, stations: Mapping[str, _Station]) -> dict[str, float] | None:
    """Response-time percentiles (ms) of a system that is one exact M/M/1 or M/M/c service.

    Load balancers without a service time may stand in front of it; every request must visit
    the station exactly once, with Poisson arrivals, exponential service, no calls and, for
    several replicas, a random split (each replica is then an M/M/c of its own).
    """
    graph = ctx.graph
    queueing = [name for name in graph if graph.nodes[name]["spec"].capacity > 0]
    if not ctx.spec.workload.is_poisson or len(queueing) != 1:
        return None
    name = queueing[0]
    component = ctx.component(name)
    if (
        not isinstance(component, ServiceSpec)
        or component.kind != "service"
        or component.discipline != "fifo"
        or component.service_time.scv != 1.0
        or component.error_probability > 0
        or any(call.to is not None and call.probability > 0 for call in component.calls)
        or not stations[name].exact
        or not math.isclose(ctx.flows.visits[name], 1.0, rel_tol=1e-12)
    ):
        return None
    mu = 1.0 / component.service_time.mean_s
    lam = ctx.rate / stations[name].replicas
    slots = component.concurrency
    if slots == 1:
        return {key: 1000.0 * mm1_response_quantile(lam, mu, q) for key, q in PERCENTILES.items()}
    return {
        key: 1000.0 * mmc_response_quantile(lam, mu, slots, q) for key, q in PERCENTILES.items()
    }
