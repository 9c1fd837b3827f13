"""The core commands, run as a user runs them: a real subprocess, real files, exit codes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from scaleplan.graph import build_graph
from scaleplan.load import offered_loads
from scaleplan.spec import load_spec

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "data" / "architectures"


def scaleplan(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scaleplan", *args],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        timeout=300,
    )


def test_simulate_json_follows_the_contract() -> None:
    done = scaleplan("simulate", str(EXAMPLES / "lb-cluster.yaml"), "--requests", "5000", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    for key in ("spec", "seed", "stable", "warnings", "requests", "throughput_per_s"):
        assert key in result
    assert set(result["latency_ms"]) >= {"mean", "mean_ci95", "p50", "p90", "p95", "p99", "p999"}
    counts = result["requests"]
    assert counts["arrived"] == 5000
    assert counts["arrived"] == (
        counts["completed"] + counts["rejected"] + counts["failed"] + counts["in_flight"]
    )
    api = result["components"]["api"]
    assert set(api) >= {"utilization", "mean_queue", "throughput_per_s", "rejected", "latency_ms"}
    assert set(api["latency_ms"]) >= {"mean", "p99"}


def test_same_seed_same_json_and_the_table_without_json() -> None:
    args = ("simulate", str(EXAMPLES / "monolith.yaml"), "--requests", "3000", "--json")
    first, second = scaleplan(*args), scaleplan(*args)
    assert json.loads(first.stdout) | {"run": None} == json.loads(second.stdout) | {"run": None}
    table = scaleplan("simulate", str(EXAMPLES / "monolith.yaml"), "--requests", "3000")
    assert table.returncode == 0
    assert "utilisation" in table.stdout and "app" in table.stdout and "95% CI" in table.stdout


def test_bad_input_exits_2_with_the_place_and_no_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: bad\n"
        "workload: {rate_per_s: 10}\n"
        "entry: api\n"
        "components:\n"
        "  api:\n"
        "    kind: service\n"
        "    replicas: 0\n"
        "    service_time: {dist: exponential, mean_ms: 5}\n"
    )
    done = scaleplan("simulate", str(bad))
    assert done.returncode == 2
    assert "bad.yaml:7: components.api.replicas: must be at least 1 (got 0)" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("simulate", "no-such-file.yaml"), "no-such-file.yaml: file does not exist"),
        (("validate", "no-such-file.yaml"), "no-such-file.yaml: file does not exist"),
        (("estimate", "no-such-file.yaml"), "no-such-file.yaml: file does not exist"),
        (("simulate", "data/architectures/monolith.yaml", "--requests", "0"), "--requests"),
        (("nonsense",), "No such command"),
    ],
)
def test_usage_errors_exit_2(args: tuple[str, ...], message: str) -> None:
    done = scaleplan(*args)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_unstable_load_is_refused_with_the_component_and_factor() -> None:
    # At 20,000/s three-tier's database (no queue limit) gets 0.596 visits × 5 ms per request
    # on 32 slots: 1.86 times its capacity. The tiers in front have queue limits: they reject.
    path = EXAMPLES / "three-tier.yaml"
    spec = load_spec(path)
    loads = offered_loads(spec, build_graph(spec), 20_000)
    done = scaleplan("simulate", str(path), "--rate-per-s", "20000")
    assert done.returncode == 1
    assert "components.db" in done.stderr
    assert f"{loads['db']:.2f}×" in done.stderr
    assert "queue_limit" not in done.stderr
    anyway = scaleplan(
        "simulate",
        str(path),
        "--rate-per-s",
        "20000",
        "--requests",
        "60000",
        "--run-anyway",
        "--json",
    )
    assert anyway.returncode == 1
    result = json.loads(anyway.stdout)
    assert result["stable"] is False
    assert result["unstable"]["component"] == "db"


def test_validate_estimate_schema_and_graph(tmp_path: Path) -> None:
    validated = scaleplan("validate", str(EXAMPLES / "three-tier.yaml"))
    assert validated.returncode == 0 and "ok" in validated.stdout

    estimated = scaleplan("estimate", str(EXAMPLES / "lb-cluster.yaml"), "--json")
    assert estimated.returncode == 0
    assert json.loads(estimated.stdout)["method"].startswith("analytic")

    schema = scaleplan("schema")
    assert json.loads(schema.stdout)["title"] == "scaleplan architecture"

    page = tmp_path / "graph.html"
    drawn = scaleplan("graph", str(EXAMPLES / "lb-cluster.yaml"), "-o", str(page), "--no-simulate")
    assert drawn.returncode == 0, drawn.stderr
    html = page.read_text()
    assert '<script src="http' not in html  # plotly.js is embedded: the file opens offline
    assert "lb-cluster" in html


def test_version() -> None:
    done = scaleplan("--version")
    assert done.returncode == 0 and done.stdout.startswith("scaleplan ")
