"""``scaleplan calibrate TELEMETRY... -o spec.yaml``: a model from what the system did.

Reads OTLP JSON traces, Zipkin v2 JSON, Prometheus histograms or access logs, prints what it
read, skipped (with reasons) and derived, writes the commented spec, and with ``--report``
runs the calibrated model at the observed load against the observed latencies (Markdown, and
JSON beside it). Bad telemetry exits 2 with the file, line and what was wrong.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from scaleplan.cli import options
from scaleplan.cli.app import app
from scaleplan.cli.console import literal, stderr, stdout

_FORMATS = ("auto", "otlp", "zipkin", "prometheus", "access-log")


def _format(text: str) -> str:
    value = str(text).strip()
    if value not in _FORMATS:
        raise typer.BadParameter(f"must be one of {', '.join(_FORMATS)} (got {text!r})")
    return value


def _unit(text: str) -> str:
    value = str(text).strip()
    if value not in ("s", "ms", "us"):
        raise typer.BadParameter(f"must be s, ms or us (got {text!r})")
    return value


def _pool(text: str) -> str:
    name, _, size = str(text).partition("=")
    if not name or not size:
        raise typer.BadParameter(f"must be SERVICE=N (got {text!r})")
    options.servers(size)
    return f"{name.strip()}={int(size)}"


_FORMAT_HELP = "auto (by each file's first bytes), otlp, zipkin, prometheus or access-log."


@app.command()
def calibrate(
    telemetry: Annotated[
        list[Path],
        typer.Argument(
            help="Telemetry files: OTLP JSON traces, Zipkin v2 JSON, Prometheus exposition "
            "text or access logs (one kind at a time).",
            show_default=False,
        ),
    ],
    output: Annotated[
        Path,
        typer.Option("-o", "--output", help="The spec YAML to write.", show_default=False),
    ],
    format: Annotated[
        str, typer.Option("--format", help=_FORMAT_HELP, parser=_format, metavar="FORMAT")
    ] = "auto",
    time_unit: Annotated[
        str | None,
        typer.Option(
            help="An access log's request-time unit (default: seconds when the times have a "
            "decimal point, as nginx's $request_time; microseconds when integers, as Apache's "
            "%D); a Prometheus histogram's when its name has none.",
            parser=_unit,
            metavar="s|ms|us",
            show_default=False,
        ),
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option(
            help="Write the fit report (Markdown, and JSON beside it; a .json name gets the JSON "
            "and the Markdown beside it): the calibrated model at the observed load against "
            "the observed latencies.",
            show_default=False,
        ),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(help="The spec's name (default: the first file's).", show_default=False),
    ] = None,
    concurrency: Annotated[
        list[str] | None,
        typer.Option(
            help="SERVICE=N: a service's real pool size (repeatable; default: the largest "
            "concurrency observed, a lower bound).",
            parser=_pool,
            show_default=False,
        ),
    ] = None,
    rate_per_s: Annotated[
        float | None,
        typer.Option(
            help="The arrival rate, when the telemetry cannot give it (one Prometheus scrape).",
            parser=options.rate,
            show_default=False,
        ),
    ] = None,
    skew_tolerance_ms: Annotated[
        float,
        typer.Option(
            help="How far a child span may lie outside its parent before its trace is skipped "
            "as clock skew.",
            parser=options.number(0.0, 60_000.0),
        ),
    ] = 1.0,
    max_skipped: Annotated[
        float,
        typer.Option(
            help="The share of records that may be skipped (each counted with its reason) "
            "before calibration fails.",
            parser=options.probability,
        ),
    ] = 0.05,
    replications: Annotated[
        int,
        typer.Option(help="Replications of the fit report's run.", parser=options.integer(1, 100)),
    ] = 3,
    seed: Annotated[int, typer.Option(help="The fit report's seed.", parser=options.seed)] = 1,
) -> None:
    """Calibrate a model from telemetry: rate, classes, call graph, own times, fits."""
    from scaleplan.calibrate import calibrate as run

    pools = {}
    for item in concurrency or []:
        service, _, size = item.partition("=")
        pools[service] = int(size)
    calibration = run(
        telemetry,
        format,
        time_unit=time_unit,
        name=name,
        concurrency=pools,
        rate_per_s=rate_per_s,
        skew_tolerance_ms=skew_tolerance_ms,
        max_skipped=max_skipped,
    )
    for line in calibration.summary():
        stdout.print(literal(line), highlight=False, soft_wrap=True)
    written = calibration.write(output)
    stderr.print(f"wrote {literal(written)}", highlight=False)
    if report is not None:
        fit = calibration.report(replications=replications, seed=seed)
        report.parent.mkdir(parents=True, exist_ok=True)
        # The Markdown where asked and the JSON beside it (or the other way round for .json).
        markdown, beside = (
            (report.with_suffix(".md"), report)
            if report.suffix == ".json"
            else (report, report.with_suffix(".json"))
        )
        markdown.write_text(fit.to_markdown(), encoding="utf-8")
        beside.write_text(fit.to_json() + "\n", encoding="utf-8")
        for figure in fit.figures:
            stdout.print(
                literal(
                    f"{figure.name}: observed {figure.observed_ms:.4g} ms, model "
                    f"{figure.model_ms:.4g} ms ({figure.error:+.1%})"
                ),
                highlight=False,
            )
        stderr.print(f"wrote {literal(markdown)} and {literal(beside)}", highlight=False)
