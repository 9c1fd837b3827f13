"""Closed forms for priority queues: each class's mean wait or response time.

Classes are numbered by priority, SMALLER first (class 0 is served before class 1, as in Ciw);
classes given with the same priority form one level, served first come first served. With
λ_i the arrival rate of level i, S_i its service time and ρ_i = λ_i E[S_i] (divided by c for
c servers), σ_k = Σ_{i≤k} ρ_i is the load of level k and the levels above it (σ_{-1} = 0).

- **M/G/1, non-preemptive** (Cobham 1954, "Priority assignment in waiting line problems",
  Operations Research 2(1); Kleinrock 1976, *Queueing Systems* Vol. 2, §3.6, eq. 3.30;
  Harchol-Balter 2013, *Performance Modeling and Design of Computer Systems*, ch. 31):
  W_k = W0 / ((1 − σ_{k−1})(1 − σ_k)), with W0 = Σ_i λ_i E[S_i²] / 2 over every level (the
  mean residual work found in service).
- **M/G/1, preemptive-resume** (Kleinrock 1976, Vol. 2, §3.7, eq. 3.65; Harchol-Balter 2013,
  ch. 32): T_k = E[S_k] / (1 − σ_{k−1}) + (Σ_{i≤k} λ_i E[S_i²] / 2) / ((1 − σ_{k−1})(1 − σ_k)):
  a level sees only the levels above it and itself, and its service is stretched by the
  arrivals of the levels above it.
- **M/M/c, non-preemptive, every class with the same service rate μ** (Kleinrock 1976,
  Vol. 2, §3.6; Harchol-Balter 2013, ch. 31 exercises): W_k = C(c, a) / (cμ (1 − σ_{k−1})
  (1 − σ_k)), with a = λ/μ for the total rate λ, C Erlang's C formula and σ per server.

Rates and times may be in any unit as long as it is the same one throughout.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scaleplan.analytic.queues import UnstableError, erlang_c

__all__ = [
    "PriorityClass",
    "levels",
    "mg1_nonpreemptive",
    "mg1_preemptive_resume",
    "mmc_nonpreemptive",
    "nonpreemptive_factor",
]


@dataclass(frozen=True)
class PriorityClass:
    """One class at a station: its arrival rate, mean service time, the squared coefficient of
    variation of its service time (1: exponential, 0: deterministic) and its priority."""

    rate: float
    mean_service: float
    scv: float = 1.0
    priority: int = 0

    @property
    def second_moment(self) -> float:
        """E[S²] = (1 + scv) E[S]²."""
        return (1.0 + self.scv) * self.mean_service**2


def levels(priorities: Sequence[int]) -> list[int]:
    """Each class's level: the rank of its priority among the distinct ones (0 is served
    first)."""
    ranks = {priority: rank for rank, priority in enumerate(sorted(set(priorities)))}
    return [ranks[priority] for priority in priorities]


def _sigmas(loads: Sequence[float], priorities: Sequence[int]) -> list[tuple[float, float]]:
    """(σ_{k−1}, σ_k) for each class: the load of the levels strictly above its own, and of
    those and its own."""
    ranks = levels(priorities)
    per_level = [0.0] * (max(ranks) + 1 if ranks else 0)
    for load, rank in zip(loads, ranks, strict=True):
        per_level[rank] += load
    above = [math.fsum(per_level[:rank]) for rank in range(len(per_level))]
    return [(above[rank], above[rank] + per_level[rank]) for rank in ranks]


def _check(classes: Sequence[PriorityClass], servers: int = 1) -> float:
    total = math.fsum(c.rate * c.mean_service for c in classes) / servers
    if total >= 1.0:
        rate = math.fsum(c.rate for c in classes)
        raise UnstableError(total, rate, rate / total if total else math.inf)
    return total


def nonpreemptive_factor(sigma_above: float, sigma_with: float, utilization: float) -> float:
    """How much longer (or shorter) a class waits than under FIFO, non-preemptive:
    (1 − ρ) / ((1 − σ_{k−1})(1 − σ_k)). Exact for M/G/1 and for M/M/c with equal service
    rates, where the FIFO wait is W0/(1 − ρ), resp. C(c, a)/(cμ(1 − ρ)); the analytic estimate
    applies it to its M/G/c and GI/G/c waits as an approximation."""
    return (1.0 - utilization) / ((1.0 - sigma_above) * (1.0 - sigma_with))


def mg1_nonpreemptive(classes: Sequence[PriorityClass]) -> list[float]:
    """Each class's mean wait in queue at an M/G/1 non-preemptive priority queue (Cobham).

    Examples
    --------
    Two exponential classes, 1 ms each, at 0.4/ms and 0.4/ms (ρ = 0.8): W0 = 0.8 ms,
    W_high = 0.8/(1 × 0.6), W_low = 0.8/(0.6 × 0.2).

    >>> [round(w, 4) for w in mg1_nonpreemptive(
    ...     [PriorityClass(0.4, 1.0, 1.0, 0), PriorityClass(0.4, 1.0, 1.0, 1)])]
    [1.3333, 6.6667]
    """
    _check(classes)
    w0 = math.fsum(c.rate * c.second_moment for c in classes) / 2.0
    sigmas = _sigmas([c.rate * c.mean_service for c in classes], [c.priority for c in classes])
    return [w0 / ((1.0 - above) * (1.0 - with_)) for above, with_ in sigmas]


def mg1_preemptive_resume(classes: Sequence[PriorityClass]) -> list[float]:
    """Each class's mean response time (wait and service) at an M/G/1 preemptive-resume
    priority queue.

    Examples
    --------
    The two classes above, preemptive: T_high is M/M/1 at ρ = 0.4, 1/(1 − 0.4) ms, and
    T_low = 1/0.6 + 0.8/(0.6 × 0.2).

    >>> [round(t, 4) for t in mg1_preemptive_resume(
    ...     [PriorityClass(0.4, 1.0, 1.0, 0), PriorityClass(0.4, 1.0, 1.0, 1)])]
    [1.6667, 8.3333]
    """
    _check(classes)
    ranks = levels([c.priority for c in classes])
    sigmas = _sigmas([c.rate * c.mean_service for c in classes], [c.priority for c in classes])
    times = []
    for cls, rank, (above, with_) in zip(classes, ranks, sigmas, strict=True):
        residual = (
            math.fsum(
                other.rate * other.second_moment
                for other, other_rank in zip(classes, ranks, strict=True)
                if other_rank <= rank
            )
            / 2.0
        )
        times.append(cls.mean_service / (1.0 - above) + residual / ((1.0 - above) * (1.0 - with_)))
    return times


def mmc_nonpreemptive(classes: Sequence[PriorityClass], servers: int) -> list[float]:
    """Each class's mean wait in queue at an M/M/c non-preemptive priority queue whose classes
    share one service rate μ.

    Raises ``ValueError`` when the classes' mean service times differ (the closed form needs
    one rate: the residual time to the next departure is then 1/(cμ) whoever is served).

    Examples
    --------
    Three servers, μ = 1, two classes at 1.2 each (ρ = 0.8): C(3, 2.4) = 0.6472,
    W_high = 0.6472/(3 × 0.6), W_low = 0.6472/(3 × 0.6 × 0.2).

    >>> [round(w, 4) for w in mmc_nonpreemptive(
    ...     [PriorityClass(1.2, 1.0, 1.0, 0), PriorityClass(1.2, 1.0, 1.0, 1)], 3)]
    [0.3596, 1.7978]
    """
    means = {c.mean_service for c in classes}
    if len(means) > 1:
        raise ValueError(f"the M/M/c priority form needs one service rate (got means {means})")
    _check(classes, servers)
    mean = next(iter(means))
    total_rate = math.fsum(c.rate for c in classes)
    waiting = erlang_c(servers, total_rate * mean)
    sigmas = _sigmas([c.rate * mean / servers for c in classes], [c.priority for c in classes])
    return [waiting * mean / (servers * (1.0 - above) * (1.0 - with_)) for above, with_ in sigmas]
