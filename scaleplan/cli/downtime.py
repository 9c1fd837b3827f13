"""The downtime commands: failures, dr, rollout.

Each loads its input through :mod:`scaleplan.spec`, calls one verb (``failures``,
``recovery``, ``deploy``) and prints a rich summary or, with ``--json``, the result's JSON on
stdout (progress and messages go to stderr). Bad input exits 2 with where and what was found.

``dr`` reads a DR file (``data/dr/*.yaml``, :mod:`scaleplan.spec.dr`): the data, backups,
replication, strategies and RPO/RTO objectives are their own document, so that one file weighs
every strategy for the product whatever candidate architecture a scenario picks.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from scaleplan.cli import options
from scaleplan.cli.app import app
from scaleplan.cli.console import literal
from scaleplan.cli.core import (
    JsonFlag,
    SeedOption,
    SpecPath,
    deliver,
    progress_bar,
    stdout,
    verdict_status,
)
from scaleplan.formatting import number, percent, with_ci
from scaleplan.spec.base import MAX_DISASTERS, MAX_FACTOR, MAX_HOURS

if TYPE_CHECKING:
    from scaleplan.experiments.availability import FailuresResult
    from scaleplan.experiments.dr import RecoveryResult
    from scaleplan.experiments.nfr import Verdict
    from scaleplan.experiments.rollout import RolloutResult

HtmlOption = Annotated[
    Path | None, typer.Option("--html", help="Also write the figure as a self-contained HTML.")
]


def _pct(value: float | None, digits: int = 3) -> str:
    """Availability-style percentages carry three decimals unless told otherwise."""
    return percent(value, digits)


def _covered(flag: bool | None) -> str:
    return "—" if flag is None else ("[green]yes[/green]" if flag else "[red]no[/red]")


def _print_verdicts(verdicts: list[Verdict] | tuple[Verdict, ...], title: str) -> None:
    if not verdicts:
        return
    table = Table(title=title, title_justify="left")
    for column in ("NFR", "status", "measured", "95% CI", "bound", "how"):
        table.add_column(column, justify="left" if column in ("NFR", "status", "how") else "right")
    for verdict in verdicts:
        low, high = verdict.ci95
        percent = verdict.unit == "fraction"

        def show(value: float, percent: bool = percent) -> str:
            return _pct(value) if percent else number(value)

        table.add_row(
            literal(verdict.nfr),
            verdict_status(verdict.status),
            show(verdict.measured),
            f"{show(low)} – {show(high)}",
            show(verdict.bound) + ("" if percent else f" {literal(verdict.unit)}"),
            literal(verdict.detail),
        )
    stdout.print(table)


# --------------------------------------------------------------------------- failures


@app.command()
def failures(
    spec: SpecPath,
    seed: SeedOption = 1,
    replications: Annotated[
        int,
        typer.Option(help="Independent long runs (CIs across them).", parser=options.replications),
    ] = 10,
    duration_h: Annotated[
        float | None,
        typer.Option(
            help="Simulated hours per run (default: 400 failure cycles).",
            parser=options.number(1.0, MAX_HOURS),
        ),
    ] = None,
    probes: Annotated[
        int,
        typer.Option(
            help="Probe requests per run, for request-based availability.",
            parser=options.count,
        ),
    ] = 20_000,
    availability: Annotated[
        float | None,
        typer.Option(
            help="Availability objective in percent (e.g. 99.9): budget and verdicts.",
            parser=options.number(0.0, 100.0, low_open=True),
        ),
    ] = None,
    html: HtmlOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Failures and repairs: availability (time and requests) with CIs, the analytic referee,
    downtime per month, error-budget burn and each component's share of the downtime."""
    from scaleplan.experiments.availability import failures as run_failures
    from scaleplan.spec import load_spec

    architecture = load_spec(spec)
    if availability is not None and not 0 < availability <= 100:
        raise typer.BadParameter(
            f"a percentage in (0, 100] (got {availability})", param_hint="'--availability'"
        )
    with progress_bar(f"failing {architecture.name}", delay_s=0.5) as progress:
        result = run_failures(
            architecture,
            seed=seed,
            replications=replications,
            duration_h=duration_h,
            probes=probes,
            availability=availability,
            progress=progress,
        )
    from scaleplan.views import figure_availability

    deliver(result, as_json=as_json, show=print_failures, html=html, figure=figure_availability)


