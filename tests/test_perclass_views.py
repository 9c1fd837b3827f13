"""Per-class SLOs in every view: the pull chart, the explorer, sweep and the record.

One small two-class architecture of its own (no bundled scenario): browsing (weight 4) on
``web``, an M/M/1 of 10 ms, and checkout (weight 1) on ``orders``, an M/M/1 of 50 ms. Checkout
is the class an objective is set on. Its sojourn time at ``orders`` is exponential with rate
μ − λ_c, so its p99 is ln(100) / (20 − 0.2 λ) seconds and ``checkout.p99<=500ms`` holds up to
λ = 100 − 10 ln 100 ≈ 54 requests/s, where the whole system's p99 is far below 2 s and
``web`` is 43% busy: the class's objective binds, by a wide margin.
"""

from __future__ import annotations

import dataclasses
import json
import math
import textwrap
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from _patterns import covers
from typer.testing import CliRunner

from scaleplan.engine import simulate
from scaleplan.errors import SpecError
from scaleplan.experiments import check, pull, sweep
from scaleplan.experiments.pull import PullResult, binding_slo
from scaleplan.experiments.pull_users import pull_users
from scaleplan.experiments.sweep import SweepResult
from scaleplan.spec import ArchitectureSpec, parse_slo, parse_spec

CHECKOUT = "checkout.p99<=500ms"
SYSTEM = "p99<=2000ms"

ARCHITECTURE = {
    "name": "shop",
    "entry": "web",
    "workload": {
        "rate_per_s": 40,
        "classes": [
            {"name": "browse", "weight": 4},
            {"name": "checkout", "weight": 1, "entry": "orders"},
        ],
    },
    "components": {
        "web": {"kind": "service", "service_time": {"dist": "exponential", "mean_ms": 10}},
        "orders": {"kind": "service", "service_time": {"dist": "exponential", "mean_ms": 50}},
    },
}


def shop() -> ArchitectureSpec:
    return parse_spec(ARCHITECTURE)


def checkout_p99_ms(rate_per_s: float) -> float:
    """Exact p99 of checkout's sojourn at orders, an M/M/1 with λ = rate / 5, μ = 20/s."""
    return 1e3 * math.log(100.0) / (20.0 - 0.2 * rate_per_s)


@pytest.fixture(scope="module")
def pulled() -> PullResult:
    return pull(shop(), [CHECKOUT, SYSTEM], requests=2000, replications=1, workers=1)


# --------------------------------------------------------------------------- binding


def _step(replication: int, rate: float, values: dict[str, float], reason: str) -> SimpleNamespace:
    return SimpleNamespace(
        replication=replication, rate_per_s=rate, stable=True, values=values, reason=reason
    )


def test_binding_is_the_objective_furthest_past_its_bound_at_the_lowest_break() -> None:
    slos = [parse_slo(CHECKOUT), parse_slo(SYSTEM), parse_slo("throughput>=50/s")]

    def rate(step: SimpleNamespace) -> float:
        return float(step.rate_per_s)

    steps = [
        # search 0: at 60/s checkout is 1.2× its bound, the system 0.3×: checkout binds
        _step(0, 60, {CHECKOUT: 600, SYSTEM: 600, "throughput>=50/s": 60}, "breaks checkout"),
        # a higher failing step of the same search has no say, though the system breaks worse
        _step(0, 90, {CHECKOUT: 900, SYSTEM: 5000, "throughput>=50/s": 90}, "breaks p99"),
        _step(0, 50, {CHECKOUT: 450, SYSTEM: 400, "throughput>=50/s": 50}, ""),
        # search 1: a throughput floor missed (50 / 40 = 1.25×) beats checkout's 1.1×
        _step(1, 40, {CHECKOUT: 550, SYSTEM: 500, "throughput>=50/s": 40}, "breaks throughput"),
        # search 2: checkout again
        _step(2, 55, {CHECKOUT: 700, SYSTEM: 500, "throughput>=50/s": 55}, "breaks checkout"),
    ]
    assert binding_slo(slos, steps, load=rate) == CHECKOUT  # two votes to one
    assert binding_slo(slos, steps[3:4], load=rate) == "throughput>=50/s"
    # steps that ran away (unstable) or met everything say nothing about which binds
    running_away = SimpleNamespace(
        replication=0, rate_per_s=99, stable=False, values={CHECKOUT: 9e9}, reason="unstable"
    )
    assert binding_slo(slos, [steps[2], running_away], load=rate) == ""
    assert binding_slo([], steps, load=rate) == ""


def test_the_pull_records_that_the_class_objective_binds(pulled: PullResult) -> None:
    assert pulled.binding == CHECKOUT
    assert pulled.to_dict()["binding"] == CHECKOUT
    # it binds where the exact figures say: the class breaks near 54/s, the system never
    # comes near 2 s there (a wide margin, not a guessed band)
    broken = [s for s in pulled.steps if s.stable and s.reason.startswith("breaks ")]
    assert broken and all(s.values[SYSTEM] < 0.5 * 2000 for s in broken)


