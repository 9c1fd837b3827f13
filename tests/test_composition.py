"""The composition test (issue 9): random valid architectures through every verb.

Architectures come from :func:`strategies.architectures` (every kind and feature, at most eight
components, the load a factor of the analytic bottleneck bound). Each runs ``simulate``,
``estimate``, ``failures``, cost, ``rollout`` (when it has a service to roll out), a
two-candidate ``compare``, the monitoring design's rules (through ``promtool check rules``)
and, for some, the command line, each on a small budget. Invariants,
each a failing test when broken:

- no exception escapes but a :class:`~scaleplan.errors.ScaleplanError` (a refusal, with a
  message); on the command line a refusal exits 2 (an unstable load 1), with no traceback;
- conservation: arrived = completed + rejected + failed + in flight;
- every billable node is priced when its kind has a price;
- every availability is in [0, 1], and the downtime is what the availability says;
- the same seed gives the same JSON (wall-clock fields aside);
- the pre-run check never calls a configuration stable when the analytic bound says that a
  station without a queue limit is overloaded.

Profiles: ``composition`` (the default, in ``make test``: 300 examples for simulate and
estimate, fewer for the costlier verbs) and ``composition-long`` (``SCALEPLAN_COMPOSITION=long``,
``make composition``: ten times as many, not derandomized, for before a release).

Every failing example the generator has found is kept below as a plain regression test with its
minimal spec. Those whose fix is owned elsewhere are ``xfail(strict=True)`` until it lands; the
features behind them are left out of the property tests meanwhile (``PENDING``).
"""

from __future__ import annotations

import copy
import json
import math
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from strategies import BUDGET, Example, architectures
from typer.testing import CliRunner

from scaleplan.analytic import bottleneck, estimate
from scaleplan.analytic.availability import MINUTES_PER_MONTH
from scaleplan.cli import app
from scaleplan.engine import UnstableError, check_stability, simulate
from scaleplan.errors import ScaleplanError
from scaleplan.experiments import CompareSettings, compare, cost, deploy, failures
from scaleplan.experiments.spike_limit import spike_limit
from scaleplan.experiments.transient import with_profile
from scaleplan.graph import build_graph
from scaleplan.result import PERCENTILES, SimulationResult
from scaleplan.spec import (
    HOURS_PER_MONTH,
    KINDS,
    ArchitectureSpec,
    CacheSpec,
    CostTableSpec,
    DatabaseSpec,
    NFRSpec,
    ServiceSpec,
    parse_spec,
)
from scaleplan.spec.profile import ProfileSpec
from scaleplan.spec.rollout import RolloutSpec

ROOT = Path(__file__).resolve().parent.parent
LONG = os.environ.get("SCALEPLAN_COMPOSITION", "") == "long"


@pytest.fixture(autouse=True, scope="module")
def _shared_traces_allowed() -> Any:
    """The generated architectures share recorded traces in one temporary folder, outside the
    folder of any spec that names them: allowed here as a user would (scaleplan.paths), for
    this module only."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SCALEPLAN_ALLOW_FILES_OUTSIDE", "1")
        yield


settings.register_profile(
    "composition",
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
    max_examples=300,
)
# Before a release: ten times the examples, and new ones each time (the failing example is
# printed with a blob that reproduces it).
settings.register_profile(
    "composition-long", parent=settings.get_profile("composition"), derandomize=False
)
PROFILE = settings.get_profile("composition-long" if LONG else "composition")


def examples(count: int) -> settings:
    """The profile with ``count`` examples (ten times as many in the long profile)."""
    return settings(PROFILE, max_examples=count * (10 if LONG else 1))


# Whole property tests may take long in the long profile: no per-test timeout there.
timeout = pytest.mark.timeout(0 if LONG else 600)

# Features left out of the property tests while the defect they expose is fixed elsewhere
# (issue 9); each has its regression case below. Remove a name once its fix has landed.
PENDING: dict[str, frozenset[str]] = {
    "every": frozenset(),
}


def excluded(*tests: str) -> frozenset[str]:
    names: set[str] = set(PENDING["every"])
    for test in tests:
        names |= PENDING.get(test, frozenset())
    return frozenset(names)


T = TypeVar("T")


def attempt(action: Callable[[], T]) -> T | ScaleplanError:
    """Run ``action``; a ScaleplanError is a refusal and is returned, anything else escapes."""
    try:
        outcome = action()
    except ScaleplanError as error:
        message = str(error)
        event(f"refused: {type(error).__name__}: {message.splitlines()[0][:60]}")
        assert message.strip(), f"a refusal must say why ({type(error).__name__})"
        assert "Traceback" not in message
        return error
    event("ran")
    return outcome


def without_wall_time(value: Any) -> Any:
    """The JSON without fields that measure this machine's clock."""
    if isinstance(value, dict):
        return {
            key: without_wall_time(item)
            for key, item in value.items()
            if "wall" not in str(key) and not str(key).endswith("elapsed_s")
        }
    if isinstance(value, list):
        return [without_wall_time(item) for item in value]
    return value


