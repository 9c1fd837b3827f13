"""The architecture as a networkx DiGraph: structure checks, visit ratios and the traffic solver.

:func:`build_graph` turns a validated spec into one ``nx.DiGraph`` whose nodes carry the
component specs (``G.nodes[name]["spec"]``) and whose edges carry the expected number of
calls per visit (``G.edges[a, b]["visits"]``). Everything else here is a plain function of
that graph, in the manner of networkx's own algorithms. Drawing lives in ``views``; the
failure-adjusted traffic and the offered load of each station in :mod:`scaleplan.load`.
"""

from __future__ import annotations

from collections.abc import Mapping

import networkx as nx
import numpy as np

from scaleplan.errors import Problem, SpecError
from scaleplan.spec import (
    ArchitectureSpec,
    ComponentSpec,
    QueueSpec,
    TopicSpec,
)
from scaleplan.spec.components import expected_queue_attempts, for_class, routes_by_class

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
        for target, probability, key in component.edges():
            visits = probability * _attempts(component, target, spec)
            if not graph.has_edge(name, target):
                graph.add_edge(
                    name, target, visits=0.0, asynchronous=target in asynchronous, routes=[]
                )
            graph.edges[name, target]["visits"] += visits
            route = _route(component, key)
            if route is not None:
                graph.edges[name, target]["routes"].append(route)
    for _, _, data in graph.edges(data=True):
        data["label"] = "; ".join(route["label"] for route in data["routes"])

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


def _route(component: ComponentSpec, key: str) -> dict[str, object] | None:
    """What a drawing says of the call at ``key`` (``calls[i].to`` or
    ``calls[i].one_of[k].to``) when it is more than a plain call: the share of a one_of
    target, the classes it is made for, the operation on a database (None for a plain call).

    Each route is ``{"key", "one_of" (the target's chance, or None), "classes" (names, or
    None for every class), "operation", "label"}``; the edge's ``label`` joins its routes'.
    """
    if not key.startswith("calls["):
        return None
    call = getattr(component, "calls", ())[int(key[len("calls[") : key.index("]")])]
    if call.one_of is None and call.classes is None and call.operation is None:
        return None
    share = next((share for _, share, at in call.targets() if key.endswith(at)), None)
    words = []
    if call.one_of is not None and share is not None:
        words.append(f"one of {len(call.one_of)}: {share:.0%}")
    if call.classes is not None:
        words.append(f"{', '.join(call.classes)} only")
    if call.operation is not None:
        words.append(f"{call.operation}s")
    return {
        "key": key,
        "one_of": share if call.one_of is not None else None,
        "classes": list(call.classes) if call.classes is not None else None,
        "operation": call.operation,
        "label": ", ".join(words),
    }


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
    policies = [
        call.retries
        for call in calls
        if call.retries is not None and any(to == target for to, _, _ in call.targets())
    ]
    return policies[0].expected_attempts(failure) if policies else 1.0


def solve_visits(
    names: list[str], transfer: np.ndarray, arrivals: np.ndarray
) -> dict[str, float] | None:
    """The traffic solver: v = e + Pᵀv for the expected visits to each station per request.

    ``transfer[i, j]`` is the expected visits to ``names[j]`` per visit to ``names[i]`` (a
    self-loop, ``transfer[i, i] > 0``, is Jackson's feedback p_ii) and ``arrivals`` the share
    of requests entering at each. Visits are finite exactly when the spectral radius of the
    transfer matrix is below 1; otherwise this returns None (a cycle whose expected calls per
    pass reach 1 sends a request round it forever). The graph's visit ratios and the
    failure-adjusted traffic of :mod:`scaleplan.load` are both solved here.

    Examples
    --------
    >>> import numpy as np
    >>> solve_visits(["api"], np.array([[0.5]]), np.array([1.0]))  # fed back half the time
    {'api': 2.0}
    """
    if not names:
        return {}
    radius = max(abs(np.linalg.eigvals(transfer)))
    if radius >= 1 - 1e-9:
        return None
    visits = np.linalg.solve(np.eye(len(names)) - transfer.T, arrivals)
    return {name: float(max(visits[position], 0.0)) for position, name in enumerate(names)}


