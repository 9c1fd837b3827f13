"""How many SimPy events a run processes: the engine's cost per request, free of machine noise.

For the benchmark that reports events per request (``benchmarks/events_per_request.py``) and
the test that pins them (``tests/test_engine_events.py``); not used by a run itself.
"""

from __future__ import annotations

import simpy

from scaleplan.spec import ArchitectureSpec


def count_events(spec: ArchitectureSpec, seed: int = 1) -> tuple[int, int]:
    """(events processed, requests arrived) in one run of ``spec`` with ``seed``.

    Counts by wrapping :meth:`simpy.Environment.step` for the duration of the run (restored
    afterwards, also on an error); not thread-safe.
    """
    from scaleplan.engine import simulate

    step = simpy.Environment.step
    count = 0

    def counting_step(env: simpy.Environment) -> None:
        nonlocal count
        count += 1
        step(env)

    simpy.Environment.step = counting_step  # type: ignore[method-assign, assignment]
    try:
        result = simulate(spec, seed=seed)
    finally:
        simpy.Environment.step = step  # type: ignore[method-assign]
    return count, result.requests.arrived
