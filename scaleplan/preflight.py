"""The checks a simulation passes before it starts, without running it: what ``validate`` says.

:func:`scaleplan.engine.simulate` refuses, before its first event, a call cycle too deep to
nest (``graph.check_nesting``), a rate override of a closed workload, a rate that is not
positive, a load that certainly exceeds a station's capacity (``load.check_stability``; a
mixed workload's open classes by ``analytic.closed.open_overload``) and a run too large to
finish (``runsize.check_simulation``), in that order. :func:`check_run` asks the same
questions through the same functions, in the same order, and returns the first refusal as
the very error ``simulate`` would raise (``tests/test_validate.py`` holds the two to the same
message), with the busiest station and the warnings a run would carry.

``compare`` measures each candidate at the scenario's peak: a candidate refused there is not
run (its SLOs fail unmeasured), and a run budget too large is refused before anything runs
(``runsize.check_scenario``). :func:`check_scenario` gives both, per candidate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from scaleplan.errors import ScaleplanError, SimulationError

if TYPE_CHECKING:
    from scaleplan.load import StationLoad
    from scaleplan.spec import ArchitectureSpec, ScenarioSpec

__all__ = ["CandidateCheck", "RunCheck", "ScenarioCheck", "check_run", "check_scenario"]


@dataclass(frozen=True)
class RunCheck:
    """What the pre-run checks of one simulation found."""

    #: The error ``simulate`` would raise before starting, or None when it would start.
    refusal: ScaleplanError | None
    #: The rate the stations are loaded at: the offered rate, or what a closed workload's
    #: users send by Mean Value Analysis (NaN when a refusal came before it was known).
    rate_per_s: float
    #: The busiest station at that rate (None without stations or before it was known).
    busiest: StationLoad | None = None
    #: What the run would say of itself in its warnings (a queue limit that rejects, an
    #: estimate at capacity).
    warnings: tuple[str, ...] = ()
    #: The replicas each autoscaled component settles on at that rate (the stations above
    #: are judged at their maximum, the certain bound).
    settled: dict[str, float] = field(default_factory=dict)

    def busiest_text(self, spec: ArchitectureSpec) -> str:
        """The busiest station in words: ``api at 75%``; an autoscaled one at the replicas
        its autoscaler settles on, with its load at its maximum beside it."""
        station = self.busiest
        if station is None or not math.isfinite(station.load):
            return "none"
        policy = getattr(spec.components[station.component], "autoscale", None)
        count = self.settled.get(station.component)
        if policy is None or count is None or not count > 0:
            return f"{station.name} at {station.load:.0%}"
        settled = station.load * policy.max_replicas / count
        return (
            f"{station.name} at {settled:.0%} on the {count:g} replicas its autoscaler settles "
            f"on ({station.load:.0%} at its maximum of {policy.max_replicas})"
        )

    @property
    def refused(self) -> bool:
        return self.refusal is not None


def check_run(
    spec: ArchitectureSpec,
    *,
    rate_per_s: float | None = None,
    requests: int | None = None,
    replications: int = 1,
    requests_key: str = "--requests",
    replications_key: str = "--replications",
    sized: bool = True,
) -> RunCheck:
    """The pre-run checks of ``simulate(spec, rate_per_s=, requests=, replications=)``.

    ``requests_key`` and ``replications_key`` name the overrides in a run-size refusal, as
    the command line names them (``simulate`` itself names its keyword arguments). Without
    ``sized`` the run's size is not checked (a scenario's budget covers its runs).
    """
    from scaleplan.engine import UnstableError
    from scaleplan.graph import build_graph, check_nesting
    from scaleplan.load import (
        busiest,
        check_stability,
        overload_warnings,
        profile_overload_warnings,
        runs_through_profile,
        station_loads,
    )
    from scaleplan.runsize import check_simulation

    nan = float("nan")
    graph = build_graph(spec)
    try:
        check_nesting(graph, spec)
    except ScaleplanError as error:
        return RunCheck(error, nan)
    warnings: list[str] = []
    if spec.workload.closed:
        from scaleplan.analytic.closed import open_overload, rough_throughput

        if rate_per_s is not None:
            refusal = SimulationError(
                f"{spec.name}: workload: a closed workload ({spec.workload.total_users} users) "
                f"has no arrival rate to override (got rate_per_s {rate_per_s}); its rate "
                "follows from its users: change workload.users instead"
            )
            return RunCheck(refusal, nan)
        try:  # only to size the run in simulate; its refusal (users sending infinitely) too
            rate = rough_throughput(spec, graph)
        except ScaleplanError as error:
            return RunCheck(error, nan)
        unstable = open_overload(spec, graph)
        if unstable is not None:
            return RunCheck(UnstableError(unstable, spec.name), rate)
        estimated = _closed_estimate(spec)
        if estimated:
            warnings.append(estimated)
    else:
        rate = float(rate_per_s if rate_per_s is not None else spec.workload.mean_rate_per_s)
        if not rate > 0:
            refusal = SimulationError(
                f"{spec.name}: rate_per_s must be greater than 0 (got {rate})"
            )
            return RunCheck(refusal, rate)
        through_profile = runs_through_profile(spec, rate_per_s, requests)
        unstable = None if through_profile else check_stability(spec, graph, rate)
        if unstable is not None:
            return RunCheck(UnstableError(unstable, spec.name), rate)
        warnings.extend(overload_warnings(spec, graph, rate))
        if through_profile:
            warnings.extend(profile_overload_warnings(spec, graph))
    station = busiest(station_loads(spec, graph, rate))
    settled = _settled(spec, rate)
    if not sized:
        return RunCheck(None, rate, station, tuple(warnings), settled)
    try:
        check_simulation(
            spec,
            requests=requests,
            rate_per_s=rate_per_s,
            replications=replications,
            requests_key=requests_key,
            replications_key=replications_key,
        )
    except ScaleplanError as error:
        return RunCheck(error, rate, station, tuple(warnings), settled)
    return RunCheck(None, rate, station, tuple(warnings), settled)


def _settled(spec: ArchitectureSpec, rate_per_s: float) -> dict[str, float]:
    """The replicas each autoscaled component settles on at ``rate_per_s`` (none without
    autoscaling: the estimate is not run)."""
    if not any(getattr(c, "autoscale", None) is not None for c in spec.components.values()):
        return {}
    from scaleplan.experiments._common import settled_replicas

    return settled_replicas(spec, rate_per_s)


def _closed_estimate(spec: ArchitectureSpec) -> str:
    """A closed run's warning of jobs no user waits for that outgrow their consumers (as
    ``engine.run`` words it)."""
    from scaleplan.analytic import estimate

    unstable = estimate(spec).unstable
    if unstable is None:
        return ""
    return (
        f"{unstable.component}: the analytic estimate puts it at {unstable.factor:.2f}× its "
        f"capacity ({unstable.reason}); the run goes ahead, bounded by its requests or "
        "duration, but its backlog may never drain"
    )


@dataclass(frozen=True)
class CandidateCheck:
    """One candidate of a scenario, checked as ``compare`` runs it at peak."""

    name: str
    peak: RunCheck
    #: With a load profile: the candidate at the profile's highest rate, with its peak phase's
    #: class mix (informational: a transient run goes ahead through an overload), and that
    #: phase's name.
    profile_peak: RunCheck | None = None
    profile_phase: str = ""


@dataclass(frozen=True)
class ScenarioCheck:
    """What ``compare`` would refuse of a scenario before it runs, and of each candidate."""

    #: The run budget too large to finish (``runsize.check_scenario``), or None.
    refusal: ScaleplanError | None
    candidates: tuple[CandidateCheck, ...] = field(default=())

    @property
    def refusals(self) -> list[str]:
        """Why ``compare`` would not run at all: the budget, a candidate it cannot simulate."""
        found = [str(self.refusal)] if self.refusal is not None else []
        found.extend(
            str(candidate.peak.refusal)
            for candidate in self.candidates
            if candidate.peak.refused and not _gates_only(candidate.peak.refusal)
        )
        return found


def _gates_only(error: ScaleplanError | None) -> bool:
    """A refusal ``compare`` turns into failed verdicts (a load past capacity at peak)
    rather than an error that stops it."""
    from scaleplan.engine import UnstableError

    return isinstance(error, UnstableError)


def check_scenario(scenario: ScenarioSpec) -> ScenarioCheck:
    """The pre-run checks of ``compare`` on a loaded scenario: its budget, then each
    candidate at the scenario's peak (rate, or users for a closed workload)."""
    from scaleplan.load import with_mix
    from scaleplan.runsize import check_scenario as check_budget

    refusal: ScaleplanError | None = None
    try:
        check_budget(scenario, scenario.base_dir)
    except ScaleplanError as error:
        refusal = error
    workload = scenario.workload
    checks = []
    for name, spec in scenario.architectures().items():
        rate: float | None = None  # a closed workload's peak is its users, not a rate
        if workload.closed:
            users = workload.peak_users
            if users != spec.workload.total_users:
                spec = spec.with_changes({"workload.users": users})
        else:
            rate = workload.peak_rate_per_s
        # Its runs' size is the budget's, checked above for all of them together.
        at_peak = check_run(spec, rate_per_s=rate, sized=False)
        profile = workload.profile
        if profile is None or workload.closed:
            checks.append(CandidateCheck(name, at_peak))
            continue
        phase = profile.peak_phase()
        mixed = with_mix(spec, profile.phases[phase].mix)
        top = scenario.today_rate_per_s * profile.max_factor
        checks.append(
            CandidateCheck(
                name,
                at_peak,
                check_run(mixed, rate_per_s=top, sized=False),
                profile.labels()[phase],
            )
        )
    return ScenarioCheck(refusal, tuple(checks))
