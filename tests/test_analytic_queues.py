"""Closed-form queueing results against textbook numbers and independent computations."""

from __future__ import annotations

import math
import pickle
import re
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.integrate import quad

from scaleplan.analytic.queues import (
    StationMetrics,
    UnstableError,
    bottleneck_throughput,
    erlang_b,
    erlang_c,
    expected_max_exponential,
    gigc,
    md1,
    mg1,
    mgc,
    mm1,
    mm1_response_quantile,
    mmc,
    mmc_response_cdf,
    mmc_response_quantile,
    mmc_wait_tail,
)


def erlang_c_by_factorials(c: int, a: float) -> float:
    """The textbook formula, written independently of the recursion under test."""
    tail = a**c / math.factorial(c) * c / (c - a)
    head = sum(a**k / math.factorial(k) for k in range(c))
    return tail / (head + tail)


def assert_same_metrics(left: StationMetrics, right: StationMetrics) -> None:
    for field in (
        "arrival_rate",
        "utilization",
        "p_wait",
        "mean_wait",
        "mean_response",
        "mean_queue",
        "mean_in_system",
    ):
        assert getattr(left, field) == pytest.approx(getattr(right, field), rel=1e-12, abs=1e-15)


# Erlang B and C


def test_erlang_b_two_servers_one_erlang() -> None:
    # (a²/2!) / (1 + a + a²/2!) = 0.5 / 2.5
    assert erlang_b(2, 1.0) == pytest.approx(0.2)


def test_erlang_b_no_servers_blocks_everything() -> None:
    assert erlang_b(0, 3.0) == 1.0


def test_erlang_c_two_servers_one_erlang_is_one_third() -> None:
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)


def test_erlang_c_three_servers_two_erlangs_is_four_ninths() -> None:
    assert erlang_c(3, 2.0) == pytest.approx(4 / 9)


@pytest.mark.parametrize(("c", "a"), [(1, 0.3), (5, 4.2), (10, 8.0), (20, 19.5), (50, 30.0)])
def test_erlang_c_matches_factorial_formula(c: int, a: float) -> None:
    assert erlang_c(c, a) == pytest.approx(erlang_c_by_factorials(c, a), rel=1e-10)


def test_erlang_c_single_server_is_utilisation() -> None:
    assert erlang_c(1, 0.7) == pytest.approx(0.7)


def test_erlang_c_large_pool_stays_finite() -> None:
    # The factorial formula would overflow here; the recursion must not.
    value = erlang_c(2000, 1950.0)
    assert 0.0 < value < 1.0


def test_erlang_c_rejects_overload() -> None:
    with pytest.raises(ValueError, match=r"utilization 1\.5"):
        erlang_c(2, 3.0)


def test_erlang_c_rejects_zero_servers() -> None:
    with pytest.raises(ValueError, match="servers must be at least 1"):
        erlang_c(0, 0.5)


@given(
    c=st.integers(min_value=1, max_value=60),
    frac=st.floats(min_value=0.0, max_value=0.999),
    step=st.floats(min_value=1e-6, max_value=0.5),
)
def test_erlang_c_is_a_probability_increasing_in_load(c: int, frac: float, step: float) -> None:
    a = frac * c
    higher = min(a + step, 0.9999 * c)
    low, high = erlang_c(c, a), erlang_c(c, higher)
    assert 0.0 <= low <= 1.0
    assert 0.0 <= high <= 1.0
    assert low <= high + 1e-12


@given(c=st.integers(min_value=1, max_value=60), a=st.floats(min_value=0.0, max_value=59.0))
def test_erlang_c_decreases_with_more_servers(c: int, a: float) -> None:
    if a >= c:
        c = math.floor(a) + 1
    assert erlang_c(c + 1, a) <= erlang_c(c, a) + 1e-12


# Single stations


