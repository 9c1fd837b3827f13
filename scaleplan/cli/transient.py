"""``scaleplan transient``: candidates through a load profile, with CIs across replications.

The argument is a scenario (``workload.profile``, every candidate or those named by
``--candidate``) or an architecture whose workload has ``arrival: profile``. It prints, per
candidate, a summary table (scaling, queues and drain, error budget, replica-hours, the cost of
the event, each with its 95% CI across the replications) and the per-window SLO verdicts;
``--json FILE`` writes the results (``-`` for stdout), ``--html FILE`` the time-series chart.
Bad input exits 2 naming the file and key.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from scaleplan.cli import options
from scaleplan.cli.app import app
from scaleplan.cli.console import literal, stderr, stdout
from scaleplan.cli.core import progress_bar, verdict_status
from scaleplan.formatting import json_safe, number

if TYPE_CHECKING:
    from scaleplan.experiments.nfr import Verdict
    from scaleplan.experiments.spike_limit import SpikeLimit
    from scaleplan.experiments.transient import TransientResult
    from scaleplan.spec import ArchitectureSpec, BacklogNFR, SLOSpec

STATUS_MARK = {
    "pass": "[green]✓[/green]",
    "fail": "[red]✗[/red]",
    "inconclusive": "[yellow]?[/yellow]",
}


def _summary(name: str, result: TransientResult) -> Table:
    # Here, not at the top: importing scaleplan.views loads numpy and the kinds, which a
    # command's start-up does not need (tests/test_startup.py).
    from scaleplan.views.transient_summary import summary_rows

    table = Table(
        title=(
            f"{literal(name)}: {number(result.duration_s, '.0f')} s profile over "
            f"{number(result.base_rate_per_s)} requests/s base; mean [95% CI across "
            f"{result.replications} replications]"
        ),
        title_justify="left",
    )
    table.add_column("figure", justify="left")
    table.add_column("value", justify="right")
    table.add_column("note", justify="left")
    for label, value, note in summary_rows(result):
        table.add_row(literal(label), literal(value), literal(note))
    return table


def _windows(result: TransientResult) -> Table | None:
    verdicts = result.verdicts()
    if not verdicts:
        return None
    table = Table(
        title=f"SLOs per {result.window_s:g} s window (✓ pass, ✗ fail, ? inconclusive)",
        title_justify="left",
    )
    for column in ("SLO", "over the profile", "windows", "worst window"):
        table.add_column(column, justify="left")
    for verdict in verdicts:
        marks = "".join(
            STATUS_MARK.get(w.verdict.status, "·")
            for w in result.windows
            if w.verdict.nfr == verdict.nfr
        )
        table.add_row(
            literal(verdict.nfr), verdict_status(verdict.status), marks, literal(verdict.reason())
        )
    return table


def _show_spike(name: str, found: SpikeLimit) -> None:
    """One candidate's spike limit in words."""
    from scaleplan.views.transient_summary import spike_sentence

    color = "green" if found.holds_declared else "red"
    stdout.print(f"[{color}]{literal(spike_sentence(name, found))}[/{color}]")
    if found.below_lowest:
        stdout.print(
            f"[yellow]warning:[/yellow] {found.below_lowest} of {len(found.limits)} searches "
            "broke an SLO at every factor tried: their limit is counted as 0"
        )


def _show(results: dict[str, TransientResult]) -> None:
    for name, result in results.items():
        stdout.print(_summary(name, result))
        windows = _windows(result)
        if windows is not None:
            stdout.print(windows)
        for warning in result.warnings:
            stdout.print(f"[yellow]warning:[/yellow] {literal(warning)}")


