"""How big a load profile's peak phase may grow for an option before an SLO breaks, for the
decision record and the notebooks: the search on a scenario's own terms, and its words.

Its own module so that :mod:`scaleplan.report.record` and :mod:`scaleplan.report.pulls` (which
imports the record's pull table) can both use it without importing each other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scaleplan.report.markup import table, text
from scaleplan.spec import ScenarioSpec

if TYPE_CHECKING:
    from scaleplan.experiments.spike_limit import SpikeLimit

__all__ = ["scenario_spike_limit", "spike_markdown"]


def scenario_spike_limit(
    scenario: ScenarioSpec, candidate: str, *, searches: int = 3, workers: int | None = None
) -> SpikeLimit | None:
    """``candidate``'s spike limit through the scenario's load profile (its peak phase, its
    SLOs, its seed and replications); None when the scenario has no profile."""
    from scaleplan.experiments.spike_limit import spike_limit
    from scaleplan.experiments.transient import with_profile

    profile = scenario.workload.profile
    if profile is None or scenario.workload.closed:
        return None
    spec = with_profile(scenario.architectures()[candidate], profile, scenario.today_rate_per_s)
    return spike_limit(
        spec,
        scenario.nfrs.slos,
        searches=searches,
        replications=scenario.run.replications,
        seed=scenario.run.seed,
        backlog=scenario.nfrs.backlog,
        workers=workers,
    )


def spike_markdown(candidate: str, found: SpikeLimit) -> str:
    """A spike limit in words, with each search's steps as a table."""
    from scaleplan.views.transient_summary import spike_sentence

    rows = [
        [
            str(step.search + 1),
            f"{step.factor:.3g}×",
            "yes" if step.held else "no",
            text(step.broken),
        ]
        for step in found.steps
    ]
    head = (
        f"{text(spike_sentence(candidate, found))}.\n\nEach step runs the whole profile from "
        f"empty ({found.replications} replications) with phase {text(found.phase)} at that "
        "factor, judged on its point estimates as the sustained pull's steps are; the interval "
        "is across independent searches.\n\n"
    )
    return head + table(["search", "factor", "held", "broke"], rows)
