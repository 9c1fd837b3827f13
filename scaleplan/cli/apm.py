"""The ``apm`` command: the monitoring design of a scenario's chosen option.

``scaleplan apm SCENARIO -o DIR`` compares the candidates (or measures the one named with
``--candidate``, or the only one) and writes ``DIR/instrumentation.md`` and ``.json`` (what to
measure per component), ``DIR/rules.yml`` (Prometheus recording and alerting rules),
``DIR/rules.test.yml`` (their ``promtool test rules`` unit tests), ``DIR/dashboard.json``
(Grafana) and ``DIR/monitoring.md`` / ``.html`` (the design page). It prints the files and the
number of alerts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from scaleplan.cli import options
from scaleplan.cli.app import app
from scaleplan.cli.console import literal, stdout
from scaleplan.cli.core import progress_bar

#: The files the command writes into its folder, in the order it prints them.
FILES = (
    "instrumentation.md",
    "instrumentation.json",
    "rules.yml",
    "rules.test.yml",
    "dashboard.json",
    "monitoring.md",
    "monitoring.html",
)


@app.command()
def apm(
    scenario: Annotated[Path, typer.Argument(help="A scenario YAML file.", show_default=False)],
    out: Annotated[
        Path,
        typer.Option(
            "-o",
            "--out",
            help="Folder for the monitoring design (made if missing).",
            show_default=False,
        ),
    ],
    candidate: Annotated[
        str | None,
        typer.Option(
            help="The candidate to monitor (default: the recommended one).", show_default=False
        ),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(help="Override the scenario's seed.", show_default=False, parser=options.seed),
    ] = None,
    budget: Annotated[
        int | None,
        typer.Option(
            "--budget",
            parser=options.count,
            help="Requests per simulation run (default: the scenario's run.requests).",
            show_default=False,
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            help="Local processes (default: one per available core; 1: this process only).",
            parser=options.workers,
        ),
    ] = None,
) -> None:
    """Write the monitoring design of a scenario's chosen option: instrumentation, Prometheus
    rules and their tests, a Grafana dashboard and the design page."""
    from scaleplan.apm.dashboard import dashboard_json
    from scaleplan.apm.design import make_design
    from scaleplan.apm.page import instrumentation_markdown, monitoring_html, monitoring_markdown
    from scaleplan.apm.promtests import unit_tests_yaml
    from scaleplan.loadtest.make import check_candidate
    from scaleplan.paths import OutputError, output_problem
    from scaleplan.runsize import check_scenario
    from scaleplan.spec import load_scenario

    loaded = load_scenario(scenario)
    check_scenario(loaded, scenario.parent)
    if candidate is not None:
        check_candidate(loaded, candidate)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(output_problem(out, error, verb="make")) from None
    with progress_bar("comparing the candidates", delay_s=0.5) as progress:
        made = make_design(
            loaded, candidate, seed=seed, budget=budget, workers=workers, progress=progress
        )
    texts = {
        "instrumentation.md": instrumentation_markdown(made),
        "instrumentation.json": made.plan.to_json(),
        "rules.yml": made.rules.to_yaml(),
        "rules.test.yml": unit_tests_yaml(made, "rules.yml"),
        "dashboard.json": dashboard_json(made),
        "monitoring.md": monitoring_markdown(made),
        "monitoring.html": monitoring_html(made),
    }
    written: list[Path] = []
    for name in FILES:
        path = out / name
        try:
            path.write_text(texts[name], encoding="utf-8")
        except OSError as error:
            kept = "wrote " + ", ".join(str(p) for p in written) if written else ""
            raise OutputError(output_problem(path, error, kept=kept)) from None
        written.append(path)
    for path in written:
        stdout.print(f"wrote {literal(path)}", highlight=False)
    alerts = made.rules.alerts
    pages = sum(1 for a in alerts if a.severity == "page")
    stdout.print(
        f"[bold]{literal(made.name)}[/bold]: {len(alerts)} alerts ({pages} page, "
        f"{len(alerts) - pages} ticket) over {len(made.objectives)} objectives and "
        f"{len(made.capacity)} capacity thresholds; check them with: "
        f"promtool test rules {literal(out / 'rules.test.yml')}",
        highlight=False,
        soft_wrap=True,
    )
