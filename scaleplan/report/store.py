"""The run store: one SQLite row per run of a scenario, so batches resume and history is kept.

Each row holds the scenario, its :class:`~scaleplan.report.provenance.RunKey` (scenario hash,
spec hashes, the hashes of every other input file, seed, budget, scaleplan version) and its
digest, the library versions, the status (``running`` → ``done`` or ``failed``), timings, the
key metrics and the artifact paths. The digest is unique: rerunning the same inputs updates the
same row (its ``attempts`` count grows) instead of adding one, which is what makes a batch
killed with SIGKILL and run again finish with one row per scenario.

A ``running`` row names its owner — the coordinating process as ``host:pid:start-time`` — and
carries a heartbeat that owner refreshes. :meth:`RunStore.claim` takes a scenario in one
transaction: done (with its record still on disk and of the same inputs) → skip; running under
a live owner → busy (another batch has it); anything else, including a row whose owner died,
→ run it. :meth:`RunStore.reap` marks every row left ``running`` by a dead owner as failed.

Several batches may share a store: connections use WAL (readers never wait) and a busy timeout
(writers queue), and every write is one short ``BEGIN IMMEDIATE`` transaction.

A damaged file never raises a traceback: :attr:`RunStore.damage` says what is wrong with the
file as a whole (``PRAGMA quick_check``, a missing table), and reading goes on row by row,
collecting in :attr:`RunStore.problems` the rows that cannot be read (a corrupt page, a
metrics column that is not JSON, an unknown status). :func:`start_new_store` keeps a damaged
file aside and starts a new one with every row that can still be read.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from scaleplan.errors import ReportError
from scaleplan.report.provenance import RunKey, versions

DEFAULT_STORE = Path("out") / "scaleplan.db"
SCHEMA_VERSION = 2
STATUSES = ("running", "done", "failed")
#: Seconds between two heartbeats of a batch's running rows.
HEARTBEAT_S = 20.0
#: A running row of another host whose heartbeat is older than this has no live owner.
STALE_AFTER_S = 6 * HEARTBEAT_S
#: Seconds a writer waits for another one before giving up.
BUSY_TIMEOUT_S = 60.0

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
    error TEXT NOT NULL DEFAULT '',
    inputs TEXT NOT NULL DEFAULT '{}',
    owner TEXT NOT NULL DEFAULT '',
    heartbeat_at TEXT
);
CREATE INDEX IF NOT EXISTS runs_scenario ON runs (scenario);
"""
#: Columns added by schema version 2 (a version-1 store gains them when opened).
_ADDED_IN_2 = (
    "inputs TEXT NOT NULL DEFAULT '{}'",
    "owner TEXT NOT NULL DEFAULT ''",
    "heartbeat_at TEXT",
)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# ---------------------------------------------------------------------- owners


