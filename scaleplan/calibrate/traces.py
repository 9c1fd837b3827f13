"""Span trees into service visits: which service did what, for how long of its own, and
whom it called.

A *visit* is the work one service does for one request: a span whose parent is absent or in
another service (the spans of one service below it, e.g. its client spans, belong to the same
visit). A leaf client span naming a service no span of which was recorded (``peer.service``,
or a database's ``db.system``) is a visit to that service too. A visit's callees are the
nearest visits below it; its **own time** is its duration minus the *union* of its callees'
intervals (clipped to it), so parallel callees are not subtracted twice and the gaps between
sequential ones (network, marshalling) stay the caller's own time: in the model the caller
holds its slot during its calls, so that time belongs to it.

A server span covers the request's wait for a worker too, when the service queues requests in
front of a bounded pool: that wait is queueing, which the model produces itself, not service
time. Instrumentation that knows it marks the span of the worker's part with the attribute
:data:`WORKER_ATTRIBUTE` (true); the time of the visit before that span starts is then the
visit's ``wait_ns``, left out of its own time and its observed concurrency.

A trace is skipped, with its reason counted, when it has no root (a trace cut at the end of
a recording), several roots, a span whose parent is missing, duplicate span ids, or a child
outside its parent by more than the skew tolerance (clock skew between hosts); a child out
by less is clipped into its parent.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from scaleplan.calibrate.model import Span, Telemetry

#: A child may stick out of its parent by this much before the trace counts as skewed.
DEFAULT_SKEW_TOLERANCE_MS = 1.0
#: A span attribute: true on the span of the part a pool's worker does (the time of its
#: visit before it was a wait in the pool's queue). Set by examples/reference-system.
WORKER_ATTRIBUTE = "scaleplan.worker"


@dataclass
class Visit:
    """One service's part of one request."""

    service: str
    name: str
    start_ns: int
    end_ns: int
    trace_id: str
    callees: list[Visit] = field(default_factory=list)
    own_ns: int = 0
    failed: bool = False
    #: Time from the visit's start to its worker span's (WORKER_ATTRIBUTE), else 0.
    wait_ns: int = 0

    @property
    def failed_itself(self) -> bool:
        """Failed while none of its calls did: an error of its own."""
        return self.failed and not any(callee.failed for callee in self.callees)

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns

    @property
    def parallel(self) -> bool:
        """Whether two of its callees ran at the same time."""
        reached = None
        for callee in sorted(self.callees, key=lambda v: (v.start_ns, v.end_ns)):
            if reached is not None and callee.start_ns < reached:
                return True
            reached = callee.end_ns if reached is None else max(reached, callee.end_ns)
        return False


@dataclass(frozen=True)
class Trace:
    root: Visit
    visits: tuple[Visit, ...]


def union_ns(intervals: Iterable[tuple[int, int]]) -> int:
    """The length of the union of half-open intervals.

    >>> union_ns([(0, 10), (5, 15), (20, 30)])
    25
    """
    total, reached = 0, None
    for start, end in sorted(intervals):
        if reached is None or start > reached:
            total += end - start
            reached = end
        elif end > reached:
            total += end - reached
            reached = end
    return total


def build_traces(
    spans: Iterable[Span],
    telemetry: Telemetry,
    *,
    skew_tolerance_ms: float = DEFAULT_SKEW_TOLERANCE_MS,
) -> list[Trace]:
    """Group spans into traces, check each and turn it into visits (skips go to
    ``telemetry.skipped``)."""
    by_trace: dict[str, list[Span]] = defaultdict(list)
    for span in spans:
        by_trace[span.trace_id].append(span)
    tolerance = int(skew_tolerance_ms * 1e6)
    traces: list[Trace] = []
    for trace_id, members in by_trace.items():
        result = _trace(trace_id, members, tolerance)
        if isinstance(result, Trace):
            traces.append(result)
        else:
            reason, where = result
            telemetry.skip(reason, where, len(members))
    traces.sort(key=lambda trace: trace.root.start_ns)
    return traces


