"""Paired comparison of candidates: evidence, gates, a decision matrix and a recommendation.

:func:`compare` takes a scenario (or a mapping of candidates) and, for every candidate:

1. **Measures it at peak load** with R replications under seeds ``seed … seed + R − 1`` — the
   same seeds for every candidate. The engine derives each random stream from the seed, so
   every candidate sees identical arrival times (common random numbers, CRN). Differences are
   then *paired*: for each replication ``r`` the difference ``d_r = X_candidate,r − X_baseline,r``
   and the 95% CI is the Student-t interval over the R values ``d_r`` (the paired-t interval).
   Because both members of a pair share the arrivals, much of the noise cancels and the paired
   interval is far narrower than one from independent runs. A candidate compared with itself
   gives ``d_r = 0`` exactly for every ``r`` — same spec, same seed, same sample path — so its
   interval is ``[0, 0]``. Relative differences ("38% ± 4% lower") are the paired-t interval of
   the per-replication ratios ``X_candidate,r / X_baseline,r − 1``.
2. **Pulls it** (:func:`~scaleplan.experiments.pull`) for its sustainable limit under the
   scenario's SLOs, then its **runway** under the growth rate and its **cost**.
3. **Checks every NFR** (:func:`~scaleplan.experiments.check`) at peak, against the limit, the
   growth and the budget. Any *fail* is a **hard gate**: the candidate is shown but cannot be
   recommended. *Inconclusive* verdicts do not gate; they are named in the reasons as risks.
4. **Scores** it on the scenario's weighted criteria (:data:`scaleplan.spec.CRITERIA`). Each
   criterion's score is relative to the best candidate that passes the gates (ratio scaling:
   ``best / value`` when lower is better, ``value / best`` when higher is better, 0 for a value
   that is missing or on the wrong side of 0); the runway counts at most the growth horizon,
   since months beyond it buy nothing. The weighted sum is the score.

The **Pareto frontier** is the set of stable candidates that no other candidate beats on both
monthly cost (at today's load) and p99 at peak. The **recommendation** is the best-scoring
candidate that passes every gate, with the reasons in words; when none passes, none is
recommended, the candidates are ranked by a stated rule and each is told what would make it pass
(:mod:`scaleplan.experiments.shortfall`). Every failed verdict carries its cause in words naming
the component and the figure (a refusal's load factor, the peak against the limit and the
bottleneck). A candidate refused at peak fails its SLOs; its headroom, runway and cost are still
judged from its limit and the cost model.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from scaleplan.experiments._common import (
    ExecutorLike,
    Progress,
    Run,
    clean,
    default_executor,
    replicate,
    submit_all,
)
from scaleplan.experiments.cost import CostResult, cost
from scaleplan.experiments.growth import RunwayResult, runway
from scaleplan.experiments.nfr import Verdict, check, show_value
from scaleplan.experiments.precision import (
    CAP_FACTOR,
    MIN_SEARCHES,
    Decision,
    LimitTarget,
    Stopping,
    decide,
    limit_target,
    peak_metric,
)
from scaleplan.experiments.pull import PullResult, pull
from scaleplan.experiments.pull_users import UsersPullResult, pull_users
from scaleplan.experiments.shortfall import RANK_RULE, needs, rank, shortfall
from scaleplan.experiments.transient import (
    TransientResult,
    backlog_not_evaluated,
    backlog_verdicts,
    transient,
    with_profile,
)
from scaleplan.metrics import proportion_ci, replication_ci, replication_quantile_ci
from scaleplan.result import SimulationResult
from scaleplan.spec import (
    CRITERIA,
    HOURS_PER_MONTH,
    ArchitectureSpec,
    BacklogNFR,
    CostTableSpec,
    NFRSpec,
    ScenarioSpec,
)
from scaleplan.spec.profile import ProfileSpec

__all__ = [
    "CandidateResult",
    "CompareSettings",
    "ComparisonResult",
    "PairedDifference",
    "compare",
]

#: Metrics compared pairwise with the baseline: name → how to read it off a result.
PAIRED_METRICS = ("p99_ms", "mean_ms", "p50_ms", "error_rate")
#: Runway counted for scoring when there is no growth horizon.
RUNWAY_CAP_MONTHS = 120.0
#: An inconclusive verdict needing more than this many times the measurement's cap of
#: requests is called unsettleable within the budget rather than given a request count.
SETTLE_FACTOR = 10


def _half_width_percent(half: float) -> str:
    """A CI's half-width in percent: whole percents, or one significant digit when it would
    round to 0 (``± 0%`` reads as an exact figure)."""
    percent = 100 * half
    return f"{percent:.0f}" if percent >= 0.5 or percent == 0 else f"{percent:.1g}"


@dataclass(frozen=True)
class PairedDifference:
    """``candidate − baseline`` for one metric under common random numbers.

    ``ci95`` is the paired-t interval of the per-replication differences; ``relative`` and
    ``relative_ci95`` the same for the per-replication ratios minus 1. ``identical`` is True
    when every per-replication difference is exactly 0 (the same sample path).
    """

    metric: str
    candidate: str
    baseline: str
    candidate_mean: float
    baseline_mean: float
    difference: float
    ci95: tuple[float, float]
    relative: float
    relative_ci95: tuple[float, float]
    replications: int
    identical: bool

    @property
    def significant(self) -> bool:
        """Whether the interval excludes 0."""
        low, high = self.ci95
        return not (low <= 0.0 <= high) if math.isfinite(low) and math.isfinite(high) else False

    def sentence(self) -> str:
        """E.g. ``lb-cluster's p99 is 38% ± 4% lower than monolith's``."""
        label = self.metric.removesuffix("_ms").replace("_", " ")
        if self.identical:
            return f"{self.candidate}'s {label} equals {self.baseline}'s in every replication"
        low, high = self.relative_ci95
        if not (math.isfinite(low) and math.isfinite(high)):
            return f"{self.candidate}'s {label} cannot be compared with {self.baseline}'s"
        half = _half_width_percent((high - low) / 2.0)
        if low <= 0.0 <= high:
            return (
                f"{self.candidate}'s {label} is not distinguishable from {self.baseline}'s "
                f"({100 * self.relative:+.0f}% ± {half}%)"
            )
        direction = "lower" if self.relative < 0 else "higher"
        return (
            f"{self.candidate}'s {label} is {100 * abs(self.relative):.0f}% ± {half}% "
            f"{direction} than {self.baseline}'s"
        )

    def records(self) -> list[dict[str, Any]]:
        """One flat row (intervals split into ``_low`` / ``_high`` columns)."""
        row = self.to_dict()
        row["ci95_low"], row["ci95_high"] = row.pop("ci95")
        row["relative_ci95_low"], row["relative_ci95_high"] = row.pop("relative_ci95")
        return [row]

    def to_dict(self) -> dict[str, Any]:
        return clean(
            {
                "metric": self.metric,
                "candidate": self.candidate,
                "baseline": self.baseline,
                "candidate_mean": self.candidate_mean,
                "baseline_mean": self.baseline_mean,
                "difference": self.difference,
                "ci95": self.ci95,
                "relative": self.relative,
                "relative_ci95": self.relative_ci95,
                "replications": self.replications,
                "identical": self.identical,
                "significant": self.significant,
                "sentence": self.sentence(),
            }
        )


@dataclass(frozen=True)
class CandidateResult:
    """Everything measured about one candidate, its verdicts and its place in the decision."""

    name: str
    description: str
    stable_at_peak: bool
    metrics: dict[str, float]
    metrics_ci95: dict[str, tuple[float, float]]
    verdicts: tuple[Verdict, ...]
    pull: PullResult | None
    runway: RunwayResult | None
    cost: CostResult | None
    values: dict[str, float]
    scores: dict[str, float]
    score: float
    gated: bool
    gate_reasons: tuple[str, ...]
    pareto: bool
    requests: int
    #: How its measurement at peak ended: replications, requests, stop reason, figures.
    measurement: dict[str, Any] = field(default_factory=dict)
    #: A closed workload's tractor pull over users (its ``pull`` is then None).
    users_pull: UsersPullResult | None = None
    #: Its run through the scenario's load profile (None without one): the per-window
    #: verdicts among ``verdicts``, the series, scaling, backlog and the cost of the event.
    transient: TransientResult | None = None
    #: With a load profile, the latency and error SLOs as measured at the steady peak: shown,
    #: not gates (the profile's verdicts are, in ``verdicts``).
    peak_slo_verdicts: tuple[Verdict, ...] = ()

    def verdict(self, nfr: str) -> Verdict | None:
        """The verdict whose ``nfr`` text is ``nfr`` (None if absent)."""
        return next((v for v in self.verdicts if v.nfr == nfr), None)

    def at_peak(self, nfr: str) -> Verdict | None:
        """The verdict on ``nfr`` measured at the steady peak, gate or not (None if absent)."""
        return next((v for v in self.peak_slo_verdicts if v.nfr == nfr), None) or self.verdict(nfr)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "stable_at_peak": self.stable_at_peak,
            "metrics": clean(self.metrics),
            "metrics_ci95": clean(self.metrics_ci95),
            "verdicts": [verdict.to_dict() for verdict in self.verdicts],
            "pull": None if self.pull is None else _pull_summary(self.pull),
            "users_pull": None if self.users_pull is None else _users_pull_summary(self.users_pull),
            "runway": None if self.runway is None else self.runway.to_dict(),
            "cost": None if self.cost is None else self.cost.to_dict(),
            "values": clean(self.values),
            "scores": clean(self.scores),
            "score": clean(self.score),
            "gated": self.gated,
            "gate_reasons": list(self.gate_reasons),
            "pareto": self.pareto,
            "requests": self.requests,
            "measurement": clean(self.measurement),
            "profile": None if self.transient is None else self.transient.to_dict(),
            "peak_slo_verdicts": [verdict.to_dict() for verdict in self.peak_slo_verdicts],
        }

    def records(self) -> list[dict[str, Any]]:
        """One flat row (see :meth:`record`)."""
        return [self.record()]

    def record(self) -> dict[str, Any]:
        """One flat row: metrics at peak, limit, runway, cost, scores and gate."""
        row: dict[str, Any] = {"name": self.name, "stable_at_peak": self.stable_at_peak}
        for key, value in self.metrics.items():
            row[key] = value
            low, high = self.metrics_ci95.get(key, (math.nan, math.nan))
            row[f"{key}_ci95_low"], row[f"{key}_ci95_high"] = low, high
        if self.pull is not None:
            row["limit_per_s"] = self.pull.limit_per_s
            row["limit_ci95_low"], row["limit_ci95_high"] = self.pull.limit_ci95
            row["bottleneck"] = self.pull.bottleneck
        if self.users_pull is not None:
            row["limit_users"] = self.users_pull.limit_users
            row["limit_users_ci95_low"], row["limit_users_ci95_high"] = self.users_pull.limit_ci95
            row["limit_per_s"] = self.users_pull.throughput_per_s
            row["bottleneck"] = self.users_pull.bottleneck
        if self.runway is not None:
            row["runway_months"] = self.runway.months
            row["breach_month"] = self.runway.breach_month
        if self.transient is not None and self.transient.event_cost is not None:
            row["event_cost"] = self.transient.event_cost.total.mean
        if self.cost is not None:
            row["cost_per_month"] = self.cost.per_month_today
            row["cost_per_month_peak"] = self.cost.per_month_peak
            row["cost_per_million"] = self.cost.per_million_requests
        for key, value in self.scores.items():
            row[f"score.{key}"] = value
        row["score"] = self.score
        row["gated"] = self.gated
        row["pareto"] = self.pareto
        for verdict in self.verdicts:
            row[f"verdict.{verdict.nfr}"] = verdict.status
        return clean(row)


@dataclass(frozen=True)
class ComparisonResult:
    """The comparison of candidates (see the module docstring)."""

    title: str
    context: dict[str, Any]
    seed: int
    replications: int
    requests: int
    today_rate_per_s: float
    peak_rate_per_s: float
    growth_per_month: float
    baseline: str
    currency: str
    weights: dict[str, float]
    slos: tuple[str, ...]
    candidates: tuple[CandidateResult, ...]
    differences: tuple[PairedDifference, ...]
    pareto: tuple[str, ...]
    recommended: str | None
    reasons: tuple[str, ...]
    checklist: tuple[dict[str, Any], ...] = field(default=())
    simulated_requests: int = 0
    stopping: str = "fixed"
    ci_precision: float = math.nan
    #: A closed workload's users today and at peak (its rates above are then NaN: users
    #: send what the system lets them, each candidate's throughput is in its metrics).
    today_users: int | None = None
    peak_users: int | None = None
    #: When no candidate passes: each one's rank by :data:`~scaleplan.experiments.shortfall.
    #: RANK_RULE`, its failed gates, its shortfall and what would make it pass.
    ranking: tuple[dict[str, Any], ...] = ()

    @property
    def closed(self) -> bool:
        """Whether the load is users who think between requests, not a rate."""
        return self.peak_users is not None

    @property
    def peak_text(self) -> str:
        """The peak load in words: ``225 requests/s`` or ``80 users``."""
        if self.peak_users is not None:
            return load_text(self.peak_users, closed=True)
        return load_text(self.peak_rate_per_s, closed=False)

    def candidate(self, name: str) -> CandidateResult:
        for candidate in self.candidates:
            if candidate.name == name:
                return candidate
        raise KeyError(name)

    def difference(self, candidate: str, metric: str = "p99_ms") -> PairedDifference:
        for difference in self.differences:
            if difference.candidate == candidate and difference.metric == metric:
                return difference
        raise KeyError((candidate, metric))

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (NaN written as ``null``)."""
        return {
            "title": self.title,
            "context": clean(self.context),
            "seed": self.seed,
            "replications": self.replications,
            "requests": self.requests,
            "workload": "closed" if self.closed else "open",
            "today_rate_per_s": clean(self.today_rate_per_s),
            "peak_rate_per_s": clean(self.peak_rate_per_s),
            "today_users": self.today_users,
            "peak_users": self.peak_users,
            "growth_per_month": clean(self.growth_per_month),
            "baseline": self.baseline,
            "currency": self.currency,
            "weights": clean(self.weights),
            "slos": list(self.slos),
            "candidates": [candidate.to_dict() for candidate in self.candidates],
            "differences": [difference.to_dict() for difference in self.differences],
            "decision_matrix": self.matrix_records(),
            "pareto": list(self.pareto),
            "recommended": self.recommended,
            "reasons": list(self.reasons),
            "ranking": clean(list(self.ranking)),
            "checklist": clean(list(self.checklist)),
            "simulated_requests": self.simulated_requests,
            "stopping": self.stopping,
            "ci_precision": clean(self.ci_precision),
        }

    def records(self) -> list[dict[str, Any]]:
        """One flat row per candidate."""
        return [candidate.record() for candidate in self.candidates]

    def matrix_records(self) -> list[dict[str, Any]]:
        """The decision matrix: one row per candidate, value and score per criterion."""
        rows = []
        for candidate in self.candidates:
            row: dict[str, Any] = {"candidate": candidate.name}
            for criterion in self.weights:
                row[criterion] = candidate.values.get(criterion, math.nan)
                row[f"{criterion}.score"] = candidate.scores.get(criterion, math.nan)
            row["score"] = candidate.score
            row["gated"] = candidate.gated
            row["gate_reasons"] = "; ".join(candidate.gate_reasons)
            row["recommended"] = candidate.name == self.recommended
            rows.append(clean(row))
        return rows

    def difference_records(self) -> list[dict[str, Any]]:
        """The paired differences, one flat row each."""
        return [row for difference in self.differences for row in difference.records()]


