"""The reference system (examples/reference-system/) against its model, and its harness.

The services run as real processes on 127.0.0.1; the test drives them with a bounded open-loop
Poisson load of its own (``system.poisson_load``) and compares what it measures with what
``scaleplan.simulate`` predicts for ``architecture.yaml`` at the same rate.

**How agreement is judged.** The model is an approximation of a real system (its service times
are the configured sleeps plus the overhead measured at low load), so it gets a stated
tolerance, :data:`TOLERANCE` = 15% of the predicted figure, in line with what published
model-extraction work reports (predictions within 10–20% of the real system). A 10-second
measurement is itself a sample: the mean of ~120 requests whose times have a coefficient of
variation near 1 varies by about 9% from one such window to the next (the model's own short runs
show it: :func:`_short_runs`). The measured figure must therefore lie within the tolerance
*plus* the 95% prediction interval of one window of the same length, both taken from the model
— the tolerance is not widened to pass, the sampling error of the measurement is added to it.
With orders at one worker the same rule judges the *change* between the two systems, measured
under common random numbers (same arrival schedule, same service-time seeds), as the model's
paired short runs do.
"""

from __future__ import annotations

import csv
import errno
import importlib.util
import json
import math
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import yaml
from scipy.special import stdtrit

from scaleplan.engine import simulate
from scaleplan.spec import parse_spec

FOLDER = Path(__file__).resolve().parents[1] / "examples" / "reference-system"

#: The model's stated tolerance: a predicted mean (or p95) within 15% of the real one.
TOLERANCE = 0.15
RATE_PER_S = 15.0  # orders ρ ≈ 0.31 with 2 workers, ≈ 0.61 with one: a clear difference
DURATION_S = 10.0  # of arrivals; the last answers follow
WARMUP_S = 2.0  # requests scheduled before this are not measured (the system starts empty)
SEED = 1
SHORT_RUNS = 20  # the model's runs of one window each, for the window's sampling spread


