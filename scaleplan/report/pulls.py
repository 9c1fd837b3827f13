"""One candidate's tractor pull for the notebooks, whatever its workload.

An open workload is pulled over its rate (:func:`scaleplan.experiments.pull`: the limit table,
the latency curve against load and the utilisation per component) and ramped in one run
(:func:`scaleplan.experiments.ramp`); a closed one is pulled over its users
(:func:`scaleplan.experiments.pull_users.pull_users`, each objective also searched alone).
With a load profile, :func:`spike_detail` also asks how big its peak phase may grow, held for
its duration, before an SLO breaks (:func:`scaleplan.experiments.spike_limit.spike_limit`).
The notebooks call these so that they hold no branch of their own.
"""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING, Any

from scaleplan.report.markup import Markdown, table, text
from scaleplan.spec import ScenarioSpec

if TYPE_CHECKING:
    from scaleplan.experiments.pull_users import UsersPullResult

__all__ = ["pull_detail", "ramp_detail", "spike_detail", "users_pull_rows"]


def users_pull_rows(result: UsersPullResult) -> Markdown:
    """A closed pull's limit, and where each objective breaks when it was searched alone."""
    low, high = result.limit_ci95
    interval = f" (95% CI {low:,.0f}–{high:,.0f})" if math.isfinite(low) else ""
    rows = [
        [
            "every objective",
            f"{result.limit_users:,.0f} users{interval}",
            f"{result.throughput_per_s:,.1f}/s",
            "",
        ]
    ]
    for objective in result.objectives:
        o_low, o_high = objective.limit_ci95
        shown = f" (95% CI {o_low:,.0f}–{o_high:,.0f})" if math.isfinite(o_low) else ""
        rows.append(
            [
                text(objective.slo),
                f"{objective.limit_users:,.0f} users{shown}",
                f"{objective.throughput_per_s:,.1f}/s",
                text(objective.note),
            ]
        )
    head = (
        f"**{text(result.spec)}** serves up to {result.limit_users:,.0f} users within its "
        f"SLOs; busiest there: {text(result.bottleneck) or '—'}.\n\n"
    )
    return Markdown(head + table(["objective", "most users", "requests/s there", ""], rows))


def pull_detail(
    scenario: ScenarioSpec, candidate: str, *, budget: int, replications: int = 3
) -> list[Any]:
    """The candidate pulled under the scenario's SLOs with ``budget`` requests a step."""
    from scaleplan.views import figure_pull, figure_pull_users, figure_pull_utilization

    spec = scenario.architectures()[candidate]
    seed = scenario.run.seed
    if spec.workload.closed:
        from scaleplan.experiments.pull_users import pull_users

        found = pull_users(
            spec,
            scenario.nfrs,
            seed=seed,
            requests=budget,
            replications=replications,
            per_slo=True,
        )
        title = f"{html.escape(candidate)}: tractor pull over users"
        return [users_pull_rows(found), figure_pull_users(found, title=title)]
    from scaleplan.experiments import pull
    from scaleplan.report.record import pull_rows

    limit = pull(spec, scenario.nfrs, seed=seed, requests=budget, replications=replications)
    return [pull_rows([limit]), figure_pull(limit), figure_pull_utilization(limit)]


def ramp_detail(
    scenario: ScenarioSpec, candidate: str, *, requests: int, steps: int = 8
) -> list[Any]:
    """The candidate under a stepped ramp in one run, as a load test sees it (open workloads;
    a closed one's load test steps its users, as the pull above did)."""
    spec = scenario.architectures()[candidate]
    if spec.workload.closed:
        return [
            Markdown(
                f"_{text(candidate)}'s load is its users (a closed workload): a load test steps "
                "them up as the pull above did, one simulation per step; `scaleplan loadtest` "
                "writes those steps as a Locust or k6 script._"
            )
        ]
    from scaleplan.experiments import ramp
    from scaleplan.views import figure_ramp

    stepped = ramp(spec, slos=scenario.nfrs, seed=scenario.run.seed, steps=steps, requests=requests)
    return [figure_ramp(stepped)]


def spike_detail(scenario: ScenarioSpec, candidate: str, *, searches: int = 3) -> list[Any]:
    """How big the scenario's peak phase may grow for ``candidate`` before an SLO breaks: the
    limit with its CI and each search's steps; a note when the scenario has no load profile."""
    from scaleplan.report.spikes import scenario_spike_limit, spike_markdown

    found = scenario_spike_limit(scenario, candidate, searches=searches)
    if found is None:
        return [
            Markdown(
                "_The scenario declares no load profile (`workload.profile`), so there is no "
                "spike to grow: the pull above is the whole answer._"
            )
        ]
    return [Markdown(spike_markdown(candidate, found))]
