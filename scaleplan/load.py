"""Traffic and offered load: the visits each station gets, and the one overload formula.

Two questions are answered here, once, for every stage that asks them (``validate``, the
engine's pre-run check, the explorer through it, and the analytic estimate and bottleneck
bound):

- **traffic**: how many visits each component gets per arriving request, with the engine's
  semantics of failure (a visit whose own service fails makes none of its calls, a failed call
  ends a sequence, retries and redeliveries add attempts) and a TTL cache's miss ratio at its own
  arrival rate (:func:`solve_flows`). The linear traffic equations are solved by the graph's one
  solver, :func:`scaleplan.graph.solve_visits`;
- **offered load per station** (:func:`station_loads`): arrivals × mean slot-holding time /
  servers, for each queue that really forms. A service, worker pool, cache, edge or balancer
  with a service time is one station (its replicas share its arrivals equally under every
  policy: a weighted balancer weights its *targets*, each target's replicas alike); a database
  is one station per node of each shard, with the shard's share of the key popularity and the
  read/write mix each node receives (writes to the primary, reads by ``read_policy``), so a hot
  shard's primary saturates while the database's average is low. A slot held during calls is
  held at least for the callees' spans without any queueing; a parallel join at least for the
  longest expected branch. Every figure is therefore a lower bound on the true utilisation, and
  a station at 1 or more is overloaded for certain: the refusal before a run rests on it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import networkx as nx
import numpy as np

from scaleplan.graph import ENTRY_WEIGHT, build_graph, solve_visits, visit_ratios
from scaleplan.kinds import kind_of
from scaleplan.result import Unstable
from scaleplan.spec import (
    ArchitectureSpec,
    CacheSpec,
    ComponentSpec,
    QueueSpec,
    RetrySpec,
    SubscriptionSpec,
)
from scaleplan.spec.components import expected_queue_attempts, for_class, routes_by_class

__all__ = [
    "Call",
    "Flows",
    "StationLoad",
    "check_stability",
    "max_rate",
    "offered_loads",
    "overload_warnings",
    "solve_flows",
    "station_loads",
]

#: Passes of a fixed-point iteration for graphs with call cycles (a DAG needs two).
MAX_PASSES = 500
#: Relative change in every value below which an iteration has converged.
TOLERANCE = 1e-12
#: Mean of the jitter factor applied to a retry's backoff (full: U(0, 1); equal: U(½, 1)).
JITTER_MEAN = {"full": 0.5, "equal": 0.75, "none": 1.0}


# --------------------------------------------------------------------------- traffic


@dataclass(frozen=True)
class Call:
    """One way a visit sends work on: a call, a forward, a miss or a delivery."""

    target: str
    made: float  # probability per visit that it is made at all
    probability: float  # its probability once the visit's own service succeeded (joins)
    attempts: float  # expected attempts per call made (retries, redeliveries)
    backoff_s: float  # expected time between attempts per call made
    asynchronous: bool  # the caller does not wait for it (a broker's consumer)
    operation: str | None = None  # "read" / "write" on a database; None: its read_ratio draws


@dataclass
class ClassFlows:
    """One request class's traffic when calls are made for some classes only: its calls per
    visit, failure probabilities and visits per request of the class."""

    calls: dict[str, list[Call]]
    failure: dict[str, float]
    visits: dict[str, float]


@dataclass
class Flows:
    """The traffic: calls per visit, failure probabilities, miss ratios and visit ratios."""

    calls: dict[str, list[Call]]
    failure: dict[str, float]
    miss: dict[str, float]
    visits: dict[str, float]
    notes: list[str]
    # Per class, when some call is made for some classes only (None: every class routes alike).
    classes: dict[str, ClassFlows] | None = None
    # A database's share of reads when calls name their operation (the others draw theirs).
    read_ratio: dict[str, float] = field(default_factory=dict)


def solve_flows(
    spec: ArchitectureSpec, graph: nx.DiGraph, order: Sequence[str], rate: float
) -> Flows:
    """Solve failures, miss ratios and visit ratios together (TTL misses depend on the rate)."""
    caches = {
        name: component
        for name, component in spec.components.items()
        if isinstance(component, CacheSpec)
    }
    known: dict[str, tuple[float, float]] = {}

    def miss_ratio(name: str, cache: CacheSpec, visits: float) -> float:
        if cache.ttl_s is None:
            # Without a TTL the miss ratio does not depend on the rate, and the graph already
            # holds it (Che's figure for LRU is costly over many keys): a cache's edge to its
            # backing carries exactly its miss ratio.
            return float(graph.edges[name, cache.backing]["visits"])
        arrivals = rate * visits
        if name not in known or not close(arrivals, known[name][0]):
            known[name] = (arrivals, cache.che_miss_ratio(arrivals))
        return known[name][1]

    visits = visit_ratios(graph)
    notes: list[str] = []
    by_class: dict[str, ClassFlows] | None = None
    for _ in range(MAX_PASSES):
        miss = {name: miss_ratio(name, cache, visits[name]) for name, cache in caches.items()}
        if routes_by_class(spec.components) and spec.workload.classes:
            by_class, notes = _class_flows(spec, graph, order, miss)
            calls, failure, solved = _mixed(spec, graph, by_class)
        else:
            calls, failure, notes = _failures(spec, order, miss)
            solved = _solve_visits(graph, calls)
        if solved is None:
            notes = [
                *notes,
                "the failure-adjusted traffic equations have no finite solution; "
                "visit ratios taken from the graph (approximation)",
            ]
            break
        converged = all(close(solved[name], visits[name]) for name in graph)
        visits = solved
        if converged:
            break
    flows = Flows(calls, failure, miss, visits, notes, by_class)
    flows.read_ratio = _read_ratios(spec, graph, flows)
    return flows


def _class_flows(
    spec: ArchitectureSpec, graph: nx.DiGraph, order: Sequence[str], miss: Mapping[str, float]
) -> tuple[dict[str, ClassFlows], list[str]]:
    """Each class's traffic on its own: the calls its requests make (the others' calls made
    with probability 0, so every class's call lists keep the same positions), the failures
    that follow, and its visits per request entering at its entry."""
    names = list(graph)
    index = {name: position for position, name in enumerate(names)}
    found: dict[str, ClassFlows] = {}
    notes: list[str] = []
    for class_name, entry, _ in spec.entries():
        calls, failure, notes = _failures(spec, order, miss, class_name)
        transfer = np.zeros((len(names), len(names)))
        for source in names:
            for call in calls[source]:
                transfer[index[source], index[call.target]] += call.made * call.attempts
        arrivals = np.zeros(len(names))
        arrivals[index[entry]] = 1.0
        visits = solve_visits(names, transfer, arrivals)
        if visits is None:
            visits = {name: math.inf for name in names}
        found[class_name] = ClassFlows(calls, failure, visits)
    return found, notes


def _mixed(
    spec: ArchitectureSpec, graph: nx.DiGraph, by_class: Mapping[str, ClassFlows]
) -> tuple[dict[str, list[Call]], dict[str, float], dict[str, float] | None]:
    """The classes' traffic as one: visits summed by the classes' shares, and at each
    component the calls and failure probability of the visits that reach it, weighted by
    each class's visits there (so the summed visits solve the mixed traffic equations)."""
    shares = {class_name: share for class_name, _, share in spec.entries()}
    visits = {
        name: math.fsum(shares[c] * flows.visits[name] for c, flows in by_class.items())
        for name in graph
    }
    if not all(math.isfinite(value) for value in visits.values()):
        return next(iter(by_class.values())).calls, next(iter(by_class.values())).failure, None
    calls: dict[str, list[Call]] = {}
    failure: dict[str, float] = {}
    for name in graph:
        weights = [(shares[c] * flows.visits[name], flows) for c, flows in by_class.items()]
        total = math.fsum(w for w, _ in weights)
        if total <= 0:  # no class reaches it: any class's figures will do
            weights, total = [(1.0, flows) for flows in by_class.values()], float(len(by_class))
        failure[name] = math.fsum(w * flows.failure[name] for w, flows in weights) / total
        mixed: list[Call] = []
        for position, first in enumerate(weights[0][1].calls[name]):
            parts = [(w, flows.calls[name][position]) for w, flows in weights]
            made = math.fsum(w * call.made for w, call in parts)
            # Attempts and backoff are per call made: weighted by the calls each class makes.
            carried = [(w * call.made, call) for w, call in parts]
            calls_made = math.fsum(m for m, _ in carried)
            if calls_made > 0:
                attempts = math.fsum(m * call.attempts for m, call in carried) / calls_made
                backoff = math.fsum(m * call.backoff_s for m, call in carried) / calls_made
            else:
                attempts, backoff = first.attempts, first.backoff_s
            mixed.append(
                Call(
                    first.target,
                    made / total,
                    math.fsum(w * call.probability for w, call in parts) / total,
                    attempts,
                    backoff,
                    first.asynchronous,
                    first.operation,
                )
            )
        calls[name] = mixed
    return calls, failure, visits


