"""Fitting own times: samples drawn from a known lognormal or gamma (fixed seeds) are
recovered (exact or asymptotic 95% CIs of the MLE cover the true parameters) and their family
is chosen over the other; a shifted exponential (a constant overhead plus exponential work, as
real services are) fits neither at 5%, so its values are resampled; a histogram's binned MLE
is unbiased (the CI over replicate histograms covers the truth)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special, stats

from scaleplan.calibrate.fit import bucket_quantile, fit_histogram, fit_samples

N = 2000


def test_lognormal_recovered_and_chosen() -> None:
    mu, sigma = math.log(10.0), 0.6
    x = np.random.default_rng(1).lognormal(mu, sigma, N)
    fit = fit_samples(x)
    best = fit.best
    assert best.family == "lognormal" and fit.accepted and not fit.use_empirical
    assert best.ks_d < next(f for f in fit.fits if f.family == "gamma").ks_d
    s_hat = math.sqrt(math.log1p(best.cv**2))
    mu_hat = math.log(best.mean_ms) - s_hat**2 / 2
    # The logs are normal: exact t and chi-square intervals of their mean and sd (the MLE's
    # sd divides by n).
    half = stats.t.ppf(0.975, N - 1) * s_hat * math.sqrt(N / (N - 1)) / math.sqrt(N)
    assert mu_hat - half <= mu <= mu_hat + half
    ss = N * s_hat**2
    assert ss / stats.chi2.ppf(0.975, N - 1) <= sigma**2 <= ss / stats.chi2.ppf(0.025, N - 1)


def test_gamma_recovered_and_chosen() -> None:
    shape, scale = 2.5, 4.0
    x = np.random.default_rng(2).gamma(shape, scale, N)
    fit = fit_samples(x)
    best = fit.best
    assert best.family == "gamma" and fit.accepted
    a_hat = 1 / best.cv**2
    # Asymptotic variance of the shape's MLE: a / (n (a ψ'(a) − 1)).
    se = math.sqrt(a_hat / (N * (a_hat * special.polygamma(1, a_hat) - 1)))
    assert a_hat - 1.96 * se <= shape <= a_hat + 1.96 * se
    # The gamma MLE of the mean is the sample mean: its t interval.
    half = stats.t.ppf(0.975, N - 1) * x.std(ddof=1) / math.sqrt(N)
    assert abs(best.mean_ms - x.mean()) < 1e-6 * x.mean()
    assert x.mean() - half <= shape * scale <= x.mean() + half


def test_neither_family_fits_a_shifted_exponential() -> None:
    x = 0.6 + np.random.default_rng(3).exponential(10.0, 5000)
    fit = fit_samples(x)
    assert not fit.accepted and fit.use_empirical
    assert all(f.ks_p < 0.05 for f in fit.fits)


def test_zero_own_times_are_raised_and_counted() -> None:
    fit = fit_samples(np.array([0.0, 0.0, 1.0, 2.0, 3.0]))
    assert fit.clamped == 2 and fit.n == 5


def test_histogram_binned_mle_is_unbiased() -> None:
    edges = np.array([1, 2.5, 5, 7.5, 10, 15, 25, 50, 75, 100, np.inf])
    mean, cv = 12.0, 0.8
    sigma = math.sqrt(math.log1p(cv**2))
    mu = math.log(mean) - sigma**2 / 2
    rng = np.random.default_rng(4)
    means, cvs = [], []
    for _ in range(12):
        x = rng.lognormal(mu, sigma, 5000)
        counts = np.histogram(x, np.concatenate([[0], edges]))[0]
        fit = fit_histogram(tuple(zip(edges.tolist(), counts.tolist(), strict=True)))
        lognormal = next(f for f in fit.fits if f.family == "lognormal")
        assert fit.best is lognormal and fit.binned and not fit.use_empirical
        means.append(lognormal.mean_ms)
        cvs.append(lognormal.cv)
    for values, truth in ((means, mean), (cvs, cv)):
        m, s = np.mean(values), np.std(values, ddof=1)
        half = stats.t.ppf(0.975, len(values) - 1) * s / math.sqrt(len(values))
        assert m - half <= truth <= m + half


def test_one_value_or_all_alike_is_a_constant() -> None:
    for values in ([6.0], [2.0, 2.0, 2.0]):
        fit = fit_samples(np.array(values))
        assert fit.best.family == "constant" and fit.accepted and not fit.use_empirical
        assert fit.best.distribution() == {"dist": "constant", "mean_ms": values[0]}


def test_bucket_quantile_is_linear_within_its_bucket() -> None:
    edges = np.array([10.0, 20.0, 40.0, np.inf])
    counts = np.array([50.0, 30.0, 15.0, 5.0])
    assert bucket_quantile(edges, counts, 0.5) == (10.0, (0.0, 10.0))
    value, bucket = bucket_quantile(edges, counts, 0.65)
    assert value == pytest.approx(15.0) and bucket == (10.0, 20.0)
    assert bucket_quantile(edges, counts, 0.99) == (40.0, (40.0, math.inf))


def test_a_fit_no_spec_can_hold_is_not_chosen() -> None:
    # Two values five orders apart: a lognormal of cv ≈ 10^3, beyond a spec's 100, closer to
    # the two points than the gamma; the gamma (cv 2.7) is written.
    fit = fit_samples(np.array([0.001, 432.7]))
    lognormal, gamma = fit.fits
    assert lognormal.cv > 100 and not lognormal.in_range and lognormal.ks_d < gamma.ks_d
    assert fit.best is gamma and gamma.in_range and not fit.use_empirical
