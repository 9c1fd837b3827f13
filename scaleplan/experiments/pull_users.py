"""The tractor pull of a closed workload: the most users that still meet every SLO.

A closed workload has no arrival rate to raise: its load is its users. :func:`pull_users`
searches the number of users the way a load test ramps them. Each search (one seed) brackets
the limit by doubling or halving the users from the spec's own count (the later searches start
from the first one's limit, a tenth of it either side), then bisects the integers until the
bracket is one user wide; its limit is the most users that met every SLO. Every step is one
simulation judged by the open pull's rule (:func:`scaleplan.experiments.pull._evaluate`: stable,
every SLO's point estimate within its bound, a steady state measured). The limit is the mean of
the searches' limits with a Student-t 95% interval across them, and the throughput the users
reach there, likewise across the searches.

A closed network is stable at any population: past the limit the users' response time grows
about linearly with them while the throughput flattens at the bottleneck's capacity; that is
why the search needs objectives (without any it only stops at ``max_users``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from scaleplan.engine import simulate
from scaleplan.errors import SimulationError
from scaleplan.experiments._common import Run, busiest, clean, error_rate
from scaleplan.metrics import replication_ci
from scaleplan.progress import Progress
from scaleplan.result import SimulationResult
from scaleplan.spec import ArchitectureSpec, NFRSpec, SLOSpec
from scaleplan.spec.architecture import MAX_USERS

__all__ = ["ObjectiveLimit", "UsersPullResult", "UsersStep", "pull_users"]

#: The most users a search tries by default (a search doubles up to it).
DEFAULT_MAX_USERS = 10_000
#: Steps one search may take at most (doubling from 1 to MAX_USERS and bisecting back).
MAX_STEPS = 80


@dataclass(frozen=True)
class UsersStep:
    """One simulation of a search: the users it ran and what it measured."""

    replication: int
    seed: int
    phase: str  # "bracket" or "bisect"
    users: int
    meets: bool
    stable: bool
    requests: int
    values: dict[str, float]
    mean_ms: float
    p99_ms: float
    error_rate: float
    throughput_per_s: float
    busiest: str
    busiest_utilization: float
    reason: str
    #: The run's 95% interval of p99 (from time sections within the run).
    p99_ci95: tuple[float, float] = (math.nan, math.nan)

    def to_dict(self) -> dict[str, Any]:
        return clean(
            {
                "replication": self.replication,
                "seed": self.seed,
                "phase": self.phase,
                "users": self.users,
                "meets": self.meets,
                "stable": self.stable,
                "requests": self.requests,
                "values": self.values,
                "mean_ms": self.mean_ms,
                "p99_ms": self.p99_ms,
                "p99_ci95": list(self.p99_ci95),
                "error_rate": self.error_rate,
                "throughput_per_s": self.throughput_per_s,
                "busiest": self.busiest,
                "busiest_utilization": self.busiest_utilization,
                "reason": self.reason,
            }
        )


@dataclass(frozen=True)
class ObjectiveLimit:
    """The most users that still meet one objective (its own searches, same seeds), with a
    CI across them, and the requests/s they send there."""

    slo: str
    limit_users: float
    limit_ci95: tuple[float, float]
    limits: tuple[int, ...]
    throughput_per_s: float
    binding: bool  # it breaks first: its limit is the pull's
    #: How each search's first failing step failed: by this objective ("breaks …"), or by
    #: something else (unstable, no steady state measured) before it broke.
    reasons: tuple[str, ...] = ()

    @property
    def broken(self) -> bool:
        """Whether every search stopped because this objective itself broke."""
        return bool(self.reasons) and all(r.startswith("breaks ") for r in self.reasons)

    @property
    def note(self) -> str:
        """``breaks first``, or why the searches stopped when the objective itself did not
        break (its limit is then only a lower bound)."""
        if self.broken:
            return "breaks first" if self.binding else ""
        other = next(r for r in self.reasons if not r.startswith("breaks "))
        broke = sum(r.startswith("breaks ") for r in self.reasons)
        if broke == 0:
            return f"not broken by itself: the searches stopped ({other}); a lower bound"
        first = "breaks first; " if self.binding else ""
        return (
            f"{first}broke in {broke} of {len(self.reasons)} searches, the others stopped "
            f"({other}): a lower bound there"
        )

    def to_dict(self) -> dict[str, Any]:
        return clean(
            {
                "slo": self.slo,
                "limit_users": self.limit_users,
                "limit_ci95": list(self.limit_ci95),
                "limits": list(self.limits),
                "throughput_per_s": self.throughput_per_s,
                "binding": self.binding,
                "broken": self.broken,
                "reasons": list(self.reasons),
            }
        )


@dataclass(frozen=True)
class UsersPullResult:
    """The most users meeting every SLO, with its CI across searches, and the throughput
    they reach there."""

    spec: str
    seed: int
    slos: tuple[str, ...]
    limit_users: float
    limit_ci95: tuple[float, float]
    limits: tuple[int, ...]
    throughput_per_s: float
    throughput_ci95: tuple[float, float]
    bottleneck: str
    bottleneck_utilization: float
    steps: tuple[UsersStep, ...]
    warnings: tuple[str, ...] = field(default_factory=tuple)
    #: Where each objective breaks on its own (``per_slo``; empty with one objective or none).
    objectives: tuple[ObjectiveLimit, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return clean(
            {
                "spec": self.spec,
                "seed": self.seed,
                "method": "tractor pull over users (closed workload)",
                "slos": list(self.slos),
                "limit_users": self.limit_users,
                "limit_ci95": list(self.limit_ci95),
                "limits": list(self.limits),
                "throughput_per_s": self.throughput_per_s,
                "throughput_ci95": list(self.throughput_ci95),
                "bottleneck": self.bottleneck,
                "bottleneck_utilization": self.bottleneck_utilization,
                "steps": [step.to_dict() for step in self.steps],
                "warnings": list(self.warnings),
                "objectives": [objective.to_dict() for objective in self.objectives],
            }
        )

    def summary(self) -> str:
        """``limit: 84 users (95% CI 80–88), 412 requests/s``."""
        low, high = self.limit_ci95
        interval = (
            f" (95% CI {low:.0f}–{high:.0f})"
            if len(self.limits) > 1 and math.isfinite(low)
            else " (one search: no CI)"
        )
        return (
            f"limit: {self.limit_users:.0f} users{interval}, {self.throughput_per_s:.4g} requests/s"
        )


@dataclass
class _Search:
    replication: int
    seed: int
    low: int = 0  # the most users known to meet the SLOs (0: none yet)
    high: int | None = None  # the fewest known to fail
    low_step: UsersStep | None = None
    high_step: UsersStep | None = None
    steps: list[UsersStep] = field(default_factory=list)


def _with_users(spec: ArchitectureSpec, users: int) -> ArchitectureSpec:
    return spec.with_changes({"workload.users": users})


def pull_users(
    spec: ArchitectureSpec,
    slos: NFRSpec | Sequence[str | SLOSpec],
    *,
    seed: int = 1,
    requests: int = 5_000,
    replications: int = 3,
    max_users: int = DEFAULT_MAX_USERS,
    per_slo: bool = False,
    progress: Progress | None = None,
) -> UsersPullResult:
    """The tractor pull of a closed spec over its users (see the module docstring).

    With ``per_slo`` and several objectives, each objective is also searched on its own (same
    seeds, from the joint limit up: every objective holds there), giving the users at which
    each one breaks; a simulation two searches share is run once.

    Raises :class:`~scaleplan.errors.SimulationError` for an open workload, for classes that
    give their own users (the pull varies ``workload.users``, split by weight), or for
    arguments out of range.

    Examples
    --------
    >>> from scaleplan.spec import parse_spec
    >>> spec = parse_spec({"name": "shop", "entry": "api",
    ...     "workload": {"kind": "closed", "users": 4, "think_time":
    ...                  {"dist": "exponential", "mean_ms": 500}},
    ...     "components": {"api": {"kind": "service",
    ...                            "service_time": {"dist": "exponential", "mean_ms": 20}}}})
    >>> result = pull_users(spec, ["mean<=60ms"], requests=2000, replications=2)
    >>> 10 < result.limit_users < 40
    True
    """
    from scaleplan.experiments.pull import _as_slos, _evaluate

    workload = spec.workload
    if not workload.closed:
        raise SimulationError(
            f"{spec.name}: workload: the pull over users needs a closed workload (kind: "
            "closed); an open one is pulled over its rate"
        )
    if any(cls.users is not None for cls in workload.classes):
        raise SimulationError(
            f"{spec.name}: workload.classes: the pull over users varies workload.users, split "
            "over the classes by weight; remove the classes' own users"
        )
    if replications < 1 or requests < 1:
        raise SimulationError("replications and requests must be at least 1")
    if not 1 <= max_users <= MAX_USERS:
        raise SimulationError(f"max_users must be in 1 … {MAX_USERS:,} (got {max_users})")
    objectives = _as_slos(slos)
    least = max(1, len(workload.classes))
    start = min(max(workload.total_users, least), max_users)
    total_steps = replications * 2 * math.ceil(math.log2(max_users + 1) + 1)
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(min(done, total_steps), total_steps)

    simulated: dict[tuple[int, int], SimulationResult] = {}

    def run_at(seed: int, users: int) -> SimulationResult:
        key = (seed, users)
        if key not in simulated:
            simulated[key] = simulate(_with_users(spec, users), seed=seed, requests=requests)
            tick()
        return simulated[key]

    def attempt(search: _Search, users: int, phase: str, judged: Sequence[SLOSpec]) -> bool:
        result = run_at(search.seed, users)
        run = Run(search.seed, result.throughput_per_s, result)
        meets, values, reason = _evaluate(run, judged)
        name, utilization = busiest(result)
        step = UsersStep(
            search.replication,
            search.seed,
            phase,
            users,
            meets,
            result.stable,
            result.requests.arrived,
            values,
            result.latency_ms.mean,
            result.latency_ms.p99,
            error_rate(result),
            result.throughput_per_s,
            name,
            utilization,
            reason,
            result.latency_ms.p99_ci95,
        )
        search.steps.append(step)
        if meets and users > search.low:
            search.low, search.low_step = users, step
        if not meets and (search.high is None or users < search.high):
            search.high, search.high_step = users, step
        return meets

    def one_search(
        replication: int,
        around: int | None,
        judged: Sequence[SLOSpec] = objectives,
        above: _Search | None = None,
    ) -> _Search:
        """One search; ``above``: a joint search of the same seed whose limit every objective
        meets, so this one (of fewer objectives) starts from there and doubles up."""
        search = _Search(replication, seed + replication)
        if above is not None and above.low > 0 and above.low_step is not None:
            search.low, search.low_step = above.low, above.low_step
            first = min(max_users, 2 * above.low)
        else:
            first = start if around is None else max(least, around)
        reach = 1 if around is None or above is not None else max(1, math.ceil(0.1 * around))
        users = first
        growing = around is None or above is not None
        if attempt(search, users, "bracket", judged):
            while search.high is None and users < max_users:
                users = min(max_users, users * 2 if growing else users + reach)
                reach *= 2
                attempt(search, users, "bracket", judged)
        else:
            while search.low == 0 and users > least:
                users = max(least, users // 2 if growing else users - reach)
                reach *= 2
                attempt(search, users, "bracket", judged)
        while search.high is not None and search.high - search.low > 1:
            if len(search.steps) >= MAX_STEPS:
                break
            middle = (search.low + search.high) // 2
            if search.low == 0:
                middle = max(least, middle)
                if middle >= search.high:
                    break
            attempt(search, middle, "bisect", judged)
        return search

    searches = [one_search(0, None)]
    for replication in range(1, replications):
        searches.append(one_search(replication, searches[0].low or None))
    per_objective: list[ObjectiveLimit] = []
    if per_slo and len(objectives) > 1:
        per_objective = _objective_limits(objectives, searches, one_search)
    limits = tuple(search.low for search in searches)
    warnings: list[str] = []
    if any(search.high is None for search in searches):
        warnings.append(
            f"every step up to max_users ({max_users:,}) met the objectives: the limit is at "
            "least that (a closed network never runs away; give a latency objective)"
        )
    if any(search.low == 0 for search in searches):
        warnings.append(f"even {least} user(s) break the objectives in some search")
    throughputs = [
        search.low_step.throughput_per_s for search in searches if search.low_step is not None
    ]
    at_limit = [search.low_step for search in searches if search.low_step is not None]
    if len(limits) > 1:
        # Each search's limit is known to one user (its bracket [limit, limit + 1)): the
        # interval's upper end moves out by that width.
        ci = replication_ci([float(limit) for limit in limits])
        limit, limit_ci = ci.mean, (ci.low, ci.high + 1.0)
    else:
        limit = float(limits[0])
        limit_ci = (math.nan, math.nan)
    if len(throughputs) > 1:
        tci = replication_ci(throughputs)
        throughput, throughput_ci = tci.mean, (tci.low, tci.high)
    else:
        throughput = throughputs[0] if throughputs else math.nan
        throughput_ci = (math.nan, math.nan)
    names = [step.busiest for step in at_limit]
    bottleneck = max(set(names), key=names.count) if names else ""
    utilizations = [step.busiest_utilization for step in at_limit if step.busiest == bottleneck]
    return UsersPullResult(
        spec=spec.name,
        seed=seed,
        slos=tuple(slo.text for slo in objectives),
        limit_users=limit,
        limit_ci95=limit_ci,
        limits=limits,
        throughput_per_s=throughput,
        throughput_ci95=throughput_ci,
        bottleneck=bottleneck,
        bottleneck_utilization=(
            math.fsum(utilizations) / len(utilizations) if utilizations else math.nan
        ),
        steps=tuple(step for search in searches for step in search.steps),
        warnings=tuple(warnings),
        objectives=tuple(per_objective),
    )


def _objective_limits(
    objectives: Sequence[SLOSpec],
    searches: Sequence[_Search],
    one_search: Any,
) -> list[ObjectiveLimit]:
    """Each objective searched alone from each joint search's limit up (same seeds)."""
    joint = [float(search.low) for search in searches]
    # Per seed an objective's limit is at least the joint one (every objective holds there),
    # so its interval's lower end is at least the joint limit's.
    floor = replication_ci(joint).low if len(joint) > 1 else 0.0
    found = []
    for slo in objectives:
        own = [
            one_search(search.replication, None, judged=(slo,), above=search) for search in searches
        ]
        limits = tuple(search.low for search in own)
        if len(limits) > 1:
            ci = replication_ci([float(limit) for limit in limits])
            limit, limit_ci = ci.mean, (max(ci.low, floor, 0.0), ci.high + 1.0)
        else:
            limit, limit_ci = float(limits[0]), (math.nan, math.nan)
        reasons = tuple(
            search.high_step.reason
            if search.high_step is not None
            else f"still met at max_users ({search.low:,})"
            for search in own
        )
        rates = [search.low_step.throughput_per_s for search in own if search.low_step]
        found.append(
            ObjectiveLimit(
                slo=slo.text,
                limit_users=limit,
                limit_ci95=limit_ci,
                limits=limits,
                throughput_per_s=math.fsum(rates) / len(rates) if rates else math.nan,
                binding=False,
                reasons=reasons,
            )
        )
    first = min(objective.limit_users for objective in found)
    return [
        dataclasses.replace(objective, binding=objective.limit_users == first)
        for objective in found
    ]
