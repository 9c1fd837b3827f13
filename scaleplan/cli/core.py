"""The core commands: validate, simulate, estimate, graph, schema; and the shared CLI helpers.

Each command loads its input through :mod:`scaleplan.spec`, calls one verb, and prints either a
readable rich table or, with ``--json``, the JSON contract on stdout (progress and messages go
to stderr, so ``--json`` output stays clean).
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Protocol

import typer
from rich.console import Console
from rich.table import Table

from scaleplan.cli import options
from scaleplan.cli.app import app
from scaleplan.cli.console import literal, plain, stderr, stdout
from scaleplan.formatting import with_ci
from scaleplan.result import LatencySummary, SimulationResult

SpecPath = Annotated[Path, typer.Argument(help="An architecture YAML file.", show_default=False)]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print the JSON result on stdout.")]
SeedOption = Annotated[
    int,
    typer.Option(help="Random seed: one seed gives identical output.", parser=options.seed),
]

EXIT_UNSTABLE = 1
EXIT_BAD_INPUT = 2


@contextmanager
def progress_bar(description: str, *, delay_s: float = 1.5) -> Iterator[Callable[[int, int], None]]:
    """A progress callback that shows a bar on stderr once work has taken ``delay_s``."""
    from rich.progress import (
        BarColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )

    started = time.perf_counter()
    state: dict[str, object] = {}

    def update(done: int, total: int) -> None:
        if "bar" not in state:
            if time.perf_counter() - started < delay_s or not stderr.is_terminal:
                return
            bar = Progress(
                TextColumn("{task.description}", style="progress.description", markup=False),
                BarColumn(),
                TaskProgressColumn(),
                TimeRemainingColumn(),
                console=stderr,
                transient=True,
            )
            bar.start()
            state["bar"] = bar
            state["task"] = bar.add_task(plain(description), total=total)
        shown = state["bar"]
        assert isinstance(shown, Progress)
        shown.update(state["task"], completed=done, total=total)  # type: ignore[arg-type]

    try:
        yield update
    finally:
        bar = state.get("bar")
        if isinstance(bar, Progress):
            bar.stop()


class Reportable(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


def deliver(
    result: Reportable,
    *,
    as_json: bool,
    show: Callable[[Any], None],
    html: Path | None = None,
    figure: Callable[[Any], Any] | None = None,
) -> None:
    """The end of every command: JSON or the table, then the figure to ``html`` if asked.

    The results come first, so that a figure that cannot be written loses nothing computed.
    """
    if as_json:
        sys.stdout.write(json.dumps(result.to_dict(), indent=2, allow_nan=False) + "\n")
        sys.stdout.flush()
    else:
        show(result)
    if html is not None and figure is not None:
        from scaleplan.views import write_html

        kept = "the results were printed" + ("" if as_json else " above")
        stderr.print(f"wrote {literal(write_html(figure(result), html, kept=kept))}")


def verdict_status(status: str) -> str:
    """An NFR verdict coloured for the terminal."""
    colors = {"pass": "green", "fail": "red", "inconclusive": "yellow"}
    color = colors.get(status)
    return f"[{color}]{status}[/{color}]" if color else literal(status)


def _slots(capacity: int, replicas: float, kind: str) -> str:
    if not capacity:
        return "—"
    if replicas != int(replicas):  # autoscaled: the mean over the measured window
        return f"{capacity} (mean {replicas:.1f} replicas)"
    return str(capacity)


def _describe(details: dict[str, object]) -> str:
    """Kind-specific figures on one line: ``hits 9800, hit_ratio 0.82, ...``."""
    parts = []
    for key, value in details.items():
        if isinstance(value, dict):
            value = "{" + _describe(value) + "}"
        elif isinstance(value, float):
            value = f"{value:.4g}"
        elif isinstance(value, list):
            value = (
                "[" + ", ".join(f"{v:.3g}" if isinstance(v, float) else str(v) for v in value) + "]"
            )
        parts.append(f"{key.replace('_', ' ')} {value}")  # printed through literal()
    return ", ".join(parts)


def _format(value: float, spec: str = ".1f") -> str:
    return "—" if not math.isfinite(value) else format(value, spec)


def _p99_cell(latency: LatencySummary) -> str:
    """The p99 over its 95% CI (two lines keep a wide table within the terminal)."""
    figure = with_ci(latency.p99, latency.p99_ci95, ".1f")
    value, _, interval = figure.partition(" ")
    return f"{value}\n[dim]{interval}[/dim]" if interval else value


def print_result(result: SimulationResult, console: Console = stdout) -> None:
    """A readable summary of a simulation or estimate."""
    latency = result.latency_ms
    low, high = latency.mean_ci95
    counts = result.requests
    console.print(
        f"[bold]{literal(result.spec)}[/bold] — {literal(result.method)}"
        + (f", seed {result.seed}" if result.seed is not None else "")
        + f", {result.rate_per_s:g} requests/s offered"
    )
    if result.method == "simulation":
        console.print(
            f"requests: {counts.arrived} arrived, {counts.completed} completed, "
            f"{counts.rejected} rejected, {counts.failed} failed, {counts.in_flight} in flight"
        )
    console.print(f"throughput: {_format(result.throughput_per_s)} requests/s")
    console.print(
        f"latency: mean {_format(latency.mean, '.2f')} ms "
        f"(95% CI {_format(low, '.2f')} – {_format(high, '.2f')}), "
        f"p50 {_format(latency.p50)}, p90 {_format(latency.p90)}, p95 {_format(latency.p95)}, "
        f"p99 {with_ci(latency.p99, latency.p99_ci95, '.1f')}, p99.9 {_format(latency.p999)} ms"
    )
    table = Table(title="components", title_justify="left")
    for column in (
        "component",
        "kind",
        "slots",
        "utilisation",
        "mean queue",
        "throughput/s",
        "rejected",
        "mean ms",
        "p99 ms\n[95% CI]",
    ):
        table.add_column(column, justify="left" if column in ("component", "kind") else "right")
    for name, component in result.components.items():
        utilization = component.utilization
        style = "red" if utilization >= 0.85 else "yellow" if utilization >= 0.7 else ""
        table.add_row(
            literal(name),
            literal(component.kind),
            _slots(component.capacity, component.replicas, result.components[name].kind),
            f"[{style}]{_format(100 * utilization)}%[/{style}]"
            if style
            else f"{_format(100 * utilization)}%",
            _format(component.mean_queue, ".2f"),
            _format(component.throughput_per_s),
            str(component.rejected),
            _format(component.latency_ms.mean, ".2f"),
            _p99_cell(component.latency_ms),
        )
    console.print(table)
    for name, component in result.components.items():
        if component.details:
            console.print(
                f"[dim]{literal(name)}:[/dim] {literal(_describe(component.details))}",
                highlight=False,
            )
    if len(result.classes) > 1:
        classes = Table(title="request classes", title_justify="left")
        for column in ("class", "completed", "mean ms", "p99 ms [95% CI]"):
            classes.add_column(column, justify="left" if column == "class" else "right")
        simulated = result.method == "simulation"  # an estimate completes no requests
        for name, summary in result.classes.items():
            classes.add_row(
                literal(name),
                str(summary.count) if simulated else "—",
                _format(summary.mean, ".2f"),
                with_ci(summary.p99, summary.p99_ci95, ".1f"),
            )
        console.print(classes)
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/yellow] {literal(warning)}")
    if not result.stable:
        console.print("[bold red]unstable[/bold red]")


KindOption = Annotated[
    str | None,
    typer.Option(
        "--kind",
        help="The file's kind (architecture, scenario, dr, rollout); default: told from its keys.",
        show_default=False,
    ),
]


@app.command()
def validate(
    file: Annotated[
        Path,
        typer.Argument(
            help="An architecture, scenario, DR or rollout file (its kind told from its keys).",
            show_default=False,
        ),
    ],
    kind: KindOption = None,
    rate_per_s: Annotated[
        float | None,
        typer.Option(
            help="An architecture: check at this rate, as simulate --rate-per-s.",
            parser=options.rate,
        ),
    ] = None,
    requests: Annotated[
        int | None,
        typer.Option(
            help="An architecture: check this run length, as simulate --requests.",
            parser=options.count,
        ),
    ] = None,
    replications: Annotated[
        int,
        typer.Option(
            help="An architecture: check these replications, as simulate --replications.",
            parser=options.replications,
        ),
    ] = 1,
) -> None:
    """Check a file and every file it names, and run the checks of the command that runs it
    (simulate, compare) without running it: exit 2 naming the reason when it would be refused."""
    from scaleplan.cli import validation

    chosen, why = validation.kind_of_file(file, kind)
    if chosen != "architecture" and (
        rate_per_s is not None or requests is not None or replications != 1
    ):
        raise typer.BadParameter(
            f"--rate-per-s, --requests and --replications check an architecture "
            f"(got a {chosen} file)",
            param_hint="'--rate-per-s'",
        )
    lines, refusals = validation.check_file(
        file, chosen, why, rate_per_s=rate_per_s, requests=requests, replications=replications
    )
    for line in lines:
        stdout.print(line, highlight=False, soft_wrap=True)
    if refusals:
        for refusal in refusals:
            stderr.print(
                f"[bold red]refused:[/bold red] {literal(refusal)}", highlight=False, soft_wrap=True
            )
        raise typer.Exit(EXIT_BAD_INPUT)


@app.command()
def simulate(
    spec: SpecPath,
    rate_per_s: Annotated[
        float | None, typer.Option(help="Override the mean arrival rate.", parser=options.rate)
    ] = None,
    requests: Annotated[
        int | None, typer.Option(help="Override the number of requests.", parser=options.count)
    ] = None,
    seed: SeedOption = 1,
    replications: Annotated[
        int,
        typer.Option(
            help="Independent replications (CIs across them).", parser=options.replications
        ),
    ] = 1,
    run_anyway: Annotated[
        bool, typer.Option(help="Run even when the load certainly exceeds capacity.")
    ] = False,
    as_json: JsonFlag = False,
    html: Annotated[
        Path | None,
        typer.Option(
            "--html",
            help="Also write the run over time (latency, load, replicas, queues) as HTML.",
        ),
    ] = None,
) -> None:
    """Simulate an architecture: latency with CIs, utilisation, queues, per component."""
    from scaleplan.engine import UnstableError
    from scaleplan.engine import simulate as run_simulation
    from scaleplan.runsize import check_simulation
    from scaleplan.spec import load_spec

    architecture = load_spec(spec)
    check_simulation(
        architecture, requests=requests, rate_per_s=rate_per_s, replications=replications
    )
    try:
        with progress_bar(f"simulating {architecture.name}") as progress:
            result = run_simulation(
                architecture,
                seed=seed,
                requests=requests,
                rate_per_s=rate_per_s,
                replications=replications,
                run_anyway=run_anyway,
                progress=progress,
            )
    except UnstableError as error:
        stderr.print(f"[bold red]{literal(error)}[/bold red]", highlight=False)
        stderr.print("(pass --run-anyway to simulate it regardless)")
        raise typer.Exit(EXIT_UNSTABLE) from None
    if as_json:
        sys.stdout.write(result.to_json() + "\n")
    else:
        print_result(result)
    if html is not None:
        # After the results: a figure that cannot be written loses nothing computed.
        from scaleplan.views import write_html
        from scaleplan.views.timeseries import figure_timeseries

        kept = "the results were printed" + ("" if as_json else " above")
        stderr.print(f"wrote {literal(write_html(figure_timeseries(result), html, kept=kept))}")
    if not result.stable:
        raise typer.Exit(EXIT_UNSTABLE)


@app.command()
def estimate(
    spec: SpecPath,
    rate_per_s: Annotated[
        float | None, typer.Option(help="Override the mean arrival rate.", parser=options.rate)
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Instant closed-form estimate (Erlang C, M/G/1, Jackson networks), saying which it used."""
    from scaleplan.analytic import estimate as run_estimate
    from scaleplan.spec import load_spec

    result = run_estimate(load_spec(spec), rate_per_s=rate_per_s)
    if as_json:
        sys.stdout.write(result.to_json() + "\n")
    else:
        print_result(result)


