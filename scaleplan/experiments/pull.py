"""The tractor pull: the most load a system carries while meeting every SLO; and a stepped ramp.

:func:`pull` searches the arrival rate by bracketing, then bisection:

1. **Bracket.** The analytic bottleneck bound ``B`` (:func:`scaleplan.analytic.bottleneck`)
   caps what any architecture can carry. The first step runs at ``B/2`` (or ``start_rate_per_s``);
   if it meets the SLOs the next runs at ``B`` (and beyond, ×1.5 at a time, should the bound be
   pessimistic), else the rate is quartered until a step meets them.
   With ``bracket="analytic"`` (the default) the first search starts instead where the closed
   forms put the limit (:func:`_analytic_limit`: the highest rate at which the analytic
   estimate meets every SLO it can judge and a step is not refused as too close to
   saturation), with the narrow bracket the later replications use, widened geometrically on
   whichever side does not hold: simulation is spent near the limit only. Every step is one
   simulation that checks every SLO at once. When the estimate cannot say (no closed form),
   the bound's bracket is used.
2. **Bisect** the bracket ``[meets, fails]`` at its geometric midpoint until
   ``fails / meets − 1 ≤ precision``. Every step uses the same seed, so every step sees the
   same arrival pattern scaled in time and the same service draws (common random numbers):
   the latency measured is then a smooth, nearly monotone function of the rate and bisection
   on it is well posed.

**Uncertainty.** A step *meets* the SLOs when it is stable and every SLO's *point estimate* is
within its bound; it *fails* otherwise. Unstable steps fail and never hang: a certainly
unstable rate is refused before it runs (:func:`scaleplan.engine.check_stability`, no requests
spent) and a run whose queues run away stops at ``max_in_flight``. The found limit is a random
variable — a different seed gives a different point estimate at every step — so the whole
search is repeated for ``replications`` independent seeds ``seed … seed + R − 1`` (the later
ones start from a narrow bracket around the first limit, which makes them cheap) and the limit
is the mean of the R bracket midpoints with a Student-t 95% interval. That interval covers
both the sampling noise of each step and the width of each bracket; where the analytic bound
is certain, its upper end is cut at the bound. Two further guards keep finite runs honest: a
rate at or beyond a certain analytic bound is failing without a run (no steady state exists
there, and a short run would read optimistic numbers), and a step whose warm-up took over
half of the run is counted as failing (no steady state was measured). Near saturation,
queues relax slowly, so the per-step ``requests`` should grow with the SLO bound measured in
service times: a short run starting empty reads the latency low.

Around the search it reports: the latency curve (the search's own steps plus a few cheap points
below the limit); the **knee** — the first stretch of that curve over which p99 rises faster
than the load (elasticity d ln p99 / d ln rate ≥ 1; for M/M/1 that is at 50% utilisation); the
**bottleneck** — the component with the highest utilisation at the limit, with its utilisation
and CI over the replications; the **failure mode** beyond the limit, read from the first step
that failed — queue growth (latency or runaway queues), rejects (queue limits), timeouts
(failed requests, where calls have timeouts) or failed requests (component errors); and the
analytic bottleneck bound beside it.

**An SLO no load can meet** (:mod:`scaleplan.experiments.unreachable`: a component on every
request's path whose own percentile, mean or error probability is already beyond the bound) is
not searched: one step at a vanishing rate shows it failing, the limit is 0 and the failure mode
``unreachable`` names the component ("unreachable: payments's own p99 is 4,605 ms under p99 ≤
2,000 ms …").

:func:`ramp` is the other view, like a real load test: one run whose load rises in steps over
simulated time, with the APM time series showing latency and errors rising as it breaks.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from scaleplan.analytic import bottleneck
from scaleplan.engine import simulate
from scaleplan.errors import SimulationError
from scaleplan.experiments._common import (
    Run,
    busiest,
    clean,
    error_rate,
    point_value,
    run_once,
    steady_at,
)
from scaleplan.experiments.unreachable import unreachable
from scaleplan.metrics import replication_ci
from scaleplan.parallel import process_pool
from scaleplan.progress import Progress
from scaleplan.result import SimulationResult, TimeSeries
from scaleplan.spec import ArchitectureSpec, NFRSpec, SLOSpec, parse_slo

__all__ = ["PullResult", "PullStep", "RampResult", "binding_slo", "pull", "ramp"]

#: Fractions of the found limit at which the latency curve gets extra points (cheap, same seed).
CURVE_FRACTIONS = (0.25, 0.5, 0.75, 0.9)
#: A step under latency or error objectives runs at least this many relaxation times.
RELAXATION_TIMES = 50.0
#: Bracketing gives up going down after this many quarterings (no load meets the SLOs).
MAX_DOWN_STEPS = 8
#: The share of the bound at which an SLO diagnosed unreachable is shown failing in one step.
VANISHING = 0.01


@dataclass(frozen=True)
class PullStep:
    """One simulation of the pull (or a rate refused as certainly unstable)."""

    replication: int
    seed: int
    phase: str  # bracket | bisect | curve | probe
    rate_per_s: float
    meets: bool
    stable: bool
    requests: int
    values: dict[str, float]
    mean_ms: float
    p50_ms: float
    p99_ms: float
    error_rate: float
    throughput_per_s: float
    busiest: str
    max_utilization: float
    reason: str
    #: The run's 95% intervals of p50 and p99 (from time sections within the run).
    p50_ci95: tuple[float, float] = (math.nan, math.nan)
    p99_ci95: tuple[float, float] = (math.nan, math.nan)

    def to_dict(self) -> dict[str, Any]:
        return clean(
            {
                "replication": self.replication,
                "seed": self.seed,
                "phase": self.phase,
                "rate_per_s": self.rate_per_s,
                "rate_per_min": self.rate_per_s * 60.0,
                "meets": self.meets,
                "stable": self.stable,
                "requests": self.requests,
                "values": self.values,
                "mean_ms": self.mean_ms,
                "p50_ms": self.p50_ms,
                "p50_ci95": list(self.p50_ci95),
                "p99_ms": self.p99_ms,
                "p99_ci95": list(self.p99_ci95),
                "error_rate": self.error_rate,
                "throughput_per_s": self.throughput_per_s,
                "busiest": self.busiest,
                "max_utilization": self.max_utilization,
                "reason": self.reason,
            }
        )


@dataclass(frozen=True)
class PullResult:
    """The sustainable limit of one architecture under its SLOs (see the module docstring).

    ``limit_per_s`` is the mean over ``replications`` searches and ``limit_ci95`` its Student-t
    interval (with a single search, its final bracket instead, as a note says); ``limits`` are
    the per-search bracket midpoints; ``bracket`` is the first search's final
    ``(meets, fails)``. ``runs`` counts the steps of the searches (refusals
    included) and ``search_requests`` their simulated requests; ``requests`` adds the curve.
    """

    spec: str
    slos: tuple[str, ...]
    seed: int
    replications: int
    precision: float
    limit_per_s: float
    limit_ci95: tuple[float, float]
    limits: tuple[float, ...]
    bracket: tuple[float, float]
    converged: bool
    runs: int
    first_search_runs: int
    search_requests: int
    requests: int
    knee_per_s: float
    bottleneck: str
    bottleneck_utilization: float
    bottleneck_utilization_ci95: tuple[float, float]
    utilization_at_limit: dict[str, float]
    failure_mode: str
    failure_detail: str
    analytic_bound_per_s: float
    analytic_bottleneck: str
    steps: tuple[PullStep, ...]
    at_limit: SimulationResult | None = field(default=None, compare=False)
    notes: tuple[str, ...] = ()
    #: Where the first search's bracket started: ``analytic`` (the estimate's limit) or ``bound``.
    bracket_from: str = "bound"
    #: Why no further search was made: ``budget`` (all ``replications`` searched),
    #: ``precision reached`` or ``verdict settled`` (``enough`` said so).
    stop: str = "budget"
    #: The analytic estimate of the limit the bracket started from (NaN: none).
    analytic_limit_per_s: float = math.nan
    #: The objective that breaks first (:func:`binding_slo`; empty when none broke, e.g. the
    #: steps failed by running away): a per-class one is what the charts plot.
    binding: str = ""

    @property
    def limit_per_min(self) -> float:
        return self.limit_per_s * 60.0

    @property
    def limit_ci95_per_min(self) -> tuple[float, float]:
        return (self.limit_ci95[0] * 60.0, self.limit_ci95[1] * 60.0)

    def curve(self) -> list[PullStep]:
        """The stable steps of the first search and the curve, sorted by rate."""
        points = [s for s in self.steps if s.replication == 0 and s.stable]
        return sorted(points, key=lambda step: step.rate_per_s)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (NaN written as ``null``); ``at_limit`` without its time series."""
        return {
            "spec": self.spec,
            "slos": list(self.slos),
            "seed": self.seed,
            "replications": self.replications,
            "precision": self.precision,
            "limit_per_s": clean(self.limit_per_s),
            "limit_ci95": clean(self.limit_ci95),
            "limit_per_min": clean(self.limit_per_min),
            "limit_ci95_per_min": clean(self.limit_ci95_per_min),
            "limits": clean(self.limits),
            "bracket": clean(self.bracket),
            "converged": self.converged,
            "runs": self.runs,
            "first_search_runs": self.first_search_runs,
            "search_requests": self.search_requests,
            "requests": self.requests,
            "knee_per_s": clean(self.knee_per_s),
            "bottleneck": self.bottleneck,
            "bottleneck_utilization": clean(self.bottleneck_utilization),
            "bottleneck_utilization_ci95": clean(self.bottleneck_utilization_ci95),
            "utilization_at_limit": clean(self.utilization_at_limit),
            "failure_mode": self.failure_mode,
            "failure_detail": self.failure_detail,
            "analytic_bound_per_s": clean(self.analytic_bound_per_s),
            "analytic_bottleneck": self.analytic_bottleneck,
            "bracket_from": self.bracket_from,
            "stop": self.stop,
            "analytic_limit_per_s": clean(self.analytic_limit_per_s),
            "binding": self.binding,
            "steps": [step.to_dict() for step in self.steps],
            "at_limit": None if self.at_limit is None else self.at_limit.to_dict(timeseries=False),
            "notes": list(self.notes),
        }

    def records(self) -> list[dict[str, Any]]:
        """One flat row per step (``values`` spread into ``value.<slo>`` columns)."""
        rows = []
        for step in self.steps:
            row = step.to_dict()
            values = row.pop("values")
            row.update({f"value.{key}": value for key, value in values.items()})
            row["spec"] = self.spec
            rows.append(row)
        return rows


