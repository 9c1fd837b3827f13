"""NFRs as executable checks: one verdict per quantified NFR, honest about uncertainty.

This module owns :func:`check` and its :class:`Verdict`. It reads simulation results (and,
where an NFR needs them, a sustainable limit, a cost or a growth rate); it runs nothing.

The rule of a verdict: **pass** only when the 95% confidence interval of the measured value
clears the bound; **fail** when the interval lies wholly on the wrong side; **inconclusive**
when it straddles the bound — then ``extra_requests`` says how many further simulated requests
would be expected to settle it (:func:`scaleplan.metrics.extra_observations_needed`, assuming
the half-width shrinks as 1/√n); **not evaluated** when the inputs cannot say (availability
when no failures are simulated, a per-class objective for an architecture without that class,
growth without a limit …). Availability, once some component has ``failures``, is the share of
arriving requests served (neither rejected nor failed), with its interval like the errors'.

Where each interval comes from:

- given **replications** (several results with independent seeds at the same load, e.g. from
  seeds ``s … s+R−1``): a Student-t interval over the per-replication values, for every metric;
- given **one result**: the mean latency's batch-means interval; the error rate's interval from
  batch means over the run's time buckets (or, with no error at all, the "rule of three"
  ``[0, 3/n]``); the throughput's from batch means over its time buckets; a **percentile**'s
  from the result's own ``p99_ci95`` and siblings (sectioning over the run's time sections,
  :func:`scaleplan.metrics.batch_quantile_ci`, or across the replications of a
  ``simulate(..., replications=R)`` result), so one run can pass or fail a percentile too
  (a bound within the sketch's resolution of the estimate promises no ``extra_requests``);
- a run that is **unstable** (refused, or stopped with its queues running away) fails every
  SLO: the system does not sustain that load.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

from scaleplan.experiments._common import clean, error_rate, measured_buckets, point_value
from scaleplan.metrics import (
    DEFAULT_BINS,
    MeanCI,
    batch_means_ci,
    extra_observations_needed,
    proportion_ci,
    replication_ci,
    replication_quantile_ci,
)
from scaleplan.result import SimulationResult
from scaleplan.spec import NFRSpec, SLOSpec, parse_slo

__all__ = ["Status", "Verdict", "check", "show_value", "verdict_records"]

Status = Literal["pass", "fail", "inconclusive", "not evaluated"]


@dataclass(frozen=True)
class Verdict:
    """The verdict on one NFR.

    Attributes
    ----------
    nfr : str
        The requirement in words, e.g. ``p99<=300ms`` or ``headroom>=30%``.
    kind : str
        ``latency``, ``errors``, ``throughput``, ``availability``, ``headroom``, ``growth``,
        ``cost`` or ``retention``.
    status : str
        ``pass``, ``fail``, ``inconclusive`` or ``not evaluated``.
    measured : float
        The point estimate, in ``unit`` (NaN when not evaluated).
    ci95 : tuple of float
        Its 95% confidence interval (NaN when there is none).
    bound : float
        The bound, in ``unit``.
    unit : str
        ``ms``, ``fraction``, ``per_s``, ``months``, ``per_month`` or ``GB``.
    margin : float
        How far the point estimate is on the good side of the bound (negative: wrong side).
    extra_requests : int or None
        For an inconclusive verdict: further simulated requests expected to settle it.
    detail : str
        One sentence: where the figure came from, or why it was not evaluated.
    cause : str
        What makes a verdict fail when the figure alone does not say it, in words naming the
        component and the figure (``app: offered load is 1.98× its capacity …``, ``bottleneck
        db``); empty otherwise.
    """

    nfr: str
    kind: str
    status: Status
    measured: float
    ci95: tuple[float, float]
    bound: float
    unit: str
    margin: float
    extra_requests: int | None = None
    detail: str = ""
    cause: str = ""

    def reason(self) -> str:
        """The verdict in words with its figure and cause, e.g. ``fails headroom>=20%: measured
        -69% (95% CI -203% to -17%); bottleneck app`` or, for a run refused at peak, ``fails
        p99<=150ms: refused at peak load: app: offered load is 1.98× its capacity …``."""
        verb = {"pass": "passes", "fail": "fails", "inconclusive": "cannot settle"}.get(
            self.status, "does not evaluate"
        )
        parts = []
        if math.isfinite(self.measured) or self.measured in (math.inf, -math.inf):
            shown = f"measured {show_value(self.measured, self.unit)}"
            low, high = self.ci95
            if math.isfinite(low) and math.isfinite(high) and high > low:
                interval = f"{show_value(low, self.unit)} to {show_value(high, self.unit)}"
                shown += f" (95% CI {interval})"
            parts.append(shown)
        if self.cause:
            parts.append(self.cause)
        elif not parts:
            parts.append(self.detail or "no figure")
        return f"{verb} {self.nfr}: " + "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (NaN written as ``null``)."""
        return {
            "nfr": self.nfr,
            "kind": self.kind,
            "status": self.status,
            "measured": clean(self.measured),
            "ci95": clean(self.ci95),
            "bound": clean(self.bound),
            "unit": self.unit,
            "margin": clean(self.margin),
            "extra_requests": self.extra_requests,
            "detail": self.detail,
            "cause": self.cause,
            "reason": self.reason(),
        }

    def records(self) -> list[dict[str, Any]]:
        """One flat row (``ci95`` split into ``ci95_low`` and ``ci95_high``)."""
        row = self.to_dict()
        low, high = row.pop("ci95")
        row["ci95_low"], row["ci95_high"] = low, high
        return [row]


