"""The monitoring design page (Markdown and self-contained HTML) and the record's appendix.

What to measure and why per component, the objectives with their error budgets, and the
alert table — name, severity, the expression in words, threshold, window and the model's
figure behind it. Everything the scenario supplies goes through
:func:`scaleplan.report.markup.text`; the HTML is rendered from the Markdown as the load-test
plan's is (no scripts, no external files).
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

from scaleplan.report.markup import table, text

if TYPE_CHECKING:
    from scaleplan.apm.design import MonitoringDesign

__all__ = ["instrumentation_markdown", "monitoring_html", "monitoring_markdown"]


def _ms(seconds: float) -> str:
    return f"{1000 * seconds:.4g} ms" if math.isfinite(seconds) else "—"


def _percentile(
    metrics: Mapping[str, float], intervals: Mapping[str, tuple[float, float]], key: str
) -> str:
    """A percentile in ms with its 95% CI: ``133.3 ms (95% CI 129.1–137.6)``."""
    value = metrics.get(key, math.nan)
    low, high = intervals.get(key, (math.nan, math.nan))
    if not (math.isfinite(low) and math.isfinite(high)):
        return _ms(value / 1000)
    return f"{_ms(value / 1000)} (95% CI {low:.4g}–{high:.4g})"


def _figures(design: MonitoringDesign) -> str:
    candidate = design.candidate
    pulled = candidate.pull
    workload = design.scenario.workload
    # A closed workload's load is its users (it has no arrival rate).
    peak = (
        f"{workload.peak_users} users"
        if workload.closed
        else f"{design.scenario.peak_rate_per_s:.4g} requests/s"
    )
    parts = [
        f"At the peak of {peak} the model predicts "
        f"p50 {_percentile(candidate.metrics, candidate.metrics_ci95, 'p50_ms')} and p99 "
        f"{_percentile(candidate.metrics, candidate.metrics_ci95, 'p99_ms')}"
    ]
    if pulled is not None and math.isfinite(pulled.limit_per_s):
        low, high = pulled.limit_ci95
        interval = f" (95% CI {low:.4g}–{high:.4g})" if math.isfinite(low) else ""
        parts.append(
            f"the tractor pull's limit is {pulled.limit_per_s:.4g} requests/s{interval} with "
            f"{text(pulled.bottleneck)} the bottleneck"
        )
    users = candidate.users_pull
    if users is not None and math.isfinite(users.limit_users):
        parts.append(
            f"the tractor pull over users found a limit of {users.limit_users:.4g} users with "
            f"{text(users.bottleneck)} the bottleneck"
        )
    if candidate.runway is not None and math.isfinite(candidate.runway.months):
        parts.append(f"the runway is {candidate.runway.months:.1f} months")
    elif candidate.runway is not None and candidate.runway.months == math.inf:
        parts.append("no growth is planned, so the runway does not end")
    return "; ".join(parts) + "."


def _what_to_measure(design: MonitoringDesign, h: str) -> list[str]:
    """The instrumentation plan's sections, under headings of level ``len(h)``."""
    buckets = ", ".join(f"{edge:g}" for edge in design.plan.buckets_s)
    thresholds = ", ".join(f"{t:g} s" for t in design.plan.thresholds_s) or "none"
    parts = [
        f"{h} What to measure",
        "Names follow the OpenTelemetry semantic conventions; `app.*` instruments cover what "
        "no convention does. Series are shown as the collector's Prometheus exporter names "
        "them, with the label that selects the component. Latency histograms use the buckets "
        f"(seconds) {buckets}: every SLO bound ({thresholds}) is an edge, so the share of requests "
        "slower than the bound is read exactly.",
    ]
    for component in design.plan.components:
        methods = ", ".join(component.methods) or "nothing of its own"
        parts.append(f"{h}# {text(component.name)} ({text(component.kind)}): {methods}")
        if component.instruments:
            parts.append(
                table(
                    ["instrument", "Prometheus", "selected by", "type", "unit", "why"],
                    [
                        [
                            f"`{i.name}`" + ("" if i.semconv else " (custom)"),
                            f"`{i.prometheus}`",
                            f'`{i.component_label}="{component.name}"`',
                            i.instrument,
                            f"`{i.unit}`",
                            text(i.why),
                        ]
                        for i in component.instruments
                    ],
                )
            )
        for note in component.notes:
            parts.append(text(note))
    return parts


