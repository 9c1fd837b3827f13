"""Calibrate → predict → measure: the model learnt from traces, checked at another load.

    python examples/reference-system/roundtrip.py                       # 20 → 30 requests/s
    python examples/reference-system/roundtrip.py --duration 60 --json out.json

1. **Record** operating point A: the reference system with tracing on (``system.record``),
   Poisson load at ``rate_a`` for ``duration_a`` seconds; the services' OTLP JSON files.
2. **Calibrate**: ``scaleplan calibrate <the files> -o spec.yaml --concurrency S=N ...``
   derives the call graph and each service's own time from the spans (leaving out each
   request's wait for a worker, which the worker spans mark). The pool sizes are
   configuration, not telemetry (spans show how many requests overlapped, not how many
   threads could have served them), so they come from the deployment (``system.WORKERS``),
   as an operator would give them.
3. **Predict** operating point B (``rate_b``, e.g. 1.5× A) with ``scaleplan.simulate`` on the
   calibrated spec: the long-run mean and p95, and the spread of one measurement window of
   B's length (the model's own short runs).
4. **Measure** B for real (a fresh system, other seeds: new arrivals and new service-time
   draws, so B's sample shares nothing with A's) and compare, client-side response times after
   the warm-up.

The test (tests/test_calibrate_e2e.py) and the benchmark (benchmarks/bench_calibrate.py) run
this; by hand it prints the errors at both points.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import system  # noqa: E402 (this folder is not a package)

from scaleplan.engine import simulate  # noqa: E402
from scaleplan.spec import parse_spec  # noqa: E402

#: Requests scheduled before this are not compared (each run starts from an empty system).
WARMUP_S = 2.0
#: The model's short runs, one measurement window each: the spread of a window's mean and p95.
WINDOWS = 20


@dataclass
class Point:
    """One operating point: what the model predicts and what the system did."""

    rate_per_s: float
    duration_s: float
    measured_mean_ms: float
    measured_p95_ms: float
    requests: int  # measured (after warm-up, answered)
    failed: int
    predicted_mean_ms: float
    predicted_p95_ms: float
    predicted_mean_ci95: tuple[float, float]
    window_mean_sd_ms: float  # the sd of one window's mean under the model
    window_p95_sd_ms: float

    def error(self, figure: str) -> float:
        """(predicted − measured) / measured for ``mean`` or ``p95``."""
        predicted = getattr(self, f"predicted_{figure}_ms")
        measured = getattr(self, f"measured_{figure}_ms")
        return (predicted - measured) / measured


@dataclass
class Roundtrip:
    calibrated_spec: Path
    calibrated: dict[str, Any]  # the spec as calibrate wrote it (before the pool sizes)
    recorded: Point  # A: the point the traces come from (in-sample)
    predicted: Point  # B: the point the model had never seen
    files: list[Path] = field(default_factory=list)
    recorded_requests: int = 0  # requests sent at A (all of them, warm-up included)
    label: str = ""  # what differs at B besides the rate, e.g. ", orders c=1"


def calibrate_files(
    files: list[Path], output: Path, workers: dict[str, int], report: Path | None = None
) -> Path:
    """``scaleplan calibrate FILES -o output --concurrency S=N ...`` (errors raised)."""
    command = [sys.executable, "-m", "scaleplan", "calibrate", *map(str, files), "-o", str(output)]
    command += [f"--concurrency={name}={count}" for name, count in workers.items()]
    if report is not None:
        command.append(f"--report={report}")
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"scaleplan calibrate failed ({done.returncode}): {done.stderr}")
    return output


def calibrated_model(spec_path: Path, workers: dict[str, int] | None = None) -> Any:
    """The calibrated spec, measured after the comparison's warm-up (as the measurement);
    ``workers`` changes pool sizes (a what-if: one worker fewer)."""
    data = yaml.safe_load(spec_path.read_text())
    data["workload"]["warmup"] = f"{WARMUP_S:g}s"
    for name, count in (workers or {}).items():
        data["components"][name]["concurrency"] = count
    return parse_spec(data, source=str(spec_path), base_dir=str(spec_path.parent))


def point(spec: Any, recording: system.Recording, *, seed: int) -> Point:
    """The model's figures at the recording's rate beside the recording's own."""
    answered = np.array(recording.latencies_ms(WARMUP_S))
    scheduled = sum(1 for at, _, _ in recording.results if at >= WARMUP_S)
    rate = recording.rate_per_s
    long_run = simulate(spec, seed=seed, rate_per_s=rate, requests=20_000, replications=5)
    low, high = long_run.latency_ms.mean_ci95
    requests = round(rate * recording.duration_s)
    windows = [
        simulate(spec, seed=seed + k, rate_per_s=rate, requests=requests)
        for k in range(1, WINDOWS + 1)
    ]
    return Point(
        rate_per_s=rate,
        duration_s=recording.duration_s,
        measured_mean_ms=float(answered.mean()),
        measured_p95_ms=float(np.percentile(answered, 95)),
        requests=len(answered),
        failed=scheduled - len(answered),
        predicted_mean_ms=float(long_run.latency_ms.mean),
        predicted_p95_ms=float(long_run.latency_ms.p95),
        predicted_mean_ci95=(float(low), float(high)),
        window_mean_sd_ms=statistics.stdev(w.latency_ms.mean for w in windows),
        window_p95_sd_ms=statistics.stdev(w.latency_ms.p95 for w in windows),
    )


