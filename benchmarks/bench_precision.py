"""Fixed budgets against precision-driven run lengths, on the same candidates in one process.

Runs :func:`scaleplan.experiments.compare` twice on the bundled online-shop scenario (and on
any scenario files given as arguments), with the same seed and budget, in this process (one
worker, so wall times compare like with like):

- **fixed**: ``stopping: fixed`` — exactly ``run.replications`` runs per candidate at peak and
  the pull's first search bracketed from half the bottleneck bound (today's behaviour);
- **precision**: ``stopping: precision`` — sequential stopping of the measurement at peak
  (at least 3 replications, at most twice the budget, until every verdict is settled or every
  figure's 95% CI is within ``run.ci_precision``) and the pull bracketed from the analytic limit.

Prints, for each mode and candidate, the requests simulated (measurement at peak and pull),
the wall time, the relative CI half-widths of the mean and p99 at peak and of the limit, and
why the measurement stopped. Exits 1 when the precision-driven comparison simulates more
requests than the fixed one, when a candidate stopped as "precision reached" has a figure
wider than the target, or when a limit's CI is wider than both the target and the fixed
search's while no failed verdict settled it (a gated candidate's limit may stay wide: its
criteria decide nothing).

Run: ``.venv/bin/python benchmarks/bench_precision.py [SCENARIO.yaml …]``
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

from scaleplan.experiments import CompareSettings, ComparisonResult, compare
from scaleplan.spec import load_scenario

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = (ROOT / "data/scenarios/online-shop.yaml",)


def relative(ci: tuple[float, float], mean: float) -> float:
    low, high = ci
    if not (math.isfinite(low) and math.isfinite(high) and mean):
        return math.nan
    return (high - low) / 2.0 / abs(mean)


def show(mode: str, result: ComparisonResult, wall_s: float) -> None:
    print(
        f"  {mode:<9} {result.simulated_requests:>9,} requests  {wall_s:6.1f} s  "
        f"(ci_precision {result.ci_precision:g}), recommends {result.recommended}"
    )
    for candidate in result.candidates:
        measured = candidate.measurement
        pulled = candidate.pull
        limit_ci = relative(pulled.limit_ci95, pulled.limit_per_s) if pulled else math.nan
        pull_requests = pulled.search_requests if pulled else 0
        pull_stop = f" ({pulled.replications} searches, {pulled.stop})" if pulled else ""
        print(
            f"    {candidate.name:<12} peak {measured['replications']:>2} × runs "
            f"{measured['requests']:>8,} req, stop: {measured['stop']:<17} "
            f"mean ±{100 * relative(candidate.metrics_ci95['mean_ms'], candidate.metrics['mean_ms']):4.1f}%  "  # noqa: E501
            f"p99 ±{100 * relative(candidate.metrics_ci95['p99_ms'], candidate.metrics['p99_ms']):4.1f}%  "  # noqa: E501
            f"pull {pull_requests:>8,} req, limit ±{100 * limit_ci:4.1f}%{pull_stop}"
        )


def problems(fixed: ComparisonResult, precise: ComparisonResult) -> list[str]:
    found = []
    if precise.simulated_requests > fixed.simulated_requests:
        found.append(
            f"precision-driven simulated {precise.simulated_requests:,} requests, more than "
            f"the fixed budget's {fixed.simulated_requests:,}"
        )
    target = precise.ci_precision
    for candidate in precise.candidates:
        measured = candidate.measurement
        if measured["stop"] == "precision reached":
            for figure in measured["figures"]:
                width = figure["relative_half_width"]
                if width is None or width > target:
                    found.append(
                        f"{candidate.name}: {figure['figure']} ±{width} wider than the target "
                        f"{target:g} although the stop says precision reached"
                    )
        other = fixed.candidate(candidate.name)
        if candidate.pull is not None and other.pull is not None:
            mine = relative(candidate.pull.limit_ci95, candidate.pull.limit_per_s)
            theirs = relative(other.pull.limit_ci95, other.pull.limit_per_s)
            # A limit whose CI already shows a failed verdict (the candidate is gated) may stay
            # wider: that is the early stop of a settled verdict.
            if mine > max(target, theirs) and candidate.pull.stop != "verdict settled":
                found.append(
                    f"{candidate.name}: the limit's CI ±{100 * mine:.1f}% is wider than the "
                    f"target and than the fixed search's ±{100 * theirs:.1f}%"
                )
    return found


def main(paths: list[str]) -> int:
    failures: list[str] = []
    for path in [Path(p) for p in paths] or list(SCENARIOS):
        scenario = load_scenario(path)
        print(f"{path.name}: {len(scenario.candidates)} candidates, seed {scenario.run.seed}")
        results = {}
        for mode in ("fixed", "precision"):
            started = time.perf_counter()
            results[mode] = compare(scenario, CompareSettings(stopping=mode), workers=1)
            show(mode, results[mode], time.perf_counter() - started)
        fixed, precise = results["fixed"], results["precision"]
        ratio = precise.simulated_requests / max(fixed.simulated_requests, 1)
        print(f"  precision-driven / fixed requests: {ratio:.2f}")
        failures += [f"{path.name}: {problem}" for problem in problems(fixed, precise)]
    for failure in failures:
        print("FAIL", failure)
    print("ok" if not failures else f"{len(failures)} target(s) missed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
