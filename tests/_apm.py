"""Shared by the apm tests: the online shop's comparison (once per session) and promtool.

The comparison runs on a small budget with one worker; every design in the tests is made from
it by :func:`scaleplan.apm.design`, which simulates nothing, so scenario variants (other
objectives, another candidate) cost nothing more.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path

from _records import SMALL_BUDGET, in_ci

from scaleplan.apm import MonitoringDesign, design
from scaleplan.experiments import ComparisonResult, compare
from scaleplan.report.provenance import resolve_budget
from scaleplan.spec import NFRSpec, ScenarioSpec, load_scenario

ROOT = Path(__file__).resolve().parent.parent
SHOP = ROOT / "data/scenarios/online-shop.yaml"


@functools.cache
def compared(path: Path) -> tuple[ScenarioSpec, ComparisonResult]:
    """A scenario and its comparison at the small budget (as ``apm --budget`` runs it)."""
    scenario = load_scenario(path)
    run = resolve_budget(scenario, budget=SMALL_BUDGET)
    return scenario, compare(scenario, run.compare_settings(), workers=1)


def shop() -> tuple[ScenarioSpec, ComparisonResult]:
    """The online shop and its comparison at the small budget."""
    return compared(SHOP)


def shop_design(nfrs: dict | None = None, candidate: str | None = None) -> MonitoringDesign:
    """The shop's monitoring design, with other NFRs (the same comparison) if given."""
    scenario, comparison = shop()
    if nfrs is not None:
        scenario = scenario.model_copy(update={"nfrs": NFRSpec.model_validate(nfrs)})
    return design(scenario, comparison, candidate)


def promtool() -> str:
    """The promtool binary; in CI a missing one fails the test instead of skipping it."""
    import pytest

    found = shutil.which("promtool")
    if found:
        return found
    message = "promtool is not installed (.ci/run installs it: apt-get install prometheus)"
    if in_ci():
        pytest.fail(message + " — the rules must be checked in CI")
    pytest.skip(message)


def run_promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``promtool ARGS`` in ``cwd``, bounded in time."""
    return subprocess.run(
        [promtool(), *args], capture_output=True, text=True, timeout=120, cwd=cwd, check=False
    )


AGENTS = ROOT / "data/scenarios/booking-agents.yaml"


def agents() -> tuple[ScenarioSpec, ComparisonResult]:
    """The booking agents (a closed workload: 60 users at peak) and their comparison."""
    return compared(AGENTS)
