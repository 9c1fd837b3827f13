"""The Prometheus reader: latency histograms per service and route in milliseconds, two
scrapes giving a rate and the histogram of what happened between them."""

from __future__ import annotations

from pathlib import Path

import pytest

from scaleplan.calibrate.derive import derive
from scaleplan.calibrate.prometheus import read_prometheus
from scaleplan.calibrate.read import read_all
from scaleplan.errors import SpecError

DATA = Path(__file__).parent / "data" / "telemetry"


def test_histograms_in_milliseconds() -> None:
    telemetry = read_prometheus(DATA / "prometheus-scrape1.txt")
    assert telemetry.read["series"] == 2
    by_route = {h.route: h for h in telemetry.histograms}
    items = by_route["GET /items"]
    assert items.service == "api" and items.count == 100
    assert items.buckets[0] == (5.0, 10.0)
    assert items.buckets[-1][0] == float("inf")
    assert items.mean_ms == pytest.approx(14.0)
    assert items.timestamp_s == 1_800_000_000.0


def test_two_scrapes_give_rate_and_delta() -> None:
    telemetry = read_all([DATA / "prometheus-scrape1.txt", DATA / "prometheus-scrape2.txt"])
    derived = derive(telemetry)
    # 600 + 150 requests between scrapes 60 s apart.
    assert derived.rate_per_s == pytest.approx(12.5)
    assert derived.requests == 750
    assert {c.label: c.count for c in derived.classes} == {
        "api GET /items": 600,
        "api POST /cart": 150,
    }
    api = derived.services["api"]
    assert api.histogram is not None
    assert dict(api.histogram)[5.0] == 60  # (70 − 10) in the first bucket, cart none
    # The exact mean from _sum and _count: (9.8 − 1.4 + 3.15 − 0.45) s over 750 requests.
    assert derived.end_to_end_mean_ms == pytest.approx(11_100 / 750)
    assert api.histogram_sum_ms == pytest.approx(11_100)
    # Little's law: 12.5/s × 14.8 ms in service on average.
    assert api.concurrency_mean == pytest.approx(12.5 * 0.0148)


def test_one_scrape_needs_a_rate() -> None:
    telemetry = read_all([DATA / "prometheus-scrape1.txt"])
    with pytest.raises(SpecError, match=r"cannot be measured.*--rate-per-s"):
        derive(telemetry)
    assert derive(telemetry, rate_per_s=3.0).rate_per_s == 3.0


def test_not_exposition_text(tmp_path: Path) -> None:
    bad = tmp_path / "metrics.txt"
    bad.write_text('# TYPE x counter\nx 1\nx{a="b" 2\n')
    with pytest.raises(SpecError, match=r"metrics\.txt:3: not Prometheus exposition text"):
        read_prometheus(bad)
    counters = tmp_path / "counters.txt"
    counters.write_text("# TYPE x counter\nx 1\n")
    with pytest.raises(SpecError, match="holds no histogram"):
        read_prometheus(counters)


def test_non_finite_counts_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "nan.txt"
    path.write_text(
        "# TYPE d_seconds histogram\n"
        'd_seconds_bucket{le="0.1"} NaN\nd_seconds_bucket{le="+Inf"} 3\n'
        "d_seconds_count 3\nd_seconds_sum 0.2\n"
    )
    telemetry = read_prometheus(path)
    assert telemetry.histograms == []
    assert telemetry.skipped == {"histogram series with a negative or non-finite count": 1}
