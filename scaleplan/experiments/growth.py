"""Growth runway: how many months of growth a candidate absorbs before its first SLO breaks.

With today's load ``L₀`` growing by ``g`` a month, the load in month ``m`` is ``L₀·(1+g)^m``;
it reaches the sustainable limit ``L*`` (the tractor pull's) after

    runway = log(L* / L₀) / log(1 + g)  months,

and the first whole month whose load exceeds the limit — the month of breach — is
``floor(runway) + 1``. The headroom curve is ``1 − L₀·(1+g)^m / L*`` month by month, with the
band that the limit's confidence interval gives. This module only does that arithmetic; the
limit comes from :func:`scaleplan.experiments.pull`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from scaleplan.experiments._common import clean

__all__ = ["RunwayResult", "runway", "runway_months"]


def runway_months(limit_per_s: float, today_per_s: float, growth_per_month: float) -> float:
    """``log(limit / today) / log(1 + g)``: 0 when already at or past the limit, ∞ with no growth.

    Examples
    --------
    >>> round(runway_months(200.0, 100.0, 0.10), 4)
    7.2725
    >>> runway_months(80.0, 100.0, 0.10), runway_months(200.0, 100.0, 0.0)
    (0.0, inf)
    """
    if not (math.isfinite(limit_per_s) and today_per_s > 0):
        return math.nan
    if limit_per_s <= today_per_s:
        return 0.0
    if growth_per_month <= 0:
        return math.inf
    return math.log(limit_per_s / today_per_s) / math.log1p(growth_per_month)


@dataclass(frozen=True)
class RunwayResult:
    """Months of growth until the load passes the sustainable limit, and the headroom curve.

    Attributes
    ----------
    months, months_ci95 : float, tuple
        The runway and the interval its limit's CI gives (the runway is increasing in the
        limit, so the interval maps end to end).
    breach_month : int or None
        The first whole month whose load exceeds the limit (None with no growth).
    curve : tuple of dict
        Per month: ``month``, ``load_per_s``, ``headroom`` and its ``headroom_low`` /
        ``headroom_high`` band.
    """

    limit_per_s: float
    limit_ci95: tuple[float, float]
    today_per_s: float
    growth_per_month: float
    months: float
    months_ci95: tuple[float, float]
    breach_month: int | None
    horizon_months: float | None
    curve: tuple[dict[str, float], ...]
    name: str = ""

    @property
    def meets_horizon(self) -> bool | None:
        """Whether the runway reaches the horizon (None without a horizon)."""
        if self.horizon_months is None:
            return None
        return self.months >= self.horizon_months

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (NaN and ∞ written as ``null``)."""
        return {
            "name": self.name,
            "limit_per_s": clean(self.limit_per_s),
            "limit_ci95": clean(self.limit_ci95),
            "today_per_s": clean(self.today_per_s),
            "growth_per_month": clean(self.growth_per_month),
            "months": clean(self.months),
            "months_is_infinite": self.months == math.inf,
            "months_ci95": clean(self.months_ci95),
            "breach_month": self.breach_month,
            "horizon_months": clean(self.horizon_months),
            "curve": clean(list(self.curve)),
        }

    def records(self) -> list[dict[str, Any]]:
        """The headroom curve, one row per month, with the candidate's name."""
        return [{"name": self.name, **clean(point)} for point in self.curve]


def runway(
    limit_per_s: float,
    today_per_s: float,
    growth_per_month: float,
    *,
    limit_ci95: tuple[float, float] | None = None,
    horizon_months: float | None = None,
    name: str = "",
) -> RunwayResult:
    """The runway in months and the monthly headroom curve for one candidate.

    Parameters
    ----------
    limit_per_s : float
        The sustainable limit (requests/s meeting every SLO), e.g. ``pull(...).limit_per_s``.
    today_per_s : float
        Today's load that must be carried — usually the peak, since the peak breaks first.
    growth_per_month : float
        Monthly growth as a fraction (0.08 for 8%).
    limit_ci95 : tuple of float, optional
        The limit's CI, giving the runway's CI and the headroom band.
    horizon_months : float, optional
        The planning horizon; the curve runs to at least this month.

    Examples
    --------
    >>> r = runway(300.0, 100.0, 0.08, horizon_months=24)
    >>> round(r.months, 2), r.breach_month, r.meets_horizon
    (14.27, 15, False)
    >>> round(r.curve[0]["headroom"], 4)
    0.6667
    """
    months = runway_months(limit_per_s, today_per_s, growth_per_month)
    low_limit, high_limit = limit_ci95 if limit_ci95 is not None else (math.nan, math.nan)
    months_ci = (
        runway_months(low_limit, today_per_s, growth_per_month),
        runway_months(high_limit, today_per_s, growth_per_month),
    )
    breach = None
    if math.isfinite(months):
        breach = math.floor(months) + 1 if months > 0 else 0
    last = horizon_months or 24.0
    if breach is not None:
        last = max(last, breach + 3)
    last_month = int(min(math.ceil(last), 240))
    curve = []
    for month in range(last_month + 1):
        load = today_per_s * (1.0 + growth_per_month) ** month
        curve.append(
            {
                "month": float(month),
                "load_per_s": load,
                "headroom": 1.0 - load / limit_per_s if limit_per_s > 0 else -math.inf,
                "headroom_low": 1.0 - load / low_limit if low_limit > 0 else math.nan,
                "headroom_high": 1.0 - load / high_limit if high_limit > 0 else math.nan,
            }
        )
    return RunwayResult(
        limit_per_s=limit_per_s,
        limit_ci95=(low_limit, high_limit),
        today_per_s=today_per_s,
        growth_per_month=growth_per_month,
        months=months,
        months_ci95=months_ci,
        breach_month=breach,
        horizon_months=horizon_months,
        curve=tuple(curve),
        name=name,
    )
