"""A step's prediction: CIs across replications that cover M/M/1's exact figures."""

from __future__ import annotations

import math

from scaleplan.loadtest.predict import predict
from scaleplan.parallel import process_pool
from scaleplan.spec import example_spec, parse_slo


def test_the_bands_cover_the_exact_m_m_1_figures_and_do_not_depend_on_workers() -> None:
    spec = example_spec()  # M/M/1, exponential 10 ms: mu = 100/s
    slos = [parse_slo("p99<=200ms")]
    [serial] = predict(spec, [50.0], slos, seed=21, replications=5, requests=8000)
    pool = process_pool(2, 5)
    try:
        [pooled] = predict(
            spec, [50.0], slos, seed=21, replications=5, requests=8000, executor=pool
        )
    finally:
        if pool is not None:
            pool.shutdown()
    assert pooled == serial
    # The response time of M/M/1 is exponential with rate mu - lambda = 50/s.
    exact = {
        "mean_ms": 1000.0 / 50.0,
        "p50_ms": 1000.0 * math.log(2.0) / 50.0,
        "p95_ms": 1000.0 * math.log(20.0) / 50.0,
        "p99_ms": 1000.0 * math.log(100.0) / 50.0,
        "throughput_per_s": 50.0,
    }
    for figure, value in exact.items():
        band = serial.predicted[figure]
        assert band.low <= value <= band.high, (figure, band, value)
    assert serial.predicted["error_rate"].high == 0.0
    assert serial.busiest == "api"
    assert serial.busiest_utilization is not None
    assert abs(serial.busiest_utilization - 0.5) < 0.05
    assert serial.meets_slos and serial.stable


def test_a_rate_past_capacity_is_overloaded() -> None:
    [over] = predict(
        example_spec(),
        [150.0],
        [parse_slo("p99<=200ms")],
        seed=1,
        replications=2,
        requests=3000,
        bound_per_s=100.0,
    )
    assert not over.stable and not over.meets_slos
    assert set(over.predicted) == {"throughput_per_s"}
    assert over.predicted["throughput_per_s"].mean <= 100.0 * 1.05
    assert any("overloaded" in note for note in over.notes)
