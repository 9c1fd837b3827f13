"""The ``loadtest`` command: a load-test plan, its Locust file, k6 script and test plan.

``scaleplan loadtest SCENARIO -o DIR`` picks the candidate (the comparison's recommendation
unless ``--candidate``), pulls it for its limit, predicts each step of the stress test and the
other test cases, and writes ``DIR/plan.json`` (what ``scaleplan verify`` reads),
``DIR/locustfile.py``, ``DIR/script.js``, ``DIR/testplan.md`` and ``DIR/testplan.html``. It
prints the steps and the Locust command to run; ``--json`` prints the plan, the files and the
command as JSON instead (messages on stderr).
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from scaleplan.cli import options
from scaleplan.cli.app import app
from scaleplan.cli.console import literal, stderr, stdout
from scaleplan.cli.core import JsonFlag, progress_bar
from scaleplan.spec.base import MAX_SECONDS

if TYPE_CHECKING:
    from scaleplan.loadtest.plan import Band, LoadTestPlan

#: The files the command writes into its folder, in the order it prints them.
FILES = ("plan.json", "locustfile.py", "script.js", "testplan.md", "testplan.html")


def _band(band: Band | None) -> str:
    if band is None:
        return "—"
    return f"{band.mean:.1f} [{band.low:.1f}, {band.high:.1f}]"


def print_steps(plan: LoadTestPlan) -> None:
    """The stress steps: rate, users and the predicted p95 and p99 with their 95% CIs."""
    if plan.closed:
        _print_closed_steps(plan)
        return
    limit = "no limit"
    if plan.limit_per_s is not None:
        limit = f"limit {plan.limit_per_s:.4g}/s"
        if plan.limit_ci95 is not None:
            limit += f" [{plan.limit_ci95[0]:.4g}, {plan.limit_ci95[1]:.4g}]"
    stdout.print(
        f"[bold]{literal(plan.candidate)}[/bold]: {limit}, bottleneck "
        f"{literal(plan.bottleneck or '—')}; {len(plan.steps)} steps of "
        f"{plan.steps[0].duration_s:g} s ({plan.steps[0].settle_s:g} s settling), "
        f"{plan.user_rate_per_s:g} request{'' if plan.user_rate_per_s == 1 else 's'} a second "
        "per user"
    )
    _steps_table(plan)


def _print_closed_steps(plan: LoadTestPlan) -> None:
    """A closed plan's steps: users (the load), the throughput they are predicted to reach."""
    from scaleplan.loadtest.closed import think_time_text

    limit = "no limit"
    if plan.limit_users is not None:
        limit = f"limit {plan.limit_users:.3g} users"
        if plan.limit_users_ci95 is not None:
            limit += f" [{plan.limit_users_ci95[0]:.3g}, {plan.limit_users_ci95[1]:.3g}]"
        if plan.limit_per_s is not None:
            limit += f" ({plan.limit_per_s:.4g}/s)"
    stdout.print(
        f"[bold]{literal(plan.candidate)}[/bold]: closed workload, {limit}, bottleneck "
        f"{literal(plan.bottleneck or '—')}; {len(plan.steps)} steps of "
        f"{plan.steps[0].duration_s:g} s ({plan.steps[0].settle_s:g} s settling); each user "
        f"thinks {literal(think_time_text(plan.think_time))} between an answer and its next "
        "request"
    )
    _steps_table(plan)


def _steps_table(plan: LoadTestPlan) -> None:
    shown = Table(title="steps (predicted, 95% CI)", title_justify="left")
    rate = "throughput/s" if plan.closed else "rate/s"
    for column in ("step", "start s", rate, "users", "p95 ms", "p99 ms", "meets NFRs"):
        shown.add_column(column, justify="left" if column == "meets NFRs" else "right")
    for step in plan.steps:
        shown.add_row(
            str(step.index),
            f"{step.start_s:g}",
            f"{step.rate_per_s:.4g}",
            str(step.users),
            _band(step.predicted.get("p95_ms")),
            _band(step.predicted.get("p99_ms")),
            "[green]yes[/green]" if step.meets_slos else "[red]no[/red]",
        )
    stdout.print(shown)


