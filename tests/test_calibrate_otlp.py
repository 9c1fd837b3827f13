"""The OTLP JSON reader: hex ids (the OTLP spec) and base64 ids (protobuf's JSON mapping), one
request per line or one document over many lines, services from the resource, kinds, status;
spans without an end skipped and counted; clear errors for what is not OTLP."""

from __future__ import annotations

from pathlib import Path

import pytest

from scaleplan.calibrate.otlp import read_otlp
from scaleplan.errors import SpecError

DATA = Path(__file__).parent / "data" / "telemetry"


def test_hex_ids_services_kinds_and_status() -> None:
    telemetry = read_otlp(DATA / "otlp-small.jsonl")
    assert telemetry.read["spans"] == 8
    assert len(telemetry.spans) == 7
    root = next(s for s in telemetry.spans if s.parent_id is None and s.name == "GET /order")
    assert root.trace_id == "5b8efff798038103d269b633813fc60c"
    assert root.span_id == "eee19b7ec3c1b174"
    assert root.service == "gateway" and root.kind == "server"
    assert root.duration_ns == 20_000_000
    assert root.attributes["http.route"] == "/order"
    item = next(s for s in telemetry.spans if s.name == "GET /item")
    assert item.kind == "server" and item.service == "catalog"  # the enum given by name
    assert item.parent_id == "eee19b7ec3c1b175"
    orders = next(s for s in telemetry.spans if s.name == "POST /orders")
    assert orders.attributes["otel.status_code"] == "ERROR"
    # The span still open when exported has no end: skipped, counted, its place named.
    assert telemetry.skipped == {"spans without a start or end time (missing duration)": 1}
    assert "otlp-small.jsonl:2" in telemetry.skipped_example[next(iter(telemetry.skipped))]


def test_base64_ids_in_one_pretty_printed_document() -> None:
    hexed = read_otlp(DATA / "otlp-small.jsonl")
    based = read_otlp(DATA / "otlp-base64.json")
    first_trace = {s.span_id for s in hexed.spans if s.trace_id.startswith("5b8e")}
    assert {s.span_id for s in based.spans} == first_trace
    assert {s.trace_id for s in based.spans} == {"5b8efff798038103d269b633813fc60c"}


def test_truncated_json_names_file_and_line() -> None:
    with pytest.raises(SpecError, match=r"truncated\.jsonl:2: not valid JSON \(truncated"):
        read_otlp(DATA / "bad" / "truncated.jsonl")


def test_not_otlp_and_bad_ids(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.jsonl"
    wrong.write_text('{"traces": []}\n')
    with pytest.raises(SpecError, match=r"not OTLP JSON traces.*resourceSpans"):
        read_otlp(wrong)
    bad_id = tmp_path / "bad-id.jsonl"
    bad_id.write_text(
        '{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"xyz","spanId":"0102030405060708",'
        '"startTimeUnixNano":"1","endTimeUnixNano":"2"}]}]}]}\n'
    )
    with pytest.raises(SpecError, match=r"spans\[0\]\.traceId: not a 16-byte id"):
        read_otlp(bad_id)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    with pytest.raises(SpecError, match="is empty"):
        read_otlp(empty)
