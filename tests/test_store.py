"""The SQLite run store and the run keys it resumes by."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

import scaleplan
from scaleplan.errors import ReportError
from scaleplan.report.provenance import RunKey, resolve_budget, run_key, spec_hash
from scaleplan.report.store import RunStore
from scaleplan.spec import load_scenario

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = Path(__file__).resolve().parent / "data" / "scenarios"


def test_a_run_goes_from_running_to_done(tmp_path: Path) -> None:
    artifact = tmp_path / "record.html"
    artifact.write_text("<html></html>")
    with RunStore(tmp_path / "runs.db") as store:
        key = RunKey(scenario_hash="s1", spec_hashes={"a": "h1"}, seed=3, budget={"requests": 9})
        run_id = store.start(key, "shop.yaml", title="Shop", executor="local processes")
        running = store.find(key)
        assert running is not None and running.status == "running" and running.id == run_id
        assert store.done(key) is None
        store.finish(run_id, metrics={"chosen": "a"}, artifacts={"html": str(artifact)}, wall_s=2.5)
        done = store.done(key)
        assert done is not None
        assert (done.status, done.metrics, done.wall_s, done.attempts) == (
            "done",
            {"chosen": "a"},
            2.5,
            1,
        )
        assert (done.seed, done.budget, done.spec_hashes) == (3, {"requests": 9}, {"a": "h1"})
        assert done.scaleplan_version == scaleplan.__version__
        assert done.versions["scaleplan"] == scaleplan.__version__ and "simpy" in done.versions
        assert done.finished_at is not None and done.executor == "local processes"


def test_the_same_inputs_reuse_one_row(tmp_path: Path) -> None:
    with RunStore(tmp_path / "runs.db") as store:
        key = RunKey(scenario_hash="s1", seed=1)
        first = store.start(key, "a.yaml")
        store.fail(first, error="boom", wall_s=0.1)
        again = store.start(key, "a.yaml")  # a retry, or a rerun after a SIGKILL
        assert again == first
        rows = store.runs()
        assert len(rows) == 1
        assert rows[0].attempts == 2 and rows[0].status == "running" and rows[0].error == ""
        other = store.start(RunKey(scenario_hash="s1", seed=2), "a.yaml")
        assert other != first and len(store.runs()) == 2
        assert [row.seed for row in store.runs(scenario="a.yaml")] == [2, 1]
        assert len(store.runs(limit=1)) == 1


def test_a_run_is_only_done_while_its_files_exist(tmp_path: Path) -> None:
    artifact = tmp_path / "record.html"
    artifact.write_text("x")
    with RunStore(tmp_path / "runs.db") as store:
        key = RunKey(scenario_hash="s")
        store.finish(
            store.start(key, "a.yaml"), metrics={}, artifacts={"html": str(artifact)}, wall_s=1
        )
        assert store.done(key) is not None
        artifact.unlink()
        assert store.done(key) is None  # deleted by hand: a rerun makes it again


def test_a_failure_keeps_its_error_and_notebook(tmp_path: Path) -> None:
    with RunStore(tmp_path / "runs.db") as store:
        run_id = store.start(RunKey(scenario_hash="s"), "bad.yaml")
        store.fail(run_id, error="bad.yaml: x: must be", artifacts={"notebook": "n.ipynb"})
        (row,) = store.runs()
        assert (row.status, row.error, row.artifacts) == (
            "failed",
            "bad.yaml: x: must be",
            {"notebook": "n.ipynb"},
        )


def test_the_store_survives_reopening_and_refuses_other_files(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "runs.db"
    with RunStore(path) as store:
        store.start(RunKey(scenario_hash="s"), "a.yaml")
    with RunStore(path) as store:
        assert len(store.runs()) == 1
    junk = tmp_path / "junk.db"
    junk.write_text("not a database at all, just text " * 100)
    with pytest.raises(ReportError, match="not a usable run store"):
        RunStore(junk)
    future = tmp_path / "future.db"
    with sqlite3.connect(future) as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(ReportError, match="schema version 99"):
        RunStore(future)


def test_run_keys_resolve_the_scenarios_defaults(tmp_path: Path) -> None:
    scenario = SCENARIOS / "tiny-shop.yaml"
    loaded = load_scenario(scenario)
    implicit = run_key(scenario)
    explicit = run_key(scenario, seed=loaded.run.seed, budget=loaded.run.requests)
    assert implicit == explicit and implicit.digest == explicit.digest
    assert run_key(scenario, seed=loaded.run.seed + 1).digest != implicit.digest
    assert run_key(scenario, budget=500).digest != implicit.digest
    assert set(implicit.spec_hashes) == set(loaded.names)


def test_run_keys_change_with_the_scenario_or_a_candidate(tmp_path: Path) -> None:
    folder = tmp_path / "scenarios"
    shutil.copytree(SCENARIOS, folder)
    scenario = folder / "tiny-shop.yaml"
    before = run_key(scenario)
    scenario.write_text(scenario.read_text() + "\n# a comment is part of what the user wrote\n")
    assert run_key(scenario).scenario_hash != before.scenario_hash
    assert run_key(scenario).spec_hashes == before.spec_hashes


def test_a_broken_scenario_still_has_a_key() -> None:
    key = run_key(SCENARIOS / "broken-spec.yaml")
    assert key.spec_hashes == {} and len(key.scenario_hash) == 16
    assert run_key(SCENARIOS / "broken-spec.yaml") == key


def test_spec_hashes_ignore_comments_but_not_values() -> None:
    loaded = load_scenario(SCENARIOS / "tiny-shop.yaml")
    spec = next(iter(loaded.architectures().values()))
    assert spec_hash(spec) == spec_hash(spec.with_changes({}))
    assert spec_hash(spec) != spec_hash(spec.with_changes({"workload.rate_per_s": 1.0}))


def test_the_budget_caps_the_pull_and_keeps_the_replications() -> None:
    loaded = load_scenario(SCENARIOS / "tiny-shop.yaml")
    settings = resolve_budget(loaded, budget=100, seed=7)
    assert (settings.seed, settings.requests) == (7, 100)
    assert settings.pull_requests == min(loaded.run.pull_requests, 100)
    assert settings.replications == loaded.run.replications
    applied = settings.load(SCENARIOS / "tiny-shop.yaml")
    assert applied.run.requests == 100 and applied.run.seed == 7
    assert {spec.workload.requests for spec in applied.architectures().values()} == {100}
    with pytest.raises(scaleplan.errors.ScaleplanError, match="at least 1 request"):
        resolve_budget(loaded, budget=0)


# Processes that open one new store at the same instant (two batches started together): each
# waits its turn. SQLite answers a journal-mode switch that meets another connection's
# creation of the WAL with "database is locked" at once, without its busy handler, so the
# store retries it (found by tests/test_hardening_store.py's two concurrent batches).
_OPEN_AT = """
import sys, time
from scaleplan.report.store import RunStore
start = float(sys.argv[2])
while time.time() < start:
    pass
with RunStore(sys.argv[1]) as store:
    print(len(store.runs()))
"""


def test_processes_opening_one_new_store_at_once_all_get_it(tmp_path: Path) -> None:
    import subprocess
    import sys
    import time

    failures = []
    for trial in range(8):
        path = tmp_path / f"trial-{trial}" / "scaleplan.db"
        start = time.time() + 1.0  # after every process has imported the store
        processes = [
            subprocess.Popen(
                [sys.executable, "-c", _OPEN_AT, str(path), repr(start)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(8)
        ]
        for process in processes:
            stdout, stderr = process.communicate(timeout=120)
            if process.returncode != 0 or stdout.strip() != "0":
                failures.append(f"trial {trial}: {stderr.strip().splitlines()[-1:]}")
    assert failures == []
