"""Instant estimates of a whole architecture from queueing closed forms.

This module owns the step from a validated spec to an analytic :class:`SimulationResult`: it
turns every component into a queueing station, chains the stations along the call graph and
says, in the result's ``warnings``, every approximation it had to make. The station formulas
themselves live in :mod:`scaleplan.analytic.queues`; the graph and its visit ratios in
:mod:`scaleplan.graph`. It does not simulate anything and it does not model losses
(``queue_limit``), failures or time-varying load.

The model, per component (times are per visit):

- a ``service`` is ``replicas`` stations of ``concurrency`` slots. A slot is held for the
  service time and, with ``hold_during_calls``, also for the calls (the method of surrogate
  delays: the holding time is the service time plus the callees' mean spans). How arrivals
  split over the replicas follows the ``policy`` of the load balancer in front or the service's
  ``dispatch`` when it is called directly: ``random`` is an exact Poisson split,
  ``round_robin`` gives each replica Erlang-r interarrivals (GI/G/c), and
  ``least_connections`` / ``power_of_two`` are taken as one pooled station (optimistic);
- a ``load_balancer`` adds no delay unless it has a ``service_time``, when it is one M/G/c
  station of ``concurrency`` slots before it forwards;
- the span of a component is wait + own service + its calls (summed when sequential, the
  expected maximum of exponentials when ``parallel``), and the end-to-end mean is the
  share-weighted span of the entries.

With Poisson arrivals, exponential service, random or no splits and slots released before the
calls, this is an open Jackson (Kelly) network and the means are exact.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import networkx as nx
from scipy.integrate import quad

from scaleplan.analytic.queues import (
    StationMetrics,
    UnstableError,
    bottleneck_throughput,
    expected_max_exponential,
    gigc,
    md1,
    mgc,
    mm1,
    mm1_response_quantile,
    mmc_response_quantile,
)
from scaleplan.graph import ENTRY_WEIGHT, build_graph, visit_ratios
from scaleplan.result import (
    PERCENTILES,
    ComponentResult,
    LatencySummary,
    RequestCounts,
    SimulationResult,
    Unstable,
)
from scaleplan.spec import ArchitectureSpec, LoadBalancerSpec, ServiceSpec

__all__ = ["bottleneck", "estimate"]

#: Passes of the fixed-point iteration for graphs with call cycles (a DAG needs two).
MAX_PASSES = 500
#: Relative change in every span below which the iteration has converged.
TOLERANCE = 1e-12
#: Up to this many calls of probability strictly between 0 and 1 a parallel join enumerates
#: which calls are made (2ⁿ subsets); beyond it the same expectation is integrated numerically.
MAX_ENUMERATED_CALLS = 10
#: A component with a queue_limit above this utilisation would reject requests noticeably.
QUEUE_LIMIT_WARNING_UTILIZATION = 0.5

Component = ServiceSpec | LoadBalancerSpec
_POOLED = ("least_connections", "power_of_two")


@dataclass
class _Station:
    """The figures of one component at the current iterate (seconds and per second)."""

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


@dataclass(frozen=True)
class _Split:
    """How a service's arrivals reach its replicas."""

    policy: str
    mixed: tuple[str, ...] = ()