def test_mm1_half_loaded_textbook_figures() -> None:
    mu = 4.0
    m = mm1(2.0, mu)
    assert m.utilization == pytest.approx(0.5)
    assert m.p_wait == pytest.approx(0.5)
    assert m.mean_response == pytest.approx(2 / mu)
    assert m.mean_wait == pytest.approx(1 / mu)
    assert m.mean_in_system == pytest.approx(1.0)
    assert m.mean_queue == pytest.approx(0.5)
    assert m.exact
    assert m.method == "M/M/1"


def test_mmc_with_one_server_is_mm1() -> None:
    assert_same_metrics(mmc(3.0, 5.0, 1), mm1(3.0, 5.0))


def test_mmc_two_servers_one_erlang() -> None:
    m = mmc(1.0, 1.0, 2)
    # Wq = C / (cμ − λ) = (1/3) / 1; L = Lq + a.
    assert m.mean_wait == pytest.approx(1 / 3)
    assert m.mean_in_system == pytest.approx(1 / 3 + 1.0)
    assert m.utilization == pytest.approx(0.5)
    assert m.method == "M/M/c (Erlang C)"


def test_mg1_with_exponential_service_is_mm1() -> None:
    assert_same_metrics(mg1(0.7, 1.0, 1.0), mm1(0.7, 1.0))


def test_md1_waits_half_as_long_as_mm1() -> None:
    for rho in (0.1, 0.5, 0.9):
        assert md1(rho, 1.0).mean_wait == pytest.approx(mm1(rho, 1.0).mean_wait / 2)
    assert md1(0.5, 1.0).exact


def test_mg1_pollaczek_khinchine_hyperexponential() -> None:
    # λ = 0.8, E[S] = 1, scv = 4: Wq = 0.8 · 1 · 5 / (2 · 0.2) = 10.
    m = mg1(0.8, 1.0, 4.0)
    assert m.mean_wait == pytest.approx(10.0)
    assert m.mean_response == pytest.approx(11.0)
    assert m.p_wait == pytest.approx(0.8)


def test_mgc_exponential_service_is_mmc_and_exact() -> None:
    m = mgc(6.0, 0.5, 1.0, 4)
    assert_same_metrics(m, mmc(6.0, 2.0, 4))
    assert m.exact


def test_mgc_single_server_is_mg1_and_exact() -> None:
    m = mgc(0.6, 1.0, 0.3, 1)
    assert_same_metrics(m, mg1(0.6, 1.0, 0.3))
    assert m.exact


def test_mgc_approximation_scales_mmc_wait() -> None:
    m = mgc(6.0, 0.5, 0.25, 4)
    assert m.mean_wait == pytest.approx(mmc(6.0, 2.0, 4).mean_wait * 0.625)
    assert not m.exact
    assert "Allen-Cunneen" in m.method


def test_gigc_poisson_arrivals_defer_to_exact_cases() -> None:
    assert gigc(6.0, 1.0, 0.5, 1.0, 4).exact
    assert gigc(0.5, 1.0, 1.0, 0.0, 1).exact
    assert_same_metrics(gigc(0.5, 1.0, 1.0, 0.0, 1), md1(0.5, 1.0))


def test_gigc_approximation() -> None:
    m = gigc(6.0, 0.5, 0.5, 1.5, 4)
    assert m.mean_wait == pytest.approx(mmc(6.0, 2.0, 4).mean_wait * 1.0)
    assert not m.exact
    # Poisson arrivals but a general service law on many servers is still an approximation.
    assert not gigc(6.0, 1.0, 0.5, 0.0, 4).exact


def test_gigc_single_server_is_kingman() -> None:
    rho, ca2, cs2 = 0.9, 0.3, 2.0
    expected = rho / (1 - rho) * (ca2 + cs2) / 2
    assert gigc(rho, ca2, 1.0, cs2, 1).mean_wait == pytest.approx(expected)


