"""OpenTelemetry tracing for the reference system's services, written as OTLP JSON lines.

Imported by ``services.py`` only when a service runs with ``--otlp-file PATH`` (tracing is off
by default, so the services stay standard-library only and their timings unchanged).

What each service records (OpenTelemetry SDK, HTTP semantic conventions):

- a **server span** per request (``SpanKind.SERVER``, e.g. ``GET /order``; attributes
  ``http.request.method``, ``url.path``, ``http.response.status_code``) from the moment the
  connection thread hands the parsed request to the worker pool's FIFO until the answer is
  handed to the socket: the time the request spends in the service, *queueing for a worker
  included*, as a real server span measures it (its end is taken just before the write, so
  it never ends after the caller's client span, which ends once the answer has arrived);
- inside it, a **worker span** (``SpanKind.INTERNAL``, ``<role> worker``, attributes
  ``thread.name`` and ``scaleplan.worker: true``) for the time a worker holds the request: the
  server span's time before it is the wait in the FIFO, which a calibrator must not count as
  service time (``scaleplan calibrate`` leaves it out when it sees that attribute);
- in the gateway, a **client span** per downstream call (``SpanKind.CLIENT``, ``GET /item``,
  attributes ``http.request.method``, ``url.full``, ``server.address``, ``server.port``,
  ``http.response.status_code``), a child of the worker span, whose context goes downstream in
  the W3C ``traceparent`` header: catalog's and orders' server spans are its children.

Spans go through a :class:`BatchSpanProcessor` (export off the request path) to
:class:`OtlpJsonLinesExporter`, which appends one ``ExportTraceServiceRequest`` per line in the
OpenTelemetry Collector file exporter's format: OTLP/JSON, i.e. protobuf's JSON mapping with
lowerCamelCase keys and integer enums, except that trace and span ids are hex strings (the OTLP
specification's one exception to the mapping, which would give base64). The JSON is built
directly from the SDK's spans (:func:`otlp_request`), a quarter of the cost of the protobuf
encoders plus ``MessageToDict``; the tests check it equals what those produce.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import Link, Span, SpanContext, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

#: The instrumentation scope every span is recorded under.
SCOPE = "scaleplan.reference-system"


def _value(value: Any) -> dict[str, Any]:
    """An attribute value as OTLP/JSON's ``AnyValue`` (64-bit integers as decimal strings)."""
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, bytes):
        return {"bytesValue": base64.b64encode(value).decode()}
    if isinstance(value, Sequence):
        return {"arrayValue": {"values": [_value(item) for item in value]}}
    return {"stringValue": str(value)}