@app.command()
def graph(
    spec: SpecPath,
    output: Annotated[Path, typer.Option("-o", "--output", help="HTML file to write.")] = Path(
        "graph.html"
    ),
    simulate_load: Annotated[
        bool, typer.Option("--simulate/--no-simulate", help="Colour nodes by simulated load.")
    ] = True,
    rate_per_s: Annotated[
        float | None,
        typer.Option(
            "--rate",
            "--rate-per-s",
            help="Colour by the load at this arrival rate (requests/s) instead of the spec's "
            "(simulated; with --no-simulate, by the closed form).",
            parser=options.rate,
        ),
    ] = None,
    seed: SeedOption = 1,
) -> None:
    """Draw the architecture as a self-contained HTML graph coloured by utilisation."""
    from scaleplan.analytic import estimate as run_estimate
    from scaleplan.engine import UnstableError
    from scaleplan.engine import simulate as run_simulation
    from scaleplan.formatting import chart_text
    from scaleplan.graph import build_graph
    from scaleplan.spec import load_spec
    from scaleplan.views import figure_graph, write_html

    architecture = load_spec(spec)
    component_graph = build_graph(architecture)
    result = None
    how = ""
    if simulate_load:
        try:
            with progress_bar(f"simulating {architecture.name}") as progress:
                result = run_simulation(
                    architecture, seed=seed, rate_per_s=rate_per_s, progress=progress
                )
            how = "simulated"
        except UnstableError as error:
            if rate_per_s is None:
                stderr.print(
                    f"[yellow]{literal(error)}[/yellow] — drawing without load", highlight=False
                )
            else:
                # The load asked for is beyond capacity: the closed form still says how far.
                stderr.print(
                    f"[yellow]{literal(error)}[/yellow] — coloured by the closed form",
                    highlight=False,
                )
                result, how = run_estimate(architecture, rate_per_s=rate_per_s), "closed form"
    elif rate_per_s is not None:
        result, how = run_estimate(architecture, rate_per_s=rate_per_s), "closed form"
    title = None
    if rate_per_s is not None:
        title = chart_text(f"{architecture.name}: utilisation at {rate_per_s:g} requests/s")
        title += f" ({how})" if how else ""
    path = write_html(figure_graph(component_graph, result, title=title), output)
    stdout.print(f"wrote {literal(path)}")


@app.command()
def schema(
    kind: Annotated[
        str,
        typer.Argument(
            help="The kind of file: architecture, scenario, dr or rollout (--list shows them)."
        ),
    ] = "architecture",
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write to a file instead of stdout.")
    ] = None,
    list_kinds: Annotated[
        bool, typer.Option("--list", help="List the kinds of file and what each holds.")
    ] = False,
) -> None:
    """Print the JSON Schema of a kind of file (for editors' validation)."""
    from scaleplan.spec.schema import FILE_KINDS, json_schema, unknown_kind

    if list_kinds:
        for known in FILE_KINDS.values():
            stdout.print(f"{known.name:<13} {literal(known.what)}", highlight=False)
        return
    if kind not in FILE_KINDS:
        raise typer.BadParameter(plain(unknown_kind(kind)), param_hint="'KIND'")
    text = json.dumps(json_schema(kind), indent=2)
    if output is None:
        sys.stdout.write(text + "\n")
    else:
        from scaleplan.paths import OutputError, output_problem

        try:
            output.write_text(text + "\n")
        except OSError as error:
            raise OutputError(output_problem(output, error)) from None
        stderr.print(f"wrote {literal(output)}")