# --------------------------------------------------------------------------- the search


@dataclass
class _Search:
    replication: int
    seed: int
    steps: list[PullStep] = field(default_factory=list)
    runs: list[Run] = field(default_factory=list)
    low: float = 0.0  # highest rate that met the SLOs (0: none yet)
    high: float = math.inf  # lowest rate that failed them
    low_run: Run | None = None
    high_run: Run | None = None

    @property
    def midpoint(self) -> float:
        if self.low <= 0:
            return 0.0
        if not math.isfinite(self.high):
            return self.low
        return math.sqrt(self.low * self.high)

    def converged(self, precision: float) -> bool:
        # (a hair of tolerance: a bracket made ``precision`` wide must count as converged)
        return (
            self.low > 0
            and math.isfinite(self.high)
            and self.high / self.low - 1 <= precision * (1 + 1e-9)
        )


@dataclass(frozen=True)
class _Bound:
    """An upper bound on the sustainable rate: the analytic bottleneck bound where it holds."""

    rate_per_s: float
    component: str
    certain: bool  # at or beyond it there is no steady state, so no need to simulate
    note: str = ""


def _upper_bound(spec: ArchitectureSpec) -> _Bound:
    """The analytic bottleneck bound, and whether it is certain for this spec.

    It is certain for services and load balancers whose calls are sequential and whose queues
    are unbounded: each slot is held at least for its own service and its callees' unloaded
    spans, so at the bound the bottleneck is fully busy and queues grow without end. (With a
    ``queue_limit`` or load shedding the system sheds load instead, and a lax error objective
    may still be met beyond the bound, so there it is simulated.) With parallel calls held
    during the join the bound rests on an exponential approximation of the join, and for other
    component kinds the closed forms may not apply: there the bound only guides the bracketing
    (the rate is simulated like any other) and, if it cannot be computed, the stability bound
    of each component's own service demand is used instead.
    """
    from scaleplan.spec import LoadBalancerSpec, ServiceSpec

    simple = all(
        isinstance(c, LoadBalancerSpec)
        or (
            isinstance(c, ServiceSpec)
            and not c.parallel
            and c.queue_limit is None
            and getattr(c, "load_shedding", None) is None
        )
        for c in spec.components.values()
    )
    try:
        rate, component = bottleneck(spec)
        return _Bound(rate, component, simple)
    except Exception as error:  # any failure of the closed forms: fall back to another bound
        note = f"no analytic bottleneck bound for {spec.name} ({type(error).__name__}: {error})"
    try:
        from scaleplan.load import offered_loads

        loads = offered_loads(spec, None, 1.0)
        worst = max(loads, key=lambda name: loads[name])
        if loads[worst] > 0:
            return _Bound(1.0 / loads[worst], worst, False, note + "; used the stability bound")
    except Exception:  # no bound at all: bracket from the workload rate
        pass
    return _Bound(math.nan, "", False, note)


