"""Capacity thresholds from the model: where the tractor pull and the runway put the limits.

Three figures of the chosen candidate's comparison become alert thresholds, each with the
model's number behind it (no simulation here: the pull and runway are the comparison's):

- **the bottleneck's utilisation** at the knee of the latency curve (a ticket: latency starts
  to climb faster than the load) and at the sustainable limit (a page: the SLOs break there).
  The pull reports the bottleneck's utilisation at the limit ``U*``; its throughput is
  proportional to the load while it is stable, so at the knee it is ``U* × knee / limit``;
- **the bottleneck's queue depth that predicts an SLO breach**, by Little's law: ``L`` requests
  waiting for ``c`` slots each held ``H`` seconds (the drain rate ``c/H``) make an arriving
  request wait ``L·H/c``; the tightest latency bound ``T`` less the model's p50 at peak (the
  time a request spends outside that queue) leaves a slack ``W``, so ``L* = W·c/H``: with more
  waiting than that on average, a typical request already misses the bound;
- **the growth runway**: with the load growing by ``g`` a month the limit is reached in month
  ``breach_month``; the ticket fires when the day's peak load reaches ``limit / (1 + g)``, one
  month of growth before the limit (with no growth, the headroom NFR's share of the limit, or
  80% of it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from scaleplan.apm.objectives import Objective
from scaleplan.experiments import CandidateResult
from scaleplan.spec import ArchitectureSpec, ScenarioSpec

__all__ = ["CapacityThreshold", "capacity_thresholds"]

#: Share of the limit the runway ticket fires at when the load does not grow (no headroom NFR).
NO_GROWTH_SHARE = 0.8
#: Share of a bounded queue the depth alert fires at when the limit rejects before the SLO breaks.
QUEUE_FULL_SHARE = 0.9


def _queue_room(spec: ArchitectureSpec, component: str) -> int | None:
    """The most requests the component's queues hold (None: unbounded)."""
    part = spec.components[component]
    limit = getattr(part, "queue_limit", None)
    if limit is None:
        return None
    scale = getattr(part, "autoscale", None)
    replicas = scale.max_replicas if scale is not None else getattr(part, "replicas", 1)
    return int(limit) * int(replicas)


@dataclass(frozen=True)
class CapacityThreshold:
    """One capacity alert's threshold: what it watches, the value, and the model's figure."""

    name: str
    signal: Literal["utilisation", "queue depth", "load"]
    component: str
    threshold: float
    severity: Literal["page", "ticket"]
    for_s: float
    figure: str


def _drain_rate_per_s(spec: ArchitectureSpec, component: str, rate_per_s: float) -> float:
    """Requests per second the component's slots finish when all are busy (``Σ c/H``)."""
    from scaleplan.load import station_loads

    total = 0.0
    for station in station_loads(spec, None, rate_per_s):
        if station.component == component and station.holding_s > 0:
            total += station.servers / station.holding_s
    return total


