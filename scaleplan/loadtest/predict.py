"""The model's prediction at a load: every figure of a load-test step with its 95% CI.

At each rate the candidate runs ``replications`` times under seeds ``seed … seed + R − 1``
(the same seeds at every rate: common random numbers along the steps); each figure's band is
the Student-t interval across the replications, a percentile's widened to the edges of the
sketch's bins (:func:`scaleplan.metrics.replication_quantile_ci`), as ``compare`` measures a
candidate at peak. A rate at which some replication is unstable (or refused outright) has no
steady state: its latency figures are left out, its throughput is what the runs carried (or
the analytic bound when every run was refused), and it does not meet the SLOs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from scaleplan.experiments._common import (
    ExecutorLike,
    Run,
    error_rate,
    point_value,
    run_once,
    submit_all,
)
from scaleplan.loadtest.plan import FIGURES, Band
from scaleplan.metrics import replication_ci, replication_quantile_ci
from scaleplan.progress import Progress
from scaleplan.result import SimulationResult
from scaleplan.spec import ArchitectureSpec, SLOSpec

__all__ = ["Prediction", "predict"]

_PERCENTILES = ("p50_ms", "p95_ms", "p99_ms")


@dataclass(frozen=True)
class Prediction:
    """What the model predicts at one offered rate."""

    rate_per_s: float
    predicted: dict[str, Band]
    busiest: str
    busiest_utilization: float | None
    meets_slos: bool
    stable: bool
    #: Why a figure is missing or the SLOs are not met (for the test plan's notes).
    notes: tuple[str, ...] = field(default=())


def _figure(result: SimulationResult, figure: str) -> float:
    if figure == "throughput_per_s":
        return float(result.throughput_per_s)
    if figure == "error_rate":
        return error_rate(result)
    if figure == "mean_ms":
        return float(result.latency_ms.mean)
    return float(result.latency_ms.percentile(figure.removesuffix("_ms")))


def _band(values: Sequence[float], figure: str) -> Band | None:
    """The figure's mean and 95% CI across replications (None: unknown or a single run)."""
    if len(values) < 2 or not all(math.isfinite(v) for v in values):
        return None
    ci = replication_quantile_ci(values) if figure in _PERCENTILES else replication_ci(values)
    if not (math.isfinite(ci.low) and math.isfinite(ci.high)):
        return None
    # A figure that cannot be negative keeps its interval at or above 0.
    return Band(mean=ci.mean, low=max(0.0, min(ci.low, ci.mean)), high=max(ci.high, ci.mean))


def _meets(results: Sequence[SimulationResult], slos: Sequence[SLOSpec]) -> bool:
    """Whether the replications' mean of every objective's figure is within its bound."""
    for slo in slos:
        values = [point_value(result, slo) for result in results]
        if not all(math.isfinite(v) for v in values):
            return False
        mean = math.fsum(values) / len(values)
        if (mean > slo.bound) if slo.op == "<=" else (mean < slo.bound):
            return False
    return True


def _summarise(
    rate: float,
    runs: Sequence[Run],
    slos: Sequence[SLOSpec],
    bound_per_s: float,
) -> Prediction:
    results = [run.result for run in runs if run.result is not None]
    stable = len(results) == len(runs) and all(run.stable for run in runs)
    notes: list[str] = []
    predicted: dict[str, Band] = {}
    figures = FIGURES if stable else ("throughput_per_s",)
    for figure in figures:
        band = _band([_figure(result, figure) for result in results], figure)
        if band is not None:
            predicted[figure] = band
    if "throughput_per_s" not in predicted:
        carried = min(rate, bound_per_s) if math.isfinite(bound_per_s) else rate
        predicted["throughput_per_s"] = Band(mean=carried, low=carried, high=carried)
        notes.append("every run was refused as overloaded: throughput is the analytic bound")
    if not stable:
        refused = next((run.refused for run in runs if run.refused), "")
        notes.append(
            "overloaded: no steady state, queues grow for as long as the load lasts"
            + (f" ({refused})" if refused else "")
        )
    name, utilization = "", None
    if results:
        per_run = [
            {key: c.utilization for key, c in result.components.items() if c.capacity}
            for result in results
        ]
        names = {key for row in per_run for key in row}
        loads = {
            key: math.fsum(row.get(key, 0.0) for row in per_run) / len(per_run) for key in names
        }
        loads = {key: value for key, value in loads.items() if math.isfinite(value)}
        if loads:
            name = max(loads, key=lambda key: loads[key])
            utilization = loads[name]
    return Prediction(
        rate_per_s=rate,
        predicted=predicted,
        busiest=name,
        busiest_utilization=utilization,
        meets_slos=stable and _meets(results, slos),
        stable=stable,
        notes=tuple(notes),
    )


def predict(
    spec: ArchitectureSpec,
    rates: Sequence[float],
    slos: Sequence[SLOSpec],
    *,
    seed: int,
    replications: int,
    requests: int,
    bound_per_s: float = math.inf,
    executor: ExecutorLike | None = None,
    progress: Progress | None = None,
) -> list[Prediction]:
    """The model's figures at each of ``rates`` (one task per rate and replication).

    ``bound_per_s`` is the analytic capacity bound, the throughput predicted where every
    replication is refused as certainly unstable. The numbers do not depend on ``executor``.
    """
    if replications < 2:
        raise ValueError(f"a prediction's CI needs at least 2 replications (got {replications})")
    capacity = sum(component.capacity for component in spec.components.values())
    # As the pull does: a run past the limit is stopped early rather than queueing for long.
    in_flight = max(2_000, 50 * capacity)
    tasks = [
        (_run, (spec, seed + index, rate, requests, in_flight))
        for rate in rates
        for index in range(replications)
    ]
    runs: list[Run] = submit_all(executor, tasks, progress)
    return [
        _summarise(rate, runs[i * replications : (i + 1) * replications], slos, bound_per_s)
        for i, rate in enumerate(rates)
    ]


def _run(spec: ArchitectureSpec, seed: int, rate: float, requests: int, in_flight: int) -> Run:
    return run_once(spec, seed=seed, rate_per_s=rate, requests=requests, max_in_flight=in_flight)
