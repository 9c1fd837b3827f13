"""The reference system's OpenTelemetry tracing (examples/reference-system/telemetry.py).

The exporter's lines must be what the OpenTelemetry Collector's file exporter writes: OTLP/JSON
``ExportTraceServiceRequest`` objects, one per line, hex ids. The exporter builds that JSON
itself (the protobuf path costs most of what tracing costs), so it is checked against the OTLP
encoders of ``opentelemetry-exporter-otlp-proto-common`` on spans of every shape, and every
line of a real run is parsed into the ``opentelemetry-proto`` message. A real traced run must
give every answered request one complete trace — gateway server span → worker span → two
client spans → catalog's and orders' server spans (via W3C ``traceparent``) → their worker
spans — with nothing lost when the services are stopped (SIGTERM flushes the batch processor).
"""

from __future__ import annotations

import base64
import importlib.util
import json
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from google.protobuf.json_format import MessageToDict, ParseDict
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TraceState,
    set_span_in_context,
)

FOLDER = Path(__file__).resolve().parents[1] / "examples" / "reference-system"
SERVER, CLIENT, INTERNAL = 2, 3, 1  # OTLP's Span.SpanKind numbers


def _load(name: str) -> ModuleType:
    if str(FOLDER) not in sys.path:
        sys.path.insert(0, str(FOLDER))  # telemetry.py is imported by name from services.py
    spec = importlib.util.spec_from_file_location(f"refsys_{name}", FOLDER / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


telemetry = _load("telemetry")
system = _load("system")


def _spans(paths: list[Path]) -> list[dict[str, Any]]:
    """Every span of OTLP/JSON files, each line checked against the protobuf message."""
    spans = []
    for path in paths:
        for line in path.read_text().splitlines():
            request = json.loads(line)
            _as_protobuf(request)
            for resource in request["resourceSpans"]:
                attributes = {a["key"]: a["value"] for a in resource["resource"]["attributes"]}
                for scope in resource["scopeSpans"]:
                    for span in scope["spans"]:
                        span["service"] = attributes["service.name"]["stringValue"]
                        span["attributes"] = {
                            a["key"]: next(iter(a["value"].values())) for a in span["attributes"]
                        }
                        spans.append(span)
    return spans


def _as_protobuf(request: dict[str, Any]) -> ExportTraceServiceRequest:
    """Parse an OTLP/JSON line: hex ids back to protobuf's base64 first (the one difference)."""
    copy = json.loads(json.dumps(request))
    for resource in copy["resourceSpans"]:
        for scope in resource["scopeSpans"]:
            for span in scope["spans"]:
                for item in (span, *span.get("links", [])):
                    for key in ("traceId", "spanId", "parentSpanId"):
                        if item.get(key):
                            item[key] = base64.b64encode(bytes.fromhex(item[key])).decode()
    return ParseDict(copy, ExportTraceServiceRequest())


def _recorded_spans() -> list[Any]:
    """Spans of every shape the encoder must handle: a remote parent with trace state, nested
    children, each attribute type, events, links, an error status, two scopes."""

    class Keep(SpanExporter):
        def __init__(self) -> None:
            self.spans: list[Any] = []

        def export(self, spans: Any) -> SpanExportResult:
            self.spans.extend(spans)
            return SpanExportResult.SUCCESS

    keep = Keep()
    provider = TracerProvider(resource=Resource.create({"service.name": "test", "n": 3}))
    provider.add_span_processor(SimpleSpanProcessor(keep))
    tracer = provider.get_tracer("test", "1.2")
    other = provider.get_tracer("other", schema_url="https://opentelemetry.io/schemas/1.21.0")
    remote = SpanContext(
        0x4BF92F3577B34DA6A3CE929D0E0E4736,
        0x00F067AA0BA902B7,
        is_remote=True,
        trace_flags=TraceFlags(1),
        trace_state=TraceState([("vendor", "x1")]),
    )
    with tracer.start_as_current_span(
        "GET /order",
        context=set_span_in_context(NonRecordingSpan(remote)),
        kind=SpanKind.SERVER,
        attributes={"s": "a", "i": 7, "f": 0.5, "b": True, "si": [1, 2], "ss": ["x", "y"]},
    ):
        with tracer.start_as_current_span("work", links=[Link(remote, {"why": "retry"})]) as work:
            work.add_event("picked", {"queue": 3})
            work.add_event("plain")
        with other.start_as_current_span("GET /item", kind=SpanKind.CLIENT) as client:
            client.set_status(Status(StatusCode.ERROR, "boom"))
    provider.shutdown()
    return keep.spans


def test_the_encoding_is_the_otlp_encoders_own_with_hex_ids() -> None:
    spans = _recorded_spans()
    reference = MessageToDict(encode_spans(spans), use_integers_for_enums=True)
    for resource in reference["resourceSpans"]:  # protobuf's base64 ids → OTLP/JSON's hex
        for scope in resource["scopeSpans"]:
            for span in scope["spans"]:
                for item in (span, *span.get("links", [])):
                    for key in ("traceId", "spanId", "parentSpanId"):
                        if key in item:
                            item[key] = base64.b64decode(item[key]).hex()
    assert telemetry.otlp_request(spans) == reference
    assert _as_protobuf(json.loads(telemetry.otlp_json(spans))) == encode_spans(spans)


def test_the_exporter_writes_otlp_json_lines_with_hex_ids(tmp_path: Path) -> None:
    path = tmp_path / "spans.jsonl"
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(telemetry.OtlpJsonLinesExporter(str(path))))
    tracer = provider.get_tracer("test")
    with (
        tracer.start_as_current_span("GET /order", kind=SpanKind.SERVER) as server,
        tracer.start_as_current_span("GET /item", kind=SpanKind.CLIENT),
    ):
        pass
    provider.shutdown()
    lines = path.read_text().splitlines()
    assert len(lines) == 2  # SimpleSpanProcessor: one export (one line) per span
    client, parent = (
        json.loads(line)["resourceSpans"][0]["scopeSpans"][0]["spans"][0] for line in lines
    )
    context = server.get_span_context()
    assert parent["traceId"] == f"{context.trace_id:032x}"
    assert parent["spanId"] == f"{context.span_id:016x}"
    assert client["parentSpanId"] == parent["spanId"] and client["traceId"] == parent["traceId"]
    assert (parent["kind"], client["kind"]) == (SERVER, CLIENT)  # enums as integers
    assert int(parent["endTimeUnixNano"]) >= int(parent["startTimeUnixNano"]) > 0
    message = _as_protobuf(json.loads(lines[1]))
    assert message.resource_spans[0].scope_spans[0].spans[0].span_id == context.span_id.to_bytes(
        8, "big"
    )