def _users_pull_summary(result: UsersPullResult) -> dict[str, Any]:
    data = result.to_dict()
    data.pop("steps")
    return data


def _pull_summary(result: PullResult) -> dict[str, Any]:
    data = result.to_dict()
    data.pop("steps")
    data.pop("at_limit")
    return data


# --------------------------------------------------------------------------- the work


@dataclass(frozen=True)
class _Plan:
    names: tuple[str, ...]
    specs: dict[str, ArchitectureSpec]
    descriptions: dict[str, str]
    nfrs: NFRSpec
    seed: int
    replications: int
    requests: int
    today: float
    peak: float
    growth: float
    horizon: float | None
    costs: CostTableSpec
    weights: dict[str, float]
    baseline: str
    pull_replications: int
    pull_requests: int
    precision: float
    stopping: Stopping
    title: str
    context: dict[str, Any]
    #: A closed workload: ``today`` and ``peak`` are users, the pull is over users.
    closed: bool = False
    #: The scenario's load profile each candidate also runs through (over ``today``), and
    #: the replications of that transient run; None: no profile, or left out.
    profile: ProfileSpec | None = None
    profile_replications: int = 0

    def load_text(self, load: float) -> str:
        """``90 requests/s`` or, for a closed workload, ``80 users``."""
        return load_text(load, self.closed)

    def at_peak(self, spec: ArchitectureSpec) -> tuple[ArchitectureSpec, float | None]:
        """The spec and the rate to simulate it at peak: a closed workload's spec with its
        peak users (and no rate), an open one's spec at the peak rate."""
        if self.closed:
            users = round(self.peak)
            if users == spec.workload.total_users:
                return spec, None  # its own users (classes may give theirs)
            return spec.with_changes({"workload.users": users}), None
        return spec, self.peak