def _attributes(attributes: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    return [{"key": key, "value": _value(value)} for key, value in (attributes or {}).items()]


def _flags(parent: SpanContext | None) -> int:
    # SpanFlags: the context-has-is-remote bit, and the is-remote bit for a remote parent.
    return 0x300 if parent is not None and parent.is_remote else 0x100


def _counted(item: dict[str, Any], key: str, count: int) -> None:
    if count:
        item[key] = count


def _span(span: ReadableSpan) -> dict[str, Any]:
    """One span as OTLP/JSON: protobuf's JSON mapping (lowerCamelCase keys, integer enums,
    default values left out) with hex ids, as the OTLP specification requires."""
    context = span.get_span_context()
    assert context is not None and span.start_time is not None and span.end_time is not None
    item: dict[str, Any] = {
        "traceId": f"{context.trace_id:032x}",
        "spanId": f"{context.span_id:016x}",
    }
    if context.trace_state:
        item["traceState"] = ",".join(f"{k}={v}" for k, v in context.trace_state.items())
    if span.parent is not None:
        item["parentSpanId"] = f"{span.parent.span_id:016x}"
    item["name"] = span.name
    item["kind"] = span.kind.value + 1  # SDK INTERNAL=0 … CONSUMER=4; OTLP 1 … 5
    item["startTimeUnixNano"] = str(span.start_time)
    item["endTimeUnixNano"] = str(span.end_time)
    if span.attributes:
        item["attributes"] = _attributes(span.attributes)
    _counted(item, "droppedAttributesCount", span.dropped_attributes)
    if span.events:
        item["events"] = [_event(event) for event in span.events]
    _counted(item, "droppedEventsCount", span.dropped_events)
    if span.links:
        item["links"] = [_link(link) for link in span.links]
    _counted(item, "droppedLinksCount", span.dropped_links)
    status: dict[str, Any] = {}
    if span.status.description:
        status["message"] = span.status.description
    if span.status.status_code.value:
        status["code"] = span.status.status_code.value  # OK=1, ERROR=2 in both
    item["status"] = status
    item["flags"] = _flags(span.parent)
    return item


def _event(event: Event) -> dict[str, Any]:
    item: dict[str, Any] = {"timeUnixNano": str(event.timestamp), "name": event.name}
    if event.attributes:
        item["attributes"] = _attributes(event.attributes)
    _counted(item, "droppedAttributesCount", event.dropped_attributes)
    return item


def _link(link: Link) -> dict[str, Any]:
    item: dict[str, Any] = {
        "traceId": f"{link.context.trace_id:032x}",
        "spanId": f"{link.context.span_id:016x}",
    }
    if link.attributes:
        item["attributes"] = _attributes(link.attributes)
    _counted(item, "droppedAttributesCount", link.dropped_attributes)
    item["flags"] = _flags(link.context)
    return item


def otlp_request(spans: Sequence[ReadableSpan]) -> dict[str, Any]:
    """An OTLP/JSON ``ExportTraceServiceRequest`` of ``spans``: one ``resourceSpans`` per
    resource, one ``scopeSpans`` per instrumentation scope, in first-seen order.

    Built directly (about 20 µs a span) rather than through the OTLP protobuf encoders and
    ``MessageToDict`` (about 75 µs: most of what tracing cost these services);
    tests/test_reference_telemetry.py checks it equals their output with hex ids."""
    grouped: dict[int, tuple[Resource, dict[int, tuple[Any, list[dict[str, Any]]]]]] = {}
    for span in spans:
        _, scopes = grouped.setdefault(id(span.resource), (span.resource, {}))
        scope = span.instrumentation_scope
        scopes.setdefault(id(scope), (scope, []))[1].append(_span(span))
    request = []
    for resource, scopes in grouped.values():
        resource_spans: dict[str, Any] = {
            "resource": {"attributes": _attributes(resource.attributes)}
        }
        resource_spans["scopeSpans"] = [
            _scope_spans(scope, items) for scope, items in scopes.values()
        ]
        if resource.schema_url:
            resource_spans["schemaUrl"] = resource.schema_url
        request.append(resource_spans)
    return {"resourceSpans": request}


def _scope_spans(scope: Any, items: list[dict[str, Any]]) -> dict[str, Any]:
    described: dict[str, Any] = {}
    if scope is not None:
        if scope.name:
            described["name"] = scope.name
        if scope.version:
            described["version"] = scope.version
        if scope.attributes:
            described["attributes"] = _attributes(scope.attributes)
    scope_spans: dict[str, Any] = {"scope": described, "spans": items}
    if scope is not None and scope.schema_url:
        scope_spans["schemaUrl"] = scope.schema_url
    return scope_spans


def otlp_json(spans: Sequence[ReadableSpan]) -> str:
    """One OTLP/JSON ``ExportTraceServiceRequest`` holding ``spans``, on one line."""
    return json.dumps(otlp_request(spans), separators=(",", ":"))


class OtlpJsonLinesExporter(SpanExporter):
    """Appends each exported batch to a file as one OTLP/JSON line (the collector's format)."""

    def __init__(self, path: str) -> None:
        self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 (closed in shutdown)
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if not spans:
            return SpanExportResult.SUCCESS
        line = otlp_json(spans)
        with self._lock:
            if self._file.closed:
                return SpanExportResult.FAILURE
            self._file.write(line + "\n")
            self._file.flush()  # a whole line on disk: a reader never sees half a batch
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        with self._lock:
            self._file.close()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True  # every export is flushed as it is written


class Tracing:
    """A service's tracer and the span helpers its request path calls."""

    def __init__(self, role: str, path: str, *, schedule_delay_ms: float = 1000.0) -> None:
        self.role = role
        self.provider = TracerProvider(
            resource=Resource.create({"service.name": role, "service.namespace": "refsys"})
        )
        # A queue big enough that no span is dropped at the rates the tests drive (a few
        # hundred spans a second); exports run on the processor's thread, once a second.
        self.provider.add_span_processor(
            BatchSpanProcessor(
                OtlpJsonLinesExporter(path),
                max_queue_size=1 << 16,
                schedule_delay_millis=schedule_delay_ms,
                max_export_batch_size=1024,
            )
        )
        self.tracer = self.provider.get_tracer(SCOPE)
        self.propagator = TraceContextTextMapPropagator()

    # -- server side ---------------------------------------------------------------------

    def start_server(self, method: str, path: str, headers: Mapping[str, str]) -> Span:
        """The request's server span, a child of the caller's span named in ``traceparent``."""
        parent = self.propagator.extract(carrier={k.lower(): v for k, v in headers.items()})
        return self.tracer.start_span(
            f"{method} {path}",
            context=parent,
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method, "url.path": path},
        )

    def end_server(self, span: Span, status: int, end_ns: int) -> None:
        span.set_attribute("http.response.status_code", status)
        if status >= 500:  # server errors only, as the HTTP conventions say for server spans
            span.set_status(Status(StatusCode.ERROR))
        span.end(end_time=end_ns)

    def in_worker(self, server: Span, job: Callable[[], bytes]) -> Callable[[], bytes]:
        """``job`` as a worker runs it: under a worker span, the server span's child."""

        def traced() -> bytes:
            token = otel_context.attach(trace.set_span_in_context(server))
            try:
                with self.tracer.start_as_current_span(
                    f"{self.role} worker",
                    kind=SpanKind.INTERNAL,
                    attributes={
                        "thread.name": threading.current_thread().name,
                        # For calibrators: this span is a worker's part; the server span's
                        # time before it was the wait in the FIFO (scaleplan.calibrate.traces).
                        "scaleplan.worker": True,
                    },
                ):
                    return job()
            finally:
                otel_context.detach(token)

        return traced

    # -- client side ---------------------------------------------------------------------

    @contextmanager
    def client(self, method: str, host: str, port: int, path: str) -> Iterator[ClientCall]:
        """A client span around a downstream call; yields the headers to send with it."""
        url = f"http://{host}:{port}{path}"
        with self.tracer.start_as_current_span(
            f"{method} {path}",
            kind=SpanKind.CLIENT,
            attributes={
                "http.request.method": method,
                "url.full": url,
                "server.address": host,
                "server.port": port,
            },
        ) as span:
            headers: dict[str, str] = {}
            self.propagator.inject(headers)  # traceparent of this client span
            call = ClientCall(span, headers)
            yield call
            if call.status:
                span.set_attribute("http.response.status_code", call.status)
                if call.status >= 400:
                    span.set_status(Status(StatusCode.ERROR))

    def shutdown(self) -> None:
        """Export every span still queued, then close the file (called on SIGTERM)."""
        self.provider.shutdown()


class ClientCall:
    """What a traced downstream call sends (``headers``) and records (``status``)."""

    __slots__ = ("headers", "span", "status")

    def __init__(self, span: Span, headers: dict[str, str]) -> None:
        self.span = span
        self.headers = headers
        self.status = 0