def _read_ratios(spec: ArchitectureSpec, graph: nx.DiGraph, flows: Flows) -> dict[str, float]:
    """The share of reads at each database that a call with an ``operation`` reaches: the
    named operations count as they are, every other visit draws from its read_ratio."""
    named: dict[str, list[float]] = {}  # database → [reads, writes] per request, named
    for source, calls in flows.calls.items():
        for call in calls:
            if call.operation is None:
                continue
            counts = named.setdefault(call.target, [0.0, 0.0])
            visits = flows.visits[source] * call.made * call.attempts
            counts[0 if call.operation == "read" else 1] += visits
    ratios: dict[str, float] = {}
    for name, (reads, writes) in named.items():
        total = flows.visits[name]
        if not total > 0 or not math.isfinite(total):
            continue
        drawn = max(total - reads - writes, 0.0)
        ratio = getattr(spec.components[name], "read_ratio", 1.0)
        ratios[name] = min(1.0, max(0.0, (reads + drawn * ratio) / total))
    return ratios


def operated(component: ComponentSpec, name: str, flows: Flows) -> ComponentSpec:
    """The database as the calls that name their operation load it (its read_ratio the
    share of reads it receives); any other component unchanged."""
    ratio = flows.read_ratio.get(name)
    if ratio is None:
        return component
    return component.model_copy(update={"read_ratio": ratio})


