"""Span trees into visits: own time as span minus the union of the callees (parallel callees
not subtracted twice), a leaf client span to an unrecorded database as a visit, errors of a
visit's own; traces without a root, with orphans or clock skew skipped and counted."""

from __future__ import annotations

from pathlib import Path

from scaleplan.calibrate.model import Span, Telemetry
from scaleplan.calibrate.otlp import read_otlp
from scaleplan.calibrate.traces import build_traces, union_ns

DATA = Path(__file__).parent / "data" / "telemetry"
MS = 1_000_000


def _span(
    span_id: str, parent: str | None, service: str, start: float, end: float, **kw: object
) -> Span:
    return Span("t1", span_id, parent, service, span_id, int(start * MS), int(end * MS), **kw)  # type: ignore[arg-type]


def test_fixture_visits_and_own_times() -> None:
    telemetry = read_otlp(DATA / "otlp-small.jsonl")
    traces = build_traces(telemetry.spans, telemetry)
    assert len(traces) == 2
    first = traces[0]
    own = {v.service: v.own_ns / MS for v in first.visits}
    # gateway 0–20 calls catalog (2–8) and orders (11–18); orders' INSERT (12–16) is a leaf
    # client span to sqlite, which recorded nothing itself: a visit of its own.
    assert own == {"gateway": 7.0, "catalog": 6.0, "orders": 3.0, "sqlite": 4.0}
    orders = next(v for v in first.visits if v.service == "orders")
    assert orders.failed and orders.failed_itself
    gateway = first.root
    assert not gateway.parallel and not gateway.failed
    assert traces[1].root.own_ns == 3 * MS  # its open child was skipped by the reader


def test_parallel_callees_union() -> None:
    spans = [
        _span("a", None, "api", 0, 20),
        _span("b", "a", "x", 2, 10),
        _span("c", "a", "y", 4, 14),  # overlaps b
        _span("d", "a", "z", 16, 18),
    ]
    trace = build_traces(spans, Telemetry())[0]
    assert trace.root.parallel
    assert trace.root.own_ns == (20 - 12 - 2) * MS
    assert union_ns([(0, 5), (1, 2), (5, 7)]) == 7


def test_bad_traces_skipped_and_counted() -> None:
    telemetry = Telemetry()
    spans = [
        # no root (cut off)
        Span("t-cut", "b", "a", "x", "x", 0, MS),
        # an orphan beside a root
        Span("t-orphan", "r", None, "x", "x", 0, 10 * MS),
        Span("t-orphan", "c", "missing", "y", "y", MS, 2 * MS),
        # skew beyond 1 ms
        Span("t-skew", "r", None, "x", "x", 10 * MS, 20 * MS),
        Span("t-skew", "c", "r", "y", "y", 5 * MS, 12 * MS),
        # skew within the tolerance: clipped
        Span("t-ok", "r", None, "x", "x", 10 * MS, 20 * MS),
        Span("t-ok", "c", "r", "y", "y", 9_500_000, 12 * MS),
    ]
    traces = build_traces(spans, telemetry)
    assert [t.root.trace_id for t in traces] == ["t-ok"]
    assert traces[0].root.own_ns == 8 * MS  # the child clipped to 10–12 ms
    reasons = dict(telemetry.skipped)
    assert (
        reasons.pop("spans of traces with no root span (cut off, or the root was not exported)")
        == 1
    )
    assert reasons.pop("spans of traces with a span whose parent is missing") == 2
    skew = [r for r in reasons if "clock skew" in r]
    assert len(skew) == 1 and reasons[skew[0]] == 2
    assert "5.000 ms outside" in telemetry.skipped_example[skew[0]]
    messaging = Telemetry()
    queued = [
        Span("t-m", "r", None, "x", "x", 0, 2 * MS, kind="server"),
        Span("t-m", "p", "r", "x", "publish", MS, 2 * MS, kind="producer"),
        Span("t-m", "c", "p", "w", "process", 5 * MS, 9 * MS, kind="consumer"),
    ]
    assert build_traces(queued, messaging) == []
    (reason,) = messaging.skipped
    assert "asynchronous messaging" in reason and messaging.skipped[reason] == 3
    loose = Telemetry()
    assert len(build_traces(spans, loose, skew_tolerance_ms=10)) == 2
