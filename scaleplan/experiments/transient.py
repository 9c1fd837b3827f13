"""Transient runs: a candidate through its load profile, with CIs across replications.

There is no steady state to batch over when the load changes: each of ``R`` independent
replications starts empty at t = 0 and runs through the whole profile (a run bounded by the
profile's duration, not by a request count; seeds derived as for every
``simulate(..., replications=R)``), and every figure is the mean over the replications with a
95% Student-t interval **across the R replications** — per time bucket for the series, per
replication for the summary figures. The series come from the engine's own recorder (each
replication's :class:`~scaleplan.engine.recorder.Recorder`, read through ``simulate``'s
``on_replication``); nothing here records a request.

Definitions (docs/architecture.md, *Load profiles and transient runs*):

- **queue** of a component: the mean number of requests waiting at it over a bucket (its
  consumer lag for a worker pool behind a queue); **in system**: waiting plus in service;
- **max queue**: per replication the largest bucket-mean queue, then its mean and CI;
- **peak phase**: the phase with the highest factor (the first of equals); its window is the
  spike window;
- **backlog drain time**: from the end of the peak phase until a component's queue is back
  under ``threshold = pre-peak level + max(drain_margin, 10% of the pre-peak level)``, the
  pre-peak level being the queue's mean over the whole buckets of the phase before the peak
  phase, across the replications (0 when the peak phase is the first). The crossing is
  interpolated between bucket centres (0 when the queue is already under the threshold as
  the phase ends); the CI's ends move out by half a bucket (the series' resolution). A run
  that ends with every request answered has drained by its end; a replication stopped as a
  runaway counts as not drained, and the figure is then a lower bound;
- **error budget burned**: failed and rejected requests ÷ arrivals, over the run and over the
  peak phase (an interval for proportions: Wilson's at the effective size); with an
  ``errors<=x`` SLO also that share ÷ x;
- **replica-hours** of a component: the integral of its replica count over the profile's
  duration (exactly the bucket series' sum × width); the **cost of the event** prices those
  node-hours at the cost model's ``per_replica_hour`` and the requests each component served
  during the profile at its ``per_million_requests``; monthly storage and fixed fees are not
  an event's cost and are left out;
- **window verdicts**: every latency or error SLO in every window of ``window_s`` (default a
  minute, or a tenth of a profile under ten minutes) with ``nfr``'s rule — pass when the
  interval across replications clears the bound, fail when it lies beyond it, inconclusive
  when it straddles it; a percentile's interval is ``replication_quantile_ci`` over the
  replications' percentiles of the window.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from scipy.special import stdtrit

from scaleplan.engine.recorder import LatencySeries, Recorder
from scaleplan.engine.run import Replication, simulate
from scaleplan.errors import ScaleplanError
from scaleplan.experiments._common import clean
from scaleplan.experiments.nfr import Verdict, _decide, _zero_errors
from scaleplan.kinds import kind_of
from scaleplan.metrics import (
    DEFAULT_BINS,
    MeanCI,
    proportion_ci,
    replication_ci,
    replication_quantile_ci,
)
from scaleplan.progress import Progress
from scaleplan.spec import ArchitectureSpec, BacklogNFR, CostTableSpec, ScenarioSpec, SLOSpec
from scaleplan.spec.profile import ProfileSpec

__all__ = [
    "Band",
    "Drain",
    "EventCost",
    "Figure",
    "Scaling",
    "TransientError",
    "TransientResult",
    "WindowVerdict",
    "transient",
    "transient_scenario",
    "with_profile",
]

#: Buckets of a run's series by default (the profile's duration ÷ 60, as simulate's).
DEFAULT_BUCKETS = 60
#: The least a drained queue may sit above its pre-peak level, in requests waiting.
DEFAULT_DRAIN_MARGIN = 1.0
PERCENTILE_OF = {"p50": 0.5, "p90": 0.9, "p95": 0.95, "p99": 0.99, "p999": 0.999}


class TransientError(ScaleplanError):
    """A transient run cannot be made as asked (no profile, a closed workload, …)."""


# --------------------------------------------------------------------------- result types


@dataclass(frozen=True)
class Band:
    """A series per time bucket: the mean over the replications and its 95% CI across them
    (NaN where fewer than two replications had a value)."""

    mean: tuple[float, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "mean": clean(list(self.mean)),
            "low": clean(list(self.low)),
            "high": clean(list(self.high)),
        }


@dataclass(frozen=True)
class Figure:
    """One summary figure: mean over the replications that have it, 95% CI across them."""

    mean: float
    ci95: tuple[float, float]
    unit: str
    n: int
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "mean": clean(self.mean),
            "ci95": clean(list(self.ci95)),
            "unit": self.unit,
            "replications": self.n,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Scaling:
    """An autoscaled component: the most replicas it ran and when it first ran them."""

    max_replicas: Figure
    first_reached_s: Figure

    def to_dict(self) -> dict[str, Any]:
        return {
            "max_replicas": self.max_replicas.to_dict(),
            "first_reached_s": self.first_reached_s.to_dict(),
        }


@dataclass(frozen=True)
class Drain:
    """A backlog's drain after the peak phase (see the module docstring)."""

    threshold: float
    pre_peak_level: float
    seconds: Figure
    drained: int
    replications: int
    back_under_s: Figure | None = None

    @property
    def lower_bound(self) -> bool:
        """Some replication never drained: the figure understates the drain time."""
        return self.drained < self.replications

    def to_dict(self) -> dict[str, Any]:
        return {
            "threshold": clean(self.threshold),
            "pre_peak_level": clean(self.pre_peak_level),
            "seconds": self.seconds.to_dict(),
            "drained": self.drained,
            "replications": self.replications,
            "lower_bound": self.lower_bound,
            "back_under_s": None if self.back_under_s is None else self.back_under_s.to_dict(),
        }