@pytest.mark.parametrize(
    "metrics",
    [
        mm1(0.0, 2.0),
        mmc(0.0, 2.0, 3),
        mg1(0.0, 0.5, 3.0),
        md1(0.0, 0.5),
        mgc(0.0, 0.5, 0.2, 3),
        gigc(0.0, 0.4, 0.5, 0.2, 3),
    ],
)
def test_no_arrivals_means_no_waiting(metrics: StationMetrics) -> None:
    assert metrics.arrival_rate == 0.0
    assert metrics.utilization == 0.0
    assert metrics.p_wait == 0.0
    assert metrics.mean_wait == 0.0
    assert metrics.mean_queue == 0.0
    assert metrics.mean_in_system == 0.0
    assert metrics.mean_response == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("call", "utilization"),
    [
        (lambda: mm1(2.0, 2.0), "1"),
        (lambda: mmc(9.0, 2.0, 3), "1.5"),
        (lambda: mg1(1.25, 1.0, 0.5), "1.25"),
        (lambda: md1(3.0, 1.0), "3"),
        (lambda: mgc(5.0, 1.0, 0.5, 2), "2.5"),
        (lambda: gigc(5.0, 0.5, 1.0, 0.5, 4), "1.25"),
        (lambda: mm1_response_quantile(3.0, 2.0, 0.5), "1.5"),
        (lambda: mmc_wait_tail(9.0, 2.0, 3, 1.0), "1.5"),
        (lambda: mmc_response_cdf(9.0, 2.0, 3, 1.0), "1.5"),
        (lambda: mmc_response_quantile(9.0, 2.0, 3, 0.9), "1.5"),
    ],
)
def test_unstable_input_raises_with_utilisation(
    call: Callable[[], object], utilization: str
) -> None:
    with pytest.raises(UnstableError, match=f"utilization {re.escape(utilization)} >= 1"):
        call()