def rate_text(rate: float) -> str:
    """``1,670 requests/s``, ``31.2 requests/s``, ``0.5 requests/s``: whole numbers from 100
    on, three significant digits below."""
    shown = f"{rate:,.0f}" if abs(rate) >= 100 else f"{rate:.3g}"
    return f"{shown} requests/s"


def load_text(load: float, closed: bool) -> str:
    """A load in words: ``90 requests/s``, or ``80 users`` for a closed workload."""
    if closed:
        return f"{load:,.0f} user" + ("" if round(load) == 1 else "s")
    return f"{load:g} requests/s"


def _measure(
    spec: ArchitectureSpec, seed: int, replications: int, rate: float | None, requests: int
) -> list[Run]:
    return replicate(spec, seed=seed, replications=replications, rate_per_s=rate, requests=requests)


def _pull_users(
    spec: ArchitectureSpec, nfrs: NFRSpec, seed: int, replications: int, requests: int
) -> UsersPullResult:
    """A closed workload's pull over users: ``replications`` searches of ``requests`` per
    step (its budget is fixed: the precision-driven stopping applies to the open pull)."""
    return pull_users(spec, nfrs, seed=seed, requests=requests, replications=replications)


def _through_profile(
    spec: ArchitectureSpec,
    profile: ProfileSpec,
    today_per_s: float,
    replications: int,
    seed: int,
    nfrs: NFRSpec,
    costs: CostTableSpec,
    name: str,
) -> TransientResult:
    """One candidate through the scenario's load profile over today's rate (a pool's task)."""
    return transient(
        with_profile(spec, profile, today_per_s),
        replications=replications,
        seed=seed,
        slos=nfrs.slos,
        costs=costs,
        candidate=name,
    )


def _pull(
    spec: ArchitectureSpec,
    nfrs: NFRSpec,
    seed: int,
    replications: int,
    requests: int,
    precision: float,
    target: LimitTarget | None = None,
) -> PullResult:
    """The fixed budget's pull (``target`` None) or the precision-driven one: bracketed from
    the analytic limit, searching until ``target`` says enough, at most ``CAP_FACTOR`` times
    the budget's searches."""
    if target is None:
        return pull(
            spec,
            nfrs,
            seed=seed,
            requests=requests,
            replications=replications,
            precision=precision,
            curve=(),
            bracket="bound",
            workers=1,  # already one task of the comparison's pool
        )
    return pull(
        spec,
        nfrs,
        seed=seed,
        requests=requests,
        replications=replications * CAP_FACTOR,
        precision=precision,
        curve=(),
        bracket="analytic",
        enough=target.reason,
        min_replications=MIN_SEARCHES,
        workers=1,  # already one task of the comparison's pool
    )


@dataclass(frozen=True)
class CompareSettings:
    """What a comparison measures and judges by. ``None`` keeps the scenario's own value (or,
    for candidates given directly, the default): seeds ``seed … seed + replications − 1``, each
    run of ``requests``; the load candidates are measured and checked at
    (``peak_rate_per_s``), today's mean load (for cost) and the monthly growth (a fraction);
    prices; criterion → weight (see :data:`scaleplan.spec.CRITERIA`); the candidate others are
    compared with; and the tractor pull's budget (0 replications: no pull, so no limit, runway
    or headroom against the limit)."""

    nfrs: NFRSpec | Sequence[str] | None = None
    seed: int | None = None
    replications: int | None = None
    requests: int | None = None
    peak_rate_per_s: float | None = None
    today_rate_per_s: float | None = None
    growth_per_month: float | None = None
    costs: CostTableSpec | None = None
    weights: Mapping[str, float] | None = None
    baseline: str | None = None
    pull_replications: int | None = None
    pull_requests: int | None = None
    precision: float | None = None
    #: ``precision`` (sequential stopping, analytic pull bracket) or ``fixed`` (the budget);
    #: default: the scenario's ``run.stopping``, ``fixed`` for candidates given directly.
    stopping: str | None = None
    #: Target relative CI half-width under ``precision`` stopping (default: the scenario's).
    ci_precision: float | None = None
    #: Run each candidate through the scenario's ``workload.profile`` too (False: judge at the
    #: steady peak only, as without a profile), or through this profile (over today's rate;
    #: also for candidates given directly).
    profile: bool | ProfileSpec = True