@dataclass(frozen=True)
class EventCost:
    """What the profile's run cost: node-hours and requests priced (no monthly fees)."""

    currency: str
    total: Figure
    components: dict[str, Figure]
    #: Each replication's total, in order (what per-request figures divide).
    replications: tuple[float, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "total": self.total.to_dict(),
            "components": {name: figure.to_dict() for name, figure in self.components.items()},
        }


@dataclass(frozen=True)
class WindowVerdict:
    """One SLO in one window of the profile."""

    start_s: float
    end_s: float
    phase: str
    verdict: Verdict

    def to_dict(self) -> dict[str, Any]:
        return {
            "start_s": self.start_s,
            "end_s": self.end_s,
            "phase": self.phase,
            **self.verdict.to_dict(),
        }


@dataclass(frozen=True)
class TransientResult:
    """A candidate through its load profile (see the module docstring for every figure).

    A caller that compares candidates reads :meth:`verdicts` (one per SLO, its worst window),
    :attr:`event_cost` (``total.mean`` and ``total.ci95``), :attr:`scaling`, :attr:`drain` and
    :attr:`error_rate_peak`; the series are for charts.
    """

    spec: str
    seed: int
    replications: int
    duration_s: float
    bucket_s: float
    base_rate_per_s: float
    t_s: tuple[float, ...]
    phases: tuple[tuple[str, float, float], ...]
    peak_phase: str
    system: dict[str, Band]
    classes: dict[str, dict[str, Band]]
    components: dict[str, dict[str, Band]]
    scaling: dict[str, Scaling]
    max_queue: dict[str, Figure]
    drain: dict[str, Drain]
    error_rate: Figure
    error_rate_peak: Figure
    budget_burned: dict[str, Figure]
    replica_hours: dict[str, Figure]
    event_cost: EventCost | None
    windows: tuple[WindowVerdict, ...]
    window_s: float
    #: The error SLOs judged over every request of the profile (the budget it spends).
    overall: tuple[Verdict, ...] = ()
    #: Requests answered within every latency percentile SLO's bound ("good events").
    good_requests: Figure | None = None
    #: The event's cost per million good requests (with a cost table).
    cost_per_million_good: Figure | None = None
    warnings: tuple[str, ...] = ()
    stopped: tuple[str, ...] = field(default=())

    def verdicts(self) -> list[Verdict]:
        """One verdict per SLO over the whole profile: fail when any window fails, else
        inconclusive when any window is, else pass; its figure is the worst window's."""
        out = []
        for text in dict.fromkeys(w.verdict.nfr for w in self.windows):
            mine = [w for w in self.windows if w.verdict.nfr == text]
            for status in ("fail", "inconclusive", "pass", "not evaluated"):
                hit = [w for w in mine if w.verdict.status == status]
                if hit:
                    worst = min(
                        hit,
                        key=lambda w: (
                            w.verdict.margin if math.isfinite(w.verdict.margin) else math.inf
                        ),
                    )
                    count = len(hit)
                    cause = (
                        f"{count} of {len(mine)} windows {status}; worst {worst.start_s:g}–"
                        f"{worst.end_s:g} s ({worst.phase})"
                    )
                    v = worst.verdict
                    out.append(
                        Verdict(
                            v.nfr,
                            v.kind,
                            v.status,
                            v.measured,
                            v.ci95,
                            v.bound,
                            v.unit,
                            v.margin,
                            None,
                            cause,
                            cause if status == "fail" else "",
                        )
                    )
                    break
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "spec": self.spec,
            "seed": self.seed,
            "replications": self.replications,
            "ci": f"95% Student-t across {self.replications} replications",
            "duration_s": self.duration_s,
            "bucket_s": self.bucket_s,
            "window_s": self.window_s,
            "base_rate_per_s": self.base_rate_per_s,
            "phases": [{"name": n, "start_s": a, "end_s": b} for n, a, b in self.phases],
            "peak_phase": self.peak_phase,
            "t_s": list(self.t_s),
            "system": {k: v.to_dict() for k, v in self.system.items()},
            "classes": {c: {k: v.to_dict() for k, v in s.items()} for c, s in self.classes.items()},
            "components": {
                c: {k: v.to_dict() for k, v in s.items()} for c, s in self.components.items()
            },
            "scaling": {k: v.to_dict() for k, v in self.scaling.items()},
            "max_queue": {k: v.to_dict() for k, v in self.max_queue.items()},
            "drain": {k: v.to_dict() for k, v in self.drain.items()},
            "error_rate": self.error_rate.to_dict(),
            "error_rate_peak": self.error_rate_peak.to_dict(),
            "budget_burned": {k: v.to_dict() for k, v in self.budget_burned.items()},
            "replica_hours": {k: v.to_dict() for k, v in self.replica_hours.items()},
            "event_cost": None if self.event_cost is None else self.event_cost.to_dict(),
            "verdicts": [v.to_dict() for v in self.verdicts()],
            "overall": [v.to_dict() for v in self.overall],
            "good_requests": None if self.good_requests is None else self.good_requests.to_dict(),
            "cost_per_million_good": None
            if self.cost_per_million_good is None
            else self.cost_per_million_good.to_dict(),
            "windows": [w.to_dict() for w in self.windows],
            "warnings": list(self.warnings),
            "stopped": list(self.stopped),
        }


