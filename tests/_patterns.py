"""Shared helpers of the architecture-pattern tests (issue #3): spec builders and the exact
95% intervals the tests compare the engine with.

Every interval here is a two-sided 95% interval, so a correct engine misses it in one seed in
twenty. The tests fix their seeds, which makes them deterministic; where the first seed tried
missed, the test says so in a comment (with what it gave and how often other seeds covered)
and uses another seed, as ``test_engine.py`` does. Tolerances are never widened instead.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy import stats

from scaleplan.engine import simulate
from scaleplan.result import SimulationResult
from scaleplan.spec import ArchitectureSpec, parse_spec

SEED = 1
Z95 = float(stats.norm.ppf(0.975))


def exponential(mean_ms: float) -> dict[str, Any]:
    return {"dist": "exponential", "mean_ms": mean_ms}


def architecture(
    components: Mapping[str, Mapping[str, Any]],
    *,
    entry: str,
    name: str = "pattern",
    **workload: Any,
) -> ArchitectureSpec:
    """A validated spec through the same path as a YAML file; ``workload`` keys as given."""
    return parse_spec(
        {
            "name": name,
            "workload": dict(workload),
            "entry": entry,
            "components": {key: dict(value) for key, value in components.items()},
        }
    )


def run(spec: ArchitectureSpec, **options: Any) -> SimulationResult:
    """``simulate`` with the shared seed, checking conservation of requests on every result
    (docs/architecture.md: ``arrived = completed + rejected + failed + in_flight`` always holds)."""
    options.setdefault("seed", SEED)
    result = simulate(spec, **options)
    assert result.requests.conserved(), result.requests
    return result


def covers(interval: tuple[float, float], value: float) -> bool:
    low, high = interval
    return low <= value <= high


def poisson_interval(count: int) -> tuple[float, float]:
    """Exact (Garwood) 95% interval for the mean of a Poisson count."""
    low = 0.0 if count == 0 else float(stats.chi2.ppf(0.025, 2 * count)) / 2
    return low, float(stats.chi2.ppf(0.975, 2 * count + 2)) / 2


def poisson_acceptance(mean: float, alpha: float = 0.05) -> tuple[float, float]:
    """Counts a Poisson variable of this mean falls within with probability ≥ 1 − alpha."""
    return float(stats.poisson.ppf(alpha / 2, mean)), float(stats.poisson.isf(alpha / 2, mean))


def binomial_interval(successes: int, trials: int) -> tuple[float, float]:
    """Exact (Clopper–Pearson) 95% interval for a binomial proportion."""
    low = 0.0 if successes == 0 else float(stats.beta.ppf(0.025, successes, trials - successes + 1))
    high = (
        1.0
        if successes == trials
        else float(stats.beta.ppf(0.975, successes + 1, trials - successes))
    )
    return low, high


def t_interval(values: Sequence[float]) -> tuple[float, float]:
    """Student-t 95% interval for the mean of independent values."""
    x = np.asarray(values, dtype=float)
    half = float(stats.t.ppf(0.975, x.size - 1)) * float(x.std(ddof=1)) / math.sqrt(x.size)
    return float(x.mean()) - half, float(x.mean()) + half


def truncated_geometric(p: float, most: int) -> tuple[float, float]:
    """Mean and variance of the attempts of a job (or call) that fails independently with
    probability ``p`` and is tried at most ``most`` times: min(Geometric(1 − p), most)."""
    k = np.arange(1, most + 1)
    pmf = p ** (k - 1) * (1 - p)
    pmf[-1] = p ** (most - 1)  # the last attempt is made whatever its outcome
    mean = float(np.dot(k, pmf))
    return mean, float(np.dot(k**2, pmf)) - mean**2


def mean_interval_under(mean: float, variance: float, n: int) -> tuple[float, float]:
    """Where the mean of ``n`` independent draws of a law with this mean and variance falls
    with probability 95% (normal approximation; ``n`` here is in the tens of thousands)."""
    half = Z95 * math.sqrt(variance / n)
    return mean - half, mean + half


def window_buckets(result: SimulationResult, start_s: float, end_s: float) -> np.ndarray:
    """Indices of the time-series buckets lying wholly within [start_s, end_s]."""
    width = float(result.timeseries.bucket_s)
    centres = np.asarray(result.timeseries.t_s)
    return np.flatnonzero(
        (centres - width / 2 >= start_s - 1e-9) & (centres + width / 2 <= end_s + 1e-9)
    )


def series(result: SimulationResult, component: str, figure: str) -> np.ndarray:
    return np.asarray(getattr(result.timeseries.components[component], figure), dtype=float)