def _avail(value: float | None) -> str:
    """A percentage with enough digits to show the nines (99.99952% rather than 100.000%)."""
    if value is None or not math.isfinite(value):
        return "—"
    digits = 3 if value < 0.9999 else 5
    return f"{100 * value:.{digits}f}%"


def print_failures(result: FailuresResult) -> None:
    """A readable summary of :func:`~scaleplan.experiments.availability.failures`."""
    if result.mode == "steady state":
        stdout.print(
            f"[bold]{literal(result.spec)}[/bold] — failures in steady state, seeds {result.seed}…"
            f"{result.seed + result.replications - 1}: {result.replications} × "
            f"{result.duration_h:,.0f} h simulated (warm-up {result.warmup_h:,.4g} h cut), "
            f"{result.requests['arrived']:,} probe requests",
            highlight=False,
        )
    else:
        stdout.print(
            f"[bold]{literal(result.spec)}[/bold] — game day on the spec's workload, seeds "
            f"{result.seed}…{result.seed + result.replications - 1}",
            highlight=False,
        )
    system = result.system_time
    requests = result.system_requests
    downtime = result.downtime_min_per_month
    stdout.print(
        f"system ({literal(' + '.join(result.required) or 'nothing can fail')}): up "
        f"[bold]{_avail(system.mean)}[/bold] of the time (95% CI {_avail(system.low)} – "
        f"{_avail(system.high)}); requests served {_avail(requests.mean)} "
        f"({_avail(requests.low)} – {_avail(requests.high)})",
        highlight=False,
    )
    stdout.print(
        f"downtime: [bold]{number(downtime.mean, ',.3g')} min/month[/bold] "
        f"(95% CI {number(downtime.low, ',.3g')} – {number(downtime.high, ',.3g')}); analytic "
        f"{_avail(result.analytic)}, covered by the CI: {_covered(result.covered)}",
        highlight=False,
    )
    table = Table(
        title="components (* required: the system is down when one is)", title_justify="left"
    )
    columns = (
        "component",
        "MTBF h / MTTR min",
        "up (± 95% CI)",
        "analytic",
        "covered",
        "down min/month",
        "enough up (k of n)",
        "failures/month",
        "share of downtime",
    )
    for column in columns:
        if column == "component":
            table.add_column(column, no_wrap=True, min_width=len(column))
        else:
            table.add_column(column, justify="right")
    for item in result.components:
        ci = item.time_availability
        table.add_row(
            literal(item.name) + (" *" if item.required else ""),
            f"{number(item.mtbf_h)} / {number(item.mttr_min)}"
            + (" (all together)" if item.scope == "component" else ""),
            f"{_avail(ci.mean)} ± {number(100 * ci.half_width, '.2g')}",
            _avail(item.analytic),
            _covered(item.covered),
            number(item.downtime_min_per_month.mean, ",.3g"),
            f"{_avail(item.capacity_availability.mean)} ({item.needed_replicas} of "
            f"{item.replicas})",
            number(item.failures_per_month, ".3g"),
            _pct(item.share_of_system_downtime, 0),
        )
    stdout.print(table)
    budget = result.budget
    if budget is not None:
        burn = budget.burn_rate
        stdout.print(
            f"error budget at {_avail(budget.target)}: "
            f"{number(budget.budget_min_per_month, ',.3g')} min/month; burned "
            f"{number(budget.burned_min_per_month.mean, ',.3g')} → burn rate "
            f"[bold]{number(burn.mean, '.3g')}[/bold] (95% CI {number(burn.low, '.3g')} – "
            f"{number(burn.high, '.3g')}); counted by requests "
            f"{number(budget.request_burn_rate.mean, '.3g')}",
            highlight=False,
        )
    game = result.game_day
    if game is not None:
        stdout.print(
            f"[bold]game day[/bold] ({game.replications} seeds × {game.duration_s:,.0f} s of the "
            f"spec's workload): up {_avail(game.time_availability.mean)} of the time, requests "
            f"served {_avail(game.request_availability.mean)} (95% CI "
            f"{_avail(game.request_availability.low)} – "
            f"{_avail(game.request_availability.high)}); {game.requests['failed']:,} failed and "
            f"{game.requests['rejected']:,} rejected of {game.requests['arrived']:,}",
            highlight=False,
        )
        for event in game.events:
            until = f" until {event['end_s']:g} s" if event["end_s"] is not None else ""
            stdout.print(
                f"  • {event['at_s']:g} s{until}: {literal(event['action'])} "
                f"{literal(event['target'])}"
            )
    _print_verdicts(result.verdicts, "availability verdicts")
    for note in result.notes:
        stdout.print(f"[yellow]note:[/yellow] {literal(note)}")


