"""Each request class's mean latency in the estimate when the classes have different priorities.

The estimate's stations are solved for the whole traffic, first come first served
(:mod:`scaleplan.analytic.network`); under priorities a station's mean wait over all classes
is unchanged when every class has the same service time (Kleinrock's conservation law, 1976
Vol. 2 §3.4), but each class's wait moves. This module gives every class its own wait at each
slot station the classes it meets there differ in priority, from the station's FIFO wait W and
utilisation ρ, with σ_k the load of the levels served before and with class k
(:mod:`scaleplan.analytic.priorities`; classes share a station's service time, so σ_k is ρ
times their share of its arrivals):

- non-preemptive: W_k = W (1 − ρ) / ((1 − σ_{k−1})(1 − σ_k)) — Cobham's M/G/1 form (W = W0/(1 − ρ))
  and the equal-rate M/M/c form (W = C/(cμ(1 − ρ))) exactly; the station's M/G/c and GI/G/c
  waits scaled the same way otherwise (an approximation);
- preemptive-resume, one server per queue: T_k = E[S]/(1 − σ_{k−1}) + (share of levels ≤ k)
  W (1 − ρ)/((1 − σ_{k−1})(1 − σ_k)) — exact for M/G/1 (W(1 − ρ) = λE[S²]/2);
- preemptive-resume, c servers: the levels up to k see the station as if the others were not
  there, so λ_{≤k} T_{≤k} − λ_{<k} T_{<k} = λ_k T_k with T_{≤k} the station's FIFO response at
  the rate λ_{≤k} — exact for M/M/c with one service rate, the station's M/G/c otherwise.

A class's span at a component then adds the changes of its callees' spans, times the calls made
per visit (sequential calls and forwards exactly; a parallel join's maximum is shifted by the
expected change, an approximation). Per-class arrival rates at each station come from the
traffic solver run once per entry (:func:`scaleplan.graph.solve_visits`), or, when some calls
are made for some classes only, from each class's own traffic (``flows.classes``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scaleplan.analytic.priorities import nonpreemptive_factor
from scaleplan.analytic.queues import UnstableError
from scaleplan.graph import solve_visits
from scaleplan.load import MAX_PASSES
from scaleplan.load import close as _close

# The estimate's context and station (scaleplan.analytic.network), which calls this module:
# named loosely here so that the two do not import each other.
_Context = Any
_Station = Any

__all__ = ["ClassWaits", "class_waits"]


@dataclass
class ClassWaits:
    """Each class's change of span at its entry (s), and what the estimate approximated."""

    entry_delta_s: dict[str, float]
    warnings: list[str] = field(default_factory=list)
    # Stations whose classes wait by priority: their FIFO percentiles no longer hold.
    prioritised: set[str] = field(default_factory=set)


def _visits_by_entry(ctx: _Context, entries: set[str]) -> dict[str, dict[str, float]]:
    names = list(ctx.graph)
    index = {name: position for position, name in enumerate(names)}
    transfer = np.zeros((len(names), len(names)))
    for source in names:
        for call in ctx.flows.calls[source]:
            transfer[index[source], index[call.target]] += call.made * call.attempts
    solved: dict[str, dict[str, float]] = {}
    for entry in entries:
        arrivals = np.zeros(len(names))
        arrivals[index[entry]] = 1.0
        solved[entry] = solve_visits(names, transfer, arrivals) or ctx.flows.visits
    return solved


def _level_waits(
    station: _Station, rates: Sequence[float], priorities: Sequence[int], preemptive: bool
) -> list[float]:
    """Each class's mean wait (s) at ``station``: its FIFO wait moved by priority."""
    total = math.fsum(rates)
    rho, wait = station.utilization, station.wait_s
    assert station.queue is not None
    queue_rate, ca2, mean_s, scv, servers = station.queue
    share_before = [
        math.fsum(r for r, p in zip(rates, priorities, strict=True) if p < q) / total
        for q in priorities
    ]
    share_with = [
        math.fsum(r for r, p in zip(rates, priorities, strict=True) if p <= q) / total
        for q in priorities
    ]
    if not preemptive:
        return [
            wait * nonpreemptive_factor(rho * before, rho * with_, rho)
            for before, with_ in zip(share_before, share_with, strict=True)
        ]
    if servers == 1:
        return [
            mean_s * rho * before / (1 - rho * before)
            + with_ * wait * (1 - rho) / ((1 - rho * before) * (1 - rho * with_))
            for before, with_ in zip(share_before, share_with, strict=True)
        ]
    from scaleplan.analytic.disciplines import queue_metrics

    def response(share: float) -> float:
        """λ_{≤}·T_{≤} per unit of the station's rate: the levels up to a share alone."""
        if share <= 0:
            return 0.0
        return share * (
            queue_metrics(queue_rate * share, ca2, mean_s, scv, servers).mean_wait + mean_s
        )

    waits = []
    for before, with_ in zip(share_before, share_with, strict=True):
        level = with_ - before
        waits.append((response(with_) - response(before)) / level - mean_s)
    return waits