def capacity_thresholds(
    scenario: ScenarioSpec,
    spec: ArchitectureSpec,
    candidate: CandidateResult,
    objectives: tuple[Objective, ...],
) -> tuple[tuple[CapacityThreshold, ...], tuple[str, ...]]:
    """The capacity thresholds of ``candidate`` and notes on what could not be derived."""
    notes: list[str] = []
    pulled = candidate.pull
    if pulled is None:
        notes.append(
            "no tractor pull over requests/s for this candidate (a closed workload or no pull "
            "budget): no capacity alerts from the model"
        )
        return (), tuple(notes)
    found: list[CapacityThreshold] = []
    limit, bottleneck = pulled.limit_per_s, pulled.bottleneck
    busy = pulled.bottleneck_utilization
    usable = bottleneck and math.isfinite(limit) and limit > 0
    if usable and math.isfinite(busy) and busy > 0:
        knee = pulled.knee_per_s
        if math.isfinite(knee) and 0 < knee < limit:
            at_knee = busy * knee / limit
            found.append(
                CapacityThreshold(
                    name="BottleneckPastKnee",
                    signal="utilisation",
                    component=bottleneck,
                    threshold=at_knee,
                    severity="ticket",
                    for_s=900.0,
                    figure=(
                        f"the tractor pull's knee at {knee:.4g} requests/s: {bottleneck} "
                        f"{100 * at_knee:.0f}% busy ({100 * busy:.0f}% at the limit of "
                        f"{limit:.4g}/s, scaled by knee/limit)"
                    ),
                )
            )
        found.append(
            CapacityThreshold(
                name="BottleneckAtLimit",
                signal="utilisation",
                component=bottleneck,
                threshold=busy,
                severity="page",
                for_s=300.0,
                figure=(
                    f"the tractor pull's limit of {limit:.4g} requests/s "
                    f"(95% CI {pulled.limit_ci95[0]:.4g}–{pulled.limit_ci95[1]:.4g}): "
                    f"{bottleneck} {100 * busy:.0f}% busy there"
                ),
            )
        )
    elif not usable:
        notes.append(f"the tractor pull found no limit ({pulled.failure_detail or 'none'})")
    latency = [o for o in objectives if o.kind in ("latency", "mean")]
    p50_s = candidate.metrics.get("p50_ms", math.nan) / 1000.0
    if usable and latency:
        tightest = min(latency, key=lambda o: o.threshold_s)
        slack_s = tightest.threshold_s - (p50_s if math.isfinite(p50_s) else 0.0)
        drain = _drain_rate_per_s(spec, bottleneck, limit)
        if slack_s > 0 and drain > 0:
            depth = slack_s * drain
            figure = (
                f"Little's law: {bottleneck} drains {drain:.4g} requests/s when busy; "
                f"{tightest.text} less the predicted p50 at peak "
                f"({1000 * p50_s:.4g} ms) leaves {1000 * slack_s:.4g} ms of waiting, "
                f"that is {depth:.4g} requests queued"
            )
            room = _queue_room(spec, bottleneck)
            if room is not None and depth >= room:
                # The queue limit rejects before the wait breaks the bound: watch the queue
                # filling instead (rejections, counted as errors, follow).
                depth = QUEUE_FULL_SHARE * room
                figure += (
                    f"; but its queue holds at most {room} (queue_limit × replicas), so it "
                    f"rejects first: the alert fires at {100 * QUEUE_FULL_SHARE:.0f}% full"
                )
            found.append(
                CapacityThreshold(
                    name="BottleneckQueueBreachesSLO",
                    signal="queue depth",
                    component=bottleneck,
                    threshold=depth,
                    severity="page",
                    for_s=300.0,
                    figure=figure,
                )
            )
        else:
            notes.append(
                f"no queue-depth alert: the predicted p50 at peak already uses {tightest.text}"
            )
    runway = candidate.runway
    if usable:
        growth = scenario.growth_per_month
        if growth > 0:
            load = limit / (1.0 + growth)
            breach = runway.breach_month if runway is not None else None
            months = runway.months if runway is not None else math.nan
            when = (
                f"the runway is {months:.1f} months from today's peak of "
                f"{scenario.peak_rate_per_s:.4g}/s at {100 * growth:g}% a month: the limit of "
                f"{limit:.4g}/s is passed in month {breach}"
            )
            figure = f"{when}; one month of growth before it the peak is {load:.4g}/s"
        else:
            headroom = scenario.nfrs.headroom
            share = 1.0 - headroom.min_percent / 100.0 if headroom else NO_GROWTH_SHARE
            load = share * limit
            figure = f"no growth is planned: {100 * share:.0f}% of the limit of {limit:.4g}/s" + (
                " (the headroom NFR)" if headroom else ""
            )
        found.append(
            CapacityThreshold(
                name="CapacityRunwayEnding",
                signal="load",
                component="",
                threshold=load,
                severity="ticket",
                for_s=0.0,
                figure=figure,
            )
        )
    return tuple(found), tuple(notes)
