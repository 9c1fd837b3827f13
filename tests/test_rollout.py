"""Rollouts driven through engine hooks: capacity, exposure, detection and rollback."""

from __future__ import annotations

import json
import math
from collections.abc import Generator
from typing import Any

import pytest

from scaleplan.engine import HookContext
from scaleplan.errors import SimulationError
from scaleplan.experiments.rollout import deploy
from scaleplan.kinds.service import ServiceStation
from scaleplan.spec import ArchitectureSpec, parse_spec
from scaleplan.spec.rollout import RolloutSpec

N = 4


def _spec(replicas: int = N, rate_per_s: float = 60.0) -> ArchitectureSpec:
    return parse_spec(
        {
            "name": "web",
            "entry": "lb",
            "workload": {"rate_per_s": rate_per_s},
            "components": {
                "lb": {"kind": "load_balancer", "policy": "round_robin", "to": "api"},
                "api": {
                    "kind": "service",
                    "replicas": replicas,
                    "concurrency": 4,
                    "zones": ["a", "b"],
                    "service_time": {"dist": "exponential", "mean_ms": 20},
                },
            },
        }
    )


def _plan(**changes: Any) -> RolloutSpec:
    base: dict[str, Any] = {
        "start_s": 20,
        "boot_s": 8,
        "drain_s": 2,
        "switch_s": 2,
        "keep_old_s": 30,
        "observe_s": 20,
        "canary": {"steps": [0.05, 0.5, 1.0], "bake_s": 20},
        "rollback": {
            "max_error_rate": 0.01,
            "window_s": 10,
            "for_s": 5,
            "check_interval_s": 1,
            "min_requests": 20,
        },
    }
    base.update(changes)
    return RolloutSpec.model_validate(base)


def _in_rotation_probe(samples: list[tuple[float, int]]) -> Any:
    """A hook: every 10 ms, the api replicas in rotation and up."""

    def hook(context: HookContext) -> None:
        station = context.stations["api"]
        assert isinstance(station, ServiceStation)

        def probe() -> Generator[Any, Any, None]:
            while True:
                samples.append((context.env.now, sum(r.up for r in station.replicas)))
                yield context.env.timeout(0.01)

        context.env.process(probe())

    return hook