def compare(
    scenario_or_candidates: ScenarioSpec | Mapping[str, ArchitectureSpec],
    settings: CompareSettings | None = None,
    *,
    workers: int | None = None,
    executor: ExecutorLike | None = None,
    progress: Progress | None = None,
) -> ComparisonResult:
    """Compare candidates under common random numbers and recommend one.

    Parameters
    ----------
    scenario_or_candidates : ScenarioSpec or mapping of name to ArchitectureSpec
        A loaded scenario (:func:`scaleplan.spec.load_scenario`) — everything else defaults
        to it — or candidates given directly (their own workloads then set the load).
    settings : CompareSettings, optional
        Overrides of the scenario's NFRs, seeds and budget, load, prices, weights, baseline
        and pull budget (default: all the scenario's own).
    workers : int, optional
        Local processes for the runs (default None: one per available core; 1: in this
        process). The numbers are the same whatever the workers: every run has its own seed.
    executor : executor-like, optional
        Run the work there instead (``concurrent.futures`` executor or Dask client).
    progress : callable, optional
        ``progress(done, total)`` as pieces of work finish.

    Examples
    --------
    >>> from scaleplan.spec import example_spec
    >>> spec = example_spec()
    >>> faster = spec.with_changes({"name": "faster", "components.api.concurrency": 2})
    >>> settings = CompareSettings(nfrs=["mean<=40ms"], replications=3, requests=2000,
    ...                            pull_replications=0)
    >>> result = compare({"one": spec, "two": faster}, settings)
    >>> result.recommended, result.difference("two", "mean_ms").relative < 0
    ('two', True)
    """
    plan = _plan(scenario_or_candidates, settings or CompareSettings())
    stopping = plan.stopping
    target = (
        limit_target(plan.nfrs, plan.peak, plan.growth, stopping.target, plan.weights)
        if stopping.mode == "precision"
        else None
    )
    # The first round: every candidate's pull and its minimum of replications (one task each,
    # so that a pool shares the work evenly); later rounds add replications where needed. The
    # pulls go first: they are the longest tasks, and a pool that starts them first ends sooner
    # (longest processing time first). The order changes no number: each task has its own seed,
    # and the outputs come back in the order of the tasks.
    tasks: list[tuple[Any, tuple[Any, ...]]] = []
    if plan.pull_replications > 0 and plan.closed:
        for name in plan.names:
            users_args = (
                plan.specs[name],
                plan.nfrs,
                plan.seed,
                plan.pull_replications,
                plan.pull_requests,
            )
            tasks.append((_pull_users, users_args))
    elif plan.pull_replications > 0:
        for name in plan.names:
            pull_args = (
                plan.specs[name],
                plan.nfrs,
                plan.seed,
                plan.pull_replications,
                plan.pull_requests,
                plan.precision,
                target,
            )
            tasks.append((_pull, pull_args))
    if plan.profile is not None:
        for name in plan.names:
            profile_args = (
                plan.specs[name],
                plan.profile,
                plan.today,
                plan.profile_replications,
                plan.seed,
                plan.nfrs,
                plan.costs,
                name,
            )
            tasks.append((_through_profile, profile_args))
    for name in plan.names:
        spec, rate = plan.at_peak(plan.specs[name])
        for index in range(stopping.minimum):
            tasks.append((_measure, (spec, plan.seed + index, 1, rate, plan.requests)))
    counted = _Counter(progress, len(tasks))
    pool = default_executor(workers, len(tasks)) if executor is None else None
    runs: dict[str, list[Run]] = {name: [] for name in plan.names}
    pulls: dict[str, PullResult | None] = {}
    users_pulls: dict[str, UsersPullResult | None] = {}
    decisions: dict[str, Decision] = {}
    transients: dict[str, TransientResult] = {}
    try:
        per_task = iter(submit_all(executor or pool, tasks, counted.report))
        for name in plan.names:
            pulled_any = next(per_task) if plan.pull_replications > 0 else None
            users_pulls[name] = pulled_any if plan.closed else None
            pulls[name] = None if plan.closed else pulled_any
        if plan.profile is not None:
            for name in plan.names:
                transients[name] = next(per_task)
        for name in plan.names:
            runs[name] = [next(per_task)[0] for _ in range(stopping.minimum)]
        while True:
            more: list[tuple[str, int]] = []
            for name in plan.names:
                if name in decisions:
                    continue
                pulled = pulls[name] or users_pulls[name]
                gated = (
                    target is not None and pulled is not None and target.gates(pulled.limit_ci95)
                )
                # Through a profile, its runs judge latency and errors: the peak's figures of
                # those are shown, not settled, and a certain fail there gates the candidate.
                through = transients.get(name)
                judged_elsewhere = PROFILE_JUDGED if through is not None else ()
                if through is not None:
                    gated = gated or any(
                        verdict.status == "fail"
                        for verdict in profile_verdicts(through, plan.nfrs.backlog)
                    )
                decision = decide(
                    stopping, runs[name], plan.nfrs, plan.weights, gated, judged_elsewhere
                )
                if decision.stop:
                    decisions[name] = decision
                else:
                    more += [
                        (name, len(runs[name]) + i)
                        for i in range(decision.next_total - len(runs[name]))
                    ]
            if not more:
                break
            counted.plan(len(more))
            round_tasks: list[tuple[Any, tuple[Any, ...]]] = []
            for name, index in more:
                spec, rate = plan.at_peak(plan.specs[name])
                round_tasks.append((_measure, (spec, plan.seed + index, 1, rate, plan.requests)))
            outputs = submit_all(executor or pool, round_tasks, counted.report)
            for (name, _), output in zip(more, outputs, strict=True):
                runs[name].append(output[0])
    finally:
        if pool is not None:
            pool.shutdown()
    return _assemble(plan, runs, pulls, decisions, users_pulls, transients)


class _Counter:
    """One progress count over several rounds of tasks (``done`` of all planned so far)."""

    def __init__(self, progress: Progress | None, planned: int) -> None:
        self.progress, self.planned, self.done = progress, planned, 0

    def plan(self, more: int) -> None:
        self.planned += more

    def report(self, _done: int, _total: int) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, self.planned)


def _plan(
    source: ScenarioSpec | Mapping[str, ArchitectureSpec], settings: CompareSettings
) -> _Plan:
    """The comparison's plan: the candidates, and each setting from ``settings`` or else the
    scenario's own (or the defaults for candidates given directly)."""
    nfrs = settings.nfrs
    if isinstance(source, ScenarioSpec):
        scenario = source
        specs = scenario.architectures()
        descriptions = {
            c.label: c.description or c.original.description for c in scenario.candidates
        }
        names = tuple(scenario.names)
        base_nfrs = scenario.nfrs
        run = scenario.run
        closed = scenario.workload.closed
        defaults: dict[str, Any] = {
            "seed": run.seed,
            "replications": run.replications,
            "requests": run.requests,
            "peak": scenario.workload.peak_users if closed else scenario.peak_rate_per_s,
            "today": scenario.workload.today_users if closed else scenario.today_rate_per_s,
            "growth": scenario.growth_per_month,
            "costs": scenario.costs,
            "weights": scenario.weights(),
            "baseline": scenario.baseline,
            "pull_replications": run.pull_replications,
            "pull_requests": run.pull_requests,
            "precision": run.precision,
            "stopping": run.stopping,
            "ci_precision": run.ci_precision,
        }
        profile = (
            settings.profile
            if isinstance(settings.profile, ProfileSpec)
            else (scenario.workload.profile if settings.profile else None)
        )
        title = scenario.title
        context = {
            "context": scenario.context,
            "problem": scenario.problem,
            "drivers": list(scenario.drivers),
            "consequences": list(scenario.consequences),
            "source": scenario.source,
        }
    else:
        specs = dict(source)
        if not specs:
            raise ValueError("compare needs at least one candidate")
        names = tuple(specs)
        descriptions = {name: spec.description for name, spec in specs.items()}
        base_nfrs = NFRSpec()
        first = specs[names[0]]
        closed = first.workload.closed
        if any(spec.workload.closed != closed for spec in specs.values()):
            raise ValueError(
                "compare needs candidates with the same kind of workload (all open or all closed)"
            )
        defaults = {
            "seed": 1,
            "replications": 5,
            "requests": 20_000,
            # As a scenario's default peak: a diurnal load's busiest slice, else the mean.
            "peak": (
                first.workload.total_users if closed else first.workload.busiest_hour_rate_per_s
            ),
            "today": None,
            "growth": 0.0,
            "costs": CostTableSpec(),
            "weights": {"p99_ms": 1.0},
            "baseline": names[0],
            "pull_replications": 3,
            "pull_requests": 10_000,
            "precision": 0.02,
            "stopping": "fixed",
            "ci_precision": 0.05,
        }
        title = "comparison of " + ", ".join(names)
        context = {}
        profile = settings.profile if isinstance(settings.profile, ProfileSpec) else None
    if nfrs is not None:
        base_nfrs = nfrs if isinstance(nfrs, NFRSpec) else NFRSpec.from_slos(tuple(nfrs))

    def pick(value: Any, key: str) -> Any:
        return defaults[key] if value is None else value

    chosen_weights = dict(pick(settings.weights, "weights"))
    unknown = [key for key in chosen_weights if key not in CRITERIA]
    if unknown:
        raise ValueError(f"unknown criteria {unknown}; expected some of {list(CRITERIA)}")
    total = math.fsum(chosen_weights.values())
    chosen_weights = {k: v / total for k, v in chosen_weights.items() if v > 0}
    if closed and profile is not None:
        raise ValueError(
            "a load profile multiplies an arrival rate: a closed workload (users) has none"
        )
    if closed and (settings.peak_rate_per_s is not None or settings.today_rate_per_s is not None):
        raise ValueError(
            "a closed workload's load is its users, not a rate: change workload.today.users "
            "and peak_factor instead of the peak or today's rate"
        )
    chosen_peak = float(pick(settings.peak_rate_per_s, "peak"))
    chosen_baseline = str(pick(settings.baseline, "baseline"))
    if chosen_baseline not in specs:
        raise ValueError(f"baseline {chosen_baseline!r} is not a candidate ({list(names)})")
    replications_value = int(pick(settings.replications, "replications"))
    if replications_value < 2:
        raise ValueError(
            f"paired comparison needs at least 2 replications (got {replications_value})"
        )
    horizon = base_nfrs.growth.horizon_months if base_nfrs.growth is not None else None
    mode = str(pick(settings.stopping, "stopping"))
    target = float(pick(settings.ci_precision, "ci_precision"))
    if mode not in ("precision", "fixed"):
        raise ValueError(f"stopping must be 'precision' or 'fixed' (got {mode!r})")
    if not 0 < target < 1:
        raise ValueError(f"ci_precision must be in (0, 1) (got {target})")
    return _Plan(
        names=names,
        specs=specs,
        descriptions=descriptions,
        nfrs=base_nfrs,
        seed=int(pick(settings.seed, "seed")),
        replications=replications_value,
        requests=int(pick(settings.requests, "requests")),
        today=float(pick(settings.today_rate_per_s, "today") or chosen_peak),
        peak=chosen_peak,
        growth=float(pick(settings.growth_per_month, "growth")),
        horizon=horizon,
        costs=pick(settings.costs, "costs"),
        weights=chosen_weights,
        baseline=chosen_baseline,
        pull_replications=int(pick(settings.pull_replications, "pull_replications")),
        pull_requests=int(pick(settings.pull_requests, "pull_requests")),
        precision=float(pick(settings.precision, "precision")),
        stopping=Stopping(
            "precision" if mode == "precision" else "fixed", target, replications_value
        ),
        title=title,
        context=context,
        closed=closed,
        profile=profile,
        profile_replications=replications_value if profile is not None else 0,
    )


