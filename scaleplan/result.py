"""The result records of a simulation or an analytic estimate (the public JSON contract).

Plain frozen dataclasses with ``to_dict()``; the same shape whether they come from
:func:`scaleplan.engine.simulate`, :func:`scaleplan.analytic.estimate`, the CLI, a notebook
or a batch run. ``arrived = completed + rejected + failed + in_flight`` holds in every result.
This module holds data only: it neither computes nor formats.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

from scaleplan.formatting import json_safe

PERCENTILES = {"p50": 0.50, "p90": 0.90, "p95": 0.95, "p99": 0.99, "p999": 0.999}


@dataclass(frozen=True)
class LatencySummary:
    """Latency in milliseconds: a mean and percentiles, each with its 95% CI (NaN when unknown).

    A percentile's interval comes from sectioning (:func:`scaleplan.metrics.batch_quantile_ci`):
    over time sections of one run, or over replications; an estimate's exact percentiles have
    none.
    """

    mean: float
    mean_ci95: tuple[float, float] = (math.nan, math.nan)
    p50: float = math.nan
    p90: float = math.nan
    p95: float = math.nan
    p99: float = math.nan
    p999: float = math.nan
    count: int = 0
    p50_ci95: tuple[float, float] = (math.nan, math.nan)
    p90_ci95: tuple[float, float] = (math.nan, math.nan)
    p95_ci95: tuple[float, float] = (math.nan, math.nan)
    p99_ci95: tuple[float, float] = (math.nan, math.nan)
    p999_ci95: tuple[float, float] = (math.nan, math.nan)

    def percentile(self, name: str) -> float:
        return float(getattr(self, name))

    def percentile_ci95(self, name: str) -> tuple[float, float]:
        """The 95% CI of percentile ``name`` (``"p99"``, …); NaN when unknown."""
        low, high = getattr(self, f"{name}_ci95")
        return float(low), float(high)


@dataclass(frozen=True)
class RequestCounts:
    arrived: int = 0
    completed: int = 0
    rejected: int = 0
    failed: int = 0
    in_flight: int = 0

    def conserved(self) -> bool:
        return self.arrived == self.completed + self.rejected + self.failed + self.in_flight


@dataclass(frozen=True)
class ComponentResult:
    """What an APM shows for one component over the measured window."""

    kind: str
    utilization: float
    mean_queue: float
    throughput_per_s: float
    rejected: int
    latency_ms: LatencySummary
    capacity: int = 0
    replicas: float = 1  # mean over the measured window when autoscaling
    wait_ms: float = math.nan
    utilization_ci95: tuple[float, float] = (math.nan, math.nan)
    mean_queue_ci95: tuple[float, float] = (math.nan, math.nan)
    method: str = ""
    # Kind-specific figures: hit ratios, shard shares, retries and timeouts per call, ...
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Unstable:
    """Where and by how much offered load exceeds capacity."""

    component: str
    factor: float
    reason: str


@dataclass(frozen=True)
class RunInfo:
    """How a simulation was run and measured (an analytic estimate has none).

    ``warmup`` is the workload's setting (``"auto"``, a share of the requests, or a duration);
    ``warmup_s`` the warm-up cut from each replication, in seconds; ``measured_s`` the measured
    window summed over replications; ``simulated_s`` the simulated time summed over them;
    ``ci_method`` ``"batch means"`` (one replication) or ``"replications"``.
    """

    replications: int
    warmup: float | str
    warmup_s: tuple[float, ...]
    measured_s: float
    simulated_s: float
    ci_method: str


@dataclass(frozen=True)
class SystemSeries:
    """Per time bucket, for the whole system: what an APM dashboard would chart."""

    arrivals_per_s: tuple[float, ...]
    throughput_per_s: tuple[float, ...]
    errors_per_s: tuple[float, ...]
    p50_ms: tuple[float, ...]
    p99_ms: tuple[float, ...]


@dataclass(frozen=True)
class ComponentSeries:
    """Per time bucket, for one component or part (a shard, ...)."""

    throughput_per_s: tuple[float, ...]
    errors_per_s: tuple[float, ...]
    p50_ms: tuple[float, ...]
    p99_ms: tuple[float, ...]
    utilization: tuple[float, ...]
    mean_queue: tuple[float, ...]
    replicas: tuple[float, ...]


@dataclass(frozen=True)
class TimeSeries:
    """A simulation's time series, averaged over replications; ``t_s`` holds bucket centres."""

    bucket_s: float
    t_s: tuple[float, ...]
    system: SystemSeries
    components: dict[str, ComponentSeries] = field(default_factory=dict)


@dataclass(frozen=True)
class SimulationResult:
    spec: str
    seed: int | None
    stable: bool
    warnings: tuple[str, ...]
    requests: RequestCounts
    throughput_per_s: float
    latency_ms: LatencySummary
    components: dict[str, ComponentResult]
    classes: dict[str, LatencySummary] = field(default_factory=dict)
    unstable: Unstable | None = None
    rate_per_s: float = math.nan
    method: str = "simulation"
    # None for an analytic estimate, which neither runs nor has a time series.
    run: RunInfo | None = None
    timeseries: TimeSeries | None = None
    # How long the run took on this machine: useful to show, but not part of the record,
    # since it differs between two runs with the same seed.
    wall_time_s: float = field(default=math.nan, compare=False)

    def to_dict(self, *, timeseries: bool = True) -> dict[str, Any]:
        """The JSON contract of docs/architecture.md, with NaN written as ``null``.

        Identical for identical seeds: the wall time is left out.
        """
        data = asdict(self)
        data.pop("wall_time_s")
        # An estimate's run and series are written as empty objects, as they always were.
        data["run"] = data["run"] or {}
        data["timeseries"] = data["timeseries"] or {}
        if not timeseries:
            data.pop("timeseries")
        return json_safe(data)

    def to_json(self, *, timeseries: bool = True, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(timeseries=timeseries), indent=indent, allow_nan=False)
