"""OpenTelemetry traces as OTLP JSON: the collector's file exporter writes one
``ExportTraceServiceRequest`` JSON object per line (``resourceSpans`` → ``scopeSpans`` →
``spans``); the service is the resource attribute ``service.name``.

The objects are parsed with the ``opentelemetry-proto`` messages. OTLP/JSON differs from
protobuf's JSON mapping in one way that matters here: trace and span ids are *hex* strings
(the OTLP specification, "JSON Protobuf Encoding"), while ``json_format`` reads ``bytes`` as
base64. Ids are turned into base64 before parsing; ids that are already base64 (what
``MessageToJson`` of an OTLP message writes) are recognised by their length and kept. Enums
may be integers or names, 64-bit times strings or numbers: ``json_format`` takes both.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from pathlib import Path
from typing import Any

from scaleplan.calibrate.model import Span, Telemetry, bad_input

_HEX = re.compile(r"^[0-9a-fA-F]*$")
# Hex length -> byte length of the ids (trace 16 bytes, span 8).
_ID_BYTES = {"traceId": 16, "spanId": 8, "parentSpanId": 8}


def _id_to_base64(value: Any, key: str, where: str, file: str, line: int) -> Any:
    """A hex id as base64 for ``json_format``; an id already in base64 is kept."""
    if not isinstance(value, str) or value == "":
        return value
    size = _ID_BYTES[key]
    if len(value) == 2 * size and _HEX.match(value):
        return base64.b64encode(bytes.fromhex(value)).decode("ascii")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != size:
        raise bad_input(
            file,
            f"{where}.{key}: not a {size}-byte id in hex ({2 * size} hex digits) or base64 "
            f"(got {value[:40]!r})",
            line,
        )
    return value


def _items(value: Any) -> list[dict[str, Any]]:
    """The objects of a JSON list (nothing when it is not one)."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _fix_ids(document: Any, file: str, line: int) -> None:
    """Rewrite the ids of every span and link of one request in place."""
    if not isinstance(document, dict):
        raise bad_input(
            file,
            f"not an OTLP ExportTraceServiceRequest object (got {type(document).__name__})",
            line,
        )
    # Only well-shaped parts are rewritten: anything else is left for ParseDict to refuse.
    for r, resource in enumerate(_items(document.get("resourceSpans"))):
        for s, scope in enumerate(_items(resource.get("scopeSpans"))):
            for k, span in enumerate(_items(scope.get("spans"))):
                where = f"resourceSpans[{r}].scopeSpans[{s}].spans[{k}]"
                for key in _ID_BYTES:
                    if key in span:
                        span[key] = _id_to_base64(span[key], key, where, file, line)
                for n, link in enumerate(_items(span.get("links"))):
                    for key in ("traceId", "spanId"):
                        if isinstance(link, dict) and key in link:
                            link[key] = _id_to_base64(
                                link[key], key, f"{where}.links[{n}]", file, line
                            )


def _value(any_value: Any) -> Any:
    which = any_value.WhichOneof("value")
    if which is None:
        return None
    value = getattr(any_value, which)
    if which in ("array_value", "kvlist_value", "bytes_value"):
        return str(value)
    return value


def _attributes(span: Any) -> dict[str, Any]:
    """The span's attributes, with its status as ``otel.status_code`` (``ERROR`` on failure)."""
    found = {a.key: _value(a.value) for a in span.attributes}
    if span.status.code == 2:  # STATUS_CODE_ERROR
        found["otel.status_code"] = "ERROR"
    return found


def _documents(path: Path, text: str) -> list[tuple[int, Any]]:
    """The JSON objects of the file with their line: one per line (the file exporter), or one
    document spanning the file (a pretty-printed request, or a list of them)."""
    lines = text.splitlines()
    found: list[tuple[int, Any]] = []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            found.append((number, json.loads(raw)))
        except json.JSONDecodeError as error:
            if not found:
                break  # maybe one document over many lines: tried below
            raise bad_input(
                str(path), f"not valid JSON ({_json_reason(error, raw)})", number
            ) from None
    else:
        return found
    try:
        whole = json.loads(text)
    except json.JSONDecodeError as error:
        raise bad_input(
            str(path), f"not valid JSON ({_json_reason(error, text)})", error.lineno
        ) from None
    return [(1, item) for item in whole] if isinstance(whole, list) else [(1, whole)]


def _json_reason(error: json.JSONDecodeError, text: str) -> str:
    if error.pos >= len(text.rstrip()):
        return "truncated: the text ends inside a JSON value"
    return f"{error.msg} at column {error.colno}"


def read_otlp(path: Path) -> Telemetry:
    """Read one OTLP JSON trace file into spans (``SpecError`` naming file and line when it is
    not one; spans without an end time or ending before they start are skipped, counted)."""
    from google.protobuf import json_format
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )
    from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan

    file = str(path)
    text = path.read_text(encoding="utf-8", errors="replace")
    if not text.strip():
        raise bad_input(file, "is empty: no OTLP JSON traces in it")
    telemetry = Telemetry()
    telemetry.formats[file] = "otlp"
    for line, document in _documents(path, text):
        if not isinstance(document, dict) or "resourceSpans" not in document:
            raise bad_input(
                file,
                "not OTLP JSON traces: expected an object with 'resourceSpans' (the "
                "collector's file exporter writes one ExportTraceServiceRequest per line)",
                line,
            )
        _fix_ids(document, file, line)
        request = ExportTraceServiceRequest()
        try:
            json_format.ParseDict(document, request, ignore_unknown_fields=True)
        except (json_format.ParseError, ValueError, TypeError) as error:
            raise bad_input(file, f"not an OTLP ExportTraceServiceRequest: {error}", line) from None
        for resource_spans in request.resource_spans:
            resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
            service = str(resource.get("service.name") or "unknown_service")
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    telemetry.read["spans"] += 1
                    where = f"{path.name}:{line} span {span.span_id.hex()}"
                    if not span.trace_id or not span.span_id:
                        telemetry.skip("spans without a trace or span id", where)
                        continue
                    if span.end_time_unix_nano == 0 or span.start_time_unix_nano == 0:
                        telemetry.skip(
                            "spans without a start or end time (missing duration)", where
                        )
                        continue
                    if span.end_time_unix_nano < span.start_time_unix_nano:
                        telemetry.skip("spans ending before they start (negative duration)", where)
                        continue
                    kind = ProtoSpan.SpanKind.Name(span.kind).removeprefix("SPAN_KIND_").lower()
                    telemetry.spans.append(
                        Span(
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_id=span.parent_span_id.hex() or None,
                            service=service,
                            name=span.name,
                            start_ns=int(span.start_time_unix_nano),
                            end_ns=int(span.end_time_unix_nano),
                            kind=kind,
                            attributes=_attributes(span),
                            where=where,
                        )
                    )
    if telemetry.read["spans"] == 0:
        raise bad_input(file, "holds OTLP requests but no spans")
    return telemetry
