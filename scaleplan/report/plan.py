"""The plan of a scenario as Markdown: its workload, its NFRs and its checklist, validated.

Functions of a loaded :class:`~scaleplan.spec.ScenarioSpec` returning Markdown (every value
from the file escaped with :func:`~scaleplan.report.markup.text`). The "Plan" notebook shows
them; the decision record reuses them for its drivers. They run nothing but closed forms
(:func:`first_look`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scaleplan.report.markup import Markdown, number, paragraphs, table, text
from scaleplan.spec import ScenarioSpec
from scaleplan.spec.profile import ProfileSpec

STATUS_MARKS = {
    "met": "✓ met",
    "partial": "◐ partial",
    "open": "○ open",
    "at_risk": "⚠ at risk",
    "not_applicable": "– n/a",
}


def title_markdown(scenario: ScenarioSpec, level: int = 1) -> Markdown:
    """The scenario's title as a heading."""
    return Markdown("#" * level + " " + text(scenario.title))


def context_markdown(scenario: ScenarioSpec) -> Markdown:
    """Context and problem as paragraphs (empty parts left out)."""
    parts = []
    if scenario.context:
        parts.append(paragraphs(scenario.context))
    if scenario.problem:
        parts.append("**Problem.** " + paragraphs(scenario.problem))
    return Markdown("\n\n".join(parts) or "_The scenario gives no context._")


def workload_markdown(scenario: ScenarioSpec) -> Markdown:
    """Today's load, its peak, the growth to absorb and what that means at the horizon."""
    workload = scenario.workload
    if workload.closed:
        return _closed_workload_markdown(scenario)
    today = scenario.today_rate_per_s
    peak = scenario.peak_rate_per_s
    growth = scenario.growth_per_month
    rows: list[list[str]] = [
        ["arrivals", text(workload.today.arrival)],
        ["today (mean)", f"{today:,.1f} requests/s ({today * 60:,.0f}/min)"],
        ["peak", f"{peak:,.1f} requests/s (× {peak / today:.2g} the mean)"],
        ["growth", f"{100 * growth:g}% a month"],
    ]
    horizon = scenario.nfrs.growth.horizon_months if scenario.nfrs.growth else None
    if horizon is not None:
        at_horizon = peak * (1 + growth) ** horizon
        rows.append(
            [f"peak in {horizon:g} months", f"{at_horizon:,.1f} requests/s (at that growth)"]
        )
    if workload.today.classes:
        shares = ", ".join(f"{text(cls.name)} {cls.weight:g}" for cls in workload.today.classes)
        rows.append(["request classes", shares])
    if workload.profile is not None:
        rows.append(["load profile", _profile_text(workload.profile, today)])
    return Markdown("**Workload**\n\n" + table(["", "value"], rows))


def _profile_text(profile: ProfileSpec, today: float) -> str:
    """Each phase in words: ``onsale 15 min, spike to 20× (200 requests/s)``."""
    parts = []
    for label, phase in zip(profile.labels(), profile.phases, strict=True):
        minutes = f"{phase.duration_s / 60:.3g} min"
        if phase.spike is not None:
            shape = f"spike to {phase.spike.factor:g}× ({phase.spike.factor * today:,.4g}/s)"
        elif phase.flash is not None:
            shape = (
                f"flash crowd of {phase.flash.factor:g}× decaying to {phase.flash.to:g}× "
                f"(half-life {phase.flash.half_life_s:g} s)"
            )
        elif phase.steady is not None:
            shape = f"steady {phase.steady.factor:g}×"
        elif phase.ramp is not None:
            shape = f"ramp {phase.ramp.start:g}× → {phase.ramp.to:g}×"
        else:
            shape = "a daily cycle of 24 hourly factors"
        mix = (
            "; mix " + ", ".join(f"{name} {weight:g}" for name, weight in phase.mix.items())
            if phase.mix
            else ""
        )
        parts.append(f"{label}: {minutes}, {shape}{mix}")
    return text("; ".join(parts) + " (factors of today's rate)")