def _failures(
    spec: ArchitectureSpec,
    order: Sequence[str],
    miss: Mapping[str, float],
    class_name: str | None = None,
) -> tuple[dict[str, list[Call]], dict[str, float], list[str]]:
    """Each component's calls and the probability that a visit to it fails, callees first
    (for the requests of ``class_name`` only, when given)."""
    failure = {name: 0.0 for name in order}
    calls: dict[str, list[Call]] = {}
    notes: dict[str, str] = {}
    components = {
        name: spec.components[name]
        if class_name is None
        else for_class(spec.components[name], class_name)
        for name in order
    }
    for _ in range(MAX_PASSES):
        previous = dict(failure)
        for name in order:
            calls[name], failure[name] = _component_calls(
                name, components[name], failure, miss.get(name, 0.0), notes
            )
        if all(close(failure[name], previous[name]) for name in order):
            break
    return calls, failure, list(notes.values())


def _component_calls(
    name: str,
    component: ComponentSpec,
    failure: Mapping[str, float],
    miss: float,
    notes: dict[str, str],
) -> tuple[list[Call], float]:
    """How the component's kind turns one visit into calls, and how likely the visit fails."""
    return kind_of(component.kind).transform_traffic(name, component, failure, miss, notes)


def delivery(
    consumer: str, broker: QueueSpec | SubscriptionSpec, failure: Mapping[str, float]
) -> Call:
    """A broker's delivery of one message: redelivered after a failure up to max_retries."""
    q = failure[consumer]
    attempts = expected_queue_attempts(q, broker.max_retries)
    backoff_s = math.fsum(
        q**retry * broker.retry_backoff_ms / 1000 * 2 ** (retry - 1)
        for retry in range(1, broker.max_retries + 1)
    )
    return Call(consumer, 1.0, 1.0, attempts, backoff_s, True)


def retry_figures(
    retries: RetrySpec | None, q: float, label: str, notes: dict[str, str]
) -> tuple[float, float, float]:
    """(attempts per call, probability the call finally fails, expected backoff in s)."""
    if retries is None or q <= 0:
        return 1.0, q, 0.0
    attempts = retries.expected_attempts(q)
    final = q ** (retries.max + 1)
    jitter = JITTER_MEAN[retries.jitter]
    backoff_s = math.fsum(
        q**retry * retries.backoff_ms / 1000 * retries.multiplier ** (retry - 1) * jitter
        for retry in range(1, retries.max + 1)
    )
    budget = retries.budget
    if budget is not None and attempts - 1 > budget:
        # The bucket refills at `budget` retries per call: in the long run only that share of
        # the retries wanted is made. Taken as whole retry sequences for a fraction of calls.
        granted = budget / (attempts - 1)
        notes[label] = (
            f"{label}: the retry budget {budget:g} binds ({attempts - 1:.3g} retries per call "
            f"wanted): taken as {granted:.1%} of calls retrying fully, the rest not at all "
            "(approximation)"
        )
        attempts = 1 + budget
        final = q - granted * (q - final)
        backoff_s *= granted
    return attempts, final, backoff_s


