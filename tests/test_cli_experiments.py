"""The experiment commands: exit codes, messages and JSON output."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scaleplan.cli import app

ROOT = Path(__file__).resolve().parent.parent
MONOLITH = ROOT / "data/architectures/monolith.yaml"
LB_CLUSTER = ROOT / "data/architectures/lb-cluster.yaml"
# The scenarios written here sit in a temporary folder and name the repository's files.
pytestmark = pytest.mark.usefixtures("allow_files_outside")
runner = CliRunner()


def scaleplan(*args: str) -> subprocess.CompletedProcess[str]:
    """The real entry point, as a user runs it (user errors exit 2 without a traceback)."""
    return subprocess.run(
        [sys.executable, "-m", "scaleplan", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )


def small_scenario(tmp_path: Path) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            title: Small shop
            workload:
              today: {{rate_per_s: 80}}
              peak_factor: 2
              growth_percent_per_month: 5
            nfrs:
              slos: ["p99<=400ms", "errors<=1%"]
              growth: {{horizon_months: 12}}
            candidates:
              - path: {MONOLITH}
              - path: {LB_CLUSTER}
            costs:
              defaults: {{service: {{per_replica_hour: 0.2}}}}
            criteria: {{p99_ms: 1, cost_per_month: 1}}
            run: {{replications: 2, requests: 2000, pull_replications: 2,
                   pull_requests: 2000, precision: 0.1}}
            """
        )
    )
    return path


def test_pull_prints_the_limit_and_its_interval():
    result = runner.invoke(
        app,
        [
            "pull",
            str(MONOLITH),
            "--slo",
            "p99<=300ms",
            "--slo",
            "errors<=0.1%",
            "--requests",
            "3000",
            "--replications",
            "2",
            "--precision",
            "0.05",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "sustainable limit" in result.output and "requests/min" in result.output
    assert "bottleneck at the limit: app" in result.output
    assert "the objective that binds: p99<=300ms" in result.output
    assert "analytic bottleneck bound" in result.output


def test_pull_json_is_the_result_contract(tmp_path: Path):
    html = tmp_path / "pull.html"
    result = runner.invoke(
        app,
        [
            "pull",
            str(MONOLITH),
            "--slo",
            "p99<=300ms",
            "--requests",
            "2000",
            "--replications",
            "2",
            "--precision",
            "0.1",
            "--json",
            "--html",
            str(html),
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["spec"] == "monolith" and data["slos"] == ["p99<=300ms"]
    assert data["limit_per_min"] == pytest.approx(60 * data["limit_per_s"])
    assert "<html>" in html.read_text()[:200].lower()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["pull", str(MONOLITH), "--slo", "p99<300"], "a latency bound needs a unit"),
        (["pull", str(MONOLITH), "--slo", "speed>=fast"], "not an SLO (got 'speed>=fast')"),
        (["pull", "no-such.yaml", "--slo", "p99<=1s"], "no-such.yaml: file does not exist"),
        (["sweep", str(MONOLITH), "--set", "components.app.replicas"], "expected KEY.PATH=VALUES"),
        (["sweep", str(MONOLITH), "--set", "components.app.replicas=3:1"], "start <= stop"),
        (
            ["sweep", str(MONOLITH), "--set", "components.ap.replicas=1,2"],
            "monolith.yaml: components.ap: no such key 'ap' (did you mean 'app'?)",
        ),
        (["compare", "no-such-scenario.yaml"], "no-such-scenario.yaml: file does not exist"),
    ],
)
def test_bad_input_exits_2_with_where_and_what(args: list[str], message: str):
    completed = scaleplan(*args)
    assert completed.returncode == 2, completed.stdout + completed.stderr
    # Rich may wrap the message over lines inside its error box: compare without them.
    flattened = " ".join(completed.stderr.replace("│", " ").split())
    assert message in flattened
    assert "Traceback" not in completed.stderr


def test_a_bad_scenario_names_the_file_and_key_path(tmp_path: Path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        f"title: x\nworkload: {{today: {{rate_per_s: 1}}}}\ncandidates:\n"
        f"  - path: {MONOLITH}\ncriteria: {{speed: 1}}\n"
    )
    completed = scaleplan("compare", str(path))
    assert completed.returncode == 2
    assert "bad.yaml:5: criteria.speed: unknown criterion 'speed'" in completed.stderr


def test_sweep_prints_one_row_per_point():
    result = runner.invoke(
        app,
        [
            "sweep",
            str(MONOLITH),
            "--set",
            "workload.rate_per_s=100,400",
            "--requests",
            "2000",
            "--workers",
            "1",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [row["workload.rate_per_s"] for row in data["rows"]] == [100, 400]
    # The monolith's queue limit turns overload into rejects rather than unbounded queues.
    assert data["rows"][0]["error_rate"] == 0 and data["rows"][1]["error_rate"] > 0.01
    for row in data["rows"]:  # p99 with its 95% CI, which holds it
        assert row["p99_ci95_low"] <= row["p99_ms"] <= row["p99_ci95_high"]
    table = runner.invoke(
        app, ["sweep", str(MONOLITH), "--set", "components.app.replicas=1:2", "--requests", "2000"]
    )
    assert table.exit_code == 0 and "2 points" in table.output
    # Each row's p99 is printed with its interval: "12.3 [11.0, 13.9]".
    assert re.search(r"\d+\.\d \[\d+\.\d, \d+\.\d\]", table.output), table.output


def test_ramp_prints_the_steps():
    result = runner.invoke(
        app, ["ramp", str(MONOLITH), "--slo", "p99<=300ms", "--steps", "3", "--requests", "3000"]
    )
    assert result.exit_code == 0, result.output
    assert "stepped load test" in result.output and "breaks at step" in result.output


@pytest.mark.slow
def test_compare_prints_the_decision_matrix_and_the_recommendation(tmp_path: Path):
    path = small_scenario(tmp_path)
    result = runner.invoke(app, ["compare", str(path), "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "decision matrix" in result.output
    assert "recommended:" in result.output or "no candidate can be recommended" in result.output
    assert "paired differences against monolith" in result.output
    as_json = runner.invoke(app, ["compare", str(path), "--workers", "2", "--json"])
    assert as_json.exit_code == 0
    data = json.loads(as_json.stdout)
    assert [c["name"] for c in data["candidates"]] == ["monolith", "lb-cluster"]
    assert data["decision_matrix"][0]["candidate"] == "monolith"