def test_rolling_one_at_a_time_never_drops_below_n_minus_one() -> None:
    samples: list[tuple[float, int]] = []
    result = deploy(_spec(), _plan(strategy="rolling"), seed=1, hooks=[_in_rotation_probe(samples)])
    run = result.strategy("rolling").runs[0]
    assert not run.bad and not run.rolled_back
    # The deploy happened: four batches of drain + boot.
    assert N * 8 <= run.deploy_duration_s <= N * (8 + 2) + 1
    # The probe: never fewer than N − 1 in rotation, and the dip to N − 1 did happen.
    counts = [count for time, count in samples if time >= 20]
    assert min(counts) == N - 1
    assert max(counts) == N
    # The rollout's own sampler says the same.
    assert run.min_capacity_share == pytest.approx((N - 1) / N)
    # And so does the engine's replicas time series (per-bucket means of the rotation).
    replicas = run.timeseries["engine_replicas"]
    assert min(value for value in replicas if value > 0) >= N - 1 - 1e-9
    assert min(replicas[: len(replicas) // 2]) < N  # the dip shows in the engine's series
    assert run.failed_during == 0  # drained before each stop


def test_rolling_in_batches_of_two_dips_to_half() -> None:
    samples: list[tuple[float, int]] = []
    result = deploy(
        _spec(),
        _plan(strategy="rolling", batch_size=2),
        seed=1,
        hooks=[_in_rotation_probe(samples)],
    )
    assert min(count for time, count in samples if time >= 20) == N - 2
    assert result.strategy("rolling").runs[0].min_capacity_share == pytest.approx(0.5)


def test_canary_rolls_back_with_a_smaller_blast_radius_than_all_at_once() -> None:
    # The same bad release (20% errors) under the same seed: same arrivals, same release.
    plan = _plan(release={"bad": True, "error_rate": 0.2})
    result = deploy(
        _spec(), [plan.with_strategy("canary"), plan.with_strategy("all_at_once")], seed=7
    )
    canary = result.strategy("canary").runs[0]
    big_bang = result.strategy("all_at_once").runs[0]
    assert canary.bad and big_bang.bad
    assert canary.rolled_back and big_bang.rolled_back
    assert math.isfinite(canary.detection_s)
    assert 0 < canary.blast_radius < big_bang.blast_radius
    assert canary.users_hit_share < big_bang.users_hit_share
    assert canary.bad_visits < big_bang.bad_visits
    # The canary never took capacity away; all at once took all of it.
    assert canary.min_capacity_share >= 1.0 and big_bang.min_capacity_share == 0.0


def test_canary_traffic_share_matches_its_step() -> None:
    # A good release: the first step sends 5% of requests to one new replica of four.
    plan = _plan(strategy="canary", rollback=None, canary={"steps": [0.05], "bake_s": 200})
    result = deploy(_spec(rate_per_s=100), plan, seed=3)
    run = result.strategy("canary").runs[0]
    series = run.timeseries
    # Buckets well inside the bake (the canary joins at 20 + 8 s, the bake lasts 200 s).
    shares = [
        share
        for t, share in zip(series["t_s"], series["new_share"], strict=True)
        if 40 <= t <= 200 and math.isfinite(share)
    ]
    counts = [
        rate
        for t, rate in zip(series["t_s"], series["arrivals_per_s"], strict=True)
        if 40 <= t <= 200
    ]
    width = series["t_s"][1] - series["t_s"][0]
    n = sum(counts) * width
    mean = sum(shares) / len(shares)
    # Binomial: 99.9% of the time within 3.3 standard errors of 5%.
    assert abs(mean - 0.05) < 3.3 * math.sqrt(0.05 * 0.95 / n), (mean, n)


def test_blue_green_doubles_capacity_and_switches_back() -> None:
    good = deploy(_spec(), _plan(strategy="blue_green"), seed=2).strategy("blue_green").runs[0]
    assert good.min_capacity_share >= 1.0
    assert good.peak_replicas == 2 * N
    # N extra replicas from the green boot to the end of keep_old_s: 8 + 2 + 30 s exactly, as
    # the old set has been idle for keep_old_s when it is retired, so its drain takes no time.
    # (The only tolerance is for the floating-point sum over the capacity samples.)
    assert good.deploy_duration_s == pytest.approx(40.0, rel=1e-12)
    assert good.extra_replica_hours == pytest.approx(N * 40 / 3600, rel=1e-12)
    assert good.failed_during == 0
    bad = (
        deploy(
            _spec(), _plan(strategy="blue_green", release={"bad": True, "error_rate": 0.3}), seed=2
        )
        .strategy("blue_green")
        .runs[0]
    )
    assert bad.rolled_back and bad.min_capacity_share >= 1.0
    # The switch back is quick: well before keep_old_s would have ended.
    assert bad.deploy_duration_s < good.deploy_duration_s


def test_all_at_once_takes_the_service_down_while_it_boots() -> None:
    run = deploy(_spec(), _plan(strategy="all_at_once"), seed=4).strategy("all_at_once").runs[0]
    assert run.min_capacity_share == 0.0
    # Every request in the boot window fails: about rate × boot time of them.
    assert 0.5 * 60 * 8 < run.failed_during < 1.5 * 60 * 10
    assert not run.rolled_back and run.blast_radius == 0.0


def test_latency_regression_is_caught_by_the_latency_threshold() -> None:
    plan = _plan(
        strategy="rolling",
        release={"bad": True, "error_rate": 0.0, "latency_factor": 6.0},
        rollback={
            "max_error_rate": None,
            "max_latency_ratio": 2.0,
            "window_s": 10,
            "for_s": 5,
            "check_interval_s": 1,
        },
    )
    run = deploy(_spec(), plan, seed=5).strategy("rolling").runs[0]
    assert run.rolled_back and math.isfinite(run.detection_s)
    good = deploy(
        _spec(),
        plan.model_copy(update={"release": plan.release.model_copy(update={"bad": False})}),
        seed=5,
    )
    assert not good.strategy("rolling").runs[0].rolled_back


def test_the_release_is_drawn_once_per_seed_for_every_strategy() -> None:
    plan = _plan(release={"bad_probability": 0.5, "error_rate": 0.2})
    result = deploy(
        _spec(rate_per_s=30),
        [plan.with_strategy("rolling"), plan.with_strategy("canary")],
        seed=10,
        replications=4,
    )
    rolling, canary = result.strategy("rolling"), result.strategy("canary")
    assert [run.bad for run in rolling.runs] == [run.bad for run in canary.runs]
    assert 0 < rolling.bad_runs < 4  # both outcomes occur over these seeds
    for run in rolling.runs + canary.runs:
        assert run.rolled_back == run.bad
        assert (run.blast_radius > 0) == run.bad
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert data["strategies"][0]["summary"]["bad_runs"] == rolling.bad_runs
    assert len(result.records()) == 8
    for row in result.records():  # each window's percentiles with their 95% intervals
        for key in ("latency_during_p99_ms", "latency_before_p50_ms"):
            assert row[f"{key}_low"] <= row[key] <= row[f"{key}_high"], (key, row)


def test_a_rollout_needs_a_service() -> None:
    with pytest.raises(SimulationError, match="a rollout updates a service"):
        deploy(_spec(), _plan(component="lb"))
    with pytest.raises(ValueError, match="steps must rise"):
        _plan(canary={"steps": [0.5, 0.2]})


def _fronted_spec(call: dict[str, Any], parallel: bool = False) -> ArchitectureSpec:
    """An entry service calling the load balancer in front of ``api`` (and a small ``audit``
    service beside it), the call to the balancer shaped by ``call``."""
    return parse_spec(
        {
            "name": "fronted",
            "entry": "front",
            "workload": {"rate_per_s": 60.0},
            "components": {
                "front": {
                    "kind": "service",
                    "replicas": 2,
                    "concurrency": 16,
                    "parallel": parallel,
                    "service_time": {"dist": "exponential", "mean_ms": 2},
                    "calls": [{"to": "lb", **call}, {"to": "audit"}],
                },
                "lb": {"kind": "load_balancer", "policy": "round_robin", "to": "api"},
                "api": {
                    "kind": "service",
                    "replicas": N,
                    "concurrency": 4,
                    "service_time": {"dist": "exponential", "mean_ms": 20},
                },
                "audit": {
                    "kind": "service",
                    "concurrency": 8,
                    "service_time": {"dist": "exponential", "mean_ms": 1},
                },
            },
        }
    )


@pytest.mark.parametrize(
    ("call", "parallel"),
    [({"timeout_ms": 600_000}, False), ({}, True), ({"timeout_ms": 600_000}, True)],
    ids=["timeout", "parallel", "parallel-and-timeout"],
)
def test_blast_radius_follows_the_request_into_child_processes(
    call: dict[str, Any], parallel: bool
) -> None:
    # Issue 9, defect 2: a call with a timeout (which never fires here) or a parallel call
    # runs in a child SimPy process; the bad version's visits must still count for the
    # request that made them.
    plan = _plan(strategy="all_at_once", component="api", release={"bad": True, "error_rate": 0.2})
    plain = deploy(_fronted_spec({}), plan, seed=3).strategy("all_at_once").runs[0]
    child = deploy(_fronted_spec(call, parallel), plan, seed=3).strategy("all_at_once").runs[0]
    assert plain.bad and child.bad and plain.bad_visits > 100
    assert plain.blast_radius > 0.05
    # The same arrivals, the same release and the same visits to `api` (the balancer is the
    # first call, so running the calls at once does not move it, and the timeout never
    # fires): the share of requests that reached the bad version is the same whether the
    # call runs in the request's process or in a child process.
    assert child.bad_visits == plain.bad_visits
    assert child.detection_s == plain.detection_s
    assert child.blast_radius == plain.blast_radius
    assert child.users_hit_share == plain.users_hit_share


def test_a_rollout_observes_the_model_without_replacing_its_methods() -> None:
    contexts: list[HookContext] = []
    deploy(
        _fronted_spec({"timeout_ms": 600_000}),
        _plan(strategy="rolling", component="api"),
        seed=1,
        hooks=[contexts.append],
    )
    (context,) = contexts
    for station in context.stations.values():
        replaced = {"visit", "serve", "call_in_order", "call_parallel"} & set(vars(station))
        assert not replaced, (station.name, replaced)


def test_an_autoscaled_service_is_rolled_out_at_the_replicas_its_policy_holds() -> None:
    """Regression (issue 9, found on a ticketing client case): a rollout of an autoscaled
    service was refused ("not modelled"), which failed a whole decision record whose chosen
    option autoscales its API. A deploy now swaps replicas against the count the policy keeps
    at the deploy's rate, and says so."""
    spec = _spec(replicas=2).with_changes(
        {
            # 60 requests/s of 20 ms keep 1.2 slots busy; 4-slot replicas at a 10% target:
            # 1.2 / (4 × 0.1) = 3 replicas.
            "components.api.autoscale": {"target": 0.1, "min_replicas": 2, "max_replicas": 8},
        }
    )
    result = deploy(spec, [_plan(strategy="rolling")], seed=1)
    assert result.replicas == 3
    assert result.notes == (
        "api: autoscaled; held at 3 replicas, what its policy keeps at 60 requests/s",
    )
    run = result.strategy("rolling").runs[0]
    assert run.min_capacity_share == pytest.approx(2 / 3)  # one replica at a time


def test_a_canary_behind_a_balancer_that_also_spreads_over_a_whole_component() -> None:
    """The balancer in front of the rolled-out service also sends half its traffic to a queue
    (a whole component, no replicas of its own): reweighting the canary keeps that target's
    weight instead of dividing it by its replicas (found by the composition test: a
    ZeroDivisionError)."""
    spec = parse_spec(
        {
            "name": "web",
            "entry": "lb",
            "workload": {"rate_per_s": 60},
            "components": {
                "lb": {"kind": "load_balancer", "to": ["api", "jobs"]},
                "api": {
                    "kind": "service",
                    "replicas": N,
                    "concurrency": 4,
                    "service_time": {"dist": "exponential", "mean_ms": 20},
                },
                "jobs": {"kind": "queue", "consumer": "workers"},
                "workers": {
                    "kind": "worker_pool",
                    "replicas": 2,
                    "concurrency": 4,
                    "service_time": {"dist": "exponential", "mean_ms": 20},
                },
            },
        }
    )
    plan = _plan(strategy="canary", rollback=None, canary={"steps": [0.25], "bake_s": 60})
    run = deploy(spec, plan, seed=3).strategy("canary").runs[0]
    shares = [share for share in run.timeseries["new_share"] if math.isfinite(share)]
    # The canary took a share of the service's requests and the old replicas the rest.
    assert shares and 0 < sum(shares) / len(shares) < 1


def test_the_memory_of_a_deploy_does_not_grow_with_the_declared_users() -> None:
    """The share of users hit counts the users who sent requests: their memory follows the
    requests, not the plan's ``users`` (200 million users allocated two 200 MB arrays; the
    fuzz suite found 1.6 billion taking 1.5 GB)."""
    import tracemalloc

    plan = _plan(users=200_000_000).with_strategy("rolling")
    tracemalloc.start()
    try:
        result = deploy(_spec(), [plan], seed=1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 100 * 2**20, f"{peak / 2**20:.0f} MB"
    (run,) = result.strategy("rolling").runs
    assert 0 <= run.users_hit_share <= 1 or math.isnan(run.users_hit_share)


def test_a_bad_release_reached_only_by_queued_work_counts_in_the_blast_radius() -> None:
    """Requests answered once queued reach the rolled-out service through their job, after
    the request itself is done: those requests reached the bad version all the same. The
    composition test found 49 bad visits with a blast radius of 0 (a queue × rollout defect)."""
    spec = parse_spec(
        {
            "name": "queued",
            "entry": "lb",
            "workload": {"rate_per_s": 60},
            "components": {
                "lb": {"kind": "load_balancer", "policy": "round_robin", "to": "jobs"},
                "jobs": {"kind": "queue", "consumer": "workers"},
                "workers": {
                    "kind": "worker_pool",
                    "replicas": 2,
                    "concurrency": 4,
                    "service_time": {"dist": "exponential", "mean_ms": 5},
                    "calls": [{"to": "api"}],
                },
                "api": {
                    "kind": "service",
                    "replicas": N,
                    "concurrency": 4,
                    "service_time": {"dist": "exponential", "mean_ms": 20},
                },
            },
        }
    )
    plan = _plan(
        component="api", release={"bad_probability": 1.0, "error_rate": 0.5}
    ).with_strategy("rolling")
    (run,) = deploy(spec, [plan], seed=3).strategy("rolling").runs
    assert run.bad and run.bad_visits > 0
    assert run.blast_radius > 0, (run.bad_visits, run.blast_radius)
    assert run.users_hit_share > 0
