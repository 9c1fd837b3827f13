"""The largest spike a candidate carries (experiments/spike_limit.py).

The reference: a loss system (M/M/5/5, no queue) at 10 requests/s of 100 ms requests, whose
profile is 20 s at the base rate, a 60 s step to f × the base, 20 s at the base. Each phase is
long against the system's relaxation (a few service times), so the expected error share over the
profile is Erlang's loss formula weighted by each phase's arrivals; the largest f with at most
3% errors solves (400·B(5, 1) + 600·f·B(5, f)) / (400 + 600·f) = 0.03.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scipy.optimize import brentq
from typer.testing import CliRunner

from scaleplan.cli import app
from scaleplan.experiments.spike_limit import (
    SpikeLimitError,
    spike_limit,
    with_phase_factor,
)
from scaleplan.spec import NFRSpec, parse_spec

LOSS = {
    "name": "loss",
    "workload": {
        "arrival": "profile",
        "rate_per_s": 10,
        "profile": {
            "phases": [
                {"name": "before", "duration_s": 20, "steady": {"factor": 1}},
                {"name": "spike", "duration_s": 60, "steady": {"factor": 3}},
                {"name": "after", "duration_s": 20, "steady": {"factor": 1}},
            ]
        },
    },
    "entry": "api",
    "components": {
        "api": {
            "kind": "service",
            "concurrency": 5,
            "queue_limit": 0,
            "service_time": {"dist": "exponential", "mean_ms": 100},
        }
    },
}
ERRORS = NFRSpec.from_slos(("errors<=3%",)).slos


def erlang_b(servers: int, erlangs: float) -> float:
    blocked = 1.0
    for k in range(1, servers + 1):
        blocked = erlangs * blocked / (k + erlangs * blocked)
    return blocked


def exact_limit(spike_s: float = 60.0) -> float:
    """The factor whose error share over the profile is 3%, the spike lasting ``spike_s``."""

    def share(factor: float) -> float:
        spike = 10 * spike_s * factor
        return (400 * erlang_b(5, 1.0) + spike * erlang_b(5, factor)) / (400 + spike)

    return float(brentq(lambda f: share(f) - 0.03, 1.0, 10.0))


def test_the_interval_covers_the_spike_erlangs_formula_allows() -> None:
    exact = exact_limit()
    assert exact == pytest.approx(2.037, abs=1e-3)
    found = spike_limit(parse_spec(LOSS), ERRORS, searches=4, replications=2, seed=101)
    assert found.ci95[0] <= exact <= found.ci95[1], (found.limits, found.ci95)
    assert found.phase == "spike" and found.binding == "errors<=3%"
    assert found.declared_factor == 3 and not found.holds_declared
    assert found.limit_per_s == pytest.approx(10 * found.limit)


def test_each_search_brackets_then_bisects_to_the_tolerance() -> None:
    found = spike_limit(
        parse_spec(LOSS), ERRORS, searches=2, replications=2, seed=7, tolerance=0.05
    )
    for search in range(2):
        steps = [step for step in found.steps if step.search == search]
        # From the declared 3×, which breaks, down by halves to a factor that holds.
        assert steps[0].factor == 3 and not steps[0].held
        held = [step.factor for step in steps if step.held]
        broke = [step.factor for step in steps if not step.held]
        low, high = max(held), min(broke)
        assert low < high and high - low <= 0.05 * low
        assert found.limits[search] == pytest.approx((low + high) / 2)


def test_a_longer_spike_is_searched_at_its_own_duration() -> None:
    """For how long: held 180 s instead of 60 s, the errors of the spike weigh more against
    the 40 s at the base rate, so the limit falls (exact 1.93 against 2.04)."""
    exact = exact_limit(spike_s=180.0)
    assert exact < exact_limit()
    found = spike_limit(
        parse_spec(LOSS), ERRORS, duration_s=180, searches=4, replications=2, seed=101
    )
    assert found.duration_s == 180
    assert found.ci95[0] <= exact <= found.ci95[1], (found.limits, found.ci95)
    with pytest.raises(SpikeLimitError, match="cannot last"):
        spike_limit(parse_spec(LOSS), ERRORS, duration_s=0)


def test_the_searches_give_the_same_limit_on_one_process_or_several() -> None:
    spec = parse_spec(LOSS)
    alone = spike_limit(spec, ERRORS, searches=2, replications=2, seed=5, workers=1)
    spread = spike_limit(spec, ERRORS, searches=2, replications=2, seed=5, workers=2)
    assert alone == spread


def test_a_phase_factor_is_changed_alone() -> None:
    profile = parse_spec(LOSS).workload.profile
    assert profile is not None
    changed = with_phase_factor(profile, 1, 7.5)
    assert [p.steady.factor for p in changed.phases if p.steady] == [1, 7.5, 1]
    assert changed.phases[1].duration_s == 60


def test_what_cannot_be_searched_is_refused() -> None:
    spec = parse_spec(LOSS)
    with pytest.raises(SpikeLimitError, match="no phase named 'sale'"):
        spike_limit(spec, ERRORS, phase="sale")
    with pytest.raises(SpikeLimitError, match="latency or error SLO, or a backlog NFR"):
        spike_limit(spec, NFRSpec.from_slos(("throughput>=99%",)).slos)
    ramped = {**LOSS}
    ramped["workload"] = {
        **LOSS["workload"],  # type: ignore[dict-item]
        "profile": {"phases": [{"duration_s": 60, "ramp": {"from": 1, "to": 4}}]},
    }
    with pytest.raises(SpikeLimitError, match="only a spike, steady, flash"):
        spike_limit(parse_spec(ramped), ERRORS)


def test_the_command_prints_and_writes_the_limit(tmp_path: Path) -> None:
    import yaml

    path = tmp_path / "loss.yaml"
    path.write_text(yaml.safe_dump(LOSS))
    out = tmp_path / "limit.json"
    args = ["transient", str(path), "--slo", "errors<=3%", "--replications", "2"]
    done = CliRunner().invoke(app, [*args, "--spike-limit", "--searches", "2", "--json", str(out)])
    assert done.exit_code == 0, done.output
    assert "the largest spike it carries for 1 min" in done.output
    assert "breaks first on errors<=3%" in done.output
    written = json.loads(out.read_text())["spike_limits"]["loss"]
    assert written["phase"] == "spike" and len(written["limits"]) == 2


def test_the_sustained_pull_of_a_profile_says_it_scales_the_whole_profile() -> None:
    from scaleplan.experiments.pull import pull

    found = pull(parse_spec(LOSS), ["errors<=3%"], replications=1, precision=0.1, curve=())
    said = " ".join(found.notes)
    # Mean factor (20 + 3·60 + 20) / 100 = 2.2, peak 3: the peak is 3 / 2.2 = 1.36× the mean.
    assert "scaled whole" in said and "1.36× that" in said and "--spike-limit" in said


def test_the_backlog_nfr_breaks_a_step_as_compare_judges_it() -> None:
    """With only a backlog NFR, a step breaks when its largest queue passes the bound: the
    same gate ``compare`` applies through the profile."""
    from scaleplan.spec import BacklogNFR

    queued = {**LOSS, "components": {"api": {**LOSS["components"]["api"], "queue_limit": 500}}}
    backlog = BacklogNFR(max_queue=20)
    found = spike_limit(
        parse_spec(queued), (), backlog=backlog, searches=2, replications=2, seed=3, workers=1
    )
    assert found.binding == "queue<=20 requests through the load profile"
    for search in range(2):
        steps = [step for step in found.steps if step.search == search]
        held = [step.factor for step in steps if step.held]
        broke = [step.factor for step in steps if not step.held]
        assert held and broke and max(held) < min(broke)
