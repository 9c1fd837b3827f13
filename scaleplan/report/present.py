"""Presenting the chosen option's downtime: rollouts, disaster recovery and failures.

Functions over the :class:`~scaleplan.report.record.Evidence` of a comparison that run the
resilience experiments for the chosen option (:func:`scaleplan.experiments.rollout.deploy`,
:func:`scaleplan.experiments.dr.recovery`, :func:`scaleplan.experiments.availability.failures`)
and return Markdown and figures for the "Present" notebook and, through :func:`resilience`,
for the decision record (when the scenario's ``resilience`` keys name a DR file or a release
plan). They hold the little glue a notebook must not: which option, which plans, which columns.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scaleplan.report.markup import Markdown, records_table, text
from scaleplan.spec import ArchitectureSpec

if TYPE_CHECKING:
    from scaleplan.experiments.availability import FailuresResult
    from scaleplan.experiments.dr import RecoveryResult
    from scaleplan.experiments.rollout import RolloutResult
    from scaleplan.report.record import Evidence

#: Strategies compared when the chosen option is rolled out.
STRATEGIES = ("rolling", "blue_green", "canary")
ROLLOUT_COLUMNS = {
    "strategy": "strategy",
    "seed": "seed",
    "bad": "bad release",
    "rolled_back": "rolled back",
    "deploy_duration_s": "duration (s)",
    "min_capacity_share": "lowest capacity",
    "failed_during": "failed requests",
    "blast_radius": "blast radius",
    "latency_during_p99_ms": "p99 during (ms, 95% CI)",
    "extra_replica_hours": "extra replica-hours",
}
RECOVERY_COLUMNS = {
    "strategy": "strategy",
    "kind": "kind",
    "rpo_p99_min": "RPO p99 (min, 95% CI)",
    "rto_p50_min": "RTO p50 (min, 95% CI)",
    "rto_p99_min": "RTO p99 (min, 95% CI)",
    "downtime_min_per_year": "downtime (min/year)",
    "cost_per_month": "cost per month",
    "verdicts": "verdicts",
}


def chosen_name(evidence: Evidence) -> str:
    """The recommended option, or the baseline when none passes the gates."""
    comparison = evidence.comparison
    return comparison.recommended or comparison.baseline


def chosen_spec(evidence: Evidence) -> ArchitectureSpec:
    """The chosen option's architecture (with the scenario's workload)."""
    return evidence.scenario.architectures()[chosen_name(evidence)]


def rollouts(
    evidence: Evidence,
    plan: str | Path,
    *,
    strategies: Sequence[str] = STRATEGIES,
    seeds: int = 1,
) -> RolloutResult:
    """Deploy a release of the chosen option with each strategy of ``plan``, paired by seed,
    at today's mean load (deployments are done off-peak; a closed workload: today's users)."""
    from scaleplan.experiments.rollout import deploy
    from scaleplan.spec.rollout import load_rollout

    loaded = load_rollout(plan)
    return deploy(
        chosen_spec(evidence),
        [loaded.with_strategy(strategy) for strategy in strategies],
        seed=evidence.settings.seed,
        replications=seeds,
        # A closed workload deploys with today's users (the spec's own), not at a rate.
        rate_per_s=None if evidence.comparison.closed else evidence.comparison.today_rate_per_s,
    )


def _heading(level: int) -> str:
    return "#" * level + " "


def rollout_section(evidence: Evidence, result: RolloutResult, *, level: int = 2) -> list[Any]:
    """The rollout comparison: one row per strategy and seed, and the deploy drawn (under a
    heading of ``level``)."""
    from scaleplan.views import figure_rollout

    users = evidence.comparison.today_users
    load = (
        f"with today's {users:,} users (about {result.rate_per_s:,.0f} requests/s)"
        if users is not None
        else f"at {result.rate_per_s:,.0f} requests/s"
    )
    head = Markdown(
        f"{_heading(level)}Rolling out {text(chosen_name(evidence))}\n\n"
        f"A release of **{text(result.component)}** ({result.replicas} replicas) {load}, "
        "with each strategy under the same seeds (so the "
        "same release, good or bad). The blast radius is the share of requests since the "
        "deploy began that reached a bad replica."
        + "".join(f" {text(note)}." for note in result.notes)
        + "\n\n"
        + records_table(
            [_with_intervals(row, ROLLOUT_COLUMNS) for row in result.records()], ROLLOUT_COLUMNS
        )
    )
    return [head, figure_rollout(result)]


def recovery_result(plan: str | Path) -> RecoveryResult:
    """Simulate the disasters of a DR file under each of its strategies."""
    from scaleplan.experiments.dr import recovery
    from scaleplan.spec.dr import load_dr

    return recovery(load_dr(plan))


def recovery_section(result: RecoveryResult, *, level: int = 2) -> list[Any]:
    """Disaster recovery: RPO and RTO per strategy against the objectives, and their spread
    (under a heading of ``level``)."""
    from scaleplan.views import figure_recovery

    notes = "".join(f"\n- {text(note)}" for note in result.notes)
    rows = [_with_intervals(row, RECOVERY_COLUMNS) for row in result.records()]
    head = Markdown(
        f"{_heading(level)}Disaster recovery: {text(result.title)}\n\n"
        f"{result.disasters:,} simulated disasters per strategy; each percentile with its "
        "95% confidence interval (order statistics).\n\n"
        + records_table(rows, RECOVERY_COLUMNS)
        + (f"\n\nNotes:{notes}" if notes else "")
    )
    return [head, figure_recovery(result)]


def _with_intervals(row: Mapping[str, Any], columns: Mapping[str, str]) -> dict[str, Any]:
    """``row`` with each column that has its interval's ends beside it (``key_low``,
    ``key_high``) written as ``value (low–high)``."""
    shown = dict(row)
    for key in columns:
        value, low, high = row.get(key), row.get(f"{key}_low"), row.get(f"{key}_high")
        if isinstance(value, float) and isinstance(low, float) and isinstance(high, float):
            shown[key] = f"{value:,.4g} ({low:,.4g}–{high:,.4g})"
    return shown


def _declares_failures(spec: ArchitectureSpec) -> bool:
    """Whether ``spec`` has anything to fail: a component's ``failures:`` or chaos events."""
    failing = any(
        getattr(component, "failures", None) is not None for component in spec.components.values()
    )
    return failing or bool(getattr(spec, "chaos", None))


