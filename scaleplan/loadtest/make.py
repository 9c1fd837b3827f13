"""The load-test plan of a scenario: the candidate, its limit and the predicted steps.

:func:`make_plan` picks the candidate (the one :func:`~scaleplan.experiments.compare`
recommends, unless named; a scenario with one candidate needs no comparison), finds its
sustainable limit with the tractor pull under the scenario's SLOs and run budget (reusing the
comparison's pull when a comparison ran), lays the steps back to back at the scenario's
``loadtest.fractions`` of that limit, and predicts every step's figures with 95% CIs
(:func:`scaleplan.loadtest.predict.predict`). One seed gives the same plan.

A closed workload (users who think, :mod:`scaleplan.loadtest.closed`) is pulled over its users
instead (:func:`~scaleplan.experiments.pull_users.pull_users`, or the comparison's
``users_pull``); its steps are ``fraction × limit_users`` whole users, strictly increasing, each
predicted by :func:`~scaleplan.loadtest.predict.predict_users`, and the plan carries the think
time for the Locust file and the k6 script.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import ValidationError

from scaleplan.errors import Problem, ScaleplanError, SpecError
from scaleplan.experiments._common import ExecutorLike
from scaleplan.experiments.compare import CompareSettings, ComparisonResult, compare
from scaleplan.experiments.pull import PullResult, pull
from scaleplan.experiments.pull_users import UsersPullResult, pull_users
from scaleplan.loadtest.closed import (
    check_closed,
    class_shares,
    is_closed,
    step_users,
    think_time_data,
    users_spec,
)
from scaleplan.loadtest.plan import ClassRequest, LoadTestPlan, Step
from scaleplan.loadtest.predict import Prediction, predict, predict_users
from scaleplan.parallel import process_pool
from scaleplan.progress import Progress
from scaleplan.spec import ArchitectureSpec, ScenarioSpec
from scaleplan.spec.architecture import suggest, validation_problems
from scaleplan.spec.scenario import DEFAULT_CLASS, LoadTestSpec

__all__ = [
    "PlanContext",
    "check_candidate",
    "check_size",
    "choose_candidate",
    "loadtest_settings",
    "make_plan",
    "make_plan_context",
    "users_for",
]


def users_for(rate_per_s: float, user_rate_per_s: float) -> int:
    """Locust users that offer ``rate_per_s`` when each sends ``user_rate_per_s``."""
    return max(1, math.ceil(rate_per_s / user_rate_per_s - 1e-9))


@dataclass(frozen=True)
class PlanContext:
    """A plan and what made it: the candidate's spec and its pull (for the test plan's cases).

    An open plan has ``pull``, a closed one ``users_pull`` (and ``spec`` with the classes'
    own users turned into weights, :func:`scaleplan.loadtest.closed.users_spec`)."""

    plan: LoadTestPlan
    spec: ArchitectureSpec
    pull: PullResult | None
    predictions: tuple[Prediction, ...]
    users_pull: UsersPullResult | None = None
    #: What the plan's making left out (steps dropped as duplicates), for the messages.
    notes: tuple[str, ...] = ()


def _classes(scenario: ScenarioSpec, spec: ArchitectureSpec) -> tuple[ClassRequest, ...]:
    given = spec.workload.classes
    weights = {c.name: c.weight for c in given} if given else {DEFAULT_CLASS: 1.0}
    out = []
    for name, weight in weights.items():
        request = scenario.loadtest.request_for(name)
        out.append(ClassRequest(name=name, weight=weight, method=request.method, path=request.path))
    return tuple(out)


def check_candidate(scenario: ScenarioSpec, candidate: str) -> None:
    """Refuse a candidate name the scenario does not have, naming the ones it has."""
    names = scenario.names
    if candidate not in names:
        raise SpecError(
            [
                Problem(
                    scenario.source,
                    "candidates",
                    f"no candidate named {candidate!r}{suggest(candidate, names)} "
                    f"(known: {', '.join(names)})",
                )
            ]
        )


def choose_candidate(
    scenario: ScenarioSpec,
    candidate: str | None,
    *,
    settings: CompareSettings | None = None,
    workers: int | None = None,
    executor: ExecutorLike | None = None,
    progress: Progress | None = None,
    purpose: str = "load-test",
) -> tuple[str, ComparisonResult | None]:
    """The candidate named, the only one, or the one a comparison recommends (with the
    comparison; ``None`` when none ran). ``purpose`` completes "none is recommended to …"."""
    names = scenario.names
    if candidate is not None:
        check_candidate(scenario, candidate)
        return candidate, None
    if len(names) == 1:
        return names[0], None
    result = compare(scenario, settings, workers=workers, executor=executor, progress=progress)
    if result.recommended is None:
        raise ScaleplanError(
            f"{scenario.source}: no candidate passes every NFR gate, so none is recommended "
            f"to {purpose}; name one with --candidate ({', '.join(names)})"
        )
    return result.recommended, result


def _choose(
    scenario: ScenarioSpec,
    candidate: str | None,
    workers: int | None,
    executor: ExecutorLike | None,
    progress: Progress | None,
) -> tuple[str, PullResult | None, UsersPullResult | None]:
    """The candidate under test and, when a comparison chose it, the comparison's pull (over
    the rate, or over the users for a closed workload; None when it has none)."""
    name, result = choose_candidate(
        scenario, candidate, workers=workers, executor=executor, progress=progress
    )
    if result is None:
        return name, None, None
    chosen = result.candidate(name)
    return name, chosen.pull, chosen.users_pull


def loadtest_settings(
    scenario: ScenarioSpec,
    *,
    host: str | None = None,
    step_s: float | None = None,
    settle_s: float | None = None,
    fractions: Sequence[float] | None = None,
) -> LoadTestSpec:
    """The scenario's ``loadtest`` section with the options given instead of its keys.

    The overrides go through the section's own validation (increasing fractions, settle_s
    shorter than step_s), so a bad option gets the same message as a bad key.
    """
    settings = scenario.loadtest
    overrides = {
        key: value
        for key, value in (
            ("host", host),
            ("step_s", step_s),
            ("settle_s", settle_s),
            ("fractions", tuple(fractions) if fractions is not None else None),
        )
        if value is not None
    }
    if overrides:
        data = {**settings.model_dump(), **overrides}
        try:
            settings = LoadTestSpec.model_validate(data)
        except ValidationError as error:
            problems = validation_problems(error, data, scenario.source, {}, root=LoadTestSpec)
            raise SpecError(
                [
                    Problem(
                        p.file,
                        f"loadtest.{p.key_path}" if p.key_path else "loadtest",
                        f"{p.message} (with the options given)",
                    )
                    for p in problems
                ]
            ) from None
    return settings


#: Test cases simulated beside the steps: peak, twice the peak, the failover variant at peak.
CASE_RATES = 3


def check_size(scenario: ScenarioSpec, settings: LoadTestSpec, candidate: str | None) -> None:
    """Refuse a plan whose predictions would take too long to simulate: ``run.replications``
    runs of ``run.requests`` at every step and test case, for the candidate (or, before the
    comparison has chosen one, for each)."""
    from scaleplan.runsize import count, refuse_if_too_long

    run = scenario.run
    runs = run.replications * (len(settings.fractions) + CASE_RATES)
    specs = scenario.architectures()
    for name in [candidate] if candidate is not None else scenario.names:
        refuse_if_too_long(
            [(specs[name], float(run.requests) * runs)],
            what=(
                f"{count(run.requests)} requests × {run.replications} replications × "
                f"({len(settings.fractions)} steps + {CASE_RATES} test cases) of {name!r}"
            ),
            source=scenario.source,
            key="run.requests",
            fix="lower it, run.replications or the steps (loadtest.fractions)",
        )


def make_plan_context(
    scenario: ScenarioSpec,
    candidate: str | None = None,
    *,
    host: str | None = None,
    step_s: float | None = None,
    settle_s: float | None = None,
    fractions: Sequence[float] | None = None,
    seed: int | None = None,
    workers: int | None = None,
    executor: ExecutorLike | None = None,
    progress: Progress | None = None,
) -> PlanContext:
    """:func:`make_plan` with the candidate's spec, pull and predictions beside the plan."""
    settings = loadtest_settings(
        scenario, host=host, step_s=step_s, settle_s=settle_s, fractions=fractions
    )
    run = scenario.run
    seed = run.seed if seed is None else seed
    pool = process_pool(workers, 64) if executor is None else None
    where = executor or pool
    try:
        name, pulled, by_users = _choose(scenario, candidate, workers, where, progress)
        spec = scenario.architectures()[name]
        if is_closed(scenario):
            return _closed_context(scenario, settings, name, spec, by_users, seed, where, progress)
        if pulled is None:
            pulled = pull(
                spec,
                scenario.nfrs,
                seed=seed,
                requests=run.pull_requests,
                replications=run.pull_replications,
                precision=run.precision,
                curve=(),
                workers=workers,
            )
        limit = pulled.limit_per_s
        if not (math.isfinite(limit) and limit > 0):
            raise ScaleplanError(
                f"{scenario.source}: the tractor pull found no sustainable limit for {name!r} "
                f"(got {limit!r}: {pulled.failure_detail or pulled.failure_mode}); "
                "there is no load to step up to"
            )
        rates = [fraction * limit for fraction in settings.fractions]
        predictions = predict(
            spec,
            rates,
            scenario.nfrs.slos,
            seed=seed,
            replications=run.replications,
            requests=run.requests,
            bound_per_s=pulled.analytic_bound_per_s,
            window=(settings.settle_s, settings.step_s - settings.settle_s),
            executor=where,
            progress=progress,
        )
    finally:
        if pool is not None:
            pool.shutdown()
    steps = tuple(
        Step(
            index=index,
            phase="stress",
            start_s=index * settings.step_s,
            duration_s=settings.step_s,
            settle_s=settings.settle_s,
            users=users_for(prediction.rate_per_s, settings.user_rate_per_s),
            rate_per_s=prediction.rate_per_s,
            predicted=prediction.predicted,
            busiest=prediction.busiest,
            busiest_utilization=prediction.busiest_utilization,
            meets_slos=prediction.meets_slos,
        )
        for index, prediction in enumerate(predictions)
    )
    low, high = pulled.limit_ci95
    plan = LoadTestPlan(
        scenario=scenario.source,
        candidate=name,
        host=settings.host,
        classes=_classes(scenario, spec),
        user_rate_per_s=settings.user_rate_per_s,
        slos=tuple(slo.text for slo in scenario.nfrs.slos),
        limit_per_s=limit,
        limit_ci95=(low, high) if math.isfinite(low) and math.isfinite(high) else None,
        bottleneck=pulled.bottleneck,
        steps=steps,
    )
    return PlanContext(plan=plan, spec=spec, pull=pulled, predictions=tuple(predictions))


