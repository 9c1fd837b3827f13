"""``scaleplan verify``, run as a user runs it: exit 0 confirmed, 1 refuted, 2 bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from _verify_data import LOADS, SCENARIO, T0, write_locust, write_plan_beside

ROOT = Path(__file__).resolve().parent.parent
T0_ISO = datetime.fromtimestamp(T0, UTC).isoformat()


def scaleplan(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scaleplan", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_confirmed_exits_0_with_json_and_a_chart(tmp_path: Path) -> None:
    write_locust(tmp_path / "run", LOADS)
    write_plan_beside(tmp_path)
    chart = tmp_path / "chart.html"
    done = scaleplan(
        "verify", str(SCENARIO), str(tmp_path / "run_stats.csv"), "--json", "--html", str(chart)
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["verdict"] == "confirmed" and data["candidate"] == "single"
    assert [step["index"] for step in data["steps"]] == [0, 1, 2]
    assert data["steps"][2]["measured"]["throughput_per_s"] == 60.0
    page = chart.read_text()
    assert "p99 measured" in page and "p99 predicted (95% CI)" in page


def test_refuted_exits_1_naming_step_figure_and_cause(tmp_path: Path) -> None:
    write_locust(tmp_path / "run", (*LOADS[:2], LOADS[2].slower(2.0)))
    plan = write_plan_beside(tmp_path)
    done = scaleplan("verify", str(SCENARIO), str(tmp_path / "run"), "--plan", str(plan))
    assert done.returncode == 1, done.stderr
    out = " ".join(done.stdout.split())
    assert "verdict: refuted" in out
    assert "diverges: step 2 (60 req/s): p95 measured 220 ms, predicted 110 ms" in out
    assert "not judged" in out and "too few for a percentile" in out  # p99: 6 requests beyond
    assert "likely cause:" in out and "app is slower than modelled" in out
    relaxed = scaleplan(
        "verify", str(SCENARIO), str(tmp_path / "run"), "--tolerance-latency", "1.5"
    )
    assert relaxed.returncode == 0, relaxed.stdout


def test_bad_input_exits_2_naming_the_file(tmp_path: Path) -> None:
    write_locust(tmp_path / "run", LOADS)
    no_plan = scaleplan("verify", str(SCENARIO), str(tmp_path / "run"))
    assert no_plan.returncode == 2
    assert "plan.json: no plan beside the results" in no_plan.stderr
    assert "Traceback" not in no_plan.stderr
    write_plan_beside(tmp_path)
    (tmp_path / "run_stats_history.csv").write_text("Timestamp,Name\n1,Aggregated\n")
    bad = scaleplan("verify", str(SCENARIO), str(tmp_path / "run"))
    assert bad.returncode == 2
    assert "run_stats_history.csv:1: column 'Total Request Count': missing" in bad.stderr
    nothing = scaleplan("verify", str(SCENARIO), str(tmp_path / "absent"))
    assert nothing.returncode == 2 and "absent: no such results file" in nothing.stderr
    usage = scaleplan("verify", str(SCENARIO), str(tmp_path / "run"), "--tolerance-latency", "-1")
    assert usage.returncode == 2 and "--tolerance-latency" in usage.stderr


def test_start_takes_unix_seconds_or_iso_8601(tmp_path: Path) -> None:
    write_locust(tmp_path / "run", LOADS)
    write_plan_beside(tmp_path)
    iso = scaleplan("verify", str(SCENARIO), str(tmp_path / "run"), "--start", T0_ISO)
    assert iso.returncode == 0, iso.stdout + iso.stderr
    late = scaleplan("verify", str(SCENARIO), str(tmp_path / "run"), "--start", str(T0 + 30))
    assert late.returncode == 2 and "holds no data for steps 1, 2 of plan.json" in late.stderr
    bad = scaleplan("verify", str(SCENARIO), str(tmp_path / "run"), "--start", "yesterday")
    assert bad.returncode == 2 and "not Unix seconds nor an ISO 8601 time" in bad.stderr
