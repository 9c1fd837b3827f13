"""The run store: one SQLite row per run of a scenario, so batches resume and history is kept.

Each row holds the scenario, its :class:`~scaleplan.report.provenance.RunKey` (scenario hash,
spec hashes, seed, budget, scaleplan version) and its digest, the library versions, the status
(``running`` → ``done`` or ``failed``), timings, the key metrics and the artifact paths. The
digest is unique: rerunning the same inputs updates the same row (its ``attempts`` count
grows) instead of adding one, which is what makes a batch killed with SIGKILL and run again
finish with one row per scenario. A row left ``running`` by a killed batch is simply run
again.

Only the process that coordinates a batch writes here (workers return their results to it),
so SQLite's single writer is enough; WAL mode lets ``scaleplan runs`` read during a batch.
"""

from __future__ import annotations

import json
import socket
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scaleplan.errors import ReportError
from scaleplan.report.provenance import RunKey, versions

DEFAULT_STORE = Path("out") / "scaleplan.db"
SCHEMA_VERSION = 1
STATUSES = ("running", "done", "failed")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_key TEXT NOT NULL UNIQUE,
    scenario TEXT NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    scenario_hash TEXT NOT NULL,
    spec_hashes TEXT NOT NULL,
    seed INTEGER,
    budget TEXT NOT NULL,
    scaleplan_version TEXT NOT NULL,
    versions TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 1,
    executor TEXT NOT NULL DEFAULT '',
    host TEXT NOT NULL DEFAULT '',
    started_at TEXT NOT NULL,
    finished_at TEXT,
    wall_s REAL,
    metrics TEXT NOT NULL DEFAULT '{}',
    artifacts TEXT NOT NULL DEFAULT '{}',
    error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS runs_scenario ON runs (scenario);
