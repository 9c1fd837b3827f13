"""How big a spike, held for its duration, before an SLO breaks: the tractor pull of a load
profile (issue 10).

The pull of :mod:`scaleplan.experiments.pull` asks for the largest *sustained* rate; a decision
over an on-sale asks instead for the largest factor of one phase of the profile (the spike,
held for its own duration, with everything around it as declared) that the candidate carries
within its SLOs. Each step runs the whole profile from empty with the phase's factor changed
(:func:`scaleplan.experiments.transient.transient`, R replications) and is judged as the
sustained pull judges a step, on its point estimates: every latency SLO in every window
(the worst window's figure against the bound) and every error SLO over the whole profile.
A search brackets the factor (doubling up, or halving down, from the phase's own) and bisects
until the bracket is within ``tolerance`` of its low end; its limit is the bracket's middle.
Independent searches under their own seeds give the limit's 95% Student-t interval across
searches, as the sustained pull's searches do, its ends moved out by half the widest final
bracket (searches that end in the same bracket agree only to its width).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from scaleplan.errors import ScaleplanError
from scaleplan.experiments._common import ExecutorLike, clean, submit_all
from scaleplan.experiments.transient import TransientResult, backlog_verdicts, transient
from scaleplan.metrics import replication_ci
from scaleplan.parallel import process_pool
from scaleplan.progress import Progress
from scaleplan.spec import ArchitectureSpec, BacklogNFR, SLOSpec
from scaleplan.spec.base import MAX_FACTOR
from scaleplan.spec.profile import PhaseSpec, ProfileSpec

__all__ = [
    "SpikeLimit",
    "SpikeLimitError",
    "SpikeStep",
    "spike_limit",
    "with_phase_duration",
    "with_phase_factor",
]

#: Shapes whose height is one factor the search can change.
SCALABLE = ("spike", "steady", "flash")
#: Seeds of successive searches are this far apart (each search runs R replications).
SEARCH_SEED_STRIDE = 7919
MAX_DOUBLINGS = 12


class SpikeLimitError(ScaleplanError):
    """A profile whose phase cannot be scaled, or a search with nothing to judge."""


@dataclass(frozen=True)
class SpikeStep:
    """One step of a search: the phase's factor, whether every SLO held, and why not."""

    search: int
    factor: float
    held: bool
    broken: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "search": self.search,
            "factor": self.factor,
            "held": self.held,
            "broken": self.broken,
        }


@dataclass(frozen=True)
class SpikeLimit:
    """The largest factor of ``phase`` (held ``duration_s``) within the SLOs, with its CI."""

    spec: str
    phase: str
    duration_s: float
    base_rate_per_s: float
    declared_factor: float
    limits: tuple[float, ...]
    limit: float
    ci95: tuple[float, float]
    binding: str
    steps: tuple[SpikeStep, ...]
    replications: int
    tolerance: float
    #: Searches whose lowest step already broke an SLO: their limit is an upper bound.
    below_lowest: int = 0

    @property
    def limit_per_s(self) -> float:
        """The limit as a rate: factor × base rate."""
        return self.limit * self.base_rate_per_s

    @property
    def holds_declared(self) -> bool:
        """Whether the whole interval lies at or above the phase's declared factor."""
        return self.ci95[0] >= self.declared_factor

    def to_dict(self) -> dict[str, Any]:
        return clean(
            {
                "spec": self.spec,
                "phase": self.phase,
                "duration_s": self.duration_s,
                "base_rate_per_s": self.base_rate_per_s,
                "declared_factor": self.declared_factor,
                "limit": self.limit,
                "limit_ci95": list(self.ci95),
                "limit_per_s": self.limit_per_s,
                "ci": f"95% Student-t across {len(self.limits)} searches",
                "limits": list(self.limits),
                "binding": self.binding,
                "replications": self.replications,
                "tolerance": self.tolerance,
                "below_lowest": self.below_lowest,
                "steps": [step.to_dict() for step in self.steps],
            }
        )


def _scalable(phase: PhaseSpec) -> tuple[str, float]:
    for kind in SCALABLE:
        shape = getattr(phase, kind)
        if shape is not None:
            return kind, float(shape.factor)
    raise SpikeLimitError(
        f"phase {phase.name or phase.kind!r} is a {phase.kind} phase: only a {', '.join(SCALABLE)} "
        "phase has one factor to scale"
    )


