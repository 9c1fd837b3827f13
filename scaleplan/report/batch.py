"""``batch``: one decision record per scenario, on local processes or a Dask cluster, resumable.

Each scenario is one job — :func:`run_job`, a plain function of plain data that never raises:
it makes the record with :func:`~scaleplan.report.decide.decide` and returns a dict with the
status, the error (and the failed notebook) or the key metrics and artifact paths. Jobs run on
a local :class:`~concurrent.futures.ProcessPoolExecutor` or, given a scheduler address, on a
``distributed.Client``; only this process writes the :mod:`run store
<scaleplan.report.store>`, as each job ends.

Before submitting, every scenario's :class:`~scaleplan.report.provenance.RunKey` (the hashes
of every input) is claimed in the store (:meth:`~scaleplan.report.store.RunStore.claim`): a
scenario already done with the same inputs whose record is still there is skipped, so a batch
killed (even with SIGKILL) and started again finishes the rest and duplicates nothing; one
another live batch is running is waited for, then skipped or run; rows left ``running`` by a
batch that died are marked failed (:meth:`~scaleplan.report.store.RunStore.reap`) and run
again. A job that fails — bad input, a bug, a worker process that dies — fails alone, with its
reason in its row; should this process itself stop, the rows it owns are marked failed.
A worker on another machine writes the record under the same ``out_dir`` path, which must
therefore be a shared folder.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from scaleplan.errors import ReportError, ScaleplanError
from scaleplan.parallel import available_cores, dask_client
from scaleplan.report.decide import EXECUTION_TIMEOUT_S, KERNEL_NAME, record_folder
from scaleplan.report.provenance import RunKey, run_key
from scaleplan.report.store import RunStore, heartbeat, repair_store, store_path

#: Seconds between two looks at a scenario another batch is running.
POLL_S = 1.0

Outcome = Literal["done", "failed", "skipped"]


@dataclass(frozen=True)
class JobResult:
    """How one scenario of a batch ended."""

    scenario: str
    outcome: Outcome
    wall_s: float = 0.0
    error: str = ""
    artifacts: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    run_id: int | None = None

    @property
    def html(self) -> str | None:
        return self.artifacts.get("html")


@dataclass(frozen=True)
class BatchResult:
    """Every scenario's outcome, in the order given."""

    jobs: tuple[JobResult, ...]
    store: Path
    executor: str
    wall_s: float
    #: What the batch found and did about the store (damaged rows, abandoned runs).
    warnings: tuple[str, ...] = ()

    @property
    def failed(self) -> list[JobResult]:
        return [job for job in self.jobs if job.outcome == "failed"]

    @property
    def ok(self) -> bool:
        return not self.failed


Progress = Callable[[JobResult, int, int], None]
Runner = Callable[[dict[str, Any]], dict[str, Any]]
Pending = list[tuple[int, dict[str, Any], int]]


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """Make one record; never raise (a failure is data: the error text and what was kept).

    Runs in a worker process, local or on a Dask worker, so it takes and returns plain dicts.
    """
    from scaleplan.report.decide import decide

    started = time.perf_counter()
    folder = Path(job["folder"])
    try:
        record = decide(
            job["scenario"],
            seed=job["seed"],
            budget=job["budget"],
            kernel_name=job["kernel_name"],
            execution_timeout=job["execution_timeout"],
            folder=folder,
            workers=job.get("workers"),
            # Another batch writing this folder (another seed of the same file): wait for it.
            lock_wait_s=job["execution_timeout"],
        )
    except ScaleplanError as error:
        message = str(error)
    except Exception as error:  # a bug, not a bad input: keep the traceback for the report
        message = "".join(traceback.format_exception_only(error)).strip()
        message += "\n" + "".join(traceback.format_tb(error.__traceback__))
    else:
        return {
            "status": "done",
            "wall_s": time.perf_counter() - started,
            "metrics": record.metrics,
            "artifacts": record.artifacts,
            "title": str(record.results.get("title", "")),
            "host": socket.gethostname(),
            "pid": os.getpid(),
        }
    notebook = folder / "decision-record.ipynb"
    return {
        "status": "failed",
        "wall_s": time.perf_counter() - started,
        "error": message,
        "artifacts": {"notebook": str(notebook)} if notebook.is_file() else {},
        "host": socket.gethostname(),
        "pid": os.getpid(),
    }