def class_waits(
    ctx: _Context, order: Sequence[str], stations: Mapping[str, _Station]
) -> ClassWaits | None:
    """Each class's change of mean span at its entry under priorities, or ``None`` when the
    classes all have the same priority (the FIFO estimate stands)."""
    spec = ctx.spec
    priorities = spec.class_priorities()
    if priorities is None:
        return None
    entries = spec.entries()
    routed = ctx.flows.classes  # each class's own traffic when calls differ by class
    if routed is not None:
        visits = {cls: routed[cls].visits for cls, _, _ in entries}
    else:
        by_entry = _visits_by_entry(ctx, {entry for _, entry, _ in entries})
        visits = {cls: by_entry[entry] for cls, entry, _ in entries}
    result = ClassWaits({})
    own: dict[str, list[float]] = {}
    approximated: list[str] = []
    left_fifo: list[str] = []
    for name, station in stations.items():
        rates = [ctx.rate * share * visits[cls].get(name, 0.0) for cls, _, share in entries]
        present = {p for p, r in zip(priorities, rates, strict=True) if r > 0}
        if len(present) < 2 or not math.fsum(rates) > 0:
            continue
        if station.queue is None:
            if getattr(ctx.component(name), "capacity", 0) > 0:  # a balancer forwards at once
                left_fifo.append(name)
            continue
        if not (station.utilization < 1 and math.isfinite(station.wait_s)):
            continue
        component = ctx.component(name)
        if getattr(component, "discipline", "fifo") == "ps":
            # The admitted share the processors whatever their class: without an admission
            # limit nothing waits, so priorities change nothing; with one, only the line
            # behind the admitted is ordered, which has no closed form here.
            if getattr(component, "admission_limit", None) is not None:
                left_fifo.append(name)
            continue
        holds = bool(getattr(component, "hold_during_calls", False)) and any(
            call.made > 0 and not call.asynchronous for call in ctx.flows.calls[name]
        )
        preemptive = bool(getattr(component, "preemptive", False))
        if preemptive and holds:
            approximated.append(
                f"{name}: preemptive but holds its slot during its calls (only its own work is "
                "preempted): class waits by the non-preemptive form (approximation)"
            )
            preemptive = False
        try:
            waits = _level_waits(station, rates, priorities, preemptive)
        except UnstableError:
            continue
        own[name] = [w - station.wait_s for w in waits]
        result.prioritised.add(name)
        station.details["wait_ms_by_class"] = {
            cls: 1e3 * w for (cls, _, _), w, r in zip(entries, waits, rates, strict=True) if r > 0
        }
        _, ca2, _, scv, servers = station.queue
        exact = station.exact and (servers == 1 or (scv == 1.0 and ca2 == 1.0))
        if not exact:
            approximated.append(
                f"{name}: each class's wait scales the station's {station.method} FIFO wait "
                f"by Cobham's {'preemptive-resume' if preemptive else 'non-preemptive'} form "
                "(exact for M/G/1 and M/M/c; approximation here)"
            )
    # A class's span change at a component: its own wait's change plus its callees'.
    for index, (cls, entry, _) in enumerate(entries):
        delta = {name: 0.0 for name in ctx.graph}
        made = routed[cls].calls if routed is not None else ctx.flows.calls
        for _ in range(MAX_PASSES):
            previous = dict(delta)
            for name in order:
                delta[name] = (own[name][index] if name in own else 0.0) + math.fsum(
                    call.made * call.attempts * delta[call.target]
                    for call in made[name]
                    if not call.asynchronous
                )
            if all(_close(delta[name], previous[name]) for name in ctx.graph):
                break
        result.entry_delta_s[cls] = delta[entry]
    result.warnings.append(
        "priorities: each class's latency adds its own waits by priority at every station "
        f"({', '.join(sorted(result.prioritised)) or 'none'}) to the FIFO spans; component rows "
        "keep the FIFO figures over all classes"
    )
    result.warnings.extend(approximated)
    if left_fifo:
        result.warnings.append(
            f"priorities are not modelled in closed form at {', '.join(sorted(left_fifo))}: "
            "every class gets the FIFO wait there (approximation)"
        )
    parallel = [
        name
        for name in ctx.graph
        if getattr(ctx.component(name), "parallel", False) and ctx.flows.calls[name]
    ]
    if parallel:
        result.warnings.append(
            f"priorities: a parallel join ({', '.join(parallel)}) is shifted by its branches' "
            "expected change of span (approximation)"
        )
    return result
