"""Presenting the chosen option's downtime: rollouts, disaster recovery, failures."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from _records import ROOT, SCENARIOS, tiny_shop_evidence

from scaleplan.report import present, record
from scaleplan.report.markup import Markdown, text


def shop() -> record.Evidence:
    return tiny_shop_evidence()


def _rows(markdown: str) -> list[str]:
    return [line for line in markdown.splitlines() if line.startswith("| ")][1:]


def test_the_chosen_option_is_the_recommended_one() -> None:
    evidence = shop()
    assert present.chosen_name(evidence) == evidence.comparison.recommended
    assert present.chosen_spec(evidence).name == evidence.comparison.recommended


def test_a_release_of_the_chosen_option_under_each_strategy(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        (ROOT / "data" / "rollouts" / "canary.yaml")
        .read_text()
        .replace("component: api", "component: app")
    )
    evidence = shop()
    result = present.rollouts(evidence, plan)
    assert [s.strategy for s in result.strategies] == list(present.STRATEGIES)
    assert result.rate_per_s == evidence.comparison.today_rate_per_s
    head, figure = present.rollout_section(evidence, result)
    assert isinstance(head, Markdown) and head.startswith(f"## Rolling out {text('single')}")
    rows = _rows(head)
    assert [row.split(" | ")[0].removeprefix("| ") for row in rows] == [
        text(name) for name in present.STRATEGIES
    ]
    assert text("p99 during (ms, 95% CI)") in head
    checked = 0
    for run, row in zip((s.runs[0] for s in result.strategies), rows, strict=True):
        figures = run.latency_during_ms
        if not math.isfinite(figures["p99_low"]):
            continue  # no interval (too few requests in the window): the cell says "—"
        shown = f"{figures['p99']:,.4g} ({figures['p99_low']:,.4g}–{figures['p99_high']:,.4g})"
        assert text(shown) in row, (shown, row)
        checked += 1
    assert checked >= 1
    assert figure.data


def test_disaster_recovery_of_the_shop_database() -> None:
    result = present.recovery_result(ROOT / "data" / "dr" / "online-shop-dr.yaml")
    head, figure = present.recovery_section(result)
    assert len(_rows(head)) == len(result.strategies) == 4
    assert text("RTO p99 (min, 95% CI)") in head and "verdicts" in head
    for strategy, row in zip(result.strategies, _rows(head), strict=True):
        low, high = strategy.rto_s.p99_ci95
        shown = f"{strategy.rto_s.p99 / 60:,.4g} ({low / 60:,.4g}–{high / 60:,.4g})"
        assert text(shown) in row, (shown, row)
    assert figure.data


def test_a_strategy_record_gives_each_percentiles_interval() -> None:
    result = present.recovery_result(ROOT / "data" / "dr" / "online-shop-dr.yaml")
    for row in result.records():
        for key in ("rpo_p50_min", "rpo_p99_min", "rto_p50_min", "rto_p99_min"):
            assert row[f"{key}_low"] <= row[key] <= row[f"{key}_high"], (key, row)


def test_without_failures_in_the_spec_availability_is_said_to_be_unmeasured() -> None:
    (note,) = present.failures_section(shop())
    assert "declares no `failures:`" in note and "not evaluated" in note


def test_with_failures_in_the_spec_availability_is_measured() -> None:
    evidence = record.gather(SCENARIOS / "tiny-ha.yaml")
    head, figure = present.failures_section(evidence, replications=2)
    assert head.startswith("## Failures and availability of pair")
    assert "Time availability" in head and "minutes down a month" in head
    assert figure.data


def test_without_resilience_keys_there_is_no_resilience_part() -> None:
    assert shop().scenario.resilience is None
    assert present.resilience(shop()) == []


def test_sections_take_a_heading_level() -> None:
    (note,) = present.failures_section(shop(), level=4)
    assert note.startswith(f"#### Failures and availability of {text('single')}")


@pytest.mark.usefixtures("allow_files_outside")
def test_a_release_plan_for_a_component_the_chosen_option_lacks_is_not_run(
    tmp_path: Path,
) -> None:
    scenario = tmp_path / "shop.yaml"
    canary = ROOT / "data" / "rollouts" / "canary.yaml"  # releases 'api'; 'single' has 'app'
    scenario.write_text(
        (SCENARIOS / "tiny-shop.yaml").read_text() + f"resilience: {{rollout: {canary}}}\n"
    )
    evidence = record.gather(scenario)
    head, release, failures = present.resilience(evidence)
    assert head.startswith(f"### Resilience of {text('single')}")
    assert release.startswith("#### Rolling out") and "is not simulated" in release
    assert failures.startswith("#### Failures and availability of")


@pytest.mark.usefixtures("allow_files_outside")
def test_resilience_started_ahead_on_other_processes_gives_the_same_part(
    tmp_path: Path,
) -> None:
    scenario = tmp_path / "ha.yaml"
    canary = ROOT / "data" / "rollouts" / "canary.yaml"  # releases 'api', which 'pair' has
    dr = ROOT / "data" / "dr" / "online-shop-dr.yaml"
    scenario.write_text(
        (SCENARIOS / "tiny-ha.yaml").read_text() + f"resilience: {{rollout: {canary}, dr: {dr}}}\n"
    )
    evidence = record.gather(scenario, workers=1)
    here = present.resilience(evidence)
    present.start_resilience(evidence, workers=2)
    assert id(evidence) in present._STARTED  # the three simulations went to a pool
    ahead = present.resilience(evidence)
    assert id(evidence) not in present._STARTED  # collected once, its pool shut down
    # The rollout, the DR and the failures: the same Markdown and figures either way.
    assert len(here) == len(ahead) == 7
    for mine, theirs in zip(here, ahead, strict=True):
        if isinstance(mine, str):
            assert mine == theirs
        else:
            assert mine.to_json() == theirs.to_json()


def test_resilience_started_ahead_with_one_worker_runs_in_this_process() -> None:
    present.start_resilience(shop(), workers=1)
    assert id(shop()) not in present._STARTED