# --------------------------------------------------------------------------- statistics


def band(values: np.ndarray) -> Band:
    """Per column (bucket) of ``values`` (replications × buckets, NaN: no value): the mean and
    the Student-t 95% interval across the replications that have a value."""
    values = np.asarray(values, dtype=float)
    present = np.isfinite(values)
    n = present.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        total = np.where(present, values, 0.0).sum(axis=0)
        mean = np.where(n > 0, total / np.maximum(n, 1), np.nan)
        deviation = np.where(present, values - mean, 0.0)
        variance = (deviation**2).sum(axis=0) / np.maximum(n - 1, 1)
        t = np.where(n > 1, stdtrit(np.maximum(n - 1, 1), 0.975), np.nan)
        half = t * np.sqrt(variance / np.maximum(n, 1))
    return Band(tuple(mean.tolist()), tuple((mean - half).tolist()), tuple((mean + half).tolist()))


def _figure(values: Sequence[float], unit: str, detail: str = "") -> Figure:
    finite = [v for v in values if math.isfinite(v)]
    ci = replication_ci(finite) if finite else MeanCI(math.nan, math.nan, math.nan, math.nan, 0, "")
    return Figure(ci.mean, (ci.low, ci.high), unit, len(finite), detail)


def _share(errors: Sequence[int], trials: Sequence[int], what: str) -> Figure:
    """errors ÷ trials over the replications, with an interval for proportions."""
    total = int(sum(trials))
    values = [e / t for e, t in zip(errors, trials, strict=True) if t]
    if not values:
        return Figure(math.nan, (math.nan, math.nan), "fraction", 0, f"no requests {what}")
    if not any(errors):
        ci = _zero_errors(total)
        return Figure(
            0.0, (ci.low, ci.high), "fraction", len(values), f"no errors in {total} requests {what}"
        )
    ci = proportion_ci(replication_ci(values), total)
    return Figure(ci.mean, (ci.low, ci.high), "fraction", len(values), f"{what}; {ci.method}")


# --------------------------------------------------------------------------- the run


@dataclass
class _Rep:
    """What the experiment keeps of one replication: its recorder and replica logs."""

    recorder: Recorder
    end_s: float
    replica_logs: dict[str, list[tuple[float, int]]]
    stopped: str | None
    warnings: list[str]
    emptied: bool  # every request answered by the run's end (not stopped, nothing in flight)


def transient(
    spec: ArchitectureSpec,
    *,
    replications: int = 5,
    seed: int = 1,
    bucket_s: float | None = None,
    window_s: float | None = None,
    slos: Sequence[SLOSpec] = (),
    costs: CostTableSpec | None = None,
    candidate: str | None = None,
    drain_margin: float = DEFAULT_DRAIN_MARGIN,
    max_in_flight: int | None = None,
    progress: Progress | None = None,
) -> TransientResult:
    """Run ``spec`` (a workload with ``arrival: profile``) through its profile ``replications``
    times from empty and summarise it (see the module docstring).

    Parameters
    ----------
    spec : ArchitectureSpec
        An open workload with a load profile (:func:`with_profile` puts a scenario's on it).
    replications : int
        Independent replications (at least 2 for an interval).
    bucket_s : float, optional
        Width of the series' buckets (default: :func:`default_bucket_s`, about the profile's
        duration ÷ 60 with every phase starting on a bucket edge).
    window_s : float, optional
        Width of the SLO windows (default: 60 s, or a tenth of a profile under ten minutes);
        a whole number of buckets.
    slos : sequence of SLOSpec
        The objectives checked in every window (latency and errors; others are skipped).
    costs, candidate : optional
        The cost table and the candidate's name in it, for the cost of the event.
    drain_margin : float
        The least margin over the pre-peak queue level under which a backlog counts as drained.
    """
    workload = spec.workload
    profile = workload.profile
    if workload.closed or profile is None or workload.arrival != "profile":
        raise TransientError(
            f"{spec.source}: workload: a transient run needs an open workload with 'arrival: "
            f"profile' and a 'profile' (got arrival {workload.arrival!r})"
        )
    if replications < 2:
        raise TransientError(
            f"replications must be at least 2 for an interval across them (got {replications})"
        )
    duration = float(workload.time_bound_s or profile.duration_s)
    width = float(bucket_s) if bucket_s is not None else default_bucket_s(profile, duration)
    n = max(1, round(duration / width))
    width = duration / n
    reps: list[_Rep] = []

    def keep(run: Replication) -> None:
        logs = {name: list(series.replica_log) for name, series in run.recorder.stations.items()}
        stopped = f"{run.stopped.component}: {run.stopped.reason}" if run.stopped else None
        emptied = run.stopped is None and run.counts.in_flight == 0
        reps.append(_Rep(run.recorder, run.end_s, logs, stopped, list(run.warnings), emptied))

    simulate(
        spec,
        seed=seed,
        replications=replications,
        run_anyway=True,
        max_in_flight=max_in_flight,
        progress=progress,
        bucket_s=width,
        on_replication=keep,
    )
    return _summarise(
        spec,
        profile,
        reps,
        seed,
        duration,
        width,
        n,
        window_s,
        slos,
        costs,
        candidate,
        drain_margin,
    )


