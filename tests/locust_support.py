"""Real Locust runs for the tests, each made once per session and read by several tests.

Locust runs as a subprocess only (gevent must never be imported into the test process); every
run is bounded by its plan's steps and a subprocess timeout, and the loopback server it drives
is stopped before the fixture returns. Two runs cover what the Locust tests read:

- :func:`healthy_locust_run`: the generated Locust file of a two-class plan (browse GET,
  checkout POST) against a server that answers every request; ten users created together
  first (the arrivals are recorded, to show they do not send in bursts), then fewer users.
  ``tests/test_loadtest_locust.py`` reads its exit code, its CSVs and its arrivals.
- :func:`mixed_locust_run`: a plan of ``browse`` and ``fail`` (a quarter of the requests,
  answered 500) in two 5 s steps. ``tests/test_loadtest_locust.py`` reads its exit code (an
  objective broken), ``tests/test_verify_locust.py`` reads and judges its CSVs.

The fixtures are registered in ``tests/conftest.py`` so that every test module shares the one
run (a fixture imported into two modules would run twice).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from scaleplan.loadtest.locust import locust_command, write_locustfile
from scaleplan.loadtest.plan import Band, ClassRequest, LoadTestPlan, Step

LOCUST_TIMEOUT_S = 60
#: The objectives of the healthy run: each judged by the Locust file, or said not to be.
HEALTHY_SLOS = ("p99<=500ms", "errors<=1%", "checkout.p95<=500ms", "throughput>=90%")
#: The objectives of the mixed run, one of which its failures break.
MIXED_SLOS = ("p99<=500ms", "errors<=1%")
#: The healthy run's first step: ten users of 2 requests/s each, created at once, for 6 s.
BURST_USERS, BURST_USER_RATE_PER_S, BURST_STEP_S = 10, 2.0, 6.0


class Handler(BaseHTTPRequestHandler):
    """Answers after ~3 ms: 500 for a path under ``/fail``, else 200; notes each arrival."""

    server: Server

    def _answer(self) -> None:
        self.server.arrivals.append(time.monotonic())
        time.sleep(0.003)
        body = b"ok\n"
        self.send_response(500 if self.path.startswith("/fail") else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = _answer
    do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, handler: type[BaseHTTPRequestHandler] = Handler) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.arrivals: list[float] = []  # list.append is atomic: no lock across threads

    def handle_error(self, request: object, client_address: object) -> None:
        # Locust closes its connections when it quits, mid-answer: not a failure of the test.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler] = Handler) -> Iterator[Server]:
    """A loopback server in a thread, shut down on leaving."""
    server = Server(handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def url(server: Server) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def run_locust(plan: LoadTestPlan, host: str, folder: Path) -> subprocess.CompletedProcess[str]:
    """The plan's generated Locust file, headless against ``host``, until it stops by itself
    (or the timeout: then it is terminated and the test sees the exit code)."""
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


def step(index: int, start_s: float, duration_s: float, users: int, rate_per_s: float) -> Step:
    band = Band(mean=rate_per_s, low=0.9 * rate_per_s, high=1.1 * rate_per_s)
    return Step(
        index=index,
        start_s=start_s,
        duration_s=duration_s,
        settle_s=1.0,
        users=users,
        rate_per_s=rate_per_s,
        predicted={"throughput_per_s": band},
        meets_slos=True,
    )


def healthy_plan() -> LoadTestPlan:
    """Browse and checkout: ten users at 2 requests/s for 6 s, then four for 3 s."""
    burst_rate = BURST_USERS * BURST_USER_RATE_PER_S
    return LoadTestPlan(
        scenario="tiny.yaml",
        candidate="api",
        host="http://127.0.0.1:9",
        classes=(
            ClassRequest(name="browse", weight=3, path="/browse"),
            ClassRequest(name="checkout", weight=1, method="POST", path="/checkout"),
        ),
        user_rate_per_s=BURST_USER_RATE_PER_S,
        slos=HEALTHY_SLOS,
        limit_per_s=40.0,
        steps=(
            step(0, 0.0, BURST_STEP_S, BURST_USERS, burst_rate),
            step(1, BURST_STEP_S, 3.0, 4, 4 * BURST_USER_RATE_PER_S),
        ),
    )


def mixed_plan() -> LoadTestPlan:
    """Browse and fail (3 : 1): 2 then 4 users at 5 requests/s, 5 s each."""
    return LoadTestPlan(
        scenario="tiny-shop.yaml",
        candidate="single",
        host="http://127.0.0.1:9",
        classes=(
            ClassRequest(name="browse", weight=3, path="/browse"),
            ClassRequest(name="fail", weight=1, path="/fail"),
        ),
        user_rate_per_s=5.0,
        slos=MIXED_SLOS,
        limit_per_s=40.0,
        steps=tuple(step(i, 5.0 * i, 5.0, users, 5.0 * users) for i, users in enumerate((2, 4))),
    )


@dataclass(frozen=True)
class LocustRun:
    """What one finished run left: its process, its folder (CSVs under ``results``), the
    server's arrival times (monotonic seconds) and the wall time it took."""

    done: subprocess.CompletedProcess[str]
    folder: Path
    arrivals: tuple[float, ...]
    elapsed_s: float

    @property
    def prefix(self) -> Path:
        return self.folder / "results"

    @property
    def output(self) -> str:
        return self.done.stdout + self.done.stderr


def _locust_run(plan: LoadTestPlan, folder: Path) -> LocustRun:
    started = time.monotonic()
    with serving() as server:
        done = run_locust(plan, url(server), folder)
        arrivals = tuple(sorted(server.arrivals))
    return LocustRun(done, folder, arrivals, time.monotonic() - started)


@pytest.fixture(scope="session")
def healthy_locust_run(tmp_path_factory: pytest.TempPathFactory) -> LocustRun:
    """The healthy run (about 12 s); its tests only read it."""
    return _locust_run(healthy_plan(), tmp_path_factory.mktemp("locust-healthy"))


@pytest.fixture(scope="session")
def mixed_locust_run(tmp_path_factory: pytest.TempPathFactory) -> LocustRun:
    """The run with a quarter of its requests failing (about 13 s); its tests only read it."""
    return _locust_run(mixed_plan(), tmp_path_factory.mktemp("locust-mixed"))
