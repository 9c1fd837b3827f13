"""The tractor pull over users of a closed workload."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from scaleplan.analytic.mva import MvaStation, exact_mva
from scaleplan.errors import SimulationError
from scaleplan.experiments.pull_users import pull_users
from scaleplan.spec import example_spec, parse_spec

ROOT = Path(__file__).resolve().parents[1]


def repairman(users: int = 4, **workload: Any) -> Any:
    return parse_spec(
        {
            "name": "shop",
            "entry": "api",
            "workload": {
                "kind": "closed",
                "users": users,
                "think_time": {"dist": "exponential", "mean_ms": 500},
                **workload,
            },
            "components": {
                "api": {"kind": "service", "service_time": {"dist": "exponential", "mean_ms": 20}}
            },
        }
    )


def test_the_limit_covers_exact_mva() -> None:
    """M/M/1//N with Z = 0.5 s, S = 20 ms under mean ≤ 60 ms: exact MVA's R(21) = 59.9 ms and
    R(22) = 65.0 ms, so 21 users is the limit. Measured with seeds 1, 11, 21, 31 (5 searches
    of 20k requests a step): 20 [19.6, 21.8], 21 [19.9, 22.3], 21 [21, 22], 20 [19.7, 22.1]."""
    solutions = exact_mva([MvaStation("api", 0.02)], 0.5, 40)
    exact = max(s.users for s in solutions if s.response_s <= 0.060)
    assert exact == 21
    result = pull_users(repairman(), ["mean<=60ms"], requests=20_000, replications=5, seed=1)
    low, high = result.limit_ci95
    assert low <= exact <= high, result.limit_ci95
    assert len(result.limits) == 5 and all(step.stable for step in result.steps)
    # The throughput there: the users' rate at about the limit, X(N) = N / (Z + R(N)).
    x_low, x_high = result.throughput_ci95
    rates = [solutions[n - 1].throughput_per_s for n in (int(low), int(high))]
    assert x_low <= max(rates) and x_high >= min(rates)
    assert result.bottleneck == "api"
    assert result.summary().startswith("limit: ")
    json.dumps(result.to_dict(), allow_nan=False)
    for step in result.steps:  # each step's p99 comes with its run's 95% interval
        assert step.p99_ci95[0] <= step.p99_ms <= step.p99_ci95[1], step


def test_without_objectives_the_search_stops_at_max_users() -> None:
    result = pull_users(repairman(), [], requests=500, replications=1, max_users=8)
    assert result.limits == (8,)
    assert any("max_users" in warning for warning in result.warnings)
    assert "one search" in result.summary()


def test_an_open_workload_is_refused() -> None:
    with pytest.raises(SimulationError, match="closed workload"):
        pull_users(example_spec(), ["mean<=60ms"])


def test_classes_with_their_own_users_are_refused() -> None:
    spec = repairman(
        users=None,
        classes=[{"name": "a", "users": 2}, {"name": "b", "users": 3}],
    )
    with pytest.raises(SimulationError, match="own users"):
        pull_users(spec, ["mean<=60ms"])


def test_cli_pull_of_a_closed_spec_is_over_users(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "scaleplan",
            "pull",
            str(ROOT / "data" / "architectures" / "closed-shop.yaml"),
            "--slo",
            "mean<=250ms",
            "--requests",
            "2000",
            "--replications",
            "2",
            "--json",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["method"] == "tractor pull over users (closed workload)"
    assert data["limit_users"] > 0 and len(data["limits"]) == 2


def test_the_rate_pull_and_the_ramp_send_a_closed_spec_to_the_users_pull() -> None:
    from scaleplan.experiments import pull, ramp

    with pytest.raises(SimulationError, match="pull_users"):
        pull(repairman(), ["mean<=60ms"])
    with pytest.raises(SimulationError, match=r"workload\.users"):
        ramp(repairman(), slos=["mean<=60ms"])


def test_each_objective_breaks_where_exact_mva_says() -> None:
    """The same M/M/1//N under mean ≤ 60 ms and mean ≤ 80 ms, each also searched alone:
    exact MVA gives 21 and 24 users. Each objective's CI (5 searches of 20k requests a step,
    seed 1) covers its own exact limit, the tighter one is the pull's and breaks first."""
    solutions = exact_mva([MvaStation("api", 0.02)], 0.5, 60)
    exact = {
        bound: max(s.users for s in solutions if s.response_s <= bound / 1000) for bound in (60, 80)
    }
    result = pull_users(
        repairman(),
        ["mean<=60ms", "mean<=80ms"],
        requests=20_000,
        replications=5,
        seed=1,
        per_slo=True,
    )
    by_slo = {objective.slo: objective for objective in result.objectives}
    for bound, users in exact.items():
        found = by_slo[f"mean<={bound}ms"]
        low, high = found.limit_ci95
        assert low <= users <= high, (bound, users, found)
        assert len(found.limits) == 5
    assert by_slo["mean<=60ms"].binding and not by_slo["mean<=80ms"].binding
    assert by_slo["mean<=60ms"].limits == result.limits  # the binding one is the joint pull
    json.dumps(result.to_dict(), allow_nan=False)
    # Without per_slo (as compare pulls) no objective is searched alone.
    assert pull_users(repairman(), ["mean<=60ms", "mean<=80ms"], requests=2000).objectives == ()
