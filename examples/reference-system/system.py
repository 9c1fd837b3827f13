"""Start, use and stop the reference system (three services on loopback) — from tests or by hand.

From Python (tests load this file by path; it needs only the standard library)::

    with running(workers={"orders": 1}) as system:
        system.url            # the gateway's base URL, e.g. http://127.0.0.1:43121
        system.urls["orders"] # every service's base URL

By hand::

    python examples/reference-system/system.py up                      # gateway on :8000
    python examples/reference-system/system.py up --workers orders=1   # one worker fewer
    python examples/reference-system/system.py calibrate               # measure the overhead
    python examples/reference-system/system.py record --rate 20 --duration 30 -o traces/
    python examples/reference-system/system.py up --otlp-dir traces/    # traced; Ctrl-C ends

``running`` starts the services on free loopback ports (each binds port 0 and prints the port
it got: no race for a port), waits for every ``/health``, yields, and stops them all —
terminate, then kill after a timeout — however the body ends. The SQLite file lives in a
temporary folder removed afterwards. Each service also exits by itself when the process that
started it is gone, so a killed test run leaves no orphans.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import random
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
SERVICES = HERE / "services.py"

#: The system as built: worker threads (c) and mean own times (exponential, ms) per service.
#: architecture.yaml models exactly these numbers plus the measured overhead.
WORKERS: dict[str, int] = {"gateway": 16, "catalog": 4, "orders": 2}
MEAN_MS: dict[str, float] = {"gateway": 2.0, "catalog": 10.0, "orders": 40.0}
#: Seeds of the services' generators (each service adds its own offset to the system's seed).
SEED_OFFSET: dict[str, int] = {"gateway": 0, "catalog": 1000, "orders": 2000}
#: Start order: the backends first, so the gateway can be given their URLs.
ORDER = ("catalog", "orders", "gateway")

START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 5.0


@dataclass
class System:
    """A running reference system."""

    urls: dict[str, str]
    processes: dict[str, subprocess.Popen[str]]
    workers: dict[str, int]
    mean_ms: dict[str, float]
    folder: Path
    pids: dict[str, int] = field(default_factory=dict)
    #: Each service's OTLP JSON file when tracing is on (complete once the system stopped).
    otlp_files: dict[str, Path] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """The gateway's base URL: where a load generator points."""
        return self.urls["gateway"]

    @property
    def ports(self) -> dict[str, int]:
        return {name: int(url.rsplit(":", 1)[1]) for name, url in self.urls.items()}


def merged(defaults: Mapping[str, float], given: Mapping[str, float] | None, what: str) -> dict:
    values = dict(defaults)
    for name, value in (given or {}).items():
        if name not in defaults:
            raise ValueError(f"{what}: unknown service {name!r} (one of {', '.join(defaults)})")
        values[name] = value
    return values


@contextmanager
def running(
    workers: Mapping[str, int] | None = None,
    mean_ms: Mapping[str, float] | None = None,
    *,
    seed: int = 1,
    ports: Mapping[str, int] | None = None,
    folder: str | os.PathLike[str] | None = None,
    timeout_s: float = START_TIMEOUT_S,
    otlp_dir: str | os.PathLike[str] | None = None,
) -> Iterator[System]:
    """Run the reference system for the duration of a ``with`` block.

    ``workers`` and ``mean_ms`` override :data:`WORKERS` and :data:`MEAN_MS` per service;
    ``ports`` fixes a service's port (default: a free one); ``folder`` holds the SQLite file
    (default: a temporary folder, removed afterwards). ``otlp_dir`` turns tracing on: each
    service appends its spans to ``<otlp_dir>/<service>.otlp.jsonl`` and exports the last of
    them when it is stopped (SIGTERM), so the files are complete once the block has ended.
    """
    counts = merged(WORKERS, workers, "workers")
    means = merged(MEAN_MS, mean_ms, "mean_ms")
    fixed = merged(dict.fromkeys(WORKERS, 0), ports, "ports")
    made = tempfile.TemporaryDirectory(prefix="refsys-") if folder is None else nullcontext(folder)
    with made as chosen:
        where = Path(chosen)
        processes: dict[str, subprocess.Popen[str]] = {}
        traces = {} if otlp_dir is None else {name: otlp_path(otlp_dir, name) for name in ORDER}
        for path in traces.values():  # fresh files: the exporter appends
            path.parent.mkdir(parents=True, exist_ok=True)
            path.unlink(missing_ok=True)
        try:
            urls: dict[str, str] = {}
            for name in ORDER:
                command = [
                    sys.executable,
                    str(SERVICES),
                    name,
                    f"--port={int(fixed[name])}",
                    f"--workers={int(counts[name])}",
                    f"--mean-ms={float(means[name])}",
                    f"--seed={seed + SEED_OFFSET[name]}",
                    f"--parent={os.getpid()}",
                ]
                if name == "orders":
                    command.append(f"--db={where / 'orders.sqlite'}")
                if name == "gateway":
                    command += [f"--catalog={urls['catalog']}", f"--orders={urls['orders']}"]
                if name in traces:
                    command.append(f"--otlp-file={traces[name]}")
                process = subprocess.Popen(
                    command, stdout=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL
                )
                processes[name] = process
                urls[name] = f"http://127.0.0.1:{_read_port(name, process, timeout_s)}"
            for name in ORDER:
                wait_healthy(urls[name], timeout_s)
            yield System(
                urls=urls,
                processes=processes,
                workers=counts,
                mean_ms=means,
                folder=where,
                pids={name: process.pid for name, process in processes.items()},
                otlp_files=traces,
            )
        finally:
            stop(processes.values())


