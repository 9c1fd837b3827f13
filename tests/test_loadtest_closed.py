"""Load tests of a closed workload: steps in users, a Locust file and a k6 script whose users
think, and verify judging a closed plan.

Locust runs as a subprocess only (through ``test_loadtest_locust``'s helpers), bounded by the
plan's 8 s of steps and a subprocess timeout, against a loopback server stopped in teardown.
"""

from __future__ import annotations

import ast
import csv
import itertools
import json
import math
import random
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from _verify_data import LOADS, Load, write_locust
from _verify_data import make_plan as make_verify_plan
from locust_support import run_locust, serving, url
from typer.testing import CliRunner

from scaleplan.analytic.mva import MvaStation, exact_mva
from scaleplan.cli import app
from scaleplan.distributions import Distribution
from scaleplan.errors import SpecError
from scaleplan.loadtest.closed import split_users, step_users, think_sampler, users_spec
from scaleplan.loadtest.k6 import k6_script
from scaleplan.loadtest.locust import locustfile
from scaleplan.loadtest.make import check_size, loadtest_settings, make_plan
from scaleplan.loadtest.plan import Band, ClassRequest, LoadTestPlan, Step, read_plan
from scaleplan.spec import load_scenario, parse_spec
from scaleplan.spec.scenario import parse_scenario
from scaleplan.verify import judge, read_results
from scaleplan.verify.chart import figure_verification

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "tests" / "data" / "scenarios" / "tiny-closed.yaml"
NODE = shutil.which("node") or "/usr/bin/node"
runner = CliRunner()

#: Every distribution a think time may have, as a plan keeps it.
THINK_TIMES: list[dict[str, Any]] = [
    {"dist": "exponential", "mean_ms": 250.0},
    {"dist": "constant", "mean_ms": 300.0},
    {"dist": "uniform", "low_ms": 100.0, "high_ms": 500.0},
    {"dist": "uniform", "mean_ms": 400.0, "cv": 0.3},
    {"dist": "lognormal", "mean_ms": 400.0, "cv": 1.5},
    {"dist": "lognormal", "p50_ms": 200.0, "p99_ms": 900.0},
    {"dist": "gamma", "mean_ms": 300.0, "cv": 0.5},
    {"dist": "gamma", "mean_ms": 300.0, "cv": 2.0},
    {"dist": "empirical", "samples_ms": [100.0, 200.0, 700.0]},
]