def show_value(value: float, unit: str) -> str:
    """A verdict's figure in its unit: ``940.2 ms``, ``-68.7%``, ``53.4/s``, ``0.0 months``."""
    if not math.isfinite(value):
        return "—" if math.isnan(value) else ("∞" if value > 0 else "-∞")
    if unit == "ms":
        return f"{value:,.1f} ms"
    if unit == "fraction":
        return f"{100 * value:.3g}%" if abs(value) < 0.01 else f"{100 * value:.1f}%"
    if unit == "per_s":
        return f"{value:,.1f}/s"
    if unit == "months":
        return f"{value:.1f} months"
    if unit == "per_month":
        return f"{value:,.0f}/month"
    if unit == "GB":
        return f"{value:,.0f} GB"
    if unit == "s":
        return f"{value:,.4g} s"
    if unit == "requests":
        return f"{value:,.4g} requests"
    return f"{value:,.4g}"


def verdict_records(verdicts: Sequence[Verdict]) -> list[dict[str, Any]]:
    """Flat rows of several verdicts (one per verdict), DataFrame-friendly."""
    return [row for verdict in verdicts for row in verdict.records()]


def check(
    result: SimulationResult | Sequence[SimulationResult],
    nfrs: NFRSpec | Sequence[str | SLOSpec],
    *,
    limit_per_s: float | None = None,
    limit_ci95: tuple[float, float] | None = None,
    limit_requests: int | None = None,
    growth_per_month: float | None = None,
    cost_per_month: float | None = None,
    today_rate_per_s: float | None = None,
    load: float | None = None,
    load_unit: str = "/s",
    cost_basis: str = "the cost model at peak load (no sampling error)",
) -> list[Verdict]:
    """One :class:`Verdict` per quantified NFR (see the module docstring for the rules).

    Parameters
    ----------
    result : SimulationResult or sequence of them
        One run, or replications with independent seeds at the same load (the peak).
    nfrs : NFRSpec or sequence of SLO strings
        The requirements; qualitative ones are a checklist and get no verdict here.
    limit_per_s, limit_ci95, limit_requests : optional
        The sustainable limit (from :func:`~scaleplan.experiments.pull`), its CI and the
        requests the pull simulated: headroom and growth are measured against it. Without it,
        headroom is the busiest component's spare utilisation and growth is not evaluated.
    growth_per_month : float, optional
        Monthly growth as a fraction, when the growth NFR does not give its own.
    cost_per_month : float, optional
        The monthly cost at peak load, for the cost NFR (or as ``cost_basis`` says).
    today_rate_per_s : float, optional
        Today's mean load, from which the retention NFR's storage accumulates (default: the
        load of the results).
    load, load_unit : optional
        The results' load in the limit's unit, for headroom and growth (default: their offered
        rate, ``"/s"``); a closed workload's limit and load are users (``" users"``).

    Examples
    --------
    >>> from scaleplan.engine import simulate
    >>> from scaleplan.spec import example_spec
    >>> runs = [simulate(example_spec(), seed=s, requests=2000) for s in (1, 2, 3)]
    >>> [(v.nfr, v.status) for v in check(runs, ["mean<=100ms", "p99<=5ms"])]
    [('mean<=100ms', 'pass'), ('p99<=5ms', 'fail')]
    """
    results = [result] if isinstance(result, SimulationResult) else list(result)
    if isinstance(nfrs, NFRSpec):
        spec = nfrs
    else:
        spec = NFRSpec(slos=tuple(s if isinstance(s, SLOSpec) else parse_slo(s) for s in nfrs))
    # Without a run (refused at its load), only the NFRs judged from a limit or a cost model.
    if not results and (spec.slos or spec.availability is not None or load is None):
        raise ValueError("check needs at least one result")
    verdicts = [_slo_verdict(results, slo) for slo in spec.slos]
    rate = _rate(results) if load is None else load
    if spec.availability is not None:
        verdicts.append(_availability(results, spec.availability.min_percent / 100.0))
    if spec.headroom is not None:
        verdicts.append(
            _headroom(
                results,
                spec.headroom.min_percent / 100.0,
                rate,
                limit_per_s,
                limit_ci95,
                limit_requests,
                load_unit,
            )
        )
    if spec.growth is not None:
        growth = spec.growth.percent_per_month
        g = growth / 100.0 if growth is not None else growth_per_month
        verdicts.append(
            _growth(
                spec.growth.horizon_months,
                g,
                rate,
                limit_per_s,
                limit_ci95,
                limit_requests,
                load_unit,
            )
        )
    if spec.cost is not None:
        name = f"cost<={spec.cost.max_per_month:g}/month"
        if cost_per_month is None or not math.isfinite(cost_per_month):
            verdicts.append(
                _not_evaluated(name, "cost", spec.cost.max_per_month, "per_month", "no cost given")
            )
        else:
            point = MeanCI(cost_per_month, cost_per_month, cost_per_month, 0.0, 1, "cost model")
            verdicts.append(
                _decide(
                    name,
                    "cost",
                    point,
                    spec.cost.max_per_month,
                    "<=",
                    "per_month",
                    None,
                    cost_basis,
                )
            )
    if spec.retention is not None:
        retention = spec.retention
        load = today_rate_per_s if today_rate_per_s is not None else rate
        stored = retention.storage_gb(load)
        name = f"retention {retention.days:g} days"
        detail = (
            f"{load:g} requests/s × {retention.writes_per_request:g} writes × "
            f"{retention.record_kb:g} kB × {retention.days:g} days = {stored:,.0f} GB"
        )
        if retention.max_storage_gb is None:
            verdicts.append(
                Verdict(  # the storage it would take is in the detail: nothing to judge
                    name,
                    "retention",
                    "not evaluated",
                    math.nan,
                    (math.nan, math.nan),
                    math.nan,
                    "GB",
                    math.nan,
                    None,
                    detail + " (no storage limit given)",
                )
            )
        else:
            point = MeanCI(stored, stored, stored, 0.0, 1, "arithmetic")
            verdicts.append(
                _decide(
                    f"{name}: storage<={retention.max_storage_gb:g}GB",
                    "retention",
                    point,
                    retention.max_storage_gb,
                    "<=",
                    "GB",
                    None,
                    detail,
                )
            )
    return verdicts


