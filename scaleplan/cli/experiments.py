"""The experiment commands: pull, ramp, sweep, compare.

Each loads its input through :mod:`scaleplan.spec`, calls one verb of
:mod:`scaleplan.experiments`, and prints a rich summary or, with ``--json``, the result's JSON
on stdout (progress and messages go to stderr). Bad input — a file, a key path, an SLO string
— exits 2 with where and what was found.
"""

from __future__ import annotations

import math
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from scaleplan.cli import options
from scaleplan.cli.app import app
from scaleplan.cli.console import literal, plain
from scaleplan.cli.core import (
    JsonFlag,
    SeedOption,
    SpecPath,
    deliver,
    progress_bar,
    stdout,
    verdict_status,
)
from scaleplan.formatting import UNKNOWN, number, with_ci
from scaleplan.spec.base import MAX_COUNT

if TYPE_CHECKING:
    from scaleplan.experiments import ComparisonResult, PullResult, RampResult, SweepResult
    from scaleplan.experiments.pull_users import UsersPullResult
    from scaleplan.spec import ArchitectureSpec, SLOSpec

SloOption = Annotated[
    list[str],
    typer.Option(
        "--slo",
        help="An objective such as 'p99<=300ms', 'errors<=0.1%' or 'throughput>=99%' "
        "(repeat for several).",
        show_default=False,
    ),
]
HtmlOption = Annotated[
    Path | None, typer.Option("--html", help="Also write the figure as a self-contained HTML.")
]


def _check_classes(slos: list[SLOSpec], architecture: ArchitectureSpec) -> None:
    """An SLO of a request class the architecture does not have is a mistake, refused as the
    scenario loader refuses it (not a note under a result that never judged it)."""
    from scaleplan.spec.architecture import suggest

    classes = {cls.name for cls in architecture.workload.classes}
    for slo in slos:
        if slo.request_class is not None and slo.request_class not in classes:
            known = ", ".join(sorted(classes)) or "none: the workload has no classes"
            raise typer.BadParameter(
                plain(
                    f"{architecture.name} has no request class {slo.request_class!r}"
                    f"{suggest(slo.request_class, classes)} (got {slo.text!r}; classes: {known})"
                ),
                param_hint="'--slo'",
            )


# --------------------------------------------------------------------------- pull