def _trace(trace_id: str, members: list[Span], tolerance: int) -> Trace | tuple[str, str]:
    first = f"{members[0].where} (trace {trace_id})"
    spans: dict[str, Span] = {}
    for span in members:
        if span.span_id in spans:
            return "spans of traces with duplicate span ids", f"{span.where} (trace {trace_id})"
        spans[span.span_id] = span
    roots = [span for span in members if span.parent_id is None]
    orphans = [s for s in members if s.parent_id is not None and s.parent_id not in spans]
    if not roots:
        return "spans of traces with no root span (cut off, or the root was not exported)", first
    if len(roots) > 1:
        return "spans of traces with more than one root span", first
    if orphans:
        where = f"{orphans[0].where} (trace {trace_id})"
        return "spans of traces with a span whose parent is missing", where
    consumers = [span for span in members if span.kind == "consumer"]
    if consumers:
        # Work a message started runs after its producer has gone on: not a call the caller
        # waits for, and not an arrival from outside. Only synchronous calls are modelled.
        where = f"{consumers[0].where} (trace {trace_id})"
        return (
            "spans of traces with asynchronous messaging (a consumer span): only synchronous "
            "calls are calibrated; model the queue and its worker pool by hand",
            where,
        )
    children: dict[str, list[Span]] = defaultdict(list)
    for span in members:
        if span.parent_id is not None:
            children[span.parent_id].append(span)
    # Clock skew: every child inside its parent, within the tolerance; clip what is within.
    bounds: dict[str, tuple[int, int]] = {roots[0].span_id: (roots[0].start_ns, roots[0].end_ns)}
    stack = [roots[0].span_id]
    while stack:
        parent_id = stack.pop()
        low, high = bounds[parent_id]
        for child in children.get(parent_id, ()):
            if child.start_ns < low - tolerance or child.end_ns > high + tolerance:
                out = max(low - child.start_ns, child.end_ns - high) / 1e6
                return (
                    f"spans of traces with clock skew (a child outside its parent by more than "
                    f"{tolerance / 1e6:g} ms)",
                    f"{child.where} (trace {trace_id}: {out:.3f} ms outside "
                    f"{spans[parent_id].name!r})",
                )
            start, end = max(child.start_ns, low), min(child.end_ns, high)
            bounds[child.span_id] = (start, max(start, end))
            stack.append(child.span_id)
    recorded = {span.service for span in members}
    root_visit = _visits(roots[0], children, bounds, recorded, trace_id)
    visits: list[Visit] = []
    pending = [root_visit]
    while pending:
        visit = pending.pop()
        visits.append(visit)
        pending.extend(visit.callees)
    return Trace(root_visit, tuple(visits))


def _remote_service(span: Span, recorded: set[str]) -> str | None:
    """The service a leaf client span called when that service recorded nothing itself."""
    if span.kind != "client":
        return None
    for key in ("peer.service", "db.system.name", "db.system"):
        value = span.attributes.get(key)
        if value and str(value) not in recorded:
            return str(value)
    return None


def _failed(span: Span) -> bool:
    """An OpenTelemetry status ERROR, or Zipkin's ``error`` tag."""
    return span.attributes.get("otel.status_code") == "ERROR" or "error" in span.attributes


def _visits(
    root: Span,
    children: dict[str, list[Span]],
    bounds: dict[str, tuple[int, int]],
    recorded: set[str],
    trace_id: str,
) -> Visit:
    """The visit tree under ``root`` (iterative: deep traces do not recurse)."""
    start, end = bounds[root.span_id]
    top = Visit(root.service, root.name, start, end, trace_id, failed=_failed(root))
    # (span, the visit it belongs to)
    stack: list[tuple[Span, Visit]] = [(root, top)]
    while stack:
        span, visit = stack.pop()
        for child in children.get(span.span_id, ()):
            start, end = bounds[child.span_id]
            remote = None if children.get(child.span_id) else _remote_service(child, recorded)
            if child.service != visit.service or remote is not None:
                callee = Visit(
                    remote or child.service, child.name, start, end, trace_id, failed=_failed(child)
                )
                visit.callees.append(callee)
                stack.append((child, callee))
            else:
                if child.attributes.get(WORKER_ATTRIBUTE) in (True, "true"):
                    visit.wait_ns = max(visit.wait_ns, start - visit.start_ns)
                stack.append((child, visit))
    pending = [top]
    while pending:
        visit = pending.pop()
        covered = union_ns(
            (max(c.start_ns, visit.start_ns), min(c.end_ns, visit.end_ns)) for c in visit.callees
        )
        visit.own_ns = max(0, visit.duration_ns - covered - visit.wait_ns)
        pending.extend(visit.callees)
    return top