_metric = peak_metric


def _measurement(plan: _Plan, runs: list[Run], decision: Decision | None) -> dict[str, Any]:
    """What the JSON states about a candidate's measurement at peak: its replications and
    requests, why it stopped, and the CI of each figure the stopping rule watched."""
    stopping = plan.stopping
    return {
        "stopping": stopping.mode,
        "replications": len(runs),
        "requests": sum(run.requests for run in runs),
        "stop": decision.reason if decision is not None else "fixed budget",
        "ci_precision": stopping.target,
        "min_replications": stopping.minimum,
        "cap_replications": stopping.cap,
        "cap_requests": plan.requests * stopping.cap,
        #: An inconclusive verdict's extra_requests is null beyond this (said in its cause).
        "settle_cap_requests": SETTLE_FACTOR * plan.requests * stopping.cap,
        "figures": [f.to_dict(stopping.target) for f in decision.figures] if decision else [],
    }


def _assemble(
    plan: _Plan,
    runs: dict[str, list[Run]],
    pulls: dict[str, PullResult | None],
    decisions: Mapping[str, Decision] | None = None,
    users_pulls: Mapping[str, UsersPullResult | None] | None = None,
    transients: Mapping[str, TransientResult] | None = None,
) -> ComparisonResult:
    partial: dict[str, dict[str, Any]] = {}
    for name in plan.names:
        spec = plan.specs[name]
        candidate_runs = runs[name]
        stable = all(run.stable for run in candidate_runs)
        results = [run.result for run in candidate_runs if run.result is not None]
        metrics: dict[str, float] = {}
        metrics_ci: dict[str, tuple[float, float]] = {}
        for metric in (*PAIRED_METRICS, "throughput_per_s"):
            if metric == "throughput_per_s":
                samples = [r.throughput_per_s for r in results]
            else:
                samples = [_metric(run, metric) for run in candidate_runs]
            if stable and len(samples) == len(candidate_runs) >= 2:
                # A percentile is a sketch's bin: its interval reaches the bins' edges.
                percentile = metric in ("p99_ms", "p50_ms")
                ci = replication_quantile_ci(samples) if percentile else replication_ci(samples)
                if metric == "error_rate":  # a share: its interval stays inside [0, 1]
                    ci = proportion_ci(ci, sum(r.requests.arrived for r in results))
                metrics[metric], metrics_ci[metric] = ci.mean, (ci.low, ci.high)
                if len(results) == 1 and metric in ("p99_ms", "p50_ms"):
                    # One replication: the percentile's own interval from its run's sections.
                    latency = results[0].latency_ms
                    metrics_ci[metric] = latency.percentile_ci95(metric.removesuffix("_ms"))
            else:
                metrics[metric], metrics_ci[metric] = math.nan, (math.nan, math.nan)
        pulled = pulls[name]
        users_pulled = (users_pulls or {}).get(name)
        # The limit in the load's own unit (requests/s, or users for a closed workload), and
        # the requests/s carried there (what prices per request and storage follow).
        limit = _Limit.of(pulled, users_pulled)
        growth_result = None
        if limit is not None:
            growth_result = runway(
                limit.load,
                plan.peak,
                plan.growth,
                limit_ci95=limit.ci95,
                horizon_months=plan.horizon,
                name=name,
            )
        today_per_s, peak_per_s = plan.today, plan.peak
        if plan.closed:
            # Users carry what the system lets them: the measured throughput at peak, and
            # today's from the analytic estimate at today's users (MVA).
            today_per_s = _today_throughput(plan, spec)
            peak_per_s = metrics["throughput_per_s"]
        through = (transients or {}).get(name)
        month_cost, cost_basis = _month_cost(plan, through)
        cost_result = cost(
            spec,
            plan.costs,
            today_per_s=today_per_s,
            peak_per_s=peak_per_s,
            limit_per_s=limit.per_s if limit is not None else None,
            growth_per_month=plan.growth,
            breach_month=growth_result.breach_month if growth_result is not None else None,
            retention=plan.nfrs.retention,
            candidate=name,
            running_replicas=_autoscaled_replicas(spec, results),
            settle=True,
        )
        verdict_input = results if results else []
        if candidate_runs and not results:
            first = candidate_runs[0]
            # Refused at peak: the SLOs fail; headroom, runway and cost are still judged from
            # the limit and the cost model, so that what it lacks can be said in figures.
            judged = check(
                [],
                plan.nfrs.model_copy(update={"slos": (), "availability": None}),
                limit_per_s=limit.load if limit is not None else None,
                limit_ci95=limit.ci95 if limit is not None else None,
                limit_requests=limit.requests if limit is not None else None,
                growth_per_month=plan.growth,
                cost_per_month=month_cost(cost_result),
                today_rate_per_s=today_per_s,
                load=plan.peak,
                load_unit=" users" if plan.closed else "/s",
                cost_basis=cost_basis,
            )
            verdicts = _unstable_verdicts(
                plan.nfrs, first.refused, first.cause or first.refused, judged
            )
        else:
            verdicts = check(
                verdict_input,
                plan.nfrs,
                limit_per_s=limit.load if limit is not None else None,
                limit_ci95=limit.ci95 if limit is not None else None,
                limit_requests=limit.requests if limit is not None else None,
                growth_per_month=plan.growth,
                cost_per_month=month_cost(cost_result),
                today_rate_per_s=today_per_s,
                load=plan.peak if plan.closed else None,
                load_unit=" users" if plan.closed else "/s",
                cost_basis=cost_basis,
            )
        if not stable and results:
            # Some replications were refused outright: every SLO fails already.
            unsettled = [run for run in candidate_runs if not run.stable]
            cause = f"unstable at peak load in {len(unsettled)} of {len(candidate_runs)} runs"
            why = _instability(unsettled[0])
            cause += f": {why}" if why else ""
            verdicts = [
                v
                if v.kind not in ("latency", "errors", "throughput")
                else Verdict(
                    v.nfr,
                    v.kind,
                    "fail",
                    v.measured,
                    v.ci95,
                    v.bound,
                    v.unit,
                    v.margin,
                    None,
                    "unstable at peak load in some replications",
                    cause,
                )
                for v in verdicts
            ]
        verdicts = _with_capacity_causes(verdicts, limit, plan, pulled)
        verdicts = _unsettleable(verdicts, plan.requests * plan.stopping.cap)
        peak_slos: list[Verdict] = []
        if through is not None:
            # The load that comes decides the latency and error SLOs: a steady peak from
            # empty never lets an autoscaler act or a backlog drain. Their figures at the
            # steady peak stay, as information.
            peak_slos = [v for v in verdicts if v.kind in PROFILE_JUDGED]
            kept = [v for v in verdicts if v.kind not in PROFILE_JUDGED]
            verdicts = [*kept, *profile_verdicts(through, plan.nfrs.backlog)]
        elif plan.nfrs.backlog is not None:
            left_out = "judged only through the load profile, which this comparison left out"
            verdicts = [*verdicts, *backlog_not_evaluated(plan.nfrs.backlog, left_out)]
        failed = tuple(v.reason() for v in verdicts if v.status == "fail")
        values = {
            "p99_ms": metrics["p99_ms"],
            "mean_ms": metrics["mean_ms"],
            "error_rate": metrics["error_rate"],
            "cost_per_month_with_profile": month_cost(cost_result)
            if cost_basis != PEAK_COST_BASIS
            else math.nan,
            "cost_per_month": cost_result.per_month_today,
            "cost_per_million": cost_result.per_million_requests,
            "headroom": 1.0 - plan.peak / limit.load
            if limit is not None and limit.load > 0
            else math.nan,
            "runway_months": growth_result.months if growth_result is not None else math.nan,
            "limit_per_s": limit.per_s if limit is not None else math.nan,
        }
        partial[name] = {
            "stable": stable,
            "metrics": metrics,
            "metrics_ci": metrics_ci,
            "verdicts": tuple(verdicts),
            "pull": pulled,
            "users_pull": users_pulled,
            "runway": growth_result,
            "cost": cost_result,
            "values": values,
            "gate": failed,
            "requests": sum(run.requests for run in candidate_runs)
            + (limit.simulated if limit is not None else 0),
            "measurement": _measurement(plan, candidate_runs, (decisions or {}).get(name)),
            "peak_slos": tuple(peak_slos),
        }
    scores = _scores(plan, partial)
    frontier = _pareto(partial)
    candidates = tuple(
        CandidateResult(
            name=name,
            description=plan.descriptions.get(name, ""),
            stable_at_peak=partial[name]["stable"],
            metrics=partial[name]["metrics"],
            metrics_ci95=partial[name]["metrics_ci"],
            verdicts=partial[name]["verdicts"],
            pull=partial[name]["pull"],
            runway=partial[name]["runway"],
            cost=partial[name]["cost"],
            values=partial[name]["values"],
            scores=scores[name],
            score=math.fsum(plan.weights[k] * scores[name][k] for k in plan.weights),
            gated=bool(partial[name]["gate"]),
            gate_reasons=partial[name]["gate"],
            pareto=name in frontier,
            requests=partial[name]["requests"],
            measurement=partial[name]["measurement"],
            users_pull=partial[name]["users_pull"],
            transient=(transients or {}).get(name),
            peak_slo_verdicts=partial[name]["peak_slos"],
        )
        for name in plan.names
    )
    # Pairs are the seeds both members ran: candidates may stop after different counts.
    differences = tuple(
        _paired(
            runs[name][: len(runs[plan.baseline])],
            runs[plan.baseline][: len(runs[name])],
            metric,
            name,
            plan.baseline,
        )
        for name in plan.names
        if name != plan.baseline
        for metric in PAIRED_METRICS
    )
    recommended, reasons = _recommend(plan, candidates, differences, frontier)
    ranking = () if recommended is not None else _ranking(plan, candidates)
    return ComparisonResult(
        title=plan.title,
        context=plan.context,
        seed=plan.seed,
        replications=max(len(candidate_runs) for candidate_runs in runs.values()),
        requests=plan.requests,
        today_rate_per_s=math.nan if plan.closed else plan.today,
        peak_rate_per_s=math.nan if plan.closed else plan.peak,
        today_users=round(plan.today) if plan.closed else None,
        peak_users=round(plan.peak) if plan.closed else None,
        growth_per_month=plan.growth,
        baseline=plan.baseline,
        currency=plan.costs.currency,
        weights=dict(plan.weights),
        slos=tuple(slo.text for slo in plan.nfrs.slos),
        candidates=candidates,
        differences=differences,
        pareto=tuple(name for name in plan.names if name in frontier),
        recommended=recommended,
        reasons=tuple(reasons),
        checklist=tuple(item.model_dump() for item in plan.nfrs.qualitative),
        simulated_requests=sum(candidate.requests for candidate in candidates),
        stopping=plan.stopping.mode,
        ci_precision=plan.stopping.target,
        ranking=ranking,
    )


