"""Capacity thresholds from the model: the knee, the limit, Little's law and the runway."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from _apm import shop

from scaleplan.apm.capacity import QUEUE_FULL_SHARE, capacity_thresholds
from scaleplan.apm.objectives import objectives


def _setup():  # type: ignore[no-untyped-def]
    scenario, comparison = shop()
    candidate = comparison.candidate("lb-cluster")
    assert candidate.pull is not None and candidate.pull.bottleneck == "api"
    return scenario, scenario.architectures()["lb-cluster"], candidate


def _by_name(found):  # type: ignore[no-untyped-def]
    return {t.name: t for t in found}


def test_utilisation_at_the_knee_and_at_the_limit() -> None:
    scenario, spec, candidate = _setup()
    pulled = candidate.pull
    knee = 0.6 * pulled.limit_per_s
    kneed = replace(candidate, pull=replace(pulled, knee_per_s=knee))
    found, notes = capacity_thresholds(scenario, spec, kneed, objectives(scenario.nfrs))
    got = _by_name(found)
    assert notes == ()
    # Throughput is proportional to the load while stable: the knee's utilisation scales.
    assert got["BottleneckPastKnee"].threshold == pytest.approx(0.6 * pulled.bottleneck_utilization)
    assert got["BottleneckPastKnee"].severity == "ticket"
    assert got["BottleneckAtLimit"].threshold == pulled.bottleneck_utilization
    assert got["BottleneckAtLimit"].severity == "page"
    # Without a knee (the comparison's pulls draw no curve) only the limit is watched.
    plain, _ = capacity_thresholds(scenario, spec, candidate, objectives(scenario.nfrs))
    assert "BottleneckPastKnee" not in _by_name(plain)


def test_queue_depth_by_littles_law() -> None:
    scenario, spec, candidate = _setup()
    p50_s = candidate.metrics["p50_ms"] / 1000
    # api: 3 replicas × 8 slots, each held for its 12 ms and 60% of db's 4 ms.
    drain = 24 / (0.012 + 0.6 * 0.004)
    unbounded = spec.with_changes({"components.api.queue_limit": None})
    found, _ = capacity_thresholds(scenario, unbounded, candidate, objectives(scenario.nfrs))
    depth = _by_name(found)["BottleneckQueueBreachesSLO"]
    assert depth.threshold == pytest.approx((0.4 - p50_s) * drain, rel=1e-9)
    assert "Little's law" in depth.figure
    # With a queue limit of 200 per replica the queue rejects before the wait breaks the bound.
    assert (0.4 - p50_s) * drain > 600
    found, _ = capacity_thresholds(scenario, spec, candidate, objectives(scenario.nfrs))
    bounded = _by_name(found)["BottleneckQueueBreachesSLO"]
    assert bounded.threshold == pytest.approx(QUEUE_FULL_SHARE * 600)
    assert "rejects first" in bounded.figure


def test_the_runway_ticket_one_month_of_growth_before_the_limit() -> None:
    scenario, spec, candidate = _setup()
    pulled, runway = candidate.pull, candidate.runway
    assert runway is not None and runway.breach_month is not None
    found, _ = capacity_thresholds(scenario, spec, candidate, objectives(scenario.nfrs))
    ticket = _by_name(found)["CapacityRunwayEnding"]
    assert ticket.threshold == pytest.approx(pulled.limit_per_s / 1.08)
    assert ticket.severity == "ticket" and f"month {runway.breach_month}" in ticket.figure
    # The peak grows past the threshold one month before the limit: between them lies a month.
    months_to_threshold = math.log(ticket.threshold / scenario.peak_rate_per_s) / math.log(1.08)
    assert months_to_threshold == pytest.approx(runway.months - 1)
    # No growth planned: the headroom NFR's share of the limit (30% headroom → 70%).
    flat = scenario.model_copy(
        update={"workload": scenario.workload.model_copy(update={"growth_percent_per_month": 0})}
    )
    found, _ = capacity_thresholds(flat, spec, candidate, objectives(scenario.nfrs))
    assert _by_name(found)["CapacityRunwayEnding"].threshold == pytest.approx(
        0.7 * pulled.limit_per_s
    )


def test_no_pull_no_capacity_alerts() -> None:
    scenario, spec, candidate = _setup()
    found, notes = capacity_thresholds(
        scenario, spec, replace(candidate, pull=None), objectives(scenario.nfrs)
    )
    assert found == () and "no capacity alerts" in notes[0]


def test_a_closed_workload_is_watched_by_its_bottlenecks_queue() -> None:
    """Users queue at a closed system's bottleneck: saturated at the limit (no utilisation
    threshold could be passed there) and with a request rate that flattens at its capacity (it
    cannot show the users' growth); Little's law on its queue still predicts the breach."""
    from _apm import agents

    from scaleplan.apm.capacity import FLAT_SHARE, _closed_runway

    scenario, comparison = agents()
    candidate = comparison.candidate("wider")
    spec = scenario.architectures()["wider"]
    found_users = candidate.users_pull
    assert candidate.pull is None and found_users is not None
    found, notes = capacity_thresholds(scenario, spec, candidate, objectives(scenario.nfrs))
    got = _by_name(found)
    depth = got["BottleneckQueueBreachesSLO"]
    assert depth.component == "db"
    # db: 2 slots of 40 ms drain 50 requests/s; p95 <= 1500 ms less the p50 at peak.
    p50_s = candidate.metrics["p50_ms"] / 1000
    assert depth.threshold == pytest.approx((1.5 - p50_s) * 50, rel=1e-9)
    if found_users.bottleneck_utilization >= 0.99:
        assert "BottleneckAtLimit" not in got
        assert any("closed system's bottleneck" in note for note in notes)
    # One month of growth before the limit, the users' MVA rate is all but the limit's: no
    # ticket on the rate, and a note saying why; with a limit rate far above it, a ticket.
    ticket, note = _closed_runway(
        scenario, spec, found_users.limit_users, found_users.throughput_per_s, candidate
    )
    assert ticket is None and "flattens" in note
    ticket, note = _closed_runway(
        scenario, spec, found_users.limit_users, 10 * found_users.throughput_per_s, candidate
    )
    assert ticket is not None and note == ""
    assert ticket.threshold < FLAT_SHARE * 10 * found_users.throughput_per_s
    assert "users" in ticket.figure and "Mean Value Analysis" in ticket.figure