def default_bucket_s(profile: ProfileSpec, duration: float) -> float:
    """duration ÷ n for the smallest n from 60 to 240 whose buckets start every phase on a
    bucket edge (so no bucket holds two phases); duration ÷ 60 when none does.

    Examples
    --------
    >>> profile = ProfileSpec(phases=[{"duration_s": 180, "steady": {}},
    ...                               {"duration_s": 1080, "steady": {"factor": 3}}])
    >>> default_bucket_s(profile, profile.duration_s)
    20.0
    """
    starts = [start for start, _ in profile.bounds()[1:] if start < duration]
    for count in range(DEFAULT_BUCKETS, 4 * DEFAULT_BUCKETS + 1):
        width = duration / count
        if all(abs(start / width - round(start / width)) < 1e-6 for start in starts):
            return width
    return duration / DEFAULT_BUCKETS


def _summarise(
    spec: ArchitectureSpec,
    profile: ProfileSpec,
    reps: list[_Rep],
    seed: int,
    duration: float,
    width: float,
    n: int,
    window_s: float | None,
    slos: Sequence[SLOSpec],
    costs: CostTableSpec | None,
    candidate: str | None,
    drain_margin: float,
) -> TransientResult:
    recorders = [rep.recorder for rep in reps]
    bounds = [
        (label, a, min(b, duration))
        for label, (a, b) in zip(profile.labels(), profile.bounds(), strict=True)
        if a < duration
    ]
    peak_index = min(profile.peak_phase(), len(bounds) - 1)
    peak_label, peak_start, peak_end = bounds[peak_index]
    cut = slice(0, n)

    def rows(get: Any) -> np.ndarray:
        return np.array([np.asarray(get(r), dtype=float)[cut] for r in recorders])

    system = {
        "arrivals_per_s": band(rows(lambda r: r.arrivals) / width),
        "throughput_per_s": band(rows(lambda r: r.system.count) / width),
        "errors_per_s": band(rows(lambda r: r.rejected + r.failed) / width),
        "mean_ms": band(rows(lambda r: _bucket_means(r.system))),
        "p99_ms": band(rows(lambda r: _bucket_quantiles(r.system, 0.99))),
    }
    class_names = recorders[0].class_names
    classes = {}
    for name in class_names:
        of = (
            (lambda r, name=name: r.system)
            if len(class_names) == 1
            else (lambda r, name=name: r.classes[name])
        )
        classes[name] = {
            "mean_ms": band(rows(lambda r, of=of: _bucket_means(of(r)))),
            "p99_ms": band(rows(lambda r, of=of: _bucket_quantiles(of(r), 0.99))),
        }
    components: dict[str, dict[str, Band]] = {}
    queues: dict[str, np.ndarray] = {}
    for name in recorders[0].stations:
        series = [r.stations[name] for r in recorders]
        held = np.array([s.held_s[cut] for s in series])
        slots = np.array([s.capacity_s[cut] for s in series])
        full = np.array([s.wait_s for s in series]) / width  # the drain may outlast the profile
        queues[name] = full
        with np.errstate(invalid="ignore", divide="ignore"):
            utilization = np.where(slots > 0, held / slots, np.nan)
        components[name] = {
            "utilization": band(utilization),
            "queue": band(full[:, cut]),
            "in_system": band(full[:, cut] + held / width),
            "replicas": band(np.array([s.replicas[cut] for s in series])),
        }
    scaling = {
        name: _scaling(name, reps, duration)
        for name, component in spec.components.items()
        if getattr(component, "autoscale", None) is not None
    }
    max_queue = {
        name: _figure(
            [float(np.max(q[cut])) for q in queue], "requests", "largest bucket-mean queue"
        )
        for name, queue in queues.items()
    }
    drain = {}
    for name, queue in queues.items():
        ends = [(rep.end_s, rep.emptied) for rep in reps]
        found = _drain(queue, width, bounds, peak_index, drain_margin, ends)
        if found is not None:
            drain[name] = found
    arrivals = [int(r.arrivals.sum()) for r in recorders]
    errors = [int(r.rejected.sum() + r.failed.sum()) for r in recorders]
    first, last = round(peak_start / width), round(peak_end / width)
    peak_arrivals = [int(r.arrivals[first:last].sum()) for r in recorders]
    peak_errors = [
        int(r.rejected[first:last].sum() + r.failed[first:last].sum()) for r in recorders
    ]
    error_rate = _share(errors, arrivals, "over the run")
    error_rate_peak = _share(peak_errors, peak_arrivals, f"over the peak phase {peak_label}")
    budget = {}
    for slo in slos:
        if slo.metric == "errors" and slo.request_class is None and slo.bound > 0:
            for key, figure in (("run", error_rate), ("peak", error_rate_peak)):
                budget[f"{slo.text} {key}"] = Figure(
                    figure.mean / slo.bound,
                    (figure.ci95[0] / slo.bound, figure.ci95[1] / slo.bound),
                    "of budget",
                    figure.n,
                    f"error share ÷ {slo.bound:g} ({key})",
                )
    replica_hours = {
        name: _figure(
            [float(np.sum(r.stations[name].replicas[cut])) * width / 3600.0 for r in recorders],
            "replica-hours",
            f"integral of the replica count over the profile's {duration:g} s",
        )
        for name in recorders[0].stations
        # A queue or topic runs no replicas of its own (its broker is priced by requests).
        if name in spec.components and any(r.stations[name].replicas[cut].any() for r in recorders)
    }
    event_cost = None
    good = _good_requests(recorders, slos, n)
    cost_per_million_good = None
    if costs is not None:
        event_cost = _event_cost(spec, costs, candidate or spec.name, recorders, width, n, duration)
        per_good = [
            cost / count * 1e6 if count else math.nan
            for cost, count in zip(event_cost.replications, good, strict=True)
        ]
        cost_per_million_good = _figure(
            per_good,
            costs.currency,
            "the event's cost ÷ the requests answered within every latency SLO's bound",
        )
    # A window must hold enough requests for its percentile to be settled across a few
    # replications: a minute, or a tenth of a short profile (never less than a bucket).
    window = window_s if window_s is not None else (60.0 if duration >= 600 else duration / 10)
    per_window = max(1, round(window / width))
    windows = _windows(recorders, slos, bounds, width, n, per_window)
    # The error budget is spent over the whole profile: one verdict on every request of it
    # (a short window holds too few requests to settle a share of a percent).
    overall = tuple(_window_verdict(recorders, slo, 0, n) for slo in slos if slo.metric == "errors")
    warnings = list(dict.fromkeys(w for rep in reps for w in rep.warnings))
    stopped = tuple(rep.stopped for rep in reps if rep.stopped)
    if stopped:
        warnings.insert(
            0,
            f"{len(stopped)} of {len(reps)} replications ran away and were stopped "
            f"({stopped[0]}): their series end there",
        )
    for name, found in drain.items():
        if found.lower_bound:
            warnings.append(
                f"{name}: the backlog did not drain in {found.replications - found.drained} of "
                f"{found.replications} replications: its drain time is a lower bound"
            )
    return TransientResult(
        spec=spec.name,
        seed=seed,
        replications=len(reps),
        duration_s=duration,
        bucket_s=width,
        base_rate_per_s=float(spec.workload.rate_per_s or math.nan),
        t_s=tuple(width * (i + 0.5) for i in range(n)),
        phases=tuple(bounds),
        peak_phase=peak_label,
        system=system,
        classes=classes,
        components=components,
        scaling=scaling,
        max_queue=max_queue,
        drain=drain,
        error_rate=error_rate,
        error_rate_peak=error_rate_peak,
        budget_burned=budget,
        replica_hours=replica_hours,
        event_cost=event_cost,
        windows=tuple(windows),
        window_s=per_window * width,
        overall=overall,
        good_requests=_figure(
            [float(count) for count in good],
            "requests",
            "answered without error within every latency percentile SLO's bound (to the "
            "sketch's 1%)",
        ),
        cost_per_million_good=cost_per_million_good,
        warnings=tuple(warnings),
        stopped=stopped,
    )


