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


def scaleplan(
    *args: str, cwd: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scaleplan", *args],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        timeout=timeout,
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


# --------------------------------------------------------------------------- printed literally
# Everything a user wrote (file names, keys, titles) reaches the terminal as it was written:
# never read as console markup (`[/x]` would crash rich, `[link=…]` would vanish), never as an
# emoji code (`:100:`), and never as a terminal control sequence (an ANSI colour, a screen clear,
# an OSC hyperlink), which is dropped.
MARKUP = "[/x] [link=http://x]here[/link] :100: [bold]"
CONTROLS = "\x1b[31m\x1b]8;;http://evil\x07\x1b[2J\x07"


def test_an_error_at_line_100_prints_its_place_literally(tmp_path: Path) -> None:
    spec = tmp_path / "ticketing.yaml"
    spec.write_text(
        "".join(f"# line {n}\n" for n in range(1, 93)) + "name: ticketing\n"  # line 93
        "workload: {rate_per_s: 10}\n"
        "entry: api\n"
        "components:\n"
        "  api:\n"
        "    kind: service\n"
        "    service_time: {dist: exponential, mean_ms: 5}\n"
        "    replicas: 0\n"  # line 100
    )
    for command in ("validate", "simulate"):
        done = scaleplan(command, str(spec))
        assert done.returncode == 2, done.stderr
        assert "ticketing.yaml:100: components.api.replicas: must be at least 1" in done.stderr
        assert "\N{HUNDRED POINTS SYMBOL}" not in done.stderr + done.stdout
        assert "Traceback" not in done.stderr


@pytest.mark.parametrize("command", ["validate", "simulate", "estimate"])
def test_user_text_in_an_error_is_printed_literally(tmp_path: Path, command: str) -> None:
    spec = tmp_path / "names.yaml"
    # A double-quoted YAML key may hold any character, an escape (\e) included.
    key = MARKUP.replace(" ", "") + "\\e[31m\\e]8;;http://evil\\a\\e[2J"
    spec.write_text(
        "name: names\n"
        "workload: {rate_per_s: 10}\n"
        "entry: api\n"
        "components:\n"
        "  api:\n"
        "    kind: service\n"
        "    service_time: {dist: exponential, mean_ms: 5}\n"
        f'  "{key}":\n'
        "    kind: service\n"
        "    service_time: {dist: exponential, mean_ms: 5}\n"
    )
    done = scaleplan(command, str(spec))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "names.yaml:8: " in done.stderr
    assert MARKUP.replace(" ", "") in done.stderr
    assert not set(done.stderr) & {"\x1b", "\x07"}


def test_file_names_are_printed_literally(tmp_path: Path) -> None:
    # A file name holds no "/": the directory "v[" and the file in it spell `v[/x]…` on the
    # command line, and the rest of the markup is what a name can hold.
    (tmp_path / "v[").mkdir()
    markup = "[link=file:x]here :100: [bold]"
    name = f"x] {markup}\x1b[31m\x1b]8;;file:evil\x07\x1b[2J.yaml"
    (tmp_path / "v[" / name).write_text((EXAMPLES / "monolith.yaml").read_text())
    done = scaleplan("validate", f"v[/{name}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"ok v[/x] {markup}.yaml: monolith," in done.stdout
    assert not set(done.stdout + done.stderr) & {"\x1b", "\x07"}
    (tmp_path / "v[" / name).write_text("name: [\n")
    broken = scaleplan("simulate", f"v[/{name}", cwd=tmp_path)
    assert broken.returncode == 2
    assert f"x] {markup}.yaml:2: invalid YAML" in broken.stderr
    assert "Traceback" not in broken.stderr
    assert not set(broken.stdout + broken.stderr) & {"\x1b", "\x07"}


def test_a_title_is_printed_literally(tmp_path: Path) -> None:
    source = (ROOT / "data" / "dr" / "online-shop-dr.yaml").read_text()
    title = f"Shop {MARKUP}\\e[31m\\e[2J"
    path = tmp_path / "dr.yaml"
    path.write_text(source.replace('title: "Online shop:', f'title: "{title}', 1))
    done = scaleplan("dr", str(path), "--disasters", "200")
    assert done.returncode == 0, done.stderr
    assert f"Shop {MARKUP}" in done.stdout
    assert not set(done.stdout) & {"\x1b", "\x07"}


def test_user_text_in_an_option_is_printed_literally() -> None:
    # A key path holds no "=" (it ends at the first one): the markup without the link.
    key = "components.[/x] :100: [bold]"
    done = scaleplan("sweep", str(EXAMPLES / "monolith.yaml"), "--set", f"{key}=1,2")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    flattened = " ".join(done.stderr.replace("│", " ").split())
    assert "[/x] :100: [bold]" in flattened


# --------------------------------------------------------------------------- bad numbers


@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan"])
def test_an_infinite_or_nan_number_is_refused_at_validation(tmp_path: Path, value: str) -> None:
    spec = tmp_path / "inf.yaml"
    spec.write_text(
        (EXAMPLES / "monolith.yaml").read_text().replace("mean_ms: 25", f"mean_ms: {value}", 1)
    )
    assert f"mean_ms: {value}" in spec.read_text()
    shown = {".inf": "inf", "-.inf": "-inf", ".nan": "nan"}[value]
    for command in ("validate", "simulate", "estimate"):
        done = scaleplan(command, str(spec))
        assert done.returncode == 2, done.stdout + done.stderr
        assert f"must be a finite number (got {shown})" in done.stderr
        assert "inf.yaml:" in done.stderr and "service_time.mean_ms" in done.stderr
        assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("workload", "args", "key"),
    [
        ("{rate_per_s: 50, requests: 1000000000000000}", (), "workload.requests"),
        ("{rate_per_s: 50, duration_s: 100000000000}", (), "workload.duration_s"),
        ("{rate_per_s: 50}", ("--requests", "1000000000000000"), "--requests"),
        (
            "{rate_per_s: 50}",
            ("--requests", "5000000", "--replications", "10000"),
            "--replications",
        ),
    ],
)
def test_a_run_too_large_to_finish_is_refused_before_it_starts(
    tmp_path: Path, workload: str, args: tuple[str, ...], key: str
) -> None:
    spec = tmp_path / "huge.yaml"
    spec.write_text(
        "name: huge\n"
        f"workload: {workload}\n"
        "entry: api\n"
        "components:\n"
        "  api:\n"
        "    kind: service\n"
        "    service_time: {dist: exponential, mean_ms: 5}\n"
    )
    # A refusal is immediate: a run that starts would not end within the timeout.
    done = scaleplan("simulate", str(spec), *args, timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    line = next(line for line in done.stderr.splitlines() if key in line)
    assert line.startswith("error: huge.yaml")
    assert re.search(r"would take about [\d,.]+ (years|days|hours)", line), line
    assert "limit" in line
    assert "Traceback" not in done.stderr
    if key.startswith("workload."):
        assert ":2: " in line  # the line of the workload key
        assert "pass --requests" in line


def test_requests_option_overrides_a_huge_workload(tmp_path: Path) -> None:
    spec = tmp_path / "huge.yaml"
    spec.write_text(
        "name: huge\n"
        "workload: {rate_per_s: 50, requests: 1000000000000000}\n"
        "entry: api\n"
        "components:\n"
        "  api:\n"
        "    kind: service\n"
        "    service_time: {dist: exponential, mean_ms: 5}\n"
    )
    done = scaleplan("simulate", str(spec), "--requests", "2000", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["requests"]["arrived"] == 2000


@pytest.mark.parametrize(
    ("args", "key"),
    [
        (("pull", "--requests", "1000000000000"), "--requests"),
        (("ramp", "--requests", "1000000000000"), "--requests"),
        (
            ("sweep", "--set", "components.app.replicas=1,2", "--requests", "1000000000000"),
            "--requests",
        ),
    ],
)
def test_an_experiment_too_large_to_finish_is_refused(args: tuple[str, ...], key: str) -> None:
    command, *rest = args
    done = scaleplan(command, str(EXAMPLES / "monolith.yaml"), *rest, timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"monolith.yaml: {key}: " in done.stderr
    assert "would take about" in done.stderr and "limit" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.usefixtures("allow_files_outside")  # a temporary scenario names the examples
def test_a_comparison_too_large_to_finish_names_the_run_key_and_its_line(tmp_path: Path) -> None:
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(
        "title: Too large\n"
        "workload: {today: {rate_per_s: 40}}\n"
        "candidates:\n"
        f"  - path: {EXAMPLES / 'monolith.yaml'}\n"
        f"  - path: {EXAMPLES / 'lb-cluster.yaml'}\n"
        "run:\n"
        "  replications: 3\n"
        "  requests: 1000000000000\n"
    )
    done = scaleplan("compare", str(scenario), timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    assert (
        "error: scenario.yaml:8: run.requests: 1e+12 requests × 6 replications at most "
        "(run.stopping: precision) × 2 candidates" in (done.stderr)
    )
    assert "would take about" in done.stderr and "lower it or run.replications" in done.stderr


def test_an_estimates_class_table_completes_no_requests() -> None:
    """An estimate simulates nothing: its class table says so ("—"), it does not claim 0."""
    estimated = scaleplan("estimate", str(EXAMPLES / "priority-classes.yaml"))
    assert estimated.returncode == 0, estimated.stderr
    rows = [line for line in estimated.stdout.splitlines() if line.startswith("│ checkout")]
    assert rows and rows[0].split("│")[2].strip() == "—"