#: What the cost NFR is judged on without a load profile that says how often it happens.
PEAK_COST_BASIS = "the cost model at peak load (no sampling error)"


def _month_cost(
    plan: _Plan, through: TransientResult | None
) -> tuple[Callable[[CostResult], float], str]:
    """How the cost NFR prices a month, and its words: the cost model at peak load, or, with a
    load profile that says how often it happens (``per_month``), today's month plus each
    time's extra cost over today's load (the event's replica-hours and requests priced, less
    what today's load costs for as long) — never the peak priced as a whole month."""
    profile = plan.profile
    event = through.event_cost if through is not None else None
    if profile is None or profile.per_month is None or event is None or through is None:
        return (lambda priced: priced.per_month_peak), PEAK_COST_BASIS
    times, duration = profile.per_month, through.duration_s
    share = duration / (HOURS_PER_MONTH * 3600.0)

    def month(priced: CostResult) -> float:
        extra = max(0.0, event.total.mean - priced.per_month_today * share)
        return priced.per_month_today + times * extra

    basis = (
        f"today's month plus {times:g} load profiles a month, each priced from the replica-hours "
        f"and requests it ran, less today's cost for its {duration / 60:g} minutes"
    )
    return month, basis


#: The kinds of NFR a load profile judges in place of the steady peak.
PROFILE_JUDGED = ("latency", "errors")


def profile_verdicts(result: TransientResult, backlog: BacklogNFR | None = None) -> list[Verdict]:
    """The SLOs judged through the load profile, each named as such, so that they sit beside
    the same SLOs at the steady peak as gates of their own: a latency SLO in every window
    (``p99<=800ms in every 60 s window of the load profile``: its worst window), an error SLO
    over every request of the profile (``errors<=0.5% over the load profile``: the budget);
    and the backlog NFR, judged only there (its drain after the peak phase, its largest
    queue: :func:`~scaleplan.experiments.transient.backlog_verdicts`)."""
    window = f"{result.window_s:g} s"
    latency = [
        replace(verdict, nfr=f"{verdict.nfr} in every {window} window of the load profile")
        for verdict in result.verdicts()
        if verdict.kind == "latency"
    ]
    errors = [replace(v, nfr=f"{v.nfr} over the load profile") for v in result.overall]
    backlogs = backlog_verdicts(result, backlog) if backlog is not None else []
    return [*latency, *errors, *backlogs]


@dataclass(frozen=True)
class _Limit:
    """A candidate's sustainable limit in its load's unit (requests/s, or users), its CI,
    the requests/s carried there, the requests its searches judged by and all they simulated."""

    load: float
    ci95: tuple[float, float]
    per_s: float
    requests: int
    simulated: int

    @staticmethod
    def of(pulled: PullResult | None, users_pulled: UsersPullResult | None) -> _Limit | None:
        if pulled is not None:
            return _Limit(
                pulled.limit_per_s,
                pulled.limit_ci95,
                pulled.limit_per_s,
                pulled.search_requests,
                pulled.requests,
            )
        if users_pulled is not None:
            simulated = sum(step.requests for step in users_pulled.steps)
            return _Limit(
                users_pulled.limit_users,
                users_pulled.limit_ci95,
                users_pulled.throughput_per_s,
                simulated,
                simulated,
            )
        return None


def _today_throughput(plan: _Plan, spec: ArchitectureSpec) -> float:
    """The requests/s a closed workload's users send today, from the analytic estimate
    (exact MVA for a product-form network, an approximation otherwise)."""
    from scaleplan.analytic import estimate

    today = spec.with_changes({"workload.users": max(1, round(plan.today))})
    return float(estimate(today).throughput_per_s)


def _unsettleable(verdicts: Sequence[Verdict], cap_requests: int) -> list[Verdict]:
    """Inconclusive verdicts whose extra requests exceed :data:`SETTLE_FACTOR` × the cap: no
    count is promised; the cause says why (how close the estimate sits to the bound)."""
    limit = SETTLE_FACTOR * cap_requests
    judged = []
    for verdict in verdicts:
        extra = verdict.extra_requests
        if verdict.status != "inconclusive" or extra is None or extra <= limit:
            judged.append(verdict)
            continue
        low, high = verdict.ci95
        shown = show_value(verdict.measured, verdict.unit)
        where = f"its estimate {shown} sits"
        if verdict.bound and math.isfinite(verdict.margin):
            gap = 100 * abs(verdict.margin / verdict.bound)
            where += f" {gap:.2g}%" if gap < 10 else f" {gap:,.0f}%"
            where += f" from the bound {show_value(verdict.bound, verdict.unit)}"
        else:
            where += " at the bound"
        if math.isfinite(low) and math.isfinite(high):
            where += (
                f", inside a 95% CI of {show_value(low, verdict.unit)} to "
                f"{show_value(high, verdict.unit)}"
            )
        cause = (
            f"cannot be settled within the budget: {where}; settling it would take about "
            f"{extra:,} more simulated requests, beyond {SETTLE_FACTOR}× the cap of "
            f"{cap_requests:,} ({limit:,})"
        )
        judged.append(replace(verdict, extra_requests=None, cause=cause))
    return judged