"""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class RunRecord:
    """One row of the store."""

    id: int
    run_key: str
    scenario: str
    title: str
    scenario_hash: str
    spec_hashes: dict[str, str]
    seed: int | None
    budget: dict[str, Any]
    scaleplan_version: str
    versions: dict[str, str]
    status: str
    attempts: int
    executor: str
    host: str
    started_at: str
    finished_at: str | None
    wall_s: float | None
    metrics: dict[str, Any] = field(default_factory=dict)
    artifacts: dict[str, str] = field(default_factory=dict)
    error: str = ""

    def artifacts_exist(self) -> bool:
        """Whether every artifact the row names is still on disk."""
        return bool(self.artifacts) and all(Path(p).is_file() for p in self.artifacts.values())

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


_JSON_COLUMNS = ("spec_hashes", "budget", "versions", "metrics", "artifacts")


def _record(row: sqlite3.Row) -> RunRecord:
    values = dict(row)
    for column in _JSON_COLUMNS:
        values[column] = json.loads(values[column])
    return RunRecord(**values)


class RunStore:
    """The SQLite run store at ``path`` (created with its folder when missing).

    Examples
    --------
    >>> import tempfile
    >>> from scaleplan.report.provenance import RunKey
    >>> folder = tempfile.mkdtemp()
    >>> with RunStore(f"{folder}/runs.db") as store:
    ...     key = RunKey(scenario_hash="abc", seed=1)
    ...     run_id = store.start(key, "shop.yaml", title="Shop")
    ...     store.finish(run_id, metrics={"chosen": "lb-cluster"}, artifacts={}, wall_s=1.5)
    ...     [(r.scenario, r.status, r.metrics["chosen"]) for r in store.runs()]
    [('shop.yaml', 'done', 'lb-cluster')]
    """

    def __init__(self, path: str | Path = DEFAULT_STORE) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, SCHEMA_VERSION):
                raise ReportError(
                    f"{self.path}: run store schema version {version}; this scaleplan reads "
                    f"version {SCHEMA_VERSION} (use another --store or upgrade scaleplan)"
                )
            self._db.executescript(_SCHEMA)
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except sqlite3.DatabaseError as error:
            raise ReportError(f"{self.path}: not a usable run store ({error})") from None

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # ------------------------------------------------------------------ writing

    def start(self, key: RunKey, scenario: str, *, title: str = "", executor: str = "local") -> int:
        """Mark the run of ``key`` as running (a new row, or the same row once more)."""
        values = {
            "run_key": key.digest,
            "scenario": scenario,
            "title": title,
            "scenario_hash": key.scenario_hash,
            "spec_hashes": json.dumps(key.spec_hashes, sort_keys=True),
            "seed": key.seed,
            "budget": json.dumps(key.budget, sort_keys=True),
            "scaleplan_version": key.scaleplan_version,
            "versions": json.dumps(versions(), sort_keys=True),
            "executor": executor,
            "host": socket.gethostname(),
            "started_at": _now(),
        }
        columns = ", ".join(values)
        marks = ", ".join(f":{name}" for name in values)
        with self._transaction() as db:
            db.execute(
                f"INSERT INTO runs ({columns}, status) VALUES ({marks}, 'running') "
                "ON CONFLICT (run_key) DO UPDATE SET status = 'running', "
                "attempts = attempts + 1, scenario = excluded.scenario, title = excluded.title, "
                "versions = excluded.versions, executor = excluded.executor, "
                "host = excluded.host, started_at = excluded.started_at, finished_at = NULL, "
                "wall_s = NULL, error = ''",
                values,
            )
            row = db.execute("SELECT id FROM runs WHERE run_key = ?", (key.digest,)).fetchone()
        return int(row["id"])

    def finish(
        self,
        run_id: int,
        *,
        metrics: Mapping[str, Any],
        artifacts: Mapping[str, str],
        wall_s: float,
        title: str | None = None,
    ) -> None:
        """Mark a run done with its key metrics and artifact paths."""
        self._end(run_id, "done", metrics, artifacts, wall_s, "", title)

    def fail(
        self,
        run_id: int,
        *,
        error: str,
        artifacts: Mapping[str, str] | None = None,
        wall_s: float | None = None,
    ) -> None:
        """Mark a run failed with its error (and the failed notebook, if one was kept)."""
        self._end(run_id, "failed", {}, artifacts or {}, wall_s, error, None)

    def _end(
        self,
        run_id: int,
        status: str,
        metrics: Mapping[str, Any],
        artifacts: Mapping[str, str],
        wall_s: float | None,
        error: str,
        title: str | None,
    ) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE runs SET status = ?, finished_at = ?, wall_s = ?, metrics = ?, "
                "artifacts = ?, error = ?, title = COALESCE(?, title) WHERE id = ?",
                (
                    status,
                    _now(),
                    wall_s,
                    json.dumps(dict(metrics), sort_keys=True, allow_nan=False),
                    json.dumps(dict(artifacts), sort_keys=True),
                    error,
                    title,
                    run_id,
                ),
            )

    # ------------------------------------------------------------------ reading

    def find(self, key: RunKey) -> RunRecord | None:
        """The run of ``key``, if there is one."""
        row = self._db.execute("SELECT * FROM runs WHERE run_key = ?", (key.digest,)).fetchone()
        return _record(row) if row is not None else None

    def done(self, key: RunKey) -> RunRecord | None:
        """The finished run of ``key`` whose artifacts are all still on disk, if any."""
        record = self.find(key)
        if record is not None and record.status == "done" and record.artifacts_exist():
            return record
        return None

    def runs(self, *, scenario: str | None = None, limit: int | None = None) -> list[RunRecord]:
        """Runs, the most recently started first."""
        query = "SELECT * FROM runs"
        arguments: list[Any] = []
        if scenario is not None:
            query += " WHERE scenario = ?"
            arguments.append(scenario)
        query += " ORDER BY started_at DESC, id DESC"
        if limit is not None:
            query += " LIMIT ?"
            arguments.append(limit)
        return [_record(row) for row in self._db.execute(query, arguments)]


def open_store(path: str | Path | None, out_dir: str | Path) -> RunStore:
    """The store at ``path``, or ``OUT_DIR/scaleplan.db`` by default."""
    return RunStore(Path(path) if path is not None else Path(out_dir) / DEFAULT_STORE.name)