def _bucket_means(series: LatencySeries) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(series.count > 0, series.sum_ms / np.maximum(series.count, 1), np.nan)


def _bucket_quantiles(series: LatencySeries, q: float) -> np.ndarray:
    out = np.full(len(series.count), np.nan)
    for index in np.nonzero(series.count)[0]:
        out[index] = float(DEFAULT_BINS.quantiles(series.hist[index], [q])[0])
    return out


def _scaling(name: str, reps: list[_Rep], duration: float) -> Scaling:
    """The most replicas in the profile (from the exact replica log) and its first time."""
    most, when = [], []
    for rep in reps:
        log = [(t, c) for t, c in rep.replica_logs.get(name, []) if t <= duration]
        if not log:
            continue
        top = max(c for _, c in log)
        most.append(float(top))
        when.append(next(t for t, c in log if c == top))
    return Scaling(
        _figure(most, "replicas", "most replicas running during the profile"),
        _figure(when, "s", "first time at that count"),
    )


def _drain(
    queue: np.ndarray,
    width: float,
    bounds: list[tuple[str, float, float]],
    peak_index: int,
    margin: float,
    ends: list[tuple[float, bool]],
) -> Drain | None:
    """The drain time after the peak phase (None: no backlog formed above the threshold)."""
    _, peak_start, peak_end = bounds[peak_index]
    if peak_index > 0:
        _, a, b = bounds[peak_index - 1]
        # The buckets wholly inside the phase before (a bucket across the boundary holds
        # some of the peak); the nearest one when none is.
        first, last = math.ceil(a / width - 1e-9), math.floor(b / width + 1e-9)
        if last <= first:
            first, last = int(a / width), int(a / width) + 1
        level = float(np.mean(queue[:, first:last]))
    else:
        level = 0.0
    threshold = level + max(margin, 0.1 * level)
    start, stop = round(peak_start / width), round(peak_end / width)
    if not (queue[:, start:stop] > threshold).any():
        return None
    centres = width * (np.arange(queue.shape[1]) + 0.5)
    times, back, drained = [], [], 0
    for row, (end_s, emptied) in zip(queue, ends, strict=True):
        used = min(len(row), math.ceil(end_s / width))
        crossing = _crossing(row[:used], centres[:used], threshold, peak_end)
        top = float(centres[int(np.argmax(row[:used]))]) if used else 0.0
        again = _crossing(row[:used], centres[:used], threshold, top)
        if crossing is None or again is None:
            # A run that was not stopped ends once every request is answered: its queue is
            # empty at its end (arrivals over, when the peak phase is the last). A stopped
            # run never drained, and its tail is a lower bound.
            drained += int(emptied)
            crossing = end_s if crossing is None else crossing
            again = end_s if again is None else again
        else:
            drained += 1
        times.append(max(0.0, crossing - peak_end))
        back.append(again)
    return Drain(
        threshold,
        level,
        _widened(times, width, "from the end of the peak phase until the queue is under it"),
        drained,
        len(ends),
        _widened(back, width, "when the queue is first under it after its largest bucket"),
    )


