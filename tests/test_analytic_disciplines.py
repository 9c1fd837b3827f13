"""The closed forms of scaleplan.analytic.disciplines (processor sharing, limited PS) and what
the estimate makes of ``discipline`` (its station figures, exactness and warnings)."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from scaleplan.analytic import estimate
from scaleplan.analytic.disciplines import mg1_ps, mgc_ps, ps_station
from scaleplan.analytic.queues import UnstableError, erlang_c, mg1, mm1, mmc
from scaleplan.spec import ArchitectureSpec


@pytest.mark.parametrize("rho", [0.1, 0.5, 0.8, 0.95])
def test_mg1_ps_mean_sojourn_is_service_over_one_minus_rho(rho: float) -> None:
    mean = 0.010
    metrics = mg1_ps(rho / mean, mean)
    assert metrics.mean_response == pytest.approx(mean / (1 - rho), rel=1e-12)
    # wait + service = sojourn, and Little's law on the requests beyond the processor.
    assert metrics.mean_wait == pytest.approx(metrics.mean_response - mean, rel=1e-12)
    assert metrics.mean_queue == pytest.approx(metrics.arrival_rate * metrics.mean_wait)
    assert metrics.exact and metrics.utilization == pytest.approx(rho)
    # One processor: M/M/1's figures, whatever the service distribution.
    assert metrics.mean_response == pytest.approx(mm1(rho / mean, 1 / mean).mean_response)


def test_mg1_ps_beats_pollaczek_khinchine_when_service_varies_more_than_exponential() -> None:
    lam, mean = 80.0, 0.010
    ps = mg1_ps(lam, mean).mean_response
    assert mg1(lam, mean, 4.0).mean_response > ps  # scv 4: FIFO is worse
    assert mg1(lam, mean, 1.0).mean_response == pytest.approx(ps)  # scv 1: the same mean
    assert mg1(lam, mean, 0.0).mean_response < ps  # constant: FIFO is better


@pytest.mark.parametrize(("lam", "c"), [(1.0, 2), (3.2, 4), (7.5, 8)])
def test_mgc_ps_is_erlang_c(lam: float, c: int) -> None:
    mu = 1.0
    metrics = mgc_ps(lam, 1 / mu, c)
    a = lam / mu
    expected_wait = erlang_c(c, a) / (c * mu - lam)
    assert metrics.mean_wait == pytest.approx(expected_wait, rel=1e-12)
    assert metrics.mean_response == pytest.approx(1 / mu + expected_wait, rel=1e-12)
    assert metrics.p_wait == pytest.approx(erlang_c(c, a))
    assert metrics.exact and "PS" in metrics.method


def test_limited_ps_is_exact_for_exponential_service_only() -> None:
    unlimited = ps_station(3.0, 1.0, 6.25, 4, None)
    assert unlimited.exact and unlimited == mgc_ps(3.0, 1.0, 4)
    exponential = ps_station(3.0, 1.0, 1.0, 4, 5)
    assert exponential.exact and exponential.mean_response == unlimited.mean_response
    general = ps_station(3.0, 1.0, 6.25, 4, 5)
    assert not general.exact and "approximated by M/M/4" in general.method
    assert general.mean_response == unlimited.mean_response


def test_ps_beyond_capacity_is_unstable() -> None:
    with pytest.raises(UnstableError):
        mg1_ps(100.0, 0.010)
    with pytest.raises(UnstableError):
        mgc_ps(4.0, 1.0, 4)


# --------------------------------------------------------------------------- the estimate


def test_the_estimate_of_a_ps_service_is_the_ps_sojourn_with_its_wait_and_no_percentiles(
    make_service_spec: Callable[..., ArchitectureSpec],
) -> None:
    spec = make_service_spec(80.0, 10.0, dist="gamma", cv=2.0, discipline="ps")
    result = estimate(spec)
    assert result.latency_ms.mean == pytest.approx(1e3 * mg1_ps(80.0, 0.010).mean_response)
    api = result.components["api"]
    assert api.wait_ms == pytest.approx(result.latency_ms.mean - 10.0)
    assert api.utilization == pytest.approx(0.8)
    assert api.mean_queue == pytest.approx(80.0 * api.wait_ms / 1e3)
    assert math.isnan(result.latency_ms.p99)
    assert "exact" in result.method and "PS" in result.method
    assert any("api: discipline ps" in warning for warning in result.warnings)


def test_the_estimate_of_a_lifo_service_keeps_fifos_means_but_gives_no_percentiles(
    make_service_spec: Callable[..., ArchitectureSpec],
) -> None:
    fifo = estimate(make_service_spec(80.0, 10.0, concurrency=2))
    lifo = estimate(make_service_spec(80.0, 10.0, concurrency=2, discipline="lifo"))
    assert lifo.latency_ms.mean == pytest.approx(fifo.latency_ms.mean, rel=1e-12)
    assert lifo.latency_ms.mean == pytest.approx(1e3 * mmc(80.0, 100.0, 2).mean_response)
    assert math.isfinite(fifo.latency_ms.p99) and math.isnan(lifo.latency_ms.p99)
    assert any("api: discipline lifo" in warning for warning in lifo.warnings)


def test_limited_ps_with_general_service_is_marked_approximate(
    make_service_spec: Callable[..., ArchitectureSpec],
) -> None:
    limited = estimate(
        make_service_spec(
            300.0, 10.0, dist="gamma", cv=2.0, concurrency=4, discipline="ps", admission_limit=6
        )
    )
    assert "approximate" in limited.method
    assert limited.latency_ms.mean == pytest.approx(1e3 * mmc(300.0, 100.0, 4).mean_response)
    assert any("approximated by M/M/4" in warning for warning in limited.warnings)


def test_a_ps_service_holding_during_calls_loads_its_processors_with_its_own_work_only(
    make_spec: Callable[..., ArchitectureSpec], make_service: Callable[..., dict[str, object]]
) -> None:
    components = {
        "api": make_service(10.0, discipline="ps", calls=[{"to": "db"}]),
        "db": make_service(5.0, concurrency=4),
    }
    result = estimate(make_spec(components, entry="api", rate_per_s=50.0))
    # Own work only on the processor (the FIFO surrogate would count the call: 0.5 + 0.25).
    assert result.components["api"].utilization == pytest.approx(0.5)
    db_span = result.components["db"].latency_ms.mean
    assert result.latency_ms.mean == pytest.approx(
        1e3 * mg1_ps(50.0, 0.010).mean_response + db_span
    )
