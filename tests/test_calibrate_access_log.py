"""The access-log reader: combined format plus a request time; routes with ids collapsed, the
unit told by the times' form or given, mixed forms refused, bad lines skipped and counted."""

from __future__ import annotations

from pathlib import Path

import pytest

from scaleplan.calibrate.access_log import read_access_log, route_of
from scaleplan.errors import SpecError

DATA = Path(__file__).parent / "data" / "telemetry"


def test_nginx_request_time_in_seconds() -> None:
    telemetry = read_access_log(DATA / "shop.access.log")
    assert telemetry.read["lines"] == 7
    records = telemetry.requests
    assert [r.route for r in records] == [
        "GET /item/{id}",
        "GET /item/{id}",
        "POST /cart",
        "GET /item/{id}",
        "GET /item/{id}",
    ]
    assert [r.duration_ms for r in records] == pytest.approx([12, 20, 35, 4, 16])
    assert [r.status for r in records] == [200, 200, 201, 503, 200]
    assert {r.service for r in records} == {"shop"}
    assert records[0].time_s == 1_796_119_200.0  # 2026-12-01T10:00:00Z
    assert telemetry.skipped == {
        "lines not in combined format": 1,
        "lines without a request time (missing duration)": 1,
    }
    assert telemetry.skipped_example["lines not in combined format"] == "shop.access.log:5"


def test_apache_microseconds_and_given_unit() -> None:
    records = read_access_log(DATA / "apache-us.log").requests
    assert [r.duration_ms for r in records] == pytest.approx([1.234, 2.5, 0.8])
    assert records[0].time_s == 1_796_115_600.0  # 10:00 at +01:00
    as_ms = read_access_log(DATA / "apache-us.log", time_unit="ms").requests
    assert [r.duration_ms for r in as_ms] == pytest.approx([1234, 2500, 800])


def test_mixed_units_refused() -> None:
    with pytest.raises(SpecError, match=r"mixed-units\.log:3: mixes units.*line 1.*line 3"):
        read_access_log(DATA / "mixed-units.log")


def test_not_a_log(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"not-telemetry\.csv:1: not an access log"):
        read_access_log(DATA / "bad" / "not-telemetry.csv")


def test_route_of() -> None:
    assert route_of("/a/b?c=1#x") == "/a/b"
    assert route_of("/orders/0123456789abcdef/items/42") == "/orders/{id}/items/{id}"
    assert route_of("/v2/users") == "/v2/users"