def _crossing(row: np.ndarray, centres: np.ndarray, threshold: float, since: float) -> float | None:
    """The first time from ``since`` that the queue is under ``threshold``: interpolated
    between the bucket centres around it, ``since`` itself when it is already under there."""
    after = np.nonzero((centres >= since) & (row <= threshold))[0]
    if not len(after):
        return None
    index = int(after[0])
    if index == 0 or row[index - 1] <= threshold:
        return since
    above, below = row[index - 1], row[index]
    share = (above - threshold) / (above - below) if above > below else 1.0
    return max(since, float(centres[index - 1] + share * (centres[index] - centres[index - 1])))


def _widened(values: list[float], width: float, detail: str) -> Figure:
    """A figure read off the bucket series: its interval moves out by half a bucket (the
    series knows the queue only per bucket)."""
    figure = _figure(values, "s", detail)
    low, high = figure.ci95
    return Figure(figure.mean, (max(0.0, low - width / 2), high + width / 2), "s", figure.n, detail)


def _event_cost(
    spec: ArchitectureSpec,
    costs: CostTableSpec,
    candidate: str,
    recorders: list[Recorder],
    width: float,
    n: int,
    duration: float,
) -> EventCost:
    hours = duration / 3600.0
    per_component: dict[str, list[float]] = {name: [] for name in spec.components}
    totals = []
    for recorder in recorders:
        total = 0.0
        for name, component in spec.components.items():
            price = costs.rate(candidate, name, component.kind)
            series = recorder.stations[name]
            running = None
            if getattr(component, "autoscale", None) is not None:
                running = float(np.sum(series.replicas[:n])) * width / duration
            nodes = kind_of(component.kind).billable_nodes(component, running)
            served = float(series.span.count[:n].sum())
            value = (
                price.per_replica_hour * nodes * hours + price.per_million_requests * served / 1e6
            )
            per_component[name].append(value)
            total += value
        totals.append(total)
    detail = "node-hours × per_replica_hour + requests served × per_million_requests"
    return EventCost(
        costs.currency,
        _figure(totals, costs.currency, detail),
        components={
            name: _figure(values, costs.currency, detail) for name, values in per_component.items()
        },
        replications=tuple(totals),
    )


def _good_requests(recorders: list[Recorder], slos: Sequence[SLOSpec], n: int) -> list[int]:
    """Per replication, the requests answered within the bound of every latency percentile SLO
    that applies to them (a "good event" of the SRE book's latency SLI; a mean has no
    per-request bound). A bound counts its whole sketch bin: right to the sketch's 1%."""
    bounds = [slo for slo in slos if slo.is_latency and slo.metric != "mean"]
    overall = min((slo.bound for slo in bounds if slo.request_class is None), default=math.inf)
    good = []
    for recorder in recorders:
        by_class = {
            name: min(
                [overall, *(s.bound for s in bounds if s.request_class == name)], default=overall
            )
            for name in recorder.class_names
        }
        split = len(recorder.class_names) > 1 and any(
            bound != overall for bound in by_class.values()
        )
        parts = (
            [(recorder.classes[name], bound) for name, bound in by_class.items()]
            if split
            else [(recorder.system, min(by_class.values(), default=overall))]
        )
        count = 0
        for series, bound in parts:
            if math.isinf(bound):
                count += int(series.count[:n].sum())
            else:
                last = int(series.bins.index(np.asarray([bound]))[0])
                count += int(series.hist[:n, : last + 1].sum())
        good.append(count)
    return good


