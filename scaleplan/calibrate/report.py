"""The fit report: the calibrated model run at the observed load, its end-to-end mean and
percentiles (with their 95% CIs across replications) beside the observed ones (with
distribution-free 95% CIs: Student-t for the mean, binomial order statistics for a
percentile), and the relative error of each. Markdown for people, JSON for tools.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import stats

from scaleplan.calibrate.fit import bucket_quantile
from scaleplan.formatting import json_safe

if TYPE_CHECKING:
    from scaleplan.calibrate import Calibration

FIGURES = ("mean", "p50", "p95", "p99")
_Q = {"p50": 0.50, "p95": 0.95, "p99": 0.99}


@dataclass(frozen=True)
class Figure:
    name: str
    observed_ms: float
    observed_ci95: tuple[float, float]
    model_ms: float
    model_ci95: tuple[float, float]

    @property
    def error(self) -> float:
        """(model − observed) / observed."""
        return (
            (self.model_ms - self.observed_ms) / self.observed_ms if self.observed_ms else math.nan
        )

    @property
    def overlap(self) -> bool | None:
        """Whether the two 95% intervals overlap; None when one is unknown."""
        lo1, hi1 = self.observed_ci95
        lo2, hi2 = self.model_ci95
        if any(math.isnan(v) for v in (lo1, hi1, lo2, hi2)):
            return None
        return lo1 <= hi2 and lo2 <= hi1


@dataclass
class FitReport:
    name: str
    source: str
    rate_per_s: float
    observed_requests: int
    simulated_requests: int
    replications: int
    figures: list[Figure]
    services: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for figure, raw in zip(self.figures, data["figures"], strict=True):
            raw["error"] = figure.error
            raw["ci_overlap"] = figure.overlap
        return json_safe(data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False)

    def to_markdown(self) -> str:
        def ci(pair: tuple[float, float]) -> str:
            lo, hi = pair
            return "—" if math.isnan(lo) or math.isnan(hi) else f"[{lo:.3g}, {hi:.3g}]"

        lines = [
            f"# Fit report: {self.name}",
            "",
            f"The calibrated model run at the observed load ({self.rate_per_s:.4g} requests/s, "
            f"{self.replications} replications of {self.simulated_requests:,} requests) against "
            f"what the {self.source} recorded ({self.observed_requests:,} requests). End-to-end "
            "latency in ms; observed CIs are distribution-free (Student-t for the mean, "
            "binomial order statistics for percentiles), the model's across replications.",
            "",
            "| figure | observed | 95% CI | model | 95% CI | error | CIs overlap |",
            "|---|---:|---|---:|---|---:|---|",
        ]
        shown = {True: "yes", False: "no", None: "—"}
        for f in self.figures:
            lines.append(
                f"| {f.name} | {f.observed_ms:.4g} | {ci(f.observed_ci95)} | {f.model_ms:.4g} | "
                f"{ci(f.model_ci95)} | {f.error:+.1%} | {shown[f.overlap]} |"
            )
        if self.services:
            lines += [
                "",
                "## Services",
                "",
                "| service | visits | own time mean (ms) | distribution | fit | concurrency |",
                "|---|---:|---:|---|---|---|",
            ]
            for s in self.services:
                lines.append(
                    f"| {s['name']} | {s['visits']:,} | {s['own_mean_ms']:.4g} | "
                    f"{s['distribution']} | {s['fit']} | {s['concurrency']} |"
                )
        if self.warnings:
            lines += ["", "## Warnings", ""] + [f"- {w}" for w in self.warnings]
        return "\n".join(lines) + "\n"


def observed_figures(values_ms: np.ndarray) -> dict[str, tuple[float, tuple[float, float]]]:
    """Mean and percentiles of observed latencies with distribution-free 95% CIs."""
    x = np.sort(np.asarray(values_ms, dtype=float))
    n = x.size
    found: dict[str, tuple[float, tuple[float, float]]] = {}
    mean = float(x.mean())
    half = float(stats.t.ppf(0.975, n - 1) * x.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan
    found["mean"] = (mean, (mean - half, mean + half))
    for name, q in _Q.items():
        point = float(np.quantile(x, q))
        # Ranks l, u with P(X(l) <= quantile <= X(u)) >= 95%: binomial(n, q) order statistics.
        low = int(stats.binom.ppf(0.025, n, q)) - 1
        high = int(stats.binom.ppf(0.975, n, q))
        interval = (
            (float(x[low]), float(x[high])) if low >= 0 and high < n else (math.nan, math.nan)
        )
        found[name] = (point, interval)
    return found


def _from_histogram(
    histogram: tuple[tuple[float, float], ...], mean_ms: float
) -> dict[str, tuple[float, tuple[float, float]]]:
    """Figures of a histogram: its exact mean (no CI: no values), each percentile linear in
    its bucket with the bucket's edges as where it certainly lies."""
    edges = np.array([e for e, _ in histogram])
    counts = np.array([c for _, c in histogram])
    found: dict[str, tuple[float, tuple[float, float]]] = {"mean": (mean_ms, (math.nan, math.nan))}
    for name, q in _Q.items():
        found[name] = bucket_quantile(edges, counts, q)
    return found


def fit_report(calibration: Calibration, *, replications: int = 3, seed: int = 1) -> FitReport:
    from scaleplan.engine import simulate

    derived = calibration.derived
    spec = calibration.spec
    # Run even when the calibrated pools cannot carry the observed load: the report then says
    # so, which is the finding (a pool written as its observed peak may be too small).
    result = simulate(
        spec, seed=seed, replications=replications, rate_per_s=derived.rate_per_s, run_anyway=True
    )
    if derived.end_to_end_ms is not None:
        observed = observed_figures(derived.end_to_end_ms)
    else:
        assert derived.end_to_end_histogram is not None
        observed = _from_histogram(derived.end_to_end_histogram, derived.end_to_end_mean_ms)
    latency = result.latency_ms
    figures = []
    for name in FIGURES:
        value, interval = observed[name]
        model_ci = latency.mean_ci95 if name == "mean" else latency.percentile_ci95(name)
        model = latency.mean if name == "mean" else latency.percentile(name)
        figures.append(
            Figure(name, value, interval, float(model), (float(model_ci[0]), float(model_ci[1])))
        )
    services = []
    for name, figures_ in derived.services.items():
        fit = calibration.fits[name]
        component = spec.components[name]
        services.append(
            {
                "name": name,
                "visits": figures_.visits,
                "own_mean_ms": fit.mean_ms,
                "distribution": "empirical" if fit.use_empirical else fit.best.family,
                "fit": fit.best.describe(),
                "concurrency": getattr(component, "concurrency", "—"),
            }
        )
    warnings = list(result.warnings)
    if not result.stable:
        warnings.insert(0, "the model is unstable at the observed rate")
    return FitReport(
        name=calibration.name,
        source={"traces": "traces", "access-log": "access log", "prometheus": "histograms"}[
            derived.source
        ],
        rate_per_s=derived.rate_per_s,
        observed_requests=derived.requests,
        simulated_requests=spec.workload.requests or 0,
        replications=replications,
        figures=figures,
        services=services,
        warnings=warnings + list(derived.notes),
    )
