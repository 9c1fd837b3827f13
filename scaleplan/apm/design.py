"""The monitoring design of a scenario's chosen option, from its comparison.

:func:`design` builds everything ``scaleplan apm`` writes from a comparison that has already
run (the decision record's evidence holds one): the objectives, the instrumentation plan, the
capacity thresholds and the rules. No simulation happens there. :func:`make_design` runs the
comparison first: the candidate is the one it recommends (as for ``scaleplan loadtest``:
:func:`scaleplan.loadtest.make.choose_candidate`), or the one named, or the only one; a
named or only candidate is measured alone, with the scenario's settings, for the pull and
runway its capacity alerts come from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scaleplan.apm.capacity import CapacityThreshold, capacity_thresholds
from scaleplan.apm.instruments import InstrumentationPlan, instrumentation_plan
from scaleplan.apm.objectives import Objective, objectives, unwatched
from scaleplan.apm.rules import RuleSet, make_rules
from scaleplan.experiments import CandidateResult, ComparisonResult
from scaleplan.experiments._common import ExecutorLike
from scaleplan.progress import Progress
from scaleplan.spec import ArchitectureSpec, ScenarioSpec

__all__ = ["MonitoringDesign", "design", "make_design"]


@dataclass(frozen=True)
class MonitoringDesign:
    """What to measure, the objectives and the rules for one candidate of a scenario."""

    scenario: ScenarioSpec
    spec: ArchitectureSpec
    candidate: CandidateResult
    recommended: bool
    objectives: tuple[Objective, ...]
    unwatched: tuple[str, ...]
    plan: InstrumentationPlan
    capacity: tuple[CapacityThreshold, ...]
    rules: RuleSet
    notes: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.spec.name


def design(
    scenario: ScenarioSpec, comparison: ComparisonResult, name: str | None = None
) -> MonitoringDesign:
    """The monitoring design of ``name`` (default: the recommended candidate) from a
    comparison that measured it. Raises KeyError when the comparison lacks it."""
    chosen = name if name is not None else comparison.recommended
    if chosen is None:
        raise KeyError("no candidate is recommended")
    candidate = comparison.candidate(chosen)
    spec = scenario.architectures()[chosen]
    classes = [c.name for c in spec.workload.classes]
    # An objective for a request class this candidate lacks is not watched (as the pull
    # ignores it), rather than read off all its requests.
    skipped = [
        f"{o.text}: {chosen} has no request class {o.request_class!r}, so it is not watched"
        for o in objectives(scenario.nfrs)
        if o.request_class is not None and o.request_class not in classes
    ]
    watched = tuple(
        o
        for o in objectives(scenario.nfrs)
        if o.request_class is None or o.request_class in classes
    )
    thresholds = [o.threshold_s for o in watched if o.kind in ("latency", "mean")]
    routes = {c: scenario.loadtest.request_for(c).path for c in classes}
    plan = instrumentation_plan(
        spec,
        thresholds,
        predicted_p50_s=candidate.metrics.get("p50_ms", math.nan) / 1000.0,
        predicted_p99_s=candidate.metrics.get("p99_ms", math.nan) / 1000.0,
        routes=routes,
    )
    capacity, notes = capacity_thresholds(scenario, spec, candidate, watched)
    class_entries: dict[str | None, list[str]] = {None: list(plan.entries)}
    for cls, entry, _ in spec.entries():
        class_entries.setdefault(cls, []).append(entry)
    rules = make_rules(plan, watched, capacity, class_entries=class_entries)
    return MonitoringDesign(
        scenario=scenario,
        spec=spec,
        candidate=candidate,
        recommended=chosen == comparison.recommended,
        objectives=watched,
        unwatched=unwatched(scenario.nfrs),
        plan=plan,
        capacity=capacity,
        rules=rules,
        notes=(*skipped, *notes, *rules.notes),
    )


def _alone(scenario: ScenarioSpec, name: str) -> ScenarioSpec:
    """The scenario with ``name`` as its only candidate (its baseline too)."""
    kept = tuple(c for c in scenario.candidates if c.label == name)
    run = scenario.run.model_copy(update={"baseline": None})
    return scenario.model_copy(update={"candidates": kept, "run": run})


def make_design(
    scenario: ScenarioSpec,
    candidate: str | None = None,
    *,
    seed: int | None = None,
    budget: int | None = None,
    workers: int | None = None,
    executor: ExecutorLike | None = None,
    progress: Progress | None = None,
) -> MonitoringDesign:
    """Compare (or measure the named candidate alone), then :func:`design`.

    ``seed`` and ``budget`` override ``run.seed`` and the requests per run as
    ``scaleplan decide`` does (:func:`scaleplan.report.provenance.resolve_budget`), so the
    same options give the same figures as the decision record's appendix.
    """
    from scaleplan.experiments import compare
    from scaleplan.loadtest.make import choose_candidate
    from scaleplan.report.provenance import resolve_budget

    run = resolve_budget(scenario, seed=seed, budget=budget)
    settings = run.compare_settings()
    name, comparison = choose_candidate(
        scenario,
        candidate,
        settings=settings,
        workers=workers,
        executor=executor,
        progress=progress,
        purpose="monitor",
    )
    if comparison is None:
        comparison = compare(
            _alone(scenario, name), settings, workers=workers, executor=executor, progress=progress
        )
    return design(scenario, comparison, name)