def instrumentation_markdown(design: MonitoringDesign) -> str:
    """The instrumentation plan alone, as a Markdown document."""
    parts = [
        f"# Instrumentation plan: {text(design.name)}",
        f"From {text(design.scenario.source)}. " + _figures(design),
        *_what_to_measure(design, "##"),
    ]
    return "\n\n".join(parts) + "\n"


def monitoring_markdown(design: MonitoringDesign, *, heading_level: int = 1) -> str:
    """The monitoring design as Markdown; ``heading_level`` 2 or more nests it (the record's
    appendix)."""
    h = "#" * heading_level
    why = (
        "recommended by the comparison"
        if design.recommended
        else "named, or the scenario's only candidate"
    )
    parts = [
        f"{h} Monitoring design: {text(design.name)}",
        f"From {text(design.scenario.source)}: **{text(design.name)}** ({why}). "
        + _figures(design)
        + " The monitoring below watches the objectives the decision rests on and the "
        "figures the model says break first.",
        f"{h}# Objectives and error budgets",
    ]
    rows = []
    for objective in design.objectives:
        budget = f"{100 * objective.budget:.4g}%" if math.isfinite(objective.budget) else "—"
        series = (
            f'`slo:sli_error:ratio_rate<window>{{slo="{objective.text}"}}`'
            if objective.kind != "mean"
            else "`slo:latency_mean:seconds_rate<window>`"
        )
        rows.append(
            [text(objective.text), text("a request " + objective.bad_request()), budget, series]
        )
    if rows:
        parts.append(table(["objective", "counts against it", "error budget", "SLI"], rows))
    else:
        parts.append("The scenario has no latency, error or availability objective.")
    if design.unwatched:
        parts.append(
            "Not watched by a burn rate (capacity objectives, covered by the capacity "
            "alerts): " + ", ".join(text(t) for t in design.unwatched) + "."
        )
    parts += _what_to_measure(design, h + "#")
    parts.append(f"{h}# Alerts")
    if design.rules.alerts:
        parts.append(
            "Burn-rate alerts follow the SRE workbook (a long and a short window must both "
            "burn faster than the factor); capacity alerts compare the live figures with the "
            "model's. Every alert carries the model's figure in its `model` annotation."
        )
        parts.append(
            table(
                ["alert", "severity", "fires when", "threshold", "window", "model's figure"],
                [
                    [
                        f"`{a.name}`",
                        a.severity,
                        text(a.words),
                        text(a.threshold),
                        text(a.window),
                        text(a.figure),
                    ]
                    for a in design.rules.alerts
                ],
            )
        )
    else:
        parts.append("No alerts: nothing in the scenario to alert on.")
    if design.notes:
        parts.append(f"{h}# Notes\n\n" + "\n".join(f"- {text(n)}" for n in design.notes))
    return "\n\n".join(parts) + "\n"


def monitoring_html(design: MonitoringDesign) -> str:
    """The monitoring design as one self-contained HTML page."""
    from markdown_it import MarkdownIt

    from scaleplan.loadtest.testplan import _STYLE  # one look for the generated pages

    renderer = MarkdownIt("commonmark", {"html": False}).enable("table")
    body = renderer.render(monitoring_markdown(design))
    title = html.escape(f"Monitoring design: {design.name}")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{title}</title><style>{_STYLE}</style></head>\n<body>\n{body}"
        "</body></html>\n"
    )
