"""Closed forms for the service disciplines other than FIFO: processor sharing and LIFO.

This module owns the station formulas of ``discipline: ps`` (single- and multi-server
processor sharing, limited processor sharing) and what LIFO keeps of FIFO's. Like
:mod:`scaleplan.analytic.queues` it works on plain floats in any consistent unit.

The figures are reported as for every other station: ``mean_response`` is the sojourn time,
``mean_wait`` is the sojourn minus the mean service time (so wait + service is the sojourn),
and ``mean_queue`` is λ·``mean_wait`` = E[(N − c)⁺], the requests present beyond the
processors.

- **M/G/1-PS** (Kleinrock 1976, *Queueing Systems* Vol. 2, §4.4; Harchol-Balter 2013,
  *Performance Modeling and Design of Computer Systems*, ch. 22 and 30): the mean sojourn is
  E[S]/(1 − ρ), and a request of size x stays x/(1 − ρ) on average, whatever the service
  distribution (insensitivity): short requests are not stuck behind long ones.
- **M/G/c-PS**, each of n requests served at rate min(1, c/n), is a symmetric queue (Kelly
  1979, *Reversibility and Stochastic Networks*, §3.3): its number in system has M/M/c's
  distribution for any service distribution of the same mean, so its mean sojourn is
  M/M/c's (Erlang C) W = E[S] + C(c, a)/(cμ − λ).
- **Limited PS** (at most K ≥ c requests share, the rest wait FIFO behind): with exponential
  service the number in system is the birth–death chain of rate μ·min(n, c), that of M/M/c,
  whatever K, so the M/M/c figures are exact. With general service there is no closed form
  (see Avi-Itzhak & Halfin 1988, "Expected response times in a non-symmetric time sharing
  queue with a limited number of service positions"; Zhang, Dai & Zwart 2009, "Law of large
  number limits of limited processor-sharing queues"): the M/M/c figure is used and marked
  approximate. K = ∞ is M/G/c-PS (exact); K = c is M/G/c FIFO.
- **LIFO** (non-preemptive, blind to service times): every work-conserving discipline that
  does not look at service times gives the same distribution of the number in system as FIFO
  in M/G/c with identical servers, hence the same mean wait by Little's law (Kleinrock 1976
  Vol. 2, ch. 3, the conservation law; Harchol-Balter 2013, ch. 29); the variance and the tail
  of the wait are larger (for M/M/1 the LIFO wait of a request that waits is a busy period).
  So the estimate gives a lifo station FIFO's means, and no percentiles.
"""

from __future__ import annotations

from dataclasses import replace

from scaleplan.analytic.queues import StationMetrics, gigc, md1, mgc, mm1, mmc

__all__ = ["mg1_ps", "mgc_ps", "ps_station", "queue_metrics"]


def mg1_ps(lam: float, mean_service: float) -> StationMetrics:
    """Exact mean figures of an M/G/1 processor-sharing queue (any service distribution).

    Mean sojourn E[S]/(1 − ρ) (Kleinrock 1976, Vol. 2, §4.4).

    Raises
    ------
    UnstableError
        If λ·E[S] ≥ 1.

    Examples
    --------
    >>> round(mg1_ps(0.5, 1.0).mean_response, 12)
    2.0
    """
    return mgc_ps(lam, mean_service, 1)


def mgc_ps(lam: float, mean_service: float, c: int) -> StationMetrics:
    """Exact mean figures of M/G/c processor sharing: ``c`` processors shared by the n present,
    each at rate min(1, c/n); a symmetric queue, so M/M/c's figures (Kelly 1979, §3.3).

    ``p_wait`` is the probability that an arrival finds every processor busy (and so is
    served below full speed), Erlang C.

    Raises
    ------
    UnstableError
        If λ·E[S]/c ≥ 1.

    Examples
    --------
    >>> m = mgc_ps(1.0, 1.0, 2)
    >>> round(m.mean_response, 6), round(m.mean_wait, 6)
    (1.333333, 0.333333)
    """
    base = mmc(lam, 1.0 / mean_service, c)
    method = "M/G/1-PS (insensitive)" if c == 1 else f"M/G/{c}-PS (symmetric queue, insensitive)"
    return replace(base, method=method)


def ps_station(
    lam: float, mean_service: float, scv: float, c: int, admission_limit: int | None
) -> StationMetrics:
    """Mean figures of (limited) processor sharing: ``c`` processors, at most
    ``admission_limit`` requests sharing them (None: no limit), FIFO behind.

    Exact without a limit (any service distribution) or with exponential service (any limit);
    otherwise M/M/c's figures with ``exact=False`` (no closed form for limited PS).

    Examples
    --------
    >>> ps_station(1.0, 1.0, 4.0, 2, None).exact, ps_station(1.0, 1.0, 4.0, 2, 3).exact
    (True, False)
    >>> ps_station(1.0, 1.0, 1.0, 2, 3).mean_response == mgc_ps(1.0, 1.0, 2).mean_response
    True
    """
    unlimited = mgc_ps(lam, mean_service, c)
    if admission_limit is None:
        return unlimited
    if scv == 1.0:
        return replace(unlimited, method=f"limited PS, {admission_limit} admitted (M/M/{c}: exact)")
    return replace(
        unlimited,
        exact=False,
        method=(
            f"limited PS, {admission_limit} admitted, approximated by M/M/{c} "
            f"(exact for exponential service)"
        ),
    )


def queue_metrics(
    lam: float,
    ca2: float,
    mean_s: float,
    scv: float,
    servers: int,
    discipline: str = "fifo",
    admitted: int | None = None,
) -> StationMetrics:
    """A station's metrics under its discipline: ``lam`` arrivals/s with arrival scv ``ca2``,
    ``servers`` slots (processors under ps) of mean ``mean_s`` and scv ``scv``; ``admitted``
    bounds a ps replica's sharers (limited processor sharing)."""
    if discipline == "ps":
        if ca2 != 1.0:  # no closed form: FIFO with exponential service, as PS's M/M/c twin
            base = gigc(lam, ca2, mean_s, 1.0, servers)
            return replace(base, method=f"PS taken as {base.method} with service scv 1")
        return ps_station(lam, mean_s, scv, servers, admitted)
    if discipline == "lifo":  # same means as FIFO (scaleplan.analytic.disciplines)
        fifo = queue_metrics(lam, ca2, mean_s, scv, servers)
        return replace(fifo, method=f"{fifo.method}, lifo order (same means)")
    if ca2 != 1.0:
        return gigc(lam, ca2, mean_s, scv, servers)
    if servers == 1 and scv == 0.0:
        return md1(lam, mean_s)
    if servers == 1 and scv == 1.0:
        return mm1(lam, 1.0 / mean_s)
    return mgc(lam, mean_s, scv, servers)
