"""Load profiles: the load a decision is made over, as an ordered list of phases.

A profile multiplies a **base rate** (an architecture workload's ``rate_per_s``; in a scenario,
today's rate) by a factor that changes with time, phase after phase:

.. code-block:: yaml

    profile:
      phases:
        - {name: before, duration_s: 300, steady: {factor: 1}}
        - {name: rise, duration_s: 120, ramp: {from: 1, to: 5}}
        - {name: onsale, duration: 15min, spike: {factor: 20, rise_s: 30},
           mix: {seatmap: 3, checkout: 1}}
        - {name: after, duration_s: 600, flash: {factor: 3, half_life_s: 60}}
        - {name: day, duration_s: 2400, daily: {hours: [0.2, 0.1, ...], compress: true}}

``steady`` is a constant factor; ``ramp`` goes linearly from one factor to another; ``spike``
rises linearly from ``base`` to ``factor`` in ``rise_s``, holds, and falls back to ``base`` in
the last ``rise_s`` of the phase; ``daily`` gives 24 hourly factors (the phase's clock runs
from ``start_hour``, or the 24 hours are compressed into the phase with ``compress: true``);
``flash`` jumps to ``factor`` and decays exponentially toward ``to`` with a half-life. A phase
may give a class ``mix`` (class → weight) that replaces the workload's class weights while it
lasts (a class it leaves out gets no requests then).

The rate of the whole profile is a list of :class:`Segment` pieces, each linear or
exponential in time, so that its integral (the expected arrivals) is known in closed form:
:mod:`scaleplan.engine.arrivals` inverts it exactly to draw a non-homogeneous Poisson process.
This module only describes the profile; it runs nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import ConfigDict, Field, field_validator, model_validator

from scaleplan.spec.base import (
    MAX_SECONDS,
    NonNegativeFactor,
    NonNegativeWeight,
    PositiveSeconds,
    StrictModel,
    spelled_duration,
)

__all__ = [
    "DailyPhase",
    "FlashPhase",
    "PhaseSpec",
    "ProfileSpec",
    "RampPhase",
    "Segment",
    "SpikePhase",
    "SteadyPhase",
]

#: At most one profile a minute, all month.
MAX_PER_MONTH = 31 * 24 * 60
#: Phases of one profile at most, and rate segments (a daily phase makes one per hour).
MAX_PHASES = 1_000
MAX_SEGMENTS = 100_000
HOURS_PER_DAY = 24
PHASE_KINDS = ("steady", "ramp", "spike", "daily", "flash")


class SteadyPhase(StrictModel):
    """A constant rate: ``factor`` × the base rate."""

    factor: NonNegativeFactor = Field(default=1.0, description="rate ÷ base rate")


class RampPhase(StrictModel):
    """A linear change of the rate from ``from`` × base to ``to`` × base over the phase."""

    model_config = ConfigDict(**StrictModel.model_config, populate_by_name=True)

    start: NonNegativeFactor = Field(alias="from", description="factor at the phase's start")
    to: NonNegativeFactor = Field(description="factor at the phase's end")


class SpikePhase(StrictModel):
    """A spike: from ``base`` up to ``factor`` in ``rise_s`` (linear), held, and back down to
    ``base`` in the phase's last ``rise_s``."""

    factor: NonNegativeFactor = Field(description="factor at the top of the spike")
    rise_s: float = Field(
        default=0.0,
        ge=0,
        le=MAX_SECONDS,
        description="seconds of the linear rise (and of the fall at the end); 0: a step",
    )
    base: NonNegativeFactor = Field(default=1.0, description="factor before and after the spike")


class DailyPhase(StrictModel):
    """A daily cycle: 24 hourly factors of the base rate, piecewise constant."""

    hours: tuple[NonNegativeFactor, ...] = Field(
        min_length=HOURS_PER_DAY,
        max_length=HOURS_PER_DAY,
        description="24 factors of the base rate, one per hour from midnight",
    )
    compress: bool = Field(
        default=False,
        description="true: the 24 hours are compressed into the phase's duration; false: the "
        "phase runs on the clock from start_hour",
    )
    start_hour: float = Field(
        default=0.0, ge=0, lt=HOURS_PER_DAY, description="hour of day at the phase's start"
    )


class FlashPhase(StrictModel):
    """A flash crowd: a sudden jump to ``factor``, then exponential decay toward ``to``."""

    factor: NonNegativeFactor = Field(description="factor right after the jump")
    half_life_s: PositiveSeconds = Field(description="seconds for the excess over 'to' to halve")
    to: NonNegativeFactor = Field(default=1.0, description="factor the rate decays toward")


