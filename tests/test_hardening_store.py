"""Run store and batch hardening (issue 15): damaged stores, isolation of bad scenarios, stale
rows, staleness of inputs, concurrent runs, SIGKILL at random points.

Real SQLite files and real subprocesses throughout. Most batches run :mod:`_store_jobs`'s
stand-in job (the coordination under test is the same; a papermill run costs ~10 s here); the
papermill path is exercised by one batch of bad scenarios and by two concurrent ``decide``.
"""

from __future__ import annotations

import fcntl
import importlib
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from _records import SCENARIOS
from _store_jobs import LOG, executions, fake_job

from scaleplan.errors import ReportError
from scaleplan.report.batch import JobResult, batch
from scaleplan.report.provenance import RunKey, run_key, spec_hash
from scaleplan.report.store import RunStore, this_owner
from scaleplan.spec import load_spec

# The module, not the function ``scaleplan.report.decide`` the package exports under its name.
decide_module = importlib.import_module("scaleplan.report.decide")
ROOT = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent
SCALEPLAN = [sys.executable, "-m", "scaleplan"]
TINY = SCENARIOS / "tiny-shop.yaml"
FAKE_BATCH = [sys.executable, "-c", "import _store_jobs; _store_jobs.main()"]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(TESTS)])}


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SCALEPLAN, *args], capture_output=True, text=True, timeout=timeout, env=ENV
    )


