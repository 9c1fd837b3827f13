"""Sequential stopping: how many replications a candidate's measurement at peak needs.

The way JMT stops its simulations: rather than a fixed number of runs, replications are added
until the 95% CI of every figure a decision depends on is good enough, with a cap. The figures
are of two sorts:

- **bounded** — an NFR verdict measured at peak (latency, errors, throughput, availability):
  it is *done* once its CI clears its bound (the verdict is settled, pass or fail). One far
  from its bound settles after the minimum of replications; one near its bound never settles
  and runs to the cap, where the verdict stays inconclusive and its ``extra_requests`` says
  what settling it would cost;
- **unbounded** — a scoring criterion measured at peak (``p99_ms``, ``mean_ms``,
  ``error_rate`` when weighted): it is *done* once its CI half-width is within the relative
  target (``run.ci_precision``).

The measurement stops when every figure is done — "precision reached" when every CI is also
within the target, "verdict settled" when some verdict settled before its CI got that narrow —
or at the cap ("cap"). A verdict settled as a *fail* stops it at once ("verdict settled"): the
candidate is gated, so its criteria decide nothing; so does an unstable replication, which
fails every SLO.
Each further round asks for the replications the slowest figure is expected to need (the
half-width shrinks as 1/√n), at most doubling the count and never past the cap. Under
``fixed`` stopping the count is the budget itself ("fixed budget").

The pull's searches stop the same way (:class:`LimitTarget`): after at least
:data:`MIN_SEARCHES`, no further search once the limit's CI is within the target, or lies
wholly below a threshold a verdict compares the limit with (the headroom NFR's
``peak / (1 − h)``, the growth NFR's ``peak · (1 + g)^horizon``: a settled fail, the candidate
is gated), or — when no criterion weighs the limit — clears every threshold; at most twice
``run.pull_replications``.

This module only decides; :func:`scaleplan.experiments.compare` runs the replications.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from scaleplan.experiments._common import Run, clean, error_rate
from scaleplan.experiments.nfr import check
from scaleplan.metrics import replication_ci, replication_quantile_ci
from scaleplan.spec import NFRSpec
from scaleplan.spec.scenario import PRECISION_CAP_FACTOR

__all__ = [
    "CAP_FACTOR",
    "MIN_REPLICATIONS",
    "MIN_SEARCHES",
    "Decision",
    "Figure",
    "LimitTarget",
    "Stopping",
    "decide",
    "limit_target",
    "peak_metric",
]

#: Fewest replications a precision-driven measurement makes (a Student-t interval needs 2;
#: with 3 its t quantile is already 4.3 instead of 12.7).
MIN_REPLICATIONS = 3
#: Fewest pull searches a precision-driven pull makes (a Student-t interval needs 2).
MIN_SEARCHES = 2
#: The cap of a precision-driven measurement: this many times the fixed budget (the spec's
#: constant, so that the run-size check counts the same cap).
CAP_FACTOR = PRECISION_CAP_FACTOR
#: Verdict kinds measured at peak, whose CIs the stopping rule watches.
VERDICT_KINDS = ("latency", "errors", "throughput", "availability")
#: Peak metrics that count as figures when the scenario's criteria weigh them.
CRITERION_METRICS = ("p99_ms", "mean_ms", "p50_ms", "error_rate")

Mode = Literal["precision", "fixed"]


def peak_metric(run: Run, metric: str) -> float:
    """``p99_ms``, ``mean_ms``, ``p50_ms``, … or ``error_rate`` of one run (NaN if refused)."""
    result = run.result
    if result is None:
        return math.nan
    if metric == "error_rate":
        return error_rate(result)
    if metric == "mean_ms":
        return result.latency_ms.mean
    return result.latency_ms.percentile(metric.removesuffix("_ms"))


@dataclass(frozen=True)
class Stopping:
    """The rule: ``mode``, the relative half-width ``target`` and the fixed ``budget`` of
    replications it scales from."""

    mode: Mode
    target: float
    budget: int

    @property
    def minimum(self) -> int:
        return min(MIN_REPLICATIONS, self.budget) if self.mode == "precision" else self.budget

    @property
    def cap(self) -> int:
        return self.budget * CAP_FACTOR if self.mode == "precision" else self.budget


@dataclass(frozen=True)
class Figure:
    """One figure a decision depends on, with its 95% CI after ``n`` replications."""

    name: str
    mean: float
    half_width: float
    bound: float | None  # None: a criterion, judged by precision alone
    settled: bool  # a verdict whose CI clears its bound
    failed: bool = False  # a verdict whose CI lies wholly on the wrong side of its bound

    @property
    def relative(self) -> float:
        """The half-width relative to the mean (0 for an exact figure, ∞ around a 0 mean)."""
        if self.half_width == 0.0:
            return 0.0
        if not math.isfinite(self.half_width) or self.mean == 0.0:
            return math.inf
        return self.half_width / abs(self.mean)

    def precise(self, target: float) -> bool:
        return self.relative <= target

    def done(self, target: float) -> bool:
        return self.settled if self.bound is not None else self.precise(target)

    def needed(self, n: int, target: float) -> float:
        """Total replications after which it is expected to be done (1/√n shrinking)."""
        if self.done(target):
            return float(n)
        gap = abs(self.mean - self.bound) if self.bound is not None else target * abs(self.mean)
        if not (gap > 0 and math.isfinite(self.half_width)):
            return math.inf
        return n * (self.half_width / gap) ** 2 + 1

    def to_dict(self, target: float) -> dict[str, Any]:
        return clean(
            {
                "figure": self.name,
                "mean": self.mean,
                "half_width": self.half_width,
                "relative_half_width": self.relative,
                "bound": self.bound,
                "settled": self.settled,
                "done": self.done(target),
            }
        )


@dataclass(frozen=True)
class Decision:
    """Whether to stop after ``replications``, why, and how many to have next otherwise."""

    stop: bool
    reason: str  # precision reached | verdict settled | cap | fixed budget | "" (going on)
    replications: int
    next_total: int
    figures: tuple[Figure, ...]


def figures(
    runs: Sequence[Run],
    nfrs: NFRSpec,
    criteria: Mapping[str, float],
    judged_elsewhere: Collection[str] = (),
) -> tuple[Figure, ...]:
    """The figures of a stable candidate's replications at peak (see the module docstring).

    ``judged_elsewhere``: verdict kinds another run gates (a load profile's latency and
    errors), so that the peak's figures of those kinds are shown but settle nothing."""
    results = [run.result for run in runs if run.result is not None]
    found: list[Figure] = []
    for verdict in check(results, nfrs):
        if verdict.kind not in VERDICT_KINDS or verdict.status == "not evaluated":
            continue
        if verdict.kind in judged_elsewhere:
            continue
        low, high = verdict.ci95
        found.append(
            Figure(
                verdict.nfr,
                verdict.measured,
                (high - low) / 2.0,
                verdict.bound,
                verdict.status in ("pass", "fail"),
                verdict.status == "fail",
            )
        )
    for metric in CRITERION_METRICS:
        if criteria.get(metric, 0.0) > 0 and len(runs) >= 2:
            values = [peak_metric(run, metric) for run in runs]
            # A percentile's interval reaches the sketch's bins, as compare reports it.
            percentile = metric in ("p99_ms", "p50_ms")
            ci = replication_quantile_ci(values) if percentile else replication_ci(values)
            found.append(Figure(metric, ci.mean, ci.half_width, None, False))
    return tuple(found)


