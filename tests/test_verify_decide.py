"""``decide --results``: the record's Confirmation section judges the model against a load test."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from _records import SMALL_BUDGET
from _verify_data import LOADS, SCENARIO, write_locust, write_plan_beside

from scaleplan.errors import ReportError, SpecError
from scaleplan.report import record
from scaleplan.report.decide import decide

ROOT = Path(__file__).resolve().parent.parent


def test_the_confirmation_section_shows_the_verdict_table_and_chart(tmp_path: Path) -> None:
    write_locust(tmp_path / "run", (*LOADS[:2], LOADS[2].slower(2.0)))
    write_plan_beside(tmp_path)
    found = record.gather(SCENARIO, budget=SMALL_BUDGET, results=tmp_path / "run")
    assert found.verification is not None and found.verification.verdict == "refuted"
    section = record.confirmation(found)
    assert "### Verification against the load test" in section
    assert "the model is **refuted**" in section
    assert "| 2 (stress) | 60 | throughput | 60 req/s |" in section
    assert "|  |  | p95 | 220 ms | 110 ms [104 ms, 116 ms] | ✗ +100% |" in section
    assert "|  |  | p99 | 340 ms | 170 ms [162 ms, 178 ms] | not judged (too few" in section
    assert "**Likely causes**" in section and "slower than modelled" in section
    assert [trace.name for trace in record.verification_chart(found)[0].data][:3] == [
        "p50 accepted (±20%)",
        "p50 predicted (95% CI)",
        "p50 measured",
    ]
    data = found.to_dict()
    assert data["verification"]["verdict"] == "refuted"
    json.dumps(data, allow_nan=False)
    # Without results the section is as before, and nothing is drawn.
    plain = record.gather(SCENARIO, budget=SMALL_BUDGET)
    assert "Verification" not in record.confirmation(plain)
    assert record.verification_chart(plain) == [] and plain.to_dict()["verification"] is None
    # The plan judged against is the record's first appendix; without results there is none
    # (the monitoring design follows it either way).
    appended, monitoring = record.appendix(found)
    assert appended.startswith("## Appendix: the load-test plan")
    assert "### Load-test plan: single" in appended and "Stress test steps" in appended
    assert monitoring.startswith("## Appendix: the monitoring design")
    assert record.appendix(plain) == record.monitoring_appendix(plain) == [monitoring]


def test_decide_puts_the_verification_in_the_record(tmp_path: Path) -> None:
    write_locust(tmp_path / "run", LOADS)
    write_plan_beside(tmp_path)
    made = decide(SCENARIO, tmp_path / "out", budget=SMALL_BUDGET, results=tmp_path / "run")
    assert made.results["verification"]["verdict"] == "confirmed"
    page = made.html.read_text(encoding="utf-8")
    assert "Verification against the load test" in page
    assert "the model is <strong>confirmed</strong>" in page
    assert "p99 measured" in page  # the chart
    assert "Appendix: the load-test plan" in page


def test_bad_results_stop_decide_before_the_kernel(tmp_path: Path) -> None:
    (tmp_path / "run_stats_history.csv").write_text("Timestamp\n")
    write_plan_beside(tmp_path)
    with pytest.raises(SpecError, match=r"run_stats_history\.csv:1: column"):
        decide(SCENARIO, tmp_path / "out", results=tmp_path / "run")
    with pytest.raises(ReportError, match="a plan needs --results"):
        decide(SCENARIO, tmp_path / "out", plan=tmp_path / "plan.json")
    command = [sys.executable, "-m", "scaleplan", "decide", str(SCENARIO)]
    done = subprocess.run(
        [*command, "-o", str(tmp_path / "o"), "--results", str(tmp_path / "run")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "run_stats_history.csv:1: column 'Total Request Count': missing" in done.stderr