def with_phase_factor(profile: ProfileSpec, index: int, factor: float) -> ProfileSpec:
    """``profile`` with phase ``index``'s factor set to ``factor`` (the rest as declared)."""
    phase = profile.phases[index]
    kind, _ = _scalable(phase)
    shape = getattr(phase, kind).model_copy(update={"factor": factor})
    phases = list(profile.phases)
    phases[index] = phase.model_copy(update={kind: shape})
    return profile.model_copy(update={"phases": tuple(phases)})


def with_phase_duration(profile: ProfileSpec, index: int, duration_s: float) -> ProfileSpec:
    """``profile`` with phase ``index`` lasting ``duration_s`` (its shape as declared),
    validated again (a spike's rise must still fit in it)."""
    data = profile.model_dump(by_alias=True)
    phase = data["phases"][index]
    phase.pop("duration", None)
    phase["duration_s"] = duration_s
    try:
        return ProfileSpec.model_validate(data)
    except ValidationError as error:
        problem = "; ".join(item["msg"] for item in error.errors())
        raise SpikeLimitError(
            f"phase {profile.labels()[index]!r} cannot last {duration_s:g} s: {problem}"
        ) from None


def _phase_index(profile: ProfileSpec, phase: str | None) -> int:
    if phase is None:
        return profile.peak_phase()
    labels = profile.labels()
    if phase in labels:
        return labels.index(phase)
    raise SpikeLimitError(f"no phase named {phase!r} in the profile (phases: {', '.join(labels)})")


def _broken(result: TransientResult, backlog: BacklogNFR | None = None) -> str:
    """The SLOs the run breaks on its point estimates ("" when all hold), furthest past its
    bound first: a latency SLO whose worst window's figure is beyond its bound, an error SLO
    whose share over the whole profile is, and the backlog NFR's drain or largest queue when
    given (as ``compare`` judges the profile)."""
    latency = [verdict for verdict in result.verdicts() if verdict.kind == "latency"]
    broken: list[tuple[float, str]] = []
    backlogs = backlog_verdicts(result, backlog) if backlog is not None else []
    for verdict in (*latency, *result.overall, *backlogs):
        if math.isfinite(verdict.measured) and verdict.measured > verdict.bound:
            ratio = verdict.measured / verdict.bound if verdict.bound > 0 else math.inf
            broken.append((ratio, verdict.nfr))
    broken.sort(reverse=True)
    return ", ".join(name for _, name in broken)