def _steady(result: SimulationResult) -> bool:
    """False when the warm-up took over half the run: no steady state was measured."""
    run = result.run
    if run is None:  # an estimate: nothing was warmed up
        return True
    warmups = run.warmup_s or (0.0,)
    replications = max(int(run.replications), 1)
    length = float(run.simulated_s) / replications
    return max(warmups) <= 0.5 * length


def _as_slos(slos: NFRSpec | Sequence[str | SLOSpec]) -> tuple[SLOSpec, ...]:
    if isinstance(slos, NFRSpec):
        return slos.slos
    if isinstance(slos, str):
        return (parse_slo(slos),)
    return tuple(s if isinstance(s, SLOSpec) else parse_slo(s) for s in slos)


def _evaluate(run: Run, slos: Sequence[SLOSpec]) -> tuple[bool, dict[str, float], str]:
    if run.result is None:
        return False, {}, run.refused
    result = run.result
    values = {slo.text: point_value(result, slo) for slo in slos}
    unknown = [slo.text for slo in slos if math.isnan(values[slo.text])]
    broken = [
        slo.text for slo in slos if slo.text not in unknown and not slo.met_by(values[slo.text])
    ]
    if not result.stable:
        reason = result.unstable.reason if result.unstable else "unstable"
        return False, values, f"unstable: {reason}"
    if broken:
        shown = ", ".join(f"{text} (measured {values[text]:.4g})" for text in broken)
        return False, values, f"breaks {shown}"
    if unknown:
        # Nothing to measure it on (no request in the measured window): not met, not broken.
        return False, values, f"{', '.join(unknown)} not measured (no request in the window)"
    if not _steady(result):
        # A run that spends most of its time warming up near saturation reads optimistic
        # latencies; counting it as failing keeps the limit on the safe side.
        return False, values, "no steady state within the run (the warm-up took over half)"
    return True, values, ""


def _step(
    run: Run, replication: int, phase: str, meets: bool, values: dict[str, float], reason: str
) -> PullStep:
    result = run.result
    if result is None:
        return PullStep(
            replication,
            run.seed,
            phase,
            run.rate_per_s,
            False,
            False,
            0,
            values,
            math.nan,
            math.nan,
            math.nan,
            math.nan,
            math.nan,
            "",
            math.nan,
            reason,
        )
    name, utilization = busiest(result)
    return PullStep(
        replication,
        run.seed,
        phase,
        run.rate_per_s,
        meets,
        result.stable,
        result.requests.arrived,
        values,
        result.latency_ms.mean,
        result.latency_ms.p50,
        result.latency_ms.p99,
        error_rate(result),
        result.throughput_per_s,
        name,
        utilization,
        reason,
        result.latency_ms.p50_ci95,
        result.latency_ms.p99_ci95,
    )


@dataclass(frozen=True)
class _Stepper:
    """Runs one step of a search: the spec, the objectives and the budget per step."""

    spec: ArchitectureSpec
    slos: tuple[SLOSpec, ...]
    requests: int
    max_requests: int
    max_in_flight: int
    bound: _Bound
    guard: bool  # latency or error objectives: runs must be long enough to reach steady state
    progress: Callable[[], None]

    def step_requests(self, rate: float) -> tuple[int, str]:
        """Requests for a step at ``rate`` (0 with the reason when it is not worth running)."""
        bound = self.bound
        if bound.certain and rate >= bound.rate_per_s * (1 - 1e-12):
            # No steady state exists here: a finite run could only read optimistic numbers.
            return 0, (
                f"at or beyond the analytic bottleneck bound ({bound.rate_per_s:.4g} "
                f"requests/s at {bound.component}): queues grow without end"
            )
        if not self.guard:
            return self.requests, ""
        tau = _relaxation_s(self.spec, rate)
        needed = (
            max(self.requests, math.ceil(RELAXATION_TIMES * tau * rate))
            if math.isfinite(tau)
            else math.inf
        )
        if needed > self.max_requests:
            return 0, (
                f"too close to saturation to measure: a run long enough to reach steady state "
                f"({RELAXATION_TIMES:g} relaxation times of {tau:.3g} s) needs "
                f"{needed:,.0f} requests, beyond the budget of {self.max_requests:,}"
            )
        return int(needed), ""

    def attempt(self, search: _Search, rate: float, phase: str) -> bool:
        requests, refused = self.step_requests(rate)
        if refused:
            run = Run(search.seed, rate, None, refused)
        else:
            run = run_once(
                self.spec,
                seed=search.seed,
                rate_per_s=rate,
                requests=requests,
                max_in_flight=self.max_in_flight,
            )
        meets, values, reason = _evaluate(run, self.slos)
        search.runs.append(run)
        search.steps.append(_step(run, search.replication, phase, meets, values, reason))
        if meets and rate > search.low:
            search.low, search.low_run = rate, run
        if not meets and rate < search.high:
            search.high, search.high_run = rate, run
        self.progress()
        return meets


def _open_only(spec: ArchitectureSpec, what: str, instead: str) -> None:
    """A closed workload's load is its users, not a rate: refuse it, saying what to use."""
    if spec.workload.closed:
        raise SimulationError(
            f"{spec.name}: workload: a {what} needs an open workload; this one is closed "
            f"({spec.workload.total_users} users): use {instead}"
        )