def otlp_path(folder: str | os.PathLike[str], name: str) -> Path:
    """Where service ``name`` writes its spans when tracing to ``folder``."""
    return Path(folder) / f"{name}.otlp.jsonl"


def _read_port(name: str, process: subprocess.Popen[str], timeout_s: float) -> int:
    """The port a service printed (``listening <port>``) on its first line."""
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout_s)
    line = process.stdout.readline() if ready else ""  # a service that died gives EOF: ""
    if not line.startswith("listening "):
        try:
            code = process.wait(timeout=2.0)
        except subprocess.TimeoutExpired:
            code = None
        if code is None:
            raise RuntimeError(f"{name} did not say where it listens within {timeout_s:g} s")
        raise RuntimeError(f"{name} did not start (exit code {code}; its error is printed above)")
    return int(line.split()[1])


def wait_healthy(url: str, timeout_s: float = START_TIMEOUT_S) -> None:
    """Wait until ``url``/health answers 200, or raise after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(url + "/health", timeout=2.0) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url}/health did not answer within {timeout_s} s")
        time.sleep(0.05)


def stop(processes: Iterable[subprocess.Popen[str]]) -> None:
    """Terminate every process, then kill those still alive after :data:`STOP_TIMEOUT_S`."""
    processes = list(processes)
    alive = [process for process in processes if process.poll() is None]
    for process in alive:
        process.terminate()
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for process in alive:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    for process in processes:
        if process.stdout is not None:
            process.stdout.close()


# -- measuring -----------------------------------------------------------------------------


def timed_gets(url: str, count: int) -> list[float]:
    """``count`` sequential GETs of ``url`` on one keep-alive connection: seconds each."""
    host_port, path = url.removeprefix("http://").split("/", 1)
    host, port = host_port.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10.0)
    times = []
    try:
        for _ in range(count):
            start = time.perf_counter()
            connection.request("GET", "/" + path)
            response = connection.getresponse()
            response.read()
            times.append(time.perf_counter() - start)
            if response.status != 200:
                raise RuntimeError(f"{url}: HTTP {response.status}")
    finally:
        connection.close()
    return times


def sleep_overshoot_ms(mean_ms: float, count: int = 200, seed: int = 7) -> float:
    """Mean of (slept − asked) over exponential sleeps of ``mean_ms``: the timer's overshoot."""
    draws = random.Random(seed)
    excess = []
    for _ in range(count):
        asked = draws.expovariate(1000.0 / mean_ms)
        start = time.perf_counter()
        time.sleep(asked)
        excess.append(time.perf_counter() - start - asked)
    return 1000.0 * statistics.fmean(excess)


