"""Mean Value Analysis: the referee of closed workloads.

A closed product-form network: ``N`` users, each thinking for a mean ``Z`` seconds (a delay
station) and then visiting queueing stations, each given by its service *demand* (visits per
request × mean service time, seconds) and its servers. Three kinds of station:

- a single-server queue (FCFS with exponential service, or processor sharing with any) by the
  standard recursion R_k(n) = D_k (1 + Q_k(n − 1)) (Reiser and Lavenberg 1980);
- a multi-server queue (``servers`` = c > 1) as a load-dependent station whose rate is
  min(j, c) with j present, by exact load-dependent MVA over its marginal probabilities
  p_k(j | n) (Lazowska et al., *Quantitative System Performance*, 1984, §8.3);
- a delay station (``servers`` = None: infinite servers), R_k = D_k.

:func:`exact_mva` gives every population 1 … N; :func:`exact_multiclass` several classes
over single-server and delay stations (every population vector below N); :func:`schweitzer_mva`
the Schweitzer–Bard
fixed point for one population (Q_k(N − 1) ≈ (N − 1)/N · Q_k(N)), cheap for thousands of users
and with several classes, multi-server stations by Seidmann's approximation (a c-server
station of demand D as a queue of demand D/c plus a delay of D(c − 1)/c).

Like the rest of :mod:`scaleplan.analytic`'s formulas, it works on plain floats and knows
nothing of specs (:mod:`scaleplan.analytic.closed` turns a spec into stations).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

#: Relative change of every queue length below which the Schweitzer iteration has converged.
TOLERANCE = 1e-12
MAX_ITERATIONS = 100_000


@dataclass(frozen=True)
class MvaStation:
    """One station: its demand per request (seconds), its servers (None: a delay station)."""

    name: str
    demand_s: float
    servers: int | None = 1

    def __post_init__(self) -> None:
        if not (math.isfinite(self.demand_s) and self.demand_s >= 0):
            raise ValueError(f"{self.name}: demand must be finite and >= 0 (got {self.demand_s})")
        if self.servers is not None and self.servers < 1:
            raise ValueError(f"{self.name}: servers must be at least 1 (got {self.servers})")


@dataclass(frozen=True)
class MvaSolution:
    """The network's figures at one population: throughput (requests/s), response time
    (seconds, the think time excluded), and per station its residence time per request,
    mean number present (waiting and in service) and utilisation per server."""

    users: int
    throughput_per_s: float
    response_s: float
    residence_s: dict[str, float]
    queue_length: dict[str, float]
    utilization: dict[str, float]


def _check(stations: Sequence[MvaStation], think_s: float, users: int) -> None:
    if users < 0:
        raise ValueError(f"users must be >= 0 (got {users})")
    if not (math.isfinite(think_s) and think_s >= 0):
        raise ValueError(f"think time must be finite and >= 0 (got {think_s})")
    names = [station.name for station in stations]
    if len(set(names)) != len(names):
        raise ValueError(f"station names must be unique (got {names})")
    if think_s == 0 and not any(station.demand_s > 0 for station in stations):
        raise ValueError("a closed network needs a think time or a station with a demand")


def _utilization(station: MvaStation, throughput: float) -> float:
    if station.servers is None:
        return 0.0
    return throughput * station.demand_s / station.servers


def exact_mva(stations: Sequence[MvaStation], think_s: float, users: int) -> list[MvaSolution]:
    """Exact single-class MVA for populations 1 … ``users`` (index n − 1 is population n).

    Examples
    --------
    The machine-repairman model: 2 users thinking 1 s, one server of 0.5 s.

    >>> last = exact_mva([MvaStation("cpu", 0.5)], 1.0, 2)[-1]
    >>> round(last.throughput_per_s, 6), round(last.response_s, 6)
    (1.2, 0.666667)
    """
    _check(stations, think_s, users)
    queue = {station.name: 0.0 for station in stations}
    # p[k][j]: probability of j users at multi-server station k at the previous population.
    marginal = {
        station.name: [1.0]
        for station in stations
        if station.servers is not None and station.servers > 1
    }
    solutions: list[MvaSolution] = []
    for n in range(1, users + 1):
        residence: dict[str, float] = {}
        for station in stations:
            demand = station.demand_s
            if station.servers is None:
                residence[station.name] = demand
            elif station.servers == 1:
                residence[station.name] = demand * (1.0 + queue[station.name])
            else:
                probabilities = marginal[station.name]
                servers = station.servers
                residence[station.name] = demand * math.fsum(
                    j / min(j, servers) * probabilities[j - 1] for j in range(1, n + 1)
                )
        response = math.fsum(residence.values())
        throughput = n / (think_s + response)
        for station in stations:
            queue[station.name] = throughput * residence[station.name]
            if station.name in marginal:
                previous = marginal[station.name]
                servers = station.servers or 1
                current = [0.0] * (n + 1)
                for j in range(1, n + 1):
                    current[j] = throughput * station.demand_s / min(j, servers) * previous[j - 1]
                # p(0 | n) by the complement is the textbook rule; it loses precision only
                # near saturation with many users, where schweitzer_mva is the tool.
                current[0] = max(0.0, 1.0 - math.fsum(current[1:]))
                marginal[station.name] = current
        solutions.append(
            MvaSolution(
                users=n,
                throughput_per_s=throughput,
                response_s=response,
                residence_s=dict(residence),
                queue_length=dict(queue),
                utilization={s.name: _utilization(s, throughput) for s in stations},
            )
        )
    return solutions


def schweitzer_mva(stations: Sequence[MvaStation], think_s: float, users: int) -> MvaSolution:
    """The Schweitzer–Bard approximate MVA at ``users`` (one class): the fixed point of
    Q_k(N − 1) ≈ (N − 1)/N · Q_k(N); a multi-server station by Seidmann's approximation.

    Examples
    --------
    >>> round(schweitzer_mva([MvaStation("cpu", 0.5)], 1.0, 2).throughput_per_s, 6)
    1.171573
    """
    [solution] = schweitzer_multiclass(
        [{station.name: station.demand_s for station in stations}],
        {station.name: station.servers for station in stations},
        [think_s],
        [users],
    )
    return solution


def schweitzer_multiclass(
    demands: Sequence[dict[str, float]],
    servers: dict[str, int | None],
    think_s: Sequence[float],
    users: Sequence[int],
) -> list[MvaSolution]:
    """Multi-class Schweitzer–Bard approximate MVA: one solution per class (its throughput,
    response time and per station its own residence, queue length and utilisation).

    ``demands[c][k]`` is class c's demand at station k, ``servers[k]`` the station's servers
    (None: a delay station).
    """
    if not (len(demands) == len(think_s) == len(users)):
        raise ValueError("one demand map, think time and population per class")
    names = list(servers)
    classes = range(len(users))
    for c in classes:
        _check(
            [MvaStation(k, demands[c].get(k, 0.0), servers[k]) for k in names],
            think_s[c],
            users[c],
        )
    # Seidmann: a c-server station of demand D queues with D/c and delays the rest.
    queued = {
        (c, k): demands[c].get(k, 0.0) / (servers[k] or 1) if servers[k] is not None else 0.0
        for c in classes
        for k in names
    }
    delayed = {(c, k): demands[c].get(k, 0.0) - queued[c, k] for c in classes for k in names}
    queue = {
        (c, k): users[c] / max(len(names), 1) if servers[k] is not None else 0.0
        for c in classes
        for k in names
    }
    throughput = [0.0 for _ in classes]
    residence: dict[tuple[int, str], float] = {}
    for _ in range(MAX_ITERATIONS):
        for c in classes:
            for k in names:
                seen = math.fsum(
                    queue[d, k] * ((users[d] - 1) / users[d] if d == c else 1.0)
                    for d in classes
                    if users[d] > 0
                )
                residence[c, k] = queued[c, k] * (1.0 + seen) + delayed[c, k]
            total = math.fsum(residence[c, k] for k in names)
            throughput[c] = users[c] / (think_s[c] + total) if users[c] else 0.0
        new = {
            (c, k): throughput[c] * residence[c, k] if servers[k] is not None else 0.0
            for c in classes
            for k in names
        }
        converged = all(
            abs(new[key] - queue[key]) <= TOLERANCE * max(1.0, abs(new[key])) for key in new
        )
        queue = new
        if converged:
            break
    return [
        MvaSolution(
            users=users[c],
            throughput_per_s=throughput[c],
            response_s=math.fsum(residence[c, k] for k in names),
            residence_s={k: residence[c, k] for k in names},
            queue_length={k: throughput[c] * residence[c, k] for k in names},
            utilization={
                k: throughput[c] * demands[c].get(k, 0.0) / servers_k
                if (servers_k := servers[k]) is not None
                else 0.0
                for k in names
            },
        )
        for c in classes
    ]


def exact_multiclass(
    demands: Sequence[dict[str, float]],
    servers: dict[str, int | None],
    think_s: Sequence[float],
    users: Sequence[int],
) -> list[MvaSolution]:
    """Exact multi-class MVA (Reiser and Lavenberg 1980) for single-server and delay stations:
    one solution per class at the population ``users``, by the recursion over every
    population vector below it (∏ (N_c + 1) of them).

    ``demands[c][k]`` is class c's demand at station k, ``servers[k]`` 1 or None (a delay
    station); a station of several servers raises ``ValueError`` (its exact multi-class form
    needs joint probabilities: :func:`schweitzer_multiclass` approximates it).

    Examples
    --------
    Two classes on one station: each sees the other's queue.

    >>> a, b = exact_multiclass([{"cpu": 0.5}, {"cpu": 0.2}], {"cpu": 1}, [1.0, 1.0], [1, 1])
    >>> round(a.throughput_per_s, 6), round(b.throughput_per_s, 6)
    (0.631579, 0.789474)
    """
    if not (len(demands) == len(think_s) == len(users)):
        raise ValueError("one demand map, think time and population per class")
    names = list(servers)
    for name, count in servers.items():
        if count is not None and count != 1:
            raise ValueError(f"{name}: exact multi-class MVA takes single-server stations only")
    classes = range(len(users))
    for c in classes:
        _check(
            [MvaStation(k, demands[c].get(k, 0.0), servers[k]) for k in names],
            think_s[c],
            users[c],
        )
    queued = [{k for k in names if servers[k] is not None}]
    queue: dict[tuple[int, ...], dict[str, float]] = {
        tuple(0 for _ in classes): {k: 0.0 for k in names}
    }
    residence: dict[tuple[int, str], float] = {}
    throughput = [0.0 for _ in classes]
    for population in itertools.product(*(range(n + 1) for n in users)):
        if not any(population):
            continue
        for c in classes:
            if population[c] == 0:
                throughput[c] = 0.0
                continue
            fewer = tuple(n - (d == c) for d, n in enumerate(population))
            before = queue[fewer]
            for k in names:
                demand = demands[c].get(k, 0.0)
                residence[c, k] = demand * (1.0 + before[k]) if k in queued[0] else demand
            total = math.fsum(residence[c, k] for k in names)
            throughput[c] = population[c] / (think_s[c] + total)
        queue[population] = {
            k: math.fsum(throughput[c] * residence[c, k] for c in classes if population[c] > 0)
            for k in names
        }
    return [
        MvaSolution(
            users=users[c],
            throughput_per_s=throughput[c],
            response_s=math.fsum(residence[c, k] for k in names) if users[c] else 0.0,
            residence_s={k: residence[c, k] for k in names} if users[c] else {},
            queue_length={k: throughput[c] * residence[c, k] for k in names} if users[c] else {},
            utilization={
                k: throughput[c] * demands[c].get(k, 0.0) if servers[k] is not None else 0.0
                for k in names
            },
        )
        for c in classes
    ]


def repairman_p0(users: int, think_s: float, service_s: float) -> float:
    """The machine-repairman model's (M/M/1//N) probability that the server is idle:
    p0 = 1 / Σ_{n=0}^{N} N!/(N − n)! · (S/Z)^n (Kleinrock, *Queueing Systems* I, §3.8).

    Examples
    --------
    >>> round(repairman_p0(2, 1.0, 0.5), 6)
    0.4
    """
    if think_s <= 0:
        return 0.0 if users else 1.0
    ratio = service_s / think_s
    term, total = 1.0, 1.0
    for n in range(1, users + 1):
        term *= (users - n + 1) * ratio
        total += term
    return 1.0 / total


__all__ = [
    "MvaSolution",
    "MvaStation",
    "exact_multiclass",
    "exact_mva",
    "repairman_p0",
    "schweitzer_multiclass",
    "schweitzer_mva",
]