def same_json(first: Any, second: Any) -> None:
    """``first`` and ``second`` (results, or the dict of one already made) give one JSON."""
    first = first if isinstance(first, dict) else first.to_dict()
    a = json.dumps(without_wall_time(first), sort_keys=True, allow_nan=False)
    b = json.dumps(without_wall_time(second.to_dict()), sort_keys=True, allow_nan=False)
    assert a == b, "the same seed gave different JSON"


def bounded(spec: ArchitectureSpec, name: str) -> bool:
    """A station with a queue limit is a loss system: overload makes it reject, not diverge."""
    return getattr(spec.components.get(name), "queue_limit", None) is not None


# --------------------------------------------------------------------------- simulate, estimate


def check_simulation(result: SimulationResult, requests: int) -> dict[str, Any]:
    """Assert the run's invariants; return its ``to_dict()`` (checked to be strict JSON)."""
    counts = result.requests
    assert counts.conserved(), f"requests not conserved: {counts}"
    assert 0 <= counts.arrived <= requests
    assert min(counts.completed, counts.rejected, counts.failed, counts.in_flight) >= 0
    data = result.to_dict()
    json.dumps(data, allow_nan=False)
    latency = result.latency_ms
    if counts.completed and latency.mean is not None and math.isfinite(latency.mean):
        assert latency.mean >= 0
    finite = [v for v in (latency.p50, latency.p99) if math.isfinite(v)]
    if len(finite) == 2:
        assert latency.p50 <= latency.p99 * (1 + 1e-9)
    summaries = {"system": latency, **result.classes}
    summaries.update({name: c.latency_ms for name, c in result.components.items()})
    for where, summary in summaries.items():
        for name in PERCENTILES:
            value, (low, high) = summary.percentile(name), summary.percentile_ci95(name)
            if math.isfinite(low) and math.isfinite(high):
                # Every percentile's interval holds the figure it is an interval for.
                assert low <= value <= high, f"{where} {name} {value} outside [{low}, {high}]"
    drained = not any("still" in warning for warning in result.warnings)
    for name, component in result.components.items():
        if math.isfinite(component.utilization):
            in_unit(component.utilization, f"{name} utilisation")
        for figure in ("mean_queue", "throughput_per_s", "rejected"):
            value = getattr(component, figure)
            assert not value < 0, f"{name} {figure} is {value}"
        details = component.details
        if "published" in details and "delivered" in details:
            # Every message the broker took is processed or dead-lettered; once the run has
            # drained, none is left. (A message refused by a full broker is not published.)
            handled = details["delivered"] + details.get("dead_lettered", 0)
            assert handled <= details["published"], f"{name}: {details}"
            if drained and result.stable:
                assert handled == details["published"], f"{name}: messages lost: {details}"
    if result.classes:
        assert sum(summary.count for summary in result.classes.values()) <= counts.completed
    return data


def check_prerun(example: Example, simulated: SimulationResult | ScaleplanError) -> None:
    """The pre-run check never calls a configuration stable when the analytic bound says a
    station (without a queue limit) is overloaded."""
    spec = example.spec
    if not example.overloaded or bounded(spec, example.bottleneck):
        return
    rate = spec.workload.mean_rate_per_s
    flagged = check_stability(spec, build_graph(spec), rate)
    assert flagged is not None, (
        f"the analytic bound carries {example.bound_per_s:.4g}/s at {example.bottleneck} "
        f"but the pre-run check lets {rate:.4g}/s run"
    )
    assert isinstance(simulated, UnstableError), "an overloaded configuration was simulated"
    assert example.bottleneck in str(simulated), "the refusal names another component"


