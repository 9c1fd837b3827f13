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
from scipy import optimize, special, stats

#: Own times below this (a callee covering its caller to the last microsecond) are raised to
#: it: both families and ``dist: empirical`` need values above 0.
MIN_MS = 0.001
ALPHA = 0.05
#: The largest cv a spec's distribution may have (scaleplan.spec.base.CV).
MAX_CV = 100.0


@dataclass(frozen=True)
class FamilyFit:
    family: str  # "lognormal" or "gamma"
    mean_ms: float
    cv: float
    ks_d: float
    ks_p: float

    @property
    def in_range(self) -> bool:
        """Whether a spec can hold it (a cv of at most 100: two wildly different values fit
        a lognormal of cv in the thousands)."""
        return self.family == "constant" or 0 < _round(self.cv) <= MAX_CV

    def distribution(self) -> dict[str, object]:
        if self.family == "constant":
            return {"dist": "constant", "mean_ms": _round(self.mean_ms)}
        cv = min(_round(self.cv), MAX_CV)  # only a histogram's fit gets here out of range
        return {"dist": self.family, "mean_ms": _round(self.mean_ms), "cv": cv}

    def describe(self) -> str:
        if self.family == "constant":
            return "constant (too few distinct values to fit)"
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
        """The family closer to the data (smallest D) among those a spec can hold."""
        usable = [fit for fit in self.fits if fit.in_range] or list(self.fits)
        return min(usable, key=lambda fit: fit.ks_d)

    @property
    def accepted(self) -> bool:
        """Whether the better family passes its goodness-of-fit test at 5%."""
        return self.best.ks_p >= ALPHA

    @property
    def use_empirical(self) -> bool:
        return not self.binned and not (self.accepted and self.best.in_range)


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
    if raw.size < 1:
        raise ValueError("needs at least 1 value")
    clamped = int(np.count_nonzero(raw < MIN_MS))
    x = np.maximum(raw, MIN_MS)
    if x.size < 2 or float(x.std()) == 0:
        # One visit, or every visit alike: nothing to fit, a constant says all there is.
        value = float(x.mean())
        only = FamilyFit("constant", value, 0.0, 0.0, 1.0)
        return FitResult(int(x.size), value, 0.0, value, value, value, (only,), clamped)
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
    shape, _, scale = stats.gamma.fit(x, floc=0)
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


def _cdf(family: str, mean: float, cv: float, x: np.ndarray) -> np.ndarray:
    """The family's CDF by mean and cv, from special functions (the fit calls it often)."""
    with np.errstate(divide="ignore"):
        if family == "lognormal":
            sigma = math.sqrt(math.log1p(cv**2))
            mu = math.log(mean) - sigma**2 / 2
            return np.asarray(special.ndtr((np.log(x) - mu) / sigma))
        shape = 1 / cv**2
        return np.asarray(special.gammainc(shape, x * shape / mean))


def bucket_quantile(
    edges: np.ndarray, counts: np.ndarray, q: float
) -> tuple[float, tuple[float, float]]:
    """The ``q`` quantile of a histogram, linear within its bucket (as Prometheus's
    ``histogram_quantile``), and the bucket's edges, between which it certainly lies (the
    last bucket's lower edge when it falls in the one to infinity)."""
    lower = np.concatenate([[0.0], edges[:-1]])
    cumulative = np.cumsum(counts)
    rank = q * cumulative[-1]
    at = min(int(np.searchsorted(cumulative, rank)), len(edges) - 1)
    low, high = float(lower[at]), float(edges[at])
    if not math.isfinite(high):
        return low, (low, math.inf)
    below = float(cumulative[at - 1]) if at > 0 else 0.0
    share = (rank - below) / counts[at] if counts[at] > 0 else 1.0
    return low + (high - low) * share, (low, high)


def fit_histogram(
    buckets: tuple[tuple[float, float], ...], mean_ms: float | None = None
) -> FitResult:
    """Fit both families to a histogram: (upper edge ms, count in the bucket), edges rising,
    the last one possibly infinite; ``mean_ms`` is its exact mean when known (``_sum``)."""
    edges = np.array([edge for edge, _ in buckets], dtype=float)
    counts = np.array([count for _, count in buckets], dtype=float)
    n = float(counts.sum())
    if n < 2:
        raise ValueError(f"needs at least 2 requests in the histogram (got {n:g})")
    lower = np.concatenate([[0.0], edges[:-1]])
    finite_upper = np.where(np.isfinite(edges), edges, lower * 2 if lower[-1] > 0 else 1.0)
    mids = (lower + finite_upper) / 2
    start_mean = float((mids * counts).sum() / n) if mean_ms is None else mean_ms
    start_sd = math.sqrt(float((((mids - start_mean) ** 2) * counts).sum() / n)) or start_mean
    empirical = np.cumsum(counts) / n
    fits = []
    for family in ("lognormal", "gamma"):

        def nll(theta: np.ndarray, family: str = family) -> float:
            cdf = np.concatenate(
                [[0.0], _cdf(family, math.exp(theta[0]), math.exp(theta[1]), edges)]
            )
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

    def quantile(q: float) -> float:
        return bucket_quantile(edges, counts, q)[0]

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
