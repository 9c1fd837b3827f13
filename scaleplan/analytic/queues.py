"""Closed-form queueing results for single stations, on plain floats.

This module owns the formulas: Erlang B and C, M/M/1, M/M/c, M/G/1 (Pollaczek–Khinchine),
M/D/1, the Allen–Cunneen approximations for M/G/c and GI/G/c, the M/M/c sojourn-time
distribution, the expected maximum of exponentials and the bottleneck bound. It does not know
about specs, graphs or the engine; callers convert their units first. Rates and times may be in
any unit as long as it is the same one throughout (per second and seconds, or per millisecond
and milliseconds).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

__all__ = [
    "StationMetrics",
    "UnstableError",
    "bottleneck_throughput",
    "erlang_b",
    "erlang_c",
    "expected_max_exponential",
    "gigc",
    "md1",
    "mg1",
    "mgc",
    "mm1",
    "mm1_response_quantile",
    "mmc",
    "mmc_response_cdf",
    "mmc_response_quantile",
    "mmc_wait_tail",
]


class UnstableError(ValueError):
    """The offered load is at or beyond the capacity, so no steady state exists.

    Parameters
    ----------
    utilization : float
        Offered load divided by capacity (at least 1).
    arrival_rate : float
        The arrival rate that was asked for.
    capacity : float
        The largest arrival rate the station can serve (servers / mean service time).
    """

    def __init__(self, utilization: float, arrival_rate: float, capacity: float) -> None:
        # The fields travel in ``args`` so the exception survives pickling (Dask workers).
        super().__init__(utilization, arrival_rate, capacity)
        self.utilization = utilization
        self.arrival_rate = arrival_rate
        self.capacity = capacity

    def __str__(self) -> str:
        return (
            f"unstable: utilization {self.utilization:.4g} >= 1 "
            f"(arrival rate {self.arrival_rate:.6g} against a capacity of {self.capacity:.6g})"
        )


@dataclass(frozen=True)
class StationMetrics:
    """Steady-state figures of one queueing station.

    Attributes
    ----------
    arrival_rate : float
        λ, arrivals per time unit.
    utilization : float
        ρ = λ·E[S]/c, the busy fraction of each server.
    p_wait : float
        Probability that an arrival has to queue.
    mean_wait : float
        Wq, mean time in the queue before service starts.
    mean_response : float
        W = Wq + E[S], mean time in the station.
    mean_queue : float
        Lq = λ·Wq, mean number waiting.
    mean_in_system : float
        L = λ·W, mean number in the station.
    exact : bool
        True when the figures are an exact closed form, False for an approximation.
    method : str
        A short phrase naming the model and formula used.
    """

    arrival_rate: float
    utilization: float
    p_wait: float
    mean_wait: float
    mean_response: float
    mean_queue: float
    mean_in_system: float
    exact: bool
    method: str


def _check_servers(c: int) -> int:
    servers = operator.index(c)
    if servers < 1:
        raise ValueError(f"servers must be at least 1 (got {servers})")
    return servers


def _check_nonnegative(name: str, value: float) -> float:
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0 (got {value!r})")
    return float(value)


def _check_positive(name: str, value: float) -> float:
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0 (got {value!r})")
    return float(value)


def _check_probability(name: str, value: float) -> float:
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be in [0, 1) (got {value!r})")
    return float(value)


def _check_stable(lam: float, mean_service: float, c: int) -> float:
    """Return the utilisation, raising `UnstableError` when it is at least 1."""
    utilization = lam * mean_service / c
    if utilization >= 1.0:
        raise UnstableError(utilization, lam, c / mean_service)
    return utilization


def _station(
    lam: float,
    mean_service: float,
    c: int,
    p_wait: float,
    mean_wait: float,
    *,
    exact: bool,
    method: str,
) -> StationMetrics:
    # Deriving L and Lq from W and Wq here makes Little's law hold by construction everywhere.
    mean_response = mean_wait + mean_service
    return StationMetrics(
        arrival_rate=lam,
        utilization=lam * mean_service / c,
        p_wait=p_wait,
        mean_wait=mean_wait,
        mean_response=mean_response,
        mean_queue=lam * mean_wait,
        mean_in_system=lam * mean_response,
        exact=exact,
        method=method,
    )


def erlang_b(c: int, a: float) -> float:
    """Blocking probability of an M/M/c/c loss system (Erlang B).

    Uses the recursion B(0) = 1, B(k) = a·B(k-1) / (k + a·B(k-1)), which never forms the
    factorials or powers of the textbook formula and so stays accurate for thousands of servers.

    Parameters
    ----------
    c : int
        Number of servers, at least 0.
    a : float
        Offered load λ/μ in Erlangs, at least 0.

    Returns
    -------
    float
        Probability that an arrival finds all ``c`` servers busy.

    Examples
    --------
    >>> round(erlang_b(2, 1.0), 6)
    0.2
    """
    servers = operator.index(c)
    if servers < 0:
        raise ValueError(f"servers must be at least 0 (got {servers})")
    a = _check_nonnegative("offered load", a)
    blocking = 1.0
    for k in range(1, servers + 1):
        blocking = a * blocking / (k + a * blocking)
        if blocking == 0.0:
            break  # it stays 0 (a million idle servers are not a million steps)
    return blocking


def erlang_c(c: int, a: float) -> float:
    """Probability that an arrival to an M/M/c queue has to wait (Erlang C).

    Parameters
    ----------
    c : int
        Number of servers, at least 1.
    a : float
        Offered load λ/μ in Erlangs; must be below ``c``.

    Returns
    -------
    float
        P(wait > 0), in [0, 1).

    Raises
    ------
    UnstableError
        If ``a >= c`` (a `ValueError`).

    Examples
    --------
    >>> round(erlang_c(2, 1.0), 6)
    0.333333
    """
    servers = _check_servers(c)
    a = _check_nonnegative("offered load", a)
    if a >= servers:
        raise UnstableError(a / servers, a, float(servers))
    blocking = erlang_b(servers, a)
    return servers * blocking / (servers - a * (1.0 - blocking))


def mm1(lam: float, mu: float) -> StationMetrics:
    """Exact steady state of an M/M/1 queue.

    Parameters
    ----------
    lam : float
        Arrival rate λ.
    mu : float
        Service rate μ of the single server.

    Returns
    -------
    StationMetrics

    Raises
    ------
    UnstableError
        If λ ≥ μ.

    Examples
    --------
    >>> m = mm1(0.5, 1.0)
    >>> m.mean_response, m.mean_in_system
    (2.0, 1.0)
    """
    lam = _check_nonnegative("arrival rate", lam)
    mu = _check_positive("service rate", mu)
    mean_service = 1.0 / mu
    rho = _check_stable(lam, mean_service, 1)
    return _station(lam, mean_service, 1, rho, rho / (mu - lam), exact=True, method="M/M/1")


def mmc(lam: float, mu: float, c: int) -> StationMetrics:
    """Exact steady state of an M/M/c queue (Erlang C).

    Parameters
    ----------
    lam : float
        Arrival rate λ.
    mu : float
        Service rate μ of each server.
    c : int
        Number of servers sharing one FIFO queue.

    Returns
    -------
    StationMetrics

    Raises
    ------
    UnstableError
        If λ ≥ c·μ.

    Examples
    --------
    >>> m = mmc(1.0, 1.0, 2)
    >>> round(m.p_wait, 6), round(m.mean_wait, 6)
    (0.333333, 0.333333)
    """
    lam = _check_nonnegative("arrival rate", lam)
    mu = _check_positive("service rate", mu)
    servers = _check_servers(c)
    mean_service = 1.0 / mu
    _check_stable(lam, mean_service, servers)
    p_wait = erlang_c(servers, lam / mu)
    mean_wait = p_wait / (servers * mu - lam)
    return _station(
        lam, mean_service, servers, p_wait, mean_wait, exact=True, method="M/M/c (Erlang C)"
    )


def mg1(lam: float, mean_service: float, scv: float) -> StationMetrics:
    """Exact mean figures of an M/G/1 queue (Pollaczek–Khinchine).

    Wq = ρ·E[S]·(1 + scv) / (2·(1 − ρ)).

    Parameters
    ----------
    lam : float
        Arrival rate λ.
    mean_service : float
        Mean service time E[S].
    scv : float
        Squared coefficient of variation of the service time, Var[S]/E[S]²
        (0 for constant, 1 for exponential).

    Returns
    -------
    StationMetrics

    Raises
    ------
    UnstableError
        If λ·E[S] ≥ 1.

    Examples
    --------
    >>> mg1(0.5, 1.0, 1.0).mean_wait
    1.0
    """
    lam = _check_nonnegative("arrival rate", lam)
    mean_service = _check_positive("mean service time", mean_service)
    scv = _check_nonnegative("service scv", scv)
    rho = _check_stable(lam, mean_service, 1)
    mean_wait = rho * mean_service * (1.0 + scv) / (2.0 * (1.0 - rho))
    # By PASTA an arrival waits exactly when the server is busy, whatever the service law.
    return _station(
        lam, mean_service, 1, rho, mean_wait, exact=True, method="M/G/1 (Pollaczek-Khinchine)"
    )


def md1(lam: float, mean_service: float) -> StationMetrics:
    """Exact mean figures of an M/D/1 queue (constant service time).

    Examples
    --------
    >>> md1(0.5, 1.0).mean_wait
    0.5
    """
    return replace(mg1(lam, mean_service, 0.0), method="M/D/1 (Pollaczek-Khinchine)")


def mgc(lam: float, mean_service: float, scv: float, c: int) -> StationMetrics:
    """Mean figures of an M/G/c queue.

    Exact when ``scv == 1`` (M/M/c) or ``c == 1`` (M/G/1). Otherwise the Lee–Longton
    (Allen–Cunneen) approximation Wq ≈ Wq(M/M/c)·(1 + scv)/2, with P(wait) taken from
    Erlang C; the result then has ``exact=False``.

    Parameters
    ----------
    lam : float
        Arrival rate λ.
    mean_service : float
        Mean service time E[S] of each server.
    scv : float
        Squared coefficient of variation of the service time.
    c : int
        Number of servers sharing one FIFO queue.

    Returns
    -------
    StationMetrics

    Raises
    ------
    UnstableError
        If λ·E[S]/c ≥ 1.

    Examples
    --------
    >>> m = mgc(1.0, 1.0, 0.0, 2)
    >>> m.exact, round(m.mean_wait, 6)
    (False, 0.166667)
    """
    mean_service = _check_positive("mean service time", mean_service)
    scv = _check_nonnegative("service scv", scv)
    servers = _check_servers(c)
    if scv == 1.0:
        return mmc(lam, 1.0 / mean_service, servers)
    if servers == 1:
        return mg1(lam, mean_service, scv)
    base = mmc(lam, 1.0 / mean_service, servers)
    return _station(
        base.arrival_rate,
        mean_service,
        servers,
        base.p_wait,
        base.mean_wait * (1.0 + scv) / 2.0,
        exact=False,
        method="M/G/c, Allen-Cunneen approximation",
    )


def gigc(lam: float, ca2: float, mean_service: float, cs2: float, c: int) -> StationMetrics:
    """Mean figures of a GI/G/c queue by the Allen–Cunneen approximation.

    Wq ≈ Wq(M/M/c)·(ca2 + cs2)/2; for ``c == 1`` this is Kingman's formula. With Poisson
    arrivals (``ca2 == 1``) it defers to `mgc`, so the result is exact where that one is.

    Parameters
    ----------
    lam : float
        Arrival rate λ.
    ca2 : float
        Squared coefficient of variation of the interarrival time (1 for Poisson).
    mean_service : float
        Mean service time E[S] of each server.
    cs2 : float
        Squared coefficient of variation of the service time.
    c : int
        Number of servers sharing one FIFO queue.

    Returns
    -------
    StationMetrics

    Raises
    ------
    UnstableError
        If λ·E[S]/c ≥ 1.

    Examples
    --------
    >>> m = gigc(0.5, 0.0, 1.0, 1.0, 1)
    >>> m.exact, m.mean_wait
    (False, 0.5)
    """
    ca2 = _check_nonnegative("arrival scv", ca2)
    if ca2 == 1.0:
        return mgc(lam, mean_service, cs2, c)
    mean_service = _check_positive("mean service time", mean_service)
    cs2 = _check_nonnegative("service scv", cs2)
    servers = _check_servers(c)
    base = mmc(lam, 1.0 / mean_service, servers)
    return _station(
        base.arrival_rate,
        mean_service,
        servers,
        base.p_wait,
        base.mean_wait * (ca2 + cs2) / 2.0,
        exact=False,
        method="GI/G/c, Allen-Cunneen approximation",
    )


def mm1_response_quantile(lam: float, mu: float, q: float) -> float:
    """The q-quantile of the M/M/1 response time, which is exponential with rate μ − λ.

    Examples
    --------
    >>> round(mm1_response_quantile(0.5, 1.0, 1 - math.exp(-1)), 12)
    2.0
    """
    lam = _check_nonnegative("arrival rate", lam)
    mu = _check_positive("service rate", mu)
    q = _check_probability("quantile", q)
    _check_stable(lam, 1.0 / mu, 1)
    return -math.log1p(-q) / (mu - lam)


def mmc_wait_tail(lam: float, mu: float, c: int, t: float) -> float:
    """P(W > t) for the queueing delay W of an M/M/c queue: C(c, a)·exp(−(cμ − λ)·t).

    Examples
    --------
    >>> round(mmc_wait_tail(1.0, 1.0, 2, 0.0), 6)
    0.333333
    """
    lam = _check_nonnegative("arrival rate", lam)
    mu = _check_positive("service rate", mu)
    servers = _check_servers(c)
    t = _check_nonnegative("time", t)
    _check_stable(lam, 1.0 / mu, servers)
    return erlang_c(servers, lam / mu) * math.exp(-(servers * mu - lam) * t)


def mmc_response_cdf(lam: float, mu: float, c: int, t: float) -> float:
    """P(T ≤ t) for the response (sojourn) time T of an M/M/c queue.

    T is the wait, 0 with probability 1 − C and exponential with rate θ = cμ − λ otherwise,
    plus an independent exponential service with rate μ. When θ == μ the sum of the two
    exponentials is Erlang-2 rather than hypoexponential; the form used here covers both.

    Examples
    --------
    >>> round(mmc_response_cdf(0.5, 1.0, 1, 2.0), 12) == round(1 - math.exp(-1), 12)
    True
    """
    lam = _check_nonnegative("arrival rate", lam)
    mu = _check_positive("service rate", mu)
    servers = _check_servers(c)
    t = _check_nonnegative("time", t)
    _check_stable(lam, 1.0 / mu, servers)
    p_wait = erlang_c(servers, lam / mu)
    theta = servers * mu - lam
    # P(wait + service > t) = e^{-μt} + μ(e^{-μt} − e^{-θt})/(θ − μ). Factoring out the slower
    # exponential and using expm1 keeps this accurate as θ → μ and free of inf·0 for large t.
    gap = abs(theta - mu)
    spread = t if gap == 0.0 else -math.expm1(-gap * t) / gap
    survival = math.exp(-mu * t) + p_wait * mu * math.exp(-min(mu, theta) * t) * spread
    return min(1.0, max(0.0, 1.0 - survival))


def mmc_response_quantile(lam: float, mu: float, c: int, q: float) -> float:
    """The q-quantile of the M/M/c response time, by root-finding on `mmc_response_cdf`.

    Examples
    --------
    >>> t = mmc_response_quantile(1.0, 1.0, 2, 0.99)
    >>> round(mmc_response_cdf(1.0, 1.0, 2, t), 9)
    0.99
    """
    lam = _check_nonnegative("arrival rate", lam)
    mu = _check_positive("service rate", mu)
    servers = _check_servers(c)
    q = _check_probability("quantile", q)
    _check_stable(lam, 1.0 / mu, servers)
    if q == 0.0:
        return 0.0
    # The slower of the two exponential phases bounds the tail, so its quantile is a
    # sensible first bracket; doubling covers the rest.
    slowest = min(mu, servers * mu - lam)
    high = max(-math.log1p(-q), 1.0) / slowest
    while mmc_response_cdf(lam, mu, servers, high) < q:
        high *= 2.0
    from scipy.optimize import brentq  # imported here: a quarter second off every command

    root: float = brentq(
        lambda t: mmc_response_cdf(lam, mu, servers, t) - q, 0.0, high, xtol=1e-14 * high
    )
    return root


#: Beyond this many distinct means inclusion–exclusion has too many terms and cancels badly.
_MAX_INCLUSION_EXCLUSION = 16


def expected_max_exponential(means: Sequence[float]) -> float:
    """E[max] of independent exponential random variables with the given means.

    Inclusion–exclusion: E[max] = Σ over non-empty subsets S of (−1)^{|S|+1} / Σ_{i∈S} 1/m_i.
    Subsets with the same total rate are merged, so n identical means cost n terms, not 2ⁿ.
    With more than 16 distinct means the alternating sum loses precision, so the integral
    ∫₀^∞ (1 − Π(1 − e^{−t/m_i})) dt is evaluated numerically instead. Zero means are constants
    at 0 and do not change the maximum. This is the stated approximation for the response of a
    parallel fork–join whose branches are taken as exponential.

    Examples
    --------
    >>> expected_max_exponential([1.0, 1.0])
    1.5
    >>> expected_max_exponential([])
    0.0
    """
    for mean in means:
        _check_nonnegative("mean", mean)
    ordered = sorted(float(m) for m in means if m > 0)
    if not ordered:
        return 0.0
    if len(set(ordered)) > _MAX_INCLUSION_EXCLUSION:
        return _expected_max_by_integral(ordered)
    # Sorting first means a multiset of rates is always summed in the same order, so equal
    # subsets land on the same float key and merge.
    rates = [1.0 / m for m in ordered]
    terms: dict[float, int] = {}
    for rate in rates:
        extended = dict(terms)
        for total, coefficient in terms.items():
            extended[total + rate] = extended.get(total + rate, 0) - coefficient
        extended[rate] = extended.get(rate, 0) + 1
        terms = extended
    return math.fsum(coefficient / total for total, coefficient in terms.items())


def _expected_max_by_integral(means: Sequence[float]) -> float:
    def survival(t: float) -> float:
        return 1.0 - math.prod(-math.expm1(-t / m) for m in means)

    from scipy.integrate import quad  # imported here: a quarter second off every command

    value: float = quad(survival, 0.0, math.inf, limit=200)[0]
    return value


def bottleneck_throughput(demands: Mapping[str, tuple[float, float]]) -> tuple[float, str]:
    """The asymptotic bound on throughput and the station that sets it.

    Each station can complete at most ``capacity / demand`` requests per time unit, where the
    demand is visits × mean service time and the capacity is the number of servers; the
    system's throughput is bounded by the smallest of these.

    Parameters
    ----------
    demands : Mapping[str, tuple[float, float]]
        Station name → (service demand per request, capacity in servers). Stations with zero
        demand never saturate and are ignored.

    Returns
    -------
    tuple[float, str]
        The maximum throughput and the name of the bottleneck (the first one in mapping order
        on a tie).

    Raises
    ------
    ValueError
        If a demand is negative, a capacity is not positive, or no station has positive demand
        (the bound would be infinite, which almost always means the demands were not filled in).

    Examples
    --------
    >>> bottleneck_throughput({"api": (0.012, 3), "db": (0.6 * 0.004, 1)})
    (250.0, 'api')
    """
    best: tuple[float, str] | None = None
    for name, (demand, capacity) in demands.items():
        _check_nonnegative(f"{name}: demand", demand)
        _check_positive(f"{name}: capacity", capacity)
        if demand == 0:
            continue
        limit = capacity / demand
        if best is None or limit < best[0]:
            best = (limit, name)
    if best is None:
        raise ValueError("no station has a positive service demand; throughput is unbounded")
    return best