@timeout
@examples(300)
@given(architectures(exclude=excluded("simulate")))
def test_simulate_and_estimate(example: Example) -> None:
    spec = example.spec
    estimated = attempt(lambda: estimate(spec))
    if isinstance(estimated, SimulationResult):
        json.dumps(estimated.to_dict(), allow_nan=False)
        assert estimated.requests.conserved()
    simulated = attempt(lambda: simulate(spec, seed=3, requests=BUDGET))
    check_prerun(example, simulated)
    if (
        isinstance(estimated, SimulationResult)
        and estimated.unstable is not None
        and isinstance(simulated, SimulationResult)
    ):
        # The estimate calls it overloaded: the run may go ahead, but never called stable
        # without a word.
        named = estimated.unstable.component
        assert not simulated.stable or any(named in warning for warning in simulated.warnings), (
            f"the estimate puts {named} over its capacity; the run says nothing of it"
        )
    if isinstance(simulated, UnstableError):
        # Refused before the run: run anyway, and the run must stop by itself.
        simulated = attempt(lambda: simulate(spec, seed=3, requests=BUDGET, run_anyway=True))
    if isinstance(simulated, SimulationResult):
        data = check_simulation(simulated, BUDGET)
        again = simulate(spec, seed=3, requests=BUDGET, run_anyway=not simulated.stable)
        same_json(data, again)


# --------------------------------------------------------------------------- cost

PRICE = 1.0  # per node-hour, for every kind


def billable_nodes(spec: ArchitectureSpec, name: str) -> int:
    """The least number of nodes a component runs on (what a cloud bill counts)."""
    component = spec.components[name]
    if isinstance(component, DatabaseSpec):
        return component.shards * (1 + component.read_replicas)
    if isinstance(component, ServiceSpec):  # services and worker pools
        if component.autoscale is not None:
            return component.autoscale.min_replicas
        return component.replicas
    if isinstance(component, CacheSpec):
        return component.replicas
    # Queues and topics: their broker nodes; load balancers and edges: one node (or a fee).
    return int(getattr(component, "nodes", 1))


def price_table() -> CostTableSpec:
    return CostTableSpec.model_validate(
        {"defaults": {kind: {"per_replica_hour": PRICE} for kind in KINDS}}
    )


@timeout
@examples(300)
@given(architectures(exclude=excluded("cost")))
def test_every_billable_node_is_priced(example: Example) -> None:
    spec = example.spec
    rate = example.rate_per_s
    result = attempt(lambda: cost(spec, price_table(), today_per_s=rate))
    if isinstance(result, ScaleplanError):
        return
    json.dumps(result.to_dict(), allow_nan=False)
    rows = {row.component: row for row in result.components}
    assert set(rows) == set(spec.components)
    for name in spec.components:
        nodes = billable_nodes(spec, name)
        least = PRICE * nodes * HOURS_PER_MONTH
        assert rows[name].per_month >= least * (1 - 1e-9), (
            f"{name} ({spec.components[name].kind}) runs on {nodes} nodes but is billed "
            f"{rows[name].per_month:.2f} a month (at least {least:.2f})"
        )
    total = math.fsum(row.per_month for row in result.components)
    assert math.isclose(result.per_month_today, total, rel_tol=1e-9)


# --------------------------------------------------------------------------- failures


def in_unit(value: float, what: str) -> None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return
    assert -1e-12 <= value <= 1 + 1e-12, f"{what} is {value}, outside [0, 1]"


def check_ci(ci: Any, what: str) -> None:
    in_unit(ci.mean, f"{what} (mean)")
    in_unit(ci.low, f"{what} (low)")
    in_unit(ci.high, f"{what} (high)")


FAULTS = {"failures": 0.6, "chaos": 0.5}


def failure_hours(spec: ArchitectureSpec) -> float:
    """Simulated hours for a steady state: ten failure cycles of the slowest component, within
    1 to 10 hours (a small budget, not a precise figure)."""
    cycles = [
        component.failures.mtbf_h + component.failures.mttr_min / 60
        for component in spec.components.values()
        if getattr(component, "failures", None) is not None
    ]
    return min(10.0, max(1.0, 10 * max(cycles, default=0.0)))