# --------------------------------------------------------------------------- dr


@app.command()
def dr(
    scenario: Annotated[
        Path, typer.Argument(help="A DR file (data/dr/*.yaml).", show_default=False)
    ],
    disasters: Annotated[
        int | None,
        typer.Option(
            help="Disasters to simulate (default: the file's).",
            parser=options.integer(2, MAX_DISASTERS),
        ),
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Random seed (default: the file's).", parser=options.seed)
    ] = None,
    html: HtmlOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Backups and disaster recovery: RPO and RTO distributions per strategy, cost, verdicts
    against the objectives, and the storage the retention holds."""
    from scaleplan.experiments.dr import recovery
    from scaleplan.spec.dr import load_dr

    spec = load_dr(scenario)
    with progress_bar("simulating disasters", delay_s=0.5) as progress:
        result = recovery(spec, disasters=disasters, seed=seed, progress=progress)
    from scaleplan.views import figure_recovery

    deliver(result, as_json=as_json, show=print_recovery, html=html, figure=figure_recovery)


def _minutes(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "—"
    if seconds < 60:
        return f"{seconds:.2g} s"
    minutes = seconds / 60
    if minutes >= 120:
        return f"{minutes / 60:.3g} h"
    return f"{minutes:.3g} min"


def _p99_over_runs(latencies: list[dict[str, float]]) -> str:
    """A window's p99 in ms with its 95% CI: one run's own (sectioning within the window), or
    the mean over several runs with a Student-t interval across them."""
    values = [figures["p99"] for figures in latencies if math.isfinite(figures["p99"])]
    if not values:
        return "—"
    from scaleplan.metrics import replication_ci

    if len(latencies) == 1:
        (only,) = latencies
        return with_ci(only["p99"], (only["p99_low"], only["p99_high"]), ".0f")
    across = replication_ci(values)
    return with_ci(across.mean, (across.low, across.high), ".0f")


def _minutes_ci(seconds: float, ci: tuple[float, float]) -> str:
    """A duration and its interval in the duration's own unit: ``4.96 [4.95, 4.97] min``."""
    if not math.isfinite(seconds):
        return "—"
    if seconds < 60:
        unit, scale = "s", 1.0
    elif seconds < 7200:
        unit, scale = "min", 60.0
    else:
        unit, scale = "h", 3600.0
    low, high = (f"{end / scale:.3g}" if math.isfinite(end) else "—" for end in ci)
    return f"{seconds / scale:.3g} [{low}, {high}] {unit}"


def print_recovery(result: RecoveryResult) -> None:
    """A readable summary of :func:`~scaleplan.experiments.dr.recovery`."""
    stdout.print(
        f"[bold]{literal(result.title)}[/bold] — {result.disasters:,} simulated disasters, seed "
        f"{result.seed}; {result.disasters_per_year:g} disasters a year",
        highlight=False,
    )
    table = Table(title="strategies (RPO: data lost; RTO: time to restore)", title_justify="left")
    columns = (
        "strategy",
        "data copy",
        "RPO mean / max",
        "RTO mean / max",
        f"cost/month ({literal(result.currency)})",
        "down min/year",
        "RPO",
        "RTO",
    )
    for column in columns:
        if column in ("strategy", "data copy"):
            table.add_column(column, no_wrap=True)
        else:
            table.add_column(column, justify="right")
    copy = {"none": "backups", "async": "async replica", "sync": "sync replica"}
    for outcome in result.strategies:
        rpo, rto = outcome.rpo_s, outcome.rto_s
        status = {verdict.kind: verdict_status(verdict.status) for verdict in outcome.verdicts}
        table.add_row(
            literal(outcome.name),
            literal(copy.get(outcome.replication, outcome.replication)),
            f"{_minutes(rpo.mean)} / {_minutes(rpo.max)}",
            f"{_minutes(rto.mean)} / {_minutes(rto.max)}",
            number(outcome.cost_per_month, ",.0f"),
            number(outcome.downtime_min_per_year, ".3g"),
            status.get("rpo", "—"),
            status.get("rto", "—"),
        )
    stdout.print(table)
    spread = Table(title="percentiles (95% CI from order statistics)", title_justify="left")
    spread.add_column("strategy", no_wrap=True)
    for column in ("RPO p50", "RPO p99", "RTO p50", "RTO p99"):
        spread.add_column(column, justify="right")
    for outcome in result.strategies:
        spread.add_row(
            literal(outcome.name),
            *(
                _minutes_ci(getattr(summary, name), getattr(summary, f"{name}_ci95"))
                for summary in (outcome.rpo_s, outcome.rto_s)
                for name in ("p50", "p99")
            ),
        )
    stdout.print(spread)
    steps = Table(title="mean recovery steps", title_justify="left")
    steps.add_column("strategy")
    names = list(result.strategies[0].steps_mean_s) if result.strategies else []
    for name in names:
        steps.add_column(literal(name), justify="right")
    for outcome in result.strategies:
        steps.add_row(
            literal(outcome.name), *(_minutes(outcome.steps_mean_s[name]) for name in names)
        )
    stdout.print(steps)
    verdicts = Table(title="verdicts (minutes; 95% CI)", title_justify="left")
    for column in ("strategy", "objective", "status", "measured", "95% CI", "how"):
        verdicts.add_column(column, justify="right" if column in ("measured", "95% CI") else "left")
    for outcome in result.strategies:
        for verdict in outcome.verdicts:
            low, high = verdict.ci95
            verdicts.add_row(
                literal(outcome.name),
                literal(verdict.nfr),
                verdict_status(verdict.status),
                number(verdict.measured, ".4g"),
                f"{number(low, '.4g')} – {number(high, '.4g')}",
                literal(verdict.detail.split(" (")[-1].rstrip(")")),
            )
    if verdicts.row_count:
        stdout.print(verdicts)
    if result.retention:
        retention = Table(title="retained data", title_justify="left")
        for column in (
            "month",
            "writes/s",
            "stored GB",
            f"cost/month ({literal(result.currency)})",
        ):
            retention.add_column(column, justify="right")
        step = max(1, len(result.retention) // 8)
        shown = list(result.retention[::step])
        if shown[-1] is not result.retention[-1]:
            shown.append(result.retention[-1])
        for month in shown:
            retention.add_row(
                str(month.month),
                number(month.writes_per_s, ".4g"),
                number(month.stored_gb, ",.0f"),
                number(month.cost_per_month, ",.0f"),
            )
        stdout.print(retention)
    if result.retention_verdict is not None:
        _print_verdicts([result.retention_verdict], "retention verdict")
    stdout.print(
        f"backup storage: {number(result.backup_storage_gb, ',.0f')} GB "
        "(full backups kept, plus the archived log with PITR)"
    )
    for note in result.notes:
        stdout.print(f"[yellow]note:[/yellow] {literal(note)}")


# --------------------------------------------------------------------------- rollout


@app.command()
def rollout(
    spec: SpecPath,
    strategy: Annotated[
        list[str],
        typer.Option(
            "--strategy",
            help="rolling, blue_green, canary, all_at_once, or 'all' (repeat to compare).",
            show_default=False,
        ),
    ] = [],  # noqa: B006 - typer reads the default, it is never mutated
    plan: Annotated[
        Path | None, typer.Option("--plan", help="A rollout plan file (data/rollouts/*.yaml).")
    ] = None,
    component: Annotated[str | None, typer.Option(help="The service to update.")] = None,
    batch_size: Annotated[
        int | None, typer.Option(help="Rolling: replicas at once.", parser=options.servers)
    ] = None,
    boot_s: Annotated[
        float | None, typer.Option(help="Boot time of a replica.", parser=options.seconds)
    ] = None,
    drain_s: Annotated[
        float | None, typer.Option(help="Most time to drain.", parser=options.seconds)
    ] = None,
    bad_probability: Annotated[
        float | None,
        typer.Option(help="Chance that the release is bad.", parser=options.probability),
    ] = None,
    bad: Annotated[
        bool | None, typer.Option("--bad/--good", help="Force a bad or a good release.")
    ] = None,
    error_rate: Annotated[
        float | None,
        typer.Option(help="Extra errors of a bad release.", parser=options.probability),
    ] = None,
    latency_factor: Annotated[
        float | None,
        typer.Option(help="Slowdown of a bad release.", parser=options.number(0.01, MAX_FACTOR)),
    ] = None,
    max_error_rate: Annotated[
        float | None,
        typer.Option(help="Rollback threshold on the error rate.", parser=options.probability),
    ] = None,
    cost_per_replica_hour: Annotated[
        float | None,
        typer.Option(help="Price of a replica-hour, for the cost.", parser=options.amount),
    ] = None,
    rate_per_s: Annotated[
        float | None, typer.Option(help="Override the mean arrival rate.", parser=options.rate)
    ] = None,
    seed: SeedOption = 1,
    replications: Annotated[
        int, typer.Option(help="Seeds per strategy.", parser=options.replications)
    ] = 1,
    html: HtmlOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Deploy a release: capacity dip, latency and failures during the deploy, detection time,
    blast radius and cost, per strategy (paired by seed)."""
    from scaleplan.experiments.rollout import deploy
    from scaleplan.spec import load_spec
    from scaleplan.spec.rollout import STRATEGIES, RolloutSpec, load_rollout

    architecture = load_spec(spec)
    names: list[str] = []
    for item in strategy:
        for name in item.split(","):
            name = name.strip().replace("-", "_")
            if name == "all":
                names.extend(STRATEGIES)
            elif name in STRATEGIES:
                names.append(name)
            else:
                raise typer.BadParameter(
                    f"unknown strategy {name!r} (expected {', '.join(STRATEGIES)} or all)",
                    param_hint="'--strategy'",
                )
    base = load_rollout(plan) if plan is not None else RolloutSpec()
    names = list(dict.fromkeys(names)) or [base.strategy]
    release = base.release.model_copy(
        update={
            key: value
            for key, value in {
                "bad_probability": bad_probability,
                "bad": bad,
                "error_rate": error_rate,
                "latency_factor": latency_factor,
            }.items()
            if value is not None
        }
    )
    updates: dict[str, Any] = {
        key: value
        for key, value in {
            "component": component,
            "batch_size": batch_size,
            "boot_s": boot_s,
            "drain_s": drain_s,
            "cost_per_replica_hour": cost_per_replica_hour,
        }.items()
        if value is not None
    }
    updates["release"] = release
    if max_error_rate is not None:
        rule = base.rollback or RolloutSpec().rollback
        assert rule is not None
        updates["rollback"] = rule.model_copy(update={"max_error_rate": max_error_rate or None})
    # Re-validate: a copy with updates skips the validators.
    merged = RolloutSpec.model_validate({**base.model_dump(), **updates, "release": release})
    plans = [merged.with_strategy(name) for name in names]
    with progress_bar(f"deploying to {architecture.name}", delay_s=0.5) as progress:
        result = deploy(
            architecture,
            plans,
            seed=seed,
            replications=replications,
            rate_per_s=rate_per_s,
            progress=progress,
        )
    from scaleplan.views import figure_rollout

    deliver(result, as_json=as_json, show=print_rollout, html=html, figure=figure_rollout)


def print_rollout(result: RolloutResult) -> None:
    """A readable summary of :func:`~scaleplan.experiments.rollout.deploy`."""
    seeds = result.seeds
    release = result.plan.get("release", {})
    chance = (
        f"bad: {release.get('bad')}"
        if release.get("bad") is not None
        else f"bad with probability {release.get('bad_probability', 0):g}"
    )
    stdout.print(
        f"[bold]{literal(result.spec)}[/bold] — deploying [bold]{literal(result.component)}[/bold] "
        f"({result.replicas} replicas) at {result.rate_per_s:g} requests/s, seeds "
        f"{seeds[0]}…{seeds[-1]}; release {literal(chance)}, "
        f"+{100 * release.get('error_rate', 0):g}% "
        f"errors, ×{release.get('latency_factor', 1):g} latency when bad",
        highlight=False,
    )
    table = Table(title="strategies (means over seeds)", title_justify="left")
    columns = (
        "strategy",
        "bad / rolled back",
        "deploy s",
        "detect s",
        "min capacity",
        "failed during",
        "p99 ms before → during",
        "blast radius",
        "users hit",
        "cost/month",
    )
    for column in columns:
        if column == "strategy":
            table.add_column(column, no_wrap=True)
        else:
            table.add_column(column, justify="right")
    for item in result.strategies:
        runs = len(item.runs)

        def mean(name: str, spec: str = ".3g", item: Any = item) -> str:
            return number(item.ci(name).mean, spec)

        p99 = (
            f"{_p99_over_runs([run.latency_before_ms for run in item.runs])} → "
            f"{_p99_over_runs([run.latency_during_ms for run in item.runs])}"
        )
        capacity = item.min_capacity_share
        style = "red" if capacity < 0.5 else "yellow" if capacity < 1 else ""
        shown = f"{100 * capacity:.0f}%"
        cost = item.ci("cost_per_deploy").mean * result.deploys_per_month
        table.add_row(
            literal(item.strategy),
            f"{item.bad_runs}/{runs} · {item.rollbacks}/{runs}",
            mean("deploy_duration_s", ".0f"),
            mean("detection_s", ".3g"),
            f"[{style}]{shown}[/{style}]" if style else shown,
            f"{mean('failed_during', '.0f')} ({_pct(item.ci('error_rate_during').mean, 1)})",
            p99,
            _pct(item.ci("blast_radius").mean, 2),
            _pct(item.ci("users_hit_share").mean, 1),
            number(cost, ",.2f"),
        )
    stdout.print(table)
    stdout.print(
        "[dim]blast radius: share of requests arriving since the deploy began (to the end of the "
        f"{result.horizon_s:,.0f} s run) that reached the bad version; users hit: share of "
        "active users who sent one; rolled back with a good release: a false alarm; cost: extra "
        f"replica-hours × price × {result.deploys_per_month:g} deploys a month[/dim]",
        highlight=False,
    )
    for note in result.notes:
        stdout.print(f"[yellow]note:[/yellow] {literal(note)}")
