"""The monitoring design page and the decision record's monitoring appendix."""

from __future__ import annotations

import re
from pathlib import Path

from _apm import SHOP, shop, shop_design

from scaleplan.apm.page import instrumentation_markdown, monitoring_html, monitoring_markdown
from scaleplan.report import record
from scaleplan.report.provenance import resolve_budget, run_key


def test_the_page_says_what_to_measure_and_lists_every_alert() -> None:
    made = shop_design()
    page = monitoring_markdown(made)
    assert page.startswith(f"# Monitoring design: {made.name.replace('-', chr(92) + '-')}")
    for component in made.spec.components:
        assert f"### {component} (" in page.replace("\\", "")
    rows = [line for line in page.splitlines() if line.startswith("| `")]
    for alert in made.rules.alerts:
        [row] = [r for r in rows if r.startswith(f"| `{alert.name}` |")]
        assert f"| {alert.severity} |" in row
    assert "14\\.4× budget = 1\\.44% of requests" in page  # errors<=0.1% paged at 14.4×
    pulled = made.candidate.pull
    assert pulled is not None and f"{pulled.limit_per_s:.4g} requests/s" in page
    # The model's percentiles and limit come with their 95% intervals (issue 13).
    low, high = made.candidate.metrics_ci95["p99_ms"]
    assert f"(95% CI {low:.4g}–{high:.4g})" in page.replace("\\", "")
    low, high = pulled.limit_ci95
    assert f"requests/s (95% CI {low:.4g}–{high:.4g})" in page.replace("\\", "")
    assert "0.4" in page.split("Latency histograms use the buckets")[1].split("every SLO")[0]
    plan = instrumentation_markdown(made)
    assert plan.startswith("# Instrumentation plan") and "## What to measure" in plan
    assert "## Alerts" not in plan


def test_the_html_is_self_contained_and_escapes_the_scenario() -> None:
    from dataclasses import replace

    made = shop_design()
    page = monitoring_html(made)
    assert page.startswith("<!DOCTYPE html>") and "<table>" in page
    assert "<script" not in page and not re.search(r"(src|href)=\"https?:", page)
    hostile = made.scenario.model_copy()
    hostile._source = "<script>alert(1)</script>.yaml"
    page = monitoring_html(replace(made, scenario=hostile))
    assert "<script" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;.yaml" in page


def test_the_record_appendix_is_the_design_without_simulating(monkeypatch) -> None:
    scenario, comparison = shop()
    evidence = record.Evidence(
        path=SHOP,
        scenario=scenario,
        settings=resolve_budget(scenario, budget=2000),
        key=run_key(SHOP, budget=2000),
        comparison=comparison,
        versions={},
        wall_s=0.0,
        made_at="",
    )

    def no_simulation(*_: object, **__: object) -> None:
        raise AssertionError("the appendix must not simulate")

    # Every simulation goes through one replication of the engine.
    monkeypatch.setattr("scaleplan.engine.run._replicate", no_simulation)
    [appended] = record.appendix(evidence)
    assert appended.startswith("## Appendix: the monitoring design")
    assert monitoring_markdown(shop_design(), heading_level=3) in appended
    none = record.Evidence(**{**evidence.__dict__, "comparison": _no_recommendation(comparison)})
    assert record.monitoring_appendix(none) == []
    assert Path(evidence.path).name == "online-shop.yaml"


def _no_recommendation(comparison):  # type: ignore[no-untyped-def]
    import dataclasses

    return dataclasses.replace(comparison, recommended=None)