def _instability(run: Run) -> str:
    """Why a run did not sustain its load, naming the component: its refusal, or where its
    queues ran away."""
    if run.result is None:
        return run.cause or run.refused
    unstable = run.result.unstable
    return f"{unstable.component}: {unstable.reason}" if unstable is not None else ""


def _with_capacity_causes(
    verdicts: Sequence[Verdict],
    limit: _Limit | None,
    plan: _Plan,
    pulled: PullResult | None,
) -> list[Verdict]:
    """Failed headroom and runway verdicts with their cause in words: the sustainable limit
    against the peak, what the gate needs, and the component that binds there."""
    if limit is None or not math.isfinite(limit.load):
        return list(verdicts)
    given = plan.nfrs.growth.percent_per_month if plan.nfrs.growth is not None else None
    growth = given / 100.0 if given is not None else plan.growth
    peak, found = _load_words(plan, plan.peak), _load_words(plan, limit.load)
    tail = ""
    if pulled is not None and pulled.failure_mode == "unreachable":
        tail = f": {pulled.failure_detail}"
    if pulled is not None and pulled.bottleneck:
        tail += f"; bottleneck {pulled.bottleneck}"
        if pulled.failure_mode and pulled.failure_mode != "unreachable":
            tail += f" (beyond the limit it breaks by {pulled.failure_mode})"

    def cause(verdict: Verdict) -> str:
        if limit.load <= 0:
            return "no load meets the SLOs (a sustainable limit of 0)" + tail
        if limit.load < plan.peak:
            return (
                f"the peak {peak} is {plan.peak / limit.load:.2f}× the sustainable limit of {found}"
                + tail
            )
        ratio = f"the sustainable limit of {found} is {limit.load / plan.peak:.2f}× the peak {peak}"
        if verdict.kind == "headroom" and verdict.bound < 1:
            needed = f"{1 / (1 - verdict.bound):.2f}× a {100 * verdict.bound:g}% headroom needs"
        elif verdict.kind == "growth" and growth > 0:
            needed = (
                f"{(1 + growth) ** verdict.bound:.2f}× {verdict.bound:g} months of "
                f"{100 * growth:g}% monthly growth need"
            )
        else:
            return ratio + tail
        return f"{ratio}, short of the {needed}" + tail

    return [
        replace(verdict, cause=verdict.cause or cause(verdict))
        if verdict.status == "fail" and verdict.kind in ("headroom", "growth")
        else verdict
        for verdict in verdicts
    ]


def _load_words(plan: _Plan, load: float) -> str:
    return plan.load_text(load) if plan.closed else rate_text(load)


def _unstable_verdicts(
    nfrs: NFRSpec, reason: str, cause: str = "", judged: Sequence[Verdict] = ()
) -> list[Verdict]:
    """The verdicts of a candidate refused at peak: every SLO and availability fail with the
    refusal as their cause; ``judged`` (headroom, runway, cost … from the limit and the cost
    model) kept, a headroom without a limit failing for the refusal too."""
    cause = cause or reason
    verdicts = []
    for slo in nfrs.slos:
        unit = "ms" if slo.is_latency else ("per_s" if slo.unit == "per_s" else "fraction")
        kind = "latency" if slo.is_latency else slo.metric
        verdicts.append(
            Verdict(
                slo.text,
                kind,
                "fail",
                math.nan,
                (math.nan, math.nan),
                slo.bound,
                unit,
                math.nan,
                None,
                f"refused at peak load: {reason}",
                f"refused at peak load: {cause}",
            )
        )
    if nfrs.availability is not None:
        verdicts.append(
            Verdict(
                f"availability>={nfrs.availability.min_percent:g}%",
                "availability",
                "fail",
                math.nan,
                (math.nan, math.nan),
                nfrs.availability.min_percent / 100,
                "fraction",
                math.nan,
                None,
                f"refused at peak load: {reason}",
                f"refused at peak load: {cause}",
            )
        )
    kept = [v for v in judged if not (v.kind == "headroom" and v.status == "not evaluated")]
    if nfrs.headroom is not None and not any(v.kind == "headroom" for v in kept):
        verdicts.append(
            Verdict(
                f"headroom>={nfrs.headroom.min_percent:g}%",
                "headroom",
                "fail",
                math.nan,
                (math.nan, math.nan),
                nfrs.headroom.min_percent / 100,
                "fraction",
                math.nan,
                None,
                "no headroom: the peak load is beyond capacity",
                f"no headroom: the peak is beyond capacity ({cause})",
            )
        )
    return verdicts + kept


def _paired(
    candidate: list[Run], baseline: list[Run], metric: str, name: str, base: str
) -> PairedDifference:
    a = np.array([_metric(run, metric) for run in candidate], dtype=float)
    b = np.array([_metric(run, metric) for run in baseline], dtype=float)
    nan = (math.nan, math.nan)
    if not (np.isfinite(a).all() and np.isfinite(b).all()) or a.size < 2:
        return PairedDifference(
            metric,
            name,
            base,
            float(np.nanmean(a)) if np.isfinite(a).any() else math.nan,
            float(np.nanmean(b)) if np.isfinite(b).any() else math.nan,
            math.nan,
            nan,
            math.nan,
            nan,
            int(a.size),
            False,
        )
    differences = a - b
    ci = replication_ci(differences)
    identical = bool(np.all(differences == 0.0))
    if np.all(b > 0):
        relative = replication_ci(a / b - 1.0)
        rel, rel_ci = relative.mean, (relative.low, relative.high)
    elif identical:
        rel, rel_ci = 0.0, (0.0, 0.0)
    else:
        rel, rel_ci = math.nan, nan
    return PairedDifference(
        metric=metric,
        candidate=name,
        baseline=base,
        candidate_mean=float(a.mean()),
        baseline_mean=float(b.mean()),
        difference=ci.mean,
        ci95=(ci.low, ci.high),
        relative=rel,
        relative_ci95=rel_ci,
        replications=int(a.size),
        identical=identical,
    )


def _scores(plan: _Plan, partial: dict[str, dict[str, Any]]) -> dict[str, dict[str, float]]:
    eligible = [name for name in plan.names if not partial[name]["gate"]] or list(plan.names)
    cap = plan.horizon if plan.horizon is not None else RUNWAY_CAP_MONTHS
    scores: dict[str, dict[str, float]] = {name: {} for name in plan.names}
    for criterion in plan.weights:
        direction = CRITERIA[criterion]

        def value(name: str, criterion: str = criterion) -> float:
            raw = partial[name]["values"][criterion]
            if criterion == "runway_months" and not math.isnan(raw):
                return min(raw, cap)
            return float(raw)

        pool = [value(name) for name in eligible]
        usable = [
            v for v in pool if math.isfinite(v) and (v > 0 if direction == "higher" else v >= 0)
        ]
        for name in plan.names:
            v = value(name)
            if not usable or not math.isfinite(v):
                scores[name][criterion] = 0.0
            elif direction == "lower":
                best = min(usable)
                scores[name][criterion] = 1.0 if v <= best else (best / v if v > 0 else 0.0)
            else:
                best = max(usable)
                scores[name][criterion] = max(0.0, min(1.0, v / best)) if best > 0 else 0.0
    return scores


def _pareto(partial: dict[str, dict[str, Any]]) -> set[str]:
    points = {
        name: (data["values"]["cost_per_month"], data["values"]["p99_ms"])
        for name, data in partial.items()
        if data["stable"] and math.isfinite(data["values"]["p99_ms"])
    }
    frontier = set()
    for name, (cost_a, p99_a) in points.items():
        dominated = any(
            cost_b <= cost_a and p99_b <= p99_a and (cost_b < cost_a or p99_b < p99_a)
            for other, (cost_b, p99_b) in points.items()
            if other != name
        )
        if not dominated:
            frontier.add(name)
    return frontier


