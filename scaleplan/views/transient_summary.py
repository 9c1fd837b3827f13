"""A transient run's summary as rows of plain text: what `scaleplan transient` prints and the
decision record's load-profile section shows (each escapes the cells for its medium).

Every figure is the mean over the replications with its 95% CI across them.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from scaleplan.formatting import duration, percent, with_ci

if TYPE_CHECKING:
    from scaleplan.experiments.spike_limit import SpikeLimit
    from scaleplan.experiments.transient import Figure, TransientResult

__all__ = ["figure_text", "share_text", "spike_sentence", "summary_rows"]

#: A largest queue (bucket mean) under this is not worth a row: no queue formed.
QUEUE_SHOWN = 0.5


def figure_text(figure: Figure, spec: str = ".4g") -> str:
    """``412 [398, 431]``: the mean and its 95% CI."""
    return with_ci(figure.mean, figure.ci95, spec)


def share_text(figure: Figure) -> str:
    """A share as a percentage with its CI, ``0.12% [0.05%, 0.2%]``."""
    low, high = figure.ci95
    if not math.isfinite(figure.mean):
        return "—"
    if math.isfinite(low) and math.isfinite(high):
        return f"{percent(figure.mean, 3)} [{percent(low, 3)}, {percent(high, 3)}]"
    return percent(figure.mean, 3)


def summary_rows(result: TransientResult) -> list[tuple[str, str, str]]:
    """(figure, value, note) rows: phases, error shares and budget, scaling, queues and their
    drain, replica-hours and the cost of the event."""
    rows: list[tuple[str, str, str]] = []
    phases = ", ".join(f"{p} {a:g}–{b:g} s" for p, a, b in result.phases)
    rows.append(("phases", "", phases))
    rows.append(("error share, whole run", share_text(result.error_rate), result.error_rate.detail))
    rows.append(
        (
            f"error share, peak phase {result.peak_phase}",
            share_text(result.error_rate_peak),
            result.error_rate_peak.detail,
        )
    )
    for key, figure in result.budget_burned.items():
        rows.append(
            (f"error budget burned ({key})", figure_text(figure, ".3g"), "× the SLO's allowance")
        )
    for component, scaling in result.scaling.items():
        rows.append(
            (
                f"{component}: most replicas",
                figure_text(scaling.max_replicas, ".3g"),
                f"first at {figure_text(scaling.first_reached_s, '.0f')} s",
            )
        )
    for component, figure in result.max_queue.items():
        if figure.mean >= QUEUE_SHOWN:
            rows.append(
                (
                    f"{component}: largest queue",
                    figure_text(figure, ".4g"),
                    "bucket-mean requests waiting",
                )
            )
    for component, drain in result.drain.items():
        note = (
            f"back under {drain.threshold:.3g} waiting (pre-peak {drain.pre_peak_level:.3g}); "
            f"drained in {drain.drained} of {drain.replications}"
        )
        if drain.lower_bound:
            note += ": a lower bound"
        rows.append(
            (f"{component}: drain after the peak", f"{figure_text(drain.seconds, '.3g')} s", note)
        )
        if drain.back_under_s is not None:
            rows.append(
                (
                    f"{component}: back under after its largest queue",
                    f"at {figure_text(drain.back_under_s, '.4g')} s",
                    "time into the profile",
                )
            )
    for component, figure in result.replica_hours.items():
        rows.append((f"{component}: replica-hours", figure_text(figure, ".4g"), "over the profile"))
    if result.good_requests is not None:
        rows.append(
            (
                "good requests",
                figure_text(result.good_requests, ",.0f"),
                result.good_requests.detail,
            )
        )
    if result.event_cost is not None:
        cost = result.event_cost
        rows.append(
            (
                "cost of the event",
                f"{figure_text(cost.total, '.4g')} {cost.currency}",
                "node-hours and requests over the profile; no monthly fees",
            )
        )
    if result.cost_per_million_good is not None and result.event_cost is not None:
        rows.append(
            (
                "cost per million good requests",
                f"{figure_text(result.cost_per_million_good, '.4g')} {result.event_cost.currency}",
                "the event's cost ÷ the requests that met their latency SLOs",
            )
        )
    return rows


def spike_sentence(name: str, found: SpikeLimit) -> str:
    """A spike limit in words: how big the phase may grow, held for its duration, its CI, the
    declared factor and whether the interval clears it, and the SLO that breaks first."""
    low, high = found.ci95
    carries = (
        "it carries the declared spike"
        if found.holds_declared
        else "it does not carry the declared spike with 95% confidence"
    )
    sentence = (
        f"{name}: the largest {found.phase} it carries for {duration(found.duration_s)} is "
        f"{found.limit:.3g}× the base rate (95% CI {low:.3g}–{high:.3g} across "
        f"{len(found.limits)} searches; {found.limit_per_s:,.4g} requests/s); declared "
        f"{found.declared_factor:.3g}×: {carries}"
    )
    if found.binding:
        sentence += f"; it breaks first on {found.binding}"
    return sentence