@app.command("transient")
def transient_command(
    path: Annotated[
        Path,
        typer.Argument(
            help="A scenario with workload.profile, or an architecture with arrival: profile.",
            show_default=False,
        ),
    ],
    candidate: Annotated[
        list[str] | None,
        typer.Option("--candidate", help="A scenario's candidate to run (repeat; default: all)."),
    ] = None,
    replications: Annotated[
        int | None,
        typer.Option(
            help="Independent replications (default: the scenario's run.replications, else 5).",
            parser=options.replications,
        ),
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Random seed (default: the scenario's).", parser=options.seed)
    ] = None,
    bucket_s: Annotated[
        float | None,
        typer.Option(
            "--bucket-s",
            help="Width of a time bucket (default: about duration ÷ 60, phases on bucket edges).",
            parser=options.number(0.0, 1e12, low_open=True),
        ),
    ] = None,
    window_s: Annotated[
        float | None,
        typer.Option(
            "--window-s",
            help="Width of an SLO window (default: 60 s, or a tenth of a shorter profile).",
            parser=options.number(0.0, 1e12, low_open=True),
        ),
    ] = None,
    html: Annotated[
        Path | None, typer.Option("--html", help="Write the time-series chart as HTML.")
    ] = None,
    json_path: Annotated[
        Path | None,
        typer.Option("--json", help="Write the results as JSON to this file ('-': stdout)."),
    ] = None,
    slo: Annotated[
        list[str] | None,
        typer.Option(
            "--slo",
            help="An objective to judge (repeat; default: the scenario's SLOs, none for an "
            "architecture).",
            show_default=False,
        ),
    ] = None,
    spike_limit: Annotated[
        bool,
        typer.Option(
            "--spike-limit",
            help="Also search the largest factor of the peak phase (or --phase) that keeps "
            "every latency and error SLO, with its 95% CI across searches.",
        ),
    ] = False,
    phase: Annotated[
        str | None,
        typer.Option(help="The phase --spike-limit scales (default: the peak phase)."),
    ] = None,
    searches: Annotated[
        int,
        typer.Option(
            help="Independent searches of --spike-limit, for its CI.",
            parser=options.replications,
        ),
    ] = 3,
    duration: Annotated[
        float | None,
        typer.Option(
            help="How long the spike lasts in --spike-limit ('15min', '90s'; default: as the "
            "profile declares it).",
            parser=options.duration,
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            help="Local processes for --spike-limit's searches (default: one per available "
            "core; 1: this process only).",
            parser=options.workers,
        ),
    ] = None,
) -> None:
    """Run candidates through a load profile: per-bucket series and window SLO verdicts with
    95% CIs across replications, scaling, backlog drain, error budget and the event's cost."""
    from scaleplan.experiments.transient import (
        TransientError,
        transient,
        transient_scenario,
        with_profile,
    )
    from scaleplan.spec import load_scenario, load_spec
    from scaleplan.spec.architecture import read_yaml

    data, _ = read_yaml(path)
    slos: tuple[SLOSpec, ...] = tuple(options.slos(slo or []))
    specs: dict[str, ArchitectureSpec] = {}
    backlog: BacklogNFR | None = None
    with progress_bar("through the profile", delay_s=0.5) as report:
        if isinstance(data, dict) and "candidates" in data:
            scenario = load_scenario(path)
            if slo:
                scenario = scenario.model_copy(
                    update={"nfrs": scenario.nfrs.model_copy(update={"slos": slos})}
                )
            slos = scenario.nfrs.slos
            backlog = scenario.nfrs.backlog
            results = transient_scenario(
                scenario,
                candidates=candidate or (),
                replications=replications,
                seed=seed,
                bucket_s=bucket_s,
                window_s=window_s,
                progress=report,
            )
            if scenario.workload.profile is not None:
                architectures = scenario.architectures()
                specs = {
                    name: with_profile(
                        architectures[name], scenario.workload.profile, scenario.today_rate_per_s
                    )
                    for name in results
                }
        else:
            if candidate:
                raise TransientError(
                    f"{path.name}: --candidate applies to a scenario, not to an architecture"
                )
            spec = load_spec(path)
            specs = {spec.name: spec}
            results = {
                spec.name: transient(
                    spec,
                    replications=replications or 5,
                    seed=1 if seed is None else seed,
                    bucket_s=bucket_s,
                    window_s=window_s,
                    slos=slos,
                    progress=report,
                )
            }
    document: dict[str, Any] = {
        "results": {name: result.to_dict() for name, result in results.items()}
    }
    backlogs: dict[str, list[Verdict]] = {}
    if backlog is not None:
        from scaleplan.experiments.transient import backlog_verdicts

        backlogs = {name: backlog_verdicts(result, backlog) for name, result in results.items()}
        document["backlog"] = {
            name: [verdict.to_dict() for verdict in verdicts] for name, verdicts in backlogs.items()
        }
    limits: dict[str, SpikeLimit] = {}
    if spike_limit:
        from scaleplan.experiments.spike_limit import spike_limit as search_spike

        first = next(iter(results.values()))
        for name, spec in specs.items():
            with progress_bar(f"{name}: the largest spike", delay_s=0.5) as report:
                limits[name] = search_spike(
                    spec,
                    slos,
                    phase=phase,
                    duration_s=duration,
                    searches=searches,
                    workers=workers,
                    replications=first.replications,
                    seed=first.seed,
                    backlog=backlog,
                    progress=report,
                )
        document["spike_limits"] = {name: found.to_dict() for name, found in limits.items()}
    if json_path is not None and str(json_path) == "-":
        sys.stdout.write(json.dumps(json_safe(document), indent=2, allow_nan=False) + "\n")
    else:
        _show(results)
        for name, verdicts in backlogs.items():
            for verdict in verdicts:
                color = {"pass": "green", "fail": "red"}.get(verdict.status, "yellow")
                stdout.print(f"{literal(name)}: [{color}]{literal(verdict.reason())}[/{color}]")
        for name, found in limits.items():
            _show_spike(name, found)
        if json_path is not None:
            json_path.write_text(json.dumps(json_safe(document), indent=2, allow_nan=False) + "\n")
            stderr.print(f"wrote {literal(json_path)}")
    if html is not None:
        from scaleplan.views import write_html
        from scaleplan.views.transient import figure_transient

        written = write_html(
            figure_transient(results, slos), html, kept="the results were printed above"
        )
        stderr.print(f"wrote {literal(written)}")
