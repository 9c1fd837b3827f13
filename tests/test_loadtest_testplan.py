"""The test plan document: five cases with predictions and criteria, Markdown and HTML."""

from __future__ import annotations

from pathlib import Path

import pytest

from scaleplan.loadtest import testplan as document
from scaleplan.loadtest.make import PlanContext, make_plan_context
from scaleplan.loadtest.testplan import SPIKE_FACTOR, TestCase, make_cases
from scaleplan.spec import ScenarioSpec, load_scenario

DATA = Path(__file__).parent / "data" / "scenarios"


@pytest.fixture(scope="module")
def tiny() -> tuple[ScenarioSpec, PlanContext, tuple[TestCase, ...]]:
    scenario = load_scenario(DATA / "tiny-loadtest.yaml")
    context = make_plan_context(scenario, workers=1)
    return scenario, context, make_cases(context, scenario)


def test_five_cases_with_their_loads_and_predictions(
    tiny: tuple[ScenarioSpec, PlanContext, tuple[TestCase, ...]],
) -> None:
    scenario, context, cases = tiny
    by_name = {case.name: case for case in cases}
    assert list(by_name) == ["load", "stress", "spike", "failover", "soak"]
    peak = scenario.peak_rate_per_s
    assert by_name["load"].rate_per_s == peak == by_name["soak"].rate_per_s
    assert by_name["spike"].rate_per_s == pytest.approx(SPIKE_FACTOR * peak)
    assert by_name["stress"].duration_s == context.plan.duration_s
    assert by_name["soak"].duration_s > by_name["load"].duration_s
    load = by_name["load"].prediction
    assert load is not None and load.meets_slos
    assert load.predicted["throughput_per_s"].low <= peak <= load.predicted["throughput_per_s"].high
    # The failover variant runs api on one replica of two: its replica works twice as hard.
    failover = by_name["failover"].prediction
    assert failover is not None and failover.busiest == "api"
    assert failover.busiest_utilization is not None and load.busiest_utilization is not None
    assert failover.busiest_utilization == pytest.approx(2 * load.busiest_utilization, rel=0.1)
    assert "api with 1 replica of 2" in by_name["failover"].notes[0]
    for case in cases:
        assert any("p99" in criterion for criterion in case.criteria) or case.name in (
            "stress",
            "spike",
        )


def test_a_single_replica_bottleneck_has_no_failover_prediction(
    tiny: tuple[ScenarioSpec, PlanContext, tuple[TestCase, ...]],
) -> None:
    scenario, context, _ = tiny
    single = context.spec.with_changes({"components.api.replicas": 1})
    cases = make_cases(
        PlanContext(context.plan, single, context.pull, context.predictions), scenario
    )
    failover = next(case for case in cases if case.name == "failover")
    assert failover.prediction is None
    assert "single replica" in failover.notes[0]


def test_the_markdown_lists_the_cases_in_order_with_the_steps(
    tiny: tuple[ScenarioSpec, PlanContext, tuple[TestCase, ...]],
) -> None:
    _, context, cases = tiny
    text = document.testplan_markdown(context.plan, cases)
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings == [
        "## Order and what to do when a test fails",
        "## 1. Load test",
        "## 2. Stress test",
        "## 3. Spike test",
        "## 4. Failover test",
        "## 5. Soak test",
    ]
    assert text.count("| step | starts | rate/s | users |") == 1
    assert "**Pass criteria**" in text and "**If it fails**" in text
    nested = document.testplan_markdown(context.plan, cases, heading_level=2)
    assert nested.startswith("## Load-test plan") and "### 1. Load test" in nested


def test_the_html_is_self_contained_and_escapes_file_text(
    tiny: tuple[ScenarioSpec, PlanContext, tuple[TestCase, ...]],
) -> None:
    _, context, cases = tiny
    hostile = context.plan.model_copy(update={"scenario": "<script>alert(1)</script>.yaml"})
    page = document.testplan_html(hostile, cases)
    assert page.startswith("<!DOCTYPE html>")
    assert "<script" not in page and "&lt;script&gt;" in page
    assert "<table>" in page and "<h2>1. Load test</h2>" in page
    assert "src=" not in page and "<link" not in page


def test_the_plan_file_keeps_the_cases_and_prints_the_same_test_plan(
    tiny: tuple[ScenarioSpec, PlanContext, tuple[TestCase, ...]], tmp_path: Path
) -> None:
    # What `scaleplan loadtest` writes, read back as `decide --results` reads it: the record's
    # appendix prints the same test plan without simulating again.
    from scaleplan.loadtest import read_plan, write_plan

    _, context, cases = tiny
    plan = context.plan.model_copy(update={"cases": document.planned_cases(cases)})
    again = read_plan(write_plan(plan, tmp_path / "plan.json"))
    assert [case.name for case in again.cases] == ["load", "stress", "spike", "failover", "soak"]
    assert document.testplan_markdown(again, document.cases_of(again)) == (
        document.testplan_markdown(context.plan, cases)
    )
