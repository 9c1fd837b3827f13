"""The architecture as a networkx DiGraph: structure checks, visit ratios and offered load.

:func:`build_graph` turns a validated spec into one ``nx.DiGraph`` whose nodes carry the
component specs (``G.nodes[name]["spec"]``) and whose edges carry the expected number of
calls per visit (``G.edges[a, b]["visits"]``). Everything else here is a plain function of
that graph, in the manner of networkx's own algorithms. Drawing lives in ``views``.
"""

from __future__ import annotations

from collections.abc import Mapping

import networkx as nx
import numpy as np

from scaleplan.errors import Problem, SpecError
from scaleplan.spec import (
    ArchitectureSpec,
    ComponentSpec,
    DatabaseSpec,
    QueueSpec,
    TopicSpec,
)
from scaleplan.spec.components import expected_queue_attempts

ENTRY_WEIGHT = "entry_share"


def build_graph(spec: ArchitectureSpec) -> nx.DiGraph:
    """Build the component graph of ``spec`` and check that its traffic is finite.

    Raises :class:`~scaleplan.errors.SpecError` for components no request can reach and for
    call cycles whose expected number of visits is infinite.

    Examples
    --------
    >>> from scaleplan.spec import example_spec
    >>> G = build_graph(example_spec())
    >>> sorted(G.nodes)
    ['api']
    """
    graph = nx.DiGraph(name=spec.name, spec=spec)
    for name, component in spec.components.items():
        graph.add_node(name, spec=component, kind=component.kind, **{ENTRY_WEIGHT: 0.0})
    for _, entry, share in spec.entries():
        graph.nodes[entry][ENTRY_WEIGHT] += share
    for name, component in spec.components.items():
        asynchronous = component.async_targets()
        for target, probability, _ in component.edges():
            visits = probability * _attempts(component, target, spec)
            if graph.has_edge(name, target):
                graph.edges[name, target]["visits"] += visits
            else:
                graph.add_edge(name, target, visits=visits, asynchronous=target in asynchronous)

    entries = [name for name in graph if graph.nodes[name][ENTRY_WEIGHT] > 0]
    reachable: set[str] = set(entries)
    for entry in entries:
        reachable |= nx.descendants(graph, entry)
    unreachable = [name for name in graph if name not in reachable]
    if unreachable:
        raise SpecError(
            [
                Problem(
                    spec.source,
                    f"components.{name}",
                    f"no request can reach it from the entry {', '.join(map(repr, entries))}",
                )
                for name in unreachable
            ]
        )
    graph.graph["visit_ratios"] = _solve_visit_ratios(graph, spec)
    return graph


def _attempts(component: ComponentSpec, target: str, spec: ArchitectureSpec) -> float:
    """Expected attempts per call when the target fails by itself and failures are retried.

    Only the target's own ``error_probability`` is counted: timeouts and rejections depend on
    load, and the simulation finds their retries.
    """
    failure = float(getattr(spec.components[target], "error_probability", 0.0))
    if failure <= 0:
        return 1.0
    if isinstance(component, QueueSpec | TopicSpec):
        retries = (
            component.max_retries
            if isinstance(component, QueueSpec)
            else max(s.max_retries for s in component.subscriptions if s.consumer == target)
        )
        return expected_queue_attempts(failure, retries)
    calls = getattr(component, "calls", ())
    policies = [call.retries for call in calls if call.to == target and call.retries is not None]
    return policies[0].expected_attempts(failure) if policies else 1.0


def _solve_visit_ratios(graph: nx.DiGraph, spec: ArchitectureSpec) -> dict[str, float]:
    """Solve the traffic equations v = e + Pᵀv for the expected visits per arriving request."""
    names = list(graph)
    index = {name: position for position, name in enumerate(names)}
    transfer = np.zeros((len(names), len(names)))
    for source, target, data in graph.edges(data=True):
        transfer[index[source], index[target]] = data["visits"]
    # Visits are finite exactly when the spectral radius of the transfer matrix is below 1; a
    # cycle whose expected calls per pass reach 1 sends a request round it forever.
    radius = max(abs(np.linalg.eigvals(transfer))) if len(names) else 0.0
    if radius >= 1 - 1e-9:
        cycle, per_pass = _heaviest_cycle(graph)
        path = " → ".join([*cycle, cycle[0]]) if cycle else "?"
        first = cycle[0] if cycle else names[0]
        nxt = cycle[1 % len(cycle)] if cycle else ""
        keys = [key for target, _, key in spec.components[first].edges() if target == nxt]
        # The key holding the first step of the cycle: "calls[0].to" is shown as "calls".
        key = keys[0].split("[")[0].split(".")[0] if keys else "calls"
        raise SpecError(
            [
                Problem(
                    spec.source,
                    f"components.{first}.{key}",
                    f"the call cycle {path} repeats forever on average "
                    f"(expected calls per pass {per_pass:.3g}, must be below 1)",
                )
            ]
        )
    arrivals = np.array([graph.nodes[name][ENTRY_WEIGHT] for name in names])
    visits = np.linalg.solve(np.eye(len(names)) - transfer.T, arrivals)
    return {name: float(max(visits[index[name]], 0.0)) for name in names}


