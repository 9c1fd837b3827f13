"""Calibrate → predict → measure on the real reference system: the model's errors, and what
the tracing costs.

Two experiments (examples/reference-system/roundtrip.py), each recording operating point A
with OpenTelemetry traces, running ``scaleplan calibrate`` on them, predicting point B with
the calibrated model and measuring B on a fresh system (other seeds):

- **1.5× the load**: A = 20 requests/s, B = 30 requests/s (orders' two workers at ρ ≈ 0.6);
- **one worker fewer**: A = 15 requests/s, B = 15 requests/s with orders at one worker
  (ρ ≈ 0.63 instead of 0.31).

Prints, per point, the measured and predicted mean and p95 and the relative errors against
the issue's targets (mean within 10%, p95 within 15% of the measurement), and then the
tracing's cost: each service's CPU time per request in steady state (read from /proc between
the warm-up and the end of the load) and the mean response time, with tracing off and on.

Run: ``.venv/bin/python benchmarks/bench_calibrate.py [--duration 60]`` (about 6 minutes at
the default 60 s per point). Exits 1 when an error exceeds its target, so a regression shows.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
FOLDER = ROOT / "examples" / "reference-system"
TARGETS = {"mean": 0.10, "p95": 0.15}


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", FOLDER / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


roundtrip = _load("roundtrip")
system = roundtrip.system


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (/proc/PID/stat, clock ticks of 1/100 s)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100.0


def tracing_cost(rate_per_s: float, duration_s: float, traced: bool) -> dict[str, float]:
    """CPU ms per request per service in steady state, and the mean response time (ms)."""
    marks: dict[str, dict[str, float]] = {}
    with (
        tempfile.TemporaryDirectory(prefix="bench-trace-") as folder,
        system.running(seed=2, otlp_dir=folder if traced else None) as running,
    ):

        def mark(label: str, delay_s: float) -> None:
            time.sleep(delay_s)
            marks[label] = {name: _cpu_s(pid) for name, pid in running.pids.items()}

        start = threading.Thread(target=mark, args=("start", roundtrip.WARMUP_S + 0.05))
        start.start()
        results = system.poisson_load(
            running.url + "/order", rate_per_s, duration_s, seed=2, max_requests=10_000
        )
        start.join()
        mark("end", 0.0)
    counted = sum(1 for at, _, _ in results if at >= roundtrip.WARMUP_S)
    figures = {
        f"{name} CPU ms/request": 1000.0 * (marks["end"][name] - marks["start"][name]) / counted
        for name in system.ORDER
    }
    answered = [1000.0 * took for at, took, status in results if at >= 2.0 and status == 200]
    figures["mean response ms"] = statistics.fmean(answered)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds at each point")
    args = parser.parse_args()
    missed = []
    experiments = (
        {"rate_a": 20.0, "rate_b": 30.0},
        {"rate_a": 15.0, "rate_b": 15.0, "workers_b": {"orders": 1}},
    )
    for experiment in experiments:
        began = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="bench-calibrate-") as folder:
            result = roundtrip.roundtrip(
                Path(folder), duration_a=args.duration, duration_b=args.duration, **experiment
            )
        print(roundtrip.table(result))
        print(f"({time.perf_counter() - began:.0f} s)\n")
        for figure, target in TARGETS.items():
            if abs(result.predicted.error(figure)) > target:
                missed.append(f"B{result.label} {figure} {result.predicted.error(figure):+.1%}")
    print("| tracing at 30 requests/s | " + " | ".join(system.ORDER) + " | mean response |")
    print("|---|---|---|---|---|")
    for traced in (False, True):
        cost = tracing_cost(30.0, min(args.duration, 30.0), traced)
        cpu = " | ".join(f"{cost[f'{name} CPU ms/request']:.2f} ms" for name in system.ORDER)
        print(f"| {'on' if traced else 'off'} | {cpu} | {cost['mean response ms']:.1f} ms |")
    if missed:
        print("beyond the targets: " + "; ".join(missed))
        sys.exit(1)


if __name__ == "__main__":
    main()