def spike_limit(
    spec: ArchitectureSpec,
    slos: Sequence[SLOSpec],
    *,
    phase: str | None = None,
    duration_s: float | None = None,
    searches: int = 3,
    replications: int = 3,
    seed: int = 1,
    tolerance: float = 0.05,
    max_factor: float = MAX_FACTOR,
    backlog: BacklogNFR | None = None,
    workers: int | None = None,
    executor: ExecutorLike | None = None,
    progress: Progress | None = None,
) -> SpikeLimit:
    """The largest factor of ``phase`` (default: the profile's peak phase), held for
    ``duration_s`` (default: as declared), that ``spec`` (an open workload with ``arrival:
    profile``) carries within ``slos`` (see the module docstring).

    The searches are independent (each has its own seeds), so they run side by side on
    ``workers`` local processes (default: one per available core, at most one per search) or
    on ``executor``; the numbers do not depend on where they ran. ``progress(done, total)``
    counts finished searches. No step goes beyond ``max_factor``: a search that holds there
    gives it as a lower bound. ``backlog``: the backlog NFR breaks a step too."""
    workload = spec.workload
    profile = workload.profile
    if profile is None or workload.arrival != "profile":
        raise SpikeLimitError(
            f"{spec.source}: workload: a spike limit needs 'arrival: profile' and a profile"
        )
    judged = tuple(slo for slo in slos if slo.is_latency or slo.metric == "errors")
    if not judged and backlog is None:
        raise SpikeLimitError(
            "a spike limit needs a latency or error SLO, or a backlog NFR, to break (got "
            f"{', '.join(slo.text for slo in slos) or 'none'})"
        )
    if searches < 2:
        raise SpikeLimitError(f"searches must be at least 2 for an interval (got {searches})")
    if not 0 < tolerance < 1:
        raise SpikeLimitError(f"tolerance must be in (0, 1) (got {tolerance})")
    if not 0 < max_factor <= MAX_FACTOR:
        raise SpikeLimitError(f"max_factor must be in (0, {MAX_FACTOR:g}] (got {max_factor})")
    index = _phase_index(profile, phase)
    if duration_s is not None:
        profile = with_phase_duration(profile, index, duration_s)
        spec = spec.with_changes({"workload.profile": profile.model_dump(by_alias=True)})
    _, declared = _scalable(profile.phases[index])
    start = min(declared if declared > 0 else 1.0, max_factor)
    tasks = [
        (
            _search,
            (
                spec,
                judged,
                index,
                start,
                replications,
                seed,
                search,
                tolerance,
                max_factor,
                backlog,
            ),
        )
        for search in range(searches)
    ]
    pool = process_pool(workers, searches) if executor is None else None
    try:
        outcomes: list[_Searched] = submit_all(executor or pool, tasks, progress)
    finally:
        if pool is not None:
            pool.shutdown()
    limits = [outcome.limit for outcome in outcomes]
    steps = [step for outcome in outcomes for step in outcome.steps]
    # Half the widest final bracket: what one search cannot tell apart.
    resolution = max((outcome.resolution for outcome in outcomes), default=0.0)
    ci = replication_ci(limits)
    # What breaks first as the phase grows: the SLO furthest past its bound at the smallest
    # factor that broke (at a far larger one, others may be broken further).
    failing = sorted((step for step in steps if not step.held), key=lambda step: step.factor)
    binding = failing[0].broken.split(", ")[0] if failing else ""
    labels = profile.labels()
    return SpikeLimit(
        spec=spec.name,
        phase=labels[index],
        duration_s=profile.phases[index].duration_s,
        base_rate_per_s=float(workload.rate_per_s or math.nan),
        declared_factor=declared,
        limits=tuple(limits),
        limit=ci.mean,
        # Searches that end in the same bracket agree only to its width: the interval's ends
        # move out by half the widest final bracket.
        ci95=(max(0.0, ci.low - resolution), ci.high + resolution),
        binding=binding,
        steps=tuple(steps),
        replications=replications,
        tolerance=tolerance,
        below_lowest=sum(outcome.below_lowest for outcome in outcomes),
    )


@dataclass(frozen=True)
class _Searched:
    """What one search found (picklable, for a process pool)."""

    limit: float
    resolution: float
    below_lowest: bool
    steps: tuple[SpikeStep, ...]


def _search(
    spec: ArchitectureSpec,
    judged: tuple[SLOSpec, ...],
    index: int,
    start: float,
    replications: int,
    seed: int,
    search: int,
    tolerance: float,
    max_factor: float,
    backlog: BacklogNFR | None = None,
) -> _Searched:
    """One search under its own seeds: bracket by doubling up (or halving down) from
    ``start``, then bisect to ``tolerance``."""
    profile = spec.workload.profile
    assert profile is not None
    steps: list[SpikeStep] = []

    def holds(factor: float) -> bool:
        changed = with_phase_factor(profile, index, factor)
        run = spec.with_changes({"workload.profile": changed.model_dump(by_alias=True)})
        result = transient(
            run,
            replications=replications,
            seed=seed + SEARCH_SEED_STRIDE * search,
            slos=judged,
        )
        broken = _broken(result, backlog)
        steps.append(SpikeStep(search, factor, not broken, broken))
        return not broken

    low, high = math.nan, math.nan
    if holds(start):
        low, high = start, 2 * start
        for _ in range(MAX_DOUBLINGS):
            if high > max_factor or not holds(high):
                break
            low, high = high, 2 * high
        else:
            high = math.nan
    else:
        high, low = start, start / 2
        for _ in range(MAX_DOUBLINGS):
            if holds(low):
                break
            high, low = low, low / 2
        else:
            low = math.nan
    if math.isnan(low):
        return _Searched(0.0, 0.0, True, tuple(steps))
    if math.isnan(high) or high > max_factor:
        return _Searched(low, 0.0, False, tuple(steps))  # held at every factor: a lower bound
    while high - low > tolerance * low:
        middle = (low + high) / 2
        if holds(middle):
            low = middle
        else:
            high = middle
    return _Searched((low + high) / 2, (high - low) / 2, False, tuple(steps))
