"""The rendered Locust file: self-contained, and run by real Locust against a loopback server.

Locust runs as a subprocess only (gevent must never be imported into the test process); every
run is bounded by the plan's steps (8 s) and a subprocess timeout, and every server is stopped
in its fixture's teardown.
"""

from __future__ import annotations

import ast
import csv
import itertools
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from scaleplan.loadtest.locust import locust_command, locustfile, task_weights, write_locustfile
from scaleplan.loadtest.plan import Band, ClassRequest, LoadTestPlan, Step

LOCUST_TIMEOUT_S = 60


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


class _Handler(BaseHTTPRequestHandler):
    status = 200

    def _answer(self) -> None:
        time.sleep(0.003)
        body = b"ok\n"
        self.send_response(self.status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = _answer
    do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Failing(_Handler):
    status = 500


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        # Locust closes its connections when it quits, mid-answer: not a failure of the test.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


def _serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def healthy() -> Iterator[str]:
    yield from _serve(_Handler)


@pytest.fixture
def failing() -> Iterator[str]:
    yield from _serve(_Failing)


def _run_locust(plan: LoadTestPlan, host: str, folder: Path) -> subprocess.CompletedProcess[str]:
    path = write_locustfile(plan, folder / "locustfile.py")
    command = locust_command(path, host, folder / "results")
    command[0:1] = [sys.executable, "-m", "locust"]
    env = {**os.environ, "PYTHONPATH": ""}
    process = subprocess.Popen(
        command,
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = process.communicate(timeout=LOCUST_TIMEOUT_S)
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    return subprocess.CompletedProcess(command, process.returncode, out, err)


def test_locust_walks_the_steps_stops_by_itself_and_passes(healthy: str, tmp_path: Path) -> None:
    started = time.monotonic()
    slos = ("p99<=500ms", "errors<=1%", "checkout.p95<=500ms", "throughput>=90%")
    done = _run_locust(_plan(slos), healthy, tmp_path)
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr[-3000:]
    assert elapsed < LOCUST_TIMEOUT_S
    assert (tmp_path / "results_stats_history.csv").is_file()
    with (tmp_path / "results_stats.csv").open(newline="") as file:
        rows = {(row["Type"], row["Name"]): row for row in csv.DictReader(file)}
    assert int(rows[("GET", "browse")]["Request Count"]) > 0
    assert int(rows[("POST", "checkout")]["Request Count"]) > 0
    assert int(rows[("", "Aggregated")]["Failure Count"]) == 0
    output = done.stdout + done.stderr
    assert "met: errors<=1%" in output
    assert "met: checkout.p95<=500ms" in output
    assert "not checked here: throughput>=90%" in output


def test_locust_exits_1_when_an_objective_breaks(failing: str, tmp_path: Path) -> None:
    done = _run_locust(_plan(), failing, tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output[-3000:]
    assert "BROKEN: errors<=1%" in output
    assert "FAIL: errors<=1%" in output


class _Recording(_Handler):
    """Answers at once and notes when each request arrived."""

    arrivals: ClassVar[list[float]] = []

    def _answer(self) -> None:
        _Recording.arrivals.append(time.monotonic())
        super()._answer()

    do_GET = _answer
    do_POST = _answer


def test_users_created_together_do_not_send_together(tmp_path: Path) -> None:
    # Ten users at 2 requests/s each, created at once. Locust's constant_throughput would time
    # them all from their creation: bursts of ten requests every half second, most gaps under
    # 10 ms. At random phases the 20 requests/s spread out: about one gap in five is that short.
    band = Band(mean=20.0, low=19.0, high=21.0)
    plan = _plan().model_copy(
        update={
            "user_rate_per_s": 2.0,
            "steps": (
                Step(
                    index=0,
                    start_s=0.0,
                    duration_s=6.0,
                    settle_s=1.0,
                    users=10,
                    rate_per_s=20.0,
                    predicted={"throughput_per_s": band},
                    meets_slos=True,
                ),
            ),
        }
    )
    _Recording.arrivals = []
    for host in _serve(_Recording):
        done = _run_locust(plan, host, tmp_path)
    arrivals = sorted(_Recording.arrivals)
    # The step's rate, not a burst's: about 20/s over the 5 s after the first second.
    steady = [t for t in arrivals if arrivals[0] + 1.5 <= t < arrivals[0] + 5.5]
    assert 60 <= len(steady) <= 100, len(steady)
    gaps = [b - a for a, b in itertools.pairwise(steady)]
    short = sum(gap < 0.010 for gap in gaps) / len(gaps)
    assert short < 0.5, f"{short:.0%} of the gaps are under 10 ms: the users send in bursts"
    # (Bursts also broke p99<=500ms: a burst overflowed the listen backlog, whose SYN retry
    # waits a second.)
    assert done.returncode == 0, done.stderr[-3000:]
