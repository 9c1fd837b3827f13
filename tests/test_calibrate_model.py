"""The shared record model: every skip counted with its reason and first place, and the
ledgers of several files added up."""

from __future__ import annotations

from scaleplan.calibrate.model import Histogram, Span, Telemetry


def test_skips_are_counted_with_their_first_place() -> None:
    a = Telemetry()
    a.read["spans"] += 3
    a.skip("no end", "a.jsonl:1")
    a.skip("no end", "a.jsonl:7")
    b = Telemetry()
    b.read["spans"] += 2
    b.skip("no end", "b.jsonl:2", count=2)
    b.skip("skew", "b.jsonl:5")
    a.extend(b)
    assert a.read == {"spans": 5}
    assert a.skipped == {"no end": 4, "skew": 1}
    assert a.skipped_lines() == ["4 no end (first: a.jsonl:1)", "1 skew (first: b.jsonl:5)"]


def test_span_and_histogram_figures() -> None:
    span = Span("t", "s", None, "api", "GET /", 1_000, 4_000)
    assert span.duration_ns == 3_000 and span.kind == "unspecified"
    empty = Histogram("api", "/", ((float("inf"), 0.0),), 0.0, 0.0)
    assert empty.mean_ms != empty.mean_ms  # NaN: no request, no mean
