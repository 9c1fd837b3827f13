"""What every experiment shares: JSON-safe records, replicated runs, reading a metric off a result.

Private to :mod:`scaleplan.experiments`; the public verbs live one per module.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, as_completed
from typing import Any, Protocol

from scaleplan.engine import UnstableError, simulate
from scaleplan.errors import ScaleplanError, SimulationError
from scaleplan.formatting import json_safe
from scaleplan.load import held_steady
from scaleplan.parallel import process_pool
from scaleplan.progress import Progress
from scaleplan.result import SimulationResult
from scaleplan.spec import ArchitectureSpec, AutoscaleSpec, SLOSpec


class ExecutorLike(Protocol):
    """Anything with ``submit(fn, *args, **kwargs)`` returning a future with ``result()``:
    a :class:`concurrent.futures.Executor` or a ``dask.distributed.Client``."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any: ...


#: A JSON-safe copy of a result (NaN as ``None``): :func:`scaleplan.formatting.json_safe`.
clean = json_safe


def point_value(result: SimulationResult, slo: SLOSpec) -> float:
    """The measured value of ``slo``'s metric in one result, in the bound's unit.

    NaN when the result cannot say (no such request class, nothing completed).
    """
    if slo.is_latency:
        summary = result.latency_ms
        if slo.request_class is not None:
            found = result.classes.get(slo.request_class)
            if found is None:
                return math.nan
            summary = found
        return float(summary.mean if slo.metric == "mean" else summary.percentile(slo.metric))
    if slo.metric == "errors":
        return error_rate(result)
    if slo.unit == "of_offered":
        rate = result.rate_per_s
        return result.throughput_per_s / rate if rate and math.isfinite(rate) else math.nan
    return float(result.throughput_per_s)


def error_rate(result: SimulationResult) -> float:
    """Rejected and failed requests as a share of the arrivals, over the measured window.

    The same window as the latency figures (warm-up and drain left out), read off the
    system time series. A result without one, or with several replications (their series are
    averaged while each has a window of its own), falls back to the counts of the whole run.
    """
    window = measured_counts(result)
    if window is not None:
        errors, arrivals = window
        return errors / arrivals if arrivals else math.nan
    counts = result.requests
    return (counts.rejected + counts.failed) / counts.arrived if counts.arrived else math.nan


def measured_buckets(result: SimulationResult) -> slice | None:
    """The time-series buckets of a single replication's measured window, if it can tell.

    The engine measures whole buckets from the first at or after the warm-up
    (``run.warmup_s``) for ``run.measured_s`` seconds. None when the result has no
    series, several replications, or a window that does not fit the series.
    """
    run, series = result.run, result.timeseries
    if run is None or series is None:
        return None
    width = series.bucket_s
    warmups = run.warmup_s
    measured = run.measured_s
    arrivals = series.system.arrivals_per_s
    if len(warmups) != 1 or not width > 0 or not arrivals:
        return None
    first = math.ceil(warmups[0] / width - 1e-9)
    count = round(measured / width)
    if first + count > len(arrivals):
        # A warm-up longer than the run: the engine then measured from the start instead.
        first = 0
    if count < 1 or first + count > len(arrivals):
        return None
    return slice(first, first + count)


def measured_counts(result: SimulationResult) -> tuple[int, int] | None:
    """(errors, arrivals) within the measured window, or None (see :func:`measured_buckets`)."""
    buckets = measured_buckets(result)
    if buckets is None or result.timeseries is None:
        return None
    series = result.timeseries.system
    width = float(result.timeseries.bucket_s)
    errors = round(math.fsum(series.errors_per_s[buckets]) * width)
    arrivals = round(math.fsum(series.arrivals_per_s[buckets]) * width)
    return errors, arrivals


def busiest(result: SimulationResult) -> tuple[str, float]:
    """The component with the highest utilisation, and that utilisation."""
    loaded = {name: c.utilization for name, c in result.components.items() if c.capacity}
    if not loaded:
        return "", math.nan
    name = max(loaded, key=lambda key: loaded[key])
    return name, loaded[name]


