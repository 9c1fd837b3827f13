"""The estimate of a closed workload: an architecture as a closed network, solved by MVA.

Each station of the one overload formula (:func:`scaleplan.load.station_loads`, at one request
per second: its visits per request and its mean slot-holding time) becomes an MVA station of
demand visits × holding time and its slots as servers; the users' think time is the delay
station. :mod:`scaleplan.analytic.mva` solves it: exactly (Reiser–Lavenberg, load-dependent
for several slots) when every class has the same demands; by exact multi-class MVA when the
classes differ and every station has one slot (up to :data:`EXACT_VECTORS` population
vectors); by Schweitzer–Bard otherwise or for very many users.

The figures are exact for a product-form network: every station a service of one replica
whose slots share one queue, FIFO with exponential service or processor sharing with any,
no calls held during (a slot held while its calls are out is not product form), no failures,
limits, priorities, resilience policies or autoscaling, and load balancers that split at
random. Otherwise the estimate is an approximation and says why in its warnings, as the open
estimate does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import networkx as nx

from scaleplan.analytic.mva import (
    MvaSolution,
    MvaStation,
    exact_multiclass,
    exact_mva,
    schweitzer_multiclass,
)
from scaleplan.graph import ENTRY_WEIGHT, build_graph
from scaleplan.load import StationLoad, station_loads
from scaleplan.result import (
    ComponentResult,
    LatencySummary,
    RequestCounts,
    SimulationResult,
    Unstable,
)
from scaleplan.spec import ArchitectureSpec, LoadBalancerSpec, ServiceSpec

#: The most users solved by the exact recursion (O(N) per single-server station, O(N²) per
#: multi-server one); beyond it Schweitzer–Bard, whose error shrinks as N grows.
EXACT_USERS = 2_000
EXACT_USERS_MULTI_SERVER = 400
#: The most population vectors (∏ (N_c + 1)) the exact multi-class recursion visits.
EXACT_VECTORS = 20_000


@dataclass(frozen=True)
class _Network:
    """A spec as a closed network: per class its stations' demands (seconds per request)."""

    stations: list[StationLoad]  # at one request per second of the whole mix
    demands: list[dict[str, float]]  # per class: station name → demand
    servers: dict[str, int]
    visits: list[dict[str, float]]  # per class: component → visits per request
    graph: nx.DiGraph
    # Stations no user waits for (reached only through a queue or a topic): fed at the users'
    # rate, outside the closed network; per class their demands.
    detached: list[StationLoad]
    detached_demands: list[dict[str, float]]


def _waited_for(graph: nx.DiGraph) -> set[str]:
    """The components a request's answer waits for: reachable from an entry by calls, not
    through a broker's asynchronous delivery."""
    synchronous = nx.DiGraph()
    synchronous.add_nodes_from(graph)
    synchronous.add_edges_from(
        (a, b) for a, b, data in graph.edges(data=True) if not data["asynchronous"]
    )
    entries = [name for name in graph if graph.nodes[name][ENTRY_WEIGHT] > 0]
    reached = set(entries)
    for entry in entries:
        reached |= nx.descendants(synchronous, entry)
    return reached


def _network(spec: ArchitectureSpec, graph: nx.DiGraph | None = None) -> _Network:
    graph = build_graph(spec) if graph is None else graph
    waited = _waited_for(graph)
    everything = station_loads(spec, graph, 1.0)
    stations = [station for station in everything if station.component in waited]
    detached = [station for station in everything if station.component not in waited]
    servers = {station.name: station.servers for station in stations}
    demands, detached_demands, visits = [], [], []
    specs = _one_class_specs(spec)
    for one in specs:
        # The graph carries the entries' weights: each class's own.
        own_graph = graph if len(specs) == 1 else _entered_at(graph, one.entries()[0][1])
        own = {s.name: s.arrival_rate * s.holding_s for s in station_loads(one, own_graph, 1.0)}
        demands.append({name: own.get(name, 0.0) for name in servers})
        detached_demands.append({s.name: own.get(s.name, 0.0) for s in detached})
        visits.append(_component_visits(one, own_graph))
    return _Network(stations, demands, servers, visits, graph, detached, detached_demands)


def _one_class_specs(spec: ArchitectureSpec) -> list[ArchitectureSpec]:
    """The spec once per request class, with that class alone (its visits and demands)."""
    classes = spec.workload.classes
    if len(classes) <= 1:
        return [spec]
    specs = []
    for cls in classes:
        workload = spec.workload.model_copy(
            update={"classes": (cls.model_copy(update={"weight": 1.0}),)}
        )
        specs.append(spec.model_copy(update={"workload": workload}))
    return specs