def test_unstable_error_is_a_value_error_and_pickles() -> None:
    with pytest.raises(ValueError) as caught:
        mmc(9.0, 2.0, 3)
    error = caught.value
    assert isinstance(error, UnstableError)
    assert error.utilization == pytest.approx(1.5)
    assert error.capacity == pytest.approx(6.0)
    again = pickle.loads(pickle.dumps(error))
    assert str(again) == str(error)
    assert "capacity of 6" in str(error)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: mm1(-1.0, 2.0), "arrival rate"),
        (lambda: mm1(1.0, 0.0), "service rate"),
        (lambda: mmc(1.0, 2.0, 0), "servers"),
        (lambda: mg1(0.5, 1.0, -0.1), "service scv"),
        (lambda: mg1(0.5, math.nan, 1.0), "mean service time"),
        (lambda: gigc(0.5, -1.0, 1.0, 1.0, 1), "arrival scv"),
        (lambda: mm1_response_quantile(0.5, 1.0, 1.0), "quantile"),
        (lambda: mmc_response_quantile(0.5, 1.0, 2, -0.1), "quantile"),
        (lambda: mmc_wait_tail(0.5, 1.0, 2, -1.0), "time"),
    ],
)
def test_bad_input_names_the_parameter(call: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


@given(
    lam_frac=st.floats(min_value=0.0, max_value=0.99),
    mean_service=st.floats(min_value=1e-3, max_value=1e3),
    ca2=st.floats(min_value=0.0, max_value=5.0),
    cs2=st.floats(min_value=0.0, max_value=5.0),
    c=st.integers(min_value=1, max_value=40),
)
def test_littles_law_holds_everywhere(
    lam_frac: float, mean_service: float, ca2: float, cs2: float, c: int
) -> None:
    lam = lam_frac * c / mean_service
    results = [
        mmc(lam, 1.0 / mean_service, c),
        mgc(lam, mean_service, cs2, c),
        gigc(lam, ca2, mean_service, cs2, c),
    ]
    if c == 1:
        results += [mm1(lam, 1.0 / mean_service), mg1(lam, mean_service, cs2)]
        results.append(md1(lam, mean_service))
    for m in results:
        assert m.mean_in_system == pytest.approx(m.arrival_rate * m.mean_response)
        assert m.mean_queue == pytest.approx(m.arrival_rate * m.mean_wait)
        assert m.mean_response == pytest.approx(m.mean_wait + mean_service)
        assert 0.0 <= m.p_wait <= 1.0
        assert 0.0 <= m.utilization < 1.0


# Distributions of wait and response


def test_mm1_response_quantile_closed_form() -> None:
    # T ~ Exp(μ − λ): the median is ln 2 / (μ − λ).
    assert mm1_response_quantile(3.0, 5.0, 0.5) == pytest.approx(math.log(2) / 2)
    assert mm1_response_quantile(3.0, 5.0, 0.0) == 0.0


def test_mmc_wait_tail_at_zero_is_erlang_c_and_integrates_to_mean_wait() -> None:
    lam, mu, c = 7.0, 2.0, 5
    assert mmc_wait_tail(lam, mu, c, 0.0) == pytest.approx(erlang_c(c, lam / mu))
    area = quad(lambda t: mmc_wait_tail(lam, mu, c, t), 0.0, math.inf)[0]
    assert area == pytest.approx(mmc(lam, mu, c).mean_wait, rel=1e-8)


@pytest.mark.parametrize(("lam", "mu", "c"), [(7.0, 2.0, 5), (1.0, 1.0, 2), (0.5, 1.0, 1)])
def test_mmc_response_cdf_integrates_to_mean_response(lam: float, mu: float, c: int) -> None:
    area = quad(lambda t: 1.0 - mmc_response_cdf(lam, mu, c, t), 0.0, math.inf)[0]
    assert area == pytest.approx(mmc(lam, mu, c).mean_response, rel=1e-8)


def response_cdf_by_convolution(lam: float, mu: float, c: int, t: float) -> float:
    """P(wait + service ≤ t), convolving numerically instead of using the closed form."""
    p_wait = erlang_c(c, lam / mu)
    theta = c * mu - lam
    waited = quad(lambda s: theta * math.exp(-theta * s) * -math.expm1(-mu * (t - s)), 0.0, t)[0]
    return (1 - p_wait) * -math.expm1(-mu * t) + p_wait * waited


@pytest.mark.parametrize(
    ("lam", "mu", "c"),
    [
        (1.0, 1.0, 2),  # cμ − λ == μ: the Erlang-2 case
        (1.0 + 1e-9, 1.0, 2),  # right beside it, where a naive formula cancels badly
        (1.8, 1.0, 2),  # cμ − λ < μ
        (7.0, 2.0, 5),
    ],
)
@pytest.mark.parametrize("t", [0.01, 0.5, 2.0, 10.0])
def test_mmc_response_cdf_matches_convolution(lam: float, mu: float, c: int, t: float) -> None:
    expected = response_cdf_by_convolution(lam, mu, c, t)
    assert mmc_response_cdf(lam, mu, c, t) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_mmc_response_cdf_far_tail_is_one_not_nan() -> None:
    assert mmc_response_cdf(1.8, 1.0, 2, 1e6) == 1.0
    assert mmc_response_cdf(1.8, 1.0, 2, 0.0) == 0.0


@pytest.mark.parametrize("q", [0.01, 0.5, 0.9, 0.99, 0.999])
@pytest.mark.parametrize(("lam", "mu", "c"), [(7.0, 2.0, 5), (1.0, 1.0, 2), (95.0, 1.0, 100)])
def test_mmc_response_quantile_inverts_cdf(lam: float, mu: float, c: int, q: float) -> None:
    t = mmc_response_quantile(lam, mu, c, q)
    assert mmc_response_cdf(lam, mu, c, t) == pytest.approx(q, rel=1e-9)


@pytest.mark.parametrize("q", [0.1, 0.5, 0.95, 0.999])
def test_mmc_response_quantile_single_server_is_mm1(q: float) -> None:
    assert mmc_response_quantile(3.0, 5.0, 1, q) == pytest.approx(
        mm1_response_quantile(3.0, 5.0, q), rel=1e-9
    )


def test_mmc_response_quantile_small_time_units() -> None:
    # Rates per second with millisecond responses: brentq's tolerance must be relative, not 2e-12.
    t = mmc_response_quantile(900.0, 100.0, 10, 0.99)
    assert mmc_response_cdf(900.0, 100.0, 10, t) == pytest.approx(0.99, rel=1e-9)


@given(
    t1=st.floats(min_value=0.0, max_value=50.0),
    t2=st.floats(min_value=0.0, max_value=50.0),
    lam_frac=st.floats(min_value=0.0, max_value=0.99),
    c=st.integers(min_value=1, max_value=20),
)
def test_mmc_response_cdf_is_a_nondecreasing_probability(
    t1: float, t2: float, lam_frac: float, c: int
) -> None:
    low, high = sorted((t1, t2))
    lam = lam_frac * c
    f_low = mmc_response_cdf(lam, 1.0, c, low)
    f_high = mmc_response_cdf(lam, 1.0, c, high)
    assert 0.0 <= f_low <= f_high + 1e-12 <= 1.0 + 1e-12


# Fork-join and bottleneck


def test_expected_max_of_identical_exponentials_is_harmonic() -> None:
    for n in (1, 2, 5, 30):
        harmonic = sum(1 / k for k in range(1, n + 1))
        assert expected_max_exponential([2.0] * n) == pytest.approx(2.0 * harmonic)


def test_expected_max_of_two_exponentials() -> None:
    a, b = 1.0, 3.0
    assert expected_max_exponential([a, b]) == pytest.approx(a + b - 1 / (1 / a + 1 / b))


def test_expected_max_matches_integral() -> None:
    means = [0.3, 1.0, 2.5, 4.0]

    def survival(t: float) -> float:
        return 1.0 - math.prod(1.0 - math.exp(-t / m) for m in means)

    assert expected_max_exponential(means) == pytest.approx(quad(survival, 0, math.inf)[0])


def test_expected_max_many_distinct_means() -> None:
    # Twenty means all but equal: the answer must be the harmonic number to high accuracy.
    means = [1.0 + i * 1e-9 for i in range(20)]
    harmonic = sum(1 / k for k in range(1, 21))
    assert expected_max_exponential(means) == pytest.approx(harmonic, rel=1e-6)


def test_expected_max_edge_cases() -> None:
    assert expected_max_exponential([]) == 0.0
    assert expected_max_exponential([0.0, 0.0]) == 0.0
    assert expected_max_exponential([0.0, 2.0]) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="mean"):
        expected_max_exponential([1.0, -1.0])


def test_bottleneck_picks_the_station_with_least_headroom() -> None:
    demands = {
        "lb": (0.0, 1.0),
        "api": (2 * 0.010, 4.0),  # 200 per time unit
        "db": (0.6 * 0.004, 1.0),  # about 417
        "cache": (1.0 * 0.001, 1.0),  # 1000
    }
    throughput, name = bottleneck_throughput(demands)
    assert name == "api"
    assert throughput == pytest.approx(200.0)


def test_bottleneck_moves_when_capacity_is_added() -> None:
    demands = {"api": (0.020, 16.0), "db": (0.0024, 1.0)}
    throughput, name = bottleneck_throughput(demands)
    assert name == "db"
    assert throughput == pytest.approx(1 / 0.0024)


def test_bottleneck_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="no station"):
        bottleneck_throughput({"lb": (0.0, 1.0)})
    with pytest.raises(ValueError, match="no station"):
        bottleneck_throughput({})
    with pytest.raises(ValueError, match="db: capacity"):
        bottleneck_throughput({"db": (0.1, 0.0)})
    with pytest.raises(ValueError, match="api: demand"):
        bottleneck_throughput({"api": (-0.1, 1.0)})