@dataclasses.dataclass(frozen=True)
class Run:
    """One simulation at one rate and seed, or why it could not run (certainly unstable)."""

    seed: int
    rate_per_s: float
    result: SimulationResult | None
    refused: str = ""
    #: The refusal in a few words naming the component and the figure (``app: offered load is
    #: 1.98× its capacity of 1 slots at 90 requests/s …``), for reasons and gates.
    cause: str = ""

    @property
    def requests(self) -> int:
        return self.result.requests.arrived if self.result is not None else 0

    @property
    def stable(self) -> bool:
        return self.result is not None and self.result.stable


def settled_replicas(spec: ArchitectureSpec, rate_per_s: float) -> dict[str, float]:
    """The replicas each autoscaled component settles on at a steady ``rate_per_s``: what
    Kubernetes' HPA asks for there (``ceil(a/target)`` on utilisation, the fewest replicas
    meeting a queue-length target), within its bounds — the analytic estimate's count. Empty
    without autoscaling; a component the estimate cannot size is left out (billed as given)."""
    scaled = [
        name
        for name, component in spec.components.items()
        if getattr(component, "autoscale", None) is not None
    ]
    if not scaled or not rate_per_s > 0:
        return {}
    from scaleplan.analytic.network import estimate  # the estimate imports the kinds: late

    try:
        estimated = estimate(spec, rate_per_s=rate_per_s)
    except ScaleplanError:
        return {}
    return {
        name: float(estimated.components[name].replicas)
        for name in scaled
        if name in estimated.components
    }


def warm_started(spec: ArchitectureSpec, rate_per_s: float) -> ArchitectureSpec:
    """``spec`` with each autoscaled component starting at the replicas its autoscaler
    settles on at ``rate_per_s`` (:func:`settled_replicas`), for a run that measures a steady
    state: from its minimum, a run shorter than the autoscaler's interval and boot time would
    measure the scale-up, not the sustained rate. The autoscaler still acts during the run."""
    settled = settled_replicas(spec, rate_per_s)
    changes = {
        f"components.{name}.replicas": int(count)
        for name, count in settled.items()
        if int(count) != getattr(spec.components[name], "replicas", None)
    }
    return spec.with_changes(changes) if changes else spec


def steady_at(spec: ArchitectureSpec, rate_per_s: float) -> ArchitectureSpec:
    """``spec`` as a run that measures the steady state at ``rate_per_s`` needs it: a diurnal
    load held steady (:func:`scaleplan.load.held_steady`), autoscaled components starting
    where their autoscalers settle there (:func:`warm_started`)."""
    return warm_started(held_steady(spec), rate_per_s)


def run_once(
    spec: ArchitectureSpec,
    *,
    seed: int,
    rate_per_s: float | None,
    requests: int | None,
    max_in_flight: int | None = None,
) -> Run:
    """``simulate`` once; a certainly unstable rate comes back refused rather than raised.

    ``rate_per_s`` None runs the spec's own load (a closed workload has users, not a rate);
    the run's rate is then what its result measured. At a given rate the run measures a
    steady state there (:func:`steady_at`).
    """
    if rate_per_s is not None:
        spec = steady_at(spec, rate_per_s)
    try:
        result = simulate(
            spec,
            seed=seed,
            rate_per_s=rate_per_s,
            requests=requests,
            max_in_flight=max_in_flight,
        )
    except UnstableError as error:
        cause = f"{error.unstable.component}: {error.unstable.reason}"
        return Run(seed, math.nan if rate_per_s is None else rate_per_s, None, str(error), cause)
    rate = result.rate_per_s if rate_per_s is None else rate_per_s
    return Run(seed, rate, result)


def replicate(
    spec: ArchitectureSpec,
    *,
    seed: int,
    replications: int,
    rate_per_s: float | None,
    requests: int | None,
    max_in_flight: int | None = None,
) -> list[Run]:
    """``replications`` independent runs with seeds ``seed … seed + replications − 1``.

    The same seeds for every candidate give common random numbers: identical arrival times
    (and, for components with the same name, identical service-time draws).
    """
    if replications < 1:
        raise SimulationError(f"replications must be at least 1 (got {replications})")
    return [
        run_once(
            spec,
            seed=seed + index,
            rate_per_s=rate_per_s,
            requests=requests,
            max_in_flight=max_in_flight,
        )
        for index in range(replications)
    ]


