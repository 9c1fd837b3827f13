"""Engine speed against a hand-written SimPy model of the same system, and memory growth.

Run: ``.venv/bin/python benchmarks/bench_engine.py [--requests 200000] [--repeats 5]``.

Both sides are measured in this one process, interleaved, so machine noise hits both alike:
(a) M/M/c with c = 4 at ρ = 0.8 and (b) a three-station tandem with c = (2, 4, 1) at ρ = 0.7
each. The hand-written model is what a competent SimPy user writes: ``simpy.Resource``, one
process per customer, ``random.expovariate`` and a list of latencies. The ratio is scaleplan's
requests/s over the hand-written model's, each the median of ``--repeats`` runs timed in CPU
seconds of this process (``time.process_time``: both sides run on one thread, and time spent
waiting for a core shared with other programs is not the engine's); the target is ≥ 1.5.
``benchmarks/events_per_request.py`` counts the SimPy events behind it.

Memory: peak RSS of a fresh process simulating 100k and then 1M requests of (a); the engine
keeps no per-request data, so the difference must stay under 20 MB.
Exit status 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import simpy

from scaleplan.engine import simulate
from scaleplan.spec import ArchitectureSpec, parse_spec

MU = 100.0  # services per second per server (mean 10 ms)
TARGET_RATIO = 1.5  # scaleplan's requests/s over the hand-written model's, on both systems


def mmc_spec(requests: int, c: int = 4, rho: float = 0.8) -> ArchitectureSpec:
    return parse_spec(
        {
            "name": "bench-mmc",
            "workload": {"rate_per_s": rho * c * MU, "requests": requests},
            "entry": "s",
            "components": {
                "s": {
                    "kind": "service",
                    "concurrency": c,
                    "service_time": {"dist": "exponential", "mean_ms": 1000 / MU},
                }
            },
        }
    )


def tandem_spec(
    requests: int, servers: tuple[int, ...] = (2, 4, 1), rho: float = 0.7
) -> ArchitectureSpec:
    rate = 100.0
    components = {}
    names = [f"s{i}" for i in range(len(servers))]
    for index, (name, c) in enumerate(zip(names, servers, strict=True)):
        mean_ms = 1000 * rho * c / rate
        calls = [{"to": names[index + 1]}] if index + 1 < len(names) else []
        components[name] = {
            "kind": "service",
            "concurrency": c,
            "hold_during_calls": False,
            "service_time": {"dist": "exponential", "mean_ms": mean_ms},
            "calls": calls,
        }
    return parse_spec(
        {
            "name": "bench-tandem",
            "workload": {"rate_per_s": rate, "requests": requests},
            "entry": names[0],
            "components": components,
        }
    )


def handwritten(requests: int, rate: float, stations: list[tuple[int, float]], seed: int) -> float:
    """A plain SimPy model: Poisson arrivals through FIFO multi-server stations in series."""
    rng = random.Random(seed)
    env = simpy.Environment()
    resources = [(simpy.Resource(env, capacity=c), mean_s) for c, mean_s in stations]
    latencies: list[float] = []

    def customer(env: simpy.Environment):  # type: ignore[no-untyped-def]
        arrived = env.now
        for resource, mean_s in resources:
            with resource.request() as slot:
                yield slot
                yield env.timeout(rng.expovariate(1.0 / mean_s))
        latencies.append(env.now - arrived)

    def source(env: simpy.Environment):  # type: ignore[no-untyped-def]
        for _ in range(requests):
            yield env.timeout(rng.expovariate(rate))
            env.process(customer(env))

    env.process(source(env))
    env.run()
    return statistics.fmean(latencies)


def timed(run: Callable[[], object]) -> float:
    """CPU seconds of this process spent in ``run()``."""
    started = time.process_time()
    run()
    return time.process_time() - started


def speed(requests: int, repeats: int) -> dict[str, dict[str, float]]:
    mmc = mmc_spec(requests)
    tandem = tandem_spec(requests)
    tandem_stations = [
        (c.concurrency, c.service_time.mean_s)
        for c in tandem.components.values()  # type: ignore[union-attr]
    ]
    cases = {
        "mmc_c4_rho0.8": (
            lambda seed: simulate(mmc, seed=seed),
            lambda seed: handwritten(requests, 320.0, [(4, 1 / MU)], seed),
        ),
        "tandem_c2-4-1_rho0.7": (
            lambda seed: simulate(tandem, seed=seed),
            lambda seed: handwritten(requests, 100.0, tandem_stations, seed),
        ),
    }
    report: dict[str, dict[str, float]] = {}
    for name, (ours, theirs) in cases.items():
        our_times, their_times = [], []
        for repeat in range(repeats):  # interleaved: noise hits both sides alike
            our_times.append(timed(lambda: ours(repeat + 1)))  # noqa: B023
            their_times.append(timed(lambda: theirs(repeat + 1)))  # noqa: B023
        ours_rate = requests / statistics.median(our_times)
        theirs_rate = requests / statistics.median(their_times)
        report[name] = {
            "scaleplan_requests_per_s": ours_rate,
            "handwritten_requests_per_s": theirs_rate,
            "ratio": ours_rate / theirs_rate,
        }
    return report


def peak_rss_mb(requests: int) -> float:
    """Peak RSS of a fresh interpreter that simulates ``requests`` of case (a)."""
    code = (
        "import resource, sys\n"
        "sys.path.insert(0, 'benchmarks')\n"
        "from bench_engine import mmc_spec\n"
        "from scaleplan.engine import simulate\n"
        f"simulate(mmc_spec({requests}), seed=1)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    return float(output.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--memory-requests", type=int, nargs=2, default=(100_000, 1_000_000))
    args = parser.parse_args()

    report: dict[str, object] = {"speed": speed(args.requests, args.repeats)}
    small, large = args.memory_requests
    rss_small, rss_large = peak_rss_mb(small), peak_rss_mb(large)
    report["memory"] = {
        f"peak_rss_mb_{small}": rss_small,
        f"peak_rss_mb_{large}": rss_large,
        "difference_mb": rss_large - rss_small,
    }
    print(json.dumps(report, indent=2))
    failed = [
        name
        for name, figures in report["speed"].items()  # type: ignore[attr-defined]
        if figures["ratio"] < TARGET_RATIO
    ]
    if rss_large - rss_small >= 20:
        failed.append("memory")
    for name in failed:
        print(f"target missed: {name}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
