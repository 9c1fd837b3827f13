"""The Zipkin v2 reader: microseconds to nanoseconds, services from localEndpoint, a shared
server span given its own id under its client, spans without a duration skipped and counted."""

from __future__ import annotations

from pathlib import Path

import pytest

from scaleplan.calibrate.model import Telemetry
from scaleplan.calibrate.traces import build_traces
from scaleplan.calibrate.zipkin import read_zipkin
from scaleplan.errors import SpecError

DATA = Path(__file__).parent / "data" / "telemetry"


def test_spans_and_shared_server_span() -> None:
    telemetry = read_zipkin(DATA / "zipkin-small.json")
    assert telemetry.read["spans"] == 5
    assert telemetry.skipped == {"spans without a duration (missing duration)": 1}
    root = next(s for s in telemetry.spans if s.parent_id is None)
    assert (root.service, root.name, root.kind) == ("frontend", "get /api", "server")
    assert root.start_ns == 1_800_000_000_000_000_000 and root.duration_ns == 30_000_000
    server = next(s for s in telemetry.spans if s.service == "users")
    assert server.parent_id == "0020000000000001" and server.span_id == "0020000000000001-server"
    traces = build_traces(telemetry.spans, Telemetry())
    assert len(traces) == 1
    visit = traces[0].root
    # users' server span (3–21 ms) is the one callee; the prices client span (an error tag, no
    # server span, no peer.service) stays the frontend's own time.
    assert [c.service for c in visit.callees] == ["users"]
    assert visit.own_ns == 30_000_000 - 18_000_000
    assert not visit.failed and not visit.failed_itself


def test_not_zipkin(tmp_path: Path) -> None:
    not_list = tmp_path / "z.json"
    not_list.write_text('{"traceId": "1"}')
    with pytest.raises(SpecError, match="expected a list of spans"):
        read_zipkin(not_list)
    no_ids = tmp_path / "y.json"
    no_ids.write_text('[{"name": "x"}]')
    with pytest.raises(SpecError, match=r"\[0\]: not a Zipkin v2 span"):
        read_zipkin(no_ids)
    truncated = tmp_path / "t.json"
    truncated.write_text((DATA / "zipkin-small.json").read_text()[:400])
    with pytest.raises(SpecError, match="truncated"):
        read_zipkin(truncated)


def test_non_finite_times_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "inf.json"
    path.write_text(
        '[{"traceId": "1", "id": "2", "timestamp": Infinity, "duration": 5},'
        ' {"traceId": "1", "id": "3", "timestamp": 1800000000000000, "duration": NaN}]'
    )
    telemetry = read_zipkin(path)
    assert telemetry.spans == []
    assert telemetry.skipped == {
        "spans without a timestamp": 1,
        "spans without a duration (missing duration)": 1,
    }


@pytest.mark.parametrize(
    ("field", "value"), [("localEndpoint", '"5"'), ("tags", '"5"'), ("tags", "[1, 2]")]
)
def test_an_endpoint_or_tags_that_is_not_an_object_is_a_spec_error(
    tmp_path: Path, field: str, value: str
) -> None:
    """Found by the fuzz test: a span whose localEndpoint (or tags) is not an object crashed
    the reader with AttributeError instead of naming the place."""
    path = tmp_path / "odd.json"
    path.write_text(
        f'[{{"traceId": "1", "id": "2", "timestamp": 1, "duration": 0, "{field}": {value}}}]'
    )
    with pytest.raises(SpecError, match=rf"\[0\]: {field} must be an object"):
        read_zipkin(path)