@app.command()
def loadtest(
    scenario: Annotated[Path, typer.Argument(help="A scenario YAML file.", show_default=False)],
    out: Annotated[
        Path,
        typer.Option(
            "-o",
            "--out",
            help="Folder for the plan and the scripts (made if missing).",
            show_default=False,
        ),
    ],
    candidate: Annotated[
        str | None,
        typer.Option(
            help="The candidate to test (default: the recommended one).", show_default=False
        ),
    ] = None,
    host: Annotated[
        str | None,
        typer.Option(
            help="Base URL of the system under test (default: the scenario's loadtest.host).",
            show_default=False,
        ),
    ] = None,
    step_s: Annotated[
        float | None,
        typer.Option(
            "--step-s",
            help="Seconds per step (default: the scenario's loadtest.step_s).",
            show_default=False,
            parser=options.number(0.0, MAX_SECONDS, low_open=True),
        ),
    ] = None,
    settle_s: Annotated[
        float | None,
        typer.Option(
            "--settle-s",
            help="Seconds of each step not measured (default: the scenario's loadtest.settle_s).",
            show_default=False,
            parser=options.seconds,
        ),
    ] = None,
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
    as_json: JsonFlag = False,
) -> None:
    """Write a load-test plan, a Locust file, a k6 script and a test plan for a scenario."""
    from scaleplan.loadtest.k6 import k6_script
    from scaleplan.loadtest.locust import locust_command, locustfile
    from scaleplan.loadtest.make import (
        check_candidate,
        check_size,
        loadtest_settings,
        make_plan_context,
    )
    from scaleplan.loadtest.testplan import (
        make_cases,
        planned_cases,
        testplan_html,
        testplan_markdown,
    )
    from scaleplan.parallel import process_pool
    from scaleplan.paths import OutputError, output_problem
    from scaleplan.runsize import check_scenario
    from scaleplan.spec import load_scenario

    loaded = load_scenario(scenario)
    check_scenario(loaded, scenario.parent)
    # Bad options are refused before anything is made or simulated.
    settings = loadtest_settings(loaded, host=host, step_s=step_s, settle_s=settle_s)
    if candidate is not None:
        check_candidate(loaded, candidate)
    check_size(loaded, settings, candidate)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(output_problem(out, error, verb="make")) from None
    pool = process_pool(workers, 64)
    try:
        with progress_bar("planning the load test", delay_s=0.5) as progress:
            context = make_plan_context(
                loaded,
                candidate,
                host=host,
                step_s=step_s,
                settle_s=settle_s,
                seed=seed,
                workers=workers,
                executor=pool,
                progress=progress,
            )
            cases = make_cases(context, loaded, seed=seed, executor=pool, progress=progress)
    finally:
        if pool is not None:
            pool.shutdown()
    for note in context.notes:
        stderr.print(f"note: {literal(note)}", highlight=False)
    # The plan file keeps the cases too: a decision record prints the test plan from it.
    plan = context.plan.model_copy(update={"cases": planned_cases(cases)})
    texts = {
        "plan.json": plan.to_json(),
        "locustfile.py": locustfile(plan),
        "script.js": k6_script(plan),
        "testplan.md": testplan_markdown(plan, cases),
        "testplan.html": testplan_html(plan, cases),
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
    command = locust_command(out / "locustfile.py", plan.host, out / "results")
    if as_json:
        sys.stdout.write(
            json.dumps(
                {
                    "plan": json.loads(plan.to_json()),
                    "files": [str(path) for path in written],
                    "locust_command": command,
                },
                indent=2,
                allow_nan=False,
            )
            + "\n"
        )
        for path in written:
            stderr.print(f"wrote {literal(path)}", highlight=False)
        return
    for path in written:
        stdout.print(f"wrote {literal(path)}", highlight=False)
    print_steps(plan)
    stdout.print("run it with:", highlight=False)
    stdout.print(literal(shlex.join(command)), highlight=False, soft_wrap=True)
