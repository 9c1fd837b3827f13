"""The wait for a worker (scaleplan.calibrate.traces.WORKER_ATTRIBUTE) is not service time.

A server span of a service that queues requests in front of a bounded pool covers the wait in
that queue; a span marked ``scaleplan.worker: true`` (the reference system's worker span)
says where the worker's part began. Hand-made traces with known times check that the wait is
left out of the visit's own time and of the observed concurrency, and that an unmarked
internal span changes nothing.
"""

from __future__ import annotations

import pytest

from scaleplan.calibrate.derive import from_traces
from scaleplan.calibrate.model import Span, Telemetry
from scaleplan.calibrate.traces import WORKER_ATTRIBUTE, build_traces

MS = 1_000_000


def _trace(n: int, start_ms: float, wait_ms: float, marked: bool) -> list[Span]:
    """gateway server span 0…50 ms from ``start_ms``; its worker from ``wait_ms``; a call to
    orders (server span) over 10 ms of the worker's part."""
    t0 = int(start_ms * MS)
    trace = f"{n:032x}"
    worker_attributes = {WORKER_ATTRIBUTE: True} if marked else {}
    w0 = t0 + int(wait_ms * MS)
    return [
        Span(trace, f"{n:08x}00000001", None, "gateway", "GET /a", t0, t0 + 50 * MS, "server"),
        Span(
            trace,
            f"{n:08x}00000002",
            f"{n:08x}00000001",
            "gateway",
            "gateway worker",
            w0,
            t0 + 50 * MS,
            "internal",
            worker_attributes,
        ),
        Span(
            trace,
            f"{n:08x}00000003",
            f"{n:08x}00000002",
            "gateway",
            "GET /b",
            w0 + 5 * MS,
            w0 + 16 * MS,
            "client",
        ),
        Span(
            trace,
            f"{n:08x}00000004",
            f"{n:08x}00000003",
            "orders",
            "GET /b",
            w0 + 5 * MS,
            w0 + 15 * MS,
            "server",
        ),
    ]


@pytest.mark.parametrize(("marked", "own_ms"), [(True, 50 - 20 - 10), (False, 50 - 10)])
def test_the_wait_before_a_marked_worker_span_is_not_own_time(marked: bool, own_ms: float) -> None:
    spans = [s for n in range(4) for s in _trace(n, 100.0 * n, 20.0, marked)]
    traces = build_traces(spans, Telemetry())
    assert len(traces) == 4
    root = traces[0].root
    assert root.wait_ns == (20 * MS if marked else 0)
    assert root.own_ns == own_ms * MS
    assert [callee.service for callee in root.callees] == ["orders"]
    derived = from_traces(traces)
    gateway = derived.services["gateway"]
    assert list(gateway.own_ms) == [own_ms] * 4
    assert (gateway.wait_ms == 20.0) if marked else (gateway.wait_ms != gateway.wait_ms)


def test_waiting_requests_do_not_count_as_concurrency() -> None:
    # Two requests 35 ms apart: their server spans overlap (one waits while the other works),
    # their workers' parts (from 20 ms in, 30 ms long) do not.
    spans = _trace(0, 0.0, 20.0, True) + _trace(1, 35.0, 20.0, True)
    derived = from_traces(build_traces(spans, Telemetry()))
    gateway = derived.services["gateway"]
    assert gateway.concurrency_max == 1
