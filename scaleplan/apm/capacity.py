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
#: A closed system's bottleneck this busy at the limit is saturated (no utilisation alert).
SATURATED = 0.99
#: A closed runway's rate this close to the limit's cannot tell the users' growth.
FLAT_SHARE = 0.95
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
    by_users = candidate.users_pull
    if pulled is None and by_users is None:
        notes.append(
            "no tractor pull for this candidate (no pull budget): no capacity alerts from the model"
        )
        return (), tuple(notes)
    found: list[CapacityThreshold] = []
    if pulled is not None:
        limit, bottleneck = pulled.limit_per_s, pulled.bottleneck
        busy, knee = pulled.bottleneck_utilization, pulled.knee_per_s
        low, high = pulled.limit_ci95
        limit_text = f"{limit:.4g} requests/s (95% CI {low:.4g}–{high:.4g})"
        failure = pulled.failure_detail or "none"
    else:
        # A closed workload's limit is users; what Prometheus sees there is the requests/s
        # they send (the pull measured it) and the bottleneck's utilisation.
        assert by_users is not None
        limit, bottleneck = by_users.throughput_per_s, by_users.bottleneck
        busy, knee = by_users.bottleneck_utilization, math.nan
        low, high = by_users.limit_ci95
        limit_text = (
            f"{by_users.limit_users:.0f} users (95% CI {low:.0f}–{high:.0f}), who send "
            f"{limit:.4g} requests/s there"
        )
        failure = "no users met the SLOs" if by_users.limit_users < 1 else "none"
    usable = bottleneck and math.isfinite(limit) and limit > 0
    if usable and by_users is not None and pulled is None and busy >= SATURATED:
        # Users queue at a closed system's bottleneck: it is saturated at the limit, so a
        # utilisation threshold there could never be passed.
        notes.append(
            f"{bottleneck} is {100 * busy:.0f}% busy at the limit, as a closed system's "
            "bottleneck is: no utilisation alert (its queue depth is watched instead)"
        )
    elif usable and math.isfinite(busy) and busy > 0:
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
                    f"the tractor pull's limit of {limit_text}: {bottleneck} "
                    f"{100 * busy:.0f}% busy there"
                ),
            )
        )
    elif not usable:
        notes.append(f"the tractor pull found no limit ({failure})")
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
    if usable and by_users is not None and pulled is None:
        ticket, note = _closed_runway(scenario, spec, by_users.limit_users, limit, candidate)
        found.extend([ticket] if ticket is not None else [])
        notes.extend([note] if note else [])
    elif usable:
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


def _closed_runway(
    scenario: ScenarioSpec,
    spec: ArchitectureSpec,
    limit_users: float,
    limit_per_s: float,
    candidate: CandidateResult,
) -> tuple[CapacityThreshold | None, str]:
    """A closed workload's runway ticket: the users grow by ``g`` a month; one month of growth
    before the limit is ``limit / (1 + g)`` users, whose requests/s (by Mean Value Analysis)
    is what the alert watches — unless that rate is already within :data:`FLAT_SHARE` of the
    rate at the limit (the users' rate flattens at the bottleneck's capacity and cannot tell
    their growth: a note says so instead)."""
    from scaleplan.analytic import estimate

    growth = scenario.growth_per_month
    if growth > 0:
        users = limit_users / (1.0 + growth)
        runway = candidate.runway
        months = runway.months if runway is not None else math.nan
        breach = runway.breach_month if runway is not None else None
        when = (
            f"the runway is {months:.1f} months from the peak of {scenario.workload.peak_users} "
            f"users at {100 * growth:g}% more a month: the limit of {limit_users:.0f} users is "
            f"passed in month {breach}; one month before it there are {users:.0f} users"
        )
    else:
        headroom = scenario.nfrs.headroom
        share = 1.0 - headroom.min_percent / 100.0 if headroom else NO_GROWTH_SHARE
        users = share * limit_users
        when = (
            f"no growth is planned: {100 * share:.0f}% of the limit of {limit_users:.0f} users"
            + (" (the headroom NFR)" if headroom else "")
            + f", {users:.0f} users"
        )
    at = spec.with_changes({"workload.users": max(1, round(users))})
    rate = float(estimate(at).throughput_per_s)
    if rate >= FLAT_SHARE * limit_per_s:
        return None, (
            f"no runway alert on the request rate: {when}, who send {rate:.4g} requests/s "
            f"(Mean Value Analysis), against {limit_per_s:.4g} at the limit: the users' rate "
            "flattens at the bottleneck's capacity, so it cannot show their growth (count the "
            "active users or sessions instead)"
        )
    ticket = CapacityThreshold(
        name="CapacityRunwayEnding",
        signal="load",
        component="",
        threshold=rate,
        severity="ticket",
        for_s=0.0,
        figure=f"{when}, who send {rate:.4g} requests/s (Mean Value Analysis)",
    )
    return ticket, ""