@timeout
@examples(60)
@given(architectures(exclude=excluded("failures"), bias=FAULTS, overload=0.0))
def test_failures_availability_in_unit_interval(example: Example) -> None:
    spec = example.spec

    def run() -> Any:
        return failures(
            spec,
            seed=5,
            replications=2,
            duration_h=failure_hours(spec),
            probes=200,
            availability=99.9,
            game_day_replications=1,
        )

    result = attempt(run)
    if isinstance(result, ScaleplanError):
        return
    json.dumps(result.to_dict(), allow_nan=False)
    check_ci(result.system_time, "system time availability")
    check_ci(result.system_requests, "system request availability")
    in_unit(result.analytic, "analytic availability")
    downtime = result.downtime_min_per_month.mean
    if math.isfinite(result.system_time.mean):
        expected = (1 - result.system_time.mean) * MINUTES_PER_MONTH
        assert math.isclose(downtime, expected, rel_tol=1e-9, abs_tol=1e-6)
    for component in result.components:
        check_ci(component.time_availability, f"{component.name} time availability")
        check_ci(component.capacity_availability, f"{component.name} capacity availability")
        in_unit(component.unit_availability, f"{component.name} unit availability")
        in_unit(component.analytic, f"{component.name} analytic availability")
        in_unit(component.share_of_system_downtime, f"{component.name} share of downtime")
    if result.game_day is not None:
        check_ci(result.game_day.time_availability, "game day time availability")
        check_ci(result.game_day.request_availability, "game day request availability")
    # Every sentence about availability agrees with the figures it is about.
    measured = {"time": result.system_time, "requests": result.system_requests}
    for verdict in result.verdicts:
        if verdict.kind != "availability" or verdict.status == "not evaluated":
            continue
        which = "requests" if "(requests)" in verdict.nfr else "time"
        ci = measured[which]
        in_unit(verdict.measured, f"{verdict.nfr} measured")
        assert math.isclose(verdict.measured, ci.mean, rel_tol=1e-9, abs_tol=1e-12), verdict
        low, high = verdict.ci95
        if verdict.status == "pass":
            assert verdict.measured >= verdict.bound, verdict
            assert not low < verdict.bound, verdict
        elif verdict.status == "fail":
            assert verdict.measured < verdict.bound, verdict
            assert not high >= verdict.bound, verdict
    if any("nothing fails" in note for note in result.notes):
        assert not spec.chaos
        assert result.system_time.mean == 1.0, result.system_time


# --------------------------------------------------------------------------- rollout


def rollout_target(spec: ArchitectureSpec) -> str | None:
    """A plain service without autoscaling (what a rollout updates), if there is one."""
    for name, component in spec.components.items():
        if component.kind == "service" and getattr(component, "autoscale", None) is None:
            return name
    return None


def calm(example: Example) -> bool:
    """A light load on a fixed fleet: no backlog from autoscaling that starts small, from
    failures or from chaos."""
    return (
        example.factor <= 0.5
        and not example.spec.chaos
        and not any(
            getattr(component, "autoscale", None) is not None
            or getattr(component, "failures", None) is not None
            for component in example.spec.components.values()
        )
    )


def short_plan(strategy: str, bad: bool, horizon_s: float, component: str) -> RolloutSpec:
    """A plan whose whole run lasts about ``horizon_s`` (the example's request budget)."""
    t = horizon_s
    return RolloutSpec.model_validate(
        {
            "strategy": strategy,
            "component": component,
            "start_s": 0.15 * t,
            "boot_s": 0.04 * t,
            "drain_s": 0.02 * t,
            "switch_s": 0.02 * t,
            "keep_old_s": 0.05 * t,
            "observe_s": 0.1 * t,
            "canary": {"steps": [0.5, 1.0], "bake_s": 0.05 * t},
            "release": {"bad": bad, "error_rate": 0.2},
            "rollback": {
                "max_error_rate": 0.05,
                "window_s": 0.1 * t,
                "for_s": 0.02 * t,
                "check_interval_s": 0.02 * t,
                "min_requests": 5,
            },
        }
    )