def submit_all(
    executor: ExecutorLike | None,
    tasks: Sequence[tuple[Callable[..., Any], tuple[Any, ...]]],
    progress: Progress | None = None,
) -> list[Any]:
    """Run ``fn(*args)`` for every task, on ``executor`` if given, and return results in order.

    Works with a :class:`concurrent.futures.Executor` (progress as each finishes) and with
    anything else whose ``submit`` returns futures with ``result()`` — a
    ``dask.distributed.Client`` among them (then ``distributed.as_completed`` is used).
    """
    total = len(tasks)
    if executor is None:
        results = []
        for index, (fn, args) in enumerate(tasks):
            results.append(fn(*args))
            if progress is not None:
                progress(index + 1, total)
        return results
    futures = [executor.submit(fn, *args) for fn, args in tasks]
    position = {id(future): index for index, future in enumerate(futures)}
    out: list[Any] = [None] * total
    for done, future in enumerate(_as_completed(futures), start=1):
        out[position[id(future)]] = future.result()
        if progress is not None:
            progress(done, total)
    return out


def _as_completed(futures: list[Any]) -> Iterator[Any]:
    if all(isinstance(future, Future) for future in futures):
        yield from as_completed(futures)
        return
    try:
        from distributed import as_completed as dask_as_completed
    except ImportError:  # some other executor: wait in order
        yield from futures
        return
    yield from dask_as_completed(futures)


def default_executor(workers: int | None, tasks: int) -> Executor | None:
    """A process pool of ``workers`` (all available cores when None), or None to run
    in-process (one worker or one task: a pool would only add its start-up)."""
    return process_pool(workers, tasks)


def flatten(prefix: str, mapping: dict[str, Any], into: dict[str, Any]) -> None:
    """``into[prefix.key] = value`` for every (nested) key, for DataFrame-friendly rows."""
    for key, value in mapping.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            flatten(name, value, into)
        else:
            into[name] = value


def finite(values: Iterable[float]) -> list[float]:
    return [value for value in values if math.isfinite(value)]


def hold_autoscaled(
    spec: ArchitectureSpec, rate_per_s: float, names: Sequence[str] | None = None
) -> tuple[ArchitectureSpec, list[str]]:
    """``spec`` with each autoscaled component (of ``names``, default all) fixed at the
    replicas its policy holds at ``rate_per_s`` (the analytic estimate's, within min..max; its
    maximum when the estimate cannot say), and one note per component saying so.

    For experiments whose time scale an autoscaler does not act on: months of probe traffic
    for availability (it would only tick), or a deploy done off-peak (replicas swapped one by
    one against a steady count, as a Deployment's rolling update does between HPA changes).
    """
    from scaleplan.analytic import estimate

    scaled: dict[str, AutoscaleSpec] = {}
    for name, component in spec.components.items():
        policy = getattr(component, "autoscale", None)
        if policy is not None and (names is None or name in names):
            scaled[name] = policy
    if not scaled:
        return spec, []
    try:
        estimated = estimate(spec, rate_per_s=rate_per_s)
        held = {name: estimated.components[name].replicas for name in scaled}
    except ScaleplanError:
        held = {name: math.inf for name in scaled}
    changes: dict[str, Any] = {}
    notes: list[str] = []
    for name, policy in scaled.items():
        known = math.isfinite(held[name])
        wanted = held[name] if known else policy.max_replicas
        replicas = min(policy.max_replicas, max(policy.min_replicas, math.ceil(wanted - 1e-9)))
        changes[f"components.{name}.autoscale"] = None
        changes[f"components.{name}.replicas"] = replicas
        why = (
            f"what its policy keeps at {rate_per_s:g} requests/s"
            if known
            else f"its maximum: the estimate cannot say what it needs at {rate_per_s:g} requests/s"
        )
        notes.append(
            f"{name}: autoscaled; held at {replicas} replica{'' if replicas == 1 else 's'}, {why}"
        )
    return spec.with_changes(changes), notes