class PhaseSpec(StrictModel):
    """One phase of a load profile: a duration and exactly one shape."""

    name: str = Field(default="", max_length=100, description="shown in tables and charts")
    duration_s: PositiveSeconds = Field(
        description="length of the phase in seconds (or 'duration: 15min')"
    )
    steady: SteadyPhase | None = Field(default=None, description="a constant factor")
    ramp: RampPhase | None = Field(default=None, description="a linear change of factor")
    spike: SpikePhase | None = Field(default=None, description="a spike with a rise and fall")
    daily: DailyPhase | None = Field(default=None, description="24 hourly factors")
    flash: FlashPhase | None = Field(default=None, description="a jump, then exponential decay")
    mix: dict[str, NonNegativeWeight] | None = Field(
        default=None,
        description="request class → weight during this phase (replaces the workload's class "
        "weights; a class left out gets no requests)",
    )

    @model_validator(mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        """``duration: 15min`` is the same as ``duration_s: 900``."""
        return spelled_duration(value, "duration", "duration_s", "15min")

    @model_validator(mode="after")
    def _one_shape(self) -> PhaseSpec:
        given = [kind for kind in PHASE_KINDS if getattr(self, kind) is not None]
        if len(given) != 1:
            found = ", ".join(given) if given else "none"
            raise ValueError(f"a phase needs exactly one of {', '.join(PHASE_KINDS)} (got {found})")
        if self.spike is not None and 2 * self.spike.rise_s > self.duration_s:
            raise ValueError(
                f"spike: rise_s {self.spike.rise_s:g} s rises and falls within the phase, so it "
                f"is at most half its duration ({self.duration_s:g} s)"
            )
        if self.mix is not None and not any(weight > 0 for weight in self.mix.values()):
            raise ValueError("mix: needs at least one class with a weight above 0")
        return self

    @property
    def kind(self) -> str:
        return next(kind for kind in PHASE_KINDS if getattr(self, kind) is not None)

    def segments(self, start: float) -> list[Segment]:
        """This phase's rate pieces (factors of the base rate), from time ``start``."""
        end = start + self.duration_s
        if self.steady is not None:
            return [Segment(start, end, self.steady.factor, 0.0)]
        if self.ramp is not None:
            slope = (self.ramp.to - self.ramp.start) / self.duration_s
            return [Segment(start, end, self.ramp.start, slope)]
        if self.spike is not None:
            spike, rise = self.spike, self.spike.rise_s
            pieces = []
            if rise > 0:
                pieces.append(
                    Segment(start, start + rise, spike.base, (spike.factor - spike.base) / rise)
                )
            pieces.append(Segment(start + rise, end - rise, spike.factor, 0.0))
            if rise > 0:
                pieces.append(
                    Segment(end - rise, end, spike.factor, (spike.base - spike.factor) / rise)
                )
            return [piece for piece in pieces if piece.end > piece.start]
        if self.flash is not None:
            flash = self.flash
            decay = math.log(2.0) / flash.half_life_s
            return [Segment(start, end, flash.to, 0.0, flash.factor - flash.to, decay)]
        assert self.daily is not None
        return _daily_segments(self.daily, start, end)


def _daily_segments(daily: DailyPhase, start: float, end: float) -> list[Segment]:
    if daily.compress:
        width = (end - start) / HOURS_PER_DAY
        return [
            Segment(start + i * width, start + (i + 1) * width if i < 23 else end, factor, 0.0)
            for i, factor in enumerate(daily.hours)
        ]
    pieces = []
    clock = daily.start_hour * 3600.0
    now = start
    while now < end:
        hour = int(clock // 3600.0) % HOURS_PER_DAY
        step = min(3600.0 - clock % 3600.0, end - now)
        pieces.append(Segment(now, now + step, daily.hours[hour], 0.0))
        now += step
        clock += step
    return pieces


@dataclass(frozen=True)
class Segment:
    """A piece of the rate's factor on [start, end): ``a + b·τ + c·exp(−k·τ)``, τ = t − start
    (linear when ``c`` is 0), never negative."""

    start: float
    end: float
    a: float
    b: float
    c: float = 0.0
    k: float = 0.0

    def factor(self, tau: np.ndarray | float) -> Any:
        value = self.a + self.b * np.asarray(tau)
        if self.c:
            value = value + self.c * np.exp(-self.k * np.asarray(tau))
        return value

    def integral(self, tau: float) -> float:
        """∫₀^τ factor: the expected arrivals (per unit base rate) in the first τ seconds."""
        value = self.a * tau + 0.5 * self.b * tau * tau
        if self.c:
            value += self.c * -math.expm1(-self.k * tau) / self.k
        return value

    def invert(self, mass: float) -> float:
        """τ with ``integral(τ) = mass`` (0 ≤ mass ≤ integral of the whole piece): closed form
        for a linear piece, Newton's method kept inside a bisection bracket otherwise."""
        length = self.end - self.start
        if mass <= 0.0:
            return 0.0
        if self.c == 0.0:
            if self.b == 0.0:
                return min(mass / self.a, length)
            # a·τ + b·τ²/2 = m, in the form that cancels nothing when b is small.
            denominator = self.a + math.sqrt(max(self.a * self.a + 2.0 * self.b * mass, 0.0))
            return min(2.0 * mass / denominator, length) if denominator > 0 else length
        low, high = 0.0, length
        tau = min(mass / max(float(self.factor(0.0)), 1e-300), length)
        for _ in range(200):
            excess = self.integral(tau) - mass
            if abs(excess) <= 1e-14 * max(1.0, mass):
                return tau
            if excess > 0:
                high = tau
            else:
                low = tau
            rate = float(self.factor(tau))
            step = tau - excess / rate if rate > 0 else math.nan
            tau = step if low < step < high else 0.5 * (low + high)
            if high - low <= 1e-15 * max(1.0, high):
                break
        return tau


class ProfileSpec(StrictModel):
    """An ordered list of load phases over the base rate (see the module docstring)."""

    phases: tuple[PhaseSpec, ...] = Field(
        min_length=1, max_length=MAX_PHASES, description="the phases, in order"
    )
    per_month: float | None = Field(
        default=None,
        gt=0,
        le=MAX_PER_MONTH,
        description="how many times a month the profile happens (a daily cycle about 30.4, "
        "an on-sale 2): the month is then priced as today's load plus each time's extra cost "
        "over it; absent, the event is priced on its own and the month as without a profile",
    )

    @model_validator(mode="after")
    def _bounded(self) -> ProfileSpec:
        count = sum(len(phase.segments(0.0)) for phase in self.phases)
        if count > MAX_SEGMENTS:
            raise ValueError(
                f"the profile has {count} rate pieces (a daily phase has one per hour); at most "
                f"{MAX_SEGMENTS}"
            )
        if not self.max_factor > 0:
            raise ValueError("every phase's factor is 0: the profile sends no request")
        return self

    @field_validator("phases")
    @classmethod
    def _names(cls, phases: tuple[PhaseSpec, ...]) -> tuple[PhaseSpec, ...]:
        named = [phase.name for phase in phases if phase.name]
        repeated = sorted({name for name in named if named.count(name) > 1})
        if repeated:
            raise ValueError(f"phase names must be unique (got {', '.join(repeated)} twice)")
        return phases

    @property
    def duration_s(self) -> float:
        return math.fsum(phase.duration_s for phase in self.phases)

    def bounds(self) -> list[tuple[float, float]]:
        """(start, end) of each phase, in seconds from the profile's start."""
        out, now = [], 0.0
        for phase in self.phases:
            out.append((now, now + phase.duration_s))
            now += phase.duration_s
        return out

    def labels(self) -> list[str]:
        """Each phase's name, or its kind and number when it has none."""
        return [
            phase.name or f"{index + 1}:{phase.kind}" for index, phase in enumerate(self.phases)
        ]

    def segments(self) -> list[Segment]:
        pieces: list[Segment] = []
        for phase, (start, _) in zip(self.phases, self.bounds(), strict=True):
            pieces.extend(phase.segments(start))
        return pieces

    def factor_at(self, times: Sequence[float] | np.ndarray) -> np.ndarray:
        """The factor of the base rate at each time (0 past the profile's end)."""
        times = np.asarray(times, dtype=float)
        out = np.zeros_like(times)
        for piece in self.segments():
            inside = (times >= piece.start) & (times < piece.end)
            out[inside] = piece.factor(times[inside] - piece.start)
        return out

    def cumulative(self, t: float) -> float:
        """∫₀^t factor: the expected arrivals by time t per unit of base rate."""
        total = 0.0
        for piece in self.segments():
            if t <= piece.start:
                break
            total += piece.integral(min(t, piece.end) - piece.start)
        return total

    @property
    def mean_factor(self) -> float:
        return self.cumulative(self.duration_s) / self.duration_s

    @property
    def max_factor(self) -> float:
        best = 0.0
        for piece in self.segments():
            length = piece.end - piece.start
            best = max(best, float(piece.factor(0.0)), float(piece.factor(length)))
        return best

    def peak_phase(self) -> int:
        """The phase with the highest factor (the first of equals): the spike a backlog's drain
        is measured after."""
        best, index = -1.0, 0
        for number, (phase, (start, _)) in enumerate(zip(self.phases, self.bounds(), strict=True)):
            top = max(
                max(float(p.factor(0.0)), float(p.factor(p.end - p.start)))
                for p in phase.segments(start)
            )
            if top > best:
                best, index = top, number
        return index

    def check_classes(self, classes: Sequence[str]) -> list[tuple[str, str]]:
        """(key path, message) for every mix naming a class the workload does not have."""
        known = list(classes)
        problems = []
        for index, phase in enumerate(self.phases):
            for name in phase.mix or {}:
                if name not in known:
                    problems.append(
                        (
                            f"profile.phases[{index}].mix.{name}",
                            f"no request class {name!r} (classes: {', '.join(known)})",
                        )
                    )
        return problems

    def class_shares(
        self, classes: Sequence[str], default: Sequence[float] | np.ndarray
    ) -> np.ndarray:
        """One row per phase: each class's share of the arrivals (the default shares when the
        phase gives no mix)."""
        rows = []
        for phase in self.phases:
            if phase.mix is None:
                rows.append(np.asarray(default, dtype=float))
                continue
            weights = np.array([phase.mix.get(name, 0.0) for name in classes], dtype=float)
            rows.append(weights / weights.sum())
        return np.array(rows)

    @property
    def has_mix(self) -> bool:
        return any(phase.mix is not None for phase in self.phases)
