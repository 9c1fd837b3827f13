"""The downtime commands: tables, JSON, figures, determinism and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from typer.testing import CliRunner

from scaleplan.cli import app

ROOT = Path(__file__).resolve().parent.parent
HA_ZONES = ROOT / "data/architectures/ha-zones.yaml"
DR_EXAMPLE = ROOT / "data/dr/online-shop-dr.yaml"
CANARY = ROOT / "data/rollouts/canary.yaml"
runner = CliRunner()


def small_failing(tmp_path: Path) -> Path:
    path = tmp_path / "failing.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            name: failing
            workload: {rate_per_s: 20, duration_s: 30}
            entry: api
            components:
              api:
                kind: service
                replicas: 2
                zones: [a, b]
                service_time: {dist: exponential, mean_ms: 5}
                failures: {mtbf_h: 2, mttr_min: 30}
            chaos:
              - {at_s: 5, action: zone_outage, zone: a, duration_s: 5}
            """
        )
    )
    return path


def test_failures_table_json_and_figure(tmp_path: Path) -> None:
    spec = small_failing(tmp_path)
    args = [
        "failures",
        str(spec),
        "--replications",
        "3",
        "--duration-h",
        "300",
        "--probes",
        "200",
        "--availability",
        "99.9",
    ]
    table = runner.invoke(app, args)
    assert table.exit_code == 0, table.output
    for text in ("failures in steady state", "downtime", "error budget", "game day", "fail"):
        assert text in table.output
    html = tmp_path / "availability.html"
    first = runner.invoke(app, [*args, "--json", "--html", str(html)])
    second = runner.invoke(app, [*args, "--json"])
    assert first.exit_code == 0, first.output
    data = json.loads(first.stdout)
    assert data == json.loads(second.stdout)
    assert data["mode"] == "steady state"
    assert data["system"]["analytic"] > 0.9
    assert abs(data["error_budget"]["target"] - 0.999) < 1e-12
    assert {verdict["status"] for verdict in data["verdicts"]} == {"fail"}
    assert data["game_day"]["events"][0]["action"] == "zone_outage"
    assert "<html>" in html.read_text()[:100]


def test_dr_table_and_json(tmp_path: Path) -> None:
    table = runner.invoke(app, ["dr", str(DR_EXAMPLE), "--disasters", "2000"])
    assert table.exit_code == 0, table.output
    for text in ("backup-restore", "active-active", "RPO", "retained data", "fail"):
        assert text in table.output
    # Every percentile printed comes with its 95% interval (issue 13), in its own table.
    assert "percentiles (95% CI from order statistics)" in table.output
    assert "p99 /" not in table.output and "p50 /" not in table.output
    active = [line for line in table.output.splitlines() if "active-active" in line][1]
    assert active.count("[") == 4, active
    html = tmp_path / "dr.html"
    done = runner.invoke(
        app, ["dr", str(DR_EXAMPLE), "--disasters", "2000", "--json", "--html", str(html)]
    )
    data = json.loads(done.stdout)
    assert [s["name"] for s in data["strategies"]] == [
        "backup-restore",
        "pilot-light",
        "warm-standby",
        "active-active",
    ]
    assert data["disasters"] == 2000
    assert len(data["strategies"][0]["rpo_s"]["quantiles"]) == 101
    assert html.exists()


def test_rollout_table_json_and_plan_file(tmp_path: Path) -> None:
    args = ["rollout", str(HA_ZONES), "--rate-per-s", "20", "--bad", "--error-rate", "0.2"]
    table = runner.invoke(app, [*args, "--strategy", "canary,all_at_once"])
    assert table.exit_code == 0, table.output
    assert "canary" in table.output and "all_at_once" in table.output
    assert "blast radius" in table.output
    done = runner.invoke(app, [*args, "--strategy", "rolling", "--plan", str(CANARY), "--json"])
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)
    assert data["component"] == "api" and data["replicas"] == 6
    [rolling] = data["strategies"]
    assert rolling["strategy"] == "rolling"
    assert rolling["runs"][0]["bad"] is True
    assert data["plan"]["canary"]["steps"] == [0.05, 0.25, 0.5, 1.0]  # from the plan file
    html = tmp_path / "rollout.html"
    figure = runner.invoke(app, [*args, "--strategy", "blue-green", "--html", str(html)])
    assert figure.exit_code == 0 and html.exists()


def test_bad_input_exits_2_with_the_place_and_no_traceback(tmp_path: Path) -> None:
    unknown = runner.invoke(app, ["rollout", str(HA_ZONES), "--strategy", "yolo"])
    assert unknown.exit_code == 2
    assert "unknown strategy 'yolo'" in unknown.output
    bad = tmp_path / "bad-dr.yaml"
    bad.write_text(
        "title: t\n"
        "data: {size_gb: 10}\n"
        "strategies:\n"
        "  - {name: standby, kind: warm_standby, promotion: soon}\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "scaleplan", "dr", str(bad)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 2
    assert "bad-dr.yaml" in done.stderr and "strategies[0].promotion" in done.stderr
    assert "not a duration" in done.stderr
    assert "Traceback" not in done.stderr
    lb = runner.invoke(app, ["rollout", str(HA_ZONES), "--component", "lb"])
    assert lb.exit_code != 0
