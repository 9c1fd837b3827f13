"""Zipkin v2 JSON: a list of spans (``traceId``, ``id``, ``parentId``, ``name``,
``timestamp`` and ``duration`` in microseconds, ``localEndpoint.serviceName``, ``kind``).

Zipkin's B3 propagation may let a server span share its client's id (``shared: true``): the
shared server span gets an id of its own whose parent is the client span, so the tree stays a
tree.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, TypeGuard

from scaleplan.calibrate.model import Span, Telemetry, bad_input
from scaleplan.calibrate.otlp import _json_reason

_NS_PER_US = 1_000


def read_zipkin(path: Path) -> Telemetry:
    """Read one Zipkin v2 JSON file (a list of spans, or several lists one per line)."""
    file = str(path)
    text = path.read_text(encoding="utf-8", errors="replace")
    if not text.strip():
        raise bad_input(file, "is empty: no Zipkin spans in it")
    try:
        documents: list[tuple[int, Any]] = [(1, json.loads(text))]
    except json.JSONDecodeError as error:
        # Several lists, one per line (as some collectors append them)?
        documents = []
        for number, raw in enumerate(text.splitlines(), start=1):
            if not raw.strip():
                continue
            try:
                documents.append((number, json.loads(raw)))
            except json.JSONDecodeError:
                raise bad_input(
                    file, f"not valid JSON ({_json_reason(error, text)})", error.lineno
                ) from None
    telemetry = Telemetry()
    telemetry.formats[file] = "zipkin"
    for line, document in documents:
        if not isinstance(document, list):
            raise bad_input(file, "not Zipkin v2 JSON: expected a list of spans", line)
        for index, raw_span in enumerate(document):
            where = f"{path.name}:{line} [{index}]"
            if not isinstance(raw_span, dict) or "traceId" not in raw_span or "id" not in raw_span:
                raise bad_input(
                    file, f"[{index}]: not a Zipkin v2 span (needs traceId and id)", line
                )
            for field in ("localEndpoint", "tags"):
                given = raw_span.get(field)
                if given is not None and not isinstance(given, dict):
                    raise bad_input(
                        file, f"[{index}]: {field} must be an object (got {given!r})", line
                    )
            telemetry.read["spans"] += 1
            span = _span(raw_span, where)
            if isinstance(span, str):
                telemetry.skip(span, where)
            else:
                telemetry.spans.append(span)
    if telemetry.read["spans"] == 0:
        raise bad_input(file, "holds no Zipkin spans")
    return telemetry


def _number(value: Any) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _span(raw: dict[str, Any], where: str) -> Span | str:
    """The span, or the reason it is skipped."""
    timestamp, duration = raw.get("timestamp"), raw.get("duration")
    if not _number(timestamp) or timestamp <= 0:
        return "spans without a timestamp"
    if not _number(duration):
        return "spans without a duration (missing duration)"
    if duration < 0:
        return "spans with a negative duration"
    kind = str(raw.get("kind") or "unspecified").lower()
    span_id = str(raw["id"]).lower()
    parent = raw.get("parentId")
    parent_id = str(parent).lower() if parent else None
    if raw.get("shared") and kind == "server":
        # The server half of a shared span: its parent is the client half.
        parent_id, span_id = span_id, span_id + "-server"
    endpoint = raw.get("localEndpoint") or {}
    service = str(endpoint.get("serviceName") or "unknown_service")
    start_ns = round(timestamp * _NS_PER_US)
    return Span(
        trace_id=str(raw["traceId"]).lower().rjust(32, "0"),
        span_id=span_id,
        parent_id=parent_id,
        service=service,
        name=str(raw.get("name") or ""),
        start_ns=start_ns,
        end_ns=start_ns + round(duration * _NS_PER_US),
        kind=kind,
        attributes=dict(raw.get("tags") or {}),
        where=where,
    )
