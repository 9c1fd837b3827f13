"""When no candidate passes: rank them by a stated rule and say what would make each pass.

The rule (:data:`RANK_RULE`): **fewest failed gates** first; among equals, the **smallest
shortfall** — the sum over its failed gates of how far the estimate is on the wrong side of the
bound, relative to the bound (``|margin| ÷ |bound|``; a gate failed without a figure, e.g. a run
refused at peak, counts as infinitely short); among equals, the **higher weighted score**.
Candidates equal on all three share a rank: the file's order never decides.

What each needs, per failed gate:

- **capacity** (headroom, runway, an SLO failed because the peak was refused or unstable): the
  sustainable limit that would pass — ``peak ÷ (1 − headroom)`` for a headroom gate,
  ``peak × (1 + g)^horizon`` for a runway gate, more than the peak for a refused one — against
  the limit it has and its bottleneck;
- **a latency, error or throughput SLO** it fails with a figure: the bound it does meet at peak
  with 95% confidence (the far end of its interval), beside the bound asked;
- **cost and retention**: the figure beside the bound.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol, TypeVar

from scaleplan.experiments.nfr import Verdict, show_value
from scaleplan.experiments.pull import PullResult
from scaleplan.experiments.pull_users import UsersPullResult


class CandidateResult(Protocol):
    """What the ranking reads of a compared candidate (``compare.CandidateResult`` has it;
    a protocol so that this module does not import ``compare``, which imports it)."""

    @property
    def name(self) -> str: ...
    @property
    def verdicts(self) -> tuple[Verdict, ...]: ...
    @property
    def score(self) -> float: ...
    @property
    def pull(self) -> PullResult | None: ...
    @property
    def users_pull(self) -> UsersPullResult | None: ...


Candidate = TypeVar("Candidate", bound=CandidateResult)

__all__ = ["RANK_RULE", "needs", "rank", "shortfall"]

RANK_RULE = (
    "ranked by fewest failed gates, then the smallest shortfall (the failed gates' margins "
    "relative to their bounds, summed), then the higher score; never by file order"
)


def _failed(candidate: CandidateResult) -> list[Verdict]:
    return [v for v in candidate.verdicts if v.status == "fail"]


def shortfall(candidate: CandidateResult) -> float:
    """The sum over the failed gates of ``|margin| ÷ |bound|`` (∞ for a gate without one)."""
    total = 0.0
    for verdict in _failed(candidate):
        margin, bound = verdict.margin, verdict.bound
        if not (math.isfinite(margin) and math.isfinite(bound)) or bound == 0:
            return math.inf
        total += abs(margin) / abs(bound)
    return total


def rank(candidates: Sequence[Candidate]) -> list[tuple[int, Candidate]]:
    """``(rank, candidate)`` in the order of :data:`RANK_RULE`, rank 1 first; candidates equal
    on every criterion share a rank (listed by name, so the file order plays no part)."""

    def key(candidate: Candidate) -> tuple[int, float, float]:
        return (len(_failed(candidate)), shortfall(candidate), -candidate.score)

    ordered = sorted(candidates, key=lambda c: (*key(c), c.name))
    ranked: list[tuple[int, Candidate]] = []
    for index, candidate in enumerate(ordered):
        if ranked and key(ranked[-1][1]) == key(candidate):
            ranked.append((ranked[-1][0], candidate))
        else:
            ranked.append((index + 1, candidate))
    return ranked


def _load(value: float, closed: bool) -> str:
    if closed:
        return f"{math.ceil(value):,} users"
    shown = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return f"{shown} requests/s"


def _needed_capacity(verdict: Verdict, peak: float, growth: float) -> float:
    """The sustainable limit that would pass a failed capacity gate (NaN: not one)."""
    if verdict.kind == "headroom" and verdict.bound < 1:
        return peak / (1.0 - verdict.bound)
    if verdict.kind == "growth" and growth > 0 and math.isfinite(verdict.bound):
        return float(peak * (1.0 + growth) ** verdict.bound)
    if verdict.kind in ("latency", "errors", "throughput") and not math.isfinite(verdict.measured):
        return peak  # refused or unstable at peak: the peak itself is beyond it
    return math.nan


def _ms(value: float) -> str:
    return f"{math.ceil(value):,} ms" if value >= 10 else f"{value:.2g} ms"


def _meets(verdict: Verdict) -> str | None:
    """The bound a failed SLO's estimate does meet at peak, with 95% confidence."""
    if not math.isfinite(verdict.measured) or "=" not in verdict.nfr:
        return None
    low, high = verdict.ci95
    upper = verdict.nfr.find(">=") < 0
    figure = high if upper else low
    if not math.isfinite(figure):
        figure = verdict.measured
    metric = verdict.nfr.split("<=" if upper else ">=")[0]
    sign = "≤" if upper else "≥"
    if verdict.unit == "ms":
        can, asked = _ms(figure), _ms(verdict.bound)
    else:
        can, asked = show_value(figure, verdict.unit), show_value(verdict.bound, verdict.unit)
    return f"meets {metric} {sign} {can} {_where(verdict)}, not {asked}"


def _where(verdict: Verdict) -> str:
    """Where the verdict was measured: at the steady peak, or through the load profile (its
    worst window, or all of it); the names of compare's profile gates say which."""
    if verdict.nfr.endswith("window of the load profile"):
        return "in the load profile's worst window"
    if verdict.nfr.endswith("over the load profile"):
        return "over the load profile"
    return "at peak"


def needs(
    candidate: CandidateResult, *, peak: float, growth: float, closed: bool = False
) -> list[str]:
    """What would make ``candidate`` pass each gate it fails, in words (see the module)."""
    texts: list[str] = []
    needed = math.nan
    for verdict in _failed(candidate):
        capacity = _needed_capacity(verdict, peak, growth)
        if math.isfinite(capacity):
            needed = capacity if math.isnan(needed) else max(needed, capacity)
            continue
        if verdict.kind in ("latency", "errors", "throughput", "availability"):
            meets = _meets(verdict)
            if meets is not None:
                texts.append(meets)
                continue
        figure = show_value(verdict.measured, verdict.unit)
        bound = show_value(verdict.bound, verdict.unit)
        texts.append(f"{verdict.nfr}: it has {figure} against {bound}")
    if math.isfinite(needed):
        texts.insert(0, _capacity_text(candidate, needed, peak, closed))
    return texts


def _capacity_text(candidate: CandidateResult, needed: float, peak: float, closed: bool) -> str:
    if candidate.users_pull is not None:
        limit, bottleneck = candidate.users_pull.limit_users, candidate.users_pull.bottleneck
    elif candidate.pull is not None:
        limit, bottleneck = candidate.pull.limit_per_s, candidate.pull.bottleneck
    else:
        limit, bottleneck = math.nan, ""
    above = "more than " if needed == peak else ""
    text = f"needs a sustainable limit of {above}{_load(needed, closed)}"
    if math.isfinite(limit) and limit > 0:
        text += f": {needed / limit:.1f}× what it has ({_load(limit, closed)})"
    elif math.isfinite(limit):
        text += ": no load at all meets its SLOs today"
        pulled = candidate.pull
        if pulled is not None and pulled.failure_mode == "unreachable":
            text += f" ({pulled.failure_detail})"
    else:
        text += " (it was not pulled to its limit)"
    if bottleneck:
        text += f"; its bottleneck is {bottleneck}"
    return text
