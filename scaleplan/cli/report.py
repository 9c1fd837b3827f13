"""The report commands: ``decide`` (one decision record), ``batch`` (many), ``runs`` (history).

Thin wrappers over :mod:`scaleplan.report`: they parse options, show progress on stderr and
print where the records are. ``batch`` exits 1 when any scenario failed (after running all
the others); bad input exits 2 like every other command.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from scaleplan.cli import options
from scaleplan.cli.app import app
from scaleplan.cli.console import literal, plain, stderr, stdout

EXIT_FAILED = 1

OutOption = Annotated[
    Path, typer.Option("-o", "--out", help="Folder for the records (one sub-folder per scenario).")
]
SeedOverride = Annotated[
    int | None,
    typer.Option(
        help="Override the scenario's seed (run.seed).", show_default=False, parser=options.seed
    ),
]
BudgetOption = Annotated[
    int | None,
    typer.Option(
        "--budget",
        parser=options.count,
        help="Requests per simulation run (default: the scenario's run.requests).",
        show_default=False,
    ),
]
TimeoutOption = Annotated[
    int,
    typer.Option(help="Seconds any one notebook cell may run.", parser=options.integer(1, 10**7)),
]
KernelOption = Annotated[str, typer.Option(help="The Jupyter kernel papermill runs.")]
NewStoreOption = Annotated[
    bool,
    typer.Option(
        "--new-store",
        help="If the run store is damaged or not SQLite, keep it aside as "
        "FILE.damaged-TIMESTAMP and start a new one with the rows that can still be read.",
    ),
]


@app.command()
def decide(
    scenario: Annotated[Path, typer.Argument(help="A scenario YAML file.", show_default=False)],
    out: OutOption = Path("out"),
    seed: SeedOverride = None,
    budget: BudgetOption = None,
    kernel: KernelOption = "scaleplan",
    timeout: TimeoutOption = 1800,
    workers: Annotated[
        int | None,
        typer.Option(
            help="Local processes for the comparison (default: one per available core; "
            "1: none besides the kernel). The record's numbers do not depend on it.",
            show_default=False,
            parser=options.workers,
        ),
    ] = None,
    results: Annotated[
        Path | None,
        typer.Option(
            help="A load test's results (Locust --csv prefix or k6 JSON): the record's "
            "Confirmation section then judges the model against them (see `scaleplan verify`).",
            show_default=False,
        ),
    ] = None,
    plan: Annotated[
        Path | None,
        typer.Option(
            help="The load-test plan of --results (default: plan.json beside the results).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Make the HTML decision record of a scenario (papermill + nbconvert; opens offline)."""
    from scaleplan.report.decide import decide as make_record

    with stderr.status(Text(f"making the decision record of {plain(scenario)} …")):
        record = make_record(
            scenario,
            out,
            seed=seed,
            budget=budget,
            kernel_name=kernel,
            execution_timeout=timeout,
            workers=workers,
            results=results,
            plan=plan,
        )
    for problem in record.problems:
        stderr.print(
            f"[yellow]warning:[/yellow] the record contradicts itself: {literal(problem)}",
            highlight=False,
            soft_wrap=True,
        )
    chosen = record.metrics.get("chosen")
    if chosen:
        stdout.print(f"chosen option: [bold]{literal(chosen)}[/bold]", highlight=False)
    else:
        # Why nothing is chosen, in words: the ranking, each option's causes and needs.
        stdout.print("[bold red]no option is chosen[/bold red]", highlight=False)
        for reason in (record.results.get("comparison") or {}).get("reasons") or []:
            stdout.print(f"  – {literal(reason)}", highlight=False, soft_wrap=True)
    verification = record.results.get("verification")
    if verification:
        stdout.print(
            f"load test: the model is [bold]{literal(verification['verdict'])}[/bold]",
            highlight=False,
        )
    stdout.print(f"results: {literal(record.json)}", highlight=False)
    stdout.print(f"notebook: {literal(record.notebook)}", highlight=False)
    stdout.print(f"decision record: {literal(record.html)}", highlight=False)


