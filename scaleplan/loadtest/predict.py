"""The model's prediction at a load: every figure of a load-test step with its 95% CI.

At each rate the candidate runs ``replications`` times under seeds ``seed … seed + R − 1``
(the same seeds at every rate: common random numbers along the steps); each figure's band is
the Student-t interval across the replications, a percentile's widened to the edges of the
sketch's bins (:func:`scaleplan.metrics.replication_quantile_ci`), as ``compare`` measures a
candidate at peak. A rate at which some replication is unstable (or refused outright) has no
steady state: its latency figures are left out, its throughput is what the runs carried (or
the analytic bound when every run was refused), and it does not meet the SLOs.

A closed workload's load is its users, not a rate: :func:`predict_users` runs each step's spec
(the candidate with that step's users) the same way, without a rate; the step's
``rate_per_s`` is then the throughput the users reach (the replications' mean), and its
one-window ranges come from windows of the step's seconds at that throughput.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scaleplan.engine import simulate
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

__all__ = ["WINDOW_RUNS", "Prediction", "predict", "predict_users"]

_PERCENTILES = ("p50_ms", "p95_ms", "p99_ms")
#: Simulated windows per step for the range one measured window falls in (its 2.5% and 97.5%
#: quantiles: with 40 windows, between the 1st and 2nd and the 39th and 40th values).
WINDOW_RUNS = 40
#: Locust's percentiles in its history cover its last 10 s (its rolling window): a window's
#: percentile range is taken over at most that long, as the measurement is.
PERCENTILE_WINDOW_S = 10.0
#: Requests in a simulated window (warm-up included) beyond which no window range is given:
#: a window that large scatters little beside the tolerance (its p99 rests on 40 requests or
#: more), and 40 such windows per step would cost more than the whole plan.
WINDOW_MAX_REQUESTS = 4_000


@dataclass(frozen=True)
class Prediction:
    """What the model predicts at one offered rate (or, closed, at a number of users)."""

    #: The offered rate; a closed step's: the throughput its users reach (predicted).
    rate_per_s: float
    predicted: dict[str, Band]
    busiest: str
    busiest_utilization: float | None
    meets_slos: bool
    stable: bool
    #: Why a figure is missing or the SLOs are not met (for the test plan's notes).
    notes: tuple[str, ...] = field(default=())
    #: A closed step's users (None: an open step, offered ``rate_per_s``).
    users: int | None = None


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
    rate: float | None,
    runs: Sequence[Run],
    slos: Sequence[SLOSpec],
    bound_per_s: float,
    users: int | None = None,
) -> Prediction:
    """One step's prediction from its replications (``rate`` None: a closed step, whose rate
    is the throughput predicted)."""
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
        if rate is None:  # a closed step has no offered rate to fall back on
            raise ValueError("a closed step's runs gave no throughput")
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
        rate_per_s=rate if rate is not None else predicted["throughput_per_s"].mean,
        users=users,
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
    window: tuple[float, float] | None = None,
    executor: ExecutorLike | None = None,
    progress: Progress | None = None,
) -> list[Prediction]:
    """The model's figures at each of ``rates`` (one task per rate and replication).

    ``bound_per_s`` is the analytic capacity bound, the throughput predicted where every
    replication is refused as certainly unstable. ``window`` = ``(settle_s, measured_s)``:
    also simulate :data:`WINDOW_RUNS` windows of a step (``settle_s`` of warm-up, then
    ``measured_s`` measured; percentiles over at most :data:`PERCENTILE_WINDOW_S`) at each
    stable rate and give each band the range one measured window falls in. The numbers do not
    depend on ``executor``.
    """
    if replications < 2:
        raise ValueError(f"a prediction's CI needs at least 2 replications (got {replications})")
    capacity = sum(component.capacity for component in spec.components.values())
    # As the pull does: a run past the limit is stopped early rather than queueing for long.
    in_flight = max(2_000, 50 * capacity)
    tasks: list[tuple[Callable[..., Run], tuple[Any, ...]]] = [
        (_run, (spec, seed + index, rate, requests, in_flight))
        for rate in rates
        for index in range(replications)
    ]
    lengths = _window_lengths(window, max(rates, default=0.0))
    if lengths:
        assert window is not None
        settle = window[0]
        tasks += [
            (_window, (spec, seed + index, rate, settle, measured, in_flight))
            for measured in lengths
            for rate in rates
            for index in range(WINDOW_RUNS)
        ]
    runs: list[Run] = submit_all(executor, tasks, progress)
    predictions = [
        _summarise(rate, runs[i * replications : (i + 1) * replications], slos, bound_per_s)
        for i, rate in enumerate(rates)
    ]
    return _ranged(predictions, runs[len(rates) * replications :], lengths)


def predict_users(
    specs: Sequence[tuple[int, ArchitectureSpec]],
    slos: Sequence[SLOSpec],
    *,
    seed: int,
    replications: int,
    requests: int,
    window: tuple[float, float] | None = None,
    executor: ExecutorLike | None = None,
    progress: Progress | None = None,
) -> list[Prediction]:
    """The model's figures at each ``(users, spec)`` of a closed workload, ``spec`` being the
    candidate with those users: as :func:`predict`, without a rate (the users send what they
    manage). A window is ``settle_s + measured_s`` seconds of a closed run: its requests are
    the predicted throughput times that, after the replications (same seeds as
    :func:`predict`'s windows)."""
    if replications < 2:
        raise ValueError(f"a prediction's CI needs at least 2 replications (got {replications})")
    tasks: list[tuple[Callable[..., Run], tuple[Any, ...]]] = [
        (_run_closed, (spec, seed + index, requests))
        for _, spec in specs
        for index in range(replications)
    ]
    runs: list[Run] = submit_all(executor, tasks, progress)
    predictions = [
        _summarise(None, runs[i * replications : (i + 1) * replications], slos, math.inf, users)
        for i, (users, _) in enumerate(specs)
    ]
    throughputs = [prediction.rate_per_s for prediction in predictions]
    lengths = _window_lengths(window, max(throughputs, default=0.0))
    if not lengths:
        return predictions
    assert window is not None
    settle = window[0]
    windows: list[Run] = submit_all(
        executor,
        [
            (_window_closed, (spec, seed + index, throughput, settle, measured))
            for measured in lengths
            for (_, spec), throughput in zip(specs, throughputs, strict=True)
            for index in range(WINDOW_RUNS)
        ],
        progress,
    )
    return _ranged(predictions, windows, lengths)


def _ranged(
    predictions: list[Prediction], windows: Sequence[Run], lengths: tuple[float, ...]
) -> list[Prediction]:
    """Each prediction with the one-window ranges of its simulated windows (ordered by length,
    then step, then window)."""
    if not lengths:
        return predictions
    per_length = len(predictions) * WINDOW_RUNS
    with_ranges = []
    for i, prediction in enumerate(predictions):
        ranges: dict[str, tuple[float, float]] = {}
        for j, measured in enumerate(lengths):
            start = j * per_length + i * WINDOW_RUNS
            figures = _PERCENTILES if measured < lengths[0] else None
            ranges.update(_window_ranges(windows[start : start + WINDOW_RUNS], figures))
        with_ranges.append(_with_ranges(prediction, ranges))
    return with_ranges


def _window_lengths(window: tuple[float, float] | None, top_rate: float) -> tuple[float, ...]:
    """The measured lengths to simulate: the window, and Locust's percentile window when the
    step's is longer (its percentiles cover only that much); none when the busiest step's
    window holds more than :data:`WINDOW_MAX_REQUESTS` requests."""
    if window is None:
        return ()
    settle, measured = window
    if top_rate * (settle + measured) > WINDOW_MAX_REQUESTS:
        return ()
    if measured > PERCENTILE_WINDOW_S:
        return (measured, PERCENTILE_WINDOW_S)
    return (measured,)


def _window(
    spec: ArchitectureSpec,
    seed: int,
    rate: float,
    settle_s: float,
    measured_s: float,
    in_flight: int,
) -> Run:
    """One window of a step: ``settle_s`` of warm-up cut, then ``measured_s`` measured."""
    # Seeds far from the replications' (seed + index), so no window repeats a long run.
    windowed = spec.with_changes({"workload.warmup": f"{round(1000 * settle_s)}ms"})
    requests = max(1, math.ceil(rate * (settle_s + measured_s)))
    return run_once(
        windowed,
        seed=seed + 1_000_003,
        rate_per_s=rate,
        requests=requests,
        max_in_flight=in_flight,
    )


def _window_ranges(
    runs: Sequence[Run], figures: Sequence[str] | None
) -> dict[str, tuple[float, float]]:
    """Each figure's 2.5% and 97.5% quantiles over the simulated windows (none when a window
    was unstable or refused: past the limit a window has no steady range)."""
    results = [run.result for run in runs if run.result is not None]
    if len(results) < len(runs) or not all(run.stable for run in runs):
        return {}
    ranges = {}
    for figure in figures or FIGURES:
        values = [_figure(result, figure) for result in results]
        if all(math.isfinite(value) for value in values):
            low, high = np.quantile(values, [0.025, 0.975])
            ranges[figure] = (float(low), float(high))
    return ranges


def _with_ranges(prediction: Prediction, ranges: dict[str, tuple[float, float]]) -> Prediction:
    predicted = {
        figure: band.model_copy(
            update={"window_low": ranges[figure][0], "window_high": ranges[figure][1]}
        )
        if figure in ranges
        else band
        for figure, band in prediction.predicted.items()
    }
    return dataclasses.replace(prediction, predicted=predicted)


def _run(spec: ArchitectureSpec, seed: int, rate: float, requests: int, in_flight: int) -> Run:
    return run_once(spec, seed=seed, rate_per_s=rate, requests=requests, max_in_flight=in_flight)


def _run_closed(spec: ArchitectureSpec, seed: int, requests: int) -> Run:
    """One run of a closed spec (stable at any population: nothing to refuse)."""
    result = simulate(spec, seed=seed, requests=requests)
    return Run(seed, result.throughput_per_s, result)


def _window_closed(
    spec: ArchitectureSpec, seed: int, throughput: float, settle_s: float, measured_s: float
) -> Run:
    """One window of a closed step: its seconds' worth of requests at the predicted
    throughput, ``settle_s`` of them cut as warm-up."""
    windowed = spec.with_changes({"workload.warmup": f"{round(1000 * settle_s)}ms"})
    requests = max(1, math.ceil(throughput * (settle_s + measured_s)))
    return _run_closed(windowed, seed + 1_000_003, requests)