def _heaviest_cycle(graph: nx.DiGraph) -> tuple[list[str], float]:
    """The cycle with the most expected calls per pass, written from its first name in order
    (networkx finds cycles in set order, which changes between processes)."""
    best: list[str] = []
    best_weight = -1.0
    for found in nx.simple_cycles(graph):
        start = found.index(min(found))
        cycle = [*found[start:], *found[:start]]
        steps = zip(cycle, [*cycle[1:], cycle[0]], strict=True)
        weight = float(np.prod([graph.edges[a, b]["visits"] for a, b in steps]))
        if weight > best_weight or (weight == best_weight and cycle < best):
            best, best_weight = cycle, weight
    return best, best_weight


def visit_ratios(graph: nx.DiGraph) -> dict[str, float]:
    """Expected visits to each component per request arriving at the system."""
    return dict(graph.graph["visit_ratios"])


def arrival_rates(graph: nx.DiGraph, rate_per_s: float) -> dict[str, float]:
    """Arrivals per second at each component when ``rate_per_s`` requests arrive."""
    return {name: rate_per_s * visits for name, visits in visit_ratios(graph).items()}


def service_demand_s(graph: nx.DiGraph) -> dict[str, float]:
    """Seconds of a component's own service per arriving request (visits × mean service)."""
    demands: dict[str, float] = {}
    for name, visits in visit_ratios(graph).items():
        demands[name] = visits * mean_service_s(graph.nodes[name]["spec"])
    return demands


def holding_lower_bound_s(graph: nx.DiGraph) -> dict[str, float]:
    """A lower bound on the seconds each component's slot is held per visit.

    A service that holds its slot during its calls holds it for its own service plus the spans
    of the calls it makes; a span is at least the callee's own service plus the spans of the
    callee's calls (queueing only adds to it). A parallel join lasts at least as long as its
    longest expected branch. Asynchronous targets add nothing to the caller.
    """
    spans: dict[str, float] = {}

    def span(name: str, visiting: frozenset[str]) -> float:
        if name in spans:
            return spans[name]
        if name in visiting:  # a cycle: count the component's own service only
            return mean_service_s(graph.nodes[name]["spec"])
        value = mean_service_s(graph.nodes[name]["spec"]) + _calls_s(name, visiting | {name})
        spans[name] = value
        return value

    def _calls_s(name: str, visiting: frozenset[str]) -> float:
        component = graph.nodes[name]["spec"]
        shares = [
            data["visits"] * span(target, visiting)
            for _, target, data in graph.out_edges(name, data=True)
            if not data.get("asynchronous")
        ]
        if not shares:
            return 0.0
        return max(shares) if getattr(component, "parallel", False) else sum(shares)

    holding: dict[str, float] = {}
    for name in graph:
        component = graph.nodes[name]["spec"]
        own = mean_service_s(component)
        holds = getattr(component, "hold_during_calls", False) and component.capacity
        holding[name] = own + (_calls_s(name, frozenset({name})) if holds else 0.0)
    return holding


def mean_service_s(component: ComponentSpec) -> float:
    """Mean seconds of a component's own service per visit (0 for one that adds no delay)."""
    if isinstance(component, DatabaseSpec):
        return component.mean_service_s()
    if isinstance(component, QueueSpec | TopicSpec):
        # A publish delay holds none of the slots counted in capacity.
        return 0.0
    service_time = component.own_service_time
    return service_time.mean_s if service_time is not None else 0.0


def offered_load(graph: nx.DiGraph, rate_per_s: float) -> dict[str, float]:
    """Utilisation from a component's own service alone (λ·v·S / servers).

    A lower bound on the true utilisation of a service that holds its slot during calls, and
    the exact one otherwise; components that add no delay have 0.
    """
    loads: dict[str, float] = {}
    for name, demand in service_demand_s(graph).items():
        capacity = graph.nodes[name]["spec"].capacity
        loads[name] = rate_per_s * demand / capacity if capacity else 0.0
    return loads


def layers(graph: nx.DiGraph) -> dict[str, int]:
    """Left-to-right layer of each component: its longest call distance from an entry."""
    condensed = nx.condensation(graph)
    depth: dict[int, int] = {}
    for node in nx.topological_sort(condensed):
        predecessors = list(condensed.predecessors(node))
        depth[node] = 1 + max((depth[p] for p in predecessors), default=-1)
    mapping: Mapping[str, int] = condensed.graph["mapping"]
    return {name: depth[mapping[name]] for name in graph}


def capacity(graph: nx.DiGraph, name: str) -> int:
    """Requests the component serves at once (0 for one that adds no delay)."""
    component: ComponentSpec = graph.nodes[name]["spec"]
    return component.capacity
