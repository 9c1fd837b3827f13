"""Choosing a reader: `auto` tells each format from its first bytes, `--format` overrides it,
and what is none of them, missing, or a mix of kinds is refused naming the file."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scaleplan.calibrate.derive import derive
from scaleplan.calibrate.read import detect, read_all, read_file
from scaleplan.errors import SpecError

DATA = Path(__file__).parent / "data" / "telemetry"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("otlp-small.jsonl", "otlp"),
        ("otlp-base64.json", "otlp"),
        ("zipkin-small.json", "zipkin"),
        ("prometheus-scrape1.txt", "prometheus"),
        ("shop.access.log", "access-log"),
        ("apache-us.log", "access-log"),
    ],
)
def test_auto_detects_each_format(name: str, expected: str) -> None:
    path = DATA / name
    assert detect(path, path.read_text()[:65536]) == expected
    assert read_file(path).formats == {str(path): expected}


def test_refusals(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"not-telemetry\.csv:1: not a telemetry format"):
        read_file(DATA / "bad" / "not-telemetry.csv")
    with pytest.raises(SpecError, match="does not exist"):
        read_file(tmp_path / "missing.jsonl")
    with pytest.raises(SpecError, match="is not a file"):
        read_file(tmp_path)
    with pytest.raises(SpecError, match="no telemetry file given"):
        read_all([])
    # A format forced onto the wrong file is that reader's error.
    with pytest.raises(SpecError, match="not Zipkin v2 JSON"):
        read_file(DATA / "otlp-base64.json", "zipkin")
    mixed = read_all([DATA / "apache-us.log", DATA / "zipkin-small.json"])
    with pytest.raises(SpecError, match="mixes kinds of telemetry"):
        derive(mixed)


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(SpecError, match=r"deep\.json: nests too deeply to be zipkin telemetry"):
        read_file(deep)


_JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)
_SPAN_KEYS = ("traceId", "spanId", "parentSpanId", "startTimeUnixNano", "endTimeUnixNano",
              "kind", "name", "attributes", "status", "links", "timestamp", "duration", "id",
              "parentId", "localEndpoint", "shared", "tags")  # fmt: skip
_ID = st.sampled_from(["5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174", "AQIDBAUGBwg=", ""])
_SPAN = st.dictionaries(
    st.sampled_from(_SPAN_KEYS), _JSONISH | _ID | st.integers(0, 2**64), max_size=8
)
_OTLP = st.builds(
    lambda resource, spans: {
        "resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": spans}]}]
    },
    _JSONISH,
    st.lists(_SPAN | _JSONISH, max_size=3),
)
_INPUTS = st.one_of(
    st.text(max_size=300),
    _JSONISH.map(json.dumps),
    _OTLP.map(json.dumps),
    st.builds(lambda doc: {"resourceSpans": [doc]}, _JSONISH).map(json.dumps),
    st.lists(_SPAN, max_size=4).map(json.dumps),
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=_INPUTS, format=st.sampled_from(["auto", "otlp", "zipkin", "prometheus", "access-log"]))
def test_any_input_reads_or_gets_a_spec_error(data: str, format: str, tmp_path: Path) -> None:
    path = tmp_path / "any.txt"
    path.write_text(data, encoding="utf-8", errors="replace")
    try:
        telemetry = read_file(path, format)
    except SpecError as error:
        assert "any.txt" in str(error)
        return
    with contextlib.suppress(SpecError):
        derive(telemetry)