def _relaxation_s(spec: ArchitectureSpec, rate: float) -> float:
    """The slowest relaxation time among the stations, from the analytic estimate.

    For a station of ``c`` slots at utilisation ρ holding each request ``h`` seconds, the
    queue forgets its start in about ``h / (c·(1 − √ρ)²)`` (Morse's relaxation time of M/M/c,
    taking the slots as pooled). 0 when the closed forms do not apply (no guard), ∞ when the
    estimate finds a station saturated.
    """
    from scaleplan.analytic import estimate

    try:
        result = estimate(spec, rate_per_s=rate)
    except Exception:  # closed forms unavailable for this spec: no guard rather than none at all
        return 0.0
    slowest = 0.0
    for name, component in result.components.items():
        slots, rho, arrivals = component.capacity, component.utilization, component.throughput_per_s
        if slots <= 0 or not arrivals > 0 or not math.isfinite(rho):
            continue
        holding = rho * slots / arrivals
        tau = holding / (slots * (1.0 - math.sqrt(rho)) ** 2) if rho < 1.0 else math.inf
        limit = getattr(spec.components.get(name), "queue_limit", None)
        if limit is not None:
            # A bounded queue forgets its start at least as fast as a random walk crosses it
            # at critical load: (places)² / (2 × departures per second).
            places = limit * getattr(spec.components[name], "replicas", 1) + slots
            tau = min(tau, places**2 * holding / (2.0 * slots))
        if not math.isfinite(tau):
            return math.inf
        slowest = max(slowest, tau)
    return slowest


def _analytic_limit(stepper: _Stepper, precision: float) -> tuple[float, str]:
    """The limit by the closed forms alone, and a note on how far to trust it (NaN: none).

    The highest rate below the bottleneck bound at which a step would run (not refused as
    certainly unstable or too close to saturation), the estimate is stable and every SLO the
    estimate can evaluate is met; found by geometric bisection on the estimate, which costs
    milliseconds and no simulated request. An SLO the closed forms cannot judge (a percentile
    of a non-exponential network) is left out, so the estimate is then an upper guess.
    """
    from scaleplan.analytic import estimate

    ceiling = stepper.bound.rate_per_s
    if not (math.isfinite(ceiling) and ceiling > 0):
        return math.nan, "no analytic bound to start from"
    unjudged: set[str] = set()

    def meets(rate: float) -> bool:
        if stepper.step_requests(rate)[1]:
            return False
        try:
            estimated = estimate(stepper.spec, rate_per_s=rate)
        except Exception:  # no closed form at this rate: cannot say, so not a limit
            return False
        if not estimated.stable:
            return False
        for slo in stepper.slos:
            value = point_value(estimated, slo)
            if not math.isfinite(value):
                unjudged.add(slo.text)
            elif not slo.met_by(value):
                return False
        return True

    low, high = ceiling * 1e-3, ceiling
    if not meets(low):
        return math.nan, "the estimate meets the SLOs at no rate"
    if meets(high * (1 - 1e-9)):
        return high * (1 - 1e-9), ""
    while high / low - 1 > precision / 4:
        middle = math.sqrt(low * high)
        if meets(middle):
            low = middle
        else:
            high = middle
    if unjudged:
        return low, "the estimate cannot judge " + ", ".join(sorted(unjudged))
    return low, ""


def _no_progress() -> None:
    """The progress of a search on another process (its steps are counted when it ends)."""


def _search(
    stepper: _Stepper,
    *,
    replication: int,
    seed: int,
    start: float,
    around: float | None,
    precision: float,
    max_runs: int,
) -> _Search:
    search = _Search(replication, seed)
    bound = stepper.bound

    def attempt(rate: float, phase: str) -> bool:
        return stepper.attempt(search, rate, phase)

    if around is not None and around > 0:
        # Around a known neighbourhood of the limit (the analytic one, or the first search's):
        # the centre first, then one neighbour ``precision`` away on the side its outcome
        # points to. When the limit lies between them the bracket has converged after those
        # two steps (and a neighbour beyond the measurable range costs no run at all);
        # otherwise the step widens geometrically on that side and bisection closes in.
        width = precision
        if attempt(around, "bracket"):
            high = around * (1 + width)
            while attempt(high, "bracket") and len(search.steps) < max_runs:
                width *= 2
                high = high * (1 + width)
        else:
            low = around / (1 + width)
            while not attempt(low, "bracket") and len(search.steps) < max_runs:
                width *= 2
                low = low / (1 + width)
    elif attempt(start, "bracket"):
        upper = bound.rate_per_s if math.isfinite(bound.rate_per_s) else 2 * start
        rate = max(upper, start * 1.5)
        while attempt(rate, "bracket") and len(search.steps) < max_runs:
            rate *= 1.5 if math.isfinite(bound.rate_per_s) else 2.0
    else:
        rate = start
        for _ in range(MAX_DOWN_STEPS):
            rate /= 4.0
            if attempt(rate, "bracket") or len(search.steps) >= max_runs:
                break
    while (
        search.low > 0
        and math.isfinite(search.high)
        and not search.converged(precision)
        and len(search.steps) < max_runs
    ):
        attempt(math.sqrt(search.low * search.high), "bisect")
    return search


