"""``scaleplan loadtest``: the files it writes, what it prints, --json, and bad input (exit 2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scaleplan.cli import app
from scaleplan.loadtest import read_plan

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "tests/data/scenarios/tiny-loadtest.yaml"
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


def test_it_writes_the_plan_the_scripts_and_the_test_plan(tmp_path: Path) -> None:
    out = tmp_path / "lt"
    result = runner.invoke(
        app, ["loadtest", str(TINY), "-o", str(out), "--workers", "1", "--host", "http://h:81"]
    )
    assert result.exit_code == 0, result.output
    for name in ("plan.json", "locustfile.py", "script.js", "testplan.md", "testplan.html"):
        assert (out / name).is_file(), name
        assert f"wrote {out / name}" in result.output
    plan = read_plan(out / "plan.json")
    assert plan.candidate == "pair" and plan.host == "http://h:81"
    assert len(plan.steps) == 3
    assert "steps (predicted, 95% CI)" in result.output
    command = (
        f"locust -f {out / 'locustfile.py'} --headless --host http://h:81 --csv {out / 'results'}"
    )
    assert command in " ".join(result.output.split())
    assert "http://h:81" in (out / "locustfile.py").read_text()


def test_json_gives_the_plan_the_files_and_the_command(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "loadtest",
            str(TINY),
            "-o",
            str(tmp_path),
            "--workers",
            "1",
            # Steps longer than the scenario's 30 s: overridden, and (at the top step's ~170
            # requests/s) past predict.WINDOW_MAX_REQUESTS, so no 40-window ranges are simulated
            # here (tests/test_loadtest_predict.py checks those).
            "--step-s",
            "40",
            "--settle-s",
            "2",
            "--seed",
            "7",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["plan"]["format"] == "scaleplan-loadtest-plan/1"
    assert [step["duration_s"] for step in data["plan"]["steps"]] == [40.0, 40.0, 40.0]
    assert [step["settle_s"] for step in data["plan"]["steps"]] == [2.0, 2.0, 2.0]
    assert data["files"][0] == str(tmp_path / "plan.json")
    assert data["locust_command"][:2] == ["locust", "-f"]
    # verify judges each step's percentiles only from a full history
    assert "--csv-full-history" in data["locust_command"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no-such-scenario.yaml"], "no-such-scenario.yaml: file does not exist"),
        ([str(TINY), "--candidate", "par"], "no candidate named 'par' (did you mean 'pair'?)"),
        ([str(TINY), "--step-s", "4"], "loadtest: settle_s must be shorter than step_s"),
        ([str(TINY), "--step-s", "0"], "Invalid value for '--step-s'"),
        ([str(TINY), "--host", "nohost"], "loadtest.host"),
    ],
)
def test_bad_input_exits_2_with_where_and_what(
    args: list[str], message: str, tmp_path: Path
) -> None:
    completed = scaleplan("loadtest", *args, "-o", str(tmp_path / "out"), "--workers", "1")
    assert completed.returncode == 2, completed.stdout + completed.stderr
    flattened = " ".join(completed.stderr.replace("│", " ").split())
    assert message in flattened, flattened
    assert "Traceback" not in completed.stderr
    assert not (tmp_path / "out").exists()


def test_a_bad_loadtest_key_in_the_scenario_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(TINY.read_text().replace("fractions: [0.5, 0.9, 1.1]", "fractions: [0.9, 0.5]"))
    completed = scaleplan("loadtest", str(bad), "-o", str(tmp_path / "out"))
    assert completed.returncode == 2
    assert "bad.yaml" in completed.stderr and "loadtest.fractions" in completed.stderr
    assert "must increase" in completed.stderr
    assert not (tmp_path / "out").exists()


SLOW = """\
title: "A slow API: four workers of 200 ms"
workload:
  today: {arrival: poisson, rate_per_s: 5}
nfrs:
  slos: ["p99<=2000ms", "errors<=1%"]
candidates:
  - name: slow
    architecture:
      name: slow
      workload: {rate_per_s: 5}
      entry: api
      components:
        api: {kind: service, concurrency: 4, service_time: {dist: exponential, mean_ms: 200}}
run: {seed: 2, replications: 2, requests: 1500, pull_replications: 2, pull_requests: 1500,
      precision: 0.1, stopping: fixed}
loadtest:
  user_rate_per_s: 2
  step_s: 3
  settle_s: 1
  fractions: [0.3, 0.6]
"""


class _Quick(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # Locust quitting mid-answer
            super().handle_error(request, client_address)  # type: ignore[arg-type]


@pytest.mark.e2e  # tests/test_loadtest_e2e.py runs the written file against real services
def test_the_written_locust_file_runs_against_a_loopback_server(tmp_path: Path) -> None:
    scenario = tmp_path / "slow.yaml"
    scenario.write_text(SLOW)
    out = tmp_path / "lt"
    result = runner.invoke(
        app, ["loadtest", str(scenario), "-o", str(out), "--workers", "1", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    server = _Server(("127.0.0.1", 0), _Quick)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    command = list(data["locust_command"])
    command[command.index("--host") + 1] = f"http://127.0.0.1:{server.server_address[1]}"
    command[0:1] = [sys.executable, "-m", "locust"]
    process = subprocess.Popen(
        command,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": ""},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    assert process.returncode == 0, err[-3000:]
    stats = (out / "results_stats.csv").read_text()
    assert "GET,default," in stats
