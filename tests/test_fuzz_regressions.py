"""Every failing case the fuzz suite (tests/test_fuzz.py) has found, as a plain test.

Each row is the minimal command line (and the files it needs) of one failure class, run the
same way as a fuzz case (:mod:`fuzz_harness`: the console entry point in a watched fork) and
held to the same rules: exit 2 (a refusal) or 0, no traceback, CPU time and memory within
:class:`fuzz_harness.Limits`, nothing written outside the output, no file opened outside the
allowed tree. ``must_refuse`` rows must exit 2.

The surface that owns each fix is in the row's comment (issue 15 splits the work: numbers and
work budgets; files, paths, console and HTML; run store and batch). Rows stay here after their
fix: they are how a fixed defect stays fixed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from test_fuzz import (
    DATA,
    ROLLOUT_ARCH,
    Workspace,
    _small_dr,
    _small_rollout,
    check,
    dump,
    echoed,
)

MONOLITH = "{data}/architectures/monolith.yaml"


@dataclass(frozen=True)
class Row:
    """One regression: files to write in the case's folder, then the command line."""

    id: str
    args: tuple[str, ...]
    files: tuple[tuple[str, str | bytes], ...] = ()  # (name in the spec folder, content)
    must_refuse: bool = True
    outputs: tuple[str, ...] = ()  # beside {out}, what the command may write


def _dr_with(key: str, value: str) -> str:
    """The small DR file with ``key`` (a.b.c) written as the raw YAML ``value``."""
    data = _small_dr()
    *parents, last = key.split(".")
    node = data
    for part in parents:
        node = node[part]
    node[last] = "FUZZ_SENTINEL_5e1c"
    return dump(data).replace("FUZZ_SENTINEL_5e1c", value, 1)


def _plan_with(key: str, value: str) -> str:
    data = _small_rollout()
    *parents, last = key.split(".")
    node = data
    for part in parents:
        node = node[part]
    node[last] = "FUZZ_SENTINEL_5e1c"
    return dump(data).replace("FUZZ_SENTINEL_5e1c", value, 1)


def _empirical(file: str) -> str:
    return dump(
        {
            "name": "empirical",
            "workload": {"arrival": "poisson", "rate_per_s": 10, "requests": 300},
            "entry": "api",
            "components": {
                "api": {
                    "kind": "service",
                    "concurrency": 2,
                    "service_time": {"dist": "empirical", "file": file},
                }
            },
        }
    )


def _trace(file: str) -> str:
    return dump(
        {
            "name": "trace",
            "workload": {"arrival": "trace", "trace": {"file": file}},
            "entry": "api",
            "components": {
                "api": {
                    "kind": "service",
                    "concurrency": 4,
                    "service_time": {"dist": "exponential", "mean_ms": 5},
                }
            },
        }
    )


def _bundled_with(name: str, key: str, value: str) -> str:
    """A bundled architecture with ``key`` (a.b.c) written as the raw YAML ``value``."""
    data = yaml.safe_load((DATA / "architectures" / name).read_text())
    *parents, last = key.split(".")
    node = data
    for part in parents:
        node = node[part]
    node[last] = "FUZZ_SENTINEL_5e1c"
    return dump(data).replace("FUZZ_SENTINEL_5e1c", value, 1)


DEEP = "[" * 5000 + "]" * 5000
HUGE_INT = "x: " + "9" * 100_000 + "\n"
ROLLOUT = ("rollout", "{spec}/rollout-arch.yaml", "--plan", "{spec}/plan.yaml")
ROLLOUT_FILES: tuple[tuple[str, str | bytes], ...] = (
    ("rollout-arch.yaml", dump(ROLLOUT_ARCH)),
    ("plan.yaml", dump(_small_rollout())),
)