def roundtrip(
    folder: Path,
    *,
    rate_a: float = 20.0,
    rate_b: float = 30.0,
    duration_a: float = 30.0,
    duration_b: float = 30.0,
    seed_a: int = 1,
    seed_b: int = 2,
    workers_b: dict[str, int] | None = None,
) -> Roundtrip:
    """Record A, calibrate, predict and measure B (``rate_b``; ``workers_b`` changes pools)."""
    folder.mkdir(parents=True, exist_ok=True)
    limit = 4 * round(max(rate_a * duration_a, rate_b * duration_b)) + 100
    at_a = system.record(folder / "a", rate_a, duration_a, seed=seed_a, max_requests=limit)
    spec_path = calibrate_files(
        at_a.files, folder / "calibrated.yaml", dict(system.WORKERS), folder / "fit-report.md"
    )
    calibrated = yaml.safe_load(spec_path.read_text())
    spec = calibrated_model(spec_path)
    at_b = system.record(
        folder / "b", rate_b, duration_b, workers=workers_b, seed=seed_b, max_requests=limit
    )
    return Roundtrip(
        calibrated_spec=spec_path,
        calibrated=calibrated,
        recorded=point(spec, at_a, seed=101),
        predicted=point(calibrated_model(spec_path, workers_b), at_b, seed=201),
        files=at_a.files,
        recorded_requests=len(at_a.results),
        label="".join(f", {name} c={count}" for name, count in (workers_b or {}).items()),
    )


def table(result: Roundtrip) -> str:
    lines = [
        "| point | rate/s | measured mean / p95 (ms) | predicted mean / p95 (ms) | error mean | "
        "error p95 |",
        "|---|---|---|---|---|---|",
    ]
    for label, at in (("A (recorded)", result.recorded), ("B (predicted)", result.predicted)):
        label += result.label if at is result.predicted else ""
        lines.append(
            f"| {label} | {at.rate_per_s:g} | {at.measured_mean_ms:.1f} / "
            f"{at.measured_p95_ms:.1f} ({at.requests} requests) | {at.predicted_mean_ms:.1f} / "
            f"{at.predicted_p95_ms:.1f} | {at.error('mean'):+.1%} | {at.error('p95'):+.1%} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rate", type=float, default=20.0, help="A's requests/s")
    parser.add_argument("--factor", type=float, default=1.5, help="B's rate = factor × A's")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds at each point")
    parser.add_argument("--workers-b", action="append", default=[], help="at B, e.g. orders=1")
    parser.add_argument("-o", "--output", default="", help="folder for traces and the spec")
    parser.add_argument("--json", default="", help="write the figures here as JSON")
    args = parser.parse_args(argv)
    if not (args.rate > 0 and args.factor > 0 and args.duration > WARMUP_S):
        parser.error("--rate and --factor must be positive, --duration above the warm-up")
    import tempfile

    with tempfile.TemporaryDirectory(prefix="roundtrip-") as scratch:
        result = roundtrip(
            Path(args.output or scratch),
            rate_a=args.rate,
            rate_b=args.rate * args.factor,
            duration_a=args.duration,
            duration_b=args.duration,
            workers_b=system._pairs(args.workers_b, int) or None,
        )
    print(table(result))
    if args.json:
        figures = {"recorded": asdict(result.recorded), "predicted": asdict(result.predicted)}
        Path(args.json).write_text(json.dumps(figures, indent=2, allow_nan=False))
    if math.isnan(result.predicted.measured_mean_ms):
        sys.exit("no request was answered at B")


if __name__ == "__main__":
    main()