def _show(value: float, unit: str) -> str:
    if not math.isfinite(value):
        return "—" if math.isnan(value) else ("∞" if value > 0 else "-∞")
    if unit == "ms":
        return f"{value:.1f} ms"
    if unit == "fraction":
        return f"{100 * value:.2f}%"
    if unit == "months":
        return f"{value:.1f} months"
    if unit == "per_s":
        return f"{value:.1f}/s"
    if unit == "GB":
        return f"{value:,.0f} GB"
    return f"{value:,.0f}"


def profile_judged(comparison: ComparisonResult) -> str:
    """What a load profile judged in a comparison: ``latency and errors``, and the backlog
    when a backlog NFR was judged (for the gates tables' titles)."""
    backlog = any(v.kind == "backlog" for c in comparison.candidates for v in c.verdicts)
    return "latency, errors and backlog" if backlog else "latency and errors"


def _where_judged(plan: _Plan) -> str:
    """Where the gates were judged: ``at peak load (200 requests/s)``, or with a load profile
    ``through the load profile (latency and errors) and at peak load (200 requests/s)``."""
    peak = f"at peak load ({plan.load_text(plan.peak)})"
    if plan.profile is None:
        return peak
    judged = "latency, errors and backlog" if plan.nfrs.backlog else "latency and errors"
    return f"through the load profile ({judged}) and {peak}"


def _and(names: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _recommend(
    plan: _Plan,
    candidates: Sequence[CandidateResult],
    differences: Sequence[PairedDifference],
    frontier: set[str],
) -> tuple[str | None, list[str]]:
    passing = [c for c in candidates if not c.gated]
    reasons: list[str] = []
    if not passing:
        reasons.append(
            f"No candidate passes every hard NFR gate {_where_judged(plan)}; they are {RANK_RULE}."
        )
        for row in _ranking(plan, candidates):
            candidate = next(c for c in candidates if c.name == row["candidate"])
            count = row["failed_gates"]
            needed = "; ".join(row["needs"])
            reasons.append(
                f"{row['rank']}. {candidate.name} ({count} failed gate{'s' if count != 1 else ''}"
                f", score {candidate.score:.2f}): {'; '.join(candidate.gate_reasons)}."
                + (f" To pass, it {needed}." if needed else "")
            )
        reasons.append("Change the candidates or revisit the NFRs.")
        return None, reasons
    best = max(passing, key=lambda c: c.score)
    others = sorted((c for c in passing if c is not best), key=lambda c: -c.score)
    weights = ", ".join(f"{name} {100 * weight:.0f}%" for name, weight in plan.weights.items())
    excluded = [c.name for c in candidates if c.gated]
    tail = ""
    if excluded:
        verb = "does" if len(excluded) == 1 else "do"
        tail = f"; {_and(excluded)} {verb} not"
    reasons.append(f"{best.name} {_passes_text(best)} {_where_judged(plan)}{tail}.")
    score_text = f"It has the highest weighted score, {best.score:.2f} ({weights})"
    if others:
        score_text += f"; next is {others[0].name} with {others[0].score:.2f}"
    reasons.append(score_text + ".")
    if best.name != plan.baseline:
        try:
            p99 = next(d for d in differences if d.candidate == best.name and d.metric == "p99_ms")
            # Closed users send when answered: their requests share seeds, not arrival times.
            paired = "under the same seeds" if plan.closed else "over the same arrivals"
            reasons.append(f"At peak, {p99.sentence()} (paired {paired}).")
        except StopIteration:
            pass
    if best.cost is not None:
        base = next(c for c in candidates if c.name == plan.baseline)
        text = (
            f"It costs {best.cost.per_month_today:,.0f} {best.cost.currency}/month at today's load"
        )
        if base.cost is not None and best.name != base.name and base.cost.per_month_today > 0:
            change = best.cost.per_month_today / base.cost.per_month_today - 1
            text += f" ({100 * change:+.0f}% against {base.name})"
        reasons.append(text + ".")
    if best.runway is not None and (best.pull is not None or best.users_pull is not None):
        months = best.runway.months
        growth = f"{100 * plan.growth:g}% monthly growth"
        runway = (
            f"and at {growth} its runway is unlimited"
            if months == math.inf
            else f"a runway of {months:.1f} months at {growth}"
        )
        reasons.append(
            f"Its sustainable limit is {_limit_text(best)}, {runway}"
            + (
                f", first breach in month {best.runway.breach_month}"
                if best.runway.breach_month is not None
                else ""
            )
            + "."
        )
    reasons.append(
        "It is on the cost–p99 Pareto frontier."
        if best.name in frontier
        else "It is not on the cost–p99 Pareto frontier ("
        + ", ".join(sorted(frontier))
        + " cost less for the same or better p99), but the weights favour it."
    )
    risky = [v for v in best.verdicts if v.status == "inconclusive"]
    if risky:
        reasons.append(
            "Not yet settled: "
            + "; ".join(
                f"{v.nfr}"
                + (
                    f" (about {v.extra_requests:,} more requests would settle it)"
                    if v.extra_requests
                    else (f" ({v.cause})" if v.cause else "")
                )
                for v in risky
            )
            + "."
        )
    for candidate in candidates:
        if candidate.gated:
            reasons.append(f"{candidate.name} is excluded: {'; '.join(candidate.gate_reasons)}.")
    return best.name, reasons


def _ranking(plan: _Plan, candidates: Sequence[CandidateResult]) -> tuple[dict[str, Any], ...]:
    """The candidates in the order of :data:`RANK_RULE`, each with what would make it pass."""
    given = plan.nfrs.growth.percent_per_month if plan.nfrs.growth is not None else None
    growth = given / 100.0 if given is not None else plan.growth
    return tuple(
        {
            "rank": place,
            "candidate": candidate.name,
            "failed_gates": sum(v.status == "fail" for v in candidate.verdicts),
            "shortfall": shortfall(candidate),
            "needs": needs(candidate, peak=plan.peak, growth=growth, closed=plan.closed),
        }
        for place, candidate in rank(candidates)
    )


def _passes_text(candidate: CandidateResult) -> str:
    """``passes every hard NFR gate``, or, with an inconclusive gate, ``passes every hard NFR
    gate it could settle (X is inconclusive)``: never a claim beside an open verdict."""
    open_ = [v.nfr for v in candidate.verdicts if v.status == "inconclusive"]
    if not open_:
        return "passes every hard NFR gate"
    verb = "is" if len(open_) == 1 else "are"
    return f"passes every hard NFR gate it could settle ({_and(open_)} {verb} inconclusive)"


def _limit_text(candidate: CandidateResult) -> str:
    """``412 requests/s (95% CI 400–420; bottleneck db)``, or for a closed workload
    ``96 users (95% CI 93–99; 31.2 requests/s there; bottleneck db)``."""
    if candidate.users_pull is not None:
        found = candidate.users_pull
        low, high = found.limit_ci95
        interval = f"95% CI {low:.0f}–{high:.0f}; " if math.isfinite(low) else ""
        return (
            f"{found.limit_users:.0f} users ({interval}{rate_text(found.throughput_per_s)} "
            f"there; bottleneck {found.bottleneck})"
        )
    assert candidate.pull is not None
    low, high = candidate.pull.limit_ci95
    return (
        f"{candidate.pull.limit_per_s:.0f} requests/s "
        f"(95% CI {low:.0f}–{high:.0f}; bottleneck {candidate.pull.bottleneck})"
    )


def _autoscaled_replicas(
    spec: ArchitectureSpec, results: Sequence[SimulationResult]
) -> dict[str, float]:
    """The replicas each autoscaled component ran on average over the runs (its replica-hours
    per hour), to bill what ran rather than what it started with. Other components keep their
    spec's count: a crashed replica out of rotation is still a machine being paid for."""
    scaled = [
        name
        for name, component in spec.components.items()
        if getattr(component, "autoscale", None) is not None
    ]
    return {
        name: float(np.mean([result.components[name].replicas for result in results]))
        for name in scaled
        if results and all(name in result.components for result in results)
    }
