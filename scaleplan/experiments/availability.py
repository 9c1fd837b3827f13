"""Failures and availability: how often the system is down, measured and refereed.

This module owns :func:`failures` and its :class:`FailuresResult`. It runs the engine (whose
``failures:`` and ``chaos:`` keys crash and repair replicas, :mod:`scaleplan.engine.faults`)
and reads what it leaves behind; it draws nothing and prints nothing.

How it measures:

- **Steady state** (the spec has ``failures``): one long run per replication — long enough for
  hundreds of failure cycles of every component — with a trickle of *probe* requests instead of
  the full workload. Failures do not depend on the load, so the probes cost little and, arriving
  as a Poisson process, see the time-average state (PASTA): their success ratio estimates the
  request-based availability, including the requests lost while a health check had not yet
  noticed a crash. A warm-up (two of the slowest failure cycles) is cut, since every replica
  starts up.
- **Game day** (only ``chaos`` events, no failures): the spec's own workload, as given.
- **Time-based availability** of a component is the share of the window with at least one
  replica up; of the **system**, the share with every *required* component up — required
  components are those every request must reach (from each entry, calls and load-balancer
  targets with probability 1, not through a queue). Both come from the replicas' up/down logs
  over the same window, so overlapping outages count once.
- **Capacity availability** is the share of time with enough replicas up to carry the
  workload's load (``k`` of ``n``: the fewest with utilisation below 1).
- CIs: Student-t across replications (seeds ``seed … seed + R − 1``); with one replication,
  batch means over 20 sub-windows.
- **Data stores fail too**: a database's nodes (or shards, or the whole store) crash; a
  shard takes writes while a primary runs, and a lost primary fails over to a read replica
  ``detection_s + failover_s`` later (writes fail meanwhile, reads go on on the nodes left); a
  shard without read replicas is down until its primary is repaired. A database is up when
  every shard is. A broker (queue, topic) accepts publishes while a majority of its nodes is up
  (publishes fail otherwise). A cache's lost node sends its lookups to the backing store, so a
  cache is never what takes the system down: its backing is required in its place.
- **Single points of failure**: a required component that one unit's failure takes down (one
  replica, a shard without read replicas, a broker without a surviving majority) is marked
  ``spof``.
- **Analytic referee**: a replica is up ``MTBF / (MTBF + MTTR)`` of the time whatever the
  distributions (an alternating renewal process), so a component of ``n`` independent replicas
  is up ``1 − (1 − a)ⁿ`` (``k_of_n`` for capacity and for a broker's majority), a database is the
  series of its shards, each a primary with failover
  (:func:`~scaleplan.analytic.availability.primary_with_failover`), and required components in
  series multiply. It applies to the steady state, where chaos is left to the game day and an
  autoscaled component is held at the replicas its policy keeps at the workload's rate (for a
  failover that takes time it is first order, see there); then the result says whether the CI
  covers it.
- **Error budget**: the unavailability the NFR allows, in minutes a month, and how much of it
  the measured downtime burns (burn rate 1 uses it exactly).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scaleplan.analytic.availability import (
    MINUTES_PER_MONTH,
    k_of_n,
    series,
)
from scaleplan.engine import HookContext, simulate
from scaleplan.engine.protocol import Observer, Station
from scaleplan.errors import Problem, SpecError
from scaleplan.experiments._common import clean, hold_autoscaled
from scaleplan.experiments.nfr import Verdict, _decide, _not_evaluated
from scaleplan.kinds import kind_of
from scaleplan.kinds.base import FailureModel as _Model
from scaleplan.load import offered_loads
from scaleplan.metrics import MeanCI, batch_means_ci, replication_ci
from scaleplan.progress import Progress
from scaleplan.runsize import check_failures
from scaleplan.spec import (
    ArchitectureSpec,
    AvailabilityNFR,
    CacheSpec,
    ComponentSpec,
    NFRSpec,
)
from scaleplan.spec.base import MAX_SECONDS

__all__ = [
    "ComponentAvailability",
    "ErrorBudget",
    "FailuresResult",
    "GameDay",
    "down_intervals",
    "failures",
    "required_components",
    "time_with_at_least",
]

Interval = tuple[float, float]
CYCLES = 400  # failure cycles of the slowest component per replication, in steady state
SUB_WINDOWS = 20  # batch means with a single replication
TIMELINE_EVENTS = 400  # up/down changes per component kept for the timeline figure
SECONDS_PER_MONTH = MINUTES_PER_MONTH * 60.0


# --------------------------------------------------------------------------- up/down logs


def down_intervals(
    log: Sequence[tuple[float, int]], replicas: int, start: float, end: float, k: int = 1
) -> list[Interval]:
    """Intervals within [start, end] with fewer than ``k`` replicas up.

    ``log`` holds (time, replicas up after the change) in time order; before the first entry
    all ``replicas`` are up.

    Examples
    --------
    >>> down_intervals([(10.0, 0), (15.0, 1)], 1, 0.0, 100.0)
    [(10.0, 15.0)]
    >>> down_intervals([(10.0, 1), (12.0, 0), (15.0, 2)], 2, 0.0, 100.0, k=2)
    [(10.0, 15.0)]
    """
    intervals: list[Interval] = []
    count = replicas
    since = start if count < k else None
    for time, up in log:
        if time >= end:
            break
        now_down = up < k
        if now_down and since is None:
            since = max(time, start)
        elif not now_down and since is not None:
            if time > start:
                intervals.append((since, time))
            since = None
        count = up
    if since is not None and end > since:
        intervals.append((since, end))
    return [(a, b) for a, b in intervals if b > a]


def time_with_at_least(
    log: Sequence[tuple[float, int]], replicas: int, start: float, end: float, k: int = 1
) -> float:
    """Seconds within [start, end] with at least ``k`` replicas up.

    Examples
    --------
    >>> time_with_at_least([(10.0, 0), (15.0, 1)], 1, 0.0, 100.0)
    95.0
    """
    return (end - start) - _length(down_intervals(log, replicas, start, end, k))


def _length(intervals: Sequence[Interval]) -> float:
    return math.fsum(b - a for a, b in intervals)


def _union(groups: Sequence[Sequence[Interval]]) -> list[Interval]:
    """The union of several lists of intervals, merged."""
    merged: list[Interval] = []
    for a, b in sorted(interval for group in groups for interval in group):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def _clip(intervals: Sequence[Interval], start: float, end: float) -> list[Interval]:
    return [(max(a, start), min(b, end)) for a, b in intervals if b > start and a < end]


def required_components(spec: ArchitectureSpec) -> list[str]:
    """Components every request must reach: from each entry, along calls and load-balancer
    targets taken with probability 1 and a cache's backing, not through a queue or a topic.

    Examples
    --------
    >>> from scaleplan.spec import example_spec
    >>> required_components(example_spec())
    ['api']
    """
    required: set[str] = set()
    for _, entry, share in spec.entries():
        if share <= 0:
            continue
        stack = [entry]
        while stack:
            name = stack.pop()
            if name in required:
                continue
            required.add(name)
            component = spec.components[name]
            asynchronous = component.async_targets()
            for target, visits, _ in component.edges():
                # A cache does not make its backing optional: its misses (and every lookup
                # while it is down) must reach it.
                if (visits >= 1.0 or isinstance(component, CacheSpec)) and (
                    target not in asynchronous
                ):
                    stack.append(target)
    return sorted(required)


# --------------------------------------------------------------------------- results


def _ci_dict(ci: MeanCI) -> dict[str, Any]:
    return {"mean": clean(ci.mean), "ci95": [clean(ci.low), clean(ci.high)], "method": ci.method}


def _bounded(ci: MeanCI) -> MeanCI:
    """A share's interval clipped to [0, 1] (a Student-t interval can spill over)."""
    low = min(max(ci.low, 0.0), 1.0) if math.isfinite(ci.low) else ci.low
    high = min(max(ci.high, 0.0), 1.0) if math.isfinite(ci.high) else ci.high
    return MeanCI(ci.mean, low, high, ci.half_width, ci.n, ci.method)


