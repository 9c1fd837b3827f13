"""How long a run would take, and the refusal of a run too large to finish.

A size key with a typo (``requests: 1000000000000000``, ``duration_s`` in milliseconds, a
sweep over a thousand points of a million requests) starts a run that never ends and cannot be
told from a slow one. Every command that simulates estimates its run time first — requests in
all × expected visits per request (from the graph's visit ratios) × :data:`SECONDS_PER_VISIT` —
and refuses, naming the key to change and the estimate, when it is over :data:`LIMIT_S`.

The estimate is deliberately deterministic (a fixed cost per visit, not a measurement): the same
file is refused or accepted on every machine. :func:`refuse_if_too_long` is the one check;
:func:`check_simulation` sizes a plain simulation (the ``simulate`` command and
:func:`scaleplan.engine.simulate`); the experiments (pull, ramp, sweep, compare) size their
own budgets and call :func:`refuse_if_too_long` before they start.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

from scaleplan.errors import Problem, SpecError
from scaleplan.spec import ArchitectureSpec, ScenarioSpec

# Wall-clock seconds to simulate one visit to one component: 6–19 µs on the bundled examples
# (one core, 2025); the estimate uses the middle of that range.
SECONDS_PER_VISIT = 1e-5
# A run estimated to take longer than this is refused: an hour is beyond any interactive use,
# and ten times the size of the longest bundled experiment.
LIMIT_S = 3600.0
# Steps of one tractor-pull search, lengthened steps near the limit counted in: about 11 on the
# bundled examples (bracket, bisection to 2%, curve points).
PULL_STEPS = 15
# Requests of a simulation that gives neither requests nor a duration.
DEFAULT_REQUESTS = 100_000
# The latency histograms every replication of one simulation holds until they are summarised
# may take this much memory at the most (each series: 2 × 60 + 1 time buckets × 1,268 bins of
# 8 bytes, about 1.2 MB; one for the system, each request class and each recorded station).
MEMORY_LIMIT_BYTES = 1 << 30


# Visits per request of the specs seen lately, by identity (a spec is frozen): a pull or a
# sweep checks the same spec before each of its runs.
_VISITS: dict[int, tuple[ArchitectureSpec, float]] = {}
_VISITS_KEPT = 64


def visits_per_request(spec: ArchitectureSpec) -> float:
    """Expected visits to all components per arriving request (at least 1)."""
    from scaleplan.graph import build_graph, visit_ratios

    cached = _VISITS.get(id(spec))
    if cached is not None and cached[0] is spec:
        return cached[1]
    visits = max(1.0, math.fsum(visit_ratios(build_graph(spec)).values()))
    if len(_VISITS) >= _VISITS_KEPT:
        _VISITS.clear()
    _VISITS[id(spec)] = (spec, visits)
    return visits


def estimated_s(work: Sequence[tuple[ArchitectureSpec, float]]) -> float:
    """Estimated wall-clock seconds to simulate ``requests`` of each ``(spec, requests)``."""
    return math.fsum(
        requests * visits_per_request(spec) * SECONDS_PER_VISIT for spec, requests in work
    )


def refuse_if_too_long(
    work: Sequence[tuple[ArchitectureSpec, float]],
    *,
    what: str,
    source: str,
    key: str,
    fix: str,
    line: int | Callable[[], int | None] | None = None,
) -> None:
    """Raise :class:`SpecError` when simulating ``work`` would take more than :data:`LIMIT_S`.

    ``what`` says the size in the user's terms (``"1e+15 requests"``), ``key`` is the key or
    option that sets it and ``fix`` what to do (``"lower it or pass --requests"``). ``line`` may
    be a function, called only when refusing (finding a key's line reads the file again).

    Examples
    --------
    >>> from scaleplan.spec import example_spec
    >>> spec = example_spec()
    >>> refuse_if_too_long([(spec, 1e5)], what="", source="s", key="k", fix="")  # 1 s: fine
    >>> refuse_if_too_long(
    ...     [(spec, 1e15)], what="1e+15 requests", source="s.yaml", key="workload.requests",
    ...     fix="lower it or pass --requests")
    Traceback (most recent call last):
    ...
    scaleplan.errors.SpecError: s.yaml: workload.requests: 1e+15 requests would take about \
317 years to simulate (limit 1 hour: about 360,000,000 requests of this architecture); lower it \
or pass --requests
    """
    seconds = estimated_s(work)
    if not seconds > LIMIT_S:
        return
    per_request = seconds / math.fsum(requests for _, requests in work)
    most = LIMIT_S / per_request
    message = (
        f"{what} would take about {duration(seconds)} to simulate (limit {duration(LIMIT_S)}: "
        f"about {count(most)} requests of this "
        f"{'architecture' if len({id(spec) for spec, _ in work}) == 1 else 'set of runs'}); {fix}"
    )
    raise SpecError([Problem(source, key, message, line() if callable(line) else line)])


def check_simulation(
    spec: ArchitectureSpec,
    *,
    requests: int | None = None,
    rate_per_s: float | None = None,
    replications: int = 1,
    requests_key: str = "--requests",
    replications_key: str = "--replications",
    replications_noun: str = "replications",
) -> None:
    """Refuse a simulation of ``spec`` too large to finish, naming the key that sizes it.

    ``requests`` and ``rate_per_s`` override the workload's as in
    :func:`scaleplan.engine.simulate`; ``requests_key`` and ``replications_key`` name the
    overrides for the message (CLI options by default). A sweep passes its points as
    ``replications`` (``replications_noun="points"``).
    """
    workload = spec.workload
    source = spec.source
    rate = rate_per_s if rate_per_s is not None else None
    if requests is not None:
        planned, key, what = float(requests), requests_key, f"{count(requests)} requests"
        fix = "lower it"
    elif workload.requests is not None:
        planned, key = float(workload.requests), "workload.requests"
        what, fix = f"{count(planned)} requests", f"lower it or pass {requests_key}"
    elif workload.duration_s is not None:
        if rate is None and workload.closed:
            from scaleplan.analytic.closed import rough_throughput

            rate = rough_throughput(spec)
        rate = rate if rate is not None else workload.mean_rate_per_s
        planned, key = workload.duration_s * rate, "workload.duration_s"
        what = (
            f"{count(workload.duration_s)} s at {count(rate)} requests/s "
            f"({count(planned)} requests)"
        )
        fix = f"lower it or pass {requests_key}"
    else:
        planned = float(workload.planned_requests(DEFAULT_REQUESTS))
        key, what, fix = requests_key, f"{count(planned)} requests", "lower it"
    refuse_if_too_long(
        [(spec, planned)],
        what=what,
        source=source,
        key=key,
        fix=fix,
        line=lambda: _line(spec, key),
    )
    diurnal = workload.diurnal
    if workload.arrival == "diurnal" and diurnal is not None:
        # The arrival process steps through every slice boundary: a period of microseconds
        # over a long run is billions of steps, whatever the requests.
        seconds = planned / (rate if rate is not None else workload.mean_rate_per_s)
        slice_s = diurnal.period_s / len(diurnal.profile)
        check_events(
            seconds / slice_s * replications,
            what=(
                f"{count(seconds)} s of arrivals through slices of {slice_s:.3g} s "
                f"(period_s / {len(diurnal.profile)} slices)"
            ),
            source=source,
            key="workload.diurnal.period_s",
            fix="lengthen it or use fewer slices",
            line=_line(spec, "workload.diurnal.period_s"),
        )
    if replications > 1:
        refuse_if_too_long(
            [(spec, planned * replications)],
            what=f"{count(replications)} {replications_noun} × {what}",
            source=source,
            key=replications_key,
            fix="lower it",
        )
    if replications_noun == "replications":
        held = replications * replication_memory_bytes(spec)
        if held > MEMORY_LIMIT_BYTES:
            raise SpecError(
                [
                    Problem(
                        source,
                        replications_key,
                        f"{count(replications)} replications would hold about "
                        f"{held / 1e9:.3g} GB of latency histograms until they are summarised "
                        f"(at most {MEMORY_LIMIT_BYTES / 1e9:.3g} GB): lower it (more requests "
                        "per replication narrow the CIs as well)",
                    )
                ]
            )


def replication_memory_bytes(spec: ArchitectureSpec) -> int:
    """The latency histograms one replication of ``spec`` holds until the summary: one series
    for the system, each request class and each recorded station (a database's every shard
    primary and read replica besides the database itself)."""
    from scaleplan.engine.recorder import N_BUCKETS
    from scaleplan.metrics import DEFAULT_BINS

    stations = 0
    for component in spec.components.values():
        stations += 1
        if component.kind == "database":
            shards = int(getattr(component, "shards", 1))
            stations += shards * (1 + int(getattr(component, "read_replicas", 0)))
    series = 1 + len(spec.workload.classes) + stations
    return series * (2 * N_BUCKETS + 1) * DEFAULT_BINS.n_bins * 8


def check_pull(spec: ArchitectureSpec, *, requests: int, searches: int, key: str) -> None:
    """Refuse a tractor pull (or a ramp, ``searches=0``) too large to finish."""
    if searches:
        total = float(requests) * searches * PULL_STEPS
        what = (
            f"{count(requests)} requests a step × about {PULL_STEPS} steps × "
            f"{count(searches)} searches"
        )
    else:
        total, what = float(requests), f"{count(requests)} requests"
    fix = "lower it" + (" or --replications" if searches > 1 else "")
    refuse_if_too_long([(spec, total)], what=what, source=spec.source, key=key, fix=fix)


def check_events(
    events: float, *, what: str, source: str, key: str, fix: str, line: int | None = None
) -> None:
    """Refuse a run whose timed events (rollback checks, failures and repairs) alone would
    take more than :data:`LIMIT_S`, each costing about as much as a visit."""
    seconds = events * SECONDS_PER_VISIT
    if not seconds > LIMIT_S:
        return
    message = (
        f"{what}: about {count(events)} events would take about {duration(seconds)} to "
        f"simulate (limit {duration(LIMIT_S)}: about {count(LIMIT_S / SECONDS_PER_VISIT)} "
        f"events); {fix}"
    )
    raise SpecError([Problem(source, key, message, line)])


def check_rollout(
    spec: ArchitectureSpec,
    *,
    requests: int,
    runs: int,
    horizon_s: float,
    check_interval_s: float | None,
) -> None:
    """Refuse a deploy simulation too large to finish: its requests over every run, and the
    rollback checks (one every ``check_interval_s`` of each run's ``horizon_s``)."""
    refuse_if_too_long(
        [(spec, float(requests) * runs)],
        what=(
            f"{count(runs)} runs × {count(requests)} requests ({duration(horizon_s)} "
            "simulated each)"
        ),
        source=spec.source,
        key="--replications",
        fix=(
            "lower it, --rate-per-s, or the plan's times (start_s, boot_s, drain_s, "
            "bake_s, keep_old_s, observe_s)"
        ),
    )
    if check_interval_s is not None:
        check_events(
            runs * horizon_s / check_interval_s,
            what=(
                f"a rollback check every {check_interval_s:g} s over {duration(horizon_s)} × "
                f"{count(runs)} runs"
            ),
            source="the rollout plan",
            key="rollback.check_interval_s",
            fix="raise it",
        )


def check_failures(
    spec: ArchitectureSpec, *, probes: int, replications: int, failure_events: float
) -> None:
    """Refuse a steady-state failures run too large to finish: its probe requests over every
    replication, and its failures and repairs."""
    refuse_if_too_long(
        [(spec, float(probes) * replications)],
        what=f"{count(replications)} runs × {count(probes)} probe requests",
        source=spec.source,
        key="--probes",
        fix="lower it or --replications",
    )
    check_events(
        failure_events * replications,
        what=f"the failures and repairs of {count(replications)} runs",
        source=spec.source,
        key="--duration-h",
        fix="lower it, or raise the components' mtbf_h",
    )


def check_scenario(scenario: ScenarioSpec, base_dir: str | Path | None = None) -> None:
    """Refuse a comparison whose run budget (``run.requests``, ``run.pull_requests``, with
    their replications, over every candidate) is too large to finish. Under ``run.stopping:
    precision`` the replications counted are their cap, ``PRECISION_CAP_FACTOR`` times the
    budget's."""
    from scaleplan.spec.scenario import PRECISION_CAP_FACTOR

    run = scenario.run
    factor = PRECISION_CAP_FACTOR if run.stopping == "precision" else 1
    specs = list(scenario.architectures().values())
    lines: dict[tuple[str | int, ...], int] = {}
    if base_dir is not None and not scenario.source.startswith("<"):
        lines = _lines(Path(base_dir) / scenario.source)
    from scaleplan.spec.architecture import line_of

    budgets = (
        ("requests", run.requests, run.replications * factor, 1, "replications"),
        (
            "pull_requests",
            run.pull_requests,
            run.pull_replications * factor,
            PULL_STEPS,
            "searches",
        ),
    )
    capped = " at most (run.stopping: precision)" if factor > 1 else ""
    for key, requests, times, steps, noun in budgets:
        each = f" × about {steps} steps" if steps > 1 else ""
        refuse_if_too_long(
            [(spec, float(requests) * times * steps) for spec in specs],
            what=(
                f"{count(requests)} requests{each} × {count(times)} {noun}{capped} × "
                f"{len(specs)} candidates"
            ),
            source=scenario.source,
            key=f"run.{key}",
            fix=f"lower it or run.{'pull_' if steps > 1 else ''}replications",
            line=line_of(lines, ("run", key)),
        )


def _line(spec: ArchitectureSpec, key: str) -> int | None:
    """The line of ``key`` (a dotted key path) in the file ``spec`` came from, if known."""
    if key.startswith("-") or spec.source.startswith("<"):
        return None
    from scaleplan.spec.architecture import line_of

    return line_of(_lines(Path(spec._base_dir) / spec.source), tuple(key.split(".")))


def _lines(path: Path) -> dict[tuple[str | int, ...], int]:
    from scaleplan.spec.architecture import read_yaml

    try:
        return dict(read_yaml(path)[1])
    except SpecError:
        return {}


def count(value: float) -> str:
    """A count or size for a message: ``20,000``, ``360,000,000``, ``1e+15``.

    Examples
    --------
    >>> count(20_000), count(2.5), count(1e15)
    ('20,000', '2.5', '1e+15')
    """
    if value >= 1e10:
        return f"{value:.3g}"
    if value == int(value):
        return f"{value:,.0f}"
    return f"{value:,.3g}"


def duration(seconds: float) -> str:
    """A rough wall-clock duration: ``40 s``, ``12 minutes``, ``3 hours``, ``317 years``.

    Examples
    --------
    >>> duration(40), duration(720), duration(3600), duration(1e10)
    ('40 s', '12 minutes', '1 hour', '317 years')
    """
    units = (("year", 365.25 * 86400), ("day", 86400), ("hour", 3600), ("minute", 60))
    for name, size in units:
        if seconds >= size:
            amount = seconds / size
            shown = count(round(amount)) if amount < 1e10 else f"{amount:.3g}"
            return f"{shown} {name}{'' if shown == '1' else 's'}"
    return f"{seconds:.0f} s"


__all__ = [
    "LIMIT_S",
    "SECONDS_PER_VISIT",
    "check_events",
    "check_failures",
    "check_pull",
    "check_rollout",
    "check_scenario",
    "check_simulation",
    "count",
    "duration",
    "estimated_s",
    "refuse_if_too_long",
    "visits_per_request",
]