def pull(
    spec: ArchitectureSpec,
    slos: NFRSpec | Sequence[str | SLOSpec],
    *,
    seed: int = 1,
    requests: int = 20_000,
    replications: int = 3,
    precision: float = 0.02,
    max_runs: int = 30,
    start_rate_per_s: float | None = None,
    curve: Sequence[float] = CURVE_FRACTIONS,
    max_in_flight: int | None = None,
    max_requests: int | None = None,
    progress: Progress | None = None,
    bracket: Literal["analytic", "bound"] = "analytic",
    enough: Callable[[float, tuple[float, float]], str] | None = None,
    min_replications: int = 2,
    workers: int | None = None,
) -> PullResult:
    """Find the most requests per second ``spec`` carries while meeting every SLO.

    Parameters
    ----------
    spec : ArchitectureSpec
        The architecture (its workload's arrival process and classes are used; the rate is
        what the pull varies).
    slos : NFRSpec or sequence of SLO strings
        E.g. ``["p99<=300ms", "errors<=0.1%"]``. With none, a step meets them when it is
        stable. Objectives for a request class the spec does not have are ignored (noted).
    seed : int
        The seed of the first search; replication ``r`` uses ``seed + r``.
    requests : int
        Requests simulated per step.
    replications : int
        Independent searches (at least 2 for a CI).
    precision : float
        Stop bisecting when ``fails / meets − 1`` is at most this (0.02: a 2% bracket).
    max_runs : int
        Steps at most per search.
    start_rate_per_s : float, optional
        First rate tried (default: half the analytic bottleneck bound).
    curve : sequence of float
        Fractions of the limit at which to add latency-curve points after the first search
        (``()`` for none).
    max_in_flight : int, optional
        Requests in the system at which a step is stopped as unstable (default: 50 per slot of
        capacity, at least 2,000), so steps beyond the limit cost little.
    max_requests : int, optional
        Requests a step may be lengthened to near saturation (default: 5 × ``requests``).
    progress : callable, optional
        ``progress(done, planned)`` after every step (the later searches' steps when each
        search ends, if they run on other processes).
    bracket : ``"analytic"`` or ``"bound"``
        Where the first search starts: around the analytic estimate of the limit (default;
        the bound's bracket when the estimate cannot say, or when ``start_rate_per_s`` is
        given) or at half the bottleneck bound (the fixed-budget search).
    enough : callable, optional
        ``enough(limit, ci95)`` after each search from the ``min_replications``-th on: a
        non-empty reason (e.g. :class:`scaleplan.experiments.precision.LimitTarget`) stops the
        searches before ``replications`` (then a cap).
    min_replications : int
        Searches made before ``enough`` is asked.
    workers : int, optional
        Local processes for the later searches, which run side by side once the first has
        found the limit's neighbourhood (default: one per available core; 1: this process).
        The result does not depend on it. With ``enough`` the searches run one after the
        other, since each decides whether the next is needed.

    Returns
    -------
    PullResult

    Examples
    --------
    >>> from scaleplan.spec import example_spec  # M/M/1, 10 ms: capacity 100/s
    >>> result = pull(example_spec(), ["mean<=50ms"], requests=3000, replications=2, curve=())
    >>> 70 < result.limit_per_s < 90, result.bottleneck, result.analytic_bound_per_s
    (True, 'api', 100.0)
    """
    _open_only(spec, "pull over the arrival rate", "pull_users (scaleplan pull does)")
    if replications < 1:
        raise ValueError(f"replications must be at least 1 (got {replications})")
    if not 0 < precision < 1:
        raise ValueError(f"precision must be in (0, 1) (got {precision})")
    if bracket not in ("analytic", "bound"):
        raise ValueError(f"bracket must be 'analytic' or 'bound' (got {bracket!r})")
    notes: list[str] = []
    profile = spec.workload.profile if spec.workload.arrival == "profile" else None
    if profile is not None:
        # The steps scale the whole profile: say what the rate means and where the other
        # question (one phase's height) is answered.
        notes.append(
            f"the workload's load profile is scaled whole: each rate is its time-average (its "
            f"peak is {profile.max_factor / profile.mean_factor:.3g}× that) over the profile's "
            f"{profile.duration_s:g} s; how big one phase may grow is "
            "'scaleplan transient --spike-limit'"
        )
    diurnal = spec.workload.diurnal if spec.workload.arrival == "diurnal" else None
    if diurnal is not None:
        busiest_slice = max(diurnal.multipliers())
        notes.append(
            f"the workload is diurnal: each step holds its rate steady, as the day's busiest "
            f"slice would ({busiest_slice:.3g}× the day's mean); a day of this shape stays "
            f"within the limit while its mean is at most the limit / {busiest_slice:.3g}"
        )
    objectives = _applicable_slos(spec, _as_slos(slos), notes)
    bound = _upper_bound(spec)
    if bound.note:
        notes.append(bound.note)
    capacity = sum(component.capacity for component in spec.components.values())
    in_flight = max_in_flight if max_in_flight is not None else max(2_000, 50 * capacity)
    start = start_rate_per_s
    if start is None:
        rate = bound.rate_per_s
        start = rate / 2.0 if math.isfinite(rate) else spec.workload.mean_rate_per_s
    planned = max_runs * replications + len(curve)
    done = [0]

    def tick() -> None:
        done[0] += 1
        if progress is not None:
            progress(done[0], planned)

    stepper = _Stepper(
        spec=spec,
        slos=objectives,
        requests=requests,
        max_requests=max(requests, max_requests or 5 * requests),
        max_in_flight=in_flight,
        bound=bound,
        guard=any(slo.metric != "throughput" for slo in objectives),
        progress=tick,
    )

    def search(replication: int, around: float | None) -> _Search:
        return _search(
            stepper,
            replication=replication,
            seed=seed + replication,
            start=start,
            around=around,
            precision=precision,
            max_runs=max_runs,
        )

    # 0. An SLO no load can meet (a component's own latency or errors already beyond it):
    # one step at a vanishing rate shows it, rather than bisecting the rate down toward 0.
    analytic = math.nan
    hopeless = unreachable(spec, objectives)
    first = _Search(0, seed)
    if hopeless is not None:
        scale = bound.rate_per_s if math.isfinite(bound.rate_per_s) else start
        vanishing = scale * VANISHING
        if stepper.attempt(first, vanishing, "bracket"):
            notes.append(
                f"{hopeless.text}, yet a short step at {vanishing:.3g} requests/s met it "
                "(sampling noise): searched as usual"
            )
            hopeless, first = None, _Search(0, seed)
    # 1. The first search brackets and bisects from the start (or around the analytic
    # limit); the others search around its limit.
    if hopeless is None and bracket == "analytic" and start_rate_per_s is None:
        analytic, caveat = _analytic_limit(stepper, precision)
        if math.isfinite(analytic):
            notes.append(
                f"the first search started around the analytic limit {analytic:.4g} requests/s"
                + (f" ({caveat}: an upper guess)" if caveat else "")
            )
        else:
            notes.append(f"the first search started from half the bound ({caveat})")
    if hopeless is None:
        first = search(0, analytic if math.isfinite(analytic) else None)
    searches = [first]
    stop = "budget"
    later = range(1, replications)
    pool = process_pool(workers, len(later)) if first.low > 0 and enough is None else None
    if pool is not None:
        # Each later search is independent of the others (its own seed, around the first's
        # midpoint): the same searches as in this process, in the same order.
        alone = dataclasses.replace(stepper, progress=_no_progress)
        with pool:
            futures = [
                pool.submit(
                    _search,
                    alone,
                    replication=index,
                    seed=seed + index,
                    start=start,
                    around=first.midpoint,
                    precision=precision,
                    max_runs=max_runs,
                )
                for index in later
            ]
            for future in futures:
                searches.append(future.result())
                for _ in searches[-1].steps:
                    tick()
    elif first.low > 0:
        for index in later:
            if enough is not None and len(searches) >= max(min_replications, 2):
                stop = enough(*_limit_ci(searches, bound, [])) or "budget"
                if stop != "budget":
                    break
            searches.append(search(index, first.midpoint))
    elif hopeless is not None:
        notes.append(f"{hopeless.text}: the limit is 0")
    else:
        notes.append("no rate tried meets the SLOs; the limit is 0")
    limit, limit_ci = _limit_ci(searches, bound, notes)
    # 2. The latency curve below the limit, and one probe beyond it to see how it fails.
    curve_steps = _curve_steps(stepper, first, curve, seed, tick)
    probe = _failure_probe(spec, first, objectives, seed, requests, in_flight)
    if probe is not None and probe.result is not None and probe is not first.high_run:
        _, values, reason = _evaluate(probe, objectives)
        curve_steps.append(_step(probe, 0, "probe", False, values, reason))
    # 3. What gave first: the busiest station at the highest rate that met the SLOs.
    at_limit = first.low_run.result if first.low_run is not None else None
    name, busy, busy_ci, utilization = _bottleneck_at_limit(at_limit, searches)
    mode, detail = _failure_mode(probe, objectives, spec)
    if hopeless is not None:
        mode, detail = "unreachable", hopeless.text
    search_requests = sum(run.requests for s in searches for run in s.runs)
    steps = tuple(step for s in searches for step in s.steps) + tuple(curve_steps)
    return PullResult(
        spec=spec.name,
        slos=tuple(slo.text for slo in objectives),
        seed=seed,
        replications=len(searches),
        precision=precision,
        limit_per_s=limit,
        limit_ci95=limit_ci,
        limits=tuple(s.midpoint for s in searches),
        bracket=(first.low, first.high),
        converged=all(s.converged(precision) for s in searches),
        runs=sum(len(s.steps) for s in searches),
        first_search_runs=len(first.steps),
        search_requests=search_requests,
        requests=search_requests + sum(step.requests for step in curve_steps),
        knee_per_s=_knee([s for s in (*first.steps, *curve_steps) if s.stable]),
        bottleneck=name,
        bottleneck_utilization=busy,
        bottleneck_utilization_ci95=busy_ci,
        utilization_at_limit=utilization,
        failure_mode=mode,
        failure_detail=detail,
        analytic_bound_per_s=bound.rate_per_s,
        analytic_bottleneck=bound.component,
        steps=steps,
        at_limit=at_limit,
        notes=tuple(notes),
        bracket_from="analytic" if math.isfinite(analytic) else "bound",
        analytic_limit_per_s=analytic,
        stop=stop,
        binding=binding_slo(objectives, steps, load=lambda step: step.rate_per_s),
    )