def failures_section(
    evidence: Evidence,
    *,
    replications: int = 5,
    level: int = 2,
    result: FailuresResult | None = None,
) -> list[Any]:
    """Availability of the chosen option under the failures its spec declares, if any (under a
    heading of ``level``); ``result``: their simulation, already made with ``replications``."""
    spec = chosen_spec(evidence)
    name = text(chosen_name(evidence))
    if not _declares_failures(spec):
        return [
            Markdown(
                f"{_heading(level)}Failures and availability of {name}\n\n"
                f"The architecture of {name} declares no `failures:` (mean time between "
                "failures and to repair) on any component and no chaos events, so there is "
                "nothing to fail: its availability NFR stays *not evaluated* in the gates. Add "
                "them to its file (see `data/architectures/ha-zones.yaml`) to measure it."
            )
        ]
    if result is None:
        result = _failures(evidence, spec, replications)
    from scaleplan.views import figure_availability

    system = result.system_time
    return [
        Markdown(
            f"{_heading(level)}Failures and availability of {name}\n\n"
            f"Time availability {100 * system.mean:.4f}% (95% CI {100 * system.low:.4f}–"
            f"{100 * system.high:.4f}%), about {result.downtime_min_per_month.mean:,.1f} "
            "minutes down a month."
        ),
        figure_availability(result),
    ]


def _failures(evidence: Evidence, spec: ArchitectureSpec, replications: int) -> FailuresResult:
    from scaleplan.experiments.availability import failures

    return failures(
        spec,
        seed=evidence.settings.seed,
        replications=replications,
        availability=evidence.scenario.nfrs.availability,
    )


#: Seeds (paired releases) of the record's rollout: the "Present" notebook may compare more.
RECORD_ROLLOUT_SEEDS = 1
#: Replications of the record's failure run (the smallest that gives a CI).
RECORD_FAILURE_REPLICATIONS = 2


#: The record's resilience simulations started ahead (:func:`start_resilience`), by evidence.
_STARTED: dict[int, tuple[Evidence, dict[str, Future[Any]], Executor]] = {}