def test_the_exporter_refuses_after_shutdown(tmp_path: Path) -> None:
    exporter = telemetry.OtlpJsonLinesExporter(str(tmp_path / "spans.jsonl"))
    exporter.shutdown()
    provider = TracerProvider()
    with provider.get_tracer("test").start_as_current_span("x") as span:
        pass
    assert exporter.export([span]) == telemetry.SpanExportResult.FAILURE


def test_without_the_option_services_do_not_load_opentelemetry() -> None:
    code = (
        f"import sys; sys.path.insert(0, {str(FOLDER)!r}); import services; "
        "sys.exit(any(name.startswith('opentelemetry') for name in sys.modules))"
    )
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0


@pytest.mark.slow
def test_a_traced_run_gives_every_request_one_complete_trace(tmp_path: Path) -> None:
    done = system.record(tmp_path, rate_per_s=10.0, duration_s=3.0, seed=3, max_requests=100)
    answered = [result for result in done.results if result[2] == 200]
    assert answered and len(answered) == len(done.results)
    assert sorted(path.name for path in done.files) == [
        "catalog.otlp.jsonl",
        "gateway.otlp.jsonl",
        "orders.otlp.jsonl",
    ]
    spans = _spans(done.files)
    by_id = {span["spanId"]: span for span in spans}
    traces: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for span in spans:
        assert len(span["traceId"]) == 32 and len(span["spanId"]) == 16
        traces[span["traceId"]].append(span)
    # Nothing lost at shutdown: one trace per answered request, eight spans each.
    assert len(traces) == len(answered)
    shapes = Counter(
        tuple(sorted((s["service"], s["kind"], s["name"]) for s in trace))
        for trace in traces.values()
    )
    assert list(shapes.values()) == [len(answered)], shapes
    assert sorted(next(iter(shapes))) == sorted(
        [
            ("gateway", SERVER, "GET /order"),
            ("gateway", INTERNAL, "gateway worker"),
            ("gateway", CLIENT, "GET /item"),
            ("gateway", CLIENT, "GET /order"),
            ("catalog", SERVER, "GET /item"),
            ("catalog", INTERNAL, "catalog worker"),
            ("orders", SERVER, "GET /order"),
            ("orders", INTERNAL, "orders worker"),
        ]
    )
    for span in spans:
        parent = by_id.get(span.get("parentSpanId", ""))
        if span["kind"] == SERVER and span["service"] == "gateway":
            assert parent is None  # the root: the load generator sends no traceparent
            continue
        assert parent is not None, span
        expected = {INTERNAL: SERVER, CLIENT: INTERNAL, SERVER: CLIENT}[span["kind"]]
        assert parent["kind"] == expected, (span["name"], parent["name"])
        if span["kind"] == SERVER:  # across processes: through the traceparent header
            assert parent["service"] == "gateway" and parent["name"] == span["name"]
        # A child lies within its parent (one clock: all on this machine).
        assert int(parent["startTimeUnixNano"]) <= int(span["startTimeUnixNano"])
        assert int(span["endTimeUnixNano"]) <= int(parent["endTimeUnixNano"])
        if span["kind"] == SERVER or (span["kind"] == CLIENT):
            assert span["attributes"]["http.request.method"] == "GET"
            assert span["attributes"]["http.response.status_code"] in ("200", 200)
    assert all(
        span["attributes"]["url.path"] in ("/order", "/item")
        for span in spans
        if span["kind"] == SERVER
    )
