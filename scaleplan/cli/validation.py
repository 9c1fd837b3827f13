"""What ``scaleplan validate`` checks and says of each kind of file.

A file is loaded as its kind's command loads it (every problem of it and of every file it
names, in one :class:`~scaleplan.errors.SpecError`), then put through the checks the command
that runs it makes before it starts (:mod:`scaleplan.preflight`): an architecture as
``simulate`` would run it, a scenario as ``compare`` would (its budget, each candidate at
peak), a DR file and a rollout plan on their own (their runs refuse nothing beyond their
loading). :func:`check_file` returns the lines to print and the refusals, each naming its
reason; the command prints them and exits 2 when there is a refusal.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from scaleplan.cli.console import literal, plain
from scaleplan.errors import Problem, SpecError

if TYPE_CHECKING:
    from scaleplan.preflight import CandidateCheck
    from scaleplan.spec import ArchitectureSpec

GIVEN = "given with --kind"
_RUN_ANYWAY = " (simulate --run-anyway runs it regardless)"


def kind_of_file(path: Path, given: str | None) -> tuple[str, str]:
    """The kind to read ``path`` as, and why: ``--kind``, else told from its keys."""
    from scaleplan.spec.schema import FILE_KINDS, detect_kind, unknown_kind

    if given is not None:
        if given not in FILE_KINDS:
            raise typer.BadParameter(plain(unknown_kind(given)), param_hint="'--kind'")
        return given, GIVEN
    from scaleplan.spec import read_yaml

    data, _ = read_yaml(path)
    return detect_kind(data)


def check_file(
    path: Path,
    kind: str,
    why: str,
    *,
    rate_per_s: float | None = None,
    requests: int | None = None,
    replications: int = 1,
) -> tuple[list[str], list[str]]:
    """The lines ``validate`` prints for ``path`` read as ``kind``, and the refusals."""
    from scaleplan.spec.schema import FILE_KINDS

    try:
        loaded = FILE_KINDS[kind].load(path)
    except SpecError as error:
        if why == GIVEN or why.startswith("it has"):
            raise
        # Read as the kind its keys suggest: say so, since another kind reads other keys.
        note = f"read as a {kind} file ({why}); give --kind to read it as another kind"
        raise SpecError([*error.problems, Problem(path.name, "", note)]) from None
    if kind == "architecture":
        return _architecture(
            loaded, path, rate_per_s=rate_per_s, requests=requests, replications=replications
        )
    if kind == "scenario":
        return _scenario(loaded, path)
    if kind == "dr":
        return [_dr(loaded, path)], []
    return [_rollout(loaded, path)], []


def _architecture(
    architecture: Any,
    path: Path,
    *,
    rate_per_s: float | None,
    requests: int | None,
    replications: int,
) -> tuple[list[str], list[str]]:
    from scaleplan.engine import UnstableError
    from scaleplan.graph import build_graph
    from scaleplan.load import busiest, station_loads
    from scaleplan.preflight import check_run

    check = check_run(
        architecture, rate_per_s=rate_per_s, requests=requests, replications=replications
    )
    if check.refused:
        # simulate would not start: its reason is the answer (the summary needs a rate).
        hint = _RUN_ANYWAY if isinstance(check.refusal, UnstableError) else ""
        return [], [
            f"{path.name}: simulate would refuse it before it starts: {check.refusal}{hint}"
        ]
    graph = build_graph(architecture)
    workload = architecture.workload
    if workload.closed:
        # Its users send what they manage: the busiest station at the rate MVA gives them.
        from scaleplan.analytic import estimate

        rate = estimate(architecture).throughput_per_s
        sending = f"; {workload.total_users} users send about {rate:.4g} requests/s"
        station = busiest(station_loads(architecture, graph, rate))
        where = f"{station.name} at {station.load:.0%}{sending}" if station is not None else "none"
    else:
        where = check.busiest_text(architecture)
    # Exits end a visit early: they have no edge in the graph, so they are counted apart.
    exits = sum(
        call.exit
        for component in architecture.components.values()
        for call in getattr(component, "calls", ())
    )
    exited = f", {exits} exit{'s' if exits != 1 else ''}" if exits else ""
    lines = [
        f"[green]ok[/green] {literal(path)}: {literal(architecture.name)}, {len(graph)} "
        f"components, {graph.number_of_edges()} calls{exited}; busiest station: {literal(where)}"
    ]
    lines.extend(f"[yellow]warning:[/yellow] {literal(warning)}" for warning in check.warnings)
    return lines, []


def _scenario(scenario: Any, path: Path) -> tuple[list[str], list[str]]:
    from scaleplan.engine import UnstableError
    from scaleplan.preflight import check_scenario

    checked = check_scenario(scenario)
    workload = scenario.workload
    peak = (
        f"{workload.peak_users:,} users"
        if workload.closed
        else f"{workload.peak_rate_per_s:g} requests/s"
    )
    files = [
        str(scenario.resilience_file(key).name)
        for key in ("dr", "rollout")
        if scenario.resilience_file(key) is not None
    ]
    named = f"; resilience: {', '.join(files)}" if files else ""
    lines = [
        f"[green]ok[/green] {literal(path)}: {literal(scenario.title)}; "
        f"{len(scenario.candidates)} candidates at a peak of {peak}{literal(named)}"
    ]
    specs = scenario.architectures()
    for candidate in checked.candidates:
        check = candidate.peak
        name = literal(candidate.name)
        if isinstance(check.refusal, UnstableError):
            unstable = check.refusal.unstable
            lines.append(
                f"  [yellow]{name}: refused at peak[/yellow]: "
                f"{literal(f'{unstable.component}: {unstable.reason}')}; compare fails its "
                "SLOs without a run"
            )
        elif check.refused:
            lines.append(f"  [red]{name}: cannot be simulated[/red] (refused below)")
        else:
            where = check.busiest_text(specs[candidate.name])
            lines.append(f"  {name}: busiest station at peak: {literal(where)}")
            lines.extend(
                f"  [yellow]warning:[/yellow] {name}: {literal(warning)}"
                for warning in check.warnings
            )
        lines.extend(_at_profile_peak(candidate, specs[candidate.name]))
    lines.extend(_rollout_fits(scenario))
    refusals = [
        f"{path.name}: compare would refuse it before it runs: {why}" for why in checked.refusals
    ]
    return lines, refusals


def _at_profile_peak(candidate: CandidateCheck, spec: ArchitectureSpec) -> list[str]:
    """The candidate at its load profile's highest rate, with that phase's class mix: an
    overload there is said, not refused (the transient run goes through it and shows whether
    the candidate recovers)."""
    from scaleplan.engine import UnstableError

    check = candidate.profile_peak
    if check is None:
        return []
    name = literal(candidate.name)
    at = (
        f"the profile's peak (phase {literal(candidate.profile_phase)}, "
        f"{check.rate_per_s:,.4g} requests/s)"
    )
    if isinstance(check.refusal, UnstableError):
        unstable = check.refusal.unstable
        return [
            f"  [yellow]{name}: overloaded at {at}[/yellow]: "
            f"{literal(f'{unstable.component}: {unstable.reason}')}; the run through the "
            "profile shows whether it recovers"
        ]
    station = check.busiest
    if station is None or not math.isfinite(station.load):
        return []
    return [f"  {name}: busiest station at {at}: {literal(check.busiest_text(spec))}"]


def _rollout_fits(scenario: Any) -> list[str]:
    """A rollout plan whose component a candidate lacks: the record leaves its release out."""
    plan = scenario.resilience_file("rollout")
    if plan is None:
        return []
    from scaleplan.spec.rollout import load_rollout

    component = load_rollout(plan).component
    if component is None:
        return []
    lines = []
    for name, spec in scenario.architectures().items():
        target = spec.components.get(component)
        if target is None or target.kind != "service":
            found = "has no such component" if target is None else f"has it as a {target.kind}"
            lines.append(
                f"  [yellow]warning:[/yellow] {literal(plan.name)} rolls out service "
                f"{literal(repr(component))}; candidate {literal(name)} {found}, so its "
                "release is left out of the record if it is chosen"
            )
    return lines


def _dr(spec: Any, path: Path) -> str:
    objectives = [
        objective.describe(key)
        for key, objective in (("RPO", spec.nfrs.rpo), ("RTO", spec.nfrs.rto))
        if objective is not None
    ]
    strategies = ", ".join(strategy.name for strategy in spec.strategies)
    return (
        f"[green]ok[/green] {literal(path)}: {literal(spec.title)}; "
        f"{len(spec.strategies)} strategies ({literal(strategies)}), "
        f"{spec.disasters.count:,} disasters"
        + (f"; objectives {literal(', '.join(objectives))}" if objectives else "")
    )


def _rollout(plan: Any, path: Path) -> str:
    component = plan.component or "the service behind the entry"
    steps = (
        ", steps " + ", ".join(f"{step:.0%}" for step in plan.canary.steps)
        if plan.strategy == "canary"
        else ""
    )
    rollback = "no automatic rollback"
    if plan.rollback is not None:
        rule = plan.rollback
        breaches = []
        if rule.max_error_rate is not None:
            breaches.append(f"{100 * rule.max_error_rate:g}% errors")
        if rule.max_latency_ratio is not None:
            breaches.append(f"{rule.max_latency_ratio:g}× the p99 before")
        rollback = "rollback at " + (" or ".join(breaches) or "no breach")
    return (
        f"[green]ok[/green] {literal(path)}: {plan.strategy} of {literal(component)}{steps}; "
        f"{rollback}"
    )
