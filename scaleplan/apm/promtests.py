"""Unit tests of the rules for ``promtool test rules``: series fed in, alerts expected out.

For every objective with a budget, a **fast burn** (just over 14.4× the budget, the page
threshold, from the start) must page through the 1-hour alert within its short window (by
5 minutes) and still at 1 h 5 min, and its SLI must read the share fed in; a **sustainable
burn** (exactly the budget, 1×) must never page over three days (for one objective: the
alerts' windows and factors are the same for all, and three days of evaluations take
seconds). Latency objectives are fed through the histogram: the bucket at the
bound counts the fast requests, the count all of them, so the test also checks that the bound
is an edge and the SLI reads it. Each capacity alert is fed a series above its threshold
(it fires after its ``for``) and one at half of it (it does not).

The series are cumulative counters sampled every minute, 1,000 requests a minute; the rules
are evaluated every 5 minutes, recording groups before alerting ones.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import yaml

from scaleplan.apm.instruments import WORKER_COUNT
from scaleplan.apm.objectives import Objective
from scaleplan.apm.rules import BURN_ALERTS, HISTOGRAM, AlertRule

if TYPE_CHECKING:
    from scaleplan.apm.capacity import CapacityThreshold
    from scaleplan.apm.design import MonitoringDesign

__all__ = ["FAST_BURN", "PER_MINUTE", "unit_tests", "unit_tests_yaml"]

#: Requests per minute in the fed series.
PER_MINUTE = 1000.0
#: The fast burn fed to the page alert: just over its 14.4× threshold.
FAST_BURN = 15.0
#: Minutes of the fast-burn series; the sustainable burn runs three days.
FAST_MINUTES = 90
SLOW_MINUTES = 3 * 24 * 60
#: How often the tests evaluate the rules (three days at one minute would take minutes).
EVALUATION = "5m"


def _series(name: str, labels: dict[str, str], per_minute: float, minutes: int) -> dict[str, str]:
    inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"{name}{{{inner}}}", "values": f"0+{per_minute:.10g}x{minutes}"}


def _gauge(name: str, labels: dict[str, str], value: float, minutes: int) -> dict[str, str]:
    inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"{name}{{{inner}}}", "values": f"{value:.10g}+0x{minutes}"}


def _edge_label(edge_s: float) -> str:
    """The ``le`` label as the Go exporter prints it (``0.4``, ``1``)."""
    return f"{int(edge_s)}" if float(edge_s).is_integer() else repr(float(edge_s))


def _requests(
    objective: Objective, labels: dict[str, str], bad_share: float, minutes: int
) -> list[dict[str, str]]:
    """Series of ``PER_MINUTE`` requests a minute of which ``bad_share`` count against it."""
    bad = PER_MINUTE * bad_share
    good = PER_MINUTE - bad
    if objective.kind == "latency":
        edge = {**labels, "le": _edge_label(objective.threshold_s)}
        return [
            _series(f"{HISTOGRAM}_bucket", edge, good, minutes),
            _series(f"{HISTOGRAM}_bucket", {**labels, "le": "+Inf"}, PER_MINUTE, minutes),
            _series(f"{HISTOGRAM}_count", labels, PER_MINUTE, minutes),
        ]
    failed = {**labels, "error_type": "500", "http_response_status_code": "500"}
    return [
        _series(
            f"{HISTOGRAM}_count", {**labels, "http_response_status_code": "200"}, good, minutes
        ),
        _series(f"{HISTOGRAM}_count", failed, bad, minutes),
    ]


def _alert(rule: AlertRule, labels: dict[str, str], at: str, firing: bool) -> dict[str, Any]:
    """An ``alert_rule_test``: ``rule`` firing with ``labels`` (and its annotations) or not."""
    expected = []
    if firing:
        annotations = rule.rule()["annotations"]
        expected = [{"exp_labels": labels, "exp_annotations": annotations}]
    return {"eval_time": at, "alertname": rule.name, "exp_alerts": expected}


def _objective_tests(
    design: MonitoringDesign, objective: Objective, slow: bool
) -> list[dict[str, Any]]:
    """The fast-burn test of ``objective`` and, if ``slow``, its three-day 1× burn test."""
    labels = {"job": (design.plan.entries or ("",))[0]}
    if objective.request_class is not None:
        entries = [e for c, e, _ in design.spec.entries() if c == objective.request_class]
        labels["job"] = entries[0] if entries else labels["job"]
        route = design.plan.routes.get(objective.request_class)
        if route is not None:
            labels["http_route"] = route
    page = [(long, short) for severity, long, short, _ in BURN_ALERTS if severity == "page"]
    names = {long: design.rules.alert(f"{objective.ident}BurnRate{long}") for long, _ in page}

    def alert_labels(long: str, short: str) -> dict[str, str]:
        severity = next(s for s, lg, _, _ in BURN_ALERTS if lg == long)
        return {
            "severity": severity,
            "slo": objective.text,
            "long_window": long,
            "short_window": short,
        }

    tests: list[dict[str, Any]] = []
    fast_share = FAST_BURN * objective.budget
    first_long, first_short = page[0]
    if 0 < fast_share <= 1:
        tests.append(
            {
                "name": f"{objective.text}: a {FAST_BURN:g}x burn pages within the short window",
                "interval": "1m",
                "input_series": _requests(objective, labels, fast_share, FAST_MINUTES),
                "alert_rule_test": [
                    _alert(names[first_long], alert_labels(first_long, first_short), "0m", False),
                    _alert(names[first_long], alert_labels(first_long, first_short), "5m", True),
                    _alert(names[first_long], alert_labels(first_long, first_short), "65m", True),
                ],
                # The SLI reads the fed share (to 1e-9: rates are floating point).
                "promql_expr_test": [
                    {
                        "expr": f'abs(slo:sli_error:ratio_rate{window}{{slo="{objective.text}"}} '
                        f"- {fast_share!r}) < bool 1e-9",
                        "eval_time": "60m",
                        "exp_samples": [{"labels": f'{{slo="{objective.text}"}}', "value": 1}],
                    }
                    for window in ("5m", "1h")
                ],
            }
        )
    if slow and 0 < objective.budget <= 1:
        checks = [
            _alert(names[long], alert_labels(long, short), at, False)
            for at in ("5m", "65m", "6h", "1d", "3d")
            for long, short in page
        ]
        tests.append(
            {
                "name": f"{objective.text}: a 1x burn (the budget's pace) never pages in 3 days",
                "interval": "1m",
                "input_series": _requests(objective, labels, objective.budget, SLOW_MINUTES),
                "alert_rule_test": checks,
            }
        )
    return tests


def _capacity_tests(
    design: MonitoringDesign, threshold: CapacityThreshold
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """A test that the alert fires above its threshold, and one that it is quiet below."""
    rule = design.rules.alert(threshold.name)
    labels: dict[str, str] = {"severity": threshold.severity}
    minutes = 60
    at = "40m"
    if threshold.signal == "load":
        entry = design.plan.entries[0]
        feed = {"job": entry, "http_response_status_code": "200"}

        def series(level: float) -> list[dict[str, str]]:
            return [_series(f"{HISTOGRAM}_count", feed, level * 60.0, minutes)]

        above, below = 2.0 * threshold.threshold, 0.5 * threshold.threshold
    else:
        component = threshold.component
        labels.update({"component": component, "job": component})
        plan = design.plan.component(component)
        if plan.instrument(WORKER_COUNT) is None:
            return None
        slots = float(design.spec.components[component].capacity)
        if threshold.signal == "utilisation":
            if threshold.threshold >= 0.999:
                return None
            above = slots * (1.0 + threshold.threshold) / 2.0
            below = slots * threshold.threshold / 2.0

            def series(level: float) -> list[dict[str, str]]:
                used = {"job": component, "app_worker_state": "used"}
                return [
                    _gauge("app_worker_count", used, level, minutes),
                    _gauge("app_worker_max", {"job": component}, slots, minutes),
                ]
        else:
            above, below = 2.0 * threshold.threshold, 0.5 * threshold.threshold

            def series(level: float) -> list[dict[str, str]]:
                return [_gauge("app_worker_pending_requests", {"job": component}, level, minutes)]

    return {
        "name": f"{threshold.name}: fires above {threshold.threshold:.4g} ({threshold.signal})",
        "interval": "1m",
        "input_series": series(above),
        "alert_rule_test": [_alert(rule, labels, at, True)],
    }, {
        "name": f"{threshold.name}: quiet at half of {threshold.threshold:.4g}",
        "interval": "1m",
        "input_series": series(below),
        "alert_rule_test": [_alert(rule, labels, at, False)],
    }


def unit_tests(design: MonitoringDesign, rule_file: str = "rules.yml") -> dict[str, Any]:
    """The ``promtool test rules`` document for ``design``'s rules (in ``rule_file``)."""
    tests: list[dict[str, Any]] = []
    budgeted = [o for o in design.objectives if o.kind != "mean" and math.isfinite(o.budget)]
    # Three days of rule evaluations take seconds each: the 1x burn runs for one objective
    # (an error one if there is), the alerts' windows and factors being the same for all.
    slow = next((o for o in budgeted if o.kind == "errors" and o.budget > 0), None)
    slow = slow or next((o for o in budgeted if o.budget > 0), None)
    for objective in budgeted:
        tests.extend(_objective_tests(design, objective, objective is slow))
    for threshold in design.capacity:
        pair = _capacity_tests(design, threshold)
        if pair is not None:
            tests.extend(pair)
    # Groups are evaluated in the file's order (recording rules before the alerts that read
    # them); without group_eval_order promtool's order is unspecified.
    order = [group["name"] for group in design.rules.groups]
    return {
        "rule_files": [rule_file],
        "evaluation_interval": EVALUATION,
        "group_eval_order": order,
        "tests": tests,
    }


def unit_tests_yaml(design: MonitoringDesign, rule_file: str = "rules.yml") -> str:
    header = (
        "# Unit tests of rules.yml, generated by `scaleplan apm`: run `promtool test rules "
        "rules.test.yml`.\n"
    )
    return header + yaml.safe_dump(unit_tests(design, rule_file), sort_keys=False, width=100)