def _closed_context(
    scenario: ScenarioSpec,
    settings: LoadTestSpec,
    name: str,
    spec: ArchitectureSpec,
    pulled: UsersPullResult | None,
    seed: int,
    executor: ExecutorLike | None,
    progress: Progress | None,
) -> PlanContext:
    """The plan of a closed workload: steps in users (see the module docstring)."""
    check_closed(scenario, spec)
    run = scenario.run
    spec = users_spec(spec)
    if pulled is None:
        pulled = pull_users(
            spec,
            scenario.nfrs,
            seed=seed,
            requests=run.pull_requests,
            replications=run.pull_replications,
            progress=progress,
        )
    limit = pulled.limit_users
    if not (math.isfinite(limit) and limit >= 1):
        raise ScaleplanError(
            f"{scenario.source}: the tractor pull over users found no sustainable limit for "
            f"{name!r} (got {limit!r} users: not even one user meets every SLO); there is no "
            "load to step up to"
        )
    counts, notes = step_users(settings.fractions, limit)
    predictions = predict_users(
        [(users, users_spec(spec, users)) for users in counts],
        scenario.nfrs.slos,
        seed=seed,
        replications=run.replications,
        requests=run.requests,
        window=(settings.settle_s, settings.step_s - settings.settle_s),
        executor=executor,
        progress=progress,
    )
    steps = tuple(
        Step(
            index=index,
            phase="stress",
            start_s=index * settings.step_s,
            duration_s=settings.step_s,
            settle_s=settings.settle_s,
            users=users,
            rate_per_s=prediction.rate_per_s,
            predicted=prediction.predicted,
            busiest=prediction.busiest,
            busiest_utilization=prediction.busiest_utilization,
            meets_slos=prediction.meets_slos,
        )
        for index, (users, prediction) in enumerate(zip(counts, predictions, strict=True))
    )
    low, high = pulled.limit_ci95
    t_low, t_high = pulled.throughput_ci95
    plan = LoadTestPlan(
        scenario=scenario.source,
        candidate=name,
        host=settings.host,
        classes=_classes(scenario, spec),
        workload="closed",
        think_time=think_time_data(spec),
        class_users=class_shares(spec),
        slos=tuple(slo.text for slo in scenario.nfrs.slos),
        limit_per_s=pulled.throughput_per_s if math.isfinite(pulled.throughput_per_s) else None,
        limit_ci95=(t_low, t_high) if math.isfinite(t_low) and math.isfinite(t_high) else None,
        limit_users=limit,
        limit_users_ci95=(low, high) if math.isfinite(low) and math.isfinite(high) else None,
        bottleneck=pulled.bottleneck,
        steps=steps,
    )
    return PlanContext(
        plan=plan,
        spec=spec,
        pull=None,
        users_pull=pulled,
        predictions=tuple(predictions),
        notes=tuple(notes),
    )


