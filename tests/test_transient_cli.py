"""``scaleplan transient``: the table, the JSON, the chart, and exit 2 on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scaleplan.cli import app
from scaleplan.errors import ScaleplanError, SpecError
from scaleplan.spec import load_scenario

ROOT = Path(__file__).resolve().parent.parent
ONSALE = ROOT / "data" / "scenarios" / "ticket-onsale.yaml"
runner = CliRunner()

SCENARIO = """\
title: small spike
workload:
  today: {rate_per_s: 10}
  profile:
    phases:
      - {name: before, duration_s: 20, steady: {factor: 1}}
      - {name: spike, duration_s: 20, spike: {factor: 3, rise_s: 2}, mix: {buy: 1}}
      - {name: after, duration_s: 20, flash: {factor: 2, half_life_s: 5}}
nfrs: {slos: ["p99<=400ms", "buy.p99<=600ms", "errors<=1%"]}
candidates:
  - name: small
    architecture:
      name: small
      workload:
        rate_per_s: 10
        requests: 100
        classes: [{name: look, weight: 3}, {name: buy, weight: 1}]
      entry: api
      components:
        api: {kind: service, concurrency: 2, queue_limit: 30,
              service_time: {dist: exponential, mean_ms: 80}}
  - name: big
    architecture:
      name: big
      workload:
        rate_per_s: 10
        requests: 100
        classes: [{name: look, weight: 3}, {name: buy, weight: 1}]
      entry: api
      components:
        api: {kind: service, concurrency: 8, service_time: {dist: exponential, mean_ms: 80},
              autoscale: {target: 0.5, min_replicas: 1, max_replicas: 3, interval_s: 5, boot_s: 5}}
costs: {currency: EUR, defaults: {service: {per_replica_hour: 1.0}}}
run: {seed: 4, replications: 3}
"""


def scaleplan(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scaleplan", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("transient") / "spike.yaml"
    path.write_text(SCENARIO)
    return path


def test_table_json_and_chart(scenario: Path, tmp_path: Path) -> None:
    out, chart = tmp_path / "r.json", tmp_path / "r.html"
    done = runner.invoke(
        app, ["transient", str(scenario), "--json", str(out), "--html", str(chart)]
    )
    assert done.exit_code == 0, done.output
    text = done.output
    assert "95% CI across 3 replications" in text
    assert "SLOs per 6 s window" in text and "p99<=400ms" in text
    assert "cost of the event" in text and "EUR" in text
    assert "api: most replicas" in text  # only the autoscaled candidate has the row
    data = json.loads(out.read_text())["results"]
    assert set(data) == {"small", "big"}
    assert data["small"]["replications"] == 3
    assert data["small"]["phases"][1] == {"name": "spike", "start_s": 20.0, "end_s": 40.0}
    assert {v["nfr"] for v in data["big"]["verdicts"]} == {
        "p99<=400ms",
        "buy.p99<=600ms",
        "errors<=1%",
    }
    html = chart.read_text()
    assert "plotly" in html and "p99 latency per request class" in html
    # One candidate, named; the same seed gives the same JSON.
    again = tmp_path / "again.json"
    done = runner.invoke(
        app, ["transient", str(scenario), "--candidate", "big", "--json", str(again)]
    )
    assert done.exit_code == 0, done.output
    assert json.loads(again.read_text())["results"]["big"] == data["big"]


def test_json_on_stdout(scenario: Path) -> None:
    done = runner.invoke(
        app,
        ["transient", str(scenario), "--candidate", "small", "--json", "-", "--replications", "2"],
    )
    assert done.exit_code == 0, done.output
    assert (
        json.loads(done.stdout)["results"]["small"]["ci"] == "95% Student-t across 2 replications"
    )


def test_bad_input_exits_2_naming_the_place(scenario: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(SCENARIO.replace("mix: {buy: 1}", "mix: {buyy: 1}"))
    done = scaleplan("transient", str(bad))
    assert done.returncode == 2, done.stderr
    assert "workload.profile.phases[1].mix.buyy" in done.stderr
    assert "no request class 'buyy'" in done.stderr and "Traceback" not in done.stderr
    # The other refusals are ScaleplanErrors too, which the entry point turns into exit 2.
    done = runner.invoke(app, ["transient", str(scenario), "--candidate", "nosuch"])
    assert isinstance(done.exception, ScaleplanError)
    assert "no candidate named 'nosuch'" in str(done.exception)
    plain = ROOT / "data" / "architectures" / "monolith.yaml"
    done = runner.invoke(app, ["transient", str(plain)])
    assert isinstance(done.exception, ScaleplanError)
    assert "arrival: profile" in str(done.exception)
    done = runner.invoke(app, ["transient", str(scenario), "--replications", "1"])
    assert isinstance(done.exception, ScaleplanError) and "at least 2" in str(done.exception)


def test_the_bundled_onsale_scenario_loads_with_its_profile(tmp_path: Path) -> None:
    scenario = load_scenario(ONSALE)
    profile = scenario.workload.profile
    assert profile is not None
    assert profile.labels() == ["before", "onsale", "after"]
    assert profile.phases[1].duration_s == 900 and profile.max_factor == 20
    assert scenario.names == ["fixed", "autoscaled", "queued-checkout"]
    bad = tmp_path / "onsale.yaml"
    bad.write_text(ONSALE.read_text().replace("checkout: 4}", "checkuot: 4}"))
    with pytest.raises(SpecError) as caught:
        load_scenario(bad)
    paths = {problem.key_path for problem in caught.value.problems}
    assert paths == {"workload.profile.phases[1].mix.checkuot"}
    assert len(caught.value.problems) == 3  # one per candidate, each named