# --------------------------------------------------------------------------- SLOs


def _rate(results: Sequence[SimulationResult]) -> float:
    rates = [r.rate_per_s for r in results if math.isfinite(r.rate_per_s)]
    return float(np.mean(rates)) if rates else math.nan


def _slo_verdict(results: Sequence[SimulationResult], slo: SLOSpec) -> Verdict:
    kind = "latency" if slo.is_latency else slo.metric
    unit = "ms" if slo.is_latency else ("per_s" if slo.unit == "per_s" else "fraction")
    if slo.request_class is not None and any(slo.request_class not in r.classes for r in results):
        return _not_evaluated(
            slo.text,
            kind,
            slo.bound,
            unit,
            f"the architecture has no request class {slo.request_class!r}",
        )
    unstable = [r for r in results if not r.stable]
    if unstable:
        values = [point_value(r, slo) for r in results]
        measured = float(np.nanmean(values)) if any(math.isfinite(v) for v in values) else math.nan
        first = unstable[0].unstable
        reason = first.reason if first else "unstable"
        where = f"{first.component}: {reason}" if first else reason
        return Verdict(
            slo.text,
            kind,
            "fail",
            measured,
            (math.nan, math.nan),
            slo.bound,
            unit,
            _margin(measured, slo.bound, slo.op),
            None,
            f"{len(unstable)} of {len(results)} runs unstable ({reason}): the load is not "
            "sustained",
            f"unstable in {len(unstable)} of {len(results)} runs: {where}",
        )
    completed = sum(r.requests.completed for r in results)
    if len(results) > 1:
        values = [point_value(r, slo) for r in results]
        if slo.metric == "errors" and not any(values):
            arrived = sum(r.requests.arrived for r in results)
            ci = _zero_errors(arrived)
            detail = f"no errors in {arrived} requests over {len(results)} replications"
            return _decide(slo.text, kind, ci, slo.bound, slo.op, unit, arrived, detail)
        if slo.is_latency and slo.metric != "mean":
            ci = replication_quantile_ci(values)  # a sketch's percentile: known to its bin
        elif slo.metric == "errors":
            ci = proportion_ci(replication_ci(values), sum(r.requests.arrived for r in results))
        else:
            ci = replication_ci(values)
        detail = f"mean over {len(results)} replications, Student-t interval"
        return _decide(slo.text, kind, ci, slo.bound, slo.op, unit, completed, detail)
    only = results[0]
    if slo.is_latency and slo.metric != "mean":
        summary = only.latency_ms
        if slo.request_class is not None:
            summary = only.classes[slo.request_class]
        value = summary.percentile(slo.metric)
        low, high = summary.percentile_ci95(slo.metric)
        # The interval is not symmetric (a tail quantile's upper side is longer): the side
        # facing the bound is the half-width that must shrink for the verdict to settle.
        facing = high - value if slo.bound >= value else value - low
        ci = MeanCI(value, low, high, facing, 0, "sectioning")
        method = (
            "interval across its replications"
            if only.run is not None and only.run.replications > 1
            else "sectioning interval over the run's time sections"
        )
        verdict = _decide(slo.text, kind, ci, slo.bound, slo.op, unit, summary.count, method)
        # The sketch knows a percentile only to its bin (2α wide): no run length settles a
        # bound closer to the estimate than that, so no number of requests is promised.
        resolution = 2 * DEFAULT_BINS.relative_accuracy * abs(value)
        if verdict.status == "inconclusive" and abs(value - slo.bound) <= resolution:
            verdict = replace(
                verdict,
                extra_requests=None,
                detail=f"{verdict.detail}, within the percentile sketch's resolution "
                f"(±{100 * DEFAULT_BINS.relative_accuracy:g}%) of the estimate",
            )
        return verdict
    if slo.is_latency:
        summary = only.latency_ms
        if slo.request_class is not None:
            summary = only.classes[slo.request_class]
        low, high = summary.mean_ci95
        ci = MeanCI(summary.mean, low, high, (high - low) / 2, 0, "batch means")
        return _decide(
            slo.text, kind, ci, slo.bound, slo.op, unit, summary.count, "batch-means interval"
        )
    if slo.metric == "errors":
        arrived = only.requests.arrived
        if error_rate(only) == 0:
            ci = _zero_errors(arrived)
            return _decide(
                slo.text,
                kind,
                ci,
                slo.bound,
                slo.op,
                unit,
                arrived,
                f"no errors in {arrived} requests: rule-of-three interval",
            )
        ci = _share_ci(error_rate(only), _bucket_ci(only, "errors"), arrived)
        return _decide(slo.text, kind, ci, slo.bound, slo.op, unit, arrived, ci.method)
    ci = _bucket_ci(only, "throughput")
    if slo.unit == "of_offered":
        scale = only.rate_per_s
        ci = MeanCI(
            ci.mean / scale, ci.low / scale, ci.high / scale, ci.half_width / scale, ci.n, ci.method
        )
    return _decide(slo.text, kind, ci, slo.bound, slo.op, unit, completed, ci.method)