def _load_system() -> ModuleType:
    spec = importlib.util.spec_from_file_location("refsys_system", FOLDER / "system.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while defining
    spec.loader.exec_module(module)
    return module


system = _load_system()


# -- the model -----------------------------------------------------------------------------


def _model(orders_workers: int) -> Any:
    data = yaml.safe_load((FOLDER / "architecture.yaml").read_text())
    data["components"]["orders"]["concurrency"] = orders_workers
    data["workload"]["warmup"] = f"{WARMUP_S:g}s"  # as the measurement leaves it out
    return parse_spec(data)


def _short_runs(spec: Any) -> tuple[list[float], list[float]]:
    """Means and p95s (ms) of the model's runs as long as one measurement, seeds 1…K."""
    requests = round(RATE_PER_S * DURATION_S)
    runs = [
        simulate(spec, seed=seed, rate_per_s=RATE_PER_S, requests=requests)
        for seed in range(1, SHORT_RUNS + 1)
    ]
    return [run.latency_ms.mean for run in runs], [run.latency_ms.p95 for run in runs]


def _prediction(spec: Any) -> Any:
    """The model's long-run figures at the test's rate, with CIs across replications."""
    return simulate(spec, seed=101, rate_per_s=RATE_PER_S, requests=10_000, replications=5)


def _allowed(predicted: float, window_sd: float) -> float:
    """Largest |measured − predicted|: the tolerance plus one window's 95% prediction interval."""
    t = float(stdtrit(SHORT_RUNS - 1, 0.975))
    return TOLERANCE * abs(predicted) + t * window_sd * math.sqrt(1 + 1 / SHORT_RUNS)


@pytest.fixture(scope="module")
def models() -> dict[int, dict[str, Any]]:
    figures: dict[int, dict[str, Any]] = {}
    for workers in (2, 1):
        spec = _model(workers)
        means, p95s = _short_runs(spec)
        figures[workers] = {"long": _prediction(spec), "means": means, "p95s": p95s}
    return figures


# -- the measurement -----------------------------------------------------------------------


def _measure(orders_workers: int) -> dict[str, float]:
    with system.running({"orders": orders_workers}, seed=SEED) as running:
        results = system.poisson_load(
            running.url + "/order", RATE_PER_S, DURATION_S, seed=SEED, max_requests=400
        )
    failed = [status for _, _, status in results if status != 200]
    assert not failed, f"{len(failed)} of {len(results)} requests failed: {failed[:5]}"
    window = np.array([1000.0 * took for at, took, _ in results if at >= WARMUP_S])
    assert len(window) >= 0.5 * RATE_PER_S * (DURATION_S - WARMUP_S)
    return {
        "mean": float(window.mean()),
        "p95": float(np.percentile(window, 95)),
        "count": len(window),
    }


@pytest.fixture(scope="module")
def measured() -> dict[int, dict[str, float]]:
    return {workers: _measure(workers) for workers in (2, 1)}


# -- tests ---------------------------------------------------------------------------------


def test_model_predicts_the_real_mean_and_p95(models: dict, measured: dict) -> None:
    model, real = models[2], measured[2]
    long = model["long"].latency_ms
    low, high = long.mean_ci95
    assert low <= long.mean <= high and high - low < 0.05 * long.mean  # a settled prediction
    for figure, predicted, window in (
        ("mean", long.mean, model["means"]),
        ("p95", long.p95, model["p95s"]),
    ):
        error = real[figure] - predicted
        allowed = _allowed(predicted, statistics.stdev(window))
        assert abs(error) <= allowed, (
            f"{figure}: measured {real[figure]:.1f} ms over {real['count']} requests, predicted "
            f"{predicted:.1f} ms; off by {error:+.1f} ms, allowed ±{allowed:.1f} ms"
        )


def test_one_worker_fewer_moves_as_the_model_predicts(models: dict, measured: dict) -> None:
    predicted = models[1]["long"].latency_ms.mean - models[2]["long"].latency_ms.mean
    # The model's paired windows (same seed with 2 and 1 workers): the change's own spread.
    pairs = zip(models[1]["means"], models[2]["means"], strict=True)
    paired = [slow - fast for slow, fast in pairs]
    change = measured[1]["mean"] - measured[2]["mean"]
    assert predicted > 0.5 * models[2]["long"].latency_ms.mean  # the model sees a clear rise
    assert change > 0, f"one worker fewer did not slow the system: {change:+.1f} ms"
    allowed = _allowed(predicted, statistics.stdev(paired))
    assert abs(change - predicted) <= allowed, (
        f"mean rose by {change:.1f} ms (from {measured[2]['mean']:.1f}), the model predicts "
        f"{predicted:.1f} ms; allowed ±{allowed:.1f} ms"
    )


def _gone(pid: int) -> bool:
    """True when ``pid`` no longer runs (a zombie waiting for its reaper counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is not a server
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            assert error.errno == errno.EADDRINUSE, error
            return False
    return True


def test_the_harness_stops_everything_when_the_body_fails() -> None:
    with (
        pytest.raises(RuntimeError, match="the test failed"),
        system.running(seed=SEED) as running,
    ):
        pids, ports = dict(running.pids), running.ports
        assert set(pids) == {"gateway", "catalog", "orders"}
        assert not any(_port_free(port) for port in ports.values())  # all listening
        assert system.timed_gets(running.url + "/order", 3)  # the chain answers
        raise RuntimeError("the test failed")
    assert all(_gone(pid) for pid in pids.values()), pids
    assert all(_port_free(port) for port in ports.values()), ports


ORPHANED = """
import json, sys, time
sys.path.insert(0, {folder!r})
import system
with system.running(seed=1, folder={db_folder!r}) as running:
    print(json.dumps(running.pids), flush=True)
    time.sleep(30)
"""


def test_services_exit_when_their_harness_is_killed(tmp_path: Path) -> None:
    """A test run killed with SIGKILL cannot stop its services: they notice and exit."""
    source = ORPHANED.format(folder=str(FOLDER), db_folder=str(tmp_path))  # pytest removes it
    harness = subprocess.Popen(
        [sys.executable, "-c", source],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert harness.stdout is not None
        pids = json.loads(harness.stdout.readline())
        assert not any(_gone(pid) for pid in pids.values())
        harness.kill()
        harness.wait(timeout=5)
        deadline = time.monotonic() + 5.0  # services check for their parent every second
        while not all(_gone(pid) for pid in pids.values()) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert all(_gone(pid) for pid in pids.values()), pids
    finally:
        if harness.poll() is None:
            harness.kill()
            harness.wait()
        if harness.stdout is not None:
            harness.stdout.close()


def test_the_harness_refuses_an_unknown_service() -> None:
    with pytest.raises(ValueError, match="unknown service 'billing'"):  # noqa: SIM117
        with system.running({"billing": 1}):
            pass


LOCUSTFILE = """
from locust import HttpUser, constant_throughput, task


class Orders(HttpUser):
    wait_time = constant_throughput(2)

    @task
    def order(self):
        self.client.get("/order", name="order")
"""


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as file:
        return list(csv.DictReader(file))


@pytest.mark.e2e  # tests/test_loadtest_e2e.py drives the system with Locust in make test
def test_locust_drives_the_system(tmp_path: Path) -> None:
    """Real Locust, headless and bounded (--run-time, a subprocess timeout), writes its CSVs."""
    locustfile = tmp_path / "locustfile.py"
    locustfile.write_text(LOCUSTFILE)
    prefix = tmp_path / "results"
    with system.running(seed=SEED) as running:
        pids = dict(running.pids)
        done = subprocess.run(
            [
                *(sys.executable, "-m", "locust", "-f", str(locustfile), "--headless"),
                *("--host", running.url, "--users", "5", "--spawn-rate", "5"),
                *("--run-time", "8s", "--stop-timeout", "2", "--csv", str(prefix)),
                "--only-summary",
            ],
            capture_output=True,
            text=True,
            timeout=40,
            cwd=tmp_path,
        )
    assert done.returncode == 0, done.stderr[-2000:]
    stats = {row["Name"]: row for row in _rows(Path(f"{prefix}_stats.csv"))}
    assert int(stats["order"]["Request Count"]) >= 20  # 5 users × 2/s × 8 s ≈ 80
    assert int(stats["order"]["Failure Count"]) == 0
    assert int(stats["Aggregated"]["Failure Count"]) == 0
    assert _rows(Path(f"{prefix}_stats_history.csv"))  # the per-second history verify reads
    assert all(_gone(pid) for pid in pids.values())  # stopped on the normal way out too


@pytest.fixture(autouse=True)
def _no_stray_services() -> Iterator[None]:
    yield
    # Every process a test starts is its harness's child, stopped by the harness.
    children = subprocess.run(
        ["pgrep", "-P", str(os.getpid()), "-f", "services.py"], capture_output=True, text=True
    )
    assert not children.stdout.strip(), f"services left running: {children.stdout}"
