"""Simulated requests spent by the tractor pull's bisection against a naive fixed-step ramp.

Both searches start at the same rate (half the analytic bottleneck bound), use the same seed and
the same step (``scaleplan.experiments.pull``'s own step routine: same requests per step, the
same lengthening near saturation, the same refusal of certainly unstable rates), and stop at
the same precision — a bracket ``[meets, fails]`` with ``fails / meets − 1 ≤ 2%``:

- **bisection** (:func:`scaleplan.experiments.pull`, one search): bracket, then bisect;
- **naive ramp**: step the rate up by 2% of the starting rate at a time until a step fails, so
  its final bracket is at most 2% wide as well.

Prints the requests each spent and their ratio, per spec; exits 1 if bisection needs more than
a third of the ramp's requests on any of them.

Run: ``.venv/bin/python benchmarks/bench_pull.py``
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

from scaleplan.experiments import pull
from scaleplan.experiments.pull import _Search, _Stepper, _upper_bound
from scaleplan.spec import ArchitectureSpec, load_spec, parse_slo, parse_spec

TARGET = 1 / 3
PRECISION = 0.02
REQUESTS = 20_000
SEED = 1
ROOT = Path(__file__).resolve().parent.parent


def mmc() -> ArchitectureSpec:
    """M/M/4 with 40 ms mean service: capacity 100 requests/s."""
    return parse_spec(
        {
            "name": "mm4",
            "workload": {"rate_per_s": 50},
            "entry": "api",
            "components": {
                "api": {
                    "kind": "service",
                    "concurrency": 4,
                    "service_time": {"dist": "exponential", "mean_ms": 40},
                }
            },
        }
    )


def naive_ramp(spec: ArchitectureSpec, slo_text: str) -> tuple[int, int, tuple[float, float]]:
    """Requests and steps spent by a fixed-step ramp, and its final bracket."""
    slos = (parse_slo(slo_text),)
    bound = _upper_bound(spec)
    stepper = _Stepper(
        spec=spec,
        slos=slos,
        requests=REQUESTS,
        max_requests=5 * REQUESTS,
        max_in_flight=max(2_000, 50 * sum(c.capacity for c in spec.components.values())),
        bound=bound,
        guard=True,
        progress=lambda: None,
    )
    search = _Search(replication=0, seed=SEED)
    start = bound.rate_per_s / 2.0
    step = PRECISION * start
    rate = start
    while stepper.attempt(search, rate, "ramp"):
        rate += step
    assert search.high / search.low - 1 <= PRECISION + 1e-12
    spent = sum(run.requests for run in search.runs)
    return spent, len(search.steps), (search.low, search.high)


def main() -> int:
    cases = [
        (mmc(), "p99<=300ms"),
        (load_spec(ROOT / "data/architectures/monolith.yaml"), "p99<=300ms"),
    ]
    ok = True
    for spec, slo in cases:
        started = time.perf_counter()
        result = pull(
            spec,
            [slo],
            seed=SEED,
            requests=REQUESTS,
            replications=1,
            precision=PRECISION,
            curve=(),
            bracket="bound",  # the same start as the ramp: half the bound
        )
        bisection_s = time.perf_counter() - started
        started = time.perf_counter()
        ramp_requests, ramp_steps, ramp_bracket = naive_ramp(spec, slo)
        ramp_s = time.perf_counter() - started
        ratio = result.search_requests / ramp_requests
        ok = ok and ratio <= TARGET
        low, high = result.bracket
        print(f"{spec.name} under {slo}, {REQUESTS:,} requests per step, seed {SEED}:")
        print(
            f"  bisection : {result.search_requests:>10,} requests in {result.runs:>3} steps, "
            f"bracket {low:.2f}–{high:.2f}/s ({bisection_s:.1f} s)"
        )
        print(
            f"  naive ramp: {ramp_requests:>10,} requests in {ramp_steps:>3} steps, "
            f"bracket {ramp_bracket[0]:.2f}–{ramp_bracket[1]:.2f}/s ({ramp_s:.1f} s)"
        )
        verdict = "ok" if ratio <= TARGET else "MISSED"
        print(f"  ratio {ratio:.3f} (target ≤ {TARGET:.3f}): {verdict}")
        if not math.isfinite(ratio):
            ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