def estimate(spec: ArchitectureSpec, *, rate_per_s: float | None = None) -> SimulationResult:
    """Estimate the steady state of ``spec`` from closed forms, in no measurable time.

    Parameters
    ----------
    spec : ArchitectureSpec
        A validated architecture.
    rate_per_s : float, optional
        Requests per second arriving at the system; defaults to the workload's mean rate.

    Returns
    -------
    SimulationResult
        With ``seed=None`` and no requests counted (nothing was simulated). The mean latency's
        CI is the point itself (a closed form has no sampling error); percentiles are given
        only where they are exact (one M/M/1 or M/M/c station, Poisson arrivals), otherwise
        NaN. Each component reports its offered utilisation, the number waiting over all its
        replicas, its arrival rate, its per-visit span and the method used. ``warnings``
        names every approximation. When some utilisation is at least 1, ``stable`` is False,
        ``unstable`` names the most loaded component and its factor, every latency is NaN and
        ``throughput_per_s`` is the rate that component can carry (rate / factor).

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
    rate = _rate(spec, rate_per_s)
    graph = build_graph(spec)
    order, cycles = _evaluation_order(graph)
    rates = {name: rate * visits for name, visits in visit_ratios(graph).items()}
    low_load = _low_load_spans(graph, order)
    splits = {name: _split(graph, name, rates, rate) for name in graph}
    poisson_in = _poisson_inputs(graph, spec, splits)

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

    spans = {name: 0.0 for name in graph}
    stations: dict[str, _Station] = {}
    for _ in range(MAX_PASSES):
        previous = dict(spans)
        for name in order:
            stations[name] = _station(
                graph,
                name,
                rates[name],
                spans,
                low_load,
                splits[name],
                poisson_in=poisson_in[name],
                workload_poisson=spec.workload.is_poisson,
            )
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
        component: Component = graph.nodes[name]["spec"]
        limit = getattr(component, "queue_limit", None)
        if limit is not None and stations[name].utilization > QUEUE_LIMIT_WARNING_UTILIZATION:
            warnings.append(
                f"{name}: queue_limit {limit} is ignored by the closed forms at utilisation "
                f"{stations[name].utilization:.2f}: rejections are not modelled"
            )

    return _result(spec, graph, rate, stations, warnings)


def bottleneck(spec: ArchitectureSpec, rate_per_s: float | None = None) -> tuple[float, str]:
    """The most requests per second ``spec`` can carry, and the component that limits it.

    The bottleneck bound: each component can complete at most capacity / (visits × mean
    holding time) requests per second. For a service that holds its slot during its calls the
    holding time is taken at low load: its own service plus its callees' spans without any
    queueing. Load balancers without a ``service_time`` never limit.

    Parameters
    ----------
    spec : ArchitectureSpec
        A validated architecture.
    rate_per_s : float, optional
        Accepted for symmetry with :func:`estimate`; the bound does not depend on the rate.

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
    if rate_per_s is not None:
        _rate(spec, rate_per_s)
    graph = build_graph(spec)
    order, _ = _evaluation_order(graph)
    low_load = _low_load_spans(graph, order)
    demands: dict[str, tuple[float, float]] = {}
    for name, visits in visit_ratios(graph).items():
        component: Component = graph.nodes[name]["spec"]
        if component.capacity == 0:
            continue
        holding = _own_service_s(component)
        if isinstance(component, ServiceSpec) and component.hold_during_calls:
            holding += _calls_s(graph, name, low_load)
        demands[name] = (visits * holding, float(component.capacity))
    return bottleneck_throughput(demands)


# --------------------------------------------------------------------------- one station


def _station(
    graph: nx.DiGraph,
    name: str,
    arrival_rate: float,
    spans: Mapping[str, float],
    low_load: Mapping[str, float],
    split: _Split,
    *,
    poisson_in: bool,
    workload_poisson: bool,
) -> _Station:
    component: Component = graph.nodes[name]["spec"]
    calls = _calls_s(graph, name, spans)
    if isinstance(component, LoadBalancerSpec) and component.service_time is None:
        policy = component.policy
        return _Station(
            name, arrival_rate, 0.0, 0.0, calls, 0.0, 0.0, f"no delay: forwards by {policy}", True
        )

    notes: list[str] = []
    own_s = _own_service_s(component)
    holds = isinstance(component, ServiceSpec) and component.hold_during_calls
    has_calls = any(probability > 0 for _, probability in _targets(graph, name))
    surrogate = holds and has_calls
    exact = poisson_in
    if workload_poisson and not poisson_in:
        notes.append(
            f"{name}: its arrivals come from stations whose departures are not Poisson; "
            "treated as Poisson (approximation)"
        )

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
    if isinstance(component, ServiceSpec) and component.parallel and has_calls:
        exact = False
        notes.append(
            f"{name}: parallel calls joined as the maximum of independent exponentials with "
            "the callees' mean spans (approximation)"
        )

    replicas = component.replicas if isinstance(component, ServiceSpec) else 1
    slots = component.concurrency
    lower_bound = False
    if not math.isfinite(holding_s):
        # A callee is unstable, so the slots are held without bound; the callees' low-load
        # spans still give a utilisation that this component cannot be below.
        holding_for_load = own_s + _calls_s(graph, name, low_load)
        lower_bound = True
        unstable_callees = [
            target for target, _ in _targets(graph, name) if not math.isfinite(spans[target])
        ]
        notes.append(
            f"{name}: utilisation is a lower bound: it holds its slots while calling "
            f"unstable {', '.join(sorted(set(unstable_callees)))}"
        )
    else:
        holding_for_load = holding_s
    utilization = arrival_rate * holding_for_load / (replicas * slots)

    queue_rate, servers, ca2, shape = arrival_rate, slots, 1.0, ""
    if replicas > 1:
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
            servers = replicas * slots
            shape = f", {split.policy} over {replicas} replicas pooled into {servers} servers"
            exact = False
            notes.append(
                f"{name}: {split.policy} over {replicas} replicas approximated as one pooled "
                f"station of {servers} servers (optimistic: real replicas queue separately)"
            )

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
        )
    try:
        metrics = _queue(queue_rate, ca2, holding_s, scv, servers)
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
        )
    if not metrics.exact and not surrogate and ca2 == 1.0:
        notes.append(f"{name}: {metrics.method} (service scv {scv:.3g})")
    span_s = metrics.mean_wait + holding_s + (0.0 if surrogate else calls)
    return _Station(
        name,
        arrival_rate,
        utilization,
        metrics.mean_wait,
        span_s,
        arrival_rate * metrics.mean_wait,  # Little's law over all replicas
        holding_s,
        f"{metrics.method}{shape}",
        exact and metrics.exact,
        lower_bound,
        notes,
    )


