"""Batch runs: local processes, a real Dask scheduler and worker, failure isolation, resume after
SIGKILL. Every batch goes through the real command line in a subprocess."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
from _records import SCENARIOS

from scaleplan.report.store import RunStore

GOOD = [SCENARIOS / name for name in ("tiny-shop.yaml", "tiny-api.yaml", "tiny-tiers.yaml")]
BROKEN = SCENARIOS / "broken-spec.yaml"
SCALEPLAN = [sys.executable, "-m", "scaleplan"]


@dataclass(frozen=True)
class Batch:
    out: Path
    code: int
    stdout: str
    stderr: str

    def rows(self) -> list[dict[str, object]]:
        with RunStore(self.out / "scaleplan.db") as store:
            return [row.to_dict() for row in store.runs()]

    def metrics(self) -> dict[str, object]:
        """The key metrics of every done scenario, by scenario file name."""
        return {
            Path(str(row["scenario"])).name: row["metrics"]
            for row in self.rows()
            if row["status"] == "done"
        }


def run_batch(
    out: Path, *scenarios: Path, extra: tuple[str, ...] = (), env: dict[str, str] | None = None
) -> Batch:
    done = subprocess.run(
        [*SCALEPLAN, "batch", *map(str, scenarios), "-o", str(out), *extra],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **(env or {})},
    )
    return Batch(out, done.returncode, done.stdout, done.stderr)


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Batch:
    """Three good scenarios and a broken one, on two local processes."""
    out = tmp_path_factory.mktemp("local")
    return run_batch(out, *GOOD, BROKEN, extra=("--workers", "2"))


def test_a_broken_scenario_fails_alone_and_the_exit_code_says_so(local: Batch) -> None:
    assert local.code == 1, local.stderr
    assert "4 scenarios on local processes" in local.stdout
    assert "3 done, 0 skipped, 1 failed" in local.stdout, local.stderr
    error = "candidates[0].architecture.components.api.replicas: must be at least 1 (got 0)"
    assert error in local.stderr and "broken-spec.yaml" in local.stderr
    assert "Traceback" not in local.stderr
    kept = local.out / "broken-spec" / "decision-record.ipynb"
    assert kept.is_file()  # the failed notebook is kept, with its error in it
    assert "SpecError" in kept.read_text()


def test_each_good_scenario_gets_its_record_and_one_row(local: Batch) -> None:
    rows = local.rows()
    assert sorted(Path(str(r["scenario"])).name for r in rows) == sorted(
        [p.name for p in GOOD] + [BROKEN.name]
    )
    by_name = {Path(str(r["scenario"])).name: r for r in rows}
    for path in GOOD:
        row = by_name[path.name]
        assert row["status"] == "done" and row["attempts"] == 1, (row["error"], local.stderr)
        artifacts = row["artifacts"]
        assert isinstance(artifacts, dict)
        for kind in ("html", "notebook", "json"):
            assert Path(artifacts[kind]).is_file()
        assert Path(artifacts["html"]).parent == local.out / path.stem
        results = json.loads(Path(artifacts["json"]).read_text())
        assert results["metrics"] == row["metrics"]
        assert row["title"] == results["title"]
        assert row["executor"] == "local processes"
        assert isinstance(row["wall_s"], float) and row["wall_s"] > 0
        assert f"done {path}" in local.stderr.replace("\n", "")
    broken = by_name[BROKEN.name]
    assert broken["status"] == "failed"
    assert "must be at least 1 (got 0)" in str(broken["error"])
    kept = local.out.resolve() / "broken-spec" / "decision-record.ipynb"
    assert broken["artifacts"] == {"notebook": str(kept)}


def test_a_rerun_skips_what_is_done_and_retries_what_failed(local: Batch) -> None:
    before = {Path(str(r["scenario"])).name: r for r in local.rows()}
    again = run_batch(local.out, *GOOD, BROKEN, extra=("--workers", "2"))
    assert again.code == 1
    assert "3 skipped, 1 failed" in again.stdout, (again.stderr, local.stderr)
    after = {Path(str(r["scenario"])).name: r for r in again.rows()}
    assert len(after) == 4
    for path in GOOD:
        assert after[path.name]["finished_at"] == before[path.name]["finished_at"]
        assert after[path.name]["attempts"] == 1
    assert after[BROKEN.name]["attempts"] == 2


def test_the_runs_command_lists_the_history(local: Batch) -> None:
    shown = subprocess.run(
        [*SCALEPLAN, "runs", "--store", str(local.out / "scaleplan.db"), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    rows = json.loads(shown.stdout)
    assert {row["status"] for row in rows} == {"done", "failed"} and len(rows) == 4
    table = subprocess.run(
        [*SCALEPLAN, "runs", "--store", str(local.out / "scaleplan.db")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "tiny-shop.yaml" in table.stdout and "failed" in table.stdout


@pytest.fixture(scope="module")
def dask_scheduler() -> Iterator[str]:
    """A real Dask scheduler and two worker processes, on loopback."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        yield cluster.scheduler_address