def batch(
    scenarios: Sequence[str | Path],
    out_dir: str | Path = "out",
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    seed: int | None = None,
    budget: int | None = None,
    store: str | Path | None = None,
    kernel_name: str = KERNEL_NAME,
    execution_timeout: int = EXECUTION_TIMEOUT_S,
    progress: Progress | None = None,
    new_store: bool = False,
    runner: Runner = run_job,
) -> BatchResult:
    """Make a decision record for every scenario; skip those already done with the same inputs.

    Parameters
    ----------
    scenarios : sequence of paths
        Scenario YAML files; each record goes to ``out_dir/<file stem>/``.
    out_dir : path
        Where the records and (by default) the run store ``scaleplan.db`` go.
    workers : int, optional
        Local processes (default: the available cores, at most one per scenario). Ignored
        with ``scheduler``. Each record's comparison gets the cores left over (all of them
        for a single scenario, one when the batch keeps every core busy; on Dask, one).
    scheduler : str, optional
        A Dask distributed scheduler address such as ``tcp://10.0.0.5:8786``.
    seed, budget : int, optional
        Override every scenario's seed and requests per simulation run.
    store : path, optional
        The SQLite run store (default ``out_dir/scaleplan.db``).
    progress : callable, optional
        Called as ``progress(job_result, finished, total)`` as each scenario ends or is skipped.
    new_store : bool
        When the store is damaged, keep it aside and start a new one with its readable rows
        (without this, a damaged store is an error that says so).
    runner : callable
        The job function (a module-level function: it is pickled to the workers).
    """
    started = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [Path(scenario) for scenario in scenarios]
    _check_unique_folders(paths)
    executor_name = f"dask {scheduler}" if scheduler else "local processes"
    # The cores the records leave each other: scenarios run side by side, each record's
    # comparison on its share (the numbers do not depend on it).
    record_workers = (
        1 if scheduler else max(1, available_cores() // _batch_workers(workers, len(paths)))
    )
    results: dict[int, JobResult] = {}
    warnings: list[str] = []
    database = store_path(store, out)
    if new_store:
        done = repair_store(database)
        if done:
            warnings.append(done)

    def record(index: int, result: JobResult) -> None:
        results[index] = result
        _report(progress, result, len(results), len(paths))

    with RunStore(database) as runs:
        if runs.damage:
            raise ReportError(_damaged(runs))
        runs.runs()  # rows that cannot be read are said, and run again if in this batch
        warnings.extend(f"{database}: {problem}" for problem in runs.problems)
        runs.problems.clear()
        for abandoned in runs.reap():
            warnings.append(
                f"{abandoned.scenario}: its run {abandoned.id} was left running by "
                f"{abandoned.owner or 'an older scaleplan'}, which is gone: marked failed"
            )
        todo: list[tuple[int, Path, RunKey]] = []
        for index, path in enumerate(paths):
            try:
                key = run_key(path, seed=seed, budget=budget)
            except ScaleplanError as error:  # unreadable file: nothing to store a key for
                record(index, JobResult(str(path), "failed", error=str(error)))
                continue
            todo.append((index, path, key))
        owned: set[int] = set()  # rows this batch marked running and has not ended yet
        try:
            with heartbeat(database):
                while todo:
                    pending: Pending = []
                    busy = []
                    for index, path, key in todo:
                        action, previous, run_id = runs.claim(
                            key, str(path), executor=executor_name
                        )
                        if action == "skip" and previous is not None:
                            record(index, _skipped(path, previous))
                        elif action == "busy" or run_id is None:
                            busy.append((index, path, key))
                        else:
                            owned.add(run_id)
                            job = {
                                "scenario": str(path.resolve()) if path.exists() else str(path),
                                "folder": str(record_folder(out, path).resolve()),
                                "seed": seed,
                                "budget": budget,
                                "kernel_name": kernel_name,
                                "execution_timeout": execution_timeout,
                                "workers": record_workers,
                            }
                            pending.append((index, job, run_id))
                    if pending:
                        outcomes = (
                            _on_dask(scheduler, pending, runner)
                            if scheduler
                            else _on_processes(workers, pending, runner)
                        )
                        for index, outcome, run_id in outcomes:
                            stored = _store(runs, run_id, str(paths[index]), outcome)
                            owned.discard(run_id)
                            record(index, stored)
                    todo = busy
                    if todo:  # another live batch runs these: look again when it may be done
                        time.sleep(POLL_S)
        except BaseException as error:
            _abandon(runs, owned, error)
            raise
    return BatchResult(
        jobs=tuple(results[index] for index in range(len(paths))),
        store=database,
        executor=executor_name,
        wall_s=time.perf_counter() - started,
        warnings=tuple(warnings),
    )


def _skipped(path: Path, previous: Any) -> JobResult:
    return JobResult(
        str(path),
        "skipped",
        wall_s=previous.wall_s or 0.0,
        artifacts=previous.artifacts,
        metrics=previous.metrics,
        run_id=previous.id,
    )


def _damaged(runs: RunStore) -> str:
    runs.runs()  # read what can be read: the rows that cannot are in runs.problems
    listed = "; ".join(runs.problems[:5]) + (" …" if len(runs.problems) > 5 else "")
    return (
        f"{runs.path}: the run store is damaged: {'; '.join(runs.damage)}"
        + (f"; unreadable: {listed}" if listed else "")
        + "; run again with --new-store to keep it aside and start a new store with the rows "
        "that can still be read"
    )


def _abandon(runs: RunStore, owned: set[int], error: BaseException) -> None:
    """This process is stopping: the runs it owns must not stay ``running``."""
    reason = f"the batch stopped before this scenario ended ({type(error).__name__}: {error})"
    for run_id in owned:
        # If the store itself failed, the next batch reaps the row.
        with contextlib.suppress(ScaleplanError):
            runs.fail(run_id, error=reason)


def _check_unique_folders(paths: Sequence[Path]) -> None:
    # Folder names are sanitised, so two different stems ("a b", "a-b") can share one.
    folders: dict[str, Path] = {}
    for path in paths:
        folder = record_folder("", path).name
        other = folders.setdefault(folder, path)
        if other != path:
            raise ReportError(
                f"{other} and {path} would write the same record folder {folder!r}: "
                "rename one, or run them in separate batches"
            )


def _store(runs: RunStore, run_id: int, scenario: str, outcome: dict[str, Any]) -> JobResult:
    if outcome["status"] == "done":
        runs.finish(
            run_id,
            metrics=outcome["metrics"],
            artifacts=outcome["artifacts"],
            wall_s=outcome["wall_s"],
            title=outcome.get("title") or None,
        )
        return JobResult(
            scenario,
            "done",
            wall_s=outcome["wall_s"],
            artifacts=outcome["artifacts"],
            metrics=outcome["metrics"],
            run_id=run_id,
        )
    runs.fail(
        run_id, error=outcome["error"], artifacts=outcome["artifacts"], wall_s=outcome["wall_s"]
    )
    return JobResult(
        scenario,
        "failed",
        wall_s=outcome["wall_s"],
        error=outcome["error"],
        artifacts=outcome["artifacts"],
        run_id=run_id,
    )


def _report(progress: Progress | None, result: JobResult, finished: int, total: int) -> None:
    if progress is not None:
        progress(result, finished, total)


def _crashed(error: BaseException) -> dict[str, Any]:
    """The outcome of a job whose worker died or could not run it at all."""
    return {
        "status": "failed",
        "wall_s": 0.0,
        "error": f"the worker running it failed: {type(error).__name__}: {error}",
        "artifacts": {},
    }


def _batch_workers(workers: int | None, jobs: int) -> int:
    """The local processes of a batch: ``workers``, or the available cores, one per job."""
    return workers or max(1, min(jobs, available_cores()))


def _on_processes(
    workers: int | None, pending: Pending, runner: Runner = run_job
) -> Iterator[tuple[int, dict[str, Any], int]]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    count = _batch_workers(workers, len(pending))
    if count < 1:
        raise ReportError(f"workers must be at least 1 (got {count})")
    # spawn: a fresh interpreter per worker, no state forked from this one (threads, sockets).
    context = multiprocessing.get_context("spawn")
    broken: Pending = []
    with ProcessPoolExecutor(max_workers=count, mp_context=context) as pool:
        futures = {pool.submit(runner, job): (index, job, run_id) for index, job, run_id in pending}
        for future in as_completed(futures):
            index, job, run_id = futures[future]
            try:
                outcome = future.result()
            except BrokenProcessPool:  # a worker died: every job still in the pool is lost
                broken.append((index, job, run_id))
                continue
            except Exception as error:  # the job could not be sent or its result not read
                outcome = _crashed(error)
            yield index, outcome, run_id
    # Which job killed its worker is unknown: each one lost goes again, alone in a new
    # pool, so the one that kills its worker fails by itself and the others complete.
    for index, job, run_id in broken:
        with ProcessPoolExecutor(max_workers=1, mp_context=context) as alone:
            try:
                outcome = alone.submit(runner, job).result()
            except Exception as error:
                outcome = _crashed(error)
        yield index, outcome, run_id


def _on_dask(
    scheduler: str | None, pending: Pending, runner: Runner = run_job
) -> Iterator[tuple[int, dict[str, Any], int]]:
    with dask_client(str(scheduler)) as client:
        from distributed import as_completed

        futures = {}
        for index, job, run_id in pending:
            # pure=False: the same scenario submitted twice is two runs, not one cached result.
            future = client.submit(runner, job, pure=False)
            futures[future] = (index, run_id)
        for future in as_completed(list(futures)):
            index, run_id = futures[future]
            try:
                outcome = future.result()
            except Exception as error:  # KilledWorker, a lost connection …
                outcome = _crashed(error)
            yield index, outcome, run_id