def calibrate(count: int = 300) -> dict[str, float]:
    """The overhead each service adds to its own time, in ms, measured at low load.

    The system runs with every own time 0, and requests go one at a time (no queueing):
    ``catalog`` and ``orders`` directly (their hop: HTTP parsing, the hand-over to a worker,
    loopback; for orders also the SQLite transaction), then the gateway (its hop and its two
    calls). The gateway's own overhead is its time less the two backends'. A sleep's overshoot
    (the timer's slack) is measured apart and added to each service that sleeps.
    """
    figures: dict[str, float] = {}
    with running(mean_ms=dict.fromkeys(MEAN_MS, 0.0)) as system:
        for name in ORDER:
            url = system.urls[name] + ("/item" if name == "catalog" else "/order")
            timed_gets(url, 30)  # warm up connections, threads and SQLite's pages
            figures[f"{name}_hop_ms"] = 1000.0 * statistics.fmean(timed_gets(url, count))
    overshoot = sleep_overshoot_ms(5.0)
    figures["sleep_overshoot_ms"] = overshoot
    figures["gateway_overhead_ms"] = (
        figures["gateway_hop_ms"] - figures["catalog_hop_ms"] - figures["orders_hop_ms"] + overshoot
    )
    figures["catalog_overhead_ms"] = figures["catalog_hop_ms"] + overshoot
    figures["orders_overhead_ms"] = figures["orders_hop_ms"] + overshoot
    return figures


def model_service_times(overhead_ms: Mapping[str, float]) -> dict[str, dict[str, float]]:
    """Each service's modelled time: mean = own mean + overhead; cv = own sd / that mean.

    The own time is exponential (sd = its mean) and the overhead almost constant, so the sum
    has the own time's standard deviation around a larger mean (a gamma with that mean and cv).
    """
    times = {}
    for name, own in MEAN_MS.items():
        mean = own + overhead_ms[f"{name}_overhead_ms"]
        times[name] = {"mean_ms": round(mean, 2), "cv": round(own / mean, 3)}
    return times


def poisson_load(
    url: str,
    rate_per_s: float,
    duration_s: float,
    *,
    seed: int = 1,
    threads: int = 32,
    max_requests: int = 2_000,
    timeout_s: float = 10.0,
) -> list[tuple[float, float, int]]:
    """Open-loop load: GET ``url`` at Poisson arrival times at ``rate_per_s`` for ``duration_s``.

    The schedule is drawn up front from ``seed`` (at most ``max_requests`` arrivals); a pool
    of ``threads`` senders, each with its own keep-alive connection, sends each request at its
    time, so a slow answer does not delay the next arrival (unless every sender is busy).
    Returns (scheduled start s, response time s, HTTP status or 0 on error) per request, in
    schedule order. Bounded: the last request starts by ``duration_s`` and each times out.
    """
    draws = random.Random(seed)
    schedule: list[float] = []
    moment = draws.expovariate(rate_per_s)
    while moment < duration_s and len(schedule) < max_requests:
        schedule.append(moment)
        moment += draws.expovariate(rate_per_s)
    host_port, _, path = url.removeprefix("http://").partition("/")
    host, port = host_port.split(":")
    local = threading.local()
    results: list[tuple[float, float, int]] = [(at, math.nan, 0) for at in schedule]
    origin = time.perf_counter() + 0.05

    def send(index: int) -> None:
        delay = origin + schedule[index] - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        connection = getattr(local, "connection", None)
        if connection is None:
            connection = local.connection = http.client.HTTPConnection(
                host, int(port), timeout=timeout_s
            )
        start = time.perf_counter()
        try:
            connection.request("GET", "/" + path)
            response = connection.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            connection.close()
            local.connection = None
            status = 0
        results[index] = (schedule[index], time.perf_counter() - start, status)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        # Handing each request to the pool just before its time keeps senders free for it.
        for index, at in enumerate(schedule):
            delay = origin + at - 0.02 - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            pool.submit(send, index)
    return results


@dataclass
class Recording:
    """Traces of the system at one operating point, and what the load generator measured."""

    files: list[Path]  # OTLP JSON lines, one file per service
    results: list[tuple[float, float, int]]  # poisson_load's (start s, response s, status)
    rate_per_s: float
    duration_s: float
    workers: dict[str, int]

    def latencies_ms(self, warmup_s: float = 0.0) -> list[float]:
        """Client-side response times (ms) of the answered requests scheduled after warm-up."""
        return [
            1000.0 * took for at, took, status in self.results if at >= warmup_s and status == 200
        ]