def _closed_workload_markdown(scenario: ScenarioSpec) -> Markdown:
    """A closed workload's users, their think time, the peak and the growth in users."""
    workload = scenario.workload
    today, peak = workload.today_users, workload.peak_users
    growth = scenario.growth_per_month
    think = workload.today.think_time_s
    rows: list[list[str]] = [
        [
            "load",
            "closed: users who each send a request, wait for its answer, think "
            f"(mean {think:g} s) and send the next",
        ],
        ["today", f"{today:,} users"],
        ["peak", f"{peak:,} users (× {peak / today:.2g} today's)"],
        ["growth", f"{100 * growth:g}% more users a month"],
    ]
    horizon = scenario.nfrs.growth.horizon_months if scenario.nfrs.growth else None
    if horizon is not None:
        at_horizon = peak * (1 + growth) ** horizon
        rows.append([f"peak in {horizon:g} months", f"{at_horizon:,.0f} users (at that growth)"])
    if workload.today.classes:
        shares = ", ".join(f"{text(cls.name)} {cls.weight:g}" for cls in workload.today.classes)
        rows.append(["request classes", shares])
    return Markdown("**Workload**\n\n" + table(["", "value"], rows))


def nfr_rows(scenario: ScenarioSpec) -> list[tuple[str, str, str]]:
    """(requirement, kind, how it is checked) for every quantified NFR."""
    nfrs = scenario.nfrs
    rows: list[tuple[str, str, str]] = []
    profiled = scenario.workload.profile is not None
    for slo in nfrs.slos:
        kind: str = "latency" if slo.is_latency else slo.metric
        where = "simulation at peak load"
        if profiled and slo.is_latency:
            where = "simulation through the load profile, in every window"
        elif profiled and slo.metric == "errors":
            where = "simulation through the load profile, over all its requests"
        how = f"{where}; pass only when the 95% CI clears it"
        if slo.request_class is not None:
            # A class's objective is judged on that class's requests alone: say so.
            kind = f"latency of class {slo.request_class}"
            how = (
                f"{where}, on the {slo.request_class} requests' {slo.metric} "
                "only; pass only when its 95% CI clears it"
            )
        rows.append((slo.text, kind, how))
    if nfrs.availability is not None:
        rows.append(
            (
                f"availability>={nfrs.availability.min_percent:g}%",
                "availability",
                "not evaluated until failures and repairs are modelled",
            )
        )
    if nfrs.headroom is not None:
        rows.append(
            (
                f"headroom>={nfrs.headroom.min_percent:g}%",
                "capacity",
                "1 − peak ÷ the tractor pull's sustainable limit",
            )
        )
    if nfrs.growth is not None:
        rows.append(
            (
                f"growth {100 * scenario.growth_per_month:g}%/month for "
                f"{nfrs.growth.horizon_months:g} months",
                "growth",
                "runway: months until the grown peak passes the sustainable limit",
            )
        )
    if nfrs.cost is not None:
        rows.append(
            (
                f"cost<={nfrs.cost.max_per_month:,g} {scenario.costs.currency}/month",
                "cost",
                "the cost table at peak load",
            )
        )
    if nfrs.retention is not None:
        retention = nfrs.retention
        limit = (
            f" ≤ {retention.max_storage_gb:,g} GB" if retention.max_storage_gb is not None else ""
        )
        rows.append(
            (
                f"retention {retention.days:g} days{limit}",
                "data retention",
                "write rate × record size × retention",
            )
        )
    return rows


def nfrs_markdown(scenario: ScenarioSpec) -> Markdown:
    """The quantified NFRs and how scaleplan checks each."""
    rows = [(text(name), text(kind), how) for name, kind, how in nfr_rows(scenario)]
    if not rows:
        return Markdown('_No quantified NFRs: add `nfrs: {slos: ["p99<=300ms"]}`._')
    return Markdown(
        "**Quantified requirements**\n\n" + table(["requirement", "kind", "checked by"], rows)
    )