def _excess(slo: SLOSpec, value: float) -> float:
    """How far ``value`` is past ``slo``'s bound, as a ratio (above 1: broken)."""
    if not math.isfinite(value):
        return math.nan
    if slo.op == "<=":
        return value / slo.bound if slo.bound > 0 else (math.inf if value > 0 else 0.0)
    return slo.bound / value if value > 0 else math.inf


def binding_slo(
    slos: Sequence[SLOSpec], steps: Sequence[Any], *, load: Callable[[Any], float]
) -> str:
    """The objective that breaks first, in words (its ``text``): empty when none broke.

    In each search (one ``replication``), the lowest-load step that broke an objective
    (stable, its reason ``breaks …``) votes for the objective furthest past its bound there
    (measured ÷ bound for an upper bound, bound ÷ measured for a lower one); the most votes
    win, ties going to the larger mean excess. One objective broken alone is the binding one;
    steps failed by running away or by no steady state say nothing about which binds.
    """
    if not slos:
        return ""
    first_broken: dict[int, Any] = {}
    for step in steps:
        if not step.stable or not step.reason.startswith("breaks "):
            continue
        known = first_broken.get(step.replication)
        if known is None or load(step) < load(known):
            first_broken[step.replication] = step
    votes: dict[str, int] = {}
    excess: dict[str, list[float]] = {}
    for step in first_broken.values():
        ratios = {slo.text: _excess(slo, step.values.get(slo.text, math.nan)) for slo in slos}
        known = {text: ratio for text, ratio in ratios.items() if not math.isnan(ratio)}
        if not known:
            continue
        worst = max(known, key=lambda text: known[text])
        votes[worst] = votes.get(worst, 0) + 1
        for text, ratio in known.items():
            excess.setdefault(text, []).append(ratio)
    if not votes:
        return ""
    order = [slo.text for slo in slos]
    return max(
        votes,
        key=lambda text: (votes[text], statistics.fmean(excess[text]), -order.index(text)),
    )


def _applicable_slos(
    spec: ArchitectureSpec, objectives: Sequence[SLOSpec], notes: list[str]
) -> tuple[SLOSpec, ...]:
    """The objectives that apply to ``spec``: one for a request class it lacks is noted, not
    judged."""
    classes = {cls.name for cls in spec.workload.classes}
    kept = []
    for slo in objectives:
        if slo.request_class is not None and slo.request_class not in classes:
            notes.append(f"{slo.text}: {spec.name} has no request class {slo.request_class!r}")
        else:
            kept.append(slo)
    return tuple(kept)


def _limit_ci(
    searches: Sequence[_Search], bound: _Bound, notes: list[str]
) -> tuple[float, tuple[float, float]]:
    """The limit and its 95% CI across searches (one search: its final bracket, said so)."""
    first = searches[0]
    limits = [search.midpoint for search in searches]
    if len(limits) > 1:
        ci = replication_ci(limits)
        low, high = ci.low, ci.high
        if bound.certain:
            # No limit can lie beyond a certain bound: the symmetric t interval is cut there.
            low, high = min(low, bound.rate_per_s), min(high, bound.rate_per_s)
        return ci.mean, (low, high)
    if first.low > 0:
        # One search gives no spread to build a confidence interval from: what is
        # published as limit_ci95 is its final bisection bracket.
        notes.append(
            "one search only: the interval given is its final bracket (the highest rate "
            "that met the SLOs and the lowest that did not), not a 95% confidence "
            "interval; run more replications for one"
        )
    return limits[0], (first.low, first.high if first.low > 0 else 0.0)