def _resilience_work(evidence: Evidence) -> dict[str, tuple[Callable[..., Any], tuple[Any, ...]]]:
    """The simulations behind the record's Resilience part, as ``name → (function, args)``:
    the release of the rollout plan's strategy, the DR file's disasters, the failures."""
    from scaleplan.spec.rollout import load_rollout

    scenario = evidence.scenario
    dr, plan = scenario.resilience_file("dr"), scenario.resilience_file("rollout")
    if (dr is None and plan is None) or evidence.comparison.recommended is None:
        return {}  # nothing asked, or no option chosen to be resilient
    work: dict[str, tuple[Callable[..., Any], tuple[Any, ...]]] = {}
    if plan is not None:
        loaded = load_rollout(plan)
        component = loaded.component
        if component is None or component in chosen_spec(evidence).components:
            work["rollout"] = (_record_rollout, (evidence, plan, loaded.strategy))
    if dr is not None:
        work["dr"] = (recovery_result, (dr,))
    spec = chosen_spec(evidence)
    if _declares_failures(spec):
        work["failures"] = (_failures, (evidence, spec, RECORD_FAILURE_REPLICATIONS))
    return work


def _record_rollout(evidence: Evidence, plan: str | Path, strategy: str) -> RolloutResult:
    return rollouts(evidence, plan, strategies=(strategy,), seeds=RECORD_ROLLOUT_SEEDS)


def start_resilience(evidence: Evidence, *, workers: int | None = None) -> None:
    """Start the simulations of the record's Resilience part on other processes now.

    They depend only on the comparison's outcome, so the record's template starts them right
    after :func:`~scaleplan.report.record.gather` and they run while the kernel draws the
    sections before them; :func:`resilience` then collects them. The numbers are the same as
    when :func:`resilience` runs them itself (same functions, same seeds). ``workers`` as for
    the comparison (1: nothing is started, :func:`resilience` runs them in this process).
    """
    from scaleplan.parallel import process_pool

    work = _resilience_work(evidence)
    pool = process_pool(workers, len(work) + 1)  # + 1: the kernel's drawing runs meanwhile
    if pool is None:
        return
    futures = {name: pool.submit(function, *args) for name, (function, args) in work.items()}
    _STARTED[id(evidence)] = (evidence, futures, pool)


def _collect(evidence: Evidence) -> dict[str, Any]:
    """The results of the simulations :func:`start_resilience` started for ``evidence``
    (none when it was not called), the pool shut down."""
    started = _STARTED.pop(id(evidence), None)
    if started is None:
        return {}
    _, futures, pool = started
    try:
        return {name: future.result() for name, future in futures.items()}
    finally:
        pool.shutdown()


def resilience(evidence: Evidence, *, level: int = 3) -> list[Any]:
    """The decision record's Resilience part: the chosen option's planned release (the
    strategy of the scenario's ``resilience.rollout`` plan only), the disaster recovery of its
    ``resilience.dr`` file and its failures — on a small run budget. Empty when the scenario
    gives neither key, so a record without them shows nothing. Simulations started ahead by
    :func:`start_resilience` are collected, the others run here."""
    from scaleplan.spec.rollout import load_rollout

    scenario = evidence.scenario
    dr, plan = scenario.resilience_file("dr"), scenario.resilience_file("rollout")
    ahead = _collect(evidence)
    if dr is None and plan is None:
        return []
    if evidence.comparison.recommended is None:
        # The Resilience part is the chosen option's: none is chosen, so none is simulated.
        return [
            Markdown(
                f"{_heading(level)}Resilience\n\nNo option is chosen (none passes every hard "
                "gate), so no release, recovery or failures are simulated: they describe the "
                "option that is run, once one is."
            )
        ]
    name = text(chosen_name(evidence))
    items: list[Any] = [
        Markdown(
            f"{_heading(level)}Resilience of {name}\n\n"
            "How the chosen option goes down and comes back: its planned release, the disaster "
            "recovery of its data and the failures its architecture declares (each simulated "
            "on a small budget; the Present notebook compares more)."
        )
    ]
    sub = level + 1
    if plan is not None:
        loaded = load_rollout(plan)
        components = chosen_spec(evidence).components
        if loaded.component is not None and loaded.component not in components:
            items.append(
                Markdown(
                    f"{_heading(sub)}Rolling out {name}\n\n"
                    f"The release plan names the component {text(loaded.component)}, which "
                    f"{name} does not have, so its release is not simulated."
                )
            )
        else:
            result = ahead.get("rollout") or _record_rollout(evidence, plan, loaded.strategy)
            items.extend(rollout_section(evidence, result, level=sub))
    if dr is not None:
        items.extend(recovery_section(ahead.get("dr") or recovery_result(dr), level=sub))
    items.extend(
        failures_section(
            evidence,
            replications=RECORD_FAILURE_REPLICATIONS,
            level=sub,
            result=ahead.get("failures"),
        )
    )
    return items