@app.command()
def pull(
    spec: SpecPath,
    slo: SloOption = [],  # noqa: B006 - typer reads the default, it is never mutated
    seed: SeedOption = 1,
    requests: Annotated[
        int,
        typer.Option(help="Requests simulated per step.", parser=options.integer(100, MAX_COUNT)),
    ] = 20_000,
    replications: Annotated[
        int,
        typer.Option(help="Independent searches, for the limit's CI.", parser=options.replications),
    ] = 3,
    precision: Annotated[
        float,
        typer.Option(
            help="Relative bracket width at which bisection stops.",
            parser=options.number(0.001, 0.5),
        ),
    ] = 0.02,
    bracket: Annotated[
        str,
        typer.Option(
            help=(
                "analytic: start around the closed forms' limit; bound: at half the bottleneck "
                "bound (the search before precision-driven run lengths)."
            ),
            parser=options.bracket,
        ),
    ] = "analytic",
    workers: Annotated[
        int | None,
        typer.Option(
            help="Local processes for the later searches (default: one per available core; "
            "1: this process only).",
            parser=options.workers,
        ),
    ] = None,
    html: HtmlOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Tractor pull: the most requests/s (and /min) that still meet every SLO, with a CI."""
    from scaleplan.experiments import pull as run_pull
    from scaleplan.runsize import check_pull
    from scaleplan.spec import load_spec

    objectives = options.slos(slo)
    architecture = load_spec(spec)
    _check_classes(objectives, architecture)
    check_pull(architecture, requests=requests, searches=replications, key="--requests")
    if precision >= 1:
        raise typer.BadParameter(f"must be below 1 (got {precision})", param_hint="'--precision'")
    if architecture.workload.closed:
        # A closed workload's load is its users: the pull varies them instead of a rate.
        from scaleplan.experiments.pull_users import pull_users

        with progress_bar(f"pulling {architecture.name} over users") as progress:
            by_users = pull_users(
                architecture,
                objectives,
                seed=seed,
                requests=requests,
                replications=replications,
                per_slo=True,
                progress=progress,
            )
        deliver(by_users, as_json=as_json, show=print_users_pull)
        return
    with progress_bar(f"pulling {architecture.name}") as progress:
        result = run_pull(
            architecture,
            objectives,
            seed=seed,
            requests=requests,
            replications=replications,
            precision=precision,
            progress=progress,
            bracket="bound" if bracket == "bound" else "analytic",
            workers=workers,
        )
    from scaleplan.views import figure_pull

    deliver(result, as_json=as_json, show=print_pull, html=html, figure=figure_pull)


def print_users_pull(result: UsersPullResult) -> None:
    """A readable summary of a tractor pull over users (a closed workload)."""
    from scaleplan.formatting import percent

    slos = ", ".join(result.slos) or "stability only"
    stdout.print(
        f"[bold]{literal(result.spec)}[/bold] — tractor pull over users under "
        f"{literal(slos)}, seed {result.seed}"
    )
    stdout.print(literal(result.summary()))
    if result.bottleneck:
        stdout.print(
            f"bottleneck at the limit: {literal(result.bottleneck)} "
            f"({percent(result.bottleneck_utilization)} busy)"
        )
    if result.objectives:
        breaks = Table(title="where each objective breaks (searched alone, same seeds)")
        for column in ("objective", "most users meeting it", "requests/s there", ""):
            breaks.add_column(column)
        for objective in result.objectives:
            low, high = objective.limit_ci95
            interval = f" (95% CI {low:.0f}–{high:.0f})" if math.isfinite(low) else " (one search)"
            breaks.add_row(
                literal(objective.slo),
                f"{objective.limit_users:.0f}{interval}",
                number(objective.throughput_per_s, ".4g"),
                literal(objective.note),
            )
        stdout.print(breaks)
    table = Table(title="steps (p99 with the run's 95% CI)")
    for column in ("search", "users", "meets", "mean ms", "p99 ms", "requests/s", "why not"):
        table.add_column(column)
    for step in result.steps:
        table.add_row(
            str(step.replication),
            str(step.users),
            "yes" if step.meets else "no",
            number(step.mean_ms, ".1f"),
            with_ci(step.p99_ms, step.p99_ci95, ".1f"),
            number(step.throughput_per_s, ".4g"),
            literal(step.reason),
        )
    stdout.print(table)
    for warning in result.warnings:
        stdout.print(f"[yellow]warning:[/yellow] {literal(warning)}")


def print_pull(result: PullResult) -> None:
    """A readable summary of a tractor pull."""
    low, high = result.limit_ci95
    slos = ", ".join(result.slos) or "stability only"
    stdout.print(
        f"[bold]{literal(result.spec)}[/bold] — tractor pull under {literal(slos)}, "
        f"seed {result.seed}"
    )
    interval = (
        f"95% CI {number(low, '.1f')} – {number(high, '.1f')} over {len(result.limits)} searches"
        if len(result.limits) > 1
        else f"bracket {number(low, '.1f')} – {number(high, '.1f')} of one search (not a CI)"
    )
    stdout.print(
        f"sustainable limit: [bold]{number(result.limit_per_s, '.1f')} requests/s[/bold] "
        f"({number(result.limit_per_min, ',.0f')} requests/min), {interval}"
    )
    stdout.print(
        f"first search: bracket {number(result.bracket[0], '.1f')} – "
        f"{number(result.bracket[1], '.1f')} requests/s after {result.first_search_runs} steps; "
        f"{result.runs} steps and {result.requests:,} simulated requests in all"
    )
    stdout.print(f"knee of the latency curve: {number(result.knee_per_s, '.1f')} requests/s")
    if result.binding:
        stdout.print(f"the objective that binds: {literal(result.binding)}")
    if result.bottleneck:
        ci_low, ci_high = result.bottleneck_utilization_ci95
        ci = (
            f" (95% CI {number(100 * ci_low, '.0f')}–{number(100 * ci_high, '.0f')}%)"
            if math.isfinite(ci_low)
            else ""
        )
        stdout.print(
            f"bottleneck at the limit: {literal(result.bottleneck)} at "
            f"{number(100 * result.bottleneck_utilization, '.0f')}% utilisation{ci}"
        )
    if result.failure_mode == "unreachable":
        # No load meets an SLO: the detail names the component whose own figure breaks it.
        stdout.print(f"[bold red]{literal(result.failure_detail)}[/bold red]")
    else:
        stdout.print(
            f"beyond the limit: [bold]{literal(result.failure_mode)}[/bold] — "
            f"{literal(result.failure_detail)}"
        )
    stdout.print(
        f"analytic bottleneck bound: {number(result.analytic_bound_per_s, '.1f')} requests/s "
        f"({literal(result.analytic_bottleneck or '—')})"
    )
    table = Table(
        title="steps of the first search and the curve (p50 and p99 with the run's 95% CI)",
        title_justify="left",
    )
    for column in ("phase", "requests/s", "meets", "p50 ms", "p99 ms", "errors", "busiest", "why"):
        table.add_column(
            column, justify="left" if column in ("phase", "busiest", "why") else "right"
        )
    for step in result.steps:
        if step.replication != 0:
            continue
        table.add_row(
            literal(step.phase),
            number(step.rate_per_s, ".1f"),
            "[green]yes[/green]" if step.meets else "[red]no[/red]",
            with_ci(step.p50_ms, step.p50_ci95, ".1f"),
            with_ci(step.p99_ms, step.p99_ci95, ".1f"),
            f"{number(100 * step.error_rate, '.2f')}%",
            literal(step.busiest),
            literal(step.reason),
        )
    stdout.print(table)
    for note in result.notes:
        stdout.print(f"[yellow]note:[/yellow] {literal(note)}")


# --------------------------------------------------------------------------- ramp


@app.command()
def ramp(
    spec: SpecPath,
    slo: SloOption = [],  # noqa: B006 - typer reads the default, it is never mutated
    seed: SeedOption = 1,
    steps: Annotated[
        int, typer.Option(help="Load steps.", parser=options.integer(1, options.MAX_RAMP_STEPS))
    ] = 10,
    requests: Annotated[
        int,
        typer.Option(help="Requests over the whole ramp.", parser=options.integer(100, MAX_COUNT)),
    ] = 40_000,
    html: HtmlOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Stepped load test: load rising in steps until the system breaks."""
    from scaleplan.experiments import ramp as run_ramp
    from scaleplan.runsize import check_pull
    from scaleplan.spec import load_spec

    objectives = options.slos(slo)
    architecture = load_spec(spec)
    _check_classes(objectives, architecture)
    check_pull(architecture, requests=requests, searches=0, key="--requests")
    result = run_ramp(architecture, slos=objectives, seed=seed, steps=steps, requests=requests)
    from scaleplan.views import figure_ramp

    deliver(result, as_json=as_json, show=print_ramp, html=html, figure=figure_ramp)


def print_ramp(result: RampResult) -> None:
    """A table of a stepped load test, step by step, and where it broke."""
    table = Table(title=f"{literal(result.spec)}: stepped load test", title_justify="left")
    for column in ("step", "offered/s", "throughput/s", "errors", "p50 ms*", "p99 ms*", "meets"):
        table.add_column(column, justify="right")
    for row in result.steps:
        table.add_row(
            str(row["step"]),
            number(row["offered_per_s"], ".1f"),
            number(row["throughput_per_s"], ".1f"),
            f"{number(100 * row['error_rate'], '.2f')}%",
            with_ci(row["window_p50_ms"], row["window_p50_ms_ci95"], ".1f"),
            with_ci(row["window_p99_ms"], row["window_p99_ms_ci95"], ".1f"),
            "[green]yes[/green]" if row["meets"] else "[red]no[/red]",
        )
    stdout.print(table)
    stdout.print(
        "* mean over the step's time windows of each window's percentile, with its 95% CI "
        "across those windows"
    )
    if result.broke_at is not None:
        stdout.print(
            f"breaks at step {result.broke_at} ({number(result.broke_at_rate_per_s, '.1f')} "
            "requests/s)" + (" — stopped early: queues ran away" if result.stopped_early else "")
        )


# --------------------------------------------------------------------------- sweep


@app.command()
def sweep(
    spec: SpecPath,
    set_: Annotated[
        list[str],
        typer.Option(
            "--set",
            help="KEY.PATH=VALUES with VALUES as 'start:stop' (inclusive), 'start:stop:step' "
            "or 'a,b,c'; repeat for a grid.",
            show_default=False,
        ),
    ] = [],  # noqa: B006 - typer reads the default, it is never mutated
    seed: SeedOption = 1,
    requests: Annotated[
        int | None,
        typer.Option(help="Override the number of requests per point.", parser=options.count),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(help="Local processes (default: one per core).", parser=options.workers),
    ] = None,
    slo: SloOption = [],  # noqa: B006 - typer reads the default, it is never mutated
    as_json: JsonFlag = False,
) -> None:
    """What-if sweep over any key paths, one row per point, on local processes; with --slo,
    each point's verdict per objective (a request class's on that class's figures)."""
    from scaleplan.experiments import parse_grid_values
    from scaleplan.experiments import sweep as run_sweep
    from scaleplan.experiments.sweep import MAX_POINTS
    from scaleplan.runsize import check_simulation
    from scaleplan.spec import load_spec

    if not set_:
        raise typer.BadParameter("give at least one KEY.PATH=VALUES", param_hint="'--set'")
    grid: dict[str, list[Any]] = {}
    for item in set_:
        key, sep, values = item.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(
                f"expected KEY.PATH=VALUES (got {item!r})", param_hint="'--set'"
            )
        try:
            grid[key.strip()] = parse_grid_values(values)
        except ValueError as error:
            raise typer.BadParameter(
                plain(f"{key.strip()}: {error}"), param_hint="'--set'"
            ) from None
    points = math.prod(len(values) for values in grid.values())
    if points > MAX_POINTS:
        raise typer.BadParameter(
            f"the grid has {points:,} points; at most {MAX_POINTS:,} (use fewer values per key)",
            param_hint="'--set'",
        )
    objectives = options.slos(slo)
    architecture = load_spec(spec)
    _check_classes(objectives, architecture)
    check_simulation(
        architecture,
        requests=requests,
        replications=points,
        replications_key="--set",
        replications_noun="points",
    )
    with progress_bar(f"sweeping {architecture.name}", delay_s=0.5) as progress:
        result = run_sweep(
            architecture,
            grid,
            seed=seed,
            requests=requests,
            workers=workers,
            progress=progress,
            slos=objectives,
        )
    deliver(result, as_json=as_json, show=print_sweep)


def print_sweep(result: SweepResult) -> None:
    """A table of a sweep's rows."""
    table = Table(title=f"{literal(result.spec)}: sweep, seed {result.seed}", title_justify="left")
    columns = [*result.keys, "stable", "mean ms", "p99 ms", "throughput/s", "errors", "busiest"]
    # One column per objective: its verdict and the figure it was judged on (a request
    # class's objective: that class's figure, not the whole system's).
    columns += list(result.slos)
    for column in columns:
        table.add_column(literal(column), justify="right")
    for row in result.records():
        table.add_row(
            *(literal(row[key]) for key in result.keys),
            "yes" if row["stable"] else "[red]no[/red]",
            number(row.get("mean_ms") or math.nan, ".2f"),
            _p99_with_ci(row),
            number(row.get("throughput_per_s") or math.nan, ".1f"),
            f"{number(100 * (row.get('error_rate') or 0.0), '.2f')}%",
            literal(_busiest(row) if row["stable"] else (row.get("error") or "")[:60]),
            *(_slo_cell(row, text) for text in result.slos),
        )
    stdout.print(table)
    stdout.print(
        f"{len(result.rows)} points, {result.failures} unstable, {result.wall_time_s:.1f} s"
    )
    if result.slos:
        passing = sum(1 for row in result.rows if row.get("meets_slos"))
        stdout.print(
            f"{passing} of {len(result.rows)} points pass every objective (pass: the 95% CI "
            "clears the bound; a request class's objective is judged on that class's figure)"
        )


def _slo_cell(row: dict[str, Any], text: str) -> str:
    """A sweep row's verdict on one objective with the figure judged: ``pass 412.3``."""
    from scaleplan.experiments.nfr import show_value
    from scaleplan.spec import parse_slo

    status = row.get(f"slo.{text}") or "not evaluated"
    measured = row.get(f"slo.{text}.measured")
    slo = parse_slo(text)
    unit = "ms" if slo.is_latency else ("per_s" if slo.unit == "per_s" else "fraction")
    figure = show_value(measured, unit) if measured is not None else UNKNOWN
    return f"{verdict_status(status)} {literal(figure)}"


def _p99_with_ci(row: dict[str, Any]) -> str:
    """A sweep row's p99 with its 95% CI, as ``simulate`` prints it (``101.8 [100.7, 102.8]``)."""
    p99 = number(row.get("p99_ms") or math.nan, ".1f")
    low, high = row.get("p99_ci95_low"), row.get("p99_ci95_high")
    if p99 == UNKNOWN or low is None or high is None or not math.isfinite(low + high):
        return p99
    return f"{p99} [{low:.1f}, {high:.1f}]"


def _busiest(row: dict[str, Any]) -> str:
    utilization = row.get("max_utilization")
    shown = number(100 * utilization, ".0f") if utilization is not None else "—"
    return f"{row.get('busiest', '')} {shown}%"


# --------------------------------------------------------------------------- compare


@app.command()
def compare(
    scenario: Annotated[Path, typer.Argument(help="A scenario YAML file.", show_default=False)],
    seed: Annotated[
        int | None,
        typer.Option(help="Override the scenario's seed.", show_default=False, parser=options.seed),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            help="Local processes (default: one per available core; 1: this process only).",
            parser=options.workers,
        ),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            help="Run on a Dask cluster instead: its scheduler address, e.g. "
            "tcp://10.0.0.5:8786. The numbers are the same as on local processes.",
            show_default=False,
        ),
    ] = None,
    stopping: Annotated[
        str | None,
        typer.Option(
            help=(
                "precision: replications until the verdicts are settled or the CIs within "
                "run.ci_precision; fixed: exactly the scenario's budget (default: its "
                "run.stopping)."
            ),
            show_default=False,
            parser=options.stopping,
        ),
    ] = None,
    html: HtmlOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Run a scenario: candidates under common random numbers, NFR gates, decision matrix."""
    from scaleplan.experiments import CompareSettings
    from scaleplan.experiments import compare as run_compare
    from scaleplan.parallel import dask_client
    from scaleplan.runsize import check_scenario
    from scaleplan.spec import load_scenario

    loaded = load_scenario(scenario)
    sized = loaded
    if stopping is not None:  # size the run by the rule it will follow
        sized = loaded.model_copy(
            update={"run": loaded.run.model_copy(update={"stopping": stopping})}
        )
    check_scenario(sized, scenario.parent)
    with ExitStack() as stack:
        executor = stack.enter_context(dask_client(scheduler)) if scheduler else None
        progress = stack.enter_context(
            progress_bar(f"comparing {len(loaded.candidates)} candidates", delay_s=0.5)
        )
        result = run_compare(
            loaded,
            CompareSettings(seed=seed, stopping=stopping),
            workers=workers,
            executor=executor,
            progress=progress,
        )
    from scaleplan.views import comparison_page

    deliver(result, as_json=as_json, show=print_comparison, html=html, figure=comparison_page)


def print_comparison(result: ComparisonResult) -> None:
    """The decision matrix, the NFR verdicts, the paired differences and the recommendation."""
    stdout.print(f"[bold]{literal(result.title)}[/bold]")
    today = (
        f"{result.today_users:,}"
        if result.today_users is not None
        else f"{result.today_rate_per_s:g}"
    )
    stdout.print(
        f"peak {result.peak_text} (today {today}), "
        f"growth {100 * result.growth_per_month:g}%/month; seeds {result.seed}…"
        f"{result.seed + result.replications - 1} shared by every candidate "
        f"(common random numbers), {result.simulated_requests:,} simulated requests"
    )
    stopped = [c for c in result.candidates if c.measurement]
    if stopped and result.stopping == "precision":
        rule = ", ".join(
            f"{literal(c.name)} {c.measurement['replications']} ({c.measurement['stop']})"
            for c in stopped
        )
        rule += "".join(
            f"; {literal(c.name)}'s pull {c.pull.replications} searches ({c.pull.stop})"
            for c in stopped
            if c.pull is not None
        )
        stdout.print(
            f"replications at peak until the verdicts settle or the CIs are within "
            f"±{100 * result.ci_precision:g}%: {rule}"
        )
    matrix = Table(title="decision matrix (value, score 0–1)", title_justify="left")
    matrix.add_column("candidate")
    for criterion, weight in result.weights.items():
        matrix.add_column(f"{literal(criterion)} {100 * weight:.0f}%", justify="right")
    for column in ("score", "gates"):
        matrix.add_column(column, justify="right" if column == "score" else "left")
    for candidate in result.candidates:
        name = literal(candidate.name)
        if candidate.name == result.recommended:
            name = f"[bold green]★ {name}[/bold green]"
        cells = []
        for criterion in result.weights:
            value = candidate.values.get(criterion, math.nan)
            low, high = candidate.metrics_ci95.get(criterion, (math.nan, math.nan))
            # A percentile is shown with its 95% CI: p99 is the figure most often quoted.
            ci = (
                f" [{low:.1f}, {high:.1f}]"
                if criterion == "p99_ms" and math.isfinite(low) and math.isfinite(high)
                else ""
            )
            cells.append(
                f"{_value(value, criterion)}{ci} ({candidate.scores.get(criterion, 0):.2f})"
            )
        gates = (
            "pass"
            if not candidate.gated
            else "[red]" + literal("; ".join(candidate.gate_reasons)) + "[/red]"
        )
        matrix.add_row(name, *cells, f"{candidate.score:.2f}", gates)
    stdout.print(matrix)
    from scaleplan.experiments.compare import profile_judged

    profiled = any(candidate.transient is not None for candidate in result.candidates)
    verdicts = Table(
        title=f"NFR gates: {profile_judged(result)} through the load profile, the rest at "
        "peak (measured, 95% CI)"
        if profiled
        else "NFR verdicts at peak (measured, 95% CI)",
        title_justify="left",
    )
    verdicts.add_column("NFR")
    for candidate in result.candidates:
        verdicts.add_column(literal(candidate.name))
    names = list(dict.fromkeys(v.nfr for c in result.candidates for v in c.verdicts))
    # With a load profile, the steady peak's latency and error figures are shown, not gates.
    shown_only = list(dict.fromkeys(v.nfr for c in result.candidates for v in c.peak_slo_verdicts))
    rows = [(nfr, nfr, False) for nfr in names]
    rows += [(f"{nfr} at the steady peak (not a gate)", nfr, True) for nfr in shown_only]
    for label, nfr, at_peak in rows:
        row = [literal(label)]
        for candidate in result.candidates:
            verdict = candidate.at_peak(nfr) if at_peak else candidate.verdict(nfr)
            if verdict is None:
                row.append("—")
                continue
            low, high = verdict.ci95
            measured = _value(verdict.measured, verdict.unit)
            ci = (
                f" [{_value(low, verdict.unit)}, {_value(high, verdict.unit)}]"
                if math.isfinite(low) and math.isfinite(high) and high > low
                else ""
            )
            shown = f"{measured}{ci}"
            if verdict.status == "fail" and verdict.cause:
                # A refusal has no figure: its cause names the component and the factor.
                cause = literal(verdict.cause)
                shown = cause if measured == "—" else f"{shown}; {cause}"
            row.append(f"{verdict_status(verdict.status)} {shown}")
        verdicts.add_row(*row)
    stdout.print(verdicts)
    if result.differences:
        stdout.print(
            f"[bold]paired differences against {literal(result.baseline)}[/bold] (95% paired-t CI):"
        )
        for difference in result.differences:
            if difference.metric in ("p99_ms", "mean_ms"):
                stdout.print(f"  • {literal(difference.sentence())}")
    if result.recommended:
        stdout.print(f"[bold green]recommended: {literal(result.recommended)}[/bold green]")
    else:
        stdout.print("[bold red]no candidate can be recommended[/bold red]")
    for reason in result.reasons:
        stdout.print(f"  – {literal(reason)}")
    if result.checklist:
        stdout.print(
            "qualitative checklist: "
            + literal(", ".join(f"{item['area']} ({item['status']})" for item in result.checklist))
        )


def _value(value: float, unit: str) -> str:
    if value is None or not math.isfinite(value):
        return "∞" if value == math.inf else "—"
    if unit in ("ms", "p99_ms", "mean_ms"):
        return f"{value:.1f} ms"
    if unit in ("fraction", "headroom", "error_rate"):
        # Small shares (error rates) need significant digits, not decimals.
        return f"{100 * value:.3g}%" if abs(value) < 0.01 else f"{100 * value:.2f}%"
    if unit in ("months", "runway_months"):
        return f"{value:.1f} mo"
    if unit in ("per_s", "limit_per_s"):
        return f"{value:.1f}/s"
    if unit == "GB":
        return f"{value:,.0f} GB"
    if unit == "s":
        return f"{value:,.0f} s"
    if unit == "requests":
        return f"{value:,.0f} requests"
    return f"{value:,.0f}"
