"""Closed forms for steady-state availability.

This module owns the arithmetic of independent components: a single repairable component, series
and parallel compositions, k-of-n redundancy, a primary with promotable replicas, and the
conversion to downtime. It assumes failures are independent and repairs never wait for a repair
crew; correlated failures and disaster recovery belong to the simulation.

The data stores' models (what the simulation does: :mod:`scaleplan.kinds.database`,
:mod:`scaleplan.kinds.cache`, :mod:`scaleplan.kinds.queue`):

- a **database shard** of a primary and ``k`` read replicas, each node up a share ``a`` of the
  time, takes writes while a primary runs. When the primary is lost, a running replica is
  promoted ``window`` (health-check detection + promotion) later; with none running, the first
  node repaired takes the role. With an instant failover the shard is up exactly when any node
  is, ``1 − (1 − a)^{k+1}`` (:func:`primary_with_failover`); a shard without replicas is its
  primary alone, ``a``: a single point of failure. A database is up when every shard is
  (``series`` of its shards).
- a **broker** of ``n`` nodes accepts publishes while a majority is up: ``k_of_n(n//2 + 1, n, a)``.
- a **cache** node's loss sends its lookups to the backing store: no downtime, more load.
"""

from __future__ import annotations

import math

__all__ = [
    "MINUTES_PER_MONTH",
    "downtime_minutes_per_month",
    "k_of_n",
    "parallel",
    "primary_with_failover",
    "quorum",
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


def primary_with_failover(a: float, replicas: int, failures_per_h: float, window_h: float) -> float:
    """Share of time a primary with ``replicas`` promotable replicas takes writes.

    Every node is up a share ``a`` of the time and fails ``failures_per_h`` times an hour
    while up. The primary's loss leaves the role vacant for ``window_h`` (detection and
    promotion) when some replica runs; with none running the role waits for the first repair.
    With an instant failover (``window_h = 0``) this is exact whatever the distributions:
    the role is held whenever a node is up, ``1 − (1 − a)^{k+1}``. With a window, vacancies
    start at the rate the primary fails, λ·A, and last the window when a replica runs, so

        A = (1 − (1 − a)^{k+1}) / (1 + λ·W·(1 − (1 − a)^k)),

    first order in λ·W (it leaves out a second failure during the window and the correlation
    of which node leads with the others' states), which is what a failover of seconds to
    minutes against an MTBF of hours or more gives.

    Examples
    --------
    >>> primary_with_failover(0.9, 0, 1.0, 0.1)  # no replica: the primary alone
    0.9
    >>> round(primary_with_failover(0.9, 1, 1.0, 0.0), 6)  # instant failover: either node
    0.99
    """
    a = _check_availability(a)
    if replicas < 0:
        raise ValueError(f"replicas must be at least 0 (got {replicas})")
    if not (math.isfinite(failures_per_h) and failures_per_h >= 0):
        raise ValueError(f"failures_per_h must be a finite number >= 0 (got {failures_per_h!r})")
    if not (math.isfinite(window_h) and window_h >= 0):
        raise ValueError(f"window_h must be a finite number >= 0 (got {window_h!r})")
    held = 1.0 - (1.0 - a) ** (replicas + 1)
    promotable = 1.0 - (1.0 - a) ** replicas
    return held / (1.0 + failures_per_h * window_h * promotable)


def quorum(n: int) -> int:
    """Nodes a majority-quorum cluster of ``n`` needs up.

    Examples
    --------
    >>> [quorum(n) for n in (1, 2, 3, 5)]
    [1, 2, 2, 3]
    """
    if n < 1:
        raise ValueError(f"n must be at least 1 (got {n})")
    return n // 2 + 1
