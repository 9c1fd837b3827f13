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
or at the cap ("cap"). An unstable replication fails every SLO at once ("verdict settled").
Each further round asks for the replications the slowest figure is expected to need (the
half-width shrinks as 1/√n), at most doubling the count and never past the cap. Under
``fixed`` stopping the count is the budget itself ("fixed budget").

This module only decides; :func:`scaleplan.experiments.compare` runs the replications.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from scaleplan.experiments._common import Run, clean, error_rate
from scaleplan.experiments.nfr import check
from scaleplan.metrics import replication_ci
from scaleplan.spec import NFRSpec

__all__ = [
    "CAP_FACTOR",
    "MIN_REPLICATIONS",
    "Decision",
    "Figure",
    "Stopping",
    "decide",
    "peak_metric",
]

#: Fewest replications a precision-driven measurement makes (a Student-t interval needs 2;
#: with 3 its t quantile is already 4.3 instead of 12.7).
MIN_REPLICATIONS = 3
#: The cap of a precision-driven measurement: this many times the fixed budget.
CAP_FACTOR = 2
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
    runs: Sequence[Run], nfrs: NFRSpec, criteria: Mapping[str, float]
) -> tuple[Figure, ...]:
    """The figures of a stable candidate's replications at peak (see the module docstring)."""
    results = [run.result for run in runs if run.result is not None]
    found: list[Figure] = []
    for verdict in check(results, nfrs):
        if verdict.kind not in VERDICT_KINDS or verdict.status == "not evaluated":
            continue
        low, high = verdict.ci95
        found.append(
            Figure(
                verdict.nfr,
                verdict.measured,
                (high - low) / 2.0,
                verdict.bound,
                verdict.status in ("pass", "fail"),
            )
        )
    for metric in CRITERION_METRICS:
        if criteria.get(metric, 0.0) > 0 and len(runs) >= 2:
            ci = replication_ci([peak_metric(run, metric) for run in runs])
            found.append(Figure(metric, ci.mean, ci.half_width, None, False))
    return tuple(found)


def decide(
    stopping: Stopping, runs: Sequence[Run], nfrs: NFRSpec, criteria: Mapping[str, float]
) -> Decision:
    """Stop after ``runs`` (the replications so far, seeds in order) or ask for more."""
    n = len(runs)
    if n < stopping.minimum:
        return Decision(False, "", n, stopping.minimum, ())
    if stopping.mode == "fixed":
        return Decision(True, "fixed budget", n, n, ())
    if not all(run.stable for run in runs):
        # A replication refused or run away: every SLO fails already, more runs change nothing.
        return Decision(True, "verdict settled", n, n, ())
    found = figures(runs, nfrs, criteria)
    target = stopping.target
    if all(figure.done(target) for figure in found):
        precise = all(figure.precise(target) for figure in found)
        return Decision(True, "precision reached" if precise else "verdict settled", n, n, found)
    if n >= stopping.cap:
        return Decision(True, "cap", n, n, found)
    wanted = max(figure.needed(n, target) for figure in found)
    # A figure that no run length settles (its mean on its bound) heads for the cap.
    following = 2 * n if not math.isfinite(wanted) else max(n + 1, math.ceil(wanted))
    return Decision(False, "", n, min(stopping.cap, 2 * n, following), found)