@timeout
@examples(40)
@given(
    architectures(exclude=excluded("rollout"), overload=0.05),
    st.sampled_from(["rolling", "blue_green", "canary", "all_at_once"]),
    st.booleans(),
)
def test_rollout(example: Example, strategy: str, bad: bool) -> None:
    spec = example.spec
    component = rollout_target(spec)
    if component is None:
        event("no plain service to roll out")
        return
    horizon = attempt(lambda: example.horizon_s)  # a closed spec the sizing refuses
    if isinstance(horizon, ScaleplanError):
        return
    plan = short_plan(strategy, bad, 4 * horizon, component)

    result = attempt(lambda: deploy(spec, plan, seed=2))
    if isinstance(result, ScaleplanError):
        return
    json.dumps(result.to_dict(), allow_nan=False)
    for strategy_result in result.strategies:
        for run in strategy_result.runs:
            in_unit(run.blast_radius, "blast radius")
            in_unit(run.users_hit_share, "share of users hit")
            assert run.failed_during <= run.requests_during
            assert 0 <= run.min_capacity_share <= run.mean_capacity_share * (1 + 1e-9)
            if not bad:
                assert run.blast_radius == 0 and run.bad_visits == 0
            elif run.bad_visits > 0 and calm(example):
                # A request that reached the bad version counts, whatever process served it.
                # (Under a backlog the bad visits may all be by requests that arrived before
                # the deploy began, which the blast radius rightly leaves out: hence `calm`.)
                assert run.blast_radius > 0, f"{run.bad_visits} bad visits, blast radius 0"
    again = deploy(spec, plan, seed=2)
    same_json(result, again)


# --------------------------------------------------------------------------- compare


def variant(example: Example) -> ArchitectureSpec:
    """The second candidate: one more replica on some plain service, or the same with a
    new name."""
    data = copy.deepcopy(example.data)
    data["name"] = "variant"
    for component in data["components"].values():
        if component["kind"] == "service" and "autoscale" not in component:
            component["replicas"] = component.get("replicas", 1) + 1
            break
    return parse_spec(data, source="<composition>")


@timeout
@examples(30)
@given(
    architectures(exclude=excluded("compare"), overload=0.05),
    st.sampled_from(("fixed", "precision")),
)
def test_compare_two_candidates(example: Example, stopping: str) -> None:
    spec = example.spec
    event(f"stopping {stopping}")
    event(f"workload {'closed' if spec.workload.closed else 'open'}")

    def run() -> Any:
        return compare(
            {"base": spec, "variant": variant(example)},
            CompareSettings(
                nfrs=["p99<=2000ms", "errors<=5%"],
                seed=4,
                replications=2,
                requests=BUDGET // 2,
                costs=price_table(),
                pull_replications=0,
                stopping=stopping,
            ),
            workers=1,
        )

    result = attempt(run)
    if isinstance(result, ScaleplanError):
        return
    json.dumps(result.to_dict(), allow_nan=False)
    assert {candidate.name for candidate in result.candidates} == {"base", "variant"}
    # A closed workload is compared with its own users (no rate is forced on it).
    assert result.closed == spec.workload.closed
    if result.closed:
        assert result.peak_users == spec.workload.total_users
    for candidate in result.candidates:
        if candidate.cost is not None:
            for row in candidate.cost.components:
                assert row.per_month >= 0
        low, high = candidate.metrics_ci95.get("p99_ms", (math.nan, math.nan))
        if math.isfinite(low) and math.isfinite(high):
            assert low <= candidate.metrics["p99_ms"] <= high
        if stopping == "precision" and candidate.measurement:
            assert candidate.measurement["stop"] in ("precision reached", "verdict settled", "cap")
    same_json(result, run())


# --------------------------------------------------------------------------- the command line


def cli(args: list[str]) -> tuple[int, str]:
    """Run the CLI in this process as ``scaleplan.cli.main`` does: a ScaleplanError is printed
    and exits 2; any other exception is a crash and fails the test."""
    result = CliRunner().invoke(app, args)
    output = result.output + (getattr(result, "stderr", "") or "")
    if isinstance(result.exception, ScaleplanError):
        return 2, output + str(result.exception)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, output


def write_spec(example: Example, folder: str) -> str:
    path = Path(folder) / "composed.yaml"
    path.write_text(yaml.safe_dump(example.data, sort_keys=False), encoding="utf-8")
    return str(path)