# --------------------------------------------------------------------------- pull charts


def _annotations(figure: Any) -> list[str]:
    return [a.text for a in figure.layout.annotations]


def test_the_pull_chart_plots_the_binding_class_and_its_slo_line(pulled: PullResult) -> None:
    from scaleplan.views import figure_pull

    figure = figure_pull(pulled)
    traces = {trace.name: trace for trace in figure.data}
    assert list(traces) == ["p50", "p99", "mean", "checkout p99", "failing steps"]
    curve = pulled.curve()
    # the class's curve is the class's figure at every step (the objective's measured
    # value), not the whole system's p99
    assert list(traces["checkout p99"].y) == [s.values[CHECKOUT] for s in curve]
    assert list(traces["checkout p99"].y) != list(traces["p99"].y)
    assert list(traces["failing steps"].y) == [s.values[CHECKOUT] for s in curve if not s.meets]
    texts = _annotations(figure)
    assert "SLO checkout.p99&lt;=500ms — binds" in texts
    assert "SLO p99&lt;=2000ms" in texts  # the other objective, not marked
    lines = {shape.y0: shape for shape in figure.layout.shapes if shape.y0 == shape.y1}
    assert lines[500.0].line.dash == "solid" and lines[2000.0].line.dash == "dash"


def test_a_chart_without_class_objectives_is_unchanged() -> None:
    from scaleplan.views import figure_pull

    result = pull(shop(), [SYSTEM], requests=1000, replications=1, workers=1, curve=())
    names = [trace.name for trace in figure_pull(result).data]
    assert names == ["p50", "p99", "mean", "failing steps"]


def test_the_pull_over_users_plots_the_class_that_binds() -> None:
    from scaleplan.views import figure_pull_users

    closed = dict(ARCHITECTURE)
    closed["workload"] = {
        "kind": "closed",
        "users": 4,
        "think_time": {"dist": "exponential", "mean_ms": 500},
        "classes": ARCHITECTURE["workload"]["classes"],
    }
    result = pull_users(parse_spec(closed), ["checkout.mean<=150ms"], requests=1000, replications=1)
    figure = figure_pull_users(result)
    traces = {trace.name: trace for trace in figure.data}
    assert "checkout mean" in traces
    ordered = sorted(result.steps, key=lambda step: step.users)
    assert list(traces["checkout mean"].y) == [s.values["checkout.mean<=150ms"] for s in ordered]
    assert "SLO checkout.mean&lt;=150ms — binds" in _annotations(figure)


# --------------------------------------------------------------------------- explorer


def test_the_explorer_checks_a_class_objective_on_its_class() -> None:
    from scaleplan.widgets import Explorer

    explorer = Explorer(shop(), requests=3000, slos=[CHECKOUT, SYSTEM])
    assert explorer.slo_ms == {"p99": 2000.0}
    result = explorer.last_result
    assert result is not None
    row = explorer.summary.value.split("scaleplan-class-slo")[1].split("</tr>")[0]
    assert "checkout p99" in row and "(class checkout)" in row
    assert f"{result.classes['checkout'].p99:,.1f} ms" in row
    assert f"{result.latency_ms.p99:,.1f} ms" not in row
    latency = {trace.name: trace for trace in explorer.figures["latency"].data}
    assert latency["simulation"].x[-1] == "checkout p99"
    assert latency["simulation"].y[-1] == pytest.approx(result.classes["checkout"].p99)
    assert list(latency["SLO"].x) == ["p99", "checkout p99"]
    # far past its bound the class fails, and its row says so
    explorer.controls["workload.rate_per_s"].value = 90  # exact checkout p99: 2.3 s
    row = explorer.summary.value.split("scaleplan-class-slo")[1].split("</tr>")[0]
    assert "✗ ≤ 500 ms" in row


def test_the_explorer_refuses_an_objective_it_cannot_check() -> None:
    from scaleplan.widgets import Explorer

    with pytest.raises(SpecError) as raised:
        Explorer(shop(), simulate=False, slos=["chekout.p99<=500ms", "errors<=1%"])
    message = str(raised.value)
    assert "slos.0" in message and "no request class 'chekout'" in message
    assert "slos.1" in message and "latency objectives only" in message


# --------------------------------------------------------------------------- sweep


@pytest.fixture(scope="module")
def swept() -> SweepResult:
    return sweep(
        shop(),
        {"workload.rate_per_s": [40, 200]},
        requests=20_000,
        workers=1,
        slos=[CHECKOUT, SYSTEM],
    )