def _solve_visits(graph: nx.DiGraph, calls: Mapping[str, list[Call]]) -> dict[str, float] | None:
    """The graph's traffic solver with P from the calls made per visit (None if infinite)."""
    names = list(graph)
    index = {name: position for position, name in enumerate(names)}
    transfer = np.zeros((len(names), len(names)))
    for source in names:
        for call in calls[source]:
            transfer[index[source], index[call.target]] += call.made * call.attempts
    arrivals = np.array([graph.nodes[name][ENTRY_WEIGHT] for name in names])
    return solve_visits(names, transfer, arrivals)


def evaluation_order(graph: nx.DiGraph) -> tuple[list[str], list[list[str]]]:
    """Callees before callers (reverse topological order), and the members of each cycle."""
    condensed = nx.condensation(graph)
    order: list[str] = []
    cycles: list[list[str]] = []
    for node in reversed(list(nx.topological_sort(condensed))):
        members = sorted(condensed.nodes[node]["members"])
        order.extend(members)
        if len(members) > 1 or graph.has_edge(members[0], members[0]):
            cycles.append(members)
    return order, cycles


def close(new: float, old: float) -> bool:
    if math.isinf(new) or math.isinf(old):
        return new == old
    return abs(new - old) <= TOLERANCE * max(abs(new), abs(old), 1e-300)


def edge_flow(flows: Flows, source: str, target: str) -> float:
    """Expected visits to ``target`` per visit to ``source``."""
    return math.fsum(
        call.made * call.attempts for call in flows.calls[source] if call.target == target
    )


def own_mean_s(component: ComponentSpec) -> float:
    """Mean seconds of a visit's own work (a database's read/write mix, a broker's publish)."""
    return component.own_mean_s()


def low_load_spans(
    spec: ArchitectureSpec, graph: nx.DiGraph, flows: Flows, order: Sequence[str]
) -> dict[str, float]:
    """What a caller waits for each component with no queueing anywhere: its own work plus
    its synchronous calls (attempts × span + backoff; a parallel join at least its longest
    expected branch), callees first, iterated to the fixed point round call cycles."""
    spans = {name: 0.0 for name in graph}
    for _ in range(MAX_PASSES):
        previous = dict(spans)
        for name in order:
            spans[name] = own_mean_s(operated(spec.components[name], name, flows)) + (
                calls_lower_bound_s(spec.components[name], flows.calls[name], spans)
            )
        if all(close(spans[name], previous[name]) for name in graph):
            break
    return spans


def calls_lower_bound_s(
    component: ComponentSpec, calls: Sequence[Call], spans: Mapping[str, float]
) -> float:
    """A lower bound on the time a visit waits for its calls, given the callees' spans.

    Sequential calls (and a balancer's single forward) cost the sum of made × (attempts ×
    span + backoff); a parallel join costs at least the largest such term, since the maximum
    of the branches is at least each of them.
    """
    terms = [
        call.made * (call.attempts * spans[call.target] + call.backoff_s)
        for call in calls
        if not call.asynchronous and call.made > 0
    ]
    if not terms:
        return 0.0
    return max(terms) if getattr(component, "parallel", False) else sum(terms)


def holding_lower_bound_s(
    spec: ArchitectureSpec, flows: Flows, spans: Mapping[str, float]
) -> dict[str, float]:
    """A lower bound on the seconds a visit holds one of the component's slots: its own
    service, plus its calls' low-load spans when it holds the slot during them."""
    holding: dict[str, float] = {}
    for name, component in spec.components.items():
        held = own_mean_s(operated(component, name, flows))
        if getattr(component, "hold_during_calls", False):
            held += calls_lower_bound_s(component, flows.calls[name], spans)
        holding[name] = held
    return holding


# --------------------------------------------------------------------------- offered load