@timeout
@examples(12)
@given(
    architectures(exclude=excluded("compare")),
    st.sampled_from(["spike", "flash", "steady"]),
)
def test_compare_through_a_load_profile(example: Example, shape: str) -> None:
    """Two candidates judged through a load profile (issue 10): its gates replace the steady
    peak's latency and error gates, every candidate keeps its run, the same seed one JSON."""
    spec = example.spec
    if spec.workload.closed:
        event("closed: a profile has no rate to scale")
        return
    rate = spec.workload.mean_rate_per_s
    # Before, the shape, after: about half the budget's requests in all.
    unit = max(0.05, BUDGET / (2 * 6 * rate)) if rate > 0 else 1.0
    top = {
        "spike": {"spike": {"factor": 2, "rise_s": unit / 2}},
        "flash": {"flash": {"factor": 2, "half_life_s": unit}},
        "steady": {"steady": {"factor": 2}},
    }[shape]
    profile = ProfileSpec.model_validate(
        {
            # How often it happens prices the month (compare._month_cost) when given.
            "per_month": 4 if shape == "flash" else None,
            "phases": [
                {"name": "before", "duration_s": unit, "steady": {"factor": 1}},
                {"name": "peak", "duration_s": 2 * unit, **top},
                {"name": "after", "duration_s": unit, "steady": {"factor": 1}},
            ],
        }
    )
    event(f"profile {shape}")

    def run() -> Any:
        return compare(
            {"base": spec, "variant": variant(example)},
            CompareSettings(
                nfrs=NFRSpec.model_validate(
                    {
                        "slos": ["p99<=2000ms", "errors<=5%"],
                        # Judged only through the profile (issue 10): the drain, the queue.
                        "backlog": {"drain_within_s": 10 * unit, "max_queue": 10_000},
                    }
                ),
                seed=5,
                replications=2,
                requests=BUDGET // 2,
                costs=price_table(),
                pull_replications=0,
                profile=profile,
            ),
            workers=1,
        )

    result = attempt(run)
    if isinstance(result, ScaleplanError):
        return
    json.dumps(result.to_dict(), allow_nan=False)
    for candidate in result.candidates:
        through = candidate.transient
        assert through is not None and through.replications == 2
        gates = {verdict.nfr for verdict in candidate.verdicts}
        assert "p99<=2000ms" not in gates and "errors<=5%" not in gates
        assert any(nfr.startswith("p99<=2000ms in every") for nfr in gates)
        assert "errors<=5% over the load profile" in gates
        backlog = [verdict for verdict in candidate.verdicts if verdict.kind == "backlog"]
        assert len(backlog) == 2
        for verdict in backlog:
            assert verdict.status in ("pass", "fail", "inconclusive")
            assert verdict.measured >= 0 and verdict.ci95[0] <= verdict.measured + 1e-9
        assert {v.nfr for v in candidate.peak_slo_verdicts} <= {"p99<=2000ms", "errors<=5%"}
        for figure in through.replica_hours.values():
            assert figure.mean >= 0
        if through.event_cost is not None:
            assert through.event_cost.total.mean >= 0
        month = candidate.values["cost_per_month_with_profile"]
        if shape == "flash" and candidate.cost is not None and through.event_cost is not None:
            assert month >= candidate.cost.per_month_today
        else:
            assert math.isnan(month)
    same_json(result, run())


def poisson_interval_999(count: int) -> tuple[float, float]:
    """The exact (Garwood) 99.9% interval of a Poisson mean from one ``count``: random
    architectures by the dozen, so a wider net than a single test's 95%."""
    from scipy.special import gammaincinv

    low = 0.0 if count == 0 else float(gammaincinv(count, 0.0005))
    return low, float(gammaincinv(count + 1, 0.9995))


@timeout
@examples(20)
@given(architectures(exclude=excluded("compare"), overload=0.0))
def test_a_run_at_a_given_rate_is_offered_that_rate(example: Example) -> None:
    """What the peak measurement, the pull's steps and the load-test predictions run
    (``run_once`` at a rate) is offered that rate over its measured window, whatever the
    arrival process: a diurnal load replayed the start of its day there (a fifth of the
    rate), found by hand before this test. Poisson-counted processes only (Poisson, constant,
    diurnal held steady); bursty and traced arrivals are not Poisson counts."""
    from scaleplan.experiments._common import measured_buckets, run_once

    spec = example.spec
    arrival = spec.workload.arrival
    if spec.workload.closed or arrival not in ("poisson", "constant", "diurnal"):
        event("not a Poisson-counted open load")
        return
    event(f"arrival {arrival}")
    rate = 0.5 * spec.workload.mean_rate_per_s
    run = attempt(lambda: run_once(spec, seed=5, rate_per_s=rate, requests=BUDGET))
    if isinstance(run, ScaleplanError) or run.result is None or not run.result.stable:
        return
    result = run.result
    buckets = measured_buckets(result)
    if buckets is None or result.timeseries is None:
        return
    width = float(result.timeseries.bucket_s)
    arrived = round(math.fsum(result.timeseries.system.arrivals_per_s[buckets]) * width)
    seconds = (buckets.stop - buckets.start) * width
    low, high = poisson_interval_999(arrived)
    assert low <= rate * seconds <= high, (arrival, arrived, rate * seconds)