def _queue(lam: float, ca2: float, mean_s: float, scv: float, servers: int) -> StationMetrics:
    if ca2 != 1.0:
        return gigc(lam, ca2, mean_s, scv, servers)
    if servers == 1 and scv == 0.0:
        return md1(lam, mean_s)
    if servers == 1 and scv == 1.0:
        return mm1(lam, 1.0 / mean_s)
    return mgc(lam, mean_s, scv, servers)


def _own_service_s(component: Component) -> float:
    return component.service_time.mean_s if component.service_time is not None else 0.0


def _own_scv(component: Component) -> float:
    return component.service_time.scv if component.service_time is not None else 1.0


# --------------------------------------------------------------------------- calls


def _targets(graph: nx.DiGraph, name: str) -> list[tuple[str, float]]:
    """(target, probability) of each call, or of each forwarding target of a load balancer."""
    component: Component = graph.nodes[name]["spec"]
    return [(target, probability) for target, probability, _ in component.edges()]


def _calls_s(graph: nx.DiGraph, name: str, spans: Mapping[str, float]) -> float:
    """Mean time a visit spends in its calls (or forwarding), given the callees' spans."""
    component: Component = graph.nodes[name]["spec"]
    targets = [(probability, spans[target]) for target, probability in _targets(graph, name)]
    if isinstance(component, ServiceSpec) and component.parallel:
        return _parallel_join_s(targets)
    # A load balancer forwards to exactly one target, chosen with these probabilities; a
    # service makes its calls one after another.
    return math.fsum(probability * span for probability, span in targets if probability > 0)


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

    value: float = quad(survival, 0.0, math.inf, limit=200)[0]
    return value


# --------------------------------------------------------------------------- graph passes


def _evaluation_order(graph: nx.DiGraph) -> tuple[list[str], list[list[str]]]:
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


def _low_load_spans(graph: nx.DiGraph, order: Sequence[str]) -> dict[str, float]:
    """Spans with no queueing anywhere: own service plus calls, bottom-up."""

    def span(name: str, spans: dict[str, float]) -> float:
        return _own_service_s(graph.nodes[name]["spec"]) + _calls_s(graph, name, spans)

    return _fixed_point(graph, order, span)


def _close(new: float, old: float) -> bool:
    if math.isinf(new) or math.isinf(old):
        return new == old
    return abs(new - old) <= TOLERANCE * max(abs(new), abs(old), 1e-300)


def _split(graph: nx.DiGraph, name: str, rates: Mapping[str, float], rate: float) -> _Split:
    """The replica policy of ``name``: the load balancer's in front, else its ``dispatch``."""
    component: Component = graph.nodes[name]["spec"]
    if not isinstance(component, ServiceSpec):
        return _Split(component.policy)
    by_policy: dict[str, float] = {}
    external = rate * graph.nodes[name][ENTRY_WEIGHT]
    if external > 0:
        by_policy[component.dispatch] = external
    for caller in graph.predecessors(name):
        caller_spec: Component = graph.nodes[caller]["spec"]
        policy = (
            caller_spec.policy if isinstance(caller_spec, LoadBalancerSpec) else component.dispatch
        )
        flow = rates[caller] * graph.edges[caller, name]["visits"]
        by_policy[policy] = by_policy.get(policy, 0.0) + flow
    if not by_policy:
        return _Split(component.dispatch)
    chosen = max(by_policy, key=lambda policy: by_policy[policy])
    mixed = tuple(sorted(by_policy)) if len(by_policy) > 1 else ()
    return _Split(chosen, mixed)


