"""The Prometheus rules' structure: SLIs over every window, burn-rate pairs, budgets."""

from __future__ import annotations

import math
import re

import pytest
import yaml
from _apm import shop_design

from scaleplan.apm.rules import BURN_ALERTS, WINDOWS

NFRS = {
    "slos": ["p99<=400ms", "errors<=0.1%", "checkout.p95<=800ms", "mean<=60ms"],
    "availability": {"min_percent": 99.9},
}


def _threshold(expr: str) -> float:
    [first, second] = re.findall(r"> ([0-9.e+-]+)", expr)
    assert first == second  # both windows against the same factor × budget
    return float(first)


def test_every_objective_is_recorded_over_every_window_and_alerted_four_times() -> None:
    made = shop_design(NFRS, candidate="three-tier")
    doc = yaml.safe_load(made.rules.to_yaml())
    rules = [rule for group in doc["groups"] for rule in group["rules"]]
    budgeted = [o for o in made.objectives if o.kind != "mean"]
    assert len(budgeted) == 4
    for objective in budgeted:
        recorded = {
            r["record"]
            for r in rules
            if "record" in r and r.get("labels", {}).get("slo") == objective.text
        }
        assert {f"slo:sli_error:ratio_rate{w}" for w in WINDOWS} <= recorded
        assert "slo:error_budget:ratio" in recorded
        for severity, long, short, factor in BURN_ALERTS:
            [alert] = [r for r in rules if r.get("alert") == f"{objective.ident}BurnRate{long}"]
            assert alert["labels"] == {
                "severity": severity,
                "slo": objective.text,
                "long_window": long,
                "short_window": short,
            }
            assert (
                f"ratio_rate{long}{{" in alert["expr"] and f"ratio_rate{short}{{" in alert["expr"]
            )
            assert _threshold(alert["expr"]) == pytest.approx(factor * objective.budget, rel=1e-5)
            assert (
                "model" in alert["annotations"] and objective.text in alert["annotations"]["model"]
            )
    # A mean objective is a threshold on the mean, not a burn rate.
    [mean] = [r for r in rules if r.get("alert") == "MeanAboveObjective"]
    assert mean["expr"].count("> 0.06") == 2


def test_the_page_and_ticket_pairs_are_the_workbooks() -> None:
    assert BURN_ALERTS == (
        ("page", "1h", "5m", 14.4),
        ("page", "6h", "30m", 6.0),
        ("ticket", "1d", "2h", 3.0),
        ("ticket", "3d", "6h", 1.0),
    )
    # Each pair spends the share of a 30-day budget the workbook gives: 2%, 5%, 10%, 10%.
    hours = {"1h": 1, "6h": 6, "1d": 24, "3d": 72}
    spent = [factor * hours[long] / 720 for _, long, _, factor in BURN_ALERTS]
    assert spent == pytest.approx([0.02, 0.05, 0.10, 0.10])


def test_slis_select_the_entries_and_a_class_its_route() -> None:
    made = shop_design(NFRS, candidate="three-tier")
    text = made.rules.to_yaml()
    doc = yaml.safe_load(text)
    rules = [rule for group in doc["groups"] for rule in group["rules"]]

    def bad_rate(slo: str) -> str:
        [rule] = [
            r
            for r in rules
            if r.get("record") == "slo:sli_bad:rate5m" and r["labels"]["slo"] == slo
        ]
        return rule["expr"]

    # three-tier has two entries: lb (browse) and checkout-lb (checkout).
    assert 'job=~"lb|checkout-lb"' in bad_rate("errors<=0.1%")
    assert 'error_type!=""' in bad_rate("errors<=0.1%")
    assert 'http_response_status_code=~"5.."' in bad_rate("availability>=99.9%")
    latency = bad_rate("p99<=400ms")
    assert 'le="0.4"' in latency and 'error_type=""' in latency
    checkout = bad_rate("checkout.p95<=800ms")
    assert 'job="checkout-lb"' in checkout and 'http_route="/checkout"' in checkout
    assert 'le="0.8"' in checkout
    assert "&id" not in text and "*id" not in text  # no YAML anchors for promtool's readers


def test_capacity_alerts_carry_the_models_figures() -> None:
    made = shop_design()
    names = [a.name for a in made.rules.alerts if a.group == "capacity"]
    assert names[-1] == "CapacityRunwayEnding" and "BottleneckAtLimit" in names
    pulled = made.candidate.pull
    assert pulled is not None
    at_limit = made.rules.alert("BottleneckAtLimit")
    assert f'job="{pulled.bottleneck}"' in at_limit.expr
    assert float(at_limit.expr.split("> ")[1]) == pytest.approx(
        pulled.bottleneck_utilization, rel=1e-5
    )
    assert f"{pulled.limit_per_s:.4g} requests/s" in at_limit.figure
    runway = made.rules.alert("CapacityRunwayEnding")
    growth = made.scenario.growth_per_month
    assert float(runway.expr.split("> ")[1]) == pytest.approx(
        pulled.limit_per_s / (1 + growth), rel=1e-5
    )
    assert made.candidate.runway is not None
    assert f"month {made.candidate.runway.breach_month}" in runway.figure
    assert all(math.isfinite(t.threshold) and t.threshold > 0 for t in made.capacity)