@app.command()
def batch(
    scenarios: Annotated[
        list[Path], typer.Argument(help="Scenario YAML files.", show_default=False)
    ],
    out: OutOption = Path("out"),
    workers: Annotated[
        int | None,
        typer.Option(
            help="Local processes (default: one per CPU).",
            show_default=False,
            parser=options.workers,
        ),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            help="Run on a Dask cluster: its scheduler address, e.g. tcp://10.0.0.5:8786.",
            show_default=False,
        ),
    ] = None,
    seed: SeedOverride = None,
    budget: BudgetOption = None,
    store: Annotated[
        Path | None,
        typer.Option(help="SQLite run store (default: OUT/scaleplan.db).", show_default=False),
    ] = None,
    kernel: KernelOption = "scaleplan",
    timeout: TimeoutOption = 1800,
    new_store: NewStoreOption = False,
) -> None:
    """One decision record per scenario, resumable; failures reported while the rest go on."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from scaleplan.report.batch import JobResult
    from scaleplan.report.batch import batch as run_batch

    bar = Progress(
        TextColumn("{task.description}", style="progress.description", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr,
        transient=True,
        disable=not stderr.is_terminal,
    )

    def progress(job: JobResult, finished: int, total: int) -> None:
        if job.outcome == "failed":
            first = job.error.strip().splitlines()[0] if job.error.strip() else "failed"
            kept = job.artifacts.get("notebook")
            bar.console.print(
                f"[red]failed[/red] {literal(job.scenario)}: {literal(first)}"
                + (f" (notebook kept: {literal(kept)})" if kept else ""),
                highlight=False,
                soft_wrap=True,
            )
        else:
            verb = "done" if job.outcome == "done" else "skipped (already done)"
            bar.console.print(
                f"[green]{verb}[/green] {literal(job.scenario)} → {literal(job.html)} "
                f"({job.wall_s:.1f} s)",
                highlight=False,
                soft_wrap=True,
            )
        bar.update(task, completed=finished, total=total)

    with bar:
        task = bar.add_task("decision records", total=len(scenarios))
        result = run_batch(
            scenarios,
            out,
            workers=workers,
            scheduler=scheduler,
            seed=seed,
            budget=budget,
            store=store,
            kernel_name=kernel,
            execution_timeout=timeout,
            progress=progress,
            new_store=new_store,
        )
    for warning in result.warnings:
        stderr.print(
            f"[yellow]warning:[/yellow] {literal(warning)}", highlight=False, soft_wrap=True
        )
    counts = {outcome: 0 for outcome in ("done", "skipped", "failed")}
    for job in result.jobs:
        counts[job.outcome] += 1
    stdout.print(
        f"{len(result.jobs)} scenarios on {result.executor} in {result.wall_s:.1f} s: "
        f"{counts['done']} done, {counts['skipped']} skipped, {counts['failed']} failed; "
        f"run store {literal(result.store)}",
        highlight=False,
    )
    for job in result.failed:
        stderr.print(
            f"[red]error:[/red] {literal(job.scenario)}: {literal(job.error)}", highlight=False
        )
    if not result.ok:
        raise typer.Exit(EXIT_FAILED)


@app.command()
def runs(
    store: Annotated[Path, typer.Option(help="The SQLite run store.", show_default=True)] = Path(
        "out/scaleplan.db"
    ),
    scenario: Annotated[
        str | None, typer.Option(help="Only runs of this scenario path.", show_default=False)
    ] = None,
    limit: Annotated[
        int | None, typer.Option(help="At most this many.", parser=options.count)
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the rows as JSON.")] = False,
    new_store: NewStoreOption = False,
) -> None:
    """List the runs in the run store, the latest first.

    A damaged store is said on stderr, with the rows that cannot be read; the others are
    listed. A ``running`` row whose process is gone shows as ``stale``.
    """
    from scaleplan.errors import ReportError
    from scaleplan.report.store import RunStore, repair_store

    if not store.is_file():
        raise ReportError(f"{store}: no run store here yet (batch and decide create it)")
    if new_store:
        done = repair_store(store)
        if done:
            stderr.print(
                f"[yellow]warning:[/yellow] {literal(done)}", highlight=False, soft_wrap=True
            )
    with RunStore(store) as opened:
        rows = opened.runs(scenario=scenario, limit=limit)
        damage, problems = list(opened.damage), list(opened.problems)
    if damage or problems:
        what = "; ".join(damage) if damage else "some rows cannot be read"
        stderr.print(
            f"[yellow]warning:[/yellow] {literal(store)}: the run store is damaged: "
            f"{literal(what)}; listing the {len(rows)} readable rows "
            "(--new-store keeps it aside and starts a new store with them)",
            highlight=False,
            soft_wrap=True,
        )
        for problem in problems:
            stderr.print(f"  unreadable: {literal(problem)}", highlight=False, soft_wrap=True)
    if as_json:
        sys.stdout.write(json.dumps([row.to_dict() for row in rows], indent=2) + "\n")
        return
    table = Table(title=f"runs in {literal(store)}", title_justify="left")
    for column in ("id", "scenario", "status", "tries", "seed", "started", "wall s", "chosen"):
        table.add_column(column, justify="right" if column in ("id", "tries", "wall s") else "left")
    for row in rows:
        status = "stale" if row.stale else row.status
        style = {"done": "green", "failed": "red", "running": "yellow"}.get(status, "magenta")
        table.add_row(
            str(row.id),
            literal(Path(row.scenario).name),  # the full path is in --json
            f"[{style}]{status}[/{style}]",
            str(row.attempts),
            "—" if row.seed is None else str(row.seed),
            literal(row.started_at),
            "—" if row.wall_s is None else f"{row.wall_s:.1f}",
            literal(row.metrics.get("chosen", "—")),
        )
    stdout.print(table)