@timeout
@examples(8)
@given(architectures(exclude=excluded("compare")))
def test_spike_limit_of_any_architecture(example: Example) -> None:
    """How big a spike (issue 10) on random architectures: each search's bracket is
    consistent (every factor that held lies below every factor that broke), the interval
    contains the limit, nothing goes beyond the ceiling, one seed gives one answer."""
    spec = example.spec
    if spec.workload.closed:
        event("closed: a profile has no rate to scale")
        return
    rate = spec.workload.mean_rate_per_s
    unit = max(0.05, BUDGET / (4 * 6 * rate)) if rate > 0 else 1.0
    profile = ProfileSpec.model_validate(
        {
            "phases": [
                {"name": "before", "duration_s": unit, "steady": {"factor": 1}},
                {"name": "spike", "duration_s": 2 * unit, "spike": {"factor": 2, "rise_s": unit}},
                {"name": "after", "duration_s": unit, "steady": {"factor": 1}},
            ]
        }
    )
    shaped = with_profile(spec, profile, rate)
    slos = NFRSpec.from_slos(("p99<=2000ms", "errors<=5%")).slos

    def run() -> Any:
        return spike_limit(
            shaped,
            slos,
            searches=2,
            replications=2,
            seed=3,
            tolerance=0.25,
            max_factor=8,
            workers=1,
        )

    found = attempt(run)
    if isinstance(found, ScaleplanError):
        return
    event(f"spike limit {'below' if found.below_lowest else 'found'}")
    assert found.phase == "spike" and found.declared_factor == 2
    assert all(0.0 <= limit <= 8.0 for limit in found.limits)
    assert found.ci95[0] <= found.limit + 1e-9 and found.limit <= found.ci95[1] + 1e-9
    for search in range(2):
        steps = [step for step in found.steps if step.search == search]
        assert all(step.factor <= 8.0 for step in steps)
        held = [step.factor for step in steps if step.held]
        broke = [step.factor for step in steps if not step.held]
        if held and broke:
            assert max(held) < min(broke), steps
        for step in steps:
            assert step.held == (step.broken == "")
    json.dumps(found.to_dict(), allow_nan=False)
    assert run() == found


@timeout
@examples(25)
@given(architectures(exclude=excluded("cli"), overload=0.3, bias=FAULTS))
def test_cli_exit_codes(example: Example) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = write_spec(example, folder)
        # validate runs simulate's pre-run checks: it refuses (2) exactly what simulate
        # refuses before it starts (2, or 1 with its --run-anyway hint).
        validated, said = cli(["validate", path, "--requests", str(BUDGET)])
        assert validated in (0, 2), said
        code, output = cli(["estimate", path, "--json"])
        assert code in (0, 2), output
        if code == 0:
            json.loads(output)
        code, output = cli(["simulate", path, "--requests", str(BUDGET), "--json"])
        assert code in (0, 1, 2), output
        assert "Traceback" not in output
        refused = code == 2 or (code == 1 and "--run-anyway" in output)
        assert (validated == 2) == refused, (said, output)
        if code == 0:
            json.loads(output)
        overloaded = example.overloaded and not bounded(example.spec, example.bottleneck)
        if overloaded:
            assert code == 1 and "unstable" in output, output
        hours = failure_hours(example.spec)
        args = ["--replications", "2", "--duration-h", str(hours), "--probes", "100"]
        code, output = cli(["failures", path, *args, "--availability", "99.9"])
        assert code in (0, 2), output
        assert "Traceback" not in output


@timeout
@examples(3)
@given(architectures(exclude=excluded("cli"), overload=0.5))
def test_cli_subprocess(example: Example) -> None:
    """The real console script: exit codes and no traceback."""
    with tempfile.TemporaryDirectory() as folder:
        path = write_spec(example, folder)
        done = subprocess.run(
            [sys.executable, "-m", "scaleplan", "simulate", path, "--requests", str(BUDGET)],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=ROOT,
        )
        assert done.returncode in (0, 1, 2), done.stderr
        assert "Traceback" not in done.stderr + done.stdout
        if done.returncode != 0:
            assert done.stderr.strip()