def make_plan(
    scenario: ScenarioSpec,
    candidate: str | None = None,
    *,
    host: str | None = None,
    step_s: float | None = None,
    settle_s: float | None = None,
    fractions: Sequence[float] | None = None,
    seed: int | None = None,
    workers: int | None = None,
    executor: ExecutorLike | None = None,
    progress: Progress | None = None,
) -> LoadTestPlan:
    """The load-test plan of ``scenario``'s candidate (see the module docstring).

    Parameters
    ----------
    scenario : ScenarioSpec
        A loaded scenario; its ``loadtest`` section gives the defaults of the options below,
        its ``run`` section the seed and the budget of the pull and of each step's prediction.
    candidate : str, optional
        The candidate to test (default: the recommended one of a comparison).
    host, step_s, settle_s, fractions : optional
        Overrides of the scenario's ``loadtest`` keys.
    seed : int, optional
        Overrides ``run.seed`` for the pull and the predictions (a comparison keeps the
        scenario's seed).
    workers : int, optional
        Local processes (default: every available core; 1: this process). The plan does not
        depend on it.
    executor : executor-like, optional
        Run the simulations there instead (a ``concurrent.futures`` executor or Dask client).
    progress : callable, optional
        ``progress(done, total)`` as simulations finish.
    """
    return make_plan_context(
        scenario,
        candidate,
        host=host,
        step_s=step_s,
        settle_s=settle_s,
        fractions=fractions,
        seed=seed,
        workers=workers,
        executor=executor,
        progress=progress,
    ).plan