def _windows(
    recorders: list[Recorder],
    slos: Sequence[SLOSpec],
    bounds: list[tuple[str, float, float]],
    width: float,
    n: int,
    per_window: int,
) -> list[WindowVerdict]:
    out = []
    for slo in slos:
        if not (slo.is_latency or slo.metric == "errors"):
            continue
        for first in range(0, n, per_window):
            last = min(first + per_window, n)
            start, end = first * width, last * width
            phase = next((label for label, a, b in bounds if a <= start < b), bounds[-1][0])
            out.append(
                WindowVerdict(start, end, phase, _window_verdict(recorders, slo, first, last))
            )
    return out


def _window_verdict(recorders: list[Recorder], slo: SLOSpec, first: int, last: int) -> Verdict:
    span = slice(first, last)
    if slo.metric == "errors":
        arrived = [int(r.arrivals[span].sum()) for r in recorders]
        errors = [int(r.rejected[span].sum() + r.failed[span].sum()) for r in recorders]
        total = sum(arrived)
        if not total:
            return _decide(
                slo.text,
                "errors",
                MeanCI(math.nan, math.nan, math.nan, math.nan, 0, ""),
                slo.bound,
                slo.op,
                "fraction",
                None,
                "no requests in the window",
            )
        if not any(errors):
            ci = _zero_errors(total)
            detail = f"no errors in {total} requests across {len(recorders)} replications"
        else:
            ci = proportion_ci(
                replication_ci([e / a for e, a in zip(errors, arrived, strict=True) if a]), total
            )
            detail = f"across {len(recorders)} replications"
        return _decide(slo.text, "errors", ci, slo.bound, slo.op, "fraction", total, detail)
    values = []
    count = 0
    for recorder in recorders:
        series = recorder.system
        if slo.request_class is not None:
            if slo.request_class not in recorder.class_names:
                return Verdict(
                    slo.text,
                    "latency",
                    "not evaluated",
                    math.nan,
                    (math.nan, math.nan),
                    slo.bound,
                    "ms",
                    math.nan,
                    None,
                    f"the architecture has no request class {slo.request_class!r}",
                )
            if len(recorder.class_names) > 1:  # one class: its figures are the system's
                series = recorder.classes[slo.request_class]
        done = int(series.count[span].sum())
        count += done
        if not done:
            continue
        if slo.metric == "mean":
            values.append(float(series.sum_ms[span].sum()) / done)
        else:
            hist = series.hist[span].sum(axis=0)
            values.append(float(DEFAULT_BINS.quantiles(hist, [PERCENTILE_OF[slo.metric]])[0]))
    detail = (
        f"{slo.metric} of the window in each of {len(values)} replications, Student-t across them"
    )
    ci = replication_ci(values) if slo.metric == "mean" else replication_quantile_ci(values)
    if ci.low < 0:
        # A latency is never negative: the t-interval over few replications can reach below
        # 0, and cutting it there keeps every value it could cover.
        ci = MeanCI(ci.mean, 0.0, ci.high, ci.high / 2.0, ci.n, f"{ci.method}, cut at 0")
    return _decide(slo.text, "latency", ci, slo.bound, slo.op, "ms", count or None, detail)


# --------------------------------------------------------------------------- scenarios


def with_profile(
    spec: ArchitectureSpec, profile: ProfileSpec, base_rate_per_s: float
) -> ArchitectureSpec:
    """``spec`` with its workload's arrivals replaced by ``profile`` over ``base_rate_per_s``
    (its classes and warm-up kept; the run lasts the profile)."""
    if spec.workload.closed:
        raise TransientError(
            f"{spec.source}: a load profile multiplies an arrival rate: the closed workload "
            f"({spec.workload.total_users} users) has none"
        )
    workload = spec.workload.model_dump(mode="python", exclude_unset=True, by_alias=True)
    for key in ("burst", "diurnal", "trace", "requests", "duration_s"):
        workload.pop(key, None)
    workload.update(
        arrival="profile",
        rate_per_s=base_rate_per_s,
        profile=profile.model_dump(mode="python", by_alias=True, exclude_none=True),
    )
    return spec.with_changes({"workload": workload})