def decide(
    stopping: Stopping,
    runs: Sequence[Run],
    nfrs: NFRSpec,
    criteria: Mapping[str, float],
    gated: bool = False,
    judged_elsewhere: Collection[str] = (),
) -> Decision:
    """Stop after ``runs`` (the replications so far, seeds in order) or ask for more.

    ``gated``: another verdict (the pull's headroom or growth, the load profile's SLOs)
    already fails for certain. ``judged_elsewhere``: see :func:`figures`."""
    n = len(runs)
    if n < stopping.minimum:
        return Decision(False, "", n, stopping.minimum, ())
    if stopping.mode == "fixed":
        return Decision(True, "fixed budget", n, n, ())
    if not all(run.stable for run in runs):
        # A replication refused or run away: every SLO fails already, more runs change nothing.
        return Decision(True, "verdict settled", n, n, ())
    found = figures(runs, nfrs, criteria, judged_elsewhere)
    target = stopping.target
    if gated or any(figure.failed for figure in found):
        # A settled fail gates the candidate: no other figure of it decides anything.
        return Decision(True, "verdict settled", n, n, found)
    if all(figure.done(target) for figure in found):
        precise = all(figure.precise(target) for figure in found)
        return Decision(True, "precision reached" if precise else "verdict settled", n, n, found)
    if n >= stopping.cap:
        return Decision(True, "cap", n, n, found)
    wanted = max(figure.needed(n, target) for figure in found)
    # A figure that no run length settles (its mean on its bound) heads for the cap.
    following = 2 * n if not math.isfinite(wanted) else max(n + 1, math.ceil(wanted))
    return Decision(False, "", n, min(stopping.cap, 2 * n, following), found)


