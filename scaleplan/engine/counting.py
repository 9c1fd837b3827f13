"""How many SimPy events a run processes: the engine's cost per request, free of machine noise.

For the benchmark that reports events per request (``benchmarks/events_per_request.py``) and
the test that pins them (``tests/test_engine_events.py``); not used by a run itself.
"""

from __future__ import annotations

import simpy

from scaleplan.spec import ArchitectureSpec


def count_events(spec: ArchitectureSpec, seed: int = 1) -> tuple[int, int]:
    """(events processed, requests arrived) in one run of ``spec`` with ``seed``.

    Counts by running the simulation through :meth:`simpy.Environment.step`, one call per
    event, in place of the engine's inlined loop (``engine.run.run_until``; restored
    afterwards, also on an error); not thread-safe.
    """
    from scaleplan.engine import run as engine_run
    from scaleplan.engine import simulate

    fast = engine_run.run_until
    count = 0

    def counting_run(env: simpy.Environment, stop: simpy.Event) -> None:
        # SimPy's own loop, one step() per event: what the engine's inlined loop does.
        nonlocal count
        while not stop.processed:
            count += 1
            env.step()

    engine_run.run_until = counting_run
    try:
        result = simulate(spec, seed=seed)
    finally:
        engine_run.run_until = fast
    return count, result.requests.arrived