def _covers(ci: MeanCI, value: float) -> bool | None:
    if not (math.isfinite(ci.low) and math.isfinite(ci.high) and math.isfinite(value)):
        return None
    return bool(ci.low <= value <= ci.high)


def _downtime(ci: MeanCI) -> MeanCI:
    """Availability → minutes down in a 30-day month (the interval flips)."""
    return MeanCI(
        (1 - ci.mean) * MINUTES_PER_MONTH,
        (1 - ci.high) * MINUTES_PER_MONTH,
        (1 - ci.low) * MINUTES_PER_MONTH,
        ci.half_width * MINUTES_PER_MONTH,
        ci.n,
        ci.method,
    )


@dataclass(frozen=True)
class ComponentAvailability:
    """One component's failures and availability over the measured window.

    ``time_availability`` is the share of time with at least one replica up;
    ``capacity_availability`` with at least ``needed_replicas`` up (enough for the load).
    ``share_of_system_downtime`` is the part of the system's downtime during which this
    component was down (overlapping outages count for each, so shares can add up to more
    than 1). ``spof`` marks a required component that one unit's failure takes down.
    ``replicas`` counts its failure units (``units``: replicas, nodes of a database or a
    broker); ``needed_replicas`` is how many must be up for it to be up with enough capacity
    (a database: every shard taking writes; a broker: a majority).
    """

    name: str
    required: bool
    replicas: int
    scope: str
    mtbf_h: float
    mttr_min: float
    distribution: str
    unit_availability: float
    analytic: float
    time_availability: MeanCI
    covered: bool | None
    downtime_min_per_month: MeanCI
    needed_replicas: int
    capacity_availability: MeanCI
    capacity_analytic: float
    capacity_covered: bool | None
    failures_per_month: float
    share_of_system_downtime: float
    kind: str = "service"
    spof: bool = False
    units: str = "replicas"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "spof": self.spof,
            "units": self.units,
            "required": self.required,
            "replicas": self.replicas,
            "scope": self.scope,
            "mtbf_h": clean(self.mtbf_h),
            "mttr_min": clean(self.mttr_min),
            "distribution": self.distribution,
            "unit_availability": clean(self.unit_availability),
            "analytic": clean(self.analytic),
            "time_availability": _ci_dict(self.time_availability),
            "covered": self.covered,
            "downtime_min_per_month": _ci_dict(self.downtime_min_per_month),
            "needed_replicas": self.needed_replicas,
            "capacity_availability": _ci_dict(self.capacity_availability),
            "capacity_analytic": clean(self.capacity_analytic),
            "capacity_covered": self.capacity_covered,
            "failures_per_month": clean(self.failures_per_month),
            "share_of_system_downtime": clean(self.share_of_system_downtime),
        }