# --------------------------------------------------------------------------- the plan


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``scaleplan loadtest`` on the closed scenario, once for the module."""
    out = tmp_path_factory.mktemp("closed")
    result = runner.invoke(app, ["loadtest", str(SCENARIO), "-o", str(out), "--workers", "1"])
    assert result.exit_code == 0, result.output
    (out / "stdout.txt").write_text(result.output)
    return out


def test_the_cli_writes_the_five_files_and_prints_the_steps_in_users(written: Path) -> None:
    for name in ("plan.json", "locustfile.py", "script.js", "testplan.md", "testplan.html"):
        assert (written / name).is_file(), name
    output = (written / "stdout.txt").read_text()
    assert "closed workload" in output and "users" in output
    assert "thinks exponential mean 500 ms" in output
    testplan = (written / "testplan.md").read_text()
    assert "today's peak, 6 users" in testplan  # the load case runs today's users
    assert "12 users" in testplan  # the spike twice as many
    assert "3 steps from" in testplan and "table of steps" in testplan


def test_a_closed_plan_steps_up_users_with_predictions_and_cis(written: Path) -> None:
    plan = read_plan(written / "plan.json")
    assert plan.closed and plan.user_rate_per_s is None
    assert plan.think_time == {"dist": "exponential", "mean_ms": 500.0}
    assert plan.class_users == {"browse": 3.0, "checkout": 1.0}
    assert plan.limit_users is not None and plan.limit_users_ci95 is not None
    low, high = plan.limit_users_ci95
    assert low <= plan.limit_users <= high
    users = [step.users for step in plan.steps]
    assert users == step_users((0.25, 0.5, 1.0), plan.limit_users)[0]
    assert all(a < b for a, b in itertools.pairwise(users))
    for step in plan.steps:
        assert set(step.predicted) == {
            "throughput_per_s",
            "mean_ms",
            "p50_ms",
            "p95_ms",
            "p99_ms",
            "error_rate",
        }
        throughput = step.predicted["throughput_per_s"]
        assert step.rate_per_s == throughput.mean  # a closed step's rate is the prediction
        assert throughput.low < throughput.mean < throughput.high
        assert throughput.window_low is not None  # one window's range, from 8 s windows
    assert [case.name for case in plan.cases] == ["load", "stress", "spike", "failover", "soak"]
    assert plan.cases[0].users == 6 and plan.cases[2].users == 12


def test_exact_mva_lies_in_each_steps_predicted_throughput_ci(written: Path) -> None:
    # The scenario is a product-form tandem: web (4 slots of 60 ms, its slot not held during
    # the call) then db (one server of 30 ms), users thinking 500 ms (exponential): exact MVA.
    plan = read_plan(written / "plan.json")
    stations = [MvaStation("web", 0.060, 4), MvaStation("db", 0.030, 1)]
    most = max(step.users for step in plan.steps)
    exact = exact_mva(stations, 0.5, most)
    for step in plan.steps:
        band = step.predicted["throughput_per_s"]
        value = exact[step.users - 1].throughput_per_s
        assert band.low <= value <= band.high, (step.users, value, band)


def test_the_plan_is_deterministic_for_a_seed(written: Path) -> None:
    again = make_plan(load_scenario(SCENARIO), workers=2)
    first = read_plan(written / "plan.json")
    assert [s.model_dump() for s in again.steps] == [s.model_dump() for s in first.steps]
    assert again.limit_users == first.limit_users


def test_fractions_that_round_to_the_same_users_are_dropped_and_said() -> None:
    users, notes = step_users((0.1, 0.12, 0.5, 1.0), 10.0)
    assert users == [1, 5, 10]
    assert len(notes) == 1 and "0.12" in notes[0] and "dropped" in notes[0]
    assert step_users((0.01,), 10.0)[0] == [1]  # at least one user


def test_classes_with_their_own_users_are_scaled_in_proportion() -> None:
    spec = parse_spec(
        {
            "name": "own",
            "entry": "api",
            "workload": {
                "kind": "closed",
                "think_time": {"dist": "exponential", "mean_ms": 500},
                "classes": [{"name": "a", "users": 3}, {"name": "b", "users": 1}],
            },
            "components": {
                "api": {"kind": "service", "service_time": {"dist": "exponential", "mean_ms": 5}}
            },
        }
    )
    assert users_spec(spec).workload.class_users() == (3, 1)
    assert users_spec(spec, 8).workload.class_users() == (6, 2)
    assert users_spec(spec, 2).workload.class_users() == (1, 1)
    assert split_users({"a": 3.0, "b": 1.0}, 8) == [6, 2]


def test_a_plan_without_the_new_keys_still_reads_as_open(tmp_path: Path) -> None:
    data = json.loads(make_verify_plan().to_json())
    for key in ("workload", "think_time", "class_users", "limit_users", "limit_users_ci95"):
        data.pop(key)
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(data))
    plan = read_plan(path)
    assert not plan.closed and plan.user_rate_per_s == 1.0
    data["think_time"] = {"dist": "exponential", "mean_ms": 1}
    path.write_text(json.dumps(data))
    with pytest.raises(SpecError, match="belong to a closed plan"):
        read_plan(path)


# --------------------------------------------------------------------------- bad input


def _scenario_with_think(tmp_path: Path, think: dict[str, Any]) -> Path:
    text = SCENARIO.read_text().replace(
        "think_time: {dist: exponential, mean_ms: 500}\n    classes",
        f"think_time: {json.dumps(think)}\n    classes",
    )
    path = tmp_path / "scenario.yaml"
    path.write_text(text)
    return path


def _scaleplan(*args: str) -> subprocess.CompletedProcess[str]:
    """The real entry point, as a user runs it (user errors exit 2 without a traceback)."""
    return subprocess.run(
        [sys.executable, "-m", "scaleplan", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def test_a_think_time_of_an_unknown_dist_exits_2_naming_the_key(tmp_path: Path) -> None:
    path = _scenario_with_think(tmp_path, {"dist": "weibull", "mean_ms": 500})
    done = _scaleplan("loadtest", str(path), "-o", str(tmp_path / "out"))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "workload.today.think_time" in done.stderr and "weibull" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()


def test_an_empirical_think_time_too_large_for_the_scripts_exits_2(tmp_path: Path) -> None:
    samples = [100.0 + i % 50 for i in range(10_001)]
    path = _scenario_with_think(tmp_path, {"dist": "empirical", "samples_ms": samples})
    done = _scaleplan("loadtest", str(path), "-o", str(tmp_path / "out"), "--workers", "1")
    assert done.returncode == 2, done.stdout + done.stderr
    flattened = " ".join(done.stderr.replace("│", " ").split())
    assert "workload.today.think_time" in flattened and "10,001 samples" in flattened
    assert "Traceback" not in done.stderr


def _closed_scenario(**changes: Any) -> Any:
    data = yaml.safe_load(SCENARIO.read_text())
    for key, value in changes.items():
        node = data
        *path, last = key.split(".")
        for part in path:
            node = node[int(part)] if part.isdigit() else node[part]
        node[int(last) if last.isdigit() else last] = value
    return parse_scenario(data)


def test_a_closed_plan_too_large_to_predict_is_refused_before_it_starts() -> None:
    scenario = _closed_scenario(**{"run.requests": 200_000_000})
    with pytest.raises(SpecError, match=r"run\.requests: 200,000,000 requests × 4 replications"):
        check_size(scenario, loadtest_settings(scenario), None)


def test_a_mixed_workload_is_refused_naming_its_open_classes() -> None:
    scenario = _closed_scenario(
        **{"workload.today.classes.1": {"name": "checkout", "rate_per_s": 2}}
    )
    with pytest.raises(SpecError, match=r"workload\.today\.classes.*rate_per_s: checkout\)"):
        make_plan(scenario, workers=1)


def test_a_sampler_for_an_unknown_dist_is_refused_naming_the_key() -> None:
    with pytest.raises(Exception, match="dist"):
        think_sampler({"dist": "pareto", "mean_ms": 1})


# --------------------------------------------------------------------------- samplers


def _closed_plan(
    think: dict[str, Any] | None, steps: tuple[tuple[int, float], ...]
) -> LoadTestPlan:
    band = Band(mean=10.0, low=9.0, high=11.0)
    start = 0.0
    made = []
    for index, (users, duration) in enumerate(steps):
        made.append(
            Step(
                index=index,
                start_s=start,
                duration_s=duration,
                settle_s=1.0,
                users=users,
                rate_per_s=band.mean,
                predicted={"throughput_per_s": band},
                meets_slos=True,
            )
        )
        start += duration
    return LoadTestPlan(
        scenario="closed.yaml",
        candidate="api",
        host="http://127.0.0.1:9",
        classes=(
            ClassRequest(name="browse", weight=3, path="/browse"),
            ClassRequest(name="checkout", weight=1, method="POST", path="/checkout"),
        ),
        workload="closed",
        think_time=think,
        class_users={"browse": 3.0, "checkout": 1.0},
        slos=("mean<=500ms", "errors<=1%"),
        limit_users=10.0,
        steps=tuple(made),
    )


def _distribution(think: dict[str, Any]) -> Any:
    from pydantic import TypeAdapter

    return TypeAdapter(Distribution).validate_python(think)


def _python_think(text: str) -> Any:
    """The rendered Locust file's ``think()`` with its ``THINK`` constant (no Locust import)."""
    tree = ast.parse(text)
    kept = [
        node
        for node in tree.body
        if (isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "THINK")
        or (isinstance(node, ast.FunctionDef) and node.name == "think")
    ]
    namespace: dict[str, Any] = {"random": random}
    exec(compile(ast.Module(body=kept, type_ignores=[]), "<locustfile>", "exec"), namespace)
    return namespace["think"]