def _zero_errors(arrived: int) -> MeanCI:
    # With no error in n requests, 3/n is the 95% upper bound of the rate ("rule of three");
    # a share is never above 1.
    high = min(1.0, 3.0 / arrived) if arrived else math.nan
    return MeanCI(0.0, 0.0, high, high / 2, arrived, "rule of three")


def _share_ci(share: float, bucket: MeanCI, trials: int) -> MeanCI:
    """A share's interval from batch means over time, centred on the share the run reports
    (its window) and kept inside [0, 1] by Wilson's score interval
    (:func:`scaleplan.metrics.proportion_ci`)."""
    half = bucket.half_width
    centred = MeanCI(share, share - half, share + half, half, bucket.n, bucket.method)
    return proportion_ci(centred, trials)


def _bucket_ci(result: SimulationResult, what: str) -> MeanCI:
    """Batch means over the run's time buckets while arrivals were coming in."""
    system = result.timeseries.system if result.timeseries is not None else None
    arrivals = np.asarray(system.arrivals_per_s if system else (), dtype=float)
    if what == "errors":
        errors = np.asarray(system.errors_per_s if system else (), dtype=float)
        window = measured_buckets(result)
        if window is not None:  # the window error_rate reads, so that the two agree
            arrivals, errors = arrivals[window], errors[window]
        mask = arrivals > 0
        if mask.sum() < 2:
            return MeanCI(math.nan, math.nan, math.nan, math.nan, 0, "too few buckets")
        ci = batch_means_ci(errors[mask] / arrivals[mask], arrivals[mask])
        return MeanCI(ci.mean, ci.low, ci.high, ci.half_width, ci.n, f"{ci.method} over time")
    throughput = np.asarray(system.throughput_per_s if system else (), dtype=float)
    mask = arrivals > 0
    if mask.sum() < 2:
        return MeanCI(math.nan, math.nan, math.nan, math.nan, 0, "too few buckets")
    ci = batch_means_ci(throughput[mask])
    return MeanCI(
        result.throughput_per_s,
        ci.low - ci.mean + result.throughput_per_s,
        ci.high - ci.mean + result.throughput_per_s,
        ci.half_width,
        ci.n,
        f"{ci.method} over time",
    )