def _solve_visit_ratios(graph: nx.DiGraph, spec: ArchitectureSpec) -> dict[str, float]:
    """The expected visits per arriving request from the graph's calls per visit (summed
    over the classes' own traffic when some calls are made for some classes only)."""
    names = list(graph)
    index = {name: position for position, name in enumerate(names)}
    transfer = np.zeros((len(names), len(names)))
    for source, target, data in graph.edges(data=True):
        transfer[index[source], index[target]] = data["visits"]
    arrivals = np.array([graph.nodes[name][ENTRY_WEIGHT] for name in names])
    visits = solve_visits(names, transfer, arrivals)
    if visits is not None and routes_by_class(spec.components) and spec.workload.classes:
        visits = _class_visit_ratios(spec, names)
    if visits is None:
        cycle, per_pass = _heaviest_cycle(graph)
        path = " → ".join([*cycle, cycle[0]]) if cycle else "?"
        raise SpecError(
            [
                Problem(
                    spec.source,
                    _cycle_key(spec, cycle or [names[0]]),
                    f"the call cycle {path} repeats forever on average "
                    f"(expected calls per pass {per_pass:.3g}, must be below 1)",
                )
            ]
        )
    return visits


def _class_visit_ratios(spec: ArchitectureSpec, names: list[str]) -> dict[str, float] | None:
    """Visits per arriving request, each class through the calls its requests make."""
    index = {name: position for position, name in enumerate(names)}
    total = dict.fromkeys(names, 0.0)
    for class_name, entry, share in spec.entries():
        transfer = np.zeros((len(names), len(names)))
        for name, component in spec.components.items():
            routed = for_class(component, class_name)
            for target, probability, _ in routed.edges():
                visits = probability * _attempts(routed, target, spec)
                transfer[index[name], index[target]] += visits
        arrivals = np.zeros(len(names))
        arrivals[index[entry]] = 1.0
        visits = solve_visits(names, transfer, arrivals)
        if visits is None:
            return None
        for name in names:
            total[name] += share * visits[name]
    return total


#: How deep the engine can nest synchronous calls: each nested call is a few generator frames
#: (visit → serve → calls → visit), and Python stops near 1,000 frames.
MAX_NESTED_CALLS = 250
#: The chance, per request, of nesting deeper than :data:`MAX_NESTED_CALLS` that is tolerated.
NESTING_RISK = 1e-6


def check_nesting(graph: nx.DiGraph, spec: ArchitectureSpec) -> None:
    """Refuse a synchronous call cycle that a request would go round too many times to simulate.

    Each pass round a synchronous cycle nests one more call inside the one before (the caller
    waits for its callee), so a request that repeats ``k`` times is ``k`` calls deep. With
    ``q`` expected calls per pass it goes deeper than :data:`MAX_NESTED_CALLS` with
    probability about ``q ** MAX_NESTED_CALLS``; past :data:`NESTING_RISK` the run would stop
    with a RecursionError part-way, so :func:`scaleplan.engine.simulate` refuses it before it
    starts. The closed forms have no such limit: the estimate and the visit ratios stand. A
    repeat through a queue or a topic is asynchronous and nests nothing.
    """
    synchronous = nx.DiGraph(
        (a, b, data) for a, b, data in graph.edges(data=True) if not data["asynchronous"]
    )
    if nx.is_directed_acyclic_graph(synchronous):
        return
    cycle, per_pass = _heaviest_cycle(synchronous)
    if per_pass**MAX_NESTED_CALLS <= NESTING_RISK:
        return
    most = NESTING_RISK ** (1 / MAX_NESTED_CALLS)
    path = " → ".join([*cycle, cycle[0]])
    raise SpecError(
        [
            Problem(
                spec.source,
                _cycle_key(spec, cycle),
                f"the call cycle {path} nests one call inside another on every pass "
                f"(expected calls per pass {per_pass:.3g}): a request would nest more than "
                f"{MAX_NESTED_CALLS} calls deep with probability {per_pass**MAX_NESTED_CALLS:.2g}, "
                f"which the engine cannot simulate; keep it at most {most:.3f} per pass, or "
                "repeat through a queue (asynchronous)",
            )
        ]
    )


def _cycle_key(spec: ArchitectureSpec, cycle: list[str]) -> str:
    """The key holding the first step of ``cycle`` ("calls[0].to" is shown as "calls")."""
    first, nxt = cycle[0], cycle[1 % len(cycle)]
    keys = [key for target, _, key in spec.components[first].edges() if target == nxt]
    return f"components.{first}.{keys[0].split('[')[0].split('.')[0] if keys else 'calls'}"


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
