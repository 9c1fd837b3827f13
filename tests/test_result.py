"""The result record's JSON contract (docs/architecture.md) and its typed parts.

The keys of a simulation's and an estimate's JSON are pinned here, and one bundled example's
whole JSON under a fixed seed: a change to the record's types or to the engine's steps must
leave both as they are (same seed, same JSON, byte for byte).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scaleplan.analytic import estimate
from scaleplan.engine import simulate
from scaleplan.result import ComponentSeries, RunInfo, SystemSeries, TimeSeries
from scaleplan.spec import load_spec

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).parent / "data" / "golden" / "shop-lb-cache-seed5-2000.json"

TOP_KEYS = [
    "spec",
    "seed",
    "stable",
    "warnings",
    "requests",
    "throughput_per_s",
    "latency_ms",
    "components",
    "classes",
    "unstable",
    "rate_per_s",
    "method",
    "run",
    "timeseries",
]
RUN_KEYS = ["replications", "warmup", "warmup_s", "measured_s", "simulated_s", "ci_method"]
SERIES_KEYS = ["bucket_s", "t_s", "system", "components"]
SYSTEM_KEYS = ["arrivals_per_s", "throughput_per_s", "errors_per_s", "p50_ms", "p99_ms"]
COMPONENT_KEYS = [
    "throughput_per_s",
    "errors_per_s",
    "p50_ms",
    "p99_ms",
    "utilization",
    "mean_queue",
    "replicas",
]


@pytest.fixture(scope="module")
def spec():
    return load_spec(ROOT / "data" / "architectures" / "shop-lb-cache.yaml")


@pytest.fixture(scope="module")
def simulated(spec):
    return simulate(spec, seed=5, requests=2000)


def test_simulation_json_keys_are_pinned(simulated):
    data = json.loads(simulated.to_json())
    assert list(data) == TOP_KEYS
    assert list(data["run"]) == RUN_KEYS
    assert data["run"]["ci_method"] == "batch means"
    assert isinstance(data["run"]["warmup_s"], list)
    assert list(data["timeseries"]) == SERIES_KEYS
    assert list(data["timeseries"]["system"]) == SYSTEM_KEYS
    assert list(data["timeseries"]["components"]) == list(data["components"])
    for series in data["timeseries"]["components"].values():
        assert list(series) == COMPONENT_KEYS
        assert all(len(values) == len(data["timeseries"]["t_s"]) for values in series.values())
    without = json.loads(simulated.to_json(timeseries=False))
    assert list(without) == TOP_KEYS[:-1]


def test_estimate_json_keys_are_pinned(spec):
    data = json.loads(estimate(spec).to_json())
    assert list(data) == TOP_KEYS
    # An estimate has no run and no time series: both are written as empty objects.
    assert data["run"] == {}
    assert data["timeseries"] == {}
    assert list(json.loads(estimate(spec).to_json(timeseries=False))) == TOP_KEYS[:-1]


def test_simulation_json_is_pinned_for_a_fixed_seed(simulated):
    """The whole JSON of one bundled example, seed 5, 2000 requests, byte for byte.

    If an intended change to the engine's figures breaks this, write the file again with
    ``simulate(spec, seed=5, requests=2000).to_json(indent=None)`` and say why in the commit.
    """
    assert simulated.to_json(indent=None) == GOLDEN.read_text().strip()


def test_run_and_series_are_typed(simulated, spec):
    run, series = simulated.run, simulated.timeseries
    assert isinstance(run, RunInfo)
    assert run.replications == 1 and len(run.warmup_s) == 1
    assert run.measured_s <= run.simulated_s
    assert isinstance(series, TimeSeries)
    assert isinstance(series.system, SystemSeries)
    assert set(series.components) == set(simulated.components)
    assert all(isinstance(item, ComponentSeries) for item in series.components.values())
    assert len(series.system.arrivals_per_s) == len(series.t_s)
    assert series.bucket_s > 0
    analytic = estimate(spec)
    assert analytic.run is None and analytic.timeseries is None


def test_replications_fill_run_info(spec):
    result = simulate(spec, seed=2, requests=600, replications=2)
    assert result.run is not None
    assert result.run.replications == 2 and result.run.ci_method == "replications"
    assert len(result.run.warmup_s) == 2
    assert json.loads(result.to_json())["run"]["warmup_s"] == list(result.run.warmup_s)
