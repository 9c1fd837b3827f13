"""Closed forms for steady-state availability.

This module owns the arithmetic of independent components: a single repairable component, series
and parallel compositions, k-of-n redundancy and the conversion to downtime. It assumes failures
are independent and repairs never wait for a repair crew; correlated failures, failover delays and
disaster recovery belong to the simulation.
"""

from __future__ import annotations

import math

__all__ = [
    "MINUTES_PER_MONTH",
    "downtime_minutes_per_month",
    "k_of_n",
    "parallel",
    "series",
    "steady_state",
]

#: A 30-day month, the convention of most cloud SLAs.
MINUTES_PER_MONTH = 30 * 24 * 60


def _check_availability(a: float) -> float:
    if not 0.0 <= a <= 1.0:
        raise ValueError(f"availability must be in [0, 1] (got {a!r})")
    return float(a)


def _check_some(availabilities: tuple[float, ...], composition: str) -> list[float]:
    # An empty composition is almost always a caller's bug, not a system with nothing in it.
    if not availabilities:
        raise ValueError(f"{composition} needs at least one availability")
    return [_check_availability(a) for a in availabilities]


def steady_state(mtbf: float, mttr: float) -> float:
    """Long-run fraction of time a repairable component is up: MTBF / (MTBF + MTTR).

    Parameters
    ----------
    mtbf : float
        Mean time between failures (mean up time), > 0.
    mttr : float
        Mean time to repair (mean down time), >= 0, in the same unit.

    Returns
    -------
    float

    Examples
    --------
    >>> steady_state(999.0, 1.0)
    0.999
    """
    if not math.isfinite(mtbf) or mtbf <= 0:
        raise ValueError(f"mtbf must be a finite number > 0 (got {mtbf!r})")
    if not math.isfinite(mttr) or mttr < 0:
        raise ValueError(f"mttr must be a finite number >= 0 (got {mttr!r})")
    return mtbf / (mtbf + mttr)


def series(*availabilities: float) -> float:
    """Availability of components that must all be up: the product.

    Examples
    --------
    >>> round(series(0.99, 0.99), 6)
    0.9801
    """
    return math.prod(_check_some(availabilities, "series"))


def parallel(*availabilities: float) -> float:
    """Availability of redundant components of which at least one must be up.

    Examples
    --------
    >>> round(parallel(0.9, 0.9), 6)
    0.99
    """
    return 1.0 - math.prod(1.0 - a for a in _check_some(availabilities, "parallel"))


def k_of_n(k: int, n: int, a: float) -> float:
    """Probability that at least ``k`` of ``n`` identical independent components are up.

    The binomial tail Σ_{i=k}^{n} C(n, i)·aⁱ·(1 − a)^{n−i}.

    Parameters
    ----------
    k : int
        Components needed, 0 ≤ k ≤ n.
    n : int
        Components present, n ≥ 1.
    a : float
        Availability of each component.

    Returns
    -------
    float

    Examples
    --------
    >>> round(k_of_n(2, 3, 0.9), 6)
    0.972
    """
    if n < 1:
        raise ValueError(f"n must be at least 1 (got {n})")
    if not 0 <= k <= n:
        raise ValueError(f"k must be between 0 and n = {n} (got {k})")
    a = _check_availability(a)
    return math.fsum(math.comb(n, i) * a**i * (1.0 - a) ** (n - i) for i in range(k, n + 1))


def downtime_minutes_per_month(a: float) -> float:
    """Expected minutes down in a 30-day month (43 200 minutes) at availability ``a``.

    Examples
    --------
    >>> round(downtime_minutes_per_month(0.999), 6)
    43.2
    """
    return (1.0 - _check_availability(a)) * MINUTES_PER_MONTH
