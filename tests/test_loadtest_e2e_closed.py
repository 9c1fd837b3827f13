"""End to end on the reference system under a closed workload: ``scaleplan loadtest`` pulls
``examples/reference-system/scenario-closed.yaml`` over its users, headless Locust runs the
generated file's thinking users against the three real services on 127.0.0.1, and ``scaleplan
verify`` confirms the model. Nothing is mocked; Locust is a subprocess bounded by a timeout, the
services are stopped by ``system.running``'s teardown.

The Locust run is marked ``e2e`` (``make e2e``; left out of ``make test``), with 13 s steps as
the open end-to-end test's short profile (``SCALEPLAN_E2E_FULL=1``: the scenario's 18 s).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from test_loadtest_e2e import SHORT_SETTLE_S, SHORT_STEP_S, _locust, _scaleplan, system

from scaleplan.loadtest import read_plan
from scaleplan.spec import load_scenario, load_spec

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "examples" / "reference-system"
SCENARIO = FOLDER / "scenario-closed.yaml"
FULL = os.environ.get("SCALEPLAN_E2E_FULL") == "1"


def test_the_closed_scenario_loads_the_reference_systems_own_architecture() -> None:
    # The scenario's closed workload replaces architecture.yaml's open one (its rate dropped);
    # the calibrated components are the same file's.
    scenario = load_scenario(SCENARIO)
    (spec,) = scenario.architectures().values()
    assert spec.workload.closed and spec.workload.rate_per_s is None
    assert spec.components == load_spec(FOLDER / "architecture.yaml").components


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The load test ``scaleplan loadtest`` makes of the closed reference scenario."""
    folder = tmp_path_factory.mktemp("closed-loadtest")
    lengths = [] if FULL else ["--step-s", str(SHORT_STEP_S), "--settle-s", str(SHORT_SETTLE_S)]
    done = _scaleplan("loadtest", str(SCENARIO), "-o", str(folder), "--workers", "2", *lengths)
    assert done.returncode == 0, done.stdout + done.stderr
    plan = read_plan(folder / "plan.json")
    assert plan.closed and plan.bottleneck == "orders"
    return folder


def _measure(planned: Path, folder: Path, workers: dict[str, int] | None) -> tuple[int, Any]:
    with system.running(workers=workers) as running:
        _locust(planned, running.url, folder / "results")
    verified = _scaleplan(
        "verify",
        str(SCENARIO),
        str(folder / "results"),
        "--plan",
        str(planned / "plan.json"),
        "--json",
    )
    assert verified.returncode in (0, 1), verified.stdout + verified.stderr
    return verified.returncode, json.loads(verified.stdout)


@pytest.mark.e2e
@pytest.mark.slow
def test_a_load_test_of_thinking_users_confirms_the_model(planned: Path, tmp_path: Path) -> None:
    code, verification = _measure(planned, tmp_path, None)
    assert verification["verdict"] == "confirmed", verification["divergences"]
    assert code == 0
    judged = {
        check["figure"]
        for step in verification["steps"]
        for check in step["checks"]
        if check["agrees"] is not None
    }
    assert {"throughput_per_s", "mean_ms", "p50_ms"} <= judged, judged


@pytest.mark.e2e
@pytest.mark.slow
def test_one_orders_worker_fewer_refutes_it_the_users_sending_less(
    planned: Path, tmp_path: Path
) -> None:
    # Half the orders capacity: the users are answered more slowly, so they send less than
    # the model predicts at the busiest step (a closed workload's throughput follows the
    # answers), and its latency rises above the band.
    code, verification = _measure(planned, tmp_path, {"orders": 1})
    assert code == 1 and verification["verdict"] == "refuted"
    text = " ".join(verification["divergences"] + verification["causes"])
    assert "users" in text and "offered" not in text, text
    assert any(
        "orders" in cause or "slower than modelled" in cause for cause in verification["causes"]
    ), verification["causes"]