def _margin(measured: float, bound: float, op: str) -> float:
    return bound - measured if op == "<=" else measured - bound


def _decide(
    name: str,
    kind: str,
    ci: MeanCI,
    bound: float,
    op: str,
    unit: str,
    observations: int | None,
    detail: str,
) -> Verdict:
    low, high = ci.low, ci.high
    margin = _margin(ci.mean, bound, op)
    if math.isnan(low) or math.isnan(high):
        return Verdict(
            name,
            kind,
            "inconclusive",
            ci.mean,
            (low, high),
            bound,
            unit,
            margin,
            None,
            f"{detail}; no confidence interval could be formed",
        )
    good = high < bound if op == "<=" else low > bound
    bad = low > bound if op == "<=" else high < bound
    if good or bad:
        status: Status = "pass" if good else "fail"
        return Verdict(name, kind, status, ci.mean, (low, high), bound, unit, margin, None, detail)
    extra = None
    if observations and math.isfinite(ci.half_width) and math.isfinite(ci.mean):
        extra = extra_observations_needed(ci, bound, observations)
    return Verdict(
        name,
        kind,
        "inconclusive",
        ci.mean,
        (low, high),
        bound,
        unit,
        margin,
        extra,
        f"{detail}; the interval straddles the bound",
    )


def _not_evaluated(name: str, kind: str, bound: float, unit: str, detail: str) -> Verdict:
    return Verdict(
        name,
        kind,
        "not evaluated",
        math.nan,
        (math.nan, math.nan),
        bound,
        unit,
        math.nan,
        None,
        detail,
    )


# --------------------------------------------------------------------------- capacity


def _failures_modelled(results: Sequence[SimulationResult]) -> bool:
    return any(
        "time_availability" in (getattr(component, "details", None) or {})
        for result in results
        for component in result.components.values()
    )


def _availability(results: Sequence[SimulationResult], bound: float) -> Verdict:
    """Request availability: the share of requests served, once failures are simulated."""
    name = f"availability>={100 * bound:g}%"
    if not _failures_modelled(results):
        return _not_evaluated(
            name,
            "availability",
            bound,
            "fraction",
            "no failures in this model (no component has failures configured): availability "
            "is not evaluated until they are simulated",
        )
    served = [1.0 - error_rate(r) for r in results]
    arrived = sum(r.requests.arrived for r in results)
    detail = "share of arriving requests served (1 − rejected and failed), failures simulated"
    if len(results) > 1:
        if all(value == 1.0 for value in served):
            zero = _zero_errors(arrived)
            ci = MeanCI(1.0, 1.0 - zero.high, 1.0, zero.half_width, zero.n, "rule of three")
        else:
            ci = proportion_ci(replication_ci(served), arrived)
        return _decide(name, "availability", ci, bound, ">=", "fraction", arrived, detail)
    if served[0] == 1.0:
        zero = _zero_errors(arrived)
        ci = MeanCI(1.0, 1.0 - zero.high, 1.0, zero.half_width, zero.n, "rule of three")
    else:
        ci = _share_ci(served[0], _bucket_ci(results[0], "errors"), arrived)
    return _decide(name, "availability", ci, bound, ">=", "fraction", arrived, detail)


