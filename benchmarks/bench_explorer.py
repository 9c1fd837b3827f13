"""How long the explorer takes to answer a slider change, against the simulation it runs.

Run: ``.venv/bin/python benchmarks/bench_explorer.py``.

For each bundled example, six changes of the arrival rate go through the explorer (the same
path as releasing a slider: rebuild the spec, closed-form estimate, simulation, redraw of every
figure), and the same six simulations are run bare with ``simulate`` in this process, as the
baseline measured in the same run. Printed: the median seconds of each, the explorer's overhead
ratio and the median answer against the target. The target is issue 13's: the explorer answers
in at most 0.3 s median (issue 8 asked for about a second); exit status 1 if a median exceeds it.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

from scaleplan.engine import simulate
from scaleplan.widgets import Explorer

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ("lb-cluster", "monolith", "three-tier")
FACTORS = (1.1, 1.2, 0.9, 1.3, 0.8, 1.0)
#: Issue 13: the explorer's answer within 0.3 s median.
TARGET_S = 0.3


def measure(name: str) -> dict[str, float]:
    explorer = Explorer(ROOT / "data" / "architectures" / f"{name}.yaml")
    rate = explorer.controls["workload.rate_per_s"]
    base = rate.value
    bare: list[float] = []
    for factor in FACTORS:
        rate.value = base * factor  # the explorer re-simulates and redraws
        spec = explorer.spec.with_changes({"workload.rate_per_s": base * factor})
        started = time.perf_counter()
        simulate(spec, seed=explorer.seed, requests=explorer.requests)
        bare.append(time.perf_counter() - started)
    if explorer.last_error is not None:
        raise explorer.last_error
    change = statistics.median(explorer.timings[1:])  # the first is the initial draw
    simulation = statistics.median(bare)
    return {
        "explorer_median_s": change,
        "bare_simulate_median_s": simulation,
        "overhead_ratio": change / simulation,
    }


def main() -> int:
    report = {name: measure(name) for name in EXAMPLES}
    print(json.dumps(report, indent=2))
    for name, figures in report.items():
        answer = figures["explorer_median_s"]
        verdict = "met" if answer <= TARGET_S else "missed"
        print(f"{name}: the explorer answers in {answer:.3f} s median ({TARGET_S} s: {verdict})")
    slow = [name for name, figures in report.items() if figures["explorer_median_s"] > TARGET_S]
    for name in slow:
        print(f"target missed: {name} answers in more than {TARGET_S} s", file=sys.stderr)
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
