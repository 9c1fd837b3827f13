"""The rendered Locust file: self-contained, and run by real Locust against a loopback server.

The real runs are made once per session by ``tests/locust_support.py`` (Locust as a subprocess,
bounded by the plan's steps and a timeout; the server stopped when the run ends) and read here
and by ``tests/test_verify_locust.py``.
"""

from __future__ import annotations

import ast
import csv
import itertools

from locust_support import (
    BURST_STEP_S,
    BURST_USER_RATE_PER_S,
    BURST_USERS,
    LOCUST_TIMEOUT_S,
    LocustRun,
)

from scaleplan.loadtest.locust import locustfile, task_weights
from scaleplan.loadtest.plan import Band, ClassRequest, LoadTestPlan, Step


def _plan(slos: tuple[str, ...] = ("p99<=500ms", "errors<=1%")) -> LoadTestPlan:
    band = Band(mean=10.0, low=9.0, high=11.0)
    return LoadTestPlan(
        scenario="tiny.yaml",
        candidate="api",
        host="http://127.0.0.1:9",
        classes=(
            ClassRequest(name="browse", weight=3, path="/browse"),
            ClassRequest(name="checkout", weight=1, method="POST", path="/checkout"),
        ),
        user_rate_per_s=5.0,
        slos=slos,
        limit_per_s=40.0,
        steps=tuple(
            Step(
                index=i,
                start_s=4.0 * i,
                duration_s=4.0,
                settle_s=1.0,
                users=users,
                rate_per_s=5.0 * users,
                predicted={"throughput_per_s": band},
                meets_slos=True,
            )
            for i, users in enumerate((2, 4))
        ),
    )


def test_weights_keep_the_class_mix_in_small_integers() -> None:
    def classes(*weights: float) -> tuple[ClassRequest, ...]:
        return tuple(ClassRequest(name=f"c{i}", weight=w, path="/") for i, w in enumerate(weights))

    assert task_weights(classes(3, 1)) == [3, 1]
    assert task_weights(classes(0.6, 0.4)) == [3, 2]
    assert task_weights(classes(1.0)) == [1]
    assert task_weights(classes(1, 1e-9)) == [1000, 1]


def _constant(text: str, name: str) -> object:
    tree = ast.parse(text)
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == name:
            return ast.literal_eval(node.value)
    raise AssertionError(f"no constant {name}")


def test_the_constants_hold_the_steps_and_the_thresholds() -> None:
    text = locustfile(_plan(("p99<=500ms", "checkout.p95<=250ms", "errors<=0.1%")))
    steps = _constant(text, "STEPS")
    assert isinstance(steps, list)
    assert [(s["start_s"], s["duration_s"], s["users"]) for s in steps] == [
        (0.0, 4.0, 2),
        (4.0, 4.0, 4),
    ]
    thresholds = _constant(text, "THRESHOLDS")
    assert isinstance(thresholds, list)
    assert [(t["metric"], t["bound"], t["class"], t["method"]) for t in thresholds] == [
        ("p99", 500.0, None, None),
        ("p95", 250.0, "checkout", "POST"),
        ("errors", 0.001, None, None),
    ]
    assert _constant(text, "USER_RATE_PER_S") == 5.0


def test_the_file_imports_only_locust_and_the_standard_library() -> None:
    tree = ast.parse(locustfile(_plan()))
    imported = {
        (node.module or "").split(".")[0] if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert imported <= {"locust", "random", "sys", "time"}, imported
    text = locustfile(_plan())
    assert "@task(3)" in text and "@task(1)" in text
    assert "name='browse'" in text and "name='checkout'" in text
    assert "host = 'http://127.0.0.1:9'" in text


def test_locust_walks_the_steps_stops_by_itself_and_passes(
    healthy_locust_run: LocustRun,
) -> None:
    run = healthy_locust_run
    assert run.done.returncode == 0, run.done.stderr[-3000:]
    assert run.elapsed_s < LOCUST_TIMEOUT_S
    assert run.prefix.with_name("results_stats_history.csv").is_file()
    with run.prefix.with_name("results_stats.csv").open(newline="") as file:
        rows = {(row["Type"], row["Name"]): row for row in csv.DictReader(file)}
    assert int(rows[("GET", "browse")]["Request Count"]) > 0
    assert int(rows[("POST", "checkout")]["Request Count"]) > 0
    assert int(rows[("", "Aggregated")]["Failure Count"]) == 0
    assert "met: errors<=1%" in run.output
    assert "met: checkout.p95<=500ms" in run.output
    assert "not checked here: throughput>=90%" in run.output


def test_locust_exits_1_when_an_objective_breaks(mixed_locust_run: LocustRun) -> None:
    # A quarter of the requests fail (the 'fail' class is answered 500): errors<=1% breaks.
    run = mixed_locust_run
    assert run.done.returncode == 1, run.output[-3000:]
    assert "BROKEN: errors<=1%" in run.output
    assert "FAIL: errors<=1%" in run.output


def test_users_created_together_do_not_send_together(healthy_locust_run: LocustRun) -> None:
    # The healthy run starts with ten users at 2 requests/s each, created at once. Locust's
    # constant_throughput would time them all from their creation: bursts of ten requests every
    # half second, most gaps under 10 ms. At random phases the 20 requests/s spread out: about
    # one gap in five is that short.
    assert (BURST_USERS, BURST_USER_RATE_PER_S, BURST_STEP_S) == (10, 2.0, 6.0)
    arrivals = healthy_locust_run.arrivals
    # The step's rate, not a burst's: about 20/s over the 4 s after the first 1.5 s (within
    # the first step, which lasts 6 s from the first user's creation).
    steady = [t for t in arrivals if arrivals[0] + 1.5 <= t < arrivals[0] + 5.5]
    assert 60 <= len(steady) <= 100, len(steady)
    gaps = [b - a for a, b in itertools.pairwise(steady)]
    short = sum(gap < 0.010 for gap in gaps) / len(gaps)
    assert short < 0.5, f"{short:.0%} of the gaps are under 10 ms: the users send in bursts"
    # (Bursts also broke p99<=500ms: a burst overflowed the listen backlog, whose SYN retry
    # waits a second.)
    done = healthy_locust_run.done
    assert done.returncode == 0, done.stderr[-3000:]
    assert "met: p99<=500ms" in healthy_locust_run.output
