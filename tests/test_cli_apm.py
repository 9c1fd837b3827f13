"""``scaleplan apm``: the files it writes, what it prints, promtool on them, bad input (exit 2)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml
from _apm import SHOP, run_promtool
from _records import SMALL_BUDGET
from typer.testing import CliRunner

from scaleplan.cli import app
from scaleplan.cli.apm import FILES

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


def scaleplan(*args: str) -> subprocess.CompletedProcess[str]:
    """The real entry point, as a user runs it (user errors exit 2 without a traceback)."""
    return subprocess.run(
        [sys.executable, "-m", "scaleplan", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        check=False,
    )


def test_apm_writes_the_design_of_the_online_shop(tmp_path: Path) -> None:
    out = tmp_path / "apm"
    result = runner.invoke(
        app, ["apm", str(SHOP), "-o", str(out), "--budget", str(SMALL_BUDGET), "--workers", "1"]
    )
    assert result.exit_code == 0, result.output
    for name in FILES:
        assert (out / name).is_file(), name
        assert f"wrote {out / name}" in result.output
    plan = json.loads((out / "instrumentation.json").read_text())
    assert plan["candidate"] == "lb-cluster" and 0.4 in plan["histogram_buckets_s"]
    rules = yaml.safe_load((out / "rules.yml").read_text())
    alerts = [r for g in rules["groups"] for r in g["rules"] if "alert" in r]
    pages = sum(1 for a in alerts if a["labels"]["severity"] == "page")
    printed = " ".join(result.output.split())
    assert f"lb-cluster: {len(alerts)} alerts ({pages} page, {len(alerts) - pages} ticket)" in (
        printed
    )
    assert len(alerts) == 15  # 4 per objective (3) and 3 capacity alerts
    board = json.loads((out / "dashboard.json").read_text())
    assert board["schemaVersion"] >= 36
    assert (out / "monitoring.html").read_text().startswith("<!DOCTYPE html>")
    assert "# Monitoring design" in (out / "monitoring.md").read_text()
    assert "# Instrumentation plan" in (out / "instrumentation.md").read_text()
    checked = run_promtool("check", "rules", "rules.yml", cwd=out)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_bad_input_exits_2_with_a_message(tmp_path: Path) -> None:
    unknown = scaleplan("apm", str(SHOP), "-o", str(tmp_path / "a"), "--candidate", "nope")
    assert unknown.returncode == 2
    assert "no candidate named 'nope'" in unknown.stderr and "monolith" in unknown.stderr
    missing = scaleplan("apm", str(tmp_path / "missing.yaml"), "-o", str(tmp_path / "b"))
    assert missing.returncode == 2 and "missing.yaml" in missing.stderr
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    into_file = scaleplan("apm", str(SHOP), "-o", str(blocked / "sub"), "--budget", "1000")
    assert into_file.returncode == 2 and str(blocked) in into_file.stderr
    for done in (unknown, missing, into_file):
        assert "Traceback" not in done.stderr + done.stdout
    assert not (tmp_path / "a").exists()  # refused before anything was made
