"""Arrival processes: the times between arriving requests, as an endless iterator of seconds.

One function per ``workload.arrival``; the engine stops reading when it has enough requests or
simulated time. Piecewise processes (bursty, diurnal) draw a fresh exponential gap whenever the
rate changes, which is exact for a Poisson process by memorylessness.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from scaleplan.engine.streams import buffered
from scaleplan.spec import WorkloadSpec


def gaps(workload: WorkloadSpec, rng: np.random.Generator, rate_per_s: float) -> Iterator[float]:
    """Seconds between consecutive arrivals; ``rate_per_s`` overrides the workload's mean rate
    (for bursty and diurnal arrivals every rate is scaled by the same factor).

    Examples
    --------
    >>> from scaleplan.spec import WorkloadSpec
    >>> it = gaps(WorkloadSpec(arrival="constant", rate_per_s=4), np.random.default_rng(1), 4)
    >>> [next(it) for _ in range(3)]
    [0.25, 0.25, 0.25]
    """
    scale = rate_per_s / workload.mean_rate_per_s
    if workload.arrival == "poisson":
        return buffered(lambda n: rng.exponential(1.0 / rate_per_s, n))
    if workload.arrival == "constant":
        return _constant(1.0 / rate_per_s)
    if workload.arrival == "bursty":
        return _bursty(workload, rng, scale)
    if workload.arrival == "diurnal":
        return _diurnal(workload, rng, rate_per_s)
    return _trace(workload, scale)


def _constant(gap: float) -> Iterator[float]:
    while True:
        yield gap


def _bursty(workload: WorkloadSpec, rng: np.random.Generator, scale: float) -> Iterator[float]:
    burst = workload.burst
    assert burst is not None and workload.rate_per_s is not None
    rates = (workload.rate_per_s * scale, burst.rate_per_s * scale)
    stays = (burst.mean_gap_s, burst.mean_duration_s)
    uniform = buffered(rng.random)
    state, now, last = 0, 0.0, 0.0
    switch = -np.log1p(-next(uniform)) * stays[0]
    while True:
        step = -np.log1p(-next(uniform)) / rates[state]
        if now + step < switch:
            now += step
            yield now - last
            last = now
        else:
            now = switch
            state = 1 - state
            switch = now - np.log1p(-next(uniform)) * stays[state]


def _diurnal(
    workload: WorkloadSpec, rng: np.random.Generator, rate_per_s: float
) -> Iterator[float]:
    diurnal = workload.diurnal
    assert diurnal is not None
    rates = [rate_per_s * multiplier for multiplier in diurnal.multipliers()]
    slice_s = diurnal.period_s / len(rates)
    uniform = buffered(rng.random)
    now, last, index = 0.0, 0.0, 0
    slice_end = slice_s
    while True:
        rate = rates[index % len(rates)]
        step = -np.log1p(-next(uniform)) / rate if rate > 0 else np.inf
        if now + step < slice_end:
            now += step
            yield now - last
            last = now
        else:
            now = slice_end
            index += 1
            slice_end += slice_s


def _trace(workload: WorkloadSpec, scale: float) -> Iterator[float]:
    assert workload.trace is not None
    times = workload.trace.times_s()
    previous = times[0]
    # A faster replay compresses the recorded times; the trace ends when it ends.
    for time in times:
        yield (time - previous) / scale
        previous = time
