"""The sections of a decision record (MADR), built from scaleplan's results.

:func:`gather` loads a scenario and runs the comparison (:func:`scaleplan.experiments.compare`:
every candidate measured at peak under common random numbers, pulled to its limit, priced,
checked against every NFR, scored); the section functions turn that :class:`Evidence` into
Markdown and plotly figures, in the order of MADR — Context and Problem Statement, Decision
Drivers, Considered Options, Decision Outcome, Consequences, Confirmation, Pros and Cons of the
Options, More Information. The papermill template (``notebooks/decision-record.ipynb``) only
calls these functions and :func:`~scaleplan.report.markup.show`, so it holds no logic.

Every text that comes from the scenario file goes through
:func:`~scaleplan.report.markup.text`; numbers are formatted here. Nothing here runs a
simulation except :func:`gather`.
"""

from __future__ import annotations

import html
import json
import math
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import scaleplan
from scaleplan.formatting import json_safe
from scaleplan.report import plan
from scaleplan.report.markup import Markdown, number, table, text
from scaleplan.report.provenance import RunKey, RunSettings, resolve_budget, run_key, versions
from scaleplan.spec import ScenarioSpec, load_scenario

if TYPE_CHECKING:
    from scaleplan.experiments import CandidateResult, ComparisonResult, PullResult, Verdict
    from scaleplan.experiments.pull_users import UsersPullResult
    from scaleplan.experiments.spike_limit import SpikeLimit
    from scaleplan.verify import Verification

JSON_FILE = "decision-record.json"
STATUS_MARK = {"pass": "✓ pass", "fail": "✗ fail", "inconclusive": "? inconclusive"}
STATUS_MARK["not evaluated"] = "– not evaluated"
#: The steps of the confirming load test's ramp, as fractions of the peak load.
RAMP_FRACTIONS = (0.25, 0.5, 0.75, 1.0)
#: Minutes each ramp step is held in the confirming load test.
RAMP_STEP_MINUTES = 10


@dataclass(frozen=True)
class Evidence:
    """Everything a decision record says, measured once."""

    path: Path
    scenario: ScenarioSpec
    settings: RunSettings
    key: RunKey
    comparison: ComparisonResult
    versions: dict[str, str]
    wall_s: float
    made_at: str
    #: A load test's results judged against its plan (``decide --results``), else ``None``.
    verification: Verification | None = None
    #: How big the load profile's peak phase may grow for the chosen option before an SLO
    #: breaks (the scenario's ``run.spike_limit``), else ``None``.
    spike: SpikeLimit | None = None

    @property
    def chosen(self) -> CandidateResult | None:
        name = self.comparison.recommended
        return self.comparison.candidate(name) if name is not None else None

    def metrics(self) -> dict[str, Any]:
        """The key metrics kept in the run store and compared across executors."""
        candidates = {}
        for candidate in self.comparison.candidates:
            candidates[candidate.name] = _finite_or_none(
                {
                    "p99_ms": candidate.metrics.get("p99_ms", math.nan),
                    "mean_ms": candidate.metrics.get("mean_ms", math.nan),
                    "error_rate": candidate.metrics.get("error_rate", math.nan),
                    "limit_per_s": candidate.values.get("limit_per_s", math.nan),
                    "runway_months": candidate.runway.months if candidate.runway else math.nan,
                    "cost_per_month": candidate.cost.per_month_today
                    if candidate.cost
                    else math.nan,
                    "score": candidate.score,
                }
            )
            candidates[candidate.name]["gated"] = candidate.gated
        return {
            "chosen": self.comparison.recommended,
            "candidates": candidates,
            "simulated_requests": self.comparison.simulated_requests,
        }

    def to_dict(self) -> dict[str, Any]:
        """The results behind the record, JSON-safe, for other tools."""
        return {
            "title": self.scenario.title,
            "scenario": str(self.path),
            "made_at": self.made_at,
            "settings": self.settings.as_dict(),
            "run_key": {**self.key.__dict__, "digest": self.key.digest},
            "versions": self.versions,
            "wall_s": self.wall_s,
            "metrics": self.metrics(),
            "confirmation": confirmation_plan(self),
            "verification": self.verification.to_dict() if self.verification else None,
            "comparison": self.comparison.to_dict(),
            "spike_limit": (
                {"candidate": self.comparison.recommended, **self.spike.to_dict()}
                if self.spike is not None
                else None
            ),
        }


def _finite_or_none(values: dict[str, float]) -> dict[str, Any]:
    return {key: value if math.isfinite(value) else None for key, value in values.items()}


def gather(
    scenario: str | Path,
    *,
    seed: int | None = None,
    budget: int | None = None,
    workers: int | None = None,
    results: str | Path | None = None,
    plan: str | Path | None = None,
) -> Evidence:
    """Load ``scenario`` and compare its candidates with the given seed and run budget.

    ``budget`` is the number of requests per simulation run (default: the scenario's
    ``run.requests``; it also caps the tractor pull's requests per step). ``workers`` is the
    local processes the comparison uses (default: one per available core; 1: this process);
    the numbers do not depend on it. ``results`` (a load test's Locust or k6 output) and
    ``plan`` (the plan ``scaleplan loadtest`` wrote; default: ``plan.json`` beside the
    results) are judged by :func:`scaleplan.verify.verify` first, so a bad file stops the
    record before any simulation.
    """
    from scaleplan.experiments import compare

    started = time.perf_counter()
    path = Path(scenario)
    verification = None
    if results is not None:
        from scaleplan.verify import verify

        verification = verify(path, results, plan=plan)
    loaded = load_scenario(path)
    settings = resolve_budget(loaded, seed=seed, budget=budget)
    comparison = compare(
        loaded,
        settings.compare_settings(),
        workers=workers,
    )
    spike = None
    chosen = comparison.recommended
    if (
        loaded.run.spike_limit
        and chosen is not None
        and comparison.candidate(chosen).transient is not None
    ):
        from scaleplan.report.spikes import scenario_spike_limit

        spike = scenario_spike_limit(
            loaded, chosen, searches=loaded.run.spike_searches, workers=workers
        )
    return Evidence(
        path=path.resolve(),
        scenario=loaded,
        settings=settings,
        key=run_key(path, seed=seed, budget=budget),
        comparison=comparison,
        versions=versions(),
        wall_s=time.perf_counter() - started,
        made_at=datetime.now(UTC).isoformat(timespec="seconds"),
        verification=verification,
        spike=spike,
    )


