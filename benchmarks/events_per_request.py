"""SimPy events the engine processes per request, on the two systems of ``bench_engine``.

Run: ``.venv/bin/python benchmarks/events_per_request.py [--requests 100000]``.

Counts the calls of ``simpy.Environment.step`` (one per event taken off the schedule) during
one :func:`scaleplan.engine.simulate` and divides by the requests that arrived. Every event is
a heap push and pop plus the Python of its callbacks, so fewer events per request is a faster
engine; the figure is exact and free of machine noise, unlike a timing.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_engine import mmc_spec, tandem_spec

from scaleplan.engine.counting import count_events
from scaleplan.spec import ArchitectureSpec


def events_per_request(spec: ArchitectureSpec, seed: int = 1) -> float:
    """Events processed per arrived request in one run of ``spec``."""
    events, arrived = count_events(spec, seed)
    return events / arrived


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    args = parser.parse_args()
    report = {
        "mmc_c4_rho0.8": events_per_request(mmc_spec(args.requests)),
        "tandem_c2-4-1_rho0.7": events_per_request(tandem_spec(args.requests)),
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