@dataclass(frozen=True)
class ErrorBudget:
    """The downtime an availability objective allows in a 30-day month, and its burn.

    A burn rate of 1 spends the budget exactly; above 1 the objective is missed.
    """

    target: float
    budget_min_per_month: float
    burned_min_per_month: MeanCI
    burn_rate: MeanCI
    request_burn_rate: MeanCI

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": clean(self.target),
            "budget_min_per_month": clean(self.budget_min_per_month),
            "burned_min_per_month": _ci_dict(self.burned_min_per_month),
            "burn_rate": _ci_dict(self.burn_rate),
            "request_burn_rate": _ci_dict(self.request_burn_rate),
        }


@dataclass(frozen=True)
class GameDay:
    """The spec's chaos events played on its own workload (failures included), per seed.

    ``time_availability`` is the share of the run with every required component up;
    ``request_availability`` the share of requests served; ``failed`` counts what the chaos
    (and any failure) cost in requests.
    """

    duration_s: float
    replications: int
    time_availability: MeanCI
    request_availability: MeanCI
    requests: dict[str, int]
    events: tuple[dict[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "duration_s": clean(self.duration_s),
            "replications": self.replications,
            "time_availability": _ci_dict(self.time_availability),
            "request_availability": _ci_dict(self.request_availability),
            "requests": dict(self.requests),
            "events": clean(list(self.events)),
        }


@dataclass(frozen=True)
class FailuresResult:
    """What :func:`failures` measured (see the module docstring for how).

    Attributes
    ----------
    system_time : MeanCI
        Share of time with every required component up (steady state; on a spec with chaos
        only, the game day's).
    system_requests : MeanCI
        Successful share of the (probe) requests.
    analytic : float
        The closed-form system availability.
    analytic_applies : bool
        Whether the closed form describes what was simulated (``covered`` is None otherwise).
    game_day : GameDay or None
        The chaos events played on the spec's own workload, when it has any.
    timeline : dict
        From the first replication (the game day's if there is one), for the figure: per
        component the up counts over time (``t_s``, ``up``), the system's outages and the chaos
        events, in seconds.
    """

    spec: str
    seed: int
    mode: str
    replications: int
    duration_h: float
    warmup_h: float
    probe_rate_per_s: float
    required: tuple[str, ...]
    system_time: MeanCI
    system_requests: MeanCI
    downtime_min_per_month: MeanCI
    analytic: float
    analytic_applies: bool
    covered: bool | None
    requests: dict[str, int]
    components: tuple[ComponentAvailability, ...]
    budget: ErrorBudget | None
    verdicts: tuple[Verdict, ...]
    game_day: GameDay | None = None
    timeline: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def component(self, name: str) -> ComponentAvailability:
        for item in self.components:
            if item.name == name:
                return item
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (NaN written as ``null``)."""
        return {
            "spec": self.spec,
            "seed": self.seed,
            "mode": self.mode,
            "replications": self.replications,
            "duration_h": clean(self.duration_h),
            "warmup_h": clean(self.warmup_h),
            "probe_rate_per_s": clean(self.probe_rate_per_s),
            "required": list(self.required),
            "system": {
                "time_availability": _ci_dict(self.system_time),
                "request_availability": _ci_dict(self.system_requests),
                "downtime_min_per_month": _ci_dict(self.downtime_min_per_month),
                "analytic": clean(self.analytic),
                "analytic_applies": self.analytic_applies,
                "covered": self.covered,
            },
            "requests": dict(self.requests),
            "components": [component.to_dict() for component in self.components],
            "error_budget": self.budget.to_dict() if self.budget is not None else None,
            "verdicts": [verdict.to_dict() for verdict in self.verdicts],
            "game_day": self.game_day.to_dict() if self.game_day is not None else None,
            "timeline": clean(self.timeline),
            "notes": list(self.notes),
        }

    def records(self) -> list[dict[str, Any]]:
        """One flat row per component, plus one for the system (``component: "system"``)."""
        rows = [
            {
                "spec": self.spec,
                "component": "system",
                "time_availability": clean(self.system_time.mean),
                "time_ci95_low": clean(self.system_time.low),
                "time_ci95_high": clean(self.system_time.high),
                "request_availability": clean(self.system_requests.mean),
                "downtime_min_per_month": clean(self.downtime_min_per_month.mean),
                "analytic": clean(self.analytic),
                "covered": self.covered,
            }
        ]
        for item in self.components:
            rows.append(
                {
                    "spec": self.spec,
                    "component": item.name,
                    "time_availability": clean(item.time_availability.mean),
                    "time_ci95_low": clean(item.time_availability.low),
                    "time_ci95_high": clean(item.time_availability.high),
                    "request_availability": None,
                    "downtime_min_per_month": clean(item.downtime_min_per_month.mean),
                    "analytic": clean(item.analytic),
                    "covered": item.covered,
                }
            )
        return rows


# --------------------------------------------------------------------------- the verb


@dataclass
class _Replication:
    """What one replication leaves: the logs of its stations and its request counts."""

    logs: dict[str, list[tuple[float, int]]]
    totals: dict[str, int]
    needed: dict[str, int]
    end_s: float
    arrived: int
    completed: int
    failed: int
    rejected: int
    in_flight: int


def _models(spec: ArchitectureSpec) -> dict[str, _Model]:
    """The failure model of every component that can fail."""
    return {
        name: model
        for name, component in spec.components.items()
        if (model := _model(component)) is not None
    }


def _model(component: ComponentSpec) -> _Model | None:
    """The failure model of a component, from its kind (None for a kind that cannot fail)."""
    return kind_of(component.kind).availability_model(component)


def _target(availability: float | AvailabilityNFR | NFRSpec | None) -> float | None:
    if availability is None:
        return None
    if isinstance(availability, NFRSpec):
        return availability.availability.min_percent / 100 if availability.availability else None
    if isinstance(availability, AvailabilityNFR):
        return availability.min_percent / 100
    value = float(availability)
    if not 0 < value <= 100:
        raise ValueError(f"availability must be a percentage in (0, 100] (got {value})")
    return value / 100


class _UpLogs(Observer):
    """Watches the up logs of the tracked components as the run writes them."""

    def __init__(self, tracked: Mapping[str, tuple[int, int]]):
        self.logs: dict[str, list[tuple[float, int]]] = {name: [] for name in tracked}

    def on_up_changed(self, station: Station, time_s: float, up: int) -> None:
        log = self.logs.get(station.name)
        if log is not None:
            log.append((time_s, up))


def _replicate(
    spec: ArchitectureSpec,
    seeds: Sequence[int],
    tracked: dict[str, tuple[int, int]],
    done: Callable[[], None],
    hooks: Sequence[Callable[[HookContext], None]] = (),
) -> list[_Replication]:
    runs = []
    for seed in seeds:
        watch = _UpLogs(tracked)
        result = simulate(spec, seed=seed, hooks=hooks, observers=[watch], run_anyway=True)
        counts = result.requests
        assert result.run is not None  # a simulation's
        runs.append(
            _Replication(
                logs={name: list(watch.logs[name]) for name in tracked},
                totals={name: logged for name, (logged, _) in tracked.items()},
                needed={name: needed for name, (_, needed) in tracked.items()},
                end_s=float(result.run.simulated_s),
                arrived=counts.arrived,
                completed=counts.completed,
                failed=counts.failed,
                rejected=counts.rejected,
                in_flight=counts.in_flight,
            )
        )
        done()
    return runs


class _Window:
    """Availability figures of a set of runs over their windows ``[start, end of run]``."""

    def __init__(self, runs: Sequence[_Replication], start_s: float, system: Sequence[str]):
        self.runs = list(runs)
        self.windows = [(start_s, run.end_s) for run in runs]
        self.system = list(system)

    def system_down(self, run: _Replication, start: float, end: float) -> list[Interval]:
        return _union(
            [
                down_intervals(run.logs[name], run.totals[name], start, end, run.needed[name])
                for name in self.system
            ]
        )

    def system_up_s(self, run: _Replication, start: float, end: float) -> float:
        return (end - start) - _length(self.system_down(run, start, end))

    def share(self, measure: Callable[[_Replication, float, float], float]) -> MeanCI:
        """Share of the window ``measure`` counts, with a CI across runs (or sub-windows)."""
        pairs = list(zip(self.runs, self.windows, strict=True))
        if len(pairs) > 1:
            return _bounded(replication_ci([measure(run, a, b) / (b - a) for run, (a, b) in pairs]))
        run, (a, b) = pairs[0]
        edges = np.linspace(a, b, SUB_WINDOWS + 1)
        values = [measure(run, lo, hi) / (hi - lo) for lo, hi in itertools.pairwise(edges)]
        ci = batch_means_ci(values)
        mean = measure(run, a, b) / (b - a)
        return _bounded(MeanCI(mean, ci.low, ci.high, ci.half_width, ci.n, ci.method))

    def seconds(self) -> float:
        return math.fsum(b - a for a, b in self.windows)

    def total(self, measure: Callable[[_Replication, float, float], float]) -> float:
        return math.fsum(
            measure(run, a, b) for run, (a, b) in zip(self.runs, self.windows, strict=True)
        )


def _system_names(
    spec: ArchitectureSpec,
    models: Mapping[str, _Model],
    failing: Mapping[str, Any],
    required: Sequence[str] | None,
) -> list[str]:
    """What the system's uptime depends on: the required services, and the required data
    stores that can fail or that chaos strikes (a cache's outage sends its lookups to its
    backing instead)."""
    required_names = tuple(sorted(required) if required is not None else required_components(spec))
    unknown = [name for name in required_names if name not in spec.components]
    if unknown:
        raise ValueError(f"required names no component: {', '.join(unknown)}")
    struck = {event.component for event in spec.chaos} | {
        name for name, model in models.items() if model.kind == "service"
    }
    return [
        name
        for name in required_names
        if name in models and not models[name].fallback and (name in failing or name in struck)
    ]


def _probe_spec(spec: ArchitectureSpec, probe_rate: float, horizon_s: float) -> ArchitectureSpec:
    """The spec under a thin Poisson stream of probe requests for ``horizon_s``, without its
    chaos events: those are one-off game days, played on the spec's own workload, not diluted
    into months of steady state."""
    workload = spec.workload.model_dump(mode="python", exclude_unset=True)
    for key in ("requests", "burst", "diurnal", "trace"):
        workload.pop(key, None)
    workload.update({"arrival": "poisson", "rate_per_s": probe_rate, "duration_s": horizon_s})
    workload["warmup"] = "none"
    return spec.with_changes({"workload": workload, "chaos": []})


def _component_rows(
    spec: ArchitectureSpec,
    models: Mapping[str, _Model],
    failing: Mapping[str, Any],
    system_names: Sequence[str],
    window: _Window,
    steady: bool,
    analytic_applies: bool,
    notes: list[str],
) -> list[ComponentAvailability]:
    """One row per component that fails or that the system needs: time and capacity
    availability with their CIs and closed forms, downtime, failures per month, its share of
    the system's downtime, and whether it is a single point of failure."""
    loads = offered_loads(spec, None, spec.workload.mean_rate_per_s)
    system_down_s = window.total(lambda run, a, b: _length(window.system_down(run, a, b)))
    components: list[ComponentAvailability] = []
    for name, model in models.items():
        if name not in failing and name not in system_names:
            continue
        failure_spec = model.failures
        needed, capacity_analytic = model.needed, model.analytic
        if model.kind == "service":  # enough replicas up for the load (k of n)
            replicas = model.count
            needed = min(replicas, math.floor(loads.get(name, 0.0) * replicas) + 1)
            capacity_analytic = (
                model.analytic
                if failure_spec is not None and failure_spec.scope == "component"
                else k_of_n(needed, replicas, model.unit)
            )
        time_ci = window.share(_up_at_least(name, model.needed))
        capacity_ci = window.share(_up_at_least(name, needed))
        down_s = window.total(_down_with_system_s(name, window))
        crashes = window.total(_crash_count(name))
        components.append(
            ComponentAvailability(
                name=name,
                required=name in system_names,
                replicas=model.count,
                scope=failure_spec.scope if failure_spec is not None else "",
                mtbf_h=failure_spec.mtbf_h if failure_spec is not None else math.inf,
                mttr_min=failure_spec.mttr_min if failure_spec is not None else 0.0,
                distribution=failure_spec.distribution if failure_spec is not None else "",
                unit_availability=model.unit,
                analytic=model.analytic,
                time_availability=time_ci,
                covered=_covers(time_ci, model.analytic) if analytic_applies else None,
                downtime_min_per_month=_downtime(time_ci),
                needed_replicas=needed,
                capacity_availability=capacity_ci,
                capacity_analytic=capacity_analytic,
                capacity_covered=_covers(capacity_ci, capacity_analytic)
                if analytic_applies
                else None,
                # A game day lasts minutes: a monthly rate from it would mean nothing.
                failures_per_month=crashes / window.seconds() * SECONDS_PER_MONTH
                if steady
                else math.nan,
                share_of_system_downtime=down_s / system_down_s if system_down_s > 0 else 0.0,
                kind=model.kind,
                spof=model.spof and name in system_names,
                units=model.units,
            )
        )
        if model.fallback and name in failing:
            notes.append(
                f"{name}: a cache whose nodes are down sends their lookups to its backing "
                "store: more load there, no downtime of its own"
            )
    return components


def _caveats(
    spec: ArchitectureSpec,
    components: Sequence[ComponentAvailability],
    steady: bool,
    first_order: bool,
) -> list[str]:
    """What the reader must know to read the figures: SPOFs and the referee's limits."""
    notes: list[str] = []
    spofs = [item.name for item in components if item.spof]
    if spofs:
        notes.append(
            "single points of failure (one failure takes the system down): " + ", ".join(spofs)
        )
    if steady and first_order:
        notes.append(
            "a database failover takes time: its closed form is first order in "
            "(failures per hour × failover time), a guide rather than a referee"
        )
    if spec.chaos and steady:
        notes.append(
            "chaos events are played on the spec's own workload (the game day), not in the "
            "steady-state runs"
        )
    if any(event.action == "drop_dependency" for event in spec.chaos):
        notes.append(
            "a dropped dependency keeps its replicas up but fails their requests: it shows in "
            "the request-based availability, not the time-based one"
        )
    return notes


def _cycle_h(failure: Any) -> float:
    """Hours of one failure and its repair, on average."""
    return float(failure.mtbf_h + failure.mttr_min / 60)


def _units(component: Any) -> int:
    """Units that fail independently, for the size of a run (replicas, nodes, else 1)."""
    slots = int(getattr(component, "capacity", 1) or 1)
    return max(1, slots // max(1, int(getattr(component, "concurrency", 1) or 1)))


def failures(
    spec: ArchitectureSpec,
    *,
    seed: int = 1,
    replications: int = 10,
    duration_h: float | None = None,
    probes: int = 20_000,
    availability: float | AvailabilityNFR | NFRSpec | None = None,
    required: Sequence[str] | None = None,
    game_day_replications: int = 3,
    progress: Progress | None = None,
    hooks: Sequence[Callable[[HookContext], None]] = (),
) -> FailuresResult:
    """Measure availability under the spec's failures and chaos, with CIs and the referee.

    Parameters
    ----------
    spec : ArchitectureSpec
        An architecture with ``failures`` on some services and/or ``chaos`` events.
    seed : int
        Replication ``i`` runs with seed ``seed + i``.
    replications : int
        Independent long runs in steady state; their spread gives the CIs.
    duration_h : float, optional
        Simulated hours per steady-state run (default: 400 failure cycles of the slowest
        component, at least 1000 h).
    probes : int
        Probe requests per steady-state run (their success ratio is the request-based
        availability).
    availability : float or AvailabilityNFR or NFRSpec, optional
        The objective, in percent (``99.9``): gives the error budget and the verdicts.
    required : sequence of str, optional
        Components that must be up for the system to be up (default:
        :func:`required_components`).
    game_day_replications : int
        Seeds for the game day (the chaos events on the spec's own workload), if any.
    progress : callable, optional
        ``progress(done, total)`` after each run.
    hooks : sequence of callables
        Further engine hooks for the steady-state runs (e.g. a test's own probe).

    Examples
    --------
    >>> from scaleplan.spec import parse_spec
    >>> spec = parse_spec({"name": "ha", "entry": "api", "workload": {"rate_per_s": 10},
    ...     "components": {"api": {"kind": "service", "replicas": 2,
    ...         "service_time": {"dist": "exponential", "mean_ms": 10},
    ...         "failures": {"mtbf_h": 10, "mttr_min": 60}}}})
    >>> result = failures(spec, replications=3, duration_h=2000, probes=500)
    >>> round(result.analytic, 4), result.covered
    (0.9917, True)
    """
    if replications < 1:
        raise ValueError(f"replications must be at least 1 (got {replications})")
    target = _target(availability)
    notes: list[str] = []
    spec_models = _models(spec)
    failing = {
        name: model.failures for name, model in spec_models.items() if model.failures is not None
    }
    steady = bool(failing)
    # The steady state runs months of probe traffic: an autoscaler there would only tick, so
    # autoscaled components run at the replicas their policy holds at the workload's rate.
    run_spec = spec
    if steady:
        run_spec, held = hold_autoscaled(spec, spec.workload.mean_rate_per_s)
        notes.extend(
            f"{note}, in the steady-state runs (the game day runs the autoscaler)" for note in held
        )
    models = _models(run_spec)
    system_names = _system_names(run_spec, models, failing, required)
    tracked = {name: (model.logged, model.needed) for name, model in models.items()}
    game_tracked = {name: (model.logged, model.needed) for name, model in spec_models.items()}
    game_runs = game_day_replications if spec.chaos else 0
    planned = (replications if steady else 0) + game_runs
    finished = [0]

    def tick() -> None:
        finished[0] += 1
        if progress is not None:
            progress(finished[0], max(planned, 1))

    # 1. The game day: the chaos events played on the spec's own workload.
    game_day = None
    game_window = None
    if spec.chaos:
        game = _replicate(spec, [seed + i for i in range(game_runs)], game_tracked, tick)
        game_window = _Window(game, 0.0, system_names)
        game_day = GameDay(
            duration_s=min(run.end_s for run in game),
            replications=game_runs,
            time_availability=game_window.share(game_window.system_up_s),
            request_availability=_request_availability(game),
            requests=_counts(game),
            events=tuple(_events(spec)),
        )
    # 2. The steady state: long runs of probe requests through failures and repairs.
    if steady:
        cycle_h = max(f.mtbf_h + f.mttr_min / 60 for f in failing.values() if f is not None)
        hours = duration_h if duration_h is not None else max(1000.0, CYCLES * cycle_h)
        if hours * 3600 > MAX_SECONDS:
            # Only the default can get here (the option is bounded): name the slowest cycle.
            slowest = max(
                (name for name, f in failing.items() if f is not None),
                key=lambda name: _cycle_h(failing[name]),
            )
            raise SpecError(
                [
                    Problem(
                        spec.source,
                        f"components.{slowest}.failures",
                        f"{CYCLES} failure cycles of {cycle_h:.4g} h (mtbf_h + mttr_min) would "
                        f"last {hours:.3g} hours, beyond the longest simulated horizon "
                        f"({MAX_SECONDS:g} s, about 31,700 years); pass --duration-h",
                    )
                ]
            )
        warmup_s = min(2 * cycle_h, 0.1 * hours) * 3600
        horizon_s = hours * 3600
        probe_rate = probes / horizon_s
        check_failures(
            spec,
            probes=probes,
            replications=replications,
            failure_events=math.fsum(
                2 * hours / (f.mtbf_h + f.mttr_min / 60) * _units(spec.components[name])
                for name, f in failing.items()
                if f is not None
            ),
        )
        runs = _replicate(
            _probe_spec(run_spec, probe_rate, horizon_s),
            [seed + i for i in range(replications)],
            tracked,
            tick,
            hooks,
        )
        window = _Window(runs, warmup_s, system_names)
        mode = "steady state"
    else:
        if game_window is None:
            runs = _replicate(spec, [seed], tracked, tick)
            window = _Window(runs, 0.0, system_names)
            notes.append("the spec has neither failures nor chaos events: nothing fails")
        else:
            runs, window = game_window.runs, game_window
        warmup_s = 0.0
        horizon_s = min(run.end_s for run in runs)
        probe_rate = spec.workload.mean_rate_per_s
        mode = "game day"
    system_time = window.share(window.system_up_s)
    system_requests = _request_availability(runs)
    # 3. The referee: the closed forms hold for independent failures in the steady state (chaos
    # left to the game day, autoscaled components held). The closed form of a failover that
    # takes time is first order in λ·W: a guide, not a referee (it is exact when detection and
    # promotion are instant, or with no replica).
    first_order = any(not models[name].exact for name in system_names)
    analytic_applies = steady and not first_order
    # 4. Each component's figures, and its share of the system's downtime.
    components = _component_rows(
        run_spec, models, failing, system_names, window, steady, analytic_applies, notes
    )
    analytic_parts = [models[name].analytic for name in system_names if name in models]
    system_analytic = series(*analytic_parts) if analytic_parts else 1.0
    notes.extend(_caveats(spec, components, steady, first_order))
    downtime = _downtime(system_time)
    budget = None
    verdicts: list[Verdict] = []
    if target is not None:
        budget, verdicts = _budget(target, downtime, system_time, system_requests)
    timeline_runs = game_window.runs if game_window is not None else runs
    return FailuresResult(
        spec=spec.name,
        seed=seed,
        mode=mode,
        replications=len(runs),
        duration_h=horizon_s / 3600,
        warmup_h=warmup_s / 3600,
        probe_rate_per_s=probe_rate,
        required=tuple(system_names),
        system_time=system_time,
        system_requests=system_requests,
        downtime_min_per_month=downtime,
        analytic=system_analytic,
        analytic_applies=analytic_applies,
        covered=_covers(system_time, system_analytic) if analytic_applies else None,
        requests=_counts(runs),
        components=tuple(components),
        budget=budget,
        verdicts=tuple(verdicts),
        game_day=game_day,
        timeline=_timeline(spec, timeline_runs[0], [c.name for c in components], system_names),
        notes=tuple(notes),
    )


def _budget(
    target: float, downtime: MeanCI, system_time: MeanCI, system_requests: MeanCI
) -> tuple[ErrorBudget, list[Verdict]]:
    allowed = (1 - target) * MINUTES_PER_MONTH
    factor = 1 / allowed if allowed > 0 else math.inf
    budget = ErrorBudget(
        target=target,
        budget_min_per_month=allowed,
        burned_min_per_month=downtime,
        burn_rate=_scaled(downtime, factor),
        request_burn_rate=_scaled(_downtime(system_requests), factor),
    )
    percent = f"{100 * target:g}%"
    verdicts = [
        _decide(
            f"availability>={percent} (time)",
            "availability",
            system_time,
            target,
            ">=",
            "fraction",
            None,
            f"share of time with every required component up ({system_time.method})",
        )
    ]
    if system_requests.n:
        verdicts.append(
            _decide(
                f"availability>={percent} (requests)",
                "availability",
                system_requests,
                target,
                ">=",
                "fraction",
                None,
                f"successful share of requests ({system_requests.method})",
            )
        )
    else:
        verdicts.append(
            _not_evaluated(
                f"availability>={percent} (requests)",
                "availability",
                target,
                "fraction",
                "no requests",
            )
        )
    return budget, verdicts


def _counts(runs: Sequence[_Replication]) -> dict[str, int]:
    return {
        "arrived": sum(run.arrived for run in runs),
        "completed": sum(run.completed for run in runs),
        "failed": sum(run.failed for run in runs),
        "rejected": sum(run.rejected for run in runs),
        "in_flight": sum(run.in_flight for run in runs),
    }


def _events(spec: ArchitectureSpec) -> list[dict[str, Any]]:
    return [
        {
            "at_s": event.at_s,
            "end_s": event.at_s + event.duration_s if event.duration_s is not None else None,
            "action": event.action,
            "target": event.component or event.zone or "",
        }
        for event in spec.chaos
    ]


def _up_at_least(name: str, k: int) -> Callable[[_Replication, float, float], float]:
    """Seconds of a window with at least ``k`` replicas of ``name`` up, in one replication."""

    def measure(run: _Replication, start: float, end: float) -> float:
        return time_with_at_least(run.logs[name], run.totals[name], start, end, k)

    return measure


def _down_with_system_s(
    name: str, window: _Window
) -> Callable[[_Replication, float, float], float]:
    """Seconds of a window in which both ``name`` and the system are down: its part of the
    system's downtime (all of its own downtime when the system needs it; for a component it
    can do without, only what coincides with an outage of what it needs)."""

    def measure(run: _Replication, start: float, end: float) -> float:
        own = down_intervals(run.logs[name], run.totals[name], start, end, run.needed[name])
        system = window.system_down(run, start, end)
        return math.fsum(max(0.0, min(b, d) - max(a, c)) for a, b in own for c, d in system)

    return measure


def _crash_count(name: str) -> Callable[[_Replication, float, float], float]:
    def measure(run: _Replication, start: float, end: float) -> float:
        return float(_crashes(run.logs[name], run.totals[name], start, end))

    return measure


def _scaled(ci: MeanCI, factor: float) -> MeanCI:
    return MeanCI(
        ci.mean * factor, ci.low * factor, ci.high * factor, ci.half_width * factor, ci.n, ci.method
    )


def _request_availability(runs: Sequence[_Replication]) -> MeanCI:
    shares = [
        run.completed / (run.arrived - run.in_flight)
        for run in runs
        if run.arrived - run.in_flight > 0
    ]
    if not shares:
        return MeanCI(math.nan, math.nan, math.nan, math.nan, 0, "no requests")
    if len(shares) > 1:
        return _bounded(replication_ci(shares))
    # One replication: the binomial (Wilson) interval of the success ratio, which treats the
    # requests as independent — nearly so for probes far apart, optimistic otherwise.
    run = runs[0]
    n = run.arrived - run.in_flight
    p = shares[0]
    z = 1.959963984540054
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return MeanCI(p, centre - half, centre + half, half, n, "Wilson interval (one run)")


def _crashes(log: Sequence[tuple[float, int]], replicas: int, start: float, end: float) -> int:
    """Replica crashes (drops in the up count) within [start, end]."""
    crashes = 0
    previous = replicas
    for time, up in log:
        if start <= time < end and up < previous:
            crashes += previous - up
        previous = up
    return crashes


def _timeline(
    spec: ArchitectureSpec, run: _Replication, names: Sequence[str], system: Sequence[str]
) -> dict[str, Any]:
    """Up counts over the first stretch of one replication (at most ``TIMELINE_EVENTS``
    changes per component), with the system's outages and the chaos events in it."""
    cut = run.end_s
    for name in names:
        log = run.logs[name]
        if len(log) > TIMELINE_EVENTS:
            cut = min(cut, log[TIMELINE_EVENTS][0])
    components: dict[str, dict[str, list[float]]] = {}
    for name in names:
        total = run.totals[name]
        times = [0.0]
        counts = [float(total)]
        for time, up in run.logs[name]:
            if time > cut:
                break
            times.append(time)
            counts.append(float(up))
        times.append(cut)
        counts.append(counts[-1])
        components[name] = {"t_s": times, "up": counts, "replicas": [float(total)]}
    outages = _union(
        [
            down_intervals(run.logs[name], run.totals[name], 0.0, cut, run.needed[name])
            for name in system
        ]
    )
    return {
        "end_s": cut,
        "components": components,
        "outages": [[a, b] for a, b in outages],
        "chaos": [event for event in _events(spec) if event["at_s"] <= cut],
    }