@dataclass(frozen=True)
class StationLoad:
    """The offered load of one station: a component, or one node of a database shard."""

    component: str
    part: str  # "" for the component itself, else e.g. "shard-0 primary"
    arrival_rate: float  # visits per second reaching this station
    holding_s: float  # mean seconds a visit holds a slot here (a lower bound)
    servers: int  # slots serving this station's queue
    bounded: bool  # a queue_limit makes overload a loss, not a growing queue

    @property
    def load(self) -> float:
        """Offered load over capacity: λ·S / servers (a lower bound on the utilisation)."""
        if self.servers == 0 or self.arrival_rate == 0:
            return 0.0
        return self.arrival_rate * self.holding_s / self.servers

    @property
    def name(self) -> str:
        """``api``, or ``orders-db/shard-0 primary`` for a database node."""
        return f"{self.component}/{self.part}" if self.part else self.component

    def reason(self, rate_per_s: float) -> str:
        """Why the station cannot carry ``rate_per_s``, naming it (for :class:`Unstable`)."""
        where = f" at its {self.part}" if self.part else ""
        return (
            f"offered load{where} is {self.load:.2f}× its capacity of {self.servers} slots "
            f"at {rate_per_s:g} requests/s ({self.arrival_rate:.4g} arrivals/s, mean holding "
            f"time {self.holding_s * 1000:.4g} ms)"
        )


@dataclass(frozen=True)
class Traffic:
    """The traffic of a spec at one rate, as every station-load question needs it."""

    graph: nx.DiGraph
    order: list[str]
    cycles: list[list[str]]
    flows: Flows
    spans: dict[str, float]  # low-load spans
    holding: dict[str, float]  # slot-holding lower bounds


def traffic(spec: ArchitectureSpec, graph: nx.DiGraph | None, rate_per_s: float) -> Traffic:
    """Solve the spec's traffic at ``rate_per_s`` (the rate matters only to TTL caches)."""
    graph = build_graph(spec) if graph is None else graph
    order, cycles = evaluation_order(graph)
    flows = solve_flows(spec, graph, order, rate_per_s)
    spans = low_load_spans(spec, graph, flows, order)
    return Traffic(graph, order, cycles, flows, spans, holding_lower_bound_s(spec, flows, spans))


def station_loads(
    spec: ArchitectureSpec,
    graph: nx.DiGraph | None,
    rate_per_s: float,
    solved: Traffic | None = None,
) -> list[StationLoad]:
    """The offered load of every station at ``rate_per_s``: the one overload formula.

    An autoscaled component is judged at its ``max_replicas``. Components that hold no slots
    (a balancer without a service time, a queue, a topic) have no station.
    """
    solved = traffic(spec, graph, rate_per_s) if solved is None else solved
    found: list[StationLoad] = []
    for name in solved.graph:
        component: ComponentSpec = operated(spec.components[name], name, solved.flows)
        arrivals = rate_per_s * solved.flows.visits[name]
        found.extend(
            kind_of(component.kind).station_loads(name, component, arrivals, solved.holding[name])
        )
    return found


def busiest(loads: Sequence[StationLoad]) -> StationLoad | None:
    """The station with the highest load (the first one in order among equals)."""
    best: StationLoad | None = None
    for station in loads:
        if best is None or station.load > best.load:
            best = station
    return best


def offered_loads(
    spec: ArchitectureSpec, graph: nx.DiGraph | None, rate_per_s: float
) -> dict[str, float]:
    """Each component's load at its busiest station (0 for one that holds no slots)."""
    graph = build_graph(spec) if graph is None else graph
    loads = {name: 0.0 for name in graph}
    for station in station_loads(spec, graph, rate_per_s):
        loads[station.component] = max(loads[station.component], station.load)
    return loads


def check_stability(
    spec: ArchitectureSpec, graph: nx.DiGraph | None, rate_per_s: float
) -> Unstable | None:
    """The station whose queue would grow without bound at ``rate_per_s``, if any: a
    configuration flagged here is unstable for certain (every load is a lower bound).

    A component with a ``queue_limit`` is a loss system, stable at any load: its overload is
    reported by :func:`overload_warnings` instead.
    """
    worst = busiest(
        [station for station in station_loads(spec, graph, rate_per_s) if not station.bounded]
    )
    if worst is None or worst.load < 1.0:
        return None
    return Unstable(component=worst.component, factor=worst.load, reason=worst.reason(rate_per_s))


def with_mix(spec: ArchitectureSpec, mix: Mapping[str, float] | None) -> ArchitectureSpec:
    """``spec`` with its classes weighted by a profile phase's ``mix`` (a class left out gets
    none), for the load formula only: a weight of 0 is what the phase means, though a spec file
    may not say it, so the copy is made without validation and never simulated."""
    if not mix or not spec.workload.classes:
        return spec
    classes = tuple(
        cls.model_copy(update={"weight": float(mix.get(cls.name, 0.0))})
        for cls in spec.workload.classes
    )
    workload = spec.workload.model_copy(update={"classes": classes})
    return spec.model_copy(update={"workload": workload})