def _entered_at(graph: nx.DiGraph, entry: str) -> nx.DiGraph:
    """The graph with every request entering at ``entry`` (the traffic solver reads the
    entries' weights from the graph)."""
    alone = graph.copy()
    for name in alone:
        alone.nodes[name][ENTRY_WEIGHT] = 1.0 if name == entry else 0.0
    return alone


def _visits_from(spec: ArchitectureSpec, graph: nx.DiGraph, name: str) -> dict[str, float]:
    """The visits one visit to ``name`` makes to every component (itself included)."""
    return _component_visits(spec, _entered_at(graph, name))


def _component_visits(spec: ArchitectureSpec, graph: nx.DiGraph) -> dict[str, float]:
    from scaleplan.load import traffic

    return dict(traffic(spec, graph, 1.0).flows.visits)


def rough_throughput(spec: ArchitectureSpec, graph: nx.DiGraph | None = None) -> float:
    """Requests per second a closed spec about carries (Schweitzer–Bard on every class
    together): what sizes a run of it. Raises when it would be infinite."""
    from scaleplan.errors import SimulationError

    network = _network(spec, graph)
    workload = spec.workload
    users = workload.class_users()
    think = workload.think_time_s
    demands = [
        {k: value for k, value in network.demands[c].items()}
        for c, count in enumerate(users)
        if count > 0
    ]
    if think <= 0 and not any(value > 0 for demand in demands for value in demand.values()):
        raise SimulationError(
            f"{spec.name}: workload: {workload.total_users} users without think time, whose "
            "requests take no time anywhere, would send infinitely many requests at once: "
            "give workload.think_time"
        )
    solutions = schweitzer_multiclass(
        demands, dict(network.servers), [think] * len(demands), [c for c in users if c > 0]
    )
    # A mixed workload's open classes add their own rate (their load is not subtracted here:
    # only the run's size depends on this figure).
    return math.fsum(s.throughput_per_s for s in solutions) + math.fsum(workload.open_rates())


def _not_product_form(spec: ArchitectureSpec, waited: set[str]) -> list[str]:
    """Why the network of the components the users wait for is not product form (empty:
    MVA is exact)."""
    reasons: list[str] = []
    if spec.class_priorities() is not None:
        reasons.append("the classes have different priorities")
    for name, component in spec.components.items():
        if name not in waited:
            continue
        kind = component.kind
        if isinstance(component, LoadBalancerSpec):
            time = component.service_time
            if time is not None and time.scv != 1.0:
                reasons.append(f"{name}: a FIFO service time that is not exponential")
            if component.policy != "random" and len(component.to) > 1:
                reasons.append(
                    f"{name}: policy {component.policy!r} does not split at random (MVA "
                    "takes its split as random)"
                )
            continue
        if not isinstance(component, ServiceSpec) or kind != "service":
            reasons.append(f"{name}: a {kind} (its holding time is taken as a mean demand)")
            continue
        discipline = getattr(component, "discipline", "fifo")
        if discipline == "lifo":
            reasons.append(f"{name}: discipline lifo (taken as fifo)")
        if discipline != "ps" and component.service_time.scv != 1.0:
            reasons.append(
                f"{name}: a {discipline} service whose service time is not exponential "
                f"(cv {math.sqrt(component.service_time.scv):.2g}); MVA uses its mean"
            )
        if getattr(component, "admission_limit", None) is not None:
            reasons.append(f"{name}: admission_limit (taken as unlimited)")
        if component.replicas > 1 or component.autoscale is not None:
            reasons.append(
                f"{name}: {component.replicas} replicas, each with a queue of its own (MVA "
                "takes them as one queue of all their slots: optimistic)"
            )
        if component.calls and component.hold_during_calls:
            reasons.append(
                f"{name}: its slot is held while its calls are out (the holding time includes "
                "the callees' spans without their queueing)"
            )
        for label in ("queue_limit", "load_shedding", "failures"):
            if getattr(component, label, None) is not None:
                reasons.append(f"{name}: {label} is not modelled")
        if component.error_probability > 0:
            reasons.append(f"{name}: error_probability (failed requests taken as served)")
        if any(
            call.timeout_ms is not None
            or call.retries is not None
            or call.circuit_breaker is not None
            or call.bulkhead is not None
            for call in component.calls
        ):
            reasons.append(f"{name}: call resilience policies are not modelled")
    if spec.chaos:
        reasons.append("chaos events are not modelled")
    return reasons