def checklist_markdown(scenario: ScenarioSpec) -> Markdown:
    """The qualitative checklist: area, requirement, owner, status and evidence."""
    items = scenario.nfrs.qualitative
    if not items:
        return Markdown("_No qualitative requirements listed._")
    rows = [
        [
            text(item.area.replace("_", " ")),
            text(item.requirement),
            text(item.owner) or "—",
            STATUS_MARKS.get(item.status, text(item.status)),
            text(item.evidence) or "—",
        ]
        for item in items
    ]
    return Markdown(
        "**Checklist** (carried into the record as written; not simulated)\n\n"
        + table(["area", "requirement", "owner", "status", "evidence"], rows)
    )


def drivers_markdown(scenario: ScenarioSpec) -> Markdown:
    """The decision drivers in the client's words."""
    if not scenario.drivers:
        return Markdown("")
    return Markdown("\n".join(f"- {text(driver)}" for driver in scenario.drivers))


def validation_markdown(source: str | Path | Mapping[str, Any]) -> Markdown:
    """Validate a scenario (a file, or a mapping as from YAML) and say what is wrong, or that
    it is valid: every problem with its file, line and key path."""
    from scaleplan.errors import SpecError
    from scaleplan.spec import load_scenario, parse_scenario

    try:
        if isinstance(source, Mapping):
            scenario = parse_scenario(dict(source), source="<in-line>")
        else:
            scenario = load_scenario(source)
    except SpecError as error:
        count = len(error.problems)
        return Markdown(
            f"✗ **{count} problem{'s' if count != 1 else ''}**, each with its place:\n\n"
            + "\n".join(f"- {text(str(problem))}" for problem in error.problems)
        )
    return Markdown(
        f"✓ **valid**: {len(scenario.candidates)} candidates "
        f"({', '.join(text(name) for name in scenario.names)}), "
        f"{len(scenario.nfrs.slos)} SLOs, {len(scenario.nfrs.qualitative)} checklist items."
    )


def first_look(scenario: ScenarioSpec) -> Markdown:
    """Each candidate at peak load from closed forms alone (instant, before any simulation):
    its mean latency, busiest component and the most it can carry."""
    from scaleplan.analytic import bottleneck, estimate

    if scenario.workload.closed:
        return _first_look_closed(scenario)
    peak = scenario.peak_rate_per_s
    rows = []
    for name, spec in scenario.architectures().items():
        result = estimate(spec, rate_per_s=peak)
        limit, limiter = bottleneck(spec)
        busiest, component = max(
            result.components.items(),
            key=lambda item: item[1].utilization if math.isfinite(item[1].utilization) else 0,
        )
        rows.append(
            [
                text(name),
                "stable" if result.stable else "**unstable**",
                number(result.latency_ms.mean, ".1f", " ms"),
                f"{text(busiest)} {component.utilization:.0%}",
                f"{limit:,.0f}/s ({text(limiter)})",
                f"{peak / limit:.0%}" if limit > 0 else "—",
            ]
        )
    return Markdown(
        f"**First look at peak ({peak:,.0f} requests/s), from closed forms**\n\n"
        + table(
            ["candidate", "state", "mean latency", "busiest", "bottleneck bound", "peak / bound"],
            rows,
        )
    )


def _first_look_closed(scenario: ScenarioSpec) -> Markdown:
    """Each candidate with the peak's users, by Mean Value Analysis: the requests/s they
    send, their mean response time and the busiest component."""
    from scaleplan.analytic import estimate

    users = scenario.workload.peak_users
    rows = []
    for name, spec in scenario.architectures().items():
        result = estimate(spec.with_changes({"workload.users": users}))
        busiest, component = max(
            result.components.items(),
            key=lambda item: item[1].utilization if math.isfinite(item[1].utilization) else 0,
        )
        exact = "exact" if not result.warnings else "approximate"
        rows.append(
            [
                text(name),
                number(result.throughput_per_s, ".1f", "/s"),
                number(result.latency_ms.mean, ".1f", " ms"),
                f"{text(busiest)} {component.utilization:.0%}",
                exact,
            ]
        )
    return Markdown(
        f"**First look at peak ({users:,} users), by Mean Value Analysis**\n\n"
        + table(["candidate", "throughput", "mean response", "busiest", "MVA"], rows)
    )
