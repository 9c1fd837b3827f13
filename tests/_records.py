"""Decision records made once per test session and shared by the report, notebook and browser
tests (each costs a papermill run), and the evidence the record's sections are built from.
Small run budgets keep them to a few seconds each.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile
from pathlib import Path

from scaleplan.report import record
from scaleplan.report.consistency import problems
from scaleplan.report.decide import DecisionRecord, decide

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = Path(__file__).resolve().parent / "data" / "scenarios"
BUNDLED = ROOT / "data" / "scenarios" / "online-shop.yaml"
#: Requests per simulation run in the tests (the bundled scenario asks for 20,000).
SMALL_BUDGET = 2000

_OUT = Path(tempfile.mkdtemp(prefix="scaleplan-records-"))
atexit.register(shutil.rmtree, _OUT, ignore_errors=True)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@functools.cache
def bundled_record() -> DecisionRecord:
    """The decision record of the bundled online-shop scenario, on a small budget."""
    return _consistent(decide(BUNDLED, _OUT / "bundled", budget=SMALL_BUDGET))


def _consistent(made: DecisionRecord) -> DecisionRecord:
    """Every record the tests make is checked for contradictions (report/consistency.py)."""
    assert not made.problems, made.problems
    return made


@functools.cache
def overloaded_evidence() -> record.Evidence:
    """The evidence of a scenario where no option passes (one refused at peak), in-process."""
    found = record.gather(SCENARIOS / "tiny-overloaded.yaml", workers=1)
    assert not problems(found.to_dict()), problems(found.to_dict())
    return found


@functools.cache
def xss_record() -> DecisionRecord:
    """The record of a scenario whose every text is an attempt at HTML injection."""
    return _consistent(decide(SCENARIOS / "xss.yaml", _OUT / "xss"))


@functools.cache
def tiny_shop_evidence() -> record.Evidence:
    """The evidence of tests/data/scenarios/tiny-shop.yaml (a frozen value the tests only read),
    gathered once for the record and the present tests."""
    return record.gather(SCENARIOS / "tiny-shop.yaml")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def chromium_or_skip() -> str:
    """The Chromium binary; in CI a missing one fails the test instead of skipping it."""
    import pytest

    if CHROMIUM.is_file():
        return str(CHROMIUM)
    found = shutil.which("chromium")
    if found:
        return found
    message = "Debian's chromium is not installed (.ci/run installs it: apt-get install chromium)"
    if in_ci():
        pytest.fail(message + " — browser tests must run in CI")
    pytest.skip(message)