def closed_estimate(spec: ArchitectureSpec) -> SimulationResult:
    """The steady state of a closed spec by Mean Value Analysis (the analytic referee of a
    closed run): throughput, mean response time (think time excluded), per class and per
    component. Percentiles are not given (MVA gives means).

    A mixed workload's open classes (Lazowska et al. 1984, §7.4) take their utilisation U_o
    off every queueing station first: the classes of users see each station's demand
    inflated by 1 / (1 − U_o), and an open class's residence there is
    D_o (1 + Q_users) / (1 − U_o), Q_users the users' requests present."""
    network = _network(spec)
    waited = _waited_for(network.graph)
    warnings = [f"approximation: {reason}" for reason in _not_product_form(spec, waited)]
    open_load = _open_loads(spec, network)
    overload = _open_overload(spec, network, open_load)
    if overload is not None:
        return _overloaded(spec, overload, warnings)
    solutions, how = _solve(spec, network, open_load, warnings)
    return _result(spec, network, solutions, warnings, how)


def _solve(
    spec: ArchitectureSpec,
    network: _Network,
    open_load: dict[str, float],
    warnings: list[str],
) -> tuple[list[MvaSolution], str]:
    """Every class's solution, in the order of the classes, and how it was found."""
    workload = spec.workload
    users = workload.class_users()
    rates = workload.open_rates()
    think = workload.think_time_s
    servers = network.servers
    inflation = {k: 1.0 / (1.0 - open_load.get(k, 0.0)) for k in servers}
    closed = [c for c, count in enumerate(users) if count > 0]
    demands = [{k: network.demands[c].get(k, 0.0) * inflation[k] for k in servers} for c in closed]
    counts = [users[c] for c in closed]
    same = all(demand == demands[0] for demand in demands)
    total = sum(counts)
    multi_server = any(count > 1 for count in servers.values())
    most = EXACT_USERS_MULTI_SERVER if multi_server else EXACT_USERS
    solved: list[MvaSolution]
    if same and total <= most:
        stations = [MvaStation(k, demands[0][k], servers[k]) for k in servers]
        one = exact_mva(stations, think, total)[-1]
        # Users are exchangeable: each class has its share of the throughput.
        solved = [_share(one, count / total) for count in counts]
        how = "exact MVA"
    elif not same and not multi_server and _vectors(counts) <= EXACT_VECTORS:
        solved = exact_multiclass(demands, dict(servers), [think] * len(counts), counts)
        how = "exact multi-class MVA"
    else:
        why = (
            f"{total} users (exact MVA up to {most})"
            if same
            else (
                "classes with different demands at stations of several slots"
                if multi_server
                else f"classes with different demands and {_vectors(counts):,} population "
                f"vectors (exact multi-class MVA up to {EXACT_VECTORS:,})"
            )
        )
        warnings.append(f"approximation: Schweitzer–Bard approximate MVA ({why})")
        if multi_server:
            warnings.append("approximation: Seidmann's form for stations of several slots")
        solved = schweitzer_multiclass(demands, dict(servers), [think] * len(counts), counts)
        how = "approximate MVA (Schweitzer–Bard)"
    if any(rate > 0 for rate in rates):
        how = f"mixed {how}"
        if multi_server:
            warnings.append(
                "approximation: the open classes' queueing at stations of several slots is "
                "taken as at one server of their speed"
            )
    # The users' utilisation is of their own demands, not the inflated ones.
    solved = [
        _with_utilization(solution, network.demands[c], servers)
        for c, solution in zip(closed, solved, strict=True)
    ]
    present = {k: math.fsum(s.queue_length.get(k, 0.0) for s in solved) for k in servers}
    by_class: dict[int, MvaSolution] = dict(zip(closed, solved, strict=True))
    for c, rate in enumerate(rates):
        if rate <= 0:
            continue
        residence = {
            k: network.demands[c].get(k, 0.0) * (1.0 + present[k]) * inflation[k]
            if servers[k] is not None
            else network.demands[c].get(k, 0.0)
            for k in servers
        }
        by_class[c] = MvaSolution(
            users=0,
            throughput_per_s=rate,
            response_s=math.fsum(residence.values()),
            residence_s=residence,
            queue_length={k: rate * value for k, value in residence.items()},
            utilization={
                k: rate * network.demands[c].get(k, 0.0) / count if count else 0.0
                for k, count in servers.items()
            },
        )
    return [by_class[c] for c in range(len(users))], how