@dataclass(frozen=True)
class LimitTarget:
    """When a pull has searched enough (picklable, for a process pool): its limit's 95% CI is
    within ``target`` (relative half-width) or lies wholly on one side of every threshold a
    verdict compares the limit with."""

    target: float
    thresholds: tuple[float, ...]
    weighted: bool  # a criterion (runway, headroom, limit) scores the limit

    def gates(self, ci: tuple[float, float]) -> bool:
        """Whether the limit's CI lies wholly below a threshold: a certain fail of the
        headroom or growth NFR, which gates the candidate."""
        return any(ci[1] < threshold for threshold in self.thresholds)

    def reason(self, limit: float, ci: tuple[float, float]) -> str:
        """``precision reached``, ``verdict settled`` or "" (search on)."""
        low, high = ci
        if not (math.isfinite(low) and math.isfinite(high) and limit > 0):
            return ""
        # A certain fail is the decisive fact (it excludes the candidate), so it is the
        # reason given even when the CI is also within the target.
        if self.gates(ci):
            return "verdict settled"
        if (high - low) / 2.0 <= self.target * limit:
            return "precision reached"
        cleared = all(not low <= threshold <= high for threshold in self.thresholds)
        if self.thresholds and cleared and not self.weighted:
            return "verdict settled"
        return ""


#: Criteria that score a candidate by its limit (so its CI must reach the target).
LIMIT_CRITERIA = ("runway_months", "headroom", "limit_per_s")


def limit_target(
    nfrs: NFRSpec,
    peak_per_s: float,
    growth_per_month: float,
    target: float,
    criteria: Mapping[str, float],
) -> LimitTarget:
    """The thresholds on the limit behind the headroom and growth verdicts at ``peak_per_s``."""
    thresholds = []
    if nfrs.headroom is not None and nfrs.headroom.min_percent < 100:
        thresholds.append(peak_per_s / (1.0 - nfrs.headroom.min_percent / 100.0))
    if nfrs.growth is not None:
        given = nfrs.growth.percent_per_month
        growth = given / 100.0 if given is not None else growth_per_month
        months = nfrs.growth.horizon_months
        thresholds.append(peak_per_s * (1.0 + max(growth, 0.0)) ** months)
    weighted = any(criteria.get(name, 0.0) > 0 for name in LIMIT_CRITERIA)
    return LimitTarget(target, tuple(t for t in thresholds if math.isfinite(t)), weighted)