def _covers_mean(values: list[float], mean_s: float) -> bool:
    """Whether the values' 95% CI of the mean (normal, many values) covers ``mean_s``."""
    n = len(values)
    average = math.fsum(values) / n
    spread = math.sqrt(math.fsum((v - average) ** 2 for v in values) / (n - 1))
    half = 1.96 * spread / math.sqrt(n)
    return average - half - 1e-12 <= mean_s <= average + half + 1e-12


#: Seeds 1 … SEEDS of DRAWS draws each: a right sampler's CI covers the mean in about 95% of
#: them; at least COVERED of 20 (a binomial(20, 0.95) falls below 17 with probability 1.6%).
SEEDS, DRAWS, COVERED = 20, 2_000, 17


def _coverage(samples: list[list[float]], think: dict[str, Any]) -> int:
    mean_s = _distribution(think).mean_s
    return sum(_covers_mean(values, mean_s) for values in samples)


def test_the_closed_locust_file_imports_only_locust_and_the_standard_library() -> None:
    text = locustfile(_closed_plan({"dist": "gamma", "mean_ms": 300.0, "cv": 2.0}, ((2, 4.0),)))
    tree = ast.parse(text)
    imported = {
        (node.module or "").split(".")[0] if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert imported <= {"locust", "random", "sys", "time"}, imported
    # No pacing: the wait is the think time alone.
    assert "constant_throughput" not in text and "_period" not in text
    assert "random.gammavariate" in text


@pytest.mark.parametrize("think", THINK_TIMES, ids=lambda t: f"{t['dist']}-{len(t)}")
def test_the_locust_files_think_time_has_the_models_mean(think: dict[str, Any]) -> None:
    text = locustfile(_closed_plan(think, ((2, 4.0),)))
    draw = _python_think(text)
    samples = []
    for seed in range(1, SEEDS + 1):
        random.seed(seed)
        samples.append([draw() for _ in range(DRAWS)])
    assert min(min(values) for values in samples) >= 0
    if think["dist"] == "constant":
        assert {value for values in samples for value in values} == {0.3}
        return
    assert _coverage(samples, think) >= COVERED


@pytest.mark.parametrize("think", THINK_TIMES, ids=lambda t: f"{t['dist']}-{len(t)}")
def test_the_k6_scripts_think_time_has_the_models_mean(
    think: dict[str, Any], tmp_path: Path
) -> None:
    text = k6_script(_closed_plan(think, ((2, 4.0), (4, 4.0))))
    path = tmp_path / "script.mjs"
    path.write_text(text)
    checked = subprocess.run(
        [NODE, "--check", str(path)], capture_output=True, text=True, timeout=30
    )
    assert checked.returncode == 0, checked.stderr
    options = json.loads(text.split("export const options = ", 1)[1].split(";\n", 1)[0])
    scenario = options["scenarios"]["steps"]
    assert scenario["executor"] == "ramping-vus"
    assert [stage["target"] for stage in scenario["stages"]] == [2, 2, 4, 4]
    assert "sleep(think());" in text
    # The samplers alone, under a seeded Math.random (mulberry32), so the draws are fixed.
    params = text.split("const THINK = ", 1)[1].split(";\n", 1)[0]
    functions = text.split("function normal()", 1)[1].split("function stepAt", 1)[0]
    functions = "function normal()" + functions.replace("export function", "function")
    program = (
        "let seed = 0;\n"
        "Math.random = () => { seed |= 0; seed = (seed + 0x6D2B79F5) | 0;\n"
        "  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);\n"
        "  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;\n"
        "  return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };\n"
        f"const THINK = {params};\n{functions}\n"
        f"const all = []; for (let s = 1; s <= {SEEDS}; s++) {{ seed = s; const out = [];\n"
        f"  for (let i = 0; i < {DRAWS}; i++) out.push(think()); all.push(out); }}\n"
        "console.log(JSON.stringify(all));\n"
    )
    done = subprocess.run(
        [NODE, "-e", program], capture_output=True, text=True, timeout=30, check=True
    )
    samples = json.loads(done.stdout)
    assert min(min(values) for values in samples) >= 0
    if think["dist"] == "constant":
        assert {value for values in samples for value in values} == {0.3}
        return
    assert _coverage(samples, think) >= COVERED


# --------------------------------------------------------------------------- real Locust


@pytest.fixture
def answering() -> Iterator[str]:
    with serving() as server:
        yield url(server)


def test_real_locust_runs_the_users_with_the_models_think_time(
    answering: str, tmp_path: Path
) -> None:
    # 4 users for 4 s, then 8 for 4 s, thinking 0.25 s (exponential) between a few-ms answer
    # and the next request: N·T/(Z + R) ≈ (4·8 + 4·4) / 0.26 ≈ 185 requests. Paced at one
    # request a second they would send 48; without the think time, thousands; with half of
    # it, about 350.
    think_s = 0.25
    plan = _closed_plan({"dist": "exponential", "mean_ms": 1000 * think_s}, ((4, 4.0), (8, 4.0)))
    done = run_locust(plan, answering, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    with (tmp_path / "results_stats.csv").open(newline="") as file:
        rows = {(row["Type"], row["Name"]): row for row in csv.DictReader(file)}
    assert int(rows[("GET", "browse")]["Request Count"]) > 0
    assert int(rows[("POST", "checkout")]["Request Count"]) > 0
    total = rows[("", "Aggregated")]
    count = int(total["Request Count"])
    cycle_s = think_s + float(total["Average Response Time"]) / 1000
    # Each step's new users send for the rest of the test, less up to 1.5 s for Locust to
    # notice the step (its shape ticks every second) and spawn them.
    users = [0, *[step.users for step in plan.steps]]
    remaining = [plan.duration_s - step.start_s for step in plan.steps]
    new = [after - before for before, after in itertools.pairwise(users)]
    most = math.fsum(n * t for n, t in zip(new, remaining, strict=True)) / cycle_s
    least = math.fsum(n * (t - 1.5) for n, t in zip(new, remaining, strict=True)) / cycle_s
    # A user's requests are a renewal count with exponential gaps (sd ≈ √170 ≈ 13): 25% beyond
    # either bound is over four of them.
    assert 0.75 * least <= count <= 1.25 * most, (count, least, most)
    paced = math.fsum(n * t for n, t in zip(new, remaining, strict=True)) * 1.0
    assert count > 2 * paced, (count, paced)
    assert "met: errors<=1%" in done.stdout + done.stderr


# --------------------------------------------------------------------------- verify


def _closed_verify_plan() -> LoadTestPlan:
    return make_verify_plan().model_copy(
        update={
            "workload": "closed",
            "user_rate_per_s": None,
            "think_time": {"dist": "exponential", "mean_ms": 1000.0},
            "class_users": {"default": 1.0},
            "limit_users": 70.0,
            "limit_users_ci95": (66.0, 74.0),
        }
    )


def test_verify_confirms_a_closed_plan_measured_as_predicted(tmp_path: Path) -> None:
    write_locust(tmp_path / "run", LOADS)
    result = judge(_closed_verify_plan(), read_results(tmp_path / "run"))
    assert result.confirmed, result.divergences
    # Its chart plots latency against the users, the closed plan's load.
    figure = figure_verification(result)
    assert figure.layout.xaxis.title.text == "users (closed workload)"
    assert list(figure.data[1].x) == [20.0, 40.0, 60.0]


def test_verify_refutes_a_closed_plan_whose_users_send_40_percent_less(tmp_path: Path) -> None:
    # Closed users answered more slowly send less: 60% of the predicted throughput, and (by
    # N = X (Z + R)) a response time that makes up the difference.
    slower = tuple(
        Load(
            0.6 * load.rate_per_s,
            3 * load.mean_ms,
            3 * load.p50_ms,
            3 * load.p95_ms,
            3 * load.p99_ms,
        )
        for load in LOADS
    )
    write_locust(tmp_path / "run", slower)
    result = judge(_closed_verify_plan(), read_results(tmp_path / "run"))
    assert not result.confirmed
    assert any(line.startswith("step 0 (20 users): throughput") for line in result.divergences)
    cause = result.causes[0]
    assert "slower than modelled" in cause and "users sent" in cause and "20 users" in cause
    assert not any("offered" in line for line in result.causes)