def _with_utilization(
    solution: MvaSolution, demands: dict[str, float], servers: dict[str, int]
) -> MvaSolution:
    return MvaSolution(
        users=solution.users,
        throughput_per_s=solution.throughput_per_s,
        response_s=solution.response_s,
        residence_s=solution.residence_s,
        queue_length=solution.queue_length,
        utilization={
            k: solution.throughput_per_s * demands.get(k, 0.0) / count if count else 0.0
            for k, count in servers.items()
        },
    )


def _open_loads(spec: ArchitectureSpec, network: _Network) -> dict[str, float]:
    """Each station's utilisation by a mixed workload's open classes alone."""
    rates = spec.workload.open_rates()
    return {
        k: math.fsum(rate * network.demands[c].get(k, 0.0) for c, rate in enumerate(rates))
        / servers
        for k, servers in network.servers.items()
        if servers
    }


def _open_overload(
    spec: ArchitectureSpec, network: _Network, open_load: dict[str, float]
) -> Unstable | None:
    worst = max(open_load, key=lambda k: open_load[k], default=None)
    if worst is None or open_load[worst] < 1.0:
        return None
    offered = math.fsum(spec.workload.open_rates())
    component = next(s.component for s in network.stations if s.name == worst)
    return Unstable(
        component=component,
        factor=open_load[worst],
        reason=(
            f"{worst}: the open classes alone ({offered:g} requests/s) offer "
            f"{open_load[worst]:.3g}× its capacity of {network.servers[worst]} slots"
        ),
    )


def open_overload(spec: ArchitectureSpec, graph: nx.DiGraph | None = None) -> Unstable | None:
    """The station a mixed workload's open classes alone overload, if any: certain, since
    every demand is a lower bound and the users only add to it (None for a workload without
    open classes)."""
    if not spec.workload.mixed:
        return None
    network = _network(spec, graph)
    return _open_overload(spec, network, _open_loads(spec, network))


def _overloaded(
    spec: ArchitectureSpec, unstable: Unstable, warnings: list[str]
) -> SimulationResult:
    """A mixed workload whose open classes alone overload a station: no steady state."""
    offered = math.fsum(spec.workload.open_rates())
    components = {
        name: ComponentResult(
            kind=component.kind,
            utilization=math.nan,
            mean_queue=math.nan,
            throughput_per_s=math.nan,
            rejected=0,
            latency_ms=_point(math.nan),
            capacity=component.capacity,
            method="analytic: mixed MVA",
        )
        for name, component in spec.components.items()
    }
    return SimulationResult(
        spec=spec.name,
        seed=None,
        stable=False,
        warnings=tuple(dict.fromkeys(warnings)),
        requests=RequestCounts(),
        throughput_per_s=math.nan,
        latency_ms=_point(math.nan),
        components=components,
        classes={name: _point(math.nan) for name, _, _ in spec.entries()},
        unstable=unstable,
        rate_per_s=offered,
        method="analytic: mixed MVA; unstable",
    )


def _vectors(users: Sequence[int]) -> int:
    """Population vectors the exact multi-class recursion visits."""
    return math.prod(count + 1 for count in users)


def _share(solution: MvaSolution, share: float) -> MvaSolution:
    return MvaSolution(
        users=solution.users,
        throughput_per_s=solution.throughput_per_s * share,
        response_s=solution.response_s,
        residence_s=solution.residence_s,
        queue_length={k: value * share for k, value in solution.queue_length.items()},
        utilization={k: value * share for k, value in solution.utilization.items()},
    )


def _point(mean_ms: float) -> LatencySummary:
    return LatencySummary(mean=mean_ms, mean_ci95=(mean_ms, mean_ms))


