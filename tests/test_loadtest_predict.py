"""A step's prediction: CIs across replications that cover M/M/1's exact figures."""

from __future__ import annotations

import math

from scaleplan.loadtest.predict import _window, predict
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


def test_a_window_range_holds_what_one_window_of_the_model_shows() -> None:
    # M/M/1 at 50/s, a step measured for 8 s after 2 s of settling: about 400 requests.
    spec = example_spec()
    slos = [parse_slo("p99<=200ms")]
    [step] = predict(spec, [50.0], slos, seed=3, replications=5, requests=8000, window=(2.0, 8.0))
    for figure in ("throughput_per_s", "mean_ms", "p95_ms", "p99_ms"):
        band = step.predicted[figure]
        assert band.window_low is not None and band.window_high is not None, figure
        # One window scatters more than the long-run mean is uncertain.
        assert band.window_low < band.low <= band.high < band.window_high, (figure, band)
    # The range is each figure's 2.5-97.5% quantiles over 40 simulated windows: fresh windows
    # (other seeds) fall in it about 95% of the time; 32 of 40 or more is asked (the chance of
    # fewer, at 95%, is about 1e-4).
    fresh = [_window(spec, 500 + seed, 50.0, 2.0, 8.0, 2_000) for seed in range(40)]
    for figure in ("throughput_per_s", "mean_ms"):
        band = step.predicted[figure]
        assert band.window_low is not None and band.window_high is not None
        values = [
            run.result.throughput_per_s
            if figure == "throughput_per_s"
            else run.result.latency_ms.mean
            for run in fresh
            if run.result is not None
        ]
        inside = sum(band.window_low <= value <= band.window_high for value in values)
        assert len(values) == 40 and inside >= 32, (figure, inside)


def test_windows_too_large_to_simulate_cheaply_get_no_range() -> None:
    [step] = predict(
        example_spec(),
        [50.0],
        [parse_slo("p99<=200ms")],
        seed=3,
        replications=2,
        requests=3000,
        window=(15.0, 120.0),  # 6,750 requests a window: beyond WINDOW_MAX_REQUESTS
    )
    assert all(band.window_low is None for band in step.predicted.values())
