"""Sweeps: one row per grid point, the same wherever the points run."""

from __future__ import annotations

import json
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

import pytest

from scaleplan.engine import simulate
from scaleplan.errors import SpecError
from scaleplan.experiments import parse_grid_values, sweep
from scaleplan.spec import parse_spec

GRID = {"components.api.replicas": [1, 2], "workload.rate_per_s": [40, 120]}


def cluster():
    """A load balancer in front of exponential replicas (10 ms): capacity 100/s per replica."""
    return parse_spec(
        {
            "name": "cluster",
            "workload": {"rate_per_s": 40, "requests": 3000},
            "entry": "lb",
            "components": {
                "lb": {"kind": "load_balancer", "policy": "random", "to": "api"},
                "api": {
                    "kind": "service",
                    "replicas": 1,
                    "service_time": {"dist": "exponential", "mean_ms": 10},
                },
            },
        }
    )


class InOrderExecutor:
    """The smallest executor-like object: ``submit`` runs at once and returns a future."""

    def __init__(self) -> None:
        self.submitted = 0

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.submitted += 1
        future: Future[Any] = Future()
        future.set_result(fn(*args, **kwargs))
        return future


def _comparable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in row.items() if k != "wall_time_s"} for row in rows]


@pytest.fixture(scope="module")
def inline():
    return sweep(cluster(), GRID, seed=3, workers=1)


def test_one_row_per_point_in_grid_order(inline):
    rows = inline.records()
    assert [(r["components.api.replicas"], r["workload.rate_per_s"]) for r in rows] == [
        (1, 40),
        (1, 120),
        (2, 40),
        (2, 120),
    ]
    assert inline.keys == tuple(GRID)
    # One replica cannot carry 120/s: that point is reported, not raised, and the rest run.
    assert [r["stable"] for r in rows] == [True, False, True, True]
    assert "unstable" in rows[1]["error"] and inline.failures == 1
    # Two replicas at 120/s: each gets 60/s, an M/M/1 at ρ = 0.6 (mean response 25 ms).
    assert rows[3]["mean_ci95_low"] <= 25.0 <= rows[3]["mean_ci95_high"]
    json.dumps(inline.to_dict(), allow_nan=False)


def test_utilization_interval_covers_the_analytic_value():
    # Sweep rows carry the utilisation as a point only, so the point is simulated directly with
    # replications, which gives its 95% CI: 60/s per replica × 10 ms is ρ = 0.6.
    point = cluster().with_changes({"components.api.replicas": 2, "workload.rate_per_s": 120})
    result = simulate(point, seed=3, replications=5)
    low, high = result.components["api"].utilization_ci95
    assert low <= 0.6 <= high


def test_local_processes_give_the_same_rows(inline):
    parallel = sweep(cluster(), GRID, seed=3, workers=2)
    assert _comparable(parallel.records()) == _comparable(inline.records())


def test_any_executor_gives_the_same_rows(inline):
    own = InOrderExecutor()
    by_hand = sweep(cluster(), GRID, seed=3, executor=own)
    assert own.submitted == 4
    assert _comparable(by_hand.records()) == _comparable(inline.records())
    with ThreadPoolExecutor(max_workers=2) as threads:
        threaded = sweep(cluster(), GRID, seed=3, executor=threads)
    assert _comparable(threaded.records()) == _comparable(inline.records())
    with ProcessPoolExecutor(max_workers=2) as processes:
        progress: list[tuple[int, int]] = []
        pooled = sweep(
            cluster(),
            GRID,
            seed=3,
            executor=processes,
            progress=lambda done, total: progress.append((done, total)),
        )
    assert _comparable(pooled.records()) == _comparable(inline.records())
    assert progress[-1] == (4, 4)


@pytest.mark.slow
def test_a_dask_client_gives_the_same_rows(inline):
    distributed = pytest.importorskip("distributed")
    with distributed.Client(
        processes=False, n_workers=1, threads_per_worker=2, dashboard_address=":0"
    ) as client:
        remote = sweep(cluster(), GRID, seed=3, executor=client)
    assert _comparable(remote.records()) == _comparable(inline.records())


def test_bad_key_paths_fail_before_anything_runs():
    own = InOrderExecutor()
    with pytest.raises(SpecError, match=r"components\.api\.replicaz: unknown key 'replicaz'"):
        sweep(cluster(), {"components.api.replicaz": [1, 2]}, executor=own)
    with pytest.raises(SpecError, match=r"components\.api\.replicas: must be at least 1"):
        sweep(cluster(), {"components.api.replicas": [2, 0]}, executor=own)
    with pytest.raises(SpecError, match="no values"):
        sweep(cluster(), {"components.api.replicas": []}, executor=own)
    assert own.submitted == 0


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("2:5", [2, 3, 4, 5]),
        ("2:12:5", [2, 7, 12]),
        ("0.5:1.5:0.5", [0.5, 1.0, 1.5]),
        ("100, 200,300", [100, 200, 300]),
        ("round_robin,random", ["round_robin", "random"]),
        ("7", [7]),
    ],
)
def test_grid_values_from_the_command_line(text: str, values: list[Any]):
    assert parse_grid_values(text) == values


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no values"),
        ("5:2", "start <= stop"),
        ("1:2:3:4", "start:stop"),
        ("a:b", "needs numbers"),
        ("1:2:0", "step above 0"),
    ],
)
def test_bad_grid_values_say_what_was_wrong(text: str, message: str):
    with pytest.raises(ValueError, match=message):
        parse_grid_values(text)
