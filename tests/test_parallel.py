"""Parallel by default: the verbs spread their runs over the available cores, ``workers=1``
keeps them in this process, and the numbers are the same either way (each task has its own
seed; results come back in the order of the tasks)."""

from __future__ import annotations

import importlib
import json
from concurrent.futures import Future
from pathlib import Path
from typing import Any, ClassVar

import pytest
from typer.testing import CliRunner

import scaleplan.parallel as parallel
from scaleplan.cli import app
from scaleplan.errors import ScaleplanError
from scaleplan.experiments import CompareSettings, compare, pull
from scaleplan.formatting import json_safe
from scaleplan.spec import example_spec

ROOT = Path(__file__).resolve().parent.parent
SHOP = ROOT / "data" / "scenarios" / "online-shop.yaml"
#: A small comparison with a pull: every kind of task compare sends to a pool.
SMALL = CompareSettings(
    nfrs=["p99<=60ms"],
    replications=3,
    requests=1500,
    pull_replications=2,
    pull_requests=1500,
    precision=0.1,
)


def _candidates() -> dict[str, Any]:
    spec = example_spec()
    return {"one": spec, "two": spec.with_changes({"name": "two", "components.api.concurrency": 2})}


def _as_json(result: Any) -> str:
    return json.dumps(json_safe(result.to_dict()), sort_keys=True)


@pytest.fixture(scope="module")
def serial() -> Any:
    return compare(_candidates(), SMALL, workers=1)


def test_a_comparison_on_two_processes_equals_the_serial_one(serial: Any) -> None:
    spread = compare(_candidates(), SMALL, workers=2)
    assert serial.recommended == "two"
    assert serial.candidates[0].pull is not None  # the pull ran: its tasks went to the pool
    assert _as_json(spread) == _as_json(serial)


def test_a_comparison_on_dask_equals_the_serial_one(serial: Any) -> None:
    distributed = pytest.importorskip("distributed")
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=2) as client:
        on_dask = compare(_candidates(), SMALL, executor=client)
    assert _as_json(on_dask) == _as_json(serial)


def test_a_pull_on_two_processes_equals_the_serial_one() -> None:
    ticks: dict[int, list[int]] = {1: [], 2: []}
    results = {
        workers: pull(
            example_spec(),
            ["p99<=60ms"],
            requests=1500,
            replications=3,
            precision=0.05,
            curve=(0.5,),
            workers=workers,
            progress=lambda done, planned, workers=workers: ticks[workers].append(done),
        )
        for workers in (1, 2)
    }
    assert results[1].replications == 3 and len({s.replication for s in results[1].steps}) == 3
    assert _as_json(results[2]) == _as_json(results[1])
    assert ticks[2][-1] == ticks[1][-1]  # every step counted, if later


class _Recording:
    """Stands for ProcessPoolExecutor: records the pool asked for, runs tasks in-process."""

    made: ClassVar[list[int]] = []

    def __init__(self, max_workers: int, mp_context: Any = None) -> None:
        self.made.append(max_workers)

    def submit(self, fn: Any, /, *args: Any) -> Future[Any]:
        future: Future[Any] = Future()
        future.set_result(fn(*args))
        return future

    def shutdown(self, wait: bool = True) -> None:
        pass


@pytest.fixture
def three_cores(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """This process may use 3 cores (its affinity), though the machine may have more."""
    monkeypatch.setattr(parallel.os, "sched_getaffinity", lambda pid: {0, 2, 5}, raising=False)
    monkeypatch.setattr(parallel.os, "cpu_count", lambda: 64)
    _Recording.made = []
    monkeypatch.setattr(parallel, "ProcessPoolExecutor", _Recording)
    return _Recording.made


def test_the_default_is_every_core_of_the_affinity(three_cores: list[int]) -> None:
    assert parallel.available_cores() == 3
    compare(_candidates(), SMALL)
    assert three_cores == [3]


def test_one_worker_runs_in_this_process(three_cores: list[int]) -> None:
    compare(_candidates(), SMALL, workers=1)
    assert three_cores == []


def test_a_pool_has_at_most_one_process_per_task(three_cores: list[int]) -> None:
    assert parallel.process_pool(None, 1) is None
    parallel.process_pool(None, 2)
    parallel.process_pool(8, 20)
    assert three_cores == [2, 8]
    with pytest.raises(ValueError, match="workers must be at least 1"):
        parallel.process_pool(0, 5)


class _Stop(Exception):
    """Raised by the stand-ins below once they have seen their arguments."""


def test_decide_passes_its_workers_to_the_record(monkeypatch: pytest.MonkeyPatch) -> None:
    """``decide --workers`` reaches the template's comparison (None: every core)."""
    decide_module = importlib.import_module("scaleplan.report.decide")
    asked: list[Any] = []

    def fake_decide(*args: Any, **kwargs: Any) -> Any:
        asked.append(kwargs.get("workers"))
        raise _Stop

    monkeypatch.setattr(decide_module, "decide", fake_decide)
    runner = CliRunner()
    for extra, expected in (([], None), (["--workers", "1"], 1), (["--workers", "2"], 2)):
        done = runner.invoke(app, ["decide", str(SHOP), *extra])
        assert isinstance(done.exception, _Stop), done.output
        assert asked[-1] == expected
    done = runner.invoke(app, ["decide", str(SHOP), "--workers", "0"])
    assert done.exit_code == 2 and "--workers" in done.output


def test_compare_passes_its_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    import scaleplan.experiments as experiments

    asked: list[Any] = []

    def fake_compare(*args: Any, **kwargs: Any) -> Any:
        asked.append((kwargs.get("workers"), kwargs.get("executor")))
        raise _Stop

    monkeypatch.setattr(experiments, "compare", fake_compare)
    runner = CliRunner()
    for extra, expected in (([], None), (["--workers", "1"], 1)):
        done = runner.invoke(app, ["compare", str(SHOP), *extra])
        assert isinstance(done.exception, _Stop), done.output
        assert asked[-1] == (expected, None)


def test_an_unreachable_scheduler_is_a_clear_error() -> None:
    pytest.importorskip("distributed")
    import dask

    with (
        dask.config.set({"distributed.comm.timeouts.connect": "1s"}),
        pytest.raises(ScaleplanError, match=r"cannot reach the Dask scheduler at tcp://127\.0"),
        parallel.dask_client("tcp://127.0.0.1:9"),
    ):
        pass


@pytest.mark.parametrize(
    ("scenarios", "workers", "expected"),
    [(1, None, 3), (3, None, 1), (2, 1, 3), (4, 2, 1)],
)
def test_a_batch_gives_each_record_the_cores_its_scenarios_leave(
    three_cores: list[int],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    scenarios: int,
    workers: int | None,
    expected: int,
) -> None:
    """Three cores: one scenario's record takes them all, three side by side one each."""
    from _store_jobs import fake_job

    batch_module = importlib.import_module("scaleplan.report.batch")
    given: list[Any] = []

    def in_process(count: Any, pending: Any, runner: Any) -> Any:
        for index, job, run_id in pending:
            given.append(job["workers"])
            yield index, fake_job(job), run_id

    monkeypatch.setattr(batch_module, "_on_processes", in_process)
    monkeypatch.setenv("FAKE_JOB_S", "0")
    paths = []
    for index in range(scenarios):
        path = tmp_path / f"scenario-{index}.yaml"
        path.write_text(SHOP.read_text(encoding="utf-8"), encoding="utf-8")
        paths.append(path)
    result = batch_module.batch(paths, tmp_path / "out", workers=workers)
    assert result.ok
    assert given == [expected] * scenarios