def _poisson_inputs(
    graph: nx.DiGraph, spec: ArchitectureSpec, splits: Mapping[str, _Split]
) -> dict[str, bool]:
    """Whether each component's arrivals form a Poisson (product-form) stream.

    A station passes Poisson traffic on (Burke's theorem, or Kelly's for feedback) when it is
    an exponential station that releases its slot before its calls and whose replicas, if
    several, get a random split. The greatest fixed point is found by starting from True.
    """

    def passes_on(name: str) -> bool:
        component: Component = graph.nodes[name]["spec"]
        if isinstance(component, LoadBalancerSpec):
            return component.service_time is None or component.service_time.scv == 1.0
        has_calls = any(call.probability > 0 for call in component.calls)
        split_ok = component.replicas == 1 or (
            splits[name].policy == "random" and not splits[name].mixed
        )
        holds = component.hold_during_calls and has_calls
        return component.service_time.scv == 1.0 and not holds and split_ok

    poisson = {name: spec.workload.is_poisson for name in graph}
    changed = True
    while changed:
        changed = False
        for name in graph:
            value = spec.workload.is_poisson and all(
                poisson[caller] and passes_on(caller) for caller in graph.predecessors(name)
            )
            if value != poisson[name]:
                poisson[name], changed = value, True
    return poisson


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
    spec: ArchitectureSpec,
    graph: nx.DiGraph,
    rate: float,
    stations: Mapping[str, _Station],
    warnings: list[str],
) -> SimulationResult:
    entries = spec.entries()
    worst = max(stations.values(), key=lambda station: station.utilization)
    stable = worst.utilization < 1.0
    queueing = [name for name in graph if graph.nodes[name]["spec"].capacity > 0]
    exact = spec.workload.is_poisson and all(station.exact for station in stations.values())
    if stable:
        mean_ms = math.fsum(share * _ms(stations[entry].span_s) for _, entry, share in entries)
    else:
        mean_ms = math.nan
    percentiles = _exact_percentiles(spec, graph, rate, stations) if stable else None

    components: dict[str, ComponentResult] = {}
    for name in graph:
        component: Component = graph.nodes[name]["spec"]
        station = stations[name]
        components[name] = ComponentResult(
            kind=component.kind,
            utilization=station.utilization,
            mean_queue=station.mean_queue if stable else math.nan,
            throughput_per_s=station.arrival_rate,
            rejected=0,
            latency_ms=_point(_ms(station.span_s) if stable else math.nan, percentiles),
            capacity=component.capacity,
            replicas=component.replicas if isinstance(component, ServiceSpec) else 1,
            wait_ms=_ms(station.wait_s) if stable else math.nan,
            method=station.method,
        )

    unstable = None
    if not stable:
        capacity = graph.nodes[worst.name]["spec"].capacity
        bound = " at least" if worst.lower_bound else ""
        unstable = Unstable(
            component=worst.name,
            factor=worst.utilization,
            reason=(
                f"{worst.name}: offered load is{bound} {worst.utilization:.3g}× its capacity "
                f"of {capacity} slots ({worst.arrival_rate:.4g} arrivals/s, mean holding time "
                f"{_ms(worst.holding_s):.4g} ms)"
            ),
        )
    classes = {}
    if spec.workload.classes:
        classes = {
            name: _point(_ms(stations[entry].span_s) if stable else math.nan)
            for name, entry, _ in entries
        }

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
        throughput_per_s=rate if stable else rate / worst.utilization,
        latency_ms=_point(mean_ms, percentiles),
        components=components,
        classes=classes,
        unstable=unstable,
        rate_per_s=rate,
        method=method,
    )


def _exact_percentiles(
    spec: ArchitectureSpec, graph: nx.DiGraph, rate: float, stations: Mapping[str, _Station]
) -> dict[str, float] | None:
    """Response-time percentiles (ms) of a system that is one exact M/M/1 or M/M/c station.

    Load balancers without a service time may stand in front of it; every request must visit
    the station exactly once, with Poisson arrivals, exponential service, no calls and, for
    several replicas, a random split (each replica is then an M/M/c of its own).
    """
    queueing = [name for name in graph if graph.nodes[name]["spec"].capacity > 0]
    if not spec.workload.is_poisson or len(queueing) != 1:
        return None
    name = queueing[0]
    component: Component = graph.nodes[name]["spec"]
    if (
        not isinstance(component, ServiceSpec)
        or component.service_time.scv != 1.0
        or any(call.probability > 0 for call in component.calls)
        or not stations[name].exact
        or not math.isclose(visit_ratios(graph)[name], 1.0, rel_tol=1e-12)
    ):
        return None
    mu = 1.0 / component.service_time.mean_s
    lam = rate / component.replicas
    slots = component.concurrency
    if slots == 1:
        return {key: 1000.0 * mm1_response_quantile(lam, mu, q) for key, q in PERCENTILES.items()}
    return {
        key: 1000.0 * mmc_response_quantile(lam, mu, slots, q) for key, q in PERCENTILES.items()
    }
