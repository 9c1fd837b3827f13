"""The fit report: the observed figures' distribution-free CIs cover the truth as often as they
claim, and the calibrated model's run reproduces its own parameters (its mean's 95% CI covers
the spec's exact mean where no request waits) beside the observation."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from _telemetry import write_otlp

from scaleplan.calibrate import calibrate
from scaleplan.calibrate.report import observed_figures


def test_observed_percentile_intervals_cover() -> None:
    # Exponential(1) samples of 400: the exact p95 is ln 20. The binomial order-statistic
    # interval holds at least 95%; over 200 seeds that is at least 181 with 3 sd to spare.
    truth = math.log(20)
    covered = 0
    for seed in range(200):
        x = np.random.default_rng(seed).exponential(1.0, 400)
        low, high = observed_figures(x)["p95"][1]
        covered += low <= truth <= high
    assert covered >= 200 * 0.95 - 3 * math.sqrt(200 * 0.95 * 0.05)


def test_model_reproduces_its_parameters(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    write_otlp(path, requests=800, orders_probability=0.5, seed=21)
    pools = {"gateway": 64, "catalog": 64, "orders": 64}
    calibration = calibrate([path], concurrency=pools)
    report = calibration.report(replications=3, seed=2)
    spec = calibration.spec
    # At 20/s with 64 slots a request (almost) never waits: the exact mean is the sum of the
    # own means weighted by the visits (Erlang C's waiting probability here is below 1e-40).
    own = {name: c.service_time.mean_value_ms() for name, c in spec.components.items()}
    exact = (
        own["gateway"]
        + own["catalog"]
        + spec.components["gateway"].calls[1].probability * own["orders"]
    )
    mean = next(f for f in report.figures if f.name == "mean")
    low, high = mean.model_ci95
    assert low <= exact <= high
    # The observed mean's t interval covers the generator's exact mean: 1 + 0.2 + 0.4 × 1.5
    # (gateway's work and network gaps) + 8 e^{0.125} (catalog) + 0.5 × 20 (orders).
    truth = 1.0 + 0.2 + 0.4 * 1.5 + 8 * math.exp(0.125) + 0.5 * 20.0
    o_low, o_high = mean.observed_ci95
    assert o_low <= truth <= o_high
    data = json.loads(report.to_json())
    assert [f["name"] for f in data["figures"]] == ["mean", "p50", "p95", "p99"]
    assert {"error", "ci_overlap"} <= set(data["figures"][0])
    markdown = report.to_markdown()
    assert "| mean |" in markdown and "| catalog | 800 |" in markdown


def test_an_overloaded_calibration_is_reported_not_refused(tmp_path: Path) -> None:
    # 150 requests/s through one catalog slot of ~9 ms: offered load 1.4, certainly unstable.
    path = tmp_path / "busy.jsonl"
    write_otlp(path, requests=300, rate_per_s=150.0, seed=9)
    calibration = calibrate([path], concurrency={"catalog": 1})
    report = calibration.report(replications=2)
    assert report.warnings[0] == "the model is unstable at the observed rate"
    assert "the model is unstable" in report.to_markdown()