def scenarios(folder: Path, count: int, prefix: str = "s") -> list[Path]:
    """``count`` copies of the tiny scenario (distinct names, so distinct record folders)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        path = folder / f"{prefix}{index}.yaml"
        shutil.copy(TINY, path)
        paths.append(path)
    return paths


def filled_store(path: Path, rows: int) -> None:
    """A real store of ``rows`` finished runs, each with ~1 kB of metrics (several pages)."""
    with RunStore(path) as store:
        for index in range(rows):
            run_id = store.start(RunKey(scenario_hash=f"h{index}"), f"s{index}.yaml")
            metrics = {"chosen": f"c{index}", "padding": "x" * 1000}
            store.finish(run_id, metrics=metrics, artifacts={}, wall_s=1.0)


def rows_of(path: Path) -> list[dict[str, object]]:
    with RunStore(path) as store:
        return [record.to_dict() for record in store.runs()]


def no_traceback(done: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in done.stderr, done.stderr
    assert "Traceback" not in done.stdout


# --------------------------------------------------------------------------- damaged stores


def test_a_corrupt_page_is_reported_and_the_other_rows_listed(tmp_path: Path) -> None:
    store = tmp_path / "scaleplan.db"
    filled_store(store, 60)
    size = store.stat().st_size
    page = 4096
    assert size >= 20 * page
    middle = (size // page // 2) * page
    with store.open("r+b") as handle:  # one page in the middle: garbage
        handle.seek(middle)
        handle.write(bytes(range(256)) * (page // 256))

    shown = cli("runs", "--store", str(store), "--json")
    no_traceback(shown)
    assert shown.returncode == 0, shown.stderr
    assert "the run store is damaged" in shown.stderr
    listed = json.loads(shown.stdout)
    unreadable = [line for line in shown.stderr.splitlines() if "unreadable: row" in line]
    assert 0 < len(listed) < 60
    assert len(listed) + len(unreadable) == 60  # every row is either listed or named

    table = cli("runs", "--store", str(store))
    no_traceback(table)
    assert table.returncode == 0 and "s0.yaml" in table.stdout + table.stderr

    # A batch refuses to write into it, and says how to go on.
    refused = cli("batch", str(TINY), "-o", str(tmp_path / "out"), "--store", str(store))
    no_traceback(refused)
    assert refused.returncode == 2
    assert "the run store is damaged" in refused.stderr and "--new-store" in refused.stderr

    # On request: the damaged file is kept aside, a new store holds the rows it could read.
    damaged_bytes = store.read_bytes()
    repaired = cli("runs", "--store", str(store), "--json", "--new-store")
    no_traceback(repaired)
    assert repaired.returncode == 0
    (aside,) = tmp_path.glob("scaleplan.db.damaged-*")
    assert aside.read_bytes() == damaged_bytes  # kept, byte for byte
    assert "kept aside as" in repaired.stderr
    again = json.loads(repaired.stdout)
    assert {row["run_key"] for row in again} == {row["run_key"] for row in listed}
    with sqlite3.connect(store) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def _tamper(store: Path, sql: str) -> None:
    with sqlite3.connect(store) as db:
        db.execute("PRAGMA ignore_check_constraints = ON")
        db.execute(sql)


@pytest.mark.parametrize(
    ("sql", "said"),
    [
        ("UPDATE runs SET metrics = '{no' WHERE id = 2", "row 2: its metrics column is not JSON"),
        ("UPDATE runs SET status = 'weird' WHERE id = 3", "row 3: unknown status 'weird'"),
        ("UPDATE runs SET artifacts = '[1, 2]' WHERE id = 1", "row 1: its artifacts column is not"),
    ],
)
def test_a_bad_row_is_named_and_the_rest_listed(tmp_path: Path, sql: str, said: str) -> None:
    store = tmp_path / "scaleplan.db"
    filled_store(store, 4)
    _tamper(store, sql)
    shown = cli("runs", "--store", str(store), "--json")
    no_traceback(shown)
    assert shown.returncode == 0
    assert said in shown.stderr
    assert len(json.loads(shown.stdout)) == 3
    table = cli("runs", "--store", str(store))
    no_traceback(table)
    assert table.returncode == 0 and said in table.stderr


def test_a_batch_reruns_a_bad_row_of_its_own_and_repairs_it(tmp_path: Path) -> None:
    (path,) = scenarios(tmp_path / "in", 1)
    out = tmp_path / "out"
    first = batch([path], out, runner=fake_job, workers=1)
    assert [job.outcome for job in first.jobs] == ["done"]
    _tamper(out / "scaleplan.db", "UPDATE runs SET metrics = 'garbage'")
    again = batch([path], out, runner=fake_job, workers=1)
    assert [job.outcome for job in again.jobs] == ["done"]  # not skipped on a row it cannot read
    assert any("metrics column is not JSON" in warning for warning in again.warnings)
    (row,) = rows_of(out / "scaleplan.db")
    assert row["status"] == "done" and row["attempts"] == 2
    assert row["metrics"] == first.jobs[0].metrics


def test_a_missing_table_is_damage_not_an_empty_store(tmp_path: Path) -> None:
    store = tmp_path / "scaleplan.db"
    filled_store(store, 2)
    with sqlite3.connect(store) as db:
        db.execute("DROP TABLE runs")
    shown = cli("runs", "--store", str(store))
    no_traceback(shown)
    assert shown.returncode == 0 and "its runs table is missing" in shown.stderr
    refused = cli("batch", str(TINY), "-o", str(tmp_path / "out"), "--store", str(store))
    no_traceback(refused)
    assert refused.returncode == 2 and "its runs table is missing" in refused.stderr
    with sqlite3.connect(store) as db:  # nothing was written into the damaged file
        assert db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'runs'").fetchone() == (
            0,
        )


def test_a_file_that_is_not_sqlite(tmp_path: Path) -> None:
    store = tmp_path / "scaleplan.db"
    store.write_bytes(b"definitely not SQLite\n" * 300)
    shown = cli("runs", "--store", str(store))
    no_traceback(shown)
    assert shown.returncode == 2
    assert "not a usable run store" in shown.stderr and "--new-store" in shown.stderr
    out = tmp_path / "out"
    (path,) = scenarios(tmp_path / "in", 1)
    with pytest.raises(ReportError, match="not a usable run store"):
        batch([path], out, store=store, runner=fake_job, workers=1)
    result = batch([path], out, store=store, runner=fake_job, workers=1, new_store=True)
    assert [job.outcome for job in result.jobs] == ["done"]
    (aside,) = tmp_path.glob("scaleplan.db.damaged-*")
    assert aside.read_bytes() == b"definitely not SQLite\n" * 300
    assert any("kept aside as" in warning for warning in result.warnings)
    assert [row["status"] for row in rows_of(store)] == ["done"]


def test_another_programs_database_is_refused_and_never_moved(tmp_path: Path) -> None:
    store = tmp_path / "app.db"
    with sqlite3.connect(store) as db:
        db.execute("CREATE TABLE customers (name TEXT)")
    for extra in ((), ("--new-store",)):
        shown = cli("runs", "--store", str(store), *extra)
        no_traceback(shown)
        assert shown.returncode == 2 and "not a run store" in shown.stderr
    assert store.is_file() and not list(tmp_path.glob("*.damaged-*"))
    with sqlite3.connect(store) as db:
        assert [row[0] for row in db.execute("SELECT name FROM sqlite_master")] == ["customers"]


def test_a_version_1_store_is_migrated_and_keeps_its_rows(tmp_path: Path) -> None:
    store = tmp_path / "old.db"
    with sqlite3.connect(store) as db:
        db.execute(
            "CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, run_key TEXT NOT NULL "
            "UNIQUE, scenario TEXT NOT NULL, title TEXT NOT NULL DEFAULT '', scenario_hash TEXT "
            "NOT NULL, spec_hashes TEXT NOT NULL, seed INTEGER, budget TEXT NOT NULL, "
            "scaleplan_version TEXT NOT NULL, versions TEXT NOT NULL, status TEXT NOT NULL, "
            "attempts INTEGER NOT NULL DEFAULT 1, executor TEXT NOT NULL DEFAULT '', host TEXT "
            "NOT NULL DEFAULT '', started_at TEXT NOT NULL, finished_at TEXT, wall_s REAL, "
            "metrics TEXT NOT NULL DEFAULT '{}', artifacts TEXT NOT NULL DEFAULT '{}', error "
            "TEXT NOT NULL DEFAULT '')"
        )
        db.execute(
            "INSERT INTO runs (run_key, scenario, scenario_hash, spec_hashes, budget, "
            "scaleplan_version, versions, status, started_at) VALUES ('k', 'a.yaml', 'h', '{}', "
            "'{}', '0.1.0', '{}', 'running', '2024-01-01T00:00:00+00:00')"
        )
        db.execute("PRAGMA user_version = 1")
    (row,) = rows_of(store)
    assert row["scenario"] == "a.yaml" and row["inputs"] == {} and row["owner"] == ""
    with sqlite3.connect(store) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (2,)
    shown = cli("runs", "--store", str(store))
    assert shown.returncode == 0 and "│ stale" in shown.stdout  # no owner: not running


# --------------------------------------------------------------------------- isolation


def test_bad_scenarios_fail_alone_in_a_real_batch(tmp_path: Path) -> None:
    """Junk trace, markup and escapes in every name: each ends with its reason, none is left
    running, and the good scenario completes (through papermill, on the command line)."""
    folder = tmp_path / "in"
    folder.mkdir()
    junk = folder / "junk-trace.yaml"
    architecture = {
        "name": "t",
        "workload": {"arrival": "trace", "trace": {"file": "arrivals.csv"}},
        "entry": "api",
        "components": {
            "api": {"kind": "service", "service_time": {"dist": "exponential", "mean_ms": 5}}
        },
    }
    (folder / "arch.yaml").write_text(json.dumps(architecture))
    (folder / "arrivals.csv").write_bytes(b"\x00\xff\xfe junk \x1b[2J\n" * 50)
    junk.write_text(
        TINY.read_text().replace(
            "candidates:\n", "candidates:\n  - {name: traced, path: arch.yaml}\n", 1
        )
    )
    markup = folder / "markup.yaml"
    markup.write_text(
        TINY.read_text()
        .replace('title: "Tiny shop: one server or two?"', 'title: "[/x] [link=http://e.vil]x"')
        .replace("name: single", "name: '[/x]single\x1b]0;pwned\x07'")
    )
    good = folder / "good.yaml"
    shutil.copy(TINY, good)
    done = cli(
        "batch", str(junk), str(markup), str(good), "-o", str(tmp_path / "out"),
        "--workers", "2", "--budget", "300", timeout=400,
    )  # fmt: skip
    no_traceback(done)
    assert done.returncode == 1  # some failed, after running all of them
    assert "MarkupError" not in done.stderr and "\x1b]0;" not in done.stderr + done.stdout
    rows = {Path(str(row["scenario"])).name: row for row in rows_of(tmp_path / "out/scaleplan.db")}
    assert set(rows) == {"junk-trace.yaml", "markup.yaml", "good.yaml"}
    assert rows["good.yaml"]["status"] == "done"
    assert "running" not in {row["status"] for row in rows.values()}
    assert rows["junk-trace.yaml"]["status"] == "failed"
    assert "junk-trace.yaml" in str(rows["junk-trace.yaml"]["error"])
    if rows["markup.yaml"]["status"] == "failed":  # a refused name must say why
        assert rows["markup.yaml"]["error"]


def test_a_job_that_kills_its_worker_or_raises_fails_alone(tmp_path: Path) -> None:
    paths = [*scenarios(tmp_path / "in", 3), *scenarios(tmp_path / "in", 1, "dies-")]
    paths += scenarios(tmp_path / "in", 1, "raises-")
    seen: list[JobResult] = []
    result = batch(
        paths,
        tmp_path / "out",
        runner=fake_job,
        workers=2,
        progress=lambda job, *_: seen.append(job),
    )
    outcomes = {Path(job.scenario).name: job for job in result.jobs}
    assert [outcomes[f"s{i}.yaml"].outcome for i in range(3)] == ["done"] * 3
    assert outcomes["dies-0.yaml"].outcome == "failed"
    assert "the worker running it failed" in outcomes["dies-0.yaml"].error
    assert outcomes["raises-0.yaml"].outcome == "failed"
    assert "a template error in raises-0.yaml" in outcomes["raises-0.yaml"].error
    rows = rows_of(result.store)
    assert len(rows) == 5 and "running" not in {row["status"] for row in rows}
    assert sorted(executions(tmp_path / "out")) == ["s0.yaml", "s1.yaml", "s2.yaml"]
    assert len(seen) == 5


def test_a_coordinator_that_stops_marks_its_runs_failed(tmp_path: Path) -> None:
    paths = scenarios(tmp_path / "in", 3)

    def progress(job: JobResult, finished: int, total: int) -> None:
        raise RuntimeError("the terminal went away")

    with pytest.raises(RuntimeError, match="the terminal went away"):
        batch(paths, tmp_path / "out", runner=fake_job, workers=1, progress=progress)
    rows = rows_of(tmp_path / "out" / "scaleplan.db")
    assert "running" not in {row["status"] for row in rows}
    assert any("the batch stopped before this scenario ended" in str(r["error"]) for r in rows)


def _dead_owner() -> str:
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    host, _, _ = this_owner().split(":")
    return f"{host}:{gone.stdout.strip()}:1"


def test_a_row_left_running_by_a_dead_process_is_stale_and_rerun(tmp_path: Path) -> None:
    (path,) = scenarios(tmp_path / "in", 1)
    out = tmp_path / "out"
    store = out / "scaleplan.db"
    with RunStore(store) as opened:
        run_id = opened.start(run_key(path), str(path))
    with sqlite3.connect(store) as db:
        db.execute("UPDATE runs SET owner = ? WHERE id = ?", (_dead_owner(), run_id))
    shown = cli("runs", "--store", str(store))
    assert shown.returncode == 0 and "│ stale" in shown.stdout and "│ running" not in shown.stdout
    result = batch([path], out, runner=fake_job, workers=1)
    assert [job.outcome for job in result.jobs] == ["done"]
    assert any("which is gone: marked failed" in warning for warning in result.warnings)
    (row,) = rows_of(store)
    assert row["status"] == "done" and row["attempts"] == 2 and row["id"] == run_id


def test_a_row_running_under_a_live_owner_is_waited_for(tmp_path: Path) -> None:
    (path,) = scenarios(tmp_path / "in", 1)
    out = tmp_path / "out"
    store = out / "scaleplan.db"
    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3)"])
    try:
        ticks = Path(f"/proc/{owner.pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
        with RunStore(store) as opened:
            run_id = opened.start(run_key(path), str(path))
        with sqlite3.connect(store) as db:
            live = f"{this_owner().split(':')[0]}:{owner.pid}:{ticks}"
            db.execute("UPDATE runs SET owner = ? WHERE id = ?", (live, run_id))
        started = time.monotonic()
        result = batch([path], out, runner=fake_job, workers=1)
        waited = time.monotonic() - started
    finally:
        owner.kill()
        owner.wait()
    assert [job.outcome for job in result.jobs] == ["done"]
    assert owner.returncode == 0  # it ended by itself: the batch waited for it, not past it
    assert waited >= 1.0
    (row,) = rows_of(store)
    assert row["status"] == "done" and executions(out) == [path.name]


# --------------------------------------------------------------------------- staleness


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    """A scenario with an empirical CSV, a candidate file with a trace, a DR and a rollout."""
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(ROOT / "data/dr/online-shop-dr.yaml", folder / "dr.yaml")
    shutil.copy(ROOT / "data/rollouts/canary.yaml", folder / "rollout.yaml")
    (folder / "samples.csv").write_text("ms\n" + "".join(f"{10 + i % 20}\n" for i in range(200)))
    text = TINY.read_text().replace(
        "service_time: {dist: exponential, mean_ms: 20}\n          calls",
        "service_time: {dist: empirical, file: samples.csv}\n          calls",
        1,
    )
    assert "empirical" in text
    (folder / "s.yaml").write_text(text + "resilience: {dr: dr.yaml, rollout: rollout.yaml}\n")
    return folder / "s.yaml"


@pytest.mark.parametrize("changed", ["samples.csv", "dr.yaml", "rollout.yaml", "s.yaml"])
def test_every_input_file_is_in_the_run_key(inputs: Path, changed: str) -> None:
    before = run_key(inputs)
    assert run_key(inputs) == before  # nothing changed: the same key
    assert set(before.inputs) == {"resilience.dr", "resilience.rollout", "template"}
    file = inputs.parent / changed
    if changed.endswith(".csv"):
        file.write_text(file.read_text() + "95\n")  # one more sample: another mean
    else:
        file.write_text(file.read_text() + "\n# edited\n")
    assert run_key(inputs).digest != before.digest


def test_the_template_and_a_trace_are_in_the_run_key(
    inputs: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    before = run_key(inputs)
    template = tmp_path / "template.ipynb"
    template.write_text(decide_module.template_path().read_text() + " ")
    monkeypatch.setattr(decide_module, "template_path", lambda: template)
    assert run_key(inputs).digest != before.digest

    folder = inputs.parent
    (folder / "arrivals.csv").write_text("".join(f"{i * 0.01}\n" for i in range(100)))
    (folder / "traced.yaml").write_text(
        "name: t\nworkload: {arrival: trace, trace: {file: arrivals.csv}}\nentry: api\n"
        "components: {api: {kind: service, service_time: {dist: exponential, mean_ms: 5}}}\n"
    )
    first = spec_hash(load_spec(folder / "traced.yaml"))
    (folder / "arrivals.csv").write_text("".join(f"{i * 0.02}\n" for i in range(100)))
    assert spec_hash(load_spec(folder / "traced.yaml")) != first


def test_a_batch_reruns_what_an_input_change_made_stale(inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert [job.outcome for job in batch([inputs], out, runner=fake_job).jobs] == ["done"]
    assert [job.outcome for job in batch([inputs], out, runner=fake_job).jobs] == ["skipped"]
    for changed in ("samples.csv", "dr.yaml", "rollout.yaml"):
        file = inputs.parent / changed
        file.write_text(file.read_text() + ("77\n" if changed.endswith("csv") else "\n#\n"))
        again = batch([inputs], out, runner=fake_job)
        assert [job.outcome for job in again.jobs] == ["done"], changed
    assert len(executions(out)) == 4
    # A record folder rewritten by a run of other inputs is not taken for this run's record.
    results = out / "s" / "decision-record.json"
    results.write_text(json.dumps({"run_key": {"digest": "someone-else"}}))
    assert [job.outcome for job in batch([inputs], out, runner=fake_job).jobs] == ["done"]
    rows = rows_of(out / "scaleplan.db")
    assert len({row["run_key"] for row in rows}) == len(rows) == 4  # one row per input hash


# --------------------------------------------------------------------------- concurrency


def test_a_held_record_folder_is_a_clear_error_or_a_wait(tmp_path: Path) -> None:
    folder = tmp_path / "out" / "tiny-shop"
    folder.mkdir(parents=True)
    with (folder / decide_module.LOCK_FILE).open("a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        held.write("pid 4242 on elsewhere")
        held.flush()
        started = time.monotonic()
        with pytest.raises(ReportError, match="another scaleplan run is writing") as error:
            decide_module.decide(TINY, tmp_path / "out")
        assert "pid 4242 on elsewhere" in str(error.value) and "--out" in str(error.value)
        assert time.monotonic() - started < 5
        threading.Timer(0.5, held.close).start()  # released while the next one waits
        with decide_module.folder_lock(folder.resolve(), wait_s=30):
            waited = time.monotonic() - started
    assert waited >= 0.5


def test_two_decide_runs_on_one_folder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    command = [*SCALEPLAN, "decide", str(TINY), "-o", str(out), "--budget", "300"]
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
    lock = out / "tiny-shop" / decide_module.LOCK_FILE
    deadline = time.monotonic() + 120
    while not (lock.is_file() and lock.read_text().strip()):
        assert first.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    second = subprocess.run(command, capture_output=True, text=True, timeout=120, env=ENV)
    _, stderr = first.communicate(timeout=300)
    assert first.returncode == 0, stderr.decode()
    no_traceback(second)
    assert second.returncode == 2
    assert "another scaleplan run is writing a record in this folder" in second.stderr
    assert "template wrote no results" not in second.stderr
    results = json.loads((out / "tiny-shop" / "decision-record.json").read_text())
    assert results["run_key"]["digest"] == run_key(TINY, budget=300).digest
    assert (out / "tiny-shop" / "decision-record.html").is_file()


def _fake_batch(out: Path, paths: list[Path]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*FAKE_BATCH, str(out), str(out / "scaleplan.db"), *map(str, paths)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**ENV, "FAKE_JOB_S": "0.3"},
        start_new_session=True,  # its own process group: killed with its pool workers
    )


def _consistent(out: Path, paths: list[Path]) -> dict[str, dict[str, object]]:
    """The store after a kill: sound, one row per scenario, every done row current."""
    with sqlite3.connect(out / "scaleplan.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    rows = rows_of(out / "scaleplan.db")
    names = [Path(str(row["scenario"])).name for row in rows]
    assert len(names) == len(set(names)), "a scenario has two rows"
    assert set(names) <= {path.name for path in paths}
    keys = {path.name: run_key(path).digest for path in paths}
    for row in rows:
        name = Path(str(row["scenario"])).name
        assert row["run_key"] == keys[name]
        if row["status"] == "done":
            artifacts = row["artifacts"]
            assert isinstance(artifacts, dict)
            on_disk = json.loads(Path(artifacts["json"]).read_text())
            assert on_disk["run_key"]["digest"] == row["run_key"]
    return {Path(str(row["scenario"])).name: row for row in rows}


def test_sigkill_at_random_points_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    paths = scenarios(tmp_path / "in", 6)
    out = tmp_path / "out"
    rng = random.Random(15)
    finished: dict[str, dict[str, object]] = {}
    for _ in range(4):
        running = _fake_batch(out, paths)
        time.sleep(rng.uniform(0.5, 3.5))
        if running.poll() is None:
            os.killpg(running.pid, signal.SIGKILL)
        running.communicate(timeout=60)
        if not (out / "scaleplan.db").is_file():
            continue
        rows = _consistent(out, paths)
        for name, row in finished.items():  # done before: untouched since
            assert rows[name]["finished_at"] == row["finished_at"]
            assert rows[name]["attempts"] == row["attempts"]
        finished.update({name: row for name, row in rows.items() if row["status"] == "done"})
    last = _fake_batch(out, paths)
    stdout, stderr = last.communicate(timeout=300)
    assert last.returncode == 0, stderr
    report = json.loads(stdout)
    assert report["counts"]["skipped"] == len(finished)
    assert report["counts"]["done"] == 6 - len(finished)
    rows = _consistent(out, paths)
    assert len(rows) == 6 and {row["status"] for row in rows.values()} == {"done"}
    for name, row in finished.items():
        assert rows[name]["finished_at"] == row["finished_at"]


def test_two_concurrent_batches_on_one_store(tmp_path: Path) -> None:
    paths = scenarios(tmp_path / "in", 6)
    out = tmp_path / "out"
    first, second = _fake_batch(out, paths), _fake_batch(out, paths)
    reports = []
    for running in (first, second):
        stdout, stderr = running.communicate(timeout=300)
        assert running.returncode == 0, stderr
        assert "Traceback" not in stderr
        reports.append(json.loads(stdout)["counts"])
    rows = _consistent(out, paths)
    assert len(rows) == 6 and {row["status"] for row in rows.values()} == {"done"}
    assert {row["attempts"] for row in rows.values()} == {1}
    assert sorted(executions(out)) == sorted(path.name for path in paths)  # each ran once
    assert sum(report["done"] for report in reports) == 6
    assert sum(report["skipped"] for report in reports) == 6
    assert (out / LOG).is_file()