ROWS = [
    # --- numbers and work budgets -------------------------------------------------------
    Row("seed-negative-simulate", ("simulate", MONOLITH, "--requests", "300", "--seed", "-1")),
    Row("estimate-rate-inf", ("estimate", MONOLITH, "--rate-per-s", "inf")),
    # The estimate's work grows with a station's slots: 1e16 slots ran until killed (41 s CPU).
    Row(
        "estimate-concurrency-1e16",
        ("estimate", "{spec}/a.yaml"),
        files=(
            (
                "a.yaml",
                _bundled_with(
                    "edge-offload.yaml", "components.db.concurrency", "9966861497880334.0"
                ),
            ),
        ),
    ),
    # Every replication held its latency histograms until the summary: 1,000 replications of
    # 300 requests grew the process by over 2 GB (killed). Refused up front (runsize).
    Row(
        "simulate-replications-1000",
        ("simulate", MONOLITH, "--requests", "300", "--replications", "1_000"),
    ),
    # The share of users hit kept two arrays of the plan's users: 1.6 billion took 1.5 GB.
    Row(
        "rollout-users-1.6e9",
        ROLLOUT,
        files=(
            ("rollout-arch.yaml", dump(ROLLOUT_ARCH)),
            ("plan.yaml", _plan_with("users", "1591687990.0")),
        ),
        must_refuse=False,
    ),
    Row("rollout-rate-5000-digits", (*ROLLOUT, "--rate-per-s", "9" * 5000), files=ROLLOUT_FILES),
    Row(
        "rollout-cost-per-replica-hour-5000-digits",
        (*ROLLOUT, "--cost-per-replica-hour", "9" * 5000),
        files=ROLLOUT_FILES,
    ),
    Row("rollout-replications-1e8", (*ROLLOUT, "--replications", "100000000"), files=ROLLOUT_FILES),
    Row(
        "dr-per-year-5000-digits",
        ("dr", "{spec}/dr.yaml"),
        files=(("dr.yaml", _dr_with("disasters.per_year", "9" * 5000)),),
    ),
    Row(
        "yaml-5000-digit-integer-architecture",
        ("validate", "{spec}/a.yaml"),
        files=(("a.yaml", HUGE_INT),),
    ),
    Row("yaml-5000-digit-integer-dr", ("dr", "{spec}/a.yaml"), files=(("a.yaml", HUGE_INT),)),
    Row("yaml-deep-nesting-architecture", ("validate", "{spec}/a.yaml"), files=(("a.yaml", DEEP),)),
    Row("yaml-deep-nesting-dr", ("dr", "{spec}/a.yaml"), files=(("a.yaml", DEEP),)),
    Row(
        "yaml-deep-nesting-rollout",
        ("rollout", "{spec}/rollout-arch.yaml", "--plan", "{spec}/a.yaml"),
        files=(ROLLOUT_FILES[0], ("a.yaml", DEEP)),
    ),
    Row("yaml-deep-nesting-scenario", ("compare", "{spec}/a.yaml"), files=(("a.yaml", DEEP),)),
    # --- files, paths, console and HTML ---------------------------------------------------
    Row(
        "empirical-file-outside-relative",
        ("simulate", "{spec}/a.yaml"),
        files=(("a.yaml", _empirical("../secret/data.csv")),),
    ),
    Row(
        "empirical-file-etc-passwd",
        ("simulate", "{spec}/a.yaml"),
        files=(("a.yaml", _empirical("/etc/passwd")),),
    ),
    Row(
        "trace-file-outside-relative",
        ("simulate", "{spec}/a.yaml"),
        files=(("a.yaml", _trace("../secret/trace.csv")),),
    ),
    Row(
        "trace-file-etc-passwd",
        ("simulate", "{spec}/a.yaml"),
        files=(("a.yaml", _trace("../../../../../../../../etc/passwd")),),
    ),
    Row(
        "trace-file-binary",
        ("simulate", "{spec}/a.yaml"),
        files=(("a.yaml", _trace("t.csv")), ("t.csv", b"\x00\xff\xfe\x01" * 100)),
    ),
    Row(
        "trace-file-latin1",
        ("simulate", "{spec}/a.yaml"),
        files=(("a.yaml", _trace("t.csv")), ("t.csv", "t_s\n1\n2\ncaf\u00e9\n".encode("latin-1"))),
    ),
    Row(
        "empirical-file-field-over-csv-limit",
        ("simulate", "{spec}/a.yaml"),
        files=(("a.yaml", _empirical("s.csv")), ("s.csv", "value_ms\n" + "1" * 200_000 + "\n")),
    ),
    Row("schema-output-dev-full", ("schema", "-o", "/dev/full"), outputs=("/dev/full",)),
    Row("graph-output-is-a-folder", ("graph", MONOLITH, "--no-simulate", "-o", "{out}")),
    Row(
        "failures-html-empty-path",
        (
            "failures",
            MONOLITH,
            "--replications",
            "2",
            "--probes",
            "100",
            "--duration-h",
            "2",
            "--html",
            "",
        ),
    ),
    Row("schema-output-missing-parent", ("schema", "-o", "{out}/sub/dir/schema.json")),
    Row(
        "dr-html-is-the-working-folder",
        ("dr", "{data}/dr/online-shop-dr.yaml", "--disasters", "300", "--html", "."),
    ),
    Row(
        "graph-output-name-too-long",
        ("graph", MONOLITH, "--no-simulate", "-o", "{out}/" + "x" * 300),
    ),
    # --- run store and batch ------------------------------------------------------------------
    Row("runs-store-name-too-long", ("runs", "--store", "x" * 300)),
]


def _materialise(row: Row, workspace: Workspace) -> list[str]:
    for name, content in row.files:
        workspace.write(name, content)
    values = {
        "data": str(workspace.data),
        "spec": str(workspace.spec_dir),
        "out": str(workspace.out),
    }
    return [arg.format(**values) for arg in row.args]


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_fuzz_regression(row: Row) -> None:
    workspace = Workspace()
    try:
        args = _materialise(row, workspace)
        outputs = [workspace.out, *(Path(o) for o in row.outputs)]
        outcome = check(
            workspace.case(args, outputs=outputs, must_refuse=row.must_refuse), label=row.id
        )
        for name, _ in row.files:
            assert not echoed(workspace.spec_dir / name, outcome) or name.endswith(".yaml")
        assert not echoed(Path("/etc/passwd"), outcome), "a line of /etc/passwd was printed"
        assert not echoed(workspace.secret / "data.csv", outcome)
    finally:
        workspace.close()


def test_rows_are_distinct() -> None:
    assert len({row.id for row in ROWS}) == len(ROWS)
    assert len({row.args + tuple(map(str, row.files)) for row in ROWS}) == len(ROWS)