def test_sweep_rows_carry_class_figures_and_class_verdicts(swept: SweepResult) -> None:
    rows = swept.records()
    at_40, at_200 = rows
    direct = simulate(shop().with_changes({"workload.rate_per_s": 40}), seed=1, requests=20_000)
    checkout = direct.classes["checkout"]
    # the same run as simulate's: the class's columns are its figures
    assert at_40["classes.checkout.p99_ms"] == checkout.p99
    assert at_40["classes.browse.mean_ms"] == direct.classes["browse"].mean
    low, high = at_40["classes.checkout.p99_ci95_low"], at_40["classes.checkout.p99_ci95_high"]
    # and the class's p99 CI covers the exact M/M/1 sojourn p99 (seed 1, fixed)
    assert covers((low, high), checkout_p99_ms(40))
    verdicts = {v.nfr: v for v in check(direct, [CHECKOUT, SYSTEM])}
    assert at_40[f"slo.{CHECKOUT}"] == verdicts[CHECKOUT].status
    assert at_40[f"slo.{CHECKOUT}.measured"] == checkout.p99  # the class's, not the system's
    assert at_40["meets_slos"] == all(v.status == "pass" for v in verdicts.values())
    # 200/s puts orders at twice its capacity: refused, and every objective fails
    assert not at_200["stable"]
    assert at_200[f"slo.{CHECKOUT}"] == "fail" and at_200["meets_slos"] is False
    assert swept.to_dict()["slos"] == [CHECKOUT, SYSTEM]


def test_figure_sweep_draws_the_objective_of_the_column_drawn(swept: SweepResult) -> None:
    from scaleplan.views import figure_sweep

    figure = figure_sweep(swept, y="classes.checkout.p99_ms")
    assert _annotations(figure) == ["SLO checkout.p99&lt;=500ms"]
    assert _annotations(figure_sweep(swept, y="p99_ms")) == ["SLO p99&lt;=2000ms"]
    assert _annotations(figure_sweep(swept, y="mean_ms")) == []


def test_sweep_refuses_an_objective_of_a_class_the_spec_lacks() -> None:
    with pytest.raises(SpecError, match="no request class 'chekout'"):
        sweep(shop(), {"workload.rate_per_s": [40]}, slos=["chekout.p99<=1s"], workers=1)


def test_the_sweep_command_prints_and_writes_the_class_verdicts(tmp_path: Path) -> None:
    from scaleplan.cli import app

    path = tmp_path / "shop.json"
    path.write_text(json.dumps(ARCHITECTURE))
    args = ["sweep", str(path), "--set", "workload.rate_per_s=40", "--requests", "3000"]
    args += ["--workers", "1", "--slo", CHECKOUT]
    runner = CliRunner()
    shown = runner.invoke(app, args)
    assert shown.exit_code == 0, shown.output
    assert "checkout.p99" in shown.output and "points pass every objective" in shown.output
    written = runner.invoke(app, [*args, "--json"])
    row = json.loads(written.stdout)["rows"][0]
    assert row[f"slo.{CHECKOUT}.measured"] == row["classes.checkout.p99_ms"]
    wrong = runner.invoke(app, [*args[:-1], "chekout.p99<=500ms"])
    flattened = " ".join(wrong.output.replace("│", " ").split())
    assert wrong.exit_code == 2 and "did you mean 'checkout'" in flattened


# --------------------------------------------------------------------------- record


def _scenario(tmp_path: Path) -> Path:
    (tmp_path / "shop.json").write_text(json.dumps(ARCHITECTURE))
    path = tmp_path / "scenario.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            title: Two classes
            workload: {{today: {{rate_per_s: 30}}, peak_factor: 2}}
            nfrs: {{slos: ["{CHECKOUT}", "errors<=1%"]}}
            candidates: [{{path: shop.json}}]
            """
        )
    )
    return path


def test_the_record_names_the_class_of_each_class_objective(
    tmp_path: Path, pulled: PullResult
) -> None:
    from scaleplan.report.markup import text
    from scaleplan.report.plan import nfr_rows
    from scaleplan.report.record import _p99_title, pull_rows
    from scaleplan.spec import load_scenario
    from scaleplan.widgets import Explorer

    scenario = load_scenario(_scenario(tmp_path))
    rows = {name: (kind, how) for name, kind, how in nfr_rows(scenario)}
    assert rows[CHECKOUT][0] == "latency of class checkout"
    assert "checkout requests' p99 only" in rows[CHECKOUT][1]
    assert rows["errors<=1%"][0] == "errors"
    table = str(pull_rows([pulled]))
    assert "SLO that binds" in table and f"{text(CHECKOUT)} (class checkout)" in table
    # a pull stopped only by running away has no objective that binds, and says so
    ran_away = dataclasses.replace(pulled, binding="", failure_mode="queue growth")
    assert "none broke: it failed by queue growth first" in str(pull_rows([ran_away]))
    # the record's chart of all requests' p99 does not claim to be drawn against the SLO
    assert "per class: checkout's, judged in the NFR gates" in _p99_title(scenario)
    # the explorer opened on the scenario checks the class's objective too
    explorer = Explorer.from_scenario(scenario, simulate=False)
    assert [slo.text for slo in explorer.class_slos] == [CHECKOUT] and explorer.slo_ms == {}
