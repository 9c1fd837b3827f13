"""Wall time of ``compare`` and ``decide`` on the bundled scenario: today's configuration against
the new defaults, measured in the same run, interleaved.

Run: ``.venv/bin/python benchmarks/bench_decide.py [--repeats N]``.

- **baseline** (today's configuration): ``workers=1`` — every run in one process — and the
  scenario's fixed run budget (:data:`BASELINE_SETTINGS`).
- **new**: the defaults — every available core, and whatever the defaults decide about run
  lengths.

``compare`` runs in this process (the comparison alone, as the API and ``scaleplan compare``
run it); ``decide`` runs as the command, ``scaleplan decide`` in a new process each time, so its
wall time holds what a user waits for: the start-up, papermill and its kernel, the record's
cells and the HTML export. Baseline and new alternate, ``N`` times each (default 3); the medians
are compared.

Targets (issue 13, on 2 cores): ``decide`` from 15.6 s to 5 s, a ratio of at least
:data:`DECIDE_RATIO`; ``compare`` to 3 s, a ratio of at least :data:`COMPARE_RATIO` against
its 13 s inside today's record. The ratios are what this benchmark asserts (exit status 1 when
one is missed): they hold on a busy machine where absolute times do not. The absolute times
are printed beside their targets.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scaleplan.experiments import CompareSettings, compare
from scaleplan.parallel import available_cores
from scaleplan.spec import load_scenario

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "data" / "scenarios" / "online-shop.yaml"
#: Today's run lengths: the scenario's own fixed budget (replications, requests, pull budget).
BASELINE_SETTINGS = CompareSettings()
#: 15.6 s → 5 s.
DECIDE_RATIO = 3.0
DECIDE_TARGET_S = 5.0
#: 13 s (the comparison inside today's record) → 3 s.
COMPARE_RATIO = 4.0
COMPARE_TARGET_S = 3.0


def time_compare(workers: int | None, settings: CompareSettings) -> tuple[float, int]:
    scenario = load_scenario(SCENARIO)
    started = time.perf_counter()
    result = compare(scenario, settings, workers=workers)
    return time.perf_counter() - started, result.simulated_requests


def time_decide(workers: int | None, out: Path) -> float:
    command = [sys.executable, "-m", "scaleplan", "decide", str(SCENARIO), "-o", str(out)]
    if workers is not None:
        command += ["--workers", str(workers)]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=os.environ)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"decide failed ({' '.join(command)}):\n{done.stderr}")
    return wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    repeats = parser.parse_args().repeats
    walls: dict[str, list[float]] = {
        "compare_baseline": [],
        "compare_new": [],
        "decide_baseline": [],
        "decide_new": [],
    }
    requests: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="bench-decide-") as folder:
        out = Path(folder)
        for _ in range(repeats):
            wall, requests["compare_baseline"] = time_compare(1, BASELINE_SETTINGS)
            walls["compare_baseline"].append(wall)
            wall, requests["compare_new"] = time_compare(None, CompareSettings())
            walls["compare_new"].append(wall)
            walls["decide_baseline"].append(time_decide(1, out / "baseline"))
            walls["decide_new"].append(time_decide(None, out / "new"))
    median = {name: statistics.median(values) for name, values in walls.items()}
    report = {
        "cores": available_cores(),
        "repeats": repeats,
        "wall_s": {name: [round(v, 2) for v in values] for name, values in walls.items()},
        "median_s": {name: round(value, 2) for name, value in median.items()},
        "simulated_requests": requests,
        "compare_ratio": round(median["compare_baseline"] / median["compare_new"], 2),
        "decide_ratio": round(median["decide_baseline"] / median["decide_new"], 2),
    }
    print(json.dumps(report, indent=2))
    missed = []
    for verb, ratio, target_ratio, target_s in (
        ("compare", report["compare_ratio"], COMPARE_RATIO, COMPARE_TARGET_S),
        ("decide", report["decide_ratio"], DECIDE_RATIO, DECIDE_TARGET_S),
    ):
        absolute = median[f"{verb}_new"]
        print(
            f"{verb}: {median[f'{verb}_baseline']:.2f} s → {absolute:.2f} s "
            f"(×{ratio:.2f}, target ×{target_ratio:g}; absolute target {target_s:g} s "
            f"{'met' if absolute <= target_s else 'not met'})"
        )
        if ratio < target_ratio:
            missed.append(f"{verb} is ×{ratio:.2f} faster, the target is ×{target_ratio:g}")
    for problem in missed:
        print(f"target missed: {problem}", file=sys.stderr)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