def _curve_steps(
    stepper: _Stepper,
    first: _Search,
    fractions: Sequence[float],
    seed: int,
    tick: Callable[[], None],
) -> list[PullStep]:
    """Latency-curve points at fractions of the first search's limit (rates it already ran
    are not run again)."""
    steps: list[PullStep] = []
    if first.low <= 0:
        return steps
    for fraction in fractions:
        rate = first.midpoint * fraction
        if any(abs(step.rate_per_s / rate - 1) < 0.03 for step in first.steps):
            continue
        step_requests, refused = stepper.step_requests(rate)
        if refused:
            continue
        run = run_once(
            stepper.spec,
            seed=seed,
            rate_per_s=rate,
            requests=step_requests,
            max_in_flight=stepper.max_in_flight,
        )
        meets, values, reason = _evaluate(run, stepper.slos)
        steps.append(_step(run, 0, "curve", meets, values, reason))
        tick()
    return steps


def _failure_probe(
    spec: ArchitectureSpec,
    first: _Search,
    objectives: Sequence[SLOSpec],
    seed: int,
    requests: int,
    in_flight: int,
) -> Run | None:
    """The run that shows how the system fails beyond the limit: the first failing step, or,
    when that step was judged without a run, one run clearly beyond the limit."""
    probe = first.high_run
    if probe is None or probe.result is not None or not math.isfinite(first.high):
        return probe
    probe_rate = max(first.high, 1.25 * first.low)
    try:
        result = simulate(
            steady_at(spec, probe_rate),
            seed=seed,
            rate_per_s=probe_rate,
            requests=requests,
            run_anyway=True,
            max_in_flight=in_flight,
        )
    except SimulationError:
        return probe
    return Run(seed, probe_rate, result)


def _bottleneck_at_limit(
    at_limit: SimulationResult | None, searches: Sequence[_Search]
) -> tuple[str, float, tuple[float, float], dict[str, float]]:
    """The busiest station at the limit, its utilisation (with a CI across searches) and every
    station's utilisation there."""
    if at_limit is None:
        return "", math.nan, (math.nan, math.nan), {}
    utilization = {n: c.utilization for n, c in at_limit.components.items() if c.capacity}
    name, busy = busiest(at_limit)
    busy_ci = (math.nan, math.nan)
    per_search = [
        s.low_run.result.components[name].utilization
        for s in searches
        if s.low_run is not None and s.low_run.result is not None
    ]
    if len(per_search) > 1:
        ci = replication_ci(per_search)
        busy, busy_ci = ci.mean, (ci.low, ci.high)
    return name, busy, busy_ci, utilization


def _knee(steps: Sequence[PullStep]) -> float:
    """The first stretch of the p99 curve with elasticity d ln p99 / d ln rate ≥ 1.

    Returned as the geometric midpoint of that stretch; NaN when the measured points never
    rise that fast (or are too few).
    """
    points = sorted(
        {(s.rate_per_s, s.p99_ms) for s in steps if s.p99_ms > 0 and math.isfinite(s.p99_ms)}
    )
    for (rate_a, p99_a), (rate_b, p99_b) in itertools.pairwise(points):
        if rate_b <= rate_a * (1 + 1e-9):
            continue
        elasticity = math.log(p99_b / p99_a) / math.log(rate_b / rate_a)
        if elasticity >= 1.0:
            return math.sqrt(rate_a * rate_b)
    return math.nan


def _has_timeouts(spec: ArchitectureSpec) -> bool:
    return any(
        getattr(call, "timeout_ms", None) is not None
        for component in spec.components.values()
        for call in getattr(component, "calls", ())
    )


def _failure_mode(
    run: Run | None, slos: Sequence[SLOSpec], spec: ArchitectureSpec | None = None
) -> tuple[str, str]:
    """How the system fails just beyond the limit, read from the first step that failed
    ("timeouts" only where the spec has timeouts; other failed requests are its errors)."""
    if run is None:
        return "none found", "no step failed within the rates tried"
    if run.result is None:
        return "queue growth", f"refused before running: {run.refused}"
    result = run.result
    counts = result.requests
    arrived = max(counts.arrived, 1)
    rejected, failed = counts.rejected / arrived, counts.failed / arrived
    at = f"at {run.rate_per_s:.4g} requests/s"
    if failed > 0 and failed >= rejected:
        if spec is None or _has_timeouts(spec):
            return "timeouts", f"{at}: {failed:.2%} of requests failed or timed out"
        return (
            "failed requests",
            f"{at}: {failed:.2%} of requests failed (component errors; no call has a timeout)",
        )
    if rejected > 0:
        worst = max(result.components, key=lambda n: result.components[n].rejected)
        return (
            "rejects",
            f"{at}: {rejected:.2%} of requests rejected, most at {worst} (its queue limit)",
        )
    queues = {n: c.mean_queue for n, c in result.components.items() if c.capacity}
    longest = max(queues, key=lambda n: queues[n]) if queues else ""
    _, _, reason = _evaluate(run, slos)
    reason = reason or "the objectives still hold in this short run"
    where = f"; the longest queue is at {longest} ({queues[longest]:.1f} waiting on average)"
    return "queue growth", f"{at}: {reason}{where if longest else ''}"


# --------------------------------------------------------------------------- the ramp