def record(
    folder: str | os.PathLike[str],
    rate_per_s: float,
    duration_s: float,
    *,
    workers: Mapping[str, int] | None = None,
    mean_ms: Mapping[str, float] | None = None,
    seed: int = 1,
    max_requests: int = 2_000,
) -> Recording:
    """Run the system with tracing on, load it with :func:`poisson_load`, stop it.

    Bounded like ``poisson_load`` (``max_requests`` arrivals within ``duration_s``, each with
    a timeout). The services are stopped (SIGTERM: each exports its last spans) before this
    returns, so the OTLP files in ``folder`` are complete.
    """
    with running(workers, mean_ms, seed=seed, otlp_dir=folder) as system:
        results = poisson_load(
            system.url + "/order", rate_per_s, duration_s, seed=seed, max_requests=max_requests
        )
        files, counts = list(system.otlp_files.values()), dict(system.workers)
    return Recording(files, results, rate_per_s, duration_s, counts)


# -- command line --------------------------------------------------------------------------


def _pairs(text: list[str], cast: type) -> dict:
    values = {}
    for item in text:
        for pair in item.split(","):
            name, sep, value = pair.partition("=")
            if not sep:
                raise SystemExit(f"expected NAME=VALUE, got {pair!r}")
            values[name.strip()] = cast(value)
    return values


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The scaleplan reference system on loopback.")
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="run the system until Ctrl-C")
    up.add_argument("--workers", action="append", default=[], help="e.g. orders=1")
    up.add_argument("--mean-ms", action="append", default=[], help="e.g. catalog=10")
    up.add_argument("--port", type=int, default=8000, help="the gateway's port (0: free)")
    up.add_argument("--seed", type=int, default=1)
    up.add_argument("--config", help="a JSON file {workers: {...}, mean_ms: {...}, seed: N}")
    up.add_argument("--otlp-dir", help="trace to <dir>/<service>.otlp.jsonl (complete on exit)")
    cal = commands.add_parser("calibrate", help="measure the overhead at low load (JSON)")
    cal.add_argument("--count", type=int, default=300, help="requests per measurement")
    rec = commands.add_parser("record", help="trace the system under Poisson load (OTLP JSON)")
    rec.add_argument("-o", "--output", required=True, help="folder for <service>.otlp.jsonl")
    rec.add_argument("--rate", type=float, default=20.0, help="requests/s (Poisson)")
    rec.add_argument("--duration", type=float, default=30.0, help="seconds of arrivals")
    rec.add_argument("--workers", action="append", default=[], help="e.g. orders=1")
    rec.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.command == "record":
        done = record(
            args.output, args.rate, args.duration, workers=_pairs(args.workers, int), seed=args.seed
        )
        times = done.latencies_ms()
        failed = len(done.results) - len(times)
        print(
            f"{len(done.results)} requests at {args.rate:g}/s for {args.duration:g} s: mean "
            f"{statistics.fmean(times):.1f} ms, {failed} failed; traces in "
            + ", ".join(str(path) for path in done.files)
        )
        return
    if args.command == "calibrate":
        overhead = calibrate(args.count)
        print(json.dumps({"measured": overhead, "model": model_service_times(overhead)}, indent=2))
        return
    config = json.loads(Path(args.config).read_text()) if args.config else {}
    workers = {**config.get("workers", {}), **_pairs(args.workers, int)}
    means = {**config.get("mean_ms", {}), **_pairs(args.mean_ms, float)}
    seed = int(config.get("seed", args.seed))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop the services on the way out
    try:
        serve(workers, means, seed, args.port, args.otlp_dir)
    except (RuntimeError, ValueError) as error:
        sys.exit(f"error: {error}")


def serve(workers: dict, means: dict, seed: int, port: int, otlp_dir: str | None = None) -> None:
    """Run the system until Ctrl-C (or SIGTERM), printing where each service listens."""
    with running(workers, means, seed=seed, ports={"gateway": port}, otlp_dir=otlp_dir) as system:
        for name in ORDER:
            print(
                f"{name:8} {system.urls[name]}  workers={system.workers[name]}  "
                f"mean_ms={system.mean_ms[name]}"
            )
        print(f"load it at {system.url}/order; Ctrl-C stops it", flush=True)
        try:
            while all(process.poll() is None for process in system.processes.values()):
                time.sleep(0.5)
        except KeyboardInterrupt:
            return
        dead = [name for name, process in system.processes.items() if process.poll() is not None]
        raise RuntimeError(f"{', '.join(dead)} stopped unexpectedly")


if __name__ == "__main__":
    main()
