"""``scaleplan verify SCENARIO RESULTS``: a load test's results against the model's plan.

Reads the plan ``scaleplan loadtest`` wrote (default: ``plan.json`` beside the results),
checks that it was made for SCENARIO, reads Locust's CSV or k6's JSON, and prints per step and
figure the measurement, the predicted band and whether they agree, then the verdict and why.
Exit 0 when the model is confirmed, 1 when it is refuted, 2 on bad input.
"""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from scaleplan.cli import options
from scaleplan.cli.app import app
from scaleplan.cli.console import literal
from scaleplan.cli.core import JsonFlag, deliver, stdout

if TYPE_CHECKING:
    from scaleplan.verify import Verification

EXIT_REFUTED = 1

_tolerance = options.number(0.0, 10.0)


def _start(text: str) -> float:
    """Unix seconds, or an ISO 8601 time (with its offset; UTC when it has none)."""
    try:
        value = float(text)
    except ValueError:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise typer.BadParameter(
                f"not Unix seconds nor an ISO 8601 time (got {text!r})"
            ) from None
        if moment.tzinfo is None:
            from datetime import UTC

            moment = moment.replace(tzinfo=UTC)
        return moment.timestamp()
    if not math.isfinite(value) or value < 0:
        raise typer.BadParameter(f"must be Unix seconds (got {text!r})")
    return value


_start.__name__ = "TIME"


@app.command()
def verify(
    scenario: Annotated[
        Path, typer.Argument(help="The scenario YAML file the plan was made from.")
    ],
    results: Annotated[
        Path,
        typer.Argument(
            help="Locust's --csv PREFIX (or its _stats.csv / _stats_history.csv, or its folder), "
            "or k6's --out json NDJSON or --summary-export JSON file.",
            show_default=False,
        ),
    ],
    plan: Annotated[
        Path | None,
        typer.Option(
            help="The plan `scaleplan loadtest` wrote (default: plan.json beside the results).",
            show_default=False,
        ),
    ] = None,
    tolerance_latency: Annotated[
        float,
        typer.Option(
            help="Relative widening of the predicted latency bands (0.2: ±20%).", parser=_tolerance
        ),
    ] = 0.2,
    tolerance_throughput: Annotated[
        float,
        typer.Option(
            help="Relative widening of the predicted throughput band (0.1: ±10%).",
            parser=_tolerance,
        ),
    ] = 0.1,
    tolerance_errors: Annotated[
        float,
        typer.Option(
            help="Absolute widening of the predicted error-rate band (0.01: ±1 point).",
            parser=options.probability,
        ),
    ] = 0.01,
    start: Annotated[
        float | None,
        typer.Option(
            help="When the test started (Unix seconds or ISO 8601; default: the results' "
            "first moment).",
            parser=_start,
            metavar="<time>",
            show_default=False,
        ),
    ] = None,
    html: Annotated[
        Path | None,
        typer.Option("--html", help="Also write the predicted-vs-measured chart as HTML."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """The model against a load test: confirmed (exit 0) or refuted (exit 1), and why."""
    from scaleplan.verify import Tolerances
    from scaleplan.verify import verify as run_verify
    from scaleplan.verify.chart import figure_verification

    result = run_verify(
        scenario,
        results,
        plan=plan,
        tolerances=Tolerances(
            throughput=tolerance_throughput, latency=tolerance_latency, errors=tolerance_errors
        ),
        start=start,
    )
    deliver(result, as_json=as_json, show=print_verification, html=html, figure=figure_verification)
    if not result.confirmed:
        raise typer.Exit(EXIT_REFUTED)


def print_verification(result: Verification) -> None:
    """The per-step table, the verdict and the reasons."""
    from scaleplan.verify.judge import LABELS, show_band, show_deviation, show_value

    stdout.print(
        f"[bold]{literal(result.candidate)}[/bold] of {literal(result.scenario)}: "
        f"{literal(result.source)} ({result.tool}) against {literal(result.plan)}"
    )
    table = Table(title="measured against predicted, per step", title_justify="left")
    closed = result.load_test_plan is not None and result.load_test_plan.closed
    load = "users" if closed else "req/s"
    for column in ("step", load, "figure", "measured", "predicted [95% CI]", "accepted", ""):
        table.add_column(column, justify="left" if column in ("figure", "") else "right")
    for step in result.steps:
        for position, check in enumerate(step.checks):
            accepted = (
                f"{show_value(check.figure, check.low)} – {show_value(check.figure, check.high)}"
            )
            mark = {True: "[green]✓[/green]", False: "[red]✗[/red]", None: "not measured"}
            table.add_row(
                f"{step.step.index} {literal(step.step.phase)}" if position == 0 else "",
                (str(step.step.users) if closed else f"{step.step.rate_per_s:.4g}")
                if position == 0
                else "",
                LABELS[check.figure],
                show_value(check.figure, check.measured),
                show_band(check),
                accepted,
                ("not judged" if check.unjudged and check.measured_known else mark[check.agrees])
                + ("" if check.agrees is None else f" {show_deviation(check)}"),
            )
    stdout.print(table)
    color = "green" if result.confirmed else "red"
    stdout.print(
        f"verdict: [bold {color}]{result.verdict}[/bold {color}] (tolerances: latency "
        f"{result.tolerances.text('p99_ms')}, throughput "
        f"{result.tolerances.text('throughput_per_s')}, error rate "
        f"{result.tolerances.text('error_rate')})"
    )
    for line in result.divergences:
        stdout.print(f"  diverges: {literal(line)}")
    for line in result.causes:
        stdout.print(f"  likely cause: {literal(line)}")
    for line in result.notes:
        stdout.print(f"  note: {literal(line)}")