@dataclass(frozen=True)
class RampResult:
    """A stepped load test: one run whose offered load rises step by step.

    ``steps`` holds one row per load step: offered rate, throughput, error rate,
    ``window_p50_ms`` and ``window_p99_ms``, and whether the step met the SLOs.
    ``timeseries`` is the run's APM series; ``broke_at`` is the first step that broke an SLO
    (or was cut short by runaway queues), None if none did.

    The window percentiles are what an APM dashboard plots: the mean, over the step's time
    windows (1/60 of the run each), of each window's own percentile. Requests within one
    window are strongly correlated, so a window's p99 reads below the steady-state p99 — the
    ramp shows *how* a system breaks; the sustainable limit under a percentile SLO is
    :func:`pull`'s to measure.
    """

    spec: str
    seed: int
    step_s: float
    slos: tuple[str, ...]
    steps: tuple[dict[str, Any], ...]
    broke_at: int | None
    broke_at_rate_per_s: float
    stopped_early: bool
    timeseries: TimeSeries
    requests: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict with the time series."""
        return clean(
            {
                "spec": self.spec,
                "seed": self.seed,
                "step_s": self.step_s,
                "slos": list(self.slos),
                "steps": list(self.steps),
                "broke_at": self.broke_at,
                "broke_at_rate_per_s": self.broke_at_rate_per_s,
                "stopped_early": self.stopped_early,
                "requests": self.requests,
                "timeseries": self.timeseries,
            }
        )

    def records(self) -> list[dict[str, Any]]:
        """One flat row per load step."""
        return [{"spec": self.spec, **clean(step)} for step in self.steps]


def ramp(
    spec: ArchitectureSpec,
    *,
    slos: NFRSpec | Sequence[str | SLOSpec] = (),
    seed: int = 1,
    start_rate_per_s: float | None = None,
    end_rate_per_s: float | None = None,
    steps: int = 10,
    requests: int = 40_000,
    max_in_flight: int | None = None,
) -> RampResult:
    """Run a stepped load test: Poisson arrivals whose rate rises in ``steps`` equal steps.

    The load goes from ``start_rate_per_s`` (default: 20% of the analytic bottleneck bound)
    to ``end_rate_per_s`` (default: 120% of it) over about ``requests`` arrivals, each step
    lasting the same simulated time. The run is allowed past capacity (that is the point) but
    stops once ``max_in_flight`` requests are in the system.

    Examples
    --------
    >>> from scaleplan.spec import example_spec
    >>> result = ramp(example_spec(), slos=["p99<=200ms"], steps=4, requests=4000)
    >>> [round(step["offered_per_s"]) for step in result.steps]
    [20, 53, 87, 120]
    >>> result.broke_at, result.steps[-1]["throughput_per_s"] < 110
    (3, True)
    """
    _open_only(spec, "ramp of the arrival rate", "scaleplan pull, or a sweep of workload.users")
    objectives = [slo for slo in _as_slos(slos) if slo.request_class is None]
    if steps < 1:
        raise ValueError(f"steps must be at least 1 (got {steps})")
    bound = _upper_bound(spec).rate_per_s
    if not math.isfinite(bound):
        bound = 2.0 * spec.workload.mean_rate_per_s
    start = start_rate_per_s if start_rate_per_s is not None else 0.2 * bound
    end = end_rate_per_s if end_rate_per_s is not None else 1.2 * bound
    rates = [float(r) for r in np.linspace(start, end, steps)] if steps > 1 else [start]
    mean = float(np.mean(rates))
    duration = requests / mean
    step_s = duration / steps
    capacity = sum(component.capacity for component in spec.components.values())
    in_flight = max_in_flight if max_in_flight is not None else max(2_000, 50 * capacity)
    workload = spec.workload.model_dump(mode="python", exclude_unset=True)
    for key in ("burst", "trace", "requests"):
        workload.pop(key, None)
    workload.update(
        {
            "arrival": "diurnal",
            "rate_per_s": mean,
            "duration_s": duration,
            "warmup": "none",
            "diurnal": {"profile": rates, "period_s": duration},
        }
    )
    stepped = spec.with_changes({"workload": workload})
    result = simulate(stepped, seed=seed, run_anyway=True, max_in_flight=in_flight)
    series = result.timeseries
    if series is None or result.run is None:  # the engine always fills both
        raise SimulationError(f"{spec.name}: the ramp's run left no time series")
    t = np.asarray(series.t_s, dtype=float)
    system = series.system
    rows: list[dict[str, Any]] = []
    broke_at: int | None = None
    end_of_run = float(result.run.simulated_s)
    for index, rate in enumerate(rates):
        lo, hi = index * step_s, (index + 1) * step_s
        mask = (t >= lo) & (t < hi)
        arrivals = np.asarray(system.arrivals_per_s, dtype=float)[mask]
        done = np.asarray(system.throughput_per_s, dtype=float)[mask]
        errors = np.asarray(system.errors_per_s, dtype=float)[mask]
        p50 = np.asarray(system.p50_ms, dtype=float)[mask]
        p99 = np.asarray(system.p99_ms, dtype=float)[mask]
        arrived = float(arrivals.sum())
        row: dict[str, Any] = {
            "step": index,
            "start_s": lo,
            "end_s": hi,
            "offered_per_s": rate,
            "arrivals_per_s": float(arrivals.mean()) if arrivals.size else math.nan,
            "throughput_per_s": float(done.mean()) if done.size else math.nan,
            "error_rate": float(errors.sum() / arrived) if arrived else math.nan,
            "window_p50_ms": float(np.nanmean(p50)) if np.isfinite(p50).any() else math.nan,
            "window_p99_ms": float(np.nanmean(p99)) if np.isfinite(p99).any() else math.nan,
            # Batch means: a Student-t interval over the step's windows (NaN with fewer than 2).
            "window_p50_ms_ci95": replication_ci(p50[np.isfinite(p50)]).as_list(),
            "window_p99_ms_ci95": replication_ci(p99[np.isfinite(p99)]).as_list(),
            "reached": lo < end_of_run and arrived > 0,
        }
        meets = row["reached"] and all(_ramp_meets(row, slo) for slo in objectives)
        row["meets"] = bool(meets)
        rows.append(row)
        if broke_at is None and not meets and (objectives or not row["reached"]):
            broke_at = index
    stopped = not result.stable
    if stopped:
        # The run was cut short when its queues ran away: it broke in the step under way then.
        stop_step = min(int(end_of_run // step_s), len(rows) - 1)
        broke_at = stop_step if broke_at is None else min(broke_at, stop_step)
    return RampResult(
        spec=spec.name,
        seed=seed,
        step_s=step_s,
        slos=tuple(slo.text for slo in objectives),
        steps=tuple(rows),
        broke_at=broke_at,
        broke_at_rate_per_s=rates[broke_at] if broke_at is not None else math.nan,
        stopped_early=stopped,
        timeseries=series,
        requests=result.requests.arrived,
    )


def _ramp_meets(row: dict[str, Any], slo: SLOSpec) -> bool:
    if slo.metric in ("p50", "p99"):
        return slo.met_by(row[f"window_{slo.metric}_ms"])
    if slo.metric == "errors":
        return slo.met_by(row["error_rate"])
    if slo.metric == "throughput":
        value = row["throughput_per_s"]
        if slo.unit == "of_offered":
            value = value / row["offered_per_s"]
        return slo.met_by(value)
    return True  # other percentiles are not in the time series: not judged per step