# --------------------------------------------------------------------------- monitoring

#: Objectives of every kind the monitoring design alerts on (two bounds, one a whole second).
APM_NFRS = {
    "slos": ["p99<=250ms", "p95<=1s", "errors<=0.1%", "mean<=80ms"],
    "availability": {"min_percent": 99.9},
}


@timeout
@examples(6)
@given(architectures(exclude=excluded()))
def test_monitoring_rules_pass_promtool(example: Example) -> None:
    """``scaleplan apm``'s instrumentation plan and rules for any architecture: every component
    planned, every bound a bucket edge, and ``promtool check rules`` accepts the rules (the
    capacity thresholds stand in for a pull's, on the analytic bottleneck)."""
    from _apm import run_promtool

    from scaleplan.apm.capacity import CapacityThreshold
    from scaleplan.apm.instruments import instrumentation_plan
    from scaleplan.apm.objectives import objectives
    from scaleplan.apm.rules import make_rules
    from scaleplan.spec import NFRSpec

    spec = example.spec
    watched = objectives(NFRSpec.model_validate(APM_NFRS))
    plan = instrumentation_plan(
        spec, [o.threshold_s for o in watched if o.kind in ("latency", "mean")]
    )
    assert [c.name for c in plan.components] == list(spec.components)
    assert {0.25, 1.0, 0.08} <= set(plan.buckets_s)
    component = example.bottleneck.split("/")[0]
    capacity = (
        CapacityThreshold("BottleneckAtLimit", "utilisation", component, 0.8, "page", 300.0, "-"),
        CapacityThreshold(
            "BottleneckQueueBreachesSLO", "queue depth", component, 10.0, "page", 300.0, "-"
        ),
        CapacityThreshold("CapacityRunwayEnding", "load", "", 100.0, "ticket", 0.0, "-"),
    )
    rules = make_rules(plan, watched, capacity)
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "rules.yml").write_text(rules.to_yaml(), encoding="utf-8")
        checked = run_promtool("check", "rules", "rules.yml", cwd=Path(folder))
    assert checked.returncode == 0, checked.stdout + checked.stderr


# --------------------------------------------------------------------------- the generator


@examples(50)
@given(architectures(exclude=excluded()))
def test_generated_architectures_are_valid(example: Example) -> None:
    """The generator's contract: a valid spec, at most eight components (and the load
    balancer's service), its YAML reading back to the same spec."""
    spec = example.spec
    assert len(spec.components) <= 9
    assert build_graph(spec) is not None
    limit, station = bottleneck(spec)
    assert (limit, station) == (example.bound_per_s, example.bottleneck)
    again = parse_spec(yaml.safe_load(yaml.safe_dump(example.data)), source="<composition>")
    assert again.model_dump() == spec.model_dump()


# --------------------------------------------------------------------------- found cases
#
# Each is the minimal spec of a failure the generator found, shrunk by hand where Hypothesis
# was slow to, and kept as a fixed case.


def components_spec(components: dict[str, Any], entry: str, rate: float = 10.0) -> Any:
    return parse_spec(
        {
            "name": "found",
            "workload": {"rate_per_s": rate, "requests": BUDGET},
            "entry": entry,
            "components": components,
        }
    )


def service(mean_ms: float = 10.0, **extra: Any) -> dict[str, Any]:
    return {"kind": "service", "service_time": {"dist": "exponential", "mean_ms": mean_ms}, **extra}


def test_found_share_of_downtime_of_an_optional_component_is_at_most_1() -> None:
    # Found by the composition test: a component's share of the system's downtime counted all
    # its own downtime, so one that is not required got shares far above 1.
    spec = components_spec(
        {
            "front": service(
                calls=[{"to": "extra", "probability": 0.5}],
                failures={"mtbf_h": 1, "mttr_min": 3},
            ),
            "extra": service(failures={"mtbf_h": 0.1, "mttr_min": 20}),
        },
        entry="front",
    )
    result = failures(spec, seed=5, replications=2, duration_h=5, probes=200)
    assert result.required == ("front",)
    for component in result.components:
        in_unit(component.share_of_system_downtime, f"{component.name} share of downtime")
