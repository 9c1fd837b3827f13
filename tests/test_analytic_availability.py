"""Availability closed forms against hand-computed values and the binomial distribution."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import binom

from scaleplan.analytic.availability import (
    MINUTES_PER_MONTH,
    downtime_minutes_per_month,
    k_of_n,
    parallel,
    series,
    steady_state,
)

availabilities = st.floats(min_value=0.0, max_value=1.0)


def test_steady_state() -> None:
    assert steady_state(999.0, 1.0) == pytest.approx(0.999)
    assert steady_state(720.0, 0.0) == 1.0


@pytest.mark.parametrize(("mtbf", "mttr"), [(0.0, 1.0), (-1.0, 1.0), (10.0, -1.0)])
def test_steady_state_rejects_bad_times(mtbf: float, mttr: float) -> None:
    with pytest.raises(ValueError, match=r"mtbf|mttr"):
        steady_state(mtbf, mttr)


def test_series_and_parallel() -> None:
    assert series(0.99, 0.99, 0.99) == pytest.approx(0.99**3)
    assert parallel(0.99, 0.99) == pytest.approx(1 - 0.01**2)
    assert series(0.9) == pytest.approx(0.9)
    assert parallel(0.9) == pytest.approx(0.9)


def test_compositions_need_at_least_one_component() -> None:
    with pytest.raises(ValueError, match="series"):
        series()
    with pytest.raises(ValueError, match="parallel"):
        parallel()


@pytest.mark.parametrize("a", [-0.1, 1.1])
def test_availability_out_of_range_is_rejected(a: float) -> None:
    with pytest.raises(ValueError, match="availability must be in"):
        series(a)
    with pytest.raises(ValueError, match="availability must be in"):
        k_of_n(1, 2, a)
    with pytest.raises(ValueError, match="availability must be in"):
        downtime_minutes_per_month(a)


def test_k_of_n_textbook_two_of_three() -> None:
    # 3a²(1 − a) + a³ at a = 0.9
    assert k_of_n(2, 3, 0.9) == pytest.approx(3 * 0.81 * 0.1 + 0.729)


@given(a=availabilities)
def test_one_of_three_is_parallel(a: float) -> None:
    assert k_of_n(1, 3, a) == pytest.approx(1 - (1 - a) ** 3)
    assert k_of_n(1, 3, a) == pytest.approx(parallel(a, a, a))


@given(a=availabilities, n=st.integers(min_value=1, max_value=12))
def test_n_of_n_is_series(a: float, n: int) -> None:
    assert k_of_n(n, n, a) == pytest.approx(a**n)
    assert k_of_n(0, n, a) == pytest.approx(1.0)


@given(a=availabilities, n=st.integers(min_value=1, max_value=30), data=st.data())
def test_k_of_n_matches_binomial_tail_and_falls_with_k(
    a: float, n: int, data: st.DataObject
) -> None:
    k = data.draw(st.integers(min_value=1, max_value=n))
    assert k_of_n(k, n, a) == pytest.approx(binom.sf(k - 1, n, a), abs=1e-12)
    assert k_of_n(k, n, a) <= k_of_n(k - 1, n, a) + 1e-12


@pytest.mark.parametrize(("k", "n"), [(4, 3), (-1, 3), (1, 0)])
def test_k_of_n_rejects_impossible_counts(k: int, n: int) -> None:
    with pytest.raises(ValueError, match="must be"):
        k_of_n(k, n, 0.9)


def test_downtime_uses_a_thirty_day_month() -> None:
    assert MINUTES_PER_MONTH == 43_200
    assert downtime_minutes_per_month(0.999) == pytest.approx(43.2)
    assert downtime_minutes_per_month(0.9999) == pytest.approx(4.32)
    assert downtime_minutes_per_month(1.0) == 0.0
