"""Derivation on a synthetic recording of a known model (tests/_telemetry.py): the call
graph and its probabilities, sequential vs parallel fan-out, own times exactly as drawn, the
rate (its 95% CI covers the generator's), the class mix, concurrency; an hourly profile."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from _telemetry import write_otlp
from scipy import stats

from scaleplan.calibrate.derive import derive, hourly_profile, model_name
from scaleplan.calibrate.read import read_all

N = 600


@pytest.fixture(scope="module")
def sequential(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    path = tmp_path_factory.mktemp("seq") / "traces.jsonl"
    truth = write_otlp(path, requests=N, orders_probability=0.3, seed=11)
    return truth, derive(read_all([path]))


def test_call_graph_and_probabilities(sequential: tuple) -> None:
    truth, derived = sequential
    gateway = derived.services["gateway"]
    assert [c.to for c in gateway.calls] == ["catalog", "orders"]  # in the order made
    catalog, orders = gateway.calls
    assert catalog.per_visit == 1.0
    assert orders.calls == truth.calls[("gateway", "orders")]
    assert orders.per_visit == orders.calls / N
    # The derived share is the drawn one; the drawn one is a binomial sample of 0.3.
    low, high = stats.binomtest(orders.calls, N).proportion_ci(0.95)
    assert low <= 0.3 <= high
    assert not gateway.parallel and gateway.parallel_visits == 0
    assert derived.services["catalog"].calls == [] and derived.entry == "gateway"
    assert [(c.name, c.label, c.count) for c in derived.classes] == [("GET-order", "GET /order", N)]


def test_own_times_are_the_drawn_ones(sequential: tuple) -> None:
    truth, derived = sequential
    for service, drawn in truth.own_ms.items():
        own = derived.services[service].own_ms
        assert own is not None
        np.testing.assert_allclose(np.sort(own), np.sort(drawn), atol=1e-6)


def test_rate_and_concurrency(sequential: tuple) -> None:
    truth, derived = sequential
    # Poisson arrivals at 20/s: (n − 1) gaps over the window; exact CI from the gamma law.
    gaps = N - 1
    window = gaps / derived.rate_per_s
    low = stats.gamma.ppf(0.025, gaps) / window
    high = stats.gamma.ppf(0.975, gaps) / window
    assert low <= 20.0 <= high
    assert window == pytest.approx(truth.last_s - truth.first_s, rel=1e-9)
    for fig in derived.services.values():
        assert fig.concurrency_max is not None and fig.concurrency_max >= 1
        # Little's law on the visits: mean in service = visits × mean span / time observed.
        assert 0 < fig.concurrency_mean <= fig.concurrency_max
    assert derived.profile is None  # 30 s of data: no hourly profile


def test_parallel_fan_out(tmp_path: Path) -> None:
    path = tmp_path / "par.jsonl"
    truth = write_otlp(path, requests=300, orders_probability=1.0, parallel=True, seed=5)
    derived = derive(read_all([path]))
    gateway = derived.services["gateway"]
    assert gateway.parallel and gateway.parallel_visits == gateway.multi_call_visits == 300
    own = gateway.own_ms
    assert own is not None
    np.testing.assert_allclose(np.sort(own), np.sort(truth.own_ms["gateway"]), atol=1e-6)


def test_hourly_profile() -> None:
    # Three hours at 1, 2 and 3 arrivals per 10 s, the last hour observed for 30 minutes.
    times = np.concatenate(
        [
            np.arange(0, 3600, 10.0),
            3600 + np.arange(0, 3600, 5.0),
            7200 + np.arange(0, 1800, 10 / 3),
        ]
    )
    found = hourly_profile(times)
    assert found is not None
    profile, period = found
    assert period == 3 * 3600
    assert np.array(profile) == pytest.approx(np.array([1, 2, 3]) / 2, rel=2e-3)
    assert hourly_profile(np.arange(0, 3600, 1.0)) is None
    # Two days fold onto the hours of the day.
    days = np.arange(0, 2 * 86_400, 60.0)
    folded = hourly_profile(days)
    assert folded is not None and folded[1] == 86_400 and len(folded[0]) == 24
    # Within one arrival of the 60 an hour holds: the data's last hour is observed up to its
    # last arrival (3,540 s of 3,600 with all 60 arrivals).
    assert all(math.isclose(v, 1.0, rel_tol=1 / 60 + 1e-9) for v in folded[0])
    assert sum(math.isclose(v, 1.0, rel_tol=1e-3) for v in folded[0]) >= 22


def test_model_name() -> None:
    taken: set[str] = set()
    assert model_name("GET /a", taken) == "GET-a"
    assert model_name("GET /a?", taken) == "GET-a-2"
    assert model_name("/", None, prefix="c") == "c"