def transient_scenario(
    scenario: ScenarioSpec,
    *,
    candidates: Sequence[str] = (),
    replications: int | None = None,
    seed: int | None = None,
    bucket_s: float | None = None,
    window_s: float | None = None,
    progress: Progress | None = None,
) -> dict[str, TransientResult]:
    """Each candidate (all, or those named) through the scenario's ``workload.profile`` over
    today's rate, with its SLOs checked per window and its cost table pricing the event; the
    replications and seed default to the scenario's ``run`` (the same seeds for every
    candidate: common random numbers)."""
    profile = scenario.workload.profile
    if profile is None:
        raise TransientError(
            f"{scenario.source}: workload.profile: the scenario gives no load profile to run "
            "through (add workload.profile.phases)"
        )
    names = list(candidates) or scenario.names
    specs = scenario.architectures()
    unknown = [name for name in names if name not in specs]
    if unknown:
        raise TransientError(
            f"{scenario.source}: no candidate named {', '.join(map(repr, unknown))} "
            f"(candidates: {', '.join(scenario.names)})"
        )
    count = replications if replications is not None else scenario.run.replications
    results = {}
    for number, name in enumerate(names):

        def report(done: int, total: int, _number: int = number) -> None:
            if progress is not None:
                progress(_number * total + done, total * len(names))

        spec = with_profile(specs[name], profile, scenario.today_rate_per_s)
        results[name] = transient(
            spec,
            replications=count,
            seed=scenario.run.seed if seed is None else seed,
            bucket_s=bucket_s,
            window_s=window_s,
            slos=scenario.nfrs.slos,
            costs=scenario.costs,
            candidate=name,
            progress=report,
        )
    return results


def backlog_verdicts(result: TransientResult, backlog: BacklogNFR) -> list[Verdict]:
    """The backlog NFR judged on the run through the profile: the drain after the peak phase
    and the largest queue, each at its worst component (``backlog.component`` alone when
    named), pass when the 95% interval across replications clears the bound, fail when it lies
    beyond it, inconclusive when it straddles it. A backlog that some replication never
    drained within the run gives a lower bound: it fails only when even that clears the
    bound, else it is inconclusive."""
    named = backlog.component
    if named is not None and named not in result.max_queue:
        # Nothing waits there in this option (no such component, or one without a queue).
        return backlog_not_evaluated(backlog, f"no queue is recorded at {named} in this option")
    verdicts = []
    if backlog.drain_within_s is not None:
        verdicts.append(_drain_verdict(result, backlog.drain_text, backlog.drain_within_s, named))
    if backlog.max_queue is not None:
        verdicts.append(_queue_verdict(result, backlog.queue_text, backlog.max_queue, named))
    return verdicts


def backlog_not_evaluated(backlog: BacklogNFR, why: str) -> list[Verdict]:
    """The backlog NFR said but not judged, for ``why``."""
    nan = math.nan
    return [
        Verdict(text, "backlog", "not evaluated", nan, (nan, nan), bound, unit, nan, None, why)
        for text, bound, unit in (
            (backlog.drain_text, backlog.drain_within_s, "s"),
            (backlog.queue_text, backlog.max_queue, "requests"),
        )
        if bound is not None
    ]


def _judged(figure: Figure, name: str, kind: str, bound: float, unit: str, detail: str) -> Verdict:
    low, high = figure.ci95
    ci = MeanCI(figure.mean, low, high, (high - low) / 2, figure.n, f"replications (R={figure.n})")
    return _decide(name, kind, ci, bound, "<=", unit, None, detail)


def _drain_verdict(result: TransientResult, text: str, bound: float, named: str | None) -> Verdict:
    drains = {k: v for k, v in result.drain.items() if named is None or k == named}
    if not drains:
        where = f"at {named}" if named else "at any component"  # its queue never passed it
        zero = Figure(0.0, (0.0, 0.0), "s", result.replications)
        return _judged(
            zero, text, "backlog", bound, "s", f"no backlog formed {where} in the peak phase"
        )
    name, worst = max(drains.items(), key=lambda item: item[1].seconds.mean)
    detail = (
        f"{name}: from the end of phase {result.peak_phase} until its queue is back under "
        f"{worst.threshold:.4g}; {worst.drained} of {worst.replications} replications drained"
    )
    verdict = _judged(worst.seconds, text, "backlog", bound, "s", detail)
    if worst.lower_bound and verdict.status != "fail":
        # Some replication never drained: its time is a lower bound, so only a fail is sure.
        verdict = replace(
            verdict,
            status="inconclusive",
            detail=f"{detail}; the others never did within the run (a lower bound)",
        )
    if verdict.status == "fail":
        verdict = replace(
            verdict, cause=f"{name}'s backlog takes {worst.seconds.mean:,.4g} s to drain"
        )
    return verdict


def _queue_verdict(result: TransientResult, text: str, bound: float, named: str | None) -> Verdict:
    queues = {k: v for k, v in result.max_queue.items() if named is None or k == named}
    if not queues:
        zero = Figure(0.0, (0.0, 0.0), "requests", result.replications)
        return _judged(zero, text, "backlog", bound, "requests", "no queue formed")
    name, worst = max(queues.items(), key=lambda item: item[1].mean)
    detail = f"{name}: the largest bucket-mean queue over the profile"
    verdict = _judged(worst, text, "backlog", bound, "requests", detail)
    if verdict.status == "fail":
        verdict = replace(verdict, cause=f"{name} holds {worst.mean:,.4g} requests waiting")
    return verdict
