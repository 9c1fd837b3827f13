"""End to end on the reference system: the model's own load test confirms it, and refutes it
against a system with one orders worker fewer, naming orders.

The whole loop a user runs, each part real: ``scaleplan loadtest`` writes the plan and the
Locust file from ``examples/reference-system/scenario.yaml``; the reference system's three
services run as processes on 127.0.0.1; headless Locust walks the plan's steps against it and
stops by itself (bounded by a subprocess timeout too); ``scaleplan verify`` judges Locust's
CSVs against the plan. Nothing is mocked.

The steps are shortened here (``--step-s``) to keep ``make test`` short: the plan's bands then
carry the range one window of that length shows under the model, so the verdict accounts for
the shorter windows rather than a looser tolerance. ``make e2e`` runs the scenario's own step
lengths (set ``SCALEPLAN_E2E_FULL=1``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from scaleplan.loadtest import read_plan

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "examples" / "reference-system"
SCENARIO = FOLDER / "scenario.yaml"
#: Seconds per step in the short profile (3 of them settling), unless SCALEPLAN_E2E_FULL: the
#: shortest whose measured window (10 s) still holds a Locust percentile window, so p50 and p95
#: are judged too.
SHORT_STEP_S, SHORT_SETTLE_S = 13.0, 3.0
FULL = os.environ.get("SCALEPLAN_E2E_FULL") == "1"

pytestmark = pytest.mark.slow


def _load_system() -> ModuleType:
    spec = importlib.util.spec_from_file_location("refsys_system_e2e", FOLDER / "system.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while defining
    spec.loader.exec_module(module)
    return module


system = _load_system()


def _scaleplan(*args: str, timeout_s: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scaleplan", *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        cwd=ROOT,
    )


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The load test ``scaleplan loadtest`` makes of the reference scenario."""
    folder = tmp_path_factory.mktemp("loadtest")
    lengths = [] if FULL else ["--step-s", str(SHORT_STEP_S), "--settle-s", str(SHORT_SETTLE_S)]
    done = _scaleplan("loadtest", str(SCENARIO), "-o", str(folder), "--workers", "2", *lengths)
    assert done.returncode == 0, done.stdout + done.stderr
    return folder


def _locust(planned: Path, url: str, prefix: Path) -> None:
    """Run the generated Locust file against ``url`` until it stops by itself."""
    plan = read_plan(planned / "plan.json")
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(planned / "locustfile.py"),
        "--headless",
        "--host",
        url,
        "--csv",
        str(prefix),
        "--csv-full-history",
    ]
    # Locust must never be imported into this process (gevent); its own process, bounded.
    process = subprocess.Popen(
        command,
        cwd=prefix.parent,
        env={**os.environ, "PYTHONPATH": ""},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = process.communicate(timeout=plan.duration_s + 40)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    # The exit code judges the NFRs (which the slowed system may break): the CSVs must exist.
    assert (prefix.parent / f"{prefix.name}_stats_history.csv").is_file(), (out + err)[-3000:]


def _verify(planned: Path, prefix: Path) -> tuple[int, dict[str, Any]]:
    done = _scaleplan(
        "verify", str(SCENARIO), str(prefix), "--plan", str(planned / "plan.json"), "--json"
    )
    assert done.returncode in (0, 1), done.stdout + done.stderr
    return done.returncode, json.loads(done.stdout)


def _measure(planned: Path, folder: Path, workers: dict[str, int] | None) -> Iterator[Any]:
    with system.running(workers=workers) as running:
        _locust(planned, running.url, folder / "results")
    yield _verify(planned, folder / "results")


def test_the_load_test_of_the_intact_system_confirms_the_model(
    planned: Path, tmp_path: Path
) -> None:
    [(code, verification)] = list(_measure(planned, tmp_path, None))
    assert verification["verdict"] == "confirmed", verification["divergences"]
    assert code == 0
    judged = [
        check
        for step in verification["steps"]
        for check in step["checks"]
        if check["agrees"] is not None
    ]
    # Every step's throughput, mean and p50 at least were measured and judged.
    figures = {check["figure"] for check in judged}
    assert {"throughput_per_s", "mean_ms", "p50_ms"} <= figures, figures


def test_one_orders_worker_fewer_refutes_the_model_naming_orders(
    planned: Path, tmp_path: Path
) -> None:
    [(code, verification)] = list(_measure(planned, tmp_path, {"orders": 1}))
    assert code == 1
    assert verification["verdict"] == "refuted"
    assert verification["divergences"], verification
    # The plan's bottleneck is orders; the causes name it.
    assert verification["bottleneck"] == "orders"
    assert any("orders" in cause for cause in verification["causes"]), verification["causes"]