def held_steady(spec: ArchitectureSpec) -> ArchitectureSpec:
    """``spec`` with a diurnal arrival process replaced by Poisson arrivals at its rate, for a
    run that measures the steady state at a given rate: a run of a few thousand requests
    covers only the first minutes of a day (its night, at a fraction of the rate), so the
    curve's shape would decide what was measured. The busiest slice held steady is the
    peak's case; bursty and trace arrivals keep their process (a run covers many bursts)."""
    if spec.workload.arrival != "diurnal":
        return spec
    return spec.with_changes({"workload.arrival": "poisson", "workload.diurnal": None})


def runs_through_profile(
    spec: ArchitectureSpec, rate_per_s: float | None, requests: int | None
) -> bool:
    """Whether a run of ``spec`` lasts its load profile's time (``arrival: profile``, neither
    its rate nor its requests overridden): then an overload builds a finite backlog, which
    the run shows, rather than a queue that grows without bound."""
    workload = spec.workload
    return (
        workload.arrival == "profile"
        and workload.profile is not None
        and rate_per_s is None
        and requests is None
        and workload.time_bound_s is not None
    )


def profile_overload_warnings(spec: ArchitectureSpec, graph: nx.DiGraph | None) -> list[str]:
    """What a run through ``spec``'s load profile (``arrival: profile``, for its phases' time)
    is told instead of a refusal: a station offered more than its capacity at the profile's
    peak (with that phase's class mix) builds a backlog the run shows, and whether it drains;
    over capacity on average, it cannot drain before the profile ends. Bounded queues
    (``queue_limit``) reject instead, as :func:`overload_warnings` says."""
    profile = spec.workload.profile
    base = spec.workload.rate_per_s
    if profile is None or base is None or not base > 0:
        return []
    warnings = []
    index = profile.peak_phase()
    top = float(base) * profile.max_factor
    at_peak = check_stability(with_mix(spec, profile.phases[index].mix), None, top)
    if at_peak is not None:
        warnings.append(
            f"{at_peak.component}: offered load is {at_peak.factor:.2f}× its capacity at the "
            f"load profile's peak (phase {profile.labels()[index]}, {top:,.4g} requests/s): a "
            "backlog builds there; the run shows it and whether it drains"
        )
    mean = spec.workload.mean_rate_per_s
    on_average = check_stability(spec, graph, mean)
    if on_average is not None:
        warnings.append(
            f"{on_average.component}: offered load is {on_average.factor:.2f}× its capacity "
            f"on average over the profile ({mean:,.4g} requests/s): its backlog cannot drain "
            "before the profile ends"
        )
    return warnings


def overload_warnings(
    spec: ArchitectureSpec, graph: nx.DiGraph | None, rate_per_s: float
) -> list[str]:
    """What the pre-run check says of a run it lets start but cannot call stable.

    Stations with a queue limit offered more than their capacity will reject. And where the
    certain bounds stay below 1 but the analytic estimate, whose holding times include the
    queueing at the callees (the method of surrogate delays), puts a station at or over its
    capacity, the run is started with that said: the pre-run check never calls stable what
    the estimate calls overloaded.
    """
    from scaleplan.analytic import estimate

    stations = station_loads(spec, graph, rate_per_s)
    warnings = [
        f"{station.name}: offered load is {station.load:.2f}× its capacity; its queue_limit "
        f"bounds the queue, so at least {1 - 1 / station.load:.0%} of its requests will be "
        "rejected"
        for station in stations
        if station.bounded and station.load >= 1.0
    ]
    certain = any(station.load >= 1.0 for station in stations if not station.bounded)
    estimated = estimate(spec, rate_per_s=rate_per_s)
    if not certain and estimated.unstable is not None:
        warnings.append(
            f"{estimated.unstable.component}: the analytic estimate puts it at "
            f"{estimated.unstable.factor:.2f}× its capacity ({estimated.unstable.reason}); "
            "that figure rests on approximations, so the run goes ahead, but it may never "
            "reach a steady state"
        )
    return warnings


def max_rate(
    spec: ArchitectureSpec, graph: nx.DiGraph | None, rate_per_s: float
) -> tuple[float, StationLoad | None]:
    """The bottleneck bound: the rate at which the busiest station's load reaches 1, with
    that station (``inf`` and None when no station holds a slot). Loads are proportional to
    the rate except through a TTL cache's miss ratio, taken at ``rate_per_s``."""
    worst = busiest(station_loads(spec, graph, rate_per_s))
    if worst is None or worst.load <= 0:
        return math.inf, worst
    return rate_per_s / worst.load, worst