def save(evidence: Evidence, output_dir: str | Path) -> Path:
    """Write the results behind the record as ``decision-record.json`` in ``output_dir``."""
    folder = Path(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / JSON_FILE
    partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    partial.write_text(
        json.dumps(evidence.to_dict(), indent=2, allow_nan=False) + "\n", encoding="utf-8"
    )
    os.replace(partial, path)
    return path


# --------------------------------------------------------------------------- helpers


def _currency(evidence: Evidence) -> str:
    return text(evidence.comparison.currency)


def _money(evidence: Evidence, value: float | None, *, markdown: bool = True) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    currency = _currency(evidence) if markdown else evidence.comparison.currency
    return f"{value:,.0f} {currency}"


def _ci(low: float, high: float, spec: str = ".1f") -> str:
    if not (math.isfinite(low) and math.isfinite(high)):
        return ""
    return f" (95% CI {low:{spec}}–{high:{spec}})"


def _verdict_cell(verdict: Verdict | None) -> str:
    if verdict is None:
        return "—"
    mark = STATUS_MARK.get(verdict.status, text(verdict.status))
    cause = f" — {text(verdict.cause)}" if verdict.status == "fail" and verdict.cause else ""
    if verdict.status == "not evaluated" or not math.isfinite(verdict.measured):
        return mark + cause
    return f"{mark}: {_measured(verdict)}{cause}"


def _measured(verdict: Verdict) -> str:
    value, unit = verdict.measured, verdict.unit
    low, high = verdict.ci95
    if unit == "fraction":
        shown = f"{100 * value:.3g}%"
        interval = (
            _ci(100 * low, 100 * high, ".3g").replace(")", "%)") if math.isfinite(low) else ""
        )
    elif unit == "ms":
        shown, interval = f"{value:.1f} ms", _ci(low, high)
    elif unit == "per_s":
        shown, interval = f"{value:,.0f}/s", _ci(low, high, ",.0f")
    elif unit == "months":
        shown = "∞ months" if value == math.inf else f"{value:.1f} months"
        interval = _ci(low, high) if value != math.inf else ""
    elif unit == "per_month":
        shown, interval = f"{value:,.0f}/month", ""
    elif unit == "GB":
        shown, interval = f"{value:,.0f} GB", ""
    else:
        shown, interval = f"{value:.4g} {text(unit)}", _ci(low, high, ".4g")
    return shown + interval


def _peak(comparison: ComparisonResult) -> str:
    """The peak load in words: ``225 requests/s`` or, for a closed workload, ``80 users``."""
    if comparison.peak_users is not None:
        return comparison.peak_text
    return f"{comparison.peak_rate_per_s:,.0f} requests/s"


def _candidate_figure(evidence: Evidence, candidate: CandidateResult) -> Any:
    """The candidate's graph coloured by utilisation at its sustainable limit (the bottleneck
    is the reddest), or by the closed-form utilisation at peak when it was not pulled."""
    from scaleplan.analytic import estimate
    from scaleplan.graph import build_graph
    from scaleplan.views import figure_graph

    spec = evidence.scenario.architectures()[candidate.name]
    result = candidate.pull.at_limit if candidate.pull is not None else None
    where = "at its sustainable limit"
    if result is None and evidence.comparison.peak_users is not None:
        # A closed workload: its users at peak, by Mean Value Analysis.
        result = estimate(spec.with_changes({"workload.users": evidence.comparison.peak_users}))
        where = "at peak (Mean Value Analysis)"
    elif result is None:
        result = estimate(spec, rate_per_s=evidence.comparison.peak_rate_per_s)
        where = "at peak (closed form)"
    return figure_graph(
        build_graph(spec), result, title=f"{html.escape(candidate.name)} — utilisation {where}"
    )


# --------------------------------------------------------------------------- sections


def header(evidence: Evidence) -> Markdown:
    """The record's title and status line."""
    comparison = evidence.comparison
    status = "proposed" if comparison.recommended else "open: no option passes every gate"
    return Markdown(
        plan.title_markdown(evidence.scenario)
        + "\n\n"
        + f"*Architecture decision record · status: {status} · made {evidence.made_at} by "
        f"scaleplan {text(scaleplan.__version__)} from* {text(evidence.path.name)}"
    )


def context_and_problem(evidence: Evidence) -> Markdown:
    """MADR: Context and Problem Statement."""
    return Markdown(
        "## Context and Problem Statement\n\n" + plan.context_markdown(evidence.scenario)
    )


def decision_drivers(evidence: Evidence) -> Markdown:
    """MADR: Decision Drivers — the client's words, then the NFRs and the workload."""
    scenario = evidence.scenario
    parts = ["## Decision Drivers"]
    if scenario.drivers:
        parts.append(plan.drivers_markdown(scenario))
    parts += [
        plan.nfrs_markdown(scenario),
        plan.workload_markdown(scenario),
        plan.checklist_markdown(scenario),
    ]
    return Markdown("\n\n".join(parts))


def considered_options(evidence: Evidence) -> list[Any]:
    """MADR: Considered Options — each candidate, described, with its graph."""
    comparison = evidence.comparison
    items: list[Any] = [
        Markdown(
            "## Considered Options\n\n"
            + "\n".join(
                f"{index}. **{text(candidate.name)}**"
                + (f" — {text(candidate.description)}" if candidate.description else "")
                for index, candidate in enumerate(comparison.candidates, start=1)
            )
        )
    ]
    specs = evidence.scenario.architectures()
    for candidate in comparison.candidates:
        spec = specs[candidate.name]
        components = ", ".join(
            f"{text(name)} ({text(component.kind)}"
            + (f", {component.capacity} slots" if component.capacity else "")
            + ")"
            for name, component in spec.components.items()
        )
        about = [f"### {text(candidate.name)}"]
        if spec.description:
            about.append(text(spec.description))
        about.append(f"Components: {components}.")
        items.append(Markdown("\n\n".join(about)))
        items.append(_candidate_figure(evidence, candidate))
    return items


def gates_table(evidence: Evidence) -> Markdown:
    """The NFR gates: one row per NFR, one column per candidate, each verdict with its CI."""
    comparison = evidence.comparison
    names = [candidate.name for candidate in comparison.candidates]
    nfrs: list[str] = []
    for candidate in comparison.candidates:
        for verdict in candidate.verdicts:
            if verdict.nfr not in nfrs:
                nfrs.append(verdict.nfr)
    rows = [
        [text(nfr)] + [_verdict_cell(comparison.candidate(name).verdict(nfr)) for name in names]
        for nfr in nfrs
    ]
    from scaleplan.experiments.compare import profile_judged

    profiled = any(candidate.transient is not None for candidate in comparison.candidates)
    heading = (
        f"### NFR gates: {profile_judged(comparison)} through the load profile, the rest at "
        "peak "
        f"({_peak(comparison)})"
        if profiled
        else f"### NFR gates at peak ({_peak(comparison)})"
    )
    return Markdown(
        f"{heading}\n\n"
        "A verdict passes only when its 95% confidence interval clears the bound; any fail "
        "excludes the option.\n\n" + table(["NFR", *(text(name) for name in names)], rows)
    )


def decision_matrix(evidence: Evidence) -> list[Any]:
    """The weighted decision matrix: value and score per criterion, total, gate — an HTML
    table (escaped; the chosen option's row highlighted and starred, excluded ones greyed)."""
    from scaleplan.views import html_table

    comparison = evidence.comparison
    criteria = list(comparison.weights)
    header_cells = ["option"]
    header_cells += [f"{c} (w {comparison.weights[c]:.0%})" for c in criteria]
    header_cells += ["score", "gate"]
    rows: list[list[str]] = []
    kinds: list[str] = []
    for row in comparison.matrix_records():
        chosen = bool(row["recommended"])
        cells = [("★ " if chosen else "") + str(row["candidate"])]
        intervals = comparison.candidate(row["candidate"]).metrics_ci95
        for criterion in criteria:
            value, score = row.get(criterion), row.get(f"{criterion}.score")
            shown = _criterion_value(evidence, criterion, value, markdown=False)
            if criterion == "p99_ms" and shown != "—":
                # The most-quoted figure of a record is never shown without its interval.
                low, high = intervals.get(criterion, (math.nan, math.nan))
                if math.isfinite(low) and math.isfinite(high):
                    shown += f" [{low:.1f}, {high:.1f}]"
            cells.append(f"{shown} · {number(score, '.2f')}")
        cells.append(number(row["score"], ".2f"))
        cells.append("excluded" if row["gated"] else "passes")
        rows.append(cells)
        kinds.append("chosen" if chosen else ("excluded" if row["gated"] else ""))
    return [
        Markdown(
            "### Decision matrix\n\nEach criterion is scored relative to the best option that "
            "passes the gates (1 = best), weighted by the scenario's criteria."
            + (" The chosen option's row is highlighted (★)." if comparison.recommended else "")
        ),
        html_table(header_cells, rows, row_classes=kinds, numeric=range(1, len(criteria) + 2)),
    ]


def _criterion_value(
    evidence: Evidence, criterion: str, value: Any, *, markdown: bool = True
) -> str:
    """A criterion's value in words; ``markdown=False`` for an HTML table's plain text."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if criterion.endswith("_ms"):
        return f"{value:.1f} ms"
    if criterion.startswith("cost"):
        return _money(evidence, value, markdown=markdown)
    if criterion == "headroom":
        return f"{value:.0%}"
    if criterion == "error_rate":
        return f"{100 * value:.3g}%"
    if criterion == "runway_months":
        return f"{value:.1f} months"
    if criterion == "limit_per_s":
        return f"{value:,.0f}/s"
    return f"{value:.4g}"


def decision_outcome(evidence: Evidence) -> list[Any]:
    """MADR: Decision Outcome — the chosen option and why, the gates and the matrix."""
    comparison = evidence.comparison
    if comparison.recommended is None:
        head = "No option is chosen: none passes every hard NFR gate."
    else:
        head = f'Chosen option: "**{text(comparison.recommended)}**", because'
    reasons = "\n".join(f"- {text(reason)}" for reason in comparison.reasons)
    items: list[Any] = [
        Markdown("## Decision Outcome\n\n" + head + "\n\n" + reasons),
        gates_table(evidence),
        *decision_matrix(evidence),
    ]
    items.extend(_comparison_figures(evidence))
    return items


def _comparison_figures(evidence: Evidence) -> list[Any]:
    """The comparison drawn: p99 per option with its CI, cost against p99, headroom under
    growth and each option's tractor pull (the decision matrix is a table above them)."""
    from scaleplan.views import figure_comparison, figure_pareto, figure_runway

    comparison = evidence.comparison
    items: list[Any] = [
        figure_comparison(comparison, "p99_ms", title=_p99_title(evidence.scenario)),
        figure_pareto(comparison),
    ]
    if any(candidate.runway is not None for candidate in comparison.candidates):
        items.append(Markdown("### Growth runway"))
        items.append(figure_runway(comparison))
    items.extend(tractor_pull(evidence))
    items.extend(load_profile(evidence))
    return items


def load_profile(evidence: Evidence) -> list[Any]:
    """Each option through the scenario's load profile (nothing without one): the phases, the
    verdicts per window and over the profile, scaling, backlog and its drain, replica-hours
    and the cost of the event, then the time series of every option."""
    from scaleplan.experiments.nfr import show_value
    from scaleplan.views.transient import figure_transient
    from scaleplan.views.transient_summary import summary_rows

    comparison = evidence.comparison
    results = {c.name: c.transient for c in comparison.candidates if c.transient is not None}
    if not results:
        return []
    first = next(iter(results.values()))
    phases = ", ".join(
        f"{text(name)} ({start / 60:g}–{end / 60:g} min)" for name, start, end in first.phases
    )
    parts = [
        "### Through the load profile",
        f"Besides the steady peak, every option ran through the scenario's load profile from "
        f"empty: {phases}, over today's {number(first.base_rate_per_s, ',.4g')} requests/s. "
        f"Each figure is the mean of {first.replications} independent replications with its "
        f"95% Student-t interval across them (the same seeds for every option). Latency SLOs "
        f"are judged in every {first.window_s:g} s window (the verdict is the worst window's); "
        "error SLOs over every request of the profile (the budget it spends).",
    ]
    for name, result in results.items():
        candidate = comparison.candidate(name)
        verdicts = [
            v
            for v in candidate.verdicts
            if v.nfr.endswith("of the load profile") or v.nfr.endswith("over the load profile")
        ]
        rows = [(text(v.nfr), text(v.status), text(v.reason())) for v in verdicts]
        rows += [
            (
                text(f"{v.nfr} at the steady peak (shown, not a gate)"),
                text(v.status),
                text(
                    f"measured {show_value(v.measured, v.unit)} (95% CI "
                    f"{show_value(v.ci95[0], v.unit)}–{show_value(v.ci95[1], v.unit)})"
                ),
            )
            for v in candidate.peak_slo_verdicts
        ]
        rows += [
            (text(label), text(value), text(note)) for label, value, note in summary_rows(result)
        ]
        month = candidate.values.get("cost_per_month_with_profile", math.nan)
        if math.isfinite(month) and first.event_cost is not None:
            rows.append(
                (
                    "a month with the profile",
                    text(f"{month:,.2f} {first.event_cost.currency}"),
                    text(
                        f"today's month plus {evidence.scenario.workload.profile.per_month:g} "
                        "profiles a month, each at its extra cost over today's load"
                        if evidence.scenario.workload.profile is not None
                        else ""
                    ),
                )
            )
        parts.append(f"#### {text(name)}\n\n" + table(["", "value", "note"], rows))
        parts.extend(f"_{text(warning)}_" for warning in result.warnings)
    if evidence.spike is not None and comparison.recommended is not None:
        from scaleplan.report.spikes import spike_markdown

        parts.append(
            "#### How big a spike the chosen option carries\n\n"
            + spike_markdown(comparison.recommended, evidence.spike)
        )
    return [
        Markdown("\n\n".join(parts)),
        figure_transient(results, evidence.scenario.nfrs.slos, title="Through the load profile"),
    ]


def _p99_title(scenario: ScenarioSpec) -> str:
    """The p99 chart's title: it is drawn against an SLO only when one is on the whole
    system's p99; a class's objective is judged on that class's p99 (in the gates), which this
    chart of all requests does not show."""
    slos = [slo for slo in scenario.nfrs.slos if slo.metric == "p99"]
    if any(slo.request_class is None for slo in slos):
        return "p99 at peak, 95% CI, against the SLO"
    title = "p99 of all requests at peak, 95% CI"
    classes = sorted({str(slo.request_class) for slo in slos})
    if classes:
        named = ", ".join(html.escape(name) for name in classes)
        title += f" (the p99 objectives are per class: {named}'s, judged in the NFR gates)"
    return title


def pull_rows(pulls: list[PullResult]) -> Markdown:
    """One row per tractor pull: limit with its CI, knee, bottleneck, how it breaks, bound."""
    rows = []
    for result in pulls:
        low, high = result.limit_ci95
        rows.append(
            [
                text(result.spec),
                f"{result.limit_per_s:,.0f}/s{_ci(low, high, ',.0f')}",
                f"{result.limit_per_min:,.0f}/min",
                number(result.knee_per_s, ",.0f", "/s"),
                f"{text(result.bottleneck)} at {result.bottleneck_utilization:.0%}"
                if result.bottleneck
                else "—",
                # An unreachable SLO names the component whose own latency makes it so.
                text(
                    result.failure_detail
                    if result.failure_mode == "unreachable"
                    else result.failure_mode
                )
                or "—",
                f"{result.analytic_bound_per_s:,.0f}/s ({text(result.analytic_bottleneck)})",
                _binds(result),
            ]
        )
    return Markdown(
        table(
            [
                "option",
                "sustainable limit",
                "per minute",
                "knee",
                "bottleneck at the limit",
                "breaks by",
                "analytic bound",
                "SLO that binds",
            ],
            rows,
        )
    )


def _binds(result: PullResult | UsersPullResult) -> str:
    """The objective that breaks first, naming its request class when it is a class's."""
    from scaleplan.spec import parse_slo
    from scaleplan.views.experiments import pull_binding

    binding = pull_binding(result)
    if not binding:
        if not result.slos:
            return "—"
        # Every failing step failed otherwise (ran away, no steady state): no objective broke.
        mode = getattr(result, "failure_mode", "")
        return f"none broke: it failed by {text(mode)} first" if mode else "none broke"
    slo = parse_slo(binding)
    who = f" (class {text(slo.request_class)})" if slo.request_class else ""
    return text(binding) + who


def tractor_pull(evidence: Evidence) -> list[Any]:
    """Every option pulled to its limit: a summary table and each option's latency curve."""
    from scaleplan.views import figure_pull

    if evidence.comparison.closed:
        return _users_pulls(evidence)
    pulled = [c.pull for c in evidence.comparison.candidates if c.pull is not None]
    if not pulled:
        return [Markdown("_The options were not pulled (the run budget has no pull)._")]
    items: list[Any] = [
        Markdown(
            "### The tractor pull\n\nEach option loaded until it stops meeting its SLOs: the "
            "most requests it sustains (mean of independent searches, with its 95% CI), the "
            "knee where p99 starts to rise faster than the load, the component that saturates "
            "first and the closed-form bound beside it.\n\n" + pull_rows(pulled)
        )
    ]
    for result in pulled:
        items.append(figure_pull(result, title=f"{html.escape(result.spec)}: tractor pull"))
    return items


def _users_pulls(evidence: Evidence) -> list[Any]:
    """A closed workload's pulls: the most users each option serves within its SLOs."""
    from scaleplan.views import figure_pull_users

    pulled = [
        (c.name, c.users_pull) for c in evidence.comparison.candidates if c.users_pull is not None
    ]
    if not pulled:
        return [Markdown("_The options were not pulled (the run budget has no pull)._")]
    rows = []
    for name, result in pulled:
        low, high = result.limit_ci95
        t_low, t_high = result.throughput_ci95
        rows.append(
            [
                text(name),
                f"{result.limit_users:,.0f} users{_ci(low, high, ',.0f')}",
                f"{result.throughput_per_s:,.1f}/s{_ci(t_low, t_high, ',.1f')}",
                f"{text(result.bottleneck)} at {result.bottleneck_utilization:.0%}"
                if result.bottleneck
                else "—",
                str(len(result.limits)),
                _binds(result),
            ]
        )
    items: list[Any] = [
        Markdown(
            "### The tractor pull over users\n\nEach option's users raised until they stop "
            "meeting the SLOs (a closed workload: each user waits for its answer and thinks "
            "before the next request, as a load-test tool's users do): the most users it "
            "serves (mean of independent searches, with its 95% CI), the requests/s they send "
            "there and the component busiest at that point.\n\n"
            + table(
                [
                    "option",
                    "sustainable limit",
                    "throughput there",
                    "busiest there",
                    "searches",
                    "SLO that binds",
                ],
                rows,
            )
        )
    ]
    for name, result in pulled:
        items.append(
            figure_pull_users(result, title=f"{html.escape(name)}: tractor pull over users")
        )
    return items


def cost_breakdown(evidence: Evidence, option: str | None = None) -> Markdown:
    """What each component of an option (default: the chosen one) costs a month today."""
    comparison = evidence.comparison
    name = option or comparison.recommended or comparison.baseline
    priced = comparison.candidate(name).cost
    if priced is None:
        return Markdown(f"_No cost table for {text(name)}._")
    rows = [
        [
            text(part.component),
            text(part.kind),
            number(part.nodes, ",.3g"),
            f"{part.requests_per_s:,.1f}/s",
            number(part.stored_gb, ",.0f", " GB"),
            _money(evidence, part.per_month),
        ]
        for part in priced.components
    ]
    rows.append(["**total**", "", "", "", "", f"**{_money(evidence, priced.per_month_today)}**"])
    return Markdown(
        f"**Cost of {text(name)} per month at today's load** "
        f"(at peak all month: {_money(evidence, priced.per_month_peak)}; "
        f"{number(priced.per_million_requests, ',.2f')} {_currency(evidence)} per million "
        "requests)\n\n"
        + table(["component", "kind", "nodes", "serves", "stored", "per month"], rows)
    )


def consequences(evidence: Evidence) -> Markdown:
    """MADR: Consequences — good and bad, for the chosen option (or for not choosing)."""
    comparison = evidence.comparison
    chosen = evidence.chosen
    good: list[str] = []
    bad: list[str] = []
    if chosen is not None:
        good += _good_points(evidence, chosen)
        bad += _bad_points(evidence, chosen)
    else:
        bad.append(
            "No candidate meets every hard requirement: the decision needs another option, "
            "more capacity or relaxed requirements."
        )
    for item in evidence.scenario.nfrs.qualitative:
        if item.status in ("open", "at_risk", "partial"):
            bad.append(
                f"Checklist item still {text(item.status.replace('_', ' '))}: "
                f"{text(item.area.replace('_', ' '))} — {text(item.requirement)}"
            )
    given = list(evidence.scenario.consequences)
    parts = ["## Consequences"]
    if comparison.recommended is not None:
        parts.append(f"Of choosing **{text(comparison.recommended)}**:")
    parts.append("\n".join(f"- Good, because {point}" for point in good) or "")
    parts.append("\n".join(f"- Bad, because {point}" for point in bad) or "")
    if given:
        parts.append("Noted in the scenario:\n\n" + "\n".join(f"- {text(c)}" for c in given))
    return Markdown("\n\n".join(part for part in parts if part))


def _good_points(evidence: Evidence, candidate: CandidateResult) -> list[str]:
    comparison = evidence.comparison
    points = []
    passed = [v for v in candidate.verdicts if v.status == "pass"]
    from scaleplan.experiments.compare import PROFILE_JUDGED

    # Gates judged through the load profile say so in their names; the rest are at peak.
    through = candidate.transient is not None
    profiled = [v for v in passed if through and v.kind in (*PROFILE_JUDGED, "backlog")]
    at_peak = [v for v in passed if v not in profiled]
    met = [", ".join(text(v.nfr) for v in profiled)] if profiled else []
    if at_peak:
        met.append(", ".join(text(v.nfr) for v in at_peak) + " at peak")
    if met:
        points.append("it meets " + "; ".join(met) + ", with 95% confidence")
    peak = comparison.peak_rate_per_s
    if (
        candidate.pull is not None
        and math.isfinite(candidate.pull.limit_per_s)
        and candidate.pull.limit_per_s >= peak > 0
    ):
        # A limit below the peak (or 0) is no good point: the gates and reasons say so.
        low, high = candidate.pull.limit_ci95
        points.append(
            f"it carries up to {candidate.pull.limit_per_s:,.0f} requests/s"
            f"{_ci(low, high, ',.0f')} within its SLOs, "
            f"{candidate.pull.limit_per_s / comparison.peak_rate_per_s:.1f}× today's peak"
        )
    found = candidate.users_pull
    if (
        found is not None
        and comparison.peak_users
        and math.isfinite(found.limit_users)
        and found.limit_users >= comparison.peak_users
    ):
        low, high = found.limit_ci95
        points.append(
            f"it serves up to {found.limit_users:,.0f} users{_ci(low, high, ',.0f')} within "
            f"its SLOs ({found.throughput_per_s:,.1f} requests/s), "
            f"{found.limit_users / comparison.peak_users:.1f}× the peak's users"
        )
    if candidate.runway is not None and candidate.runway.months > 0:
        months = candidate.runway.months
        shown = "indefinitely" if months == math.inf else f"for {months:.1f} months"
        points.append(f"it absorbs {100 * comparison.growth_per_month:g}% monthly growth {shown}")
    for difference in comparison.differences:
        if (
            difference.candidate == candidate.name
            and difference.metric == "p99_ms"
            and difference.significant
            and difference.difference < 0
        ):
            paired = "under the same seeds" if comparison.closed else "over the same arrivals"
            points.append(text(difference.sentence()) + f" (paired {paired})")
    return points


def _bad_points(evidence: Evidence, candidate: CandidateResult) -> list[str]:
    comparison = evidence.comparison
    points = []
    baseline = comparison.baseline
    if candidate.cost is not None and baseline != candidate.name:
        other = comparison.candidate(baseline).cost
        if other is not None and candidate.cost.per_month_today > other.per_month_today:
            more = candidate.cost.per_month_today - other.per_month_today
            points.append(
                f"it costs {_money(evidence, more)} a month more than {text(baseline)} "
                f"({_money(evidence, candidate.cost.per_month_today)} at today's load)"
            )
    for verdict in candidate.verdicts:
        if verdict.status == "inconclusive":
            extra = (
                f"; about {verdict.extra_requests:,} more simulated requests would settle it"
                if verdict.extra_requests
                else (f"; it {text(verdict.cause)}" if verdict.cause else "")
            )
            points.append(f"{text(verdict.nfr)} is not yet settled by the evidence{extra}")
        elif verdict.status == "not evaluated":
            points.append(f"{text(verdict.nfr)} is not evaluated: {text(verdict.detail)}")
    if candidate.pull is not None and candidate.pull.bottleneck:
        points.append(
            f"{text(candidate.pull.bottleneck)} gives first at the limit "
            f"({text(candidate.pull.failure_mode)}): it is the component to watch and to "
            "scale next"
        )
    if candidate.users_pull is not None and candidate.users_pull.bottleneck:
        points.append(
            f"{text(candidate.users_pull.bottleneck)} is the busiest component at the limit "
            f"({candidate.users_pull.bottleneck_utilization:.0%} busy): it is the component "
            "to watch and to scale next"
        )
    return points


def confirmation_plan(evidence: Evidence) -> dict[str, Any]:
    """The load test that would confirm the decision: ramp, targets and thresholds."""
    comparison = evidence.comparison
    chosen = evidence.chosen
    if comparison.peak_users is not None:
        return _closed_confirmation_plan(evidence, comparison.peak_users)
    peak = comparison.peak_rate_per_s
    steps = [
        {"rate_per_s": round(f * peak, 3), "hold_minutes": RAMP_STEP_MINUTES}
        for f in RAMP_FRACTIONS
    ]
    limit = chosen.pull.limit_per_s if chosen and chosen.pull else math.nan
    if math.isfinite(limit) and limit > peak:
        for fraction in (0.5, 0.75, 1.0):
            rate = peak + fraction * (limit - peak)
            steps.append({"rate_per_s": round(rate, 3), "hold_minutes": RAMP_STEP_MINUTES})
    thresholds = []
    expected: dict[str, Any] = {}
    for slo in evidence.scenario.nfrs.slos:
        thresholds.append(slo.text)
        if chosen is not None:
            verdict = chosen.at_peak(slo.text)
            if verdict is not None and math.isfinite(verdict.measured):
                expected[slo.text] = {"measured": verdict.measured, "ci95": list(verdict.ci95)}
    return json_safe(
        {
            "option": comparison.recommended,
            "target_rate_per_s": peak,
            "ramp": steps,
            "thresholds": thresholds,
            "expected_at_peak": expected,
            "expected_limit_per_s": limit,
            "expected_limit_ci95": list(chosen.pull.limit_ci95) if chosen and chosen.pull else None,
            "expected_bottleneck": chosen.pull.bottleneck if chosen and chosen.pull else None,
        }
    )


def _closed_confirmation_plan(evidence: Evidence, peak_users: int) -> dict[str, Any]:
    """A closed workload's load test: users stepped up to the peak's, then toward the limit."""
    chosen = evidence.chosen
    users = sorted({max(1, round(f * peak_users)) for f in RAMP_FRACTIONS})
    found = chosen.users_pull if chosen is not None else None
    limit = found.limit_users if found is not None else math.nan
    if math.isfinite(limit) and limit > peak_users:
        for fraction in (0.5, 0.75, 1.0):
            step = round(peak_users + fraction * (limit - peak_users))
            if step > users[-1]:
                users.append(step)
    thresholds = []
    expected: dict[str, Any] = {}
    for slo in evidence.scenario.nfrs.slos:
        thresholds.append(slo.text)
        if chosen is not None:
            verdict = chosen.at_peak(slo.text)
            if verdict is not None and math.isfinite(verdict.measured):
                expected[slo.text] = {"measured": verdict.measured, "ci95": list(verdict.ci95)}
    return json_safe(
        {
            "option": evidence.comparison.recommended,
            "workload": "closed",
            "target_users": peak_users,
            "think_time_s": evidence.scenario.workload.today.think_time_s,
            "ramp": [{"users": count, "hold_minutes": RAMP_STEP_MINUTES} for count in users],
            "thresholds": thresholds,
            "expected_at_peak": expected,
            "expected_limit_users": limit,
            "expected_limit_ci95": list(found.limit_ci95) if found is not None else None,
            "expected_limit_per_s": found.throughput_per_s if found is not None else None,
            "expected_bottleneck": found.bottleneck if found is not None else None,
        }
    )


def confirmation(evidence: Evidence) -> Markdown:
    """MADR: Confirmation — the real load test that would confirm (or refute) the decision."""
    plan_data = confirmation_plan(evidence)
    comparison = evidence.comparison
    option = comparison.recommended
    lines = ["## Confirmation"]
    if option is None:
        lines.append(
            "There is no chosen option to confirm. Once one is chosen, load-test it as below."
        )
    elif comparison.closed:
        lines.append(
            f"Confirm the decision with a load test of **{text(option)}** in a staging "
            "environment sized like production, with production-like data and the request mix "
            "of the workload: the users below, each sending a request, waiting for its answer "
            f"and thinking about {plan_data['think_time_s']:g} s before the next, as the "
            "model's users do (`scaleplan loadtest` writes the Locust and k6 scripts):"
        )
    else:
        lines.append(
            f"Confirm the decision with a load test of **{text(option)}** in a staging "
            "environment sized like production, with production-like data and the arrival mix "
            "of the workload (Poisson arrivals at the rates below):"
        )
    if comparison.closed:
        lines.extend(_closed_confirmation_lines(evidence, plan_data))
        if evidence.verification is not None:
            lines.extend(_verification_lines(evidence, evidence.verification))
        return Markdown("\n\n".join(lines))
    ramp_rows = [
        [
            str(index),
            f"{step['rate_per_s']:,.1f}",
            f"{60 * step['rate_per_s']:,.0f}",
            str(step["hold_minutes"]),
        ]
        for index, step in enumerate(plan_data["ramp"], start=1)
    ]
    lines.append(
        f"**Target**: the peak of {comparison.peak_rate_per_s:,.1f} requests/s, held for "
        f"{RAMP_STEP_MINUTES} minutes after a ramp; the steps beyond it head for the "
        "sustainable limit the model predicts, to find where it really is."
    )
    lines.append(table(["step", "requests/s", "requests/min", "hold (min)"], ramp_rows))
    lines.extend(_threshold_lines(evidence, plan_data, "rate"))
    limit = plan_data["expected_limit_per_s"]
    if limit is not None:
        low_high = plan_data["expected_limit_ci95"] or [None, None]
        interval = _ci(low_high[0], low_high[1], ",.0f") if None not in low_high else ""
        lines.append(
            f"**Expected limit**: {limit:,.0f} requests/s{interval}, with "
            f"**{text(plan_data['expected_bottleneck'] or '?')}** saturating first. The decision "
            "is confirmed when every threshold holds at the target rate and the measured limit "
            "lies at or above the model's lower bound; it is refuted — revisit the model's "
            "service times against production traces — if a threshold breaks below the peak."
        )
    if evidence.verification is not None:
        lines.extend(_verification_lines(evidence, evidence.verification))
    return Markdown("\n\n".join(lines))


def _threshold_lines(evidence: Evidence, plan_data: dict[str, Any], target: str) -> list[str]:
    """The NFR thresholds of the load test with what the model predicts at the target."""
    lines: list[str] = []
    expected = plan_data["expected_at_peak"]
    rows = []
    for slo in evidence.scenario.nfrs.slos:
        model = expected.get(slo.text)
        predicted = "—"
        if model is not None:
            low, high = model["ci95"]
            value = model["measured"]
            if slo.unit == "fraction":
                predicted = f"{100 * value:.3g}%"
            elif slo.unit == "ms":
                predicted = f"{value:.1f} ms" + (
                    _ci(low, high) if low is not None and high is not None else ""
                )
            else:
                predicted = f"{value:.4g}"
        rows.append([text(slo.text), predicted])
    if rows:
        lines.append(
            "**Thresholds** (from the NFRs; the test fails if any is broken at the target "
            f"{target}), with what the model predicts there:"
        )
        lines.append(table(["threshold", "model at peak"], rows))
    return lines


def _closed_confirmation_lines(evidence: Evidence, plan_data: dict[str, Any]) -> list[str]:
    """A closed workload's ramp in users, its thresholds and the limit the model expects."""
    rows = [
        [str(index), f"{step['users']:,}", str(step["hold_minutes"])]
        for index, step in enumerate(plan_data["ramp"], start=1)
    ]
    lines = [
        f"**Target**: the peak of {plan_data['target_users']:,} users, held for "
        f"{RAMP_STEP_MINUTES} minutes after a ramp; the steps beyond it head for the most users "
        "the model predicts within the SLOs, to find where the limit really is.",
        table(["step", "users", "hold (min)"], rows),
        *_threshold_lines(evidence, plan_data, "number of users"),
    ]
    limit = plan_data["expected_limit_users"]
    if limit is not None:
        low_high = plan_data["expected_limit_ci95"] or [None, None]
        interval = _ci(low_high[0], low_high[1], ",.0f") if None not in low_high else ""
        rate = plan_data["expected_limit_per_s"]
        lines.append(
            f"**Expected limit**: {limit:,.0f} users{interval}, sending "
            f"{number(rate, ',.1f', ' requests/s')} there, with "
            f"**{text(plan_data['expected_bottleneck'] or '?')}** the busiest component. The "
            "decision is confirmed when every threshold holds with the peak's users and the "
            "measured limit lies at or above the model's lower bound; it is refuted — revisit "
            "the model's service and think times against production traces — if a threshold "
            "breaks below the peak."
        )
    return lines


def _verification_lines(evidence: Evidence, result: Verification) -> list[str]:
    """The load test's results against the plan: the verdict, per-step figures, why."""
    from scaleplan.verify.judge import LABELS, show_band, show_deviation, show_value

    mark = {True: "✓", False: "✗", None: "not measured"}
    lines = [
        "### Verification against the load test",
        f"The load test of **{text(result.candidate)}** measured by {text(result.tool)} "
        f"({text(result.source)}), judged against its plan {text(result.plan)}: the model "
        f"is **{result.verdict}**. A figure agrees when the measurement lies in the predicted "
        f"95% band widened by the model's tolerance (latency "
        f"{result.tolerances.text('p99_ms')}, throughput "
        f"{result.tolerances.text('throughput_per_s')}, error rate "
        f"{result.tolerances.text('error_rate')}).",
    ]
    chosen = evidence.comparison.recommended
    if chosen is not None and chosen != result.candidate:
        lines.append(
            f"The load test is of **{text(result.candidate)}**, not of the chosen option "
            f"**{text(chosen)}**: it confirms or refutes the model, not this decision."
        )
    # A closed plan's steps are users (their requests/s is a prediction, among the figures).
    closed = result.load_test_plan is not None and result.load_test_plan.closed
    rows = []
    for step in result.steps:
        load = f"{step.step.users:,}" if closed else f"{step.step.rate_per_s:,.4g}"
        for position, check in enumerate(step.checks):
            rows.append(
                [
                    f"{step.step.index} ({text(step.step.phase)})" if position == 0 else "",
                    load if position == 0 else "",
                    LABELS[check.figure],
                    show_value(check.figure, check.measured),
                    show_band(check),
                    (
                        "not judged (too few requests beyond it)"
                        if check.unjudged and check.measured_known
                        else mark[check.agrees]
                    )
                    + ("" if check.agrees is None else f" {show_deviation(check)}"),
                ]
            )
    lines.append(
        table(
            [
                "step",
                "users" if closed else "requests/s",
                "figure",
                "measured",
                "predicted [95% CI]",
                "agrees",
            ],
            rows,
        )
    )
    if result.divergences:
        lines.append(
            "**Divergences**:\n\n" + "\n".join(f"- {text(line)}" for line in result.divergences)
        )
        lines.append(
            "**Likely causes**:\n\n" + "\n".join(f"- {text(line)}" for line in result.causes)
        )
    if result.notes:
        lines.append(
            "**How the figures were measured**:\n\n"
            + "\n".join(f"- {text(line)}" for line in result.notes)
        )
    return lines


def appendix(evidence: Evidence) -> list[Any]:
    """The load-test plan the results were judged against, as an appendix (its cases, their
    predictions and pass criteria, the stress steps; nothing without load-test results), then
    the monitoring design (:func:`monitoring_appendix`)."""
    from scaleplan.loadtest.testplan import cases_of, testplan_markdown

    verification = evidence.verification
    if verification is None or verification.load_test_plan is None:
        return monitoring_appendix(evidence)
    plan = verification.load_test_plan
    return [
        Markdown(
            "## Appendix: the load-test plan\n\n"
            f"The plan `scaleplan loadtest` made ({text(verification.plan)}), against which the "
            "Confirmation section judges the measurement.\n\n"
            + testplan_markdown(plan, cases_of(plan), heading_level=3)
        ),
        *monitoring_appendix(evidence),
    ]


def monitoring_appendix(evidence: Evidence) -> list[Any]:
    """The chosen option's monitoring design (``scaleplan apm``), from the comparison's pull
    and runway without simulating again; nothing when no option is chosen."""
    from scaleplan.apm import design
    from scaleplan.apm.page import monitoring_markdown

    if evidence.comparison.recommended is None:
        return []
    made = design(evidence.scenario, evidence.comparison)
    return [
        Markdown(
            "## Appendix: the monitoring design\n\nWhat `scaleplan apm` writes for the chosen "
            "option: what to measure, the objectives' error budgets and the alerts, each with "
            "the model's figure behind it.\n\n" + monitoring_markdown(made, heading_level=3)
        )
    ]


def verification_chart(evidence: Evidence) -> list[Any]:
    """The verification's predicted-vs-measured latency chart; nothing without results."""
    if evidence.verification is None:
        return []
    from scaleplan.verify.chart import figure_verification

    return [figure_verification(evidence.verification)]


def pros_and_cons(evidence: Evidence) -> Markdown:
    """MADR: Pros and Cons of the Options — every option, good and bad, from its evidence."""
    comparison = evidence.comparison
    parts = ["## Pros and Cons of the Options"]
    for candidate in comparison.candidates:
        head = f"### {text(candidate.name)}"
        if candidate.description:
            head += f"\n\n{text(candidate.description)}"
        good = _good_points(evidence, candidate)
        bad = [
            f"it fails {text(reason.removeprefix('fails '))}" for reason in candidate.gate_reasons
        ]
        bad += _bad_points(evidence, candidate)
        if not candidate.stable_at_peak:
            bad.insert(0, "it cannot carry the peak load: its queues grow without bound")
        if candidate.pareto:
            good.append("it is on the cost–p99 Pareto frontier: nothing is both cheaper and faster")
        cost = candidate.cost.per_month_today if candidate.cost else None
        neutral = [
            f"costs {_money(evidence, cost)} a month at today's load",
            f"weighted score {number(candidate.score, '.2f')}"
            + (" — excluded by the gates" if candidate.gated else ""),
        ]
        lines = [f"- Good, because {point}" for point in good]
        lines += [f"- Neutral: {point}" for point in neutral]
        lines += [f"- Bad, because {point}" for point in bad]
        parts.append(head + "\n\n" + "\n".join(lines))
    return Markdown("\n\n".join(parts))


def more_information(evidence: Evidence) -> Markdown:
    """MADR: More Information — seed, budget, versions, hashes and how to reproduce."""
    settings = evidence.settings
    key = evidence.key
    comparison = evidence.comparison
    budget_rows = [[text(name), text(str(value))] for name, value in settings.as_dict().items()]
    budget_rows.append(["simulated requests", f"{comparison.simulated_requests:,}"])
    if comparison.stopping == "precision":
        # How far each candidate's measurement and pull went under the precision rule, and why.
        for candidate in comparison.candidates:
            measured = candidate.measurement
            if measured:
                budget_rows.append(
                    [
                        f"{text(candidate.name)} at peak",
                        f"{measured['replications']} replications, {measured['requests']:,} "
                        f"requests ({text(measured['stop'])})",
                    ]
                )
            by_users = candidate.users_pull
            if by_users is not None:
                budget_rows.append(
                    [
                        f"{text(candidate.name)}'s pull over users",
                        f"{len(by_users.limits)} searches, "
                        f"{sum(step.requests for step in by_users.steps):,} requests",
                    ]
                )
            pulled = candidate.pull
            if pulled is not None:
                budget_rows.append(
                    [
                        f"{text(candidate.name)}'s pull",
                        f"{pulled.replications} searches, {pulled.search_requests:,} requests "
                        f"({text(pulled.stop)})",
                    ]
                )
    budget_rows.append(["wall time", f"{evidence.wall_s:.1f} s"])
    version_rows = [[text(name), text(version)] for name, version in evidence.versions.items()]
    hash_rows = [["scenario file", f"`{key.scenario_hash}`"]]
    hash_rows += [[text(name), f"`{digest}`"] for name, digest in key.spec_hashes.items()]
    hash_rows.append(["run key", f"`{key.digest}`"])
    # A fenced block shows its text literally (renderers escape it); only a backtick fence or a
    # line break in a file name could end it early.
    name = evidence.path.name.replace("`", "'").replace("\n", " ")
    command = f"scaleplan decide {name} --seed {settings.seed} --budget {settings.requests} -o out/"
    return Markdown(
        "\n\n".join(
            [
                "## More Information",
                "Every number above comes from simulations with the seed and budget below; the "
                "same inputs and versions give the same numbers. Candidates share seeds "
                f"{settings.seed}–{settings.seed + comparison.replications - 1} (common random "
                "numbers), so their differences are paired"
                + (
                    f"; each ran until its verdicts were settled or its 95% CIs within "
                    f"±{100 * comparison.ci_precision:g}% (run.stopping: precision)."
                    if comparison.stopping == "precision"
                    else "."
                ),
                "**Seed and run budget**\n\n" + table(["setting", "value"], budget_rows),
                "**Versions**\n\n" + table(["software", "version"], version_rows),
                "**Input hashes** (SHA-256, first 16 hex digits; a candidate's hash is of its "
                "validated spec, independent of comments and key order)\n\n"
                + table(["input", "hash"], hash_rows),
                "**To reproduce**, with the same scenario file and versions:\n\n"
                f"```\n{command}\n```\n\n"
                f"The results behind this record are in `{JSON_FILE}` beside it.",
            ]
        )
    )


def sections(evidence: Evidence) -> list[Any]:
    """The whole record, in MADR order (what the template shows, cell by cell)."""
    return [
        header(evidence),
        context_and_problem(evidence),
        decision_drivers(evidence),
        *considered_options(evidence),
        *decision_outcome(evidence),
        consequences(evidence),
        confirmation(evidence),
        *verification_chart(evidence),
        pros_and_cons(evidence),
        more_information(evidence),
        *appendix(evidence),
    ]


__all__ = [
    "Evidence",
    "appendix",
    "confirmation",
    "confirmation_plan",
    "consequences",
    "considered_options",
    "context_and_problem",
    "cost_breakdown",
    "decision_drivers",
    "decision_matrix",
    "decision_outcome",
    "gates_table",
    "gather",
    "header",
    "monitoring_appendix",
    "more_information",
    "pros_and_cons",
    "pull_rows",
    "save",
    "sections",
    "tractor_pull",
    "verification_chart",
]