def test_dask_gives_the_same_metrics_as_local_processes(
    local: Batch, dask_scheduler: str, tmp_path: Path
) -> None:
    on_dask = run_batch(tmp_path, *GOOD, extra=("--scheduler", dask_scheduler))
    assert on_dask.code == 0, on_dask.stderr
    assert f"3 scenarios on dask {dask_scheduler}" in on_dask.stdout
    rows = on_dask.rows()
    assert {row["executor"] for row in rows} == {f"dask {dask_scheduler}"}
    assert {row["status"] for row in rows} == {"done"}
    assert on_dask.metrics() == local.metrics()  # the same seeds give the same numbers
    for path in GOOD:
        here = json.loads((tmp_path / path.stem / "decision-record.json").read_text())
        there = json.loads((local.out / path.stem / "decision-record.json").read_text())
        assert here["comparison"]["candidates"] == there["comparison"]["candidates"]


def test_an_unreachable_scheduler_is_a_clear_error(tmp_path: Path) -> None:
    done = run_batch(
        tmp_path,
        GOOD[0],
        extra=("--scheduler", "tcp://127.0.0.1:9"),
        env={"DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "2s"},
    )
    assert done.code == 2
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in done.stderr
    assert "Traceback" not in done.stderr


def _done_rows(store: Path, status: str = "done") -> int:
    if not store.is_file():
        return 0
    try:
        with sqlite3.connect(store, timeout=5) as db:
            return int(
                db.execute("SELECT COUNT(*) FROM runs WHERE status = ?", (status,)).fetchone()[0]
            )
    except sqlite3.OperationalError:  # the table is not created yet
        return 0


def test_sigkill_mid_batch_then_rerun_finishes_without_duplicates(tmp_path: Path) -> None:
    store = tmp_path / "scaleplan.db"
    batch = subprocess.Popen(
        [*SCALEPLAN, "batch", *map(str, GOOD), "-o", str(tmp_path), "--workers", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    started = time.monotonic()
    try:
        # Killed mid-batch: one scenario done and the next one started (waiting for both, not
        # only the first, so a loaded machine cannot kill it in the gap between the two).
        while _done_rows(store) < 1 or _done_rows(store, "running") < 1:
            assert batch.poll() is None, "the batch ended before it could be killed"
            assert time.monotonic() - started < 300, "no scenario finished in 5 minutes"
            time.sleep(0.2)
        # Everything the batch started (its pool worker, papermill's kernel): to clean up after.
        children = psutil.Process(batch.pid).children(recursive=True)
        os.kill(batch.pid, signal.SIGKILL)
        batch.wait(timeout=30)
    finally:
        if batch.poll() is None:
            os.kill(batch.pid, signal.SIGKILL)
            batch.wait(timeout=30)
    assert batch.returncode == -signal.SIGKILL
    for child in children:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()
    psutil.wait_procs(children, timeout=30)

    killed = {Path(str(row["scenario"])).name: row for row in Batch(tmp_path, 0, "", "").rows()}
    assert 1 <= sum(row["status"] == "done" for row in killed.values()) < 3
    assert any(row["status"] == "running" for row in killed.values())

    again = run_batch(tmp_path, *GOOD, extra=("--workers", "1"))
    assert again.code == 0, again.stderr
    rows = again.rows()
    assert len(rows) == 3  # one row per scenario: nothing duplicated
    assert {row["status"] for row in rows} == {"done"}
    for row in rows:
        name = Path(str(row["scenario"])).name
        if killed[name]["status"] == "done":  # finished before the kill: skipped, not redone
            assert row["finished_at"] == killed[name]["finished_at"]
            assert row["attempts"] == 1
        for kind in ("html", "notebook", "json"):
            assert Path(row["artifacts"][kind]).is_file()  # type: ignore[index]
    skipped = sum(row["status"] == "done" for row in killed.values())
    assert f"{3 - skipped} done, {skipped} skipped, 0 failed" in again.stdout


def test_two_scenarios_whose_sanitised_folders_meet_are_refused() -> None:
    """Folder names are sanitised ("a b" writes "a-b"), so "a b.yaml" and "a-b.yaml" would
    write one record folder: the batch refuses them before running either."""
    from scaleplan.errors import ReportError
    from scaleplan.report.batch import _check_unique_folders

    with pytest.raises(ReportError, match="same record folder 'a-b'"):
        _check_unique_folders([Path("x/a b.yaml"), Path("y/a-b.yaml")])
    _check_unique_folders([Path("x/a_b.yaml"), Path("y/a-b.yaml")])  # different folders
