"""Locust's CSV output: read from a real (short, bounded, loopback) Locust run and from files."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from _verify_data import LOADS, make_plan, write_locust

from scaleplan.errors import SpecError
from scaleplan.loadtest import Band, ClassRequest, LoadTestPlan, Step
from scaleplan.verify import ALL, judge, read_results

LOCUSTFILE = """
from locust import HttpUser, LoadTestShape, constant_throughput, task

class Shopper(HttpUser):
    wait_time = constant_throughput(5)

    @task(3)
    def browse(self):
        self.client.get("/browse", name="browse")

    @task(1)
    def fail(self):
        self.client.get("/fail", name="fail")

class Steps(LoadTestShape):
    def tick(self):
        elapsed = self.get_run_time()
        if elapsed < 5:
            return (2, 10)
        if elapsed < 10:
            return (4, 10)
        return None
"""


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        time.sleep(0.005)
        self.send_response(500 if self.path == "/fail" else 200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def locust_run(server: str, tmp_path: Path) -> Path:
    """Two 5 s steps of Locust (2 then 4 users at 5 requests/s each), at most ~25 s."""
    (tmp_path / "locustfile.py").write_text(LOCUSTFILE)
    command = [sys.executable, "-m", "locust", "-f", "locustfile.py", "--headless"]
    command += ["--host", server, "--csv", "run", "--csv-full-history", "--only-summary"]
    command += ["--run-time", "20s", "--stop-timeout", "2"]
    process = subprocess.Popen(
        command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        _, errors = process.communicate(timeout=25)
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    assert (tmp_path / "run_stats_history.csv").is_file(), errors[-2000:]
    return tmp_path / "run"


def _plan(mean: Band) -> LoadTestPlan:
    """A plan of the run above: 10 then 20 requests/s, a quarter of them failing."""
    return LoadTestPlan(
        scenario="tiny-shop.yaml",
        candidate="single",
        host="http://127.0.0.1",
        classes=(
            ClassRequest(name="browse", weight=3, path="/browse"),
            ClassRequest(name="fail", weight=1, path="/fail"),
        ),
        user_rate_per_s=5.0,
        steps=tuple(
            Step(
                index=index,
                start_s=5.0 * index,
                duration_s=5.0,
                settle_s=1.0,
                users=users,
                rate_per_s=5.0 * users,
                predicted={
                    "throughput_per_s": Band(mean=5.0 * users, low=4.0 * users, high=6.0 * users),
                    "mean_ms": mean,
                    "error_rate": Band(mean=0.25, low=0.05, high=0.45),
                },
                busiest_utilization=0.1,
                meets_slos=True,
            )
            for index, users in enumerate((2, 4))
        ),
    )


def test_a_real_locust_run_is_read_and_judged(locust_run: Path) -> None:
    results = read_results(locust_run.with_name("run_stats.csv"))
    assert results.tool == "locust"
    assert set(results.names) == {"browse", "fail"}
    assert 8 <= results.span_s <= 14
    second = results.window(6, 10)
    assert second is not None and second.requests > 0
    fail = results.window(6, 10, "fail")
    assert fail is not None and fail.requests == fail.failures > 0
    browse = results.window(6, 10, "browse")
    assert browse is not None and browse.failures == 0
    assert browse.requests + fail.requests == second.requests
    # Wide margins only: a loopback server answering in ~5 ms, 10 then 20 requests/s offered.
    assert judge(_plan(Band(mean=50.0, low=1.0, high=500.0)), results).verdict == "confirmed"
    slow = judge(_plan(Band(mean=2000.0, low=1800.0, high=2200.0)), results)
    assert slow.verdict == "refuted"
    assert slow.causes[0].startswith("the system is faster than modelled")
    assert any("HTTPError" in message for message in results.failure_messages)  # type: ignore[attr-defined]


HEADER = "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,95%,99%"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", r"run_stats_history\.csv: is empty"),
        (HEADER + "\n", r"run_stats_history\.csv:1: column 'Total Request Count': missing"),
    ],
)
def test_bad_history_files_are_named(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "run_stats_history.csv").write_text(content)
    with pytest.raises(SpecError, match=message):
        read_results(tmp_path / "run")


def test_a_bad_value_is_named_with_its_line(tmp_path: Path) -> None:
    path = write_locust(tmp_path / "run", LOADS)
    lines = path.read_text().splitlines()
    lines[5] = lines[5].rsplit(",", 7)[0] + ",many,0,0,0.0,0,0,0"  # Total Request Count
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(SpecError, match=r"run_stats_history\.csv:6: 'many' is not a number"):
        read_results(tmp_path / "run")


def test_a_run_without_requests_is_refused(tmp_path: Path) -> None:
    path = write_locust(tmp_path / "run", LOADS)
    path.write_text("\n".join(path.read_text().splitlines()[:2]) + "\n")
    with pytest.raises(SpecError, match="holds no requests"):
        read_results(tmp_path / "run")


def test_only_the_stats_file_names_the_missing_history(tmp_path: Path) -> None:
    (tmp_path / "run_stats.csv").write_text("Type,Name\n")
    with pytest.raises(SpecError, match=r"run_stats_history\.csv: no such file"):
        read_results(tmp_path / "run_stats.csv")


def test_the_aggregated_series_is_all_requests(tmp_path: Path) -> None:
    write_locust(tmp_path / "run", LOADS)
    results = read_results(tmp_path / "run")
    everything, default = results.window(5, 20), results.window(5, 20, "default")
    assert everything is not None and everything == default
    assert results.window(5, 20, ALL) == everything
    assert judge(make_plan(), results).confirmed


def test_statistics_reset_mid_run_are_refused_with_the_line(tmp_path: Path) -> None:
    path = write_locust(tmp_path / "run", LOADS)
    lines = path.read_text().splitlines()
    lines.insert(8, lines[2])  # an early row again: counts fall back
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(SpecError, match=r"run_stats_history\.csv:9: default's row goes back"):
        read_results(tmp_path / "run")
