"""Arrival processes: the times between arriving requests, as an endless iterator of seconds.

One function per ``workload.arrival``; the engine stops reading when it has enough requests or
simulated time. Piecewise processes (bursty, diurnal) draw a fresh exponential gap whenever the
rate changes, which is exact for a Poisson process by memorylessness.

A load profile (``arrival: profile``) is a non-homogeneous Poisson process drawn by exact
inversion: the points of a unit-rate Poisson process, mapped through the inverse of the
profile's cumulative rate Λ(t) (closed form on a linear piece, Newton within a bracket on an
exponential one), are the arrivals — no thinning, no rate held constant over a step. Its
arrivals end with the profile. :func:`phase_classes` draws each arrival's class from the mix of
the phase it arrives in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np

from scaleplan.engine.streams import buffered
from scaleplan.spec import WorkloadSpec
from scaleplan.spec.profile import ProfileSpec


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
    if workload.arrival == "profile":
        assert workload.profile is not None and workload.rate_per_s is not None
        return profile_gaps(workload.profile, rng, workload.rate_per_s * scale)
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


def profile_times(
    profile: ProfileSpec, rng: np.random.Generator, base_per_s: float
) -> Iterator[float]:
    """Arrival times of the profile's non-homogeneous Poisson process (rate = base × factor),
    by inversion of the cumulative rate; ends with the profile.

    Examples
    --------
    >>> from scaleplan.spec.profile import ProfileSpec
    >>> ramp = ProfileSpec(phases=[{"duration_s": 100, "ramp": {"from": 0, "to": 2}}])
    >>> times = list(profile_times(ramp, np.random.default_rng(1), 10.0))
    >>> 800 < len(times) < 1200, all(b > a for a, b in zip(times, times[1:]))
    (True, True)
    """
    exponential = buffered(lambda n: rng.exponential(1.0, n))
    scale = 1.0 / base_per_s
    mass = next(exponential) * scale  # the unit-rate process's next point, in factor-seconds
    done = 0.0  # factor-seconds of the pieces already passed
    for piece in profile.segments():
        whole = piece.integral(piece.end - piece.start)
        while mass <= done + whole:
            yield piece.start + piece.invert(mass - done)
            mass += next(exponential) * scale
        done += whole


def profile_gaps(
    profile: ProfileSpec, rng: np.random.Generator, base_per_s: float
) -> Iterator[float]:
    """Seconds between the arrivals of :func:`profile_times` (the first from time 0)."""
    last = 0.0
    for time in profile_times(profile, rng, base_per_s):
        yield time - last
        last = time


class PhaseClasses:
    """Each arrival's class index, drawn from the mix of the phase the clock is in."""

    def __init__(
        self,
        profile: ProfileSpec,
        names: Sequence[str],
        default: np.ndarray,
        rng: np.random.Generator,
        clock: Callable[[], float],
    ) -> None:
        cumulative = np.cumsum(profile.class_shares(names, default), axis=1)
        # Exactly 1 from the last class with a share on: a draw in [0, 1) never lands on a
        # class of weight 0, whatever the rounding of the sums.
        self.cumulative = cumulative / cumulative[:, -1:]
        self.ends = np.array([end for _, end in profile.bounds()])
        self.uniform = buffered(rng.random)
        self.clock = clock

    def __iter__(self) -> PhaseClasses:
        return self

    def __next__(self) -> int:
        phase = min(int(np.searchsorted(self.ends, self.clock(), side="right")), len(self.ends) - 1)
        return int(np.searchsorted(self.cumulative[phase], next(self.uniform), side="right"))
