"""Fitting a service's own times: lognormal and gamma by maximum likelihood (location fixed at
0), each judged by the Kolmogorov–Smirnov statistic, the better one chosen, and the empirical
distribution kept for when neither fits.

The KS p-value is computed as if the parameters were known; fitted from the same sample, it is
optimistic (Lilliefors), so a fit it rejects at 5% is certainly poor. With thousands of spans
real own times (a constant overhead plus a variable part) are rarely exactly either family:
then the spec resamples the observed values (``dist: empirical``), which the engine supports.

A latency histogram (Prometheus) has no sample: the fit maximises the binned (interval
censored) likelihood, D is the largest gap between the fitted and observed CDF at the bucket
edges, and its p-value is a chi-square test over the buckets (expected counts of 5 or more).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

#: Own times below this (a callee covering its caller to the last microsecond) are raised to
#: it: both families and ``dist: empirical`` need values above 0.
MIN_MS = 0.001
ALPHA = 0.05


@dataclass(frozen=True)
class FamilyFit:
    family: str  # "lognormal" or "gamma"
    mean_ms: float
    cv: float
    ks_d: float
    ks_p: float

    def distribution(self) -> dict[str, object]:
        return {"dist": self.family, "mean_ms": _round(self.mean_ms), "cv": _round(self.cv)}

    def describe(self) -> str:
        return f"{self.family} KS D={self.ks_d:.3f} p={_p(self.ks_p)}"


@dataclass(frozen=True)
class FitResult:
    n: int
    mean_ms: float
    cv: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    fits: tuple[FamilyFit, ...]
    clamped: int = 0  # values raised to MIN_MS
    binned: bool = False

    @property
    def best(self) -> FamilyFit:
        return min(self.fits, key=lambda fit: fit.ks_d)

    @property
    def accepted(self) -> bool:
        """Whether the better family passes its goodness-of-fit test at 5%."""
        return self.best.ks_p >= ALPHA

    @property
    def use_empirical(self) -> bool:
        return not self.accepted and not self.binned


def _round(value: float, digits: int = 4) -> float:
    """``digits`` significant digits: enough for a model, short in a spec."""
    if value == 0 or not math.isfinite(value):
        return value
    return float(f"{value:.{digits}g}")


def _p(p: float) -> str:
    return f"{p:.2g}" if p >= 0.001 else "<0.001"


def fit_samples(values_ms: np.ndarray) -> FitResult:
    """Fit both families to observed times in milliseconds (at least 2 values)."""
    raw = np.asarray(values_ms, dtype=float)
    if raw.size < 2:
        raise ValueError(f"needs at least 2 values to fit (got {raw.size})")
    clamped = int(np.count_nonzero(raw < MIN_MS))
    x = np.maximum(raw, MIN_MS)
    logs = np.log(x)
    # Lognormal MLE in closed form: mean and (biased) sd of the logs.
    mu, sigma = float(logs.mean()), float(logs.std())
    sigma = max(sigma, 1e-9)
    ln_ks = stats.kstest(x, "lognorm", args=(sigma, 0, math.exp(mu)))
    lognormal = FamilyFit(
        "lognormal",
        math.exp(mu + sigma**2 / 2),
        math.sqrt(math.expm1(sigma**2)),
        float(ln_ks.statistic),
        float(ln_ks.pvalue),
    )
    if float(x.std()) > 0:
        shape, _, scale = stats.gamma.fit(x, floc=0)
    else:
        shape, scale = 1e9, float(x.mean()) / 1e9
    ga_ks = stats.kstest(x, "gamma", args=(shape, 0, scale))
    gamma = FamilyFit(
        "gamma", shape * scale, 1 / math.sqrt(shape), float(ga_ks.statistic), float(ga_ks.pvalue)
    )
    p50, p95, p99 = np.percentile(x, [50, 95, 99])
    mean = float(x.mean())
    return FitResult(
        n=int(x.size),
        mean_ms=mean,
        cv=float(x.std(ddof=1)) / mean,
        p50_ms=float(p50),
        p95_ms=float(p95),
        p99_ms=float(p99),
        fits=(lognormal, gamma),
        clamped=clamped,
    )


def _frozen(family: str, mean: float, cv: float) -> stats.rv_continuous:
    if family == "lognormal":
        sigma = math.sqrt(math.log1p(cv**2))
        return stats.lognorm(sigma, 0, mean * math.exp(-(sigma**2) / 2))
    shape = 1 / cv**2
    return stats.gamma(shape, 0, mean / shape)


def fit_histogram(buckets: tuple[tuple[float, float], ...]) -> FitResult:
    """Fit both families to a histogram: (upper edge ms, count in the bucket), edges rising,
    the last one possibly infinite."""
    edges = np.array([edge for edge, _ in buckets], dtype=float)
    counts = np.array([count for _, count in buckets], dtype=float)
    n = float(counts.sum())
    if n < 2:
        raise ValueError(f"needs at least 2 requests in the histogram (got {n:g})")
    lower = np.concatenate([[0.0], edges[:-1]])
    finite_upper = np.where(np.isfinite(edges), edges, lower * 2 if lower[-1] > 0 else 1.0)
    mids = (lower + finite_upper) / 2
    start_mean = float((mids * counts).sum() / n)
    start_sd = math.sqrt(float((((mids - start_mean) ** 2) * counts).sum() / n)) or start_mean
    empirical = np.cumsum(counts) / n
    fits = []
    for family in ("lognormal", "gamma"):

        def nll(theta: np.ndarray, family: str = family) -> float:
            dist = _frozen(family, math.exp(theta[0]), math.exp(theta[1]))
            cdf = np.concatenate([[0.0], dist.cdf(edges)])
            probs = np.clip(np.diff(cdf), 1e-300, None)
            return float(-(counts * np.log(probs)).sum())

        start = np.array(
            [
                math.log(max(start_mean, MIN_MS)),
                math.log(max(start_sd / max(start_mean, MIN_MS), 0.05)),
            ]
        )
        best = optimize.minimize(
            nll,
            start,
            method="Nelder-Mead",
            options={"xatol": 1e-6, "fatol": 1e-9, "maxiter": 4000},
        )
        mean, cv = math.exp(best.x[0]), math.exp(best.x[1])
        dist = _frozen(family, mean, cv)
        fitted = dist.cdf(edges)
        d = float(np.max(np.abs(fitted - empirical)))
        expected = np.diff(np.concatenate([[0.0], fitted])) * n
        keep = expected >= 5
        if keep.sum() > 3:
            chi2 = float((((counts[keep] - expected[keep]) ** 2) / expected[keep]).sum())
            p = float(stats.chi2.sf(chi2, int(keep.sum()) - 1 - 2))
        else:
            p = math.nan
        fits.append(FamilyFit(family, mean, cv, d, p))
    finite = np.isfinite(edges)

    def quantile(q: float) -> float:
        above = np.nonzero(empirical >= q)[0]
        return float(edges[above[0]]) if above.size and finite[above[0]] else math.inf

    return FitResult(
        n=round(n),
        mean_ms=start_mean,
        cv=start_sd / start_mean if start_mean > 0 else math.nan,
        p50_ms=quantile(0.5),
        p95_ms=quantile(0.95),
        p99_ms=quantile(0.99),
        fits=tuple(fits),
        binned=True,
    )