def _headroom(
    results: Sequence[SimulationResult],
    bound: float,
    rate: float,
    limit_per_s: float | None,
    limit_ci95: tuple[float, float] | None,
    limit_requests: int | None,
    unit: str = "/s",
) -> Verdict:
    name = f"headroom>={100 * bound:g}%"
    if limit_per_s is not None and math.isfinite(limit_per_s) and limit_per_s > 0:
        low_limit, high_limit = limit_ci95 or (math.nan, math.nan)
        value = 1.0 - rate / limit_per_s
        ci_low = 1.0 - rate / low_limit if low_limit > 0 else -math.inf
        ci_high = 1.0 - rate / high_limit if high_limit > 0 else math.nan
        ci = MeanCI(value, ci_low, ci_high, (ci_high - ci_low) / 2, 0, "limit CI")
        detail = (
            f"1 − peak {rate:g}{unit} ÷ sustainable limit {limit_per_s:.4g}{unit} "
            f"(CI {low_limit:.4g}–{high_limit:.4g})"
        )
        return _decide(name, "headroom", ci, bound, ">=", "fraction", limit_requests, detail)
    if limit_per_s is not None and limit_per_s <= 0:
        return Verdict(
            name,
            "headroom",
            "fail",
            -math.inf,
            (math.nan, math.nan),
            bound,
            "fraction",
            -math.inf,
            None,
            "no load at all meets the SLOs",
        )
    if not results:
        return _not_evaluated(
            name, "headroom", bound, "fraction", "no sustainable limit and no run at this load"
        )
    if any(not r.stable for r in results):
        return Verdict(
            name,
            "headroom",
            "fail",
            math.nan,
            (math.nan, math.nan),
            bound,
            "fraction",
            math.nan,
            None,
            "unstable at this load: no headroom",
        )
    spare = []
    names = []
    for r in results:
        loaded = {n: c.utilization for n, c in r.components.items() if c.capacity}
        worst = max(loaded, key=lambda key: loaded[key])
        spare.append(1.0 - loaded[worst])
        names.append(worst)
    detail = f"1 − utilisation of the busiest component ({names[0]}); no sustainable limit given"
    if len(results) > 1:
        ci = replication_ci(spare)
        observations = sum(r.requests.completed for r in results)
        return _decide(name, "headroom", ci, bound, ">=", "fraction", observations, detail)
    utilization_low, utilization_high = results[0].components[names[0]].utilization_ci95
    ci = MeanCI(spare[0], 1 - utilization_high, 1 - utilization_low, math.nan, 0, "")
    return _decide(name, "headroom", ci, bound, ">=", "fraction", None, detail)


def _growth(
    horizon_months: float,
    growth: float | None,
    rate: float,
    limit_per_s: float | None,
    limit_ci95: tuple[float, float] | None,
    limit_requests: int | None,
    unit: str = "/s",
) -> Verdict:
    from scaleplan.experiments.growth import runway_months

    if growth is None:
        return _not_evaluated(
            f"runway>={horizon_months:g} months",
            "growth",
            horizon_months,
            "months",
            "no growth rate given",
        )
    name = f"runway>={horizon_months:g} months at {100 * growth:g}%/month"
    if limit_per_s is None or not math.isfinite(limit_per_s):
        return _not_evaluated(
            name,
            "growth",
            horizon_months,
            "months",
            "needs the sustainable limit from a tractor pull",
        )
    months = runway_months(limit_per_s, rate, growth)
    low_limit, high_limit = limit_ci95 or (math.nan, math.nan)
    low = runway_months(low_limit, rate, growth) if math.isfinite(low_limit) else math.nan
    high = runway_months(high_limit, rate, growth) if math.isfinite(high_limit) else math.nan
    if growth <= 0 and months == math.inf:
        ci = MeanCI(months, math.inf, math.inf, 0.0, 0, "no growth")
    else:
        ci = MeanCI(months, low, high, (high - low) / 2, 0, "limit CI")
    detail = (
        f"log(limit {limit_per_s:.4g}{unit} ÷ peak {rate:g}{unit}) ÷ log(1 + {growth:g}) = "
        f"{months:.3g} months"
    )
    return _decide(name, "growth", ci, horizon_months, ">=", "months", limit_requests, detail)