def _start_ticks(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot), to tell it from a reused pid;
    ``"gone"`` for a zombie (it has ended, its parent has not yet collected it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    fields = stat[stat.rfind(")") + 2 :].split()
    return "gone" if fields[0] in ("Z", "X") else fields[19]


def this_owner() -> str:
    """This process as the owner of running rows: ``host:pid:start-time``."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_start_ticks(pid) or ''}"


def owner_alive(owner: str, heartbeat_at: str | None, *, now: datetime | None = None) -> bool:
    """Whether the process that owns a running row still runs.

    On this host the process itself is looked up (and its start time compared, so a reused
    pid is not taken for it); another host's owner is alive while its heartbeat is recent.
    """
    host, _, rest = owner.partition(":")
    pid_text, _, ticks = rest.partition(":")
    if not host or not pid_text.isdigit():
        return False  # no owner recorded (a row written before owners were)
    if host != socket.gethostname():
        if heartbeat_at is None:
            return False
        try:
            beat = datetime.fromisoformat(heartbeat_at)
        except ValueError:
            return False
        return ((now or datetime.now(UTC)) - beat).total_seconds() < STALE_AFTER_S
    pid = int(pid_text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, another user's
    current = _start_ticks(pid)
    if current == "gone":
        return False
    return current is None or not ticks or current == ticks


# ---------------------------------------------------------------------- rows


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
    inputs: dict[str, str] = field(default_factory=dict)
    owner: str = ""
    heartbeat_at: str | None = None

    def artifacts_exist(self) -> bool:
        """Whether every artifact the row names is still on disk."""
        return bool(self.artifacts) and all(Path(p).is_file() for p in self.artifacts.values())

    def record_is_current(self) -> bool:
        """Whether the record on disk is this run's: its files exist and its results name
        this run key (a later run of other inputs may have rewritten the same folder)."""
        if not self.artifacts_exist():
            return False
        results = self.artifacts.get("json")
        if results is None:
            return True
        try:
            data = json.loads(Path(results).read_text(encoding="utf-8"))
            return bool(data["run_key"]["digest"] == self.run_key)
        except (OSError, ValueError, KeyError, TypeError):
            return False

    @property
    def stale(self) -> bool:
        """A row left ``running`` by a process that is gone."""
        return self.status == "running" and not owner_alive(self.owner, self.heartbeat_at)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


_ADDED_DEFAULTS: dict[str, Any] = {"inputs": "{}", "owner": "", "heartbeat_at": None}
_JSON_COLUMNS = ("spec_hashes", "budget", "versions", "metrics", "artifacts", "inputs")


class UnusableStore(ReportError):
    """A store file SQLite cannot read at all (not SQLite, or its header is damaged)."""


class UnreadableRow(ValueError):
    """A row whose columns do not hold what the store wrote."""


def _record(row: sqlite3.Row) -> RunRecord:
    values = {**_ADDED_DEFAULTS, **dict(row)}  # an unmigrated version-1 file lacks some
    for column in _JSON_COLUMNS:
        try:
            values[column] = json.loads(values[column])
        except (TypeError, ValueError):
            raise UnreadableRow(f"its {column} column is not JSON") from None
        if not isinstance(values[column], dict):
            raise UnreadableRow(f"its {column} column is not a JSON object")
    if values["status"] not in STATUSES:
        raise UnreadableRow(f"unknown status {str(values['status'])[:40]!r}")
    try:
        return RunRecord(**values)
    except TypeError as error:
        raise UnreadableRow(str(error)) from None


# ---------------------------------------------------------------------- the store

Claim = tuple[Literal["skip", "busy", "run"], RunRecord | None, int | None]


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
        #: What is wrong with the file as a whole (empty when nothing is).
        self.damage: list[str] = []
        #: Rows that could not be read, as ``row ID: why``.
        self.problems: list[str] = []
        self.owner = this_owner()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ReportError(f"{self.path}: cannot create its folder ({error})") from None
        if self.path.exists() and not self.path.is_file():
            raise ReportError(f"{self.path}: is not a file (give the run store's file)")
        try:
            self._db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except sqlite3.Error as error:
            raise ReportError(f"{self.path}: cannot open the run store ({error})") from None
        try:
            self._open()
        except sqlite3.DatabaseError as error:
            self._db.close()
            raise UnusableStore(
                f"{self.path}: not a usable run store ({error}); "
                "--new-store keeps it aside and starts a new one"
            ) from None
        except BaseException:
            self._db.close()
            raise

    def _open(self) -> None:
        self._db.row_factory = sqlite3.Row
        self._db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        self._switch_to_wal()
        self._db.execute("PRAGMA synchronous=NORMAL")
        # One snapshot for both reads: another process may be creating this store right now.
        self._db.execute("BEGIN")
        try:
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            tables = {
                row[0]
                for row in self._db.execute(
                    "SELECT name FROM sqlite_master "
                    "WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
                )
            }
        finally:
            self._rollback()
        if version not in (0, 1, SCHEMA_VERSION):
            raise ReportError(
                f"{self.path}: run store schema version {version}; this scaleplan reads "
                f"version {SCHEMA_VERSION} (use another --store or upgrade scaleplan)"
            )
        if version == 0 and tables:
            raise ReportError(
                f"{self.path}: not a run store (an SQLite file with the tables "
                f"{', '.join(sorted(tables)[:5])}): give another --store"
            )
        if version != 0 and "runs" not in tables:
            self.damage.append("its runs table is missing")
            return
        if version != 0:
            try:
                check = [row[0] for row in self._db.execute("PRAGMA quick_check(20)")]
            except sqlite3.DatabaseError as error:
                check = [str(error)]
            # A broken constraint is one row's problem, which the row reader names.
            check = [line for line in check if "constraint failed" not in line] or ["ok"]
            if check != ["ok"]:
                self.damage.append("the file is damaged (" + "; ".join(check[:3]) + ")")
                return
        if version == SCHEMA_VERSION:
            return
        with self._transaction() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]  # may have changed
            if version == 0:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
            elif version == 1:
                for column in _ADDED_IN_2:
                    db.execute(f"ALTER TABLE runs ADD COLUMN {column}")
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _switch_to_wal(self) -> None:
        """``PRAGMA journal_mode=WAL``, retried while another process is creating the store.

        SQLite answers the switch with "database is locked" at once, without its busy
        handler, when it meets another connection switching the same new file; the busy
        timeout is honoured here by hand.
        """
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        pause = 0.005
        while True:
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as error:
                locked = "locked" in str(error) or "busy" in str(error)
                if not locked or time.monotonic() + pause > deadline:
                    raise
            time.sleep(pause)
            pause = min(2 * pause, 0.25)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as error:
            raise self._error("cannot write", error) from None
        try:
            yield self._db
        except sqlite3.DatabaseError as error:
            self._rollback()
            raise self._error("cannot write", error) from None
        except BaseException:
            self._rollback()
            raise
        try:
            self._db.execute("COMMIT")
        except sqlite3.DatabaseError as error:
            self._rollback()
            raise self._error("cannot write", error) from None

    def _rollback(self) -> None:
        # SQLite may have ended the transaction itself on the error: nothing to roll back.
        with contextlib.suppress(sqlite3.Error):
            self._db.execute("ROLLBACK")

    def _error(self, doing: str, error: sqlite3.Error) -> ReportError:
        return ReportError(
            f"{self.path}: {doing} the run store ({error}); "
            "if it is damaged, --new-store keeps it aside and starts a new one"
        )

    # ------------------------------------------------------------------ writing

    def _key_values(self, key: RunKey) -> dict[str, Any]:
        return {
            "run_key": key.digest,
            "scenario_hash": key.scenario_hash,
            "spec_hashes": json.dumps(key.spec_hashes, sort_keys=True),
            "inputs": json.dumps(key.inputs, sort_keys=True),
            "seed": key.seed,
            "budget": json.dumps(key.budget, sort_keys=True),
            "scaleplan_version": key.scaleplan_version,
        }

    def _upsert_running(
        self, db: sqlite3.Connection, key: RunKey, scenario: str, title: str, executor: str
    ) -> int:
        values = {
            **self._key_values(key),
            "scenario": scenario,
            "title": title,
            "versions": json.dumps(versions(), sort_keys=True),
            "executor": executor,
            "host": socket.gethostname(),
            "started_at": _now(),
            "owner": self.owner,
            "heartbeat_at": _now(),
        }
        columns = ", ".join(values)
        marks = ", ".join(f":{name}" for name in values)
        # Every column is written again: a row with a damaged column is repaired by a rerun.
        updates = ", ".join(f"{name} = excluded.{name}" for name in values if name != "run_key")
        db.execute(
            f"INSERT INTO runs ({columns}, status) VALUES ({marks}, 'running') "
            f"ON CONFLICT (run_key) DO UPDATE SET status = 'running', "
            f"attempts = attempts + 1, {updates}, finished_at = NULL, wall_s = NULL, "
            "error = '', metrics = '{}', artifacts = '{}'",
            values,
        )
        row = db.execute("SELECT id FROM runs WHERE run_key = ?", (key.digest,)).fetchone()
        return int(row["id"])

    def start(self, key: RunKey, scenario: str, *, title: str = "", executor: str = "local") -> int:
        """Mark the run of ``key`` as running, owned by this process (a new row, or the same
        row once more)."""
        with self._transaction() as db:
            return self._upsert_running(db, key, scenario, title, executor)

    def claim(self, key: RunKey, scenario: str, *, executor: str = "local") -> Claim:
        """Decide, in one transaction, what to do with the run of ``key``.

        ``("skip", record, None)``: done, with a current record on disk. ``("busy", record,
        None)``: running under another live owner. ``("run", previous or None, run_id)``:
        the row is now running and owned by this process.
        """
        with self._transaction() as db:
            row = db.execute("SELECT * FROM runs WHERE run_key = ?", (key.digest,)).fetchone()
            previous: RunRecord | None = None
            if row is not None:
                try:
                    previous = _record(row)
                except UnreadableRow as error:
                    self.problems.append(f"row {row['id']} ({scenario}): {error}; run again")
            if previous is not None:
                if previous.status == "done" and previous.record_is_current():
                    return "skip", previous, None
                if (
                    previous.status == "running"
                    and previous.owner != self.owner
                    and owner_alive(previous.owner, previous.heartbeat_at)
                ):
                    return "busy", previous, None
            return "run", previous, self._upsert_running(db, key, scenario, "", executor)

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
                "artifacts = ?, error = ?, title = COALESCE(?, title), heartbeat_at = NULL "
                "WHERE id = ?",
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

    def beat(self) -> None:
        """Refresh the heartbeat of this process's running rows."""
        with self._transaction() as db:
            db.execute(
                "UPDATE runs SET heartbeat_at = ? WHERE owner = ? AND status = 'running'",
                (_now(), self.owner),
            )

    def reap(self) -> list[RunRecord]:
        """Mark every row left ``running`` by a process that is gone as failed; return them."""
        reaped = []
        with self._transaction() as db:
            rows = db.execute("SELECT * FROM runs WHERE status = 'running'").fetchall()
            for row in rows:
                try:
                    record = _record(row)
                except UnreadableRow:
                    continue
                if record.owner == self.owner or not record.stale:
                    continue
                owner = record.owner or "an older scaleplan"
                db.execute(
                    "UPDATE runs SET status = 'failed', finished_at = ?, heartbeat_at = NULL, "
                    "error = ? WHERE id = ? AND status = 'running'",
                    (
                        _now(),
                        f"abandoned: left running by {owner}, which is no longer running "
                        "(killed?); the next batch of this scenario runs it again",
                        record.id,
                    ),
                )
                reaped.append(record)
        return reaped

    # ------------------------------------------------------------------ reading

    def find(self, key: RunKey) -> RunRecord | None:
        """The run of ``key``, if there is one that can be read."""
        try:
            row = self._db.execute("SELECT * FROM runs WHERE run_key = ?", (key.digest,)).fetchone()
        except sqlite3.DatabaseError as error:
            self.problems.append(f"the run of {key.digest}: unreadable ({error})")
            return None
        if row is None:
            return None
        try:
            return _record(row)
        except UnreadableRow as error:
            self.problems.append(f"row {row['id']}: {error}")
            return None

    def done(self, key: RunKey) -> RunRecord | None:
        """The finished run of ``key`` whose record is still on disk and its own, if any."""
        record = self.find(key)
        if record is not None and record.status == "done" and record.record_is_current():
            return record
        return None

    def runs(self, *, scenario: str | None = None, limit: int | None = None) -> list[RunRecord]:
        """The runs that can be read, the most recently started first (the others are
        listed in :attr:`problems`)."""
        records = [
            record
            for record in self._readable_rows()
            if scenario is None or record.scenario == scenario
        ]
        records.sort(key=lambda record: (record.started_at, record.id), reverse=True)
        return records if limit is None else records[:limit]

    def _readable_rows(self) -> Iterator[RunRecord]:
        if "its runs table is missing" in self.damage:
            return
        self.problems.clear()
        try:
            rows = self._db.execute("SELECT * FROM runs ORDER BY id").fetchall()
        except sqlite3.DatabaseError:
            rows = None  # a damaged page: read what can be read, one row at a time
        if rows is not None:
            for row in rows:
                yield from self._parsed(row)
            return
        for run_id in range(1, self._last_id() + 1):
            try:
                row = self._db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
            except sqlite3.DatabaseError as error:
                self.problems.append(f"row {run_id}: unreadable ({error})")
                continue
            if row is not None:
                yield from self._parsed(row)

    def _parsed(self, row: sqlite3.Row) -> Iterator[RunRecord]:
        try:
            yield _record(row)
        except UnreadableRow as error:
            self.problems.append(f"row {row['id']}: {error}")

    def _last_id(self) -> int:
        for query in ("SELECT max(id) FROM runs", "SELECT seq FROM sqlite_sequence"):
            try:
                found = self._db.execute(query).fetchone()
            except sqlite3.DatabaseError:
                continue
            if found is not None and isinstance(found[0], int):
                return found[0]
        self.problems.append("the row numbers cannot be read: no row could be")
        return 0


@contextmanager
def heartbeat(path: Path, interval_s: float = HEARTBEAT_S) -> Iterator[None]:
    """Refresh this process's running rows every ``interval_s`` while the block runs (on a
    thread with its own connection), so other hosts see their owner is alive."""
    stop = threading.Event()

    def beat() -> None:
        with RunStore(path) as store:
            while not stop.wait(interval_s):
                with contextlib.suppress(ReportError):  # busy or damaged: the next beat tries
                    store.beat()

    thread = threading.Thread(target=beat, name="scaleplan-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def start_new_store(path: str | Path) -> tuple[Path | None, int]:
    """Keep the file at ``path`` aside (``NAME.damaged-TIMESTAMP``) and start a new store
    there with every row of it that can still be read.

    Returns where the old file went (``None`` when there was none) and the rows copied.
    """
    path = Path(path)
    if not path.exists():
        return None, 0
    salvaged: list[RunRecord] = []
    try:
        with RunStore(path) as old:
            salvaged = old.runs()
    except UnusableStore:
        pass  # not SQLite at all: nothing to copy
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    aside = path.with_name(f"{path.name}.damaged-{stamp}")
    counter = 1
    while aside.exists():
        counter += 1
        aside = path.with_name(f"{path.name}.damaged-{stamp}-{counter}")
    os.replace(path, aside)
    for suffix in ("-wal", "-shm"):  # SQLite's companions belong to the old file
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            os.replace(companion, aside.with_name(aside.name + suffix))
    with RunStore(path) as new, new._transaction() as db:
        for record in reversed(salvaged):  # oldest first: ids keep their order
            values = record.to_dict()
            for column in _JSON_COLUMNS:
                values[column] = json.dumps(values[column], sort_keys=True)
            columns = ", ".join(values)
            marks = ", ".join(f":{name}" for name in values)
            db.execute(f"INSERT OR IGNORE INTO runs ({columns}) VALUES ({marks})", values)
    return aside, len(salvaged)


def repair_store(path: str | Path) -> str | None:
    """When the file at ``path`` is not a healthy store, keep it aside and start a new one
    with its readable rows (:func:`start_new_store`); say what was done (``None``: nothing)."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        with RunStore(path) as store:
            store.runs()
            if not store.damage and not store.problems:
                return None
            why = "; ".join(store.damage + store.problems[:3])
    except UnusableStore as error:  # not another program's database: that one is refused
        why = str(error).split("; --new-store")[0].removeprefix(f"{path}: ")
    aside, copied = start_new_store(path)
    return f"{path}: {why}: kept aside as {aside}; a new store holds its {copied} readable rows"


def open_store(path: str | Path | None, out_dir: str | Path) -> RunStore:
    """The store at ``path``, or ``OUT_DIR/scaleplan.db`` by default."""
    return RunStore(store_path(path, out_dir))


def store_path(path: str | Path | None, out_dir: str | Path) -> Path:
    """Where the store is: ``path``, or ``OUT_DIR/scaleplan.db`` by default."""
    return Path(path) if path is not None else Path(out_dir) / DEFAULT_STORE.name