def _result(
    spec: ArchitectureSpec,
    network: _Network,
    solutions: Sequence[MvaSolution],
    warnings: list[str],
    how: str,
) -> SimulationResult:
    throughput = math.fsum(s.throughput_per_s for s in solutions)
    mean_s = (
        math.fsum(s.throughput_per_s * s.response_s for s in solutions) / throughput
        if throughput > 0
        else math.nan
    )
    names = [name for name, _, _ in spec.entries()]
    classes = (
        {name: _point(1e3 * s.response_s) for name, s in zip(names, solutions, strict=True)}
        if spec.workload.classes
        else {}
    )
    by_component: dict[str, list[StationLoad]] = {}
    for station in network.stations:
        by_component.setdefault(station.component, []).append(station)
    # Stations no user waits for carry the users' rate as an open load: their utilisation
    # only (their queues do not slow the users down).
    detached_busy: dict[str, float] = {}
    detached_slots: dict[str, int] = {}
    worst: tuple[float, StationLoad] | None = None
    for station in network.detached:
        busy = math.fsum(
            s.throughput_per_s * demands.get(station.name, 0.0)
            for s, demands in zip(solutions, network.detached_demands, strict=True)
        )
        detached_busy[station.component] = detached_busy.get(station.component, 0.0) + busy
        detached_slots[station.component] = (
            detached_slots.get(station.component, 0) + station.servers
        )
        load = busy / station.servers if station.servers else 0.0
        if worst is None or load > worst[0]:
            worst = (load, station)
    if network.detached:
        warnings.append(
            "approximation: "
            + ", ".join(sorted(detached_slots))
            + " serve asynchronous jobs no user waits for: their load is the users' rate, "
            "their queues are not estimated"
        )
    own_ms: dict[str, float] = {}
    for name in spec.components:
        visits_per_s = math.fsum(
            s.throughput_per_s * visits.get(name, 0.0)
            for s, visits in zip(solutions, network.visits, strict=True)
        )
        residence = math.fsum(
            s.throughput_per_s * s.residence_s.get(p.name, 0.0)
            for s in solutions
            for p in by_component.get(name, [])
        )
        own_ms[name] = 1e3 * residence / visits_per_s if visits_per_s > 0 else math.nan
    components: dict[str, ComponentResult] = {}
    for name, component in spec.components.items():
        visits_per_s = math.fsum(
            s.throughput_per_s * visits.get(name, 0.0)
            for s, visits in zip(solutions, network.visits, strict=True)
        )
        parts = by_component.get(name, [])
        residence = math.fsum(
            s.throughput_per_s * s.residence_s.get(p.name, 0.0) for s in solutions for p in parts
        )
        present = math.fsum(s.queue_length.get(p.name, 0.0) for s in solutions for p in parts)
        busy = math.fsum(
            s.utilization.get(p.name, 0.0) * p.servers for s in solutions for p in parts
        )
        slots = sum(p.servers for p in parts)
        # A visit's span: its own residence, and its calls' spans (sequential calls: the
        # visits its subtree makes, each at its own residence).
        per_visit_ms = own_ms[name]
        if getattr(component, "calls", ()) and visits_per_s > 0:
            below = _visits_from(spec, network.graph, name)
            per_visit_ms = math.fsum(
                count * own_ms[other]
                for other, count in below.items()
                if count > 0 and math.isfinite(own_ms[other])
            )
        holding_ms = (
            1e3
            * math.fsum(p.holding_s * p.arrival_rate for p in parts)
            / sum(p.arrival_rate for p in parts)
            if parts and sum(p.arrival_rate for p in parts) > 0
            else 0.0
        )
        if name in detached_slots:
            components[name] = ComponentResult(
                kind=component.kind,
                utilization=detached_busy[name] / detached_slots[name],
                mean_queue=math.nan,
                throughput_per_s=visits_per_s,
                rejected=0,
                latency_ms=_point(math.nan),
                capacity=component.capacity,
                replicas=float(getattr(component, "replicas", 1)),
                method=f"analytic: offered load at the users' rate ({how})",
            )
            continue
        components[name] = ComponentResult(
            kind=component.kind,
            utilization=busy / slots if slots else 0.0,
            mean_queue=max(0.0, present - busy),
            throughput_per_s=visits_per_s,
            rejected=0,
            latency_ms=_point(per_visit_ms),
            capacity=component.capacity,
            replicas=float(getattr(component, "replicas", 1)),
            wait_ms=max(0.0, own_ms[name] - holding_ms) if visits_per_s > 0 else math.nan,
            method=f"analytic: {how}",
        )
    users = spec.workload.total_users
    exact = not warnings
    unstable = None
    if worst is not None and worst[0] >= 1.0:
        load, station = worst
        unstable = Unstable(
            component=station.component,
            factor=load,
            reason=(
                f"{station.name}: the users send {throughput:.4g} requests/s, an offered load "
                f"of {load:.3g}× its {station.servers} slots for the asynchronous jobs no user "
                "waits for: their backlog grows without end"
            ),
        )
    return SimulationResult(
        spec=spec.name,
        seed=None,
        stable=unstable is None,
        warnings=tuple(dict.fromkeys(warnings)),
        requests=RequestCounts(),
        throughput_per_s=throughput,
        latency_ms=_point(1e3 * mean_s),
        components=components,
        classes=classes,
        unstable=unstable,
        rate_per_s=throughput,
        method=(
            f"analytic: {how} of a closed network of {len(network.servers)} stations, "
            f"{users} users; {'exact' if exact else 'approximate (see warnings)'}"
        ),
    )


__all__ = ["closed_estimate", "open_overload", "rough_throughput"]
