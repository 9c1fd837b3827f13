"""The written spec: `load_spec` accepts it, it says what was derived (calls, probabilities,
fan-out, pools, fitted or empirical times, classes, errors), and its comments say where each
number came from; names and strings are quoted where YAML needs it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from _telemetry import write_otlp
from hypothesis import given, settings
from hypothesis import strategies as st

from scaleplan.calibrate import Calibration, calibrate
from scaleplan.calibrate.derive import derive
from scaleplan.calibrate.fit import fit_samples
from scaleplan.calibrate.model import Span, Telemetry
from scaleplan.calibrate.write import UNBOUNDED_CONCURRENCY, call_entries, scalar
from scaleplan.errors import SpecError
from scaleplan.spec import load_spec

DATA = Path(__file__).parent / "data" / "telemetry"


@pytest.fixture(scope="module")
def traces(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("w") / "shop.jsonl"
    write_otlp(path, requests=500, orders_probability=0.4, seed=3)
    return path


def test_round_trip_from_traces(traces: Path, tmp_path: Path) -> None:
    calibration = calibrate([traces], concurrency={"catalog": 4})
    written = calibration.write(tmp_path / "out" / "shop.yaml")
    spec = load_spec(written)
    assert spec.name == "shop" and spec.entry == "gateway"
    assert spec.workload.rate_per_s == pytest.approx(calibration.derived.rate_per_s, rel=1e-3)
    gateway = spec.components["gateway"]
    calls = [(c.to, c.probability) for c in gateway.calls]
    orders_share = calibration.derived.services["gateway"].calls[1].per_visit
    assert calls == [("catalog", 1.0), ("orders", round(orders_share, 4))]
    assert not gateway.parallel
    assert spec.components["catalog"].concurrency == 4
    observed = calibration.derived.services["orders"].concurrency_max
    assert spec.components["orders"].concurrency == observed
    fit = calibration.fits["catalog"]
    assert spec.components["catalog"].service_time.dist == fit.best.family
    assert spec.components["catalog"].service_time.mean_value_ms() == pytest.approx(
        fit.best.mean_ms, rel=1e-3
    )
    # The in-memory spec is the written one.
    assert calibration.spec.model_dump() == spec.model_dump()
    text = written.read_text()
    assert "# own time (span minus its callees' union) of 500 visits:" in text
    assert "lower bound for the real pool" in text and "given; observed at most" in text
    assert "root spans: 500 requests over" in text
    assert "Skipped: nothing." in text


def test_access_log_flat_spec_with_empirical_times(tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    lines = []
    for i, value in enumerate(0.6 + rng.exponential(10.0, 3000)):
        minute, second = divmod(i // 10, 60)
        status = 503 if i % 50 == 0 else 200
        route = f"/item/{i}" if i % 3 else "/cart"
        lines.append(
            f'10.0.0.1 - - [01/Dec/2026:10:{minute:02d}:{second:02d} +0000] "GET {route} '
            f'HTTP/1.1" {status} 10 "-" "curl/8" {value / 1000:.3f}'
        )
    log = tmp_path / "web.log"
    log.write_text("\n".join(lines) + "\n")
    calibration = calibrate([log])
    written = calibration.write(tmp_path / "web-spec.yaml")
    spec = load_spec(written)
    web = spec.components["web"]
    assert web.concurrency == UNBOUNDED_CONCURRENCY
    assert web.service_time.dist == "empirical"
    assert (tmp_path / "web-spec.samples" / "web.csv").is_file()
    assert web.service_time.mean_value_ms() == pytest.approx(
        calibration.fits["web"].mean_ms, rel=1e-3
    )
    assert web.error_probability == pytest.approx(60 / 3000)
    weights = {c.name: c.weight for c in spec.workload.classes}
    assert weights == {"GET-item-id": 2000, "GET-cart": 1000}
    assert spec.workload.rate_per_s == pytest.approx(3000 / 300)  # 10 a second for 300 s
    assert "neither family passes KS at 5%" in written.read_text()


def test_prometheus_flat_spec(tmp_path: Path) -> None:
    files = [DATA / "prometheus-scrape1.txt", DATA / "prometheus-scrape2.txt"]
    spec = load_spec(calibrate(files, name="api-model").write(tmp_path / "api.yaml"))
    assert list(spec.components) == ["api"]
    assert spec.components["api"].service_time.dist in ("lognormal", "gamma")
    assert spec.workload.rate_per_s == pytest.approx(12.5)


def test_scalars_and_calls() -> None:
    assert scalar("gateway") == "gateway"
    assert scalar("yes") == '"yes"'
    assert scalar("GET /x: y") == '"GET /x: y"'
    assert scalar(0.1 + 0.2) == "0.3"
    tricky = "it's # not a comment"
    assert yaml.safe_load("a: " + scalar(tricky)) == {"a": tricky}
    assert call_entries(1.0) == [1.0] and call_entries(0.0001) == []


def test_rare_classes_merged_beyond_the_limit() -> None:
    from scaleplan.calibrate.derive import ClassFigure
    from scaleplan.calibrate.write import _at_most
    from scaleplan.spec.architecture import MAX_CLASSES

    classes = [ClassFigure(f"c{i}", f"GET /{i}", "api", 5000 - i) for i in range(MAX_CLASSES + 5)]
    kept = _at_most(classes, "api")
    assert len(kept) == MAX_CLASSES and kept[-1].name == "other"
    assert kept[-1].count == sum(c.count for c in classes[MAX_CLASSES - 1 :])
    assert sum(c.count for c in kept) == sum(c.count for c in classes)


@st.composite
def _recordings(draw: st.DrawFn) -> list[Span]:
    """A few traces of random trees: services, kinds, nested times, now and then a child
    sticking out of its parent (skew) or a leaf client span to a database."""
    spans: list[Span] = []
    for t in range(draw(st.integers(2, 6))):
        start = t * 50_000_000 + draw(st.integers(0, 10_000_000))
        length = draw(st.integers(1, 20_000_000))
        pending = [(f"{t}-0", None, start, start + length, 0)]
        count = 0
        while pending:
            span_id, parent, low, high, depth = pending.pop()
            service = draw(st.sampled_from(["gateway", "catalog", "orders", "9 bad name!"]))
            kind = draw(st.sampled_from(["server", "client", "internal"]))
            attributes = {"db.system": "sqlite"} if draw(st.booleans()) else {}
            spans.append(Span(str(t), span_id, parent, service, "op", low, high, kind, attributes))
            for _ in range(draw(st.integers(0, 2)) if depth < 3 and count < 8 else 0):
                count += 1
                a = draw(st.integers(low, high))
                b = draw(st.integers(a, high))
                skew = draw(st.sampled_from([0, 0, 0, 3_000_000]))
                pending.append((f"{t}-{count}", span_id, a - skew, b, depth + 1))
    return spans


@settings(max_examples=60, deadline=None)
@given(spans=_recordings())
def test_any_recording_gives_a_valid_spec_or_a_spec_error(spans: list[Span]) -> None:
    telemetry = Telemetry()
    telemetry.spans.extend(spans)
    telemetry.read["spans"] = len(spans)
    telemetry.formats["rec.jsonl"] = "otlp"
    try:
        derived = derive(telemetry, file="rec.jsonl")
    except SpecError:
        return
    fits = {name: fit_samples(fig.own_ms) for name, fig in derived.services.items()}
    calibration = Calibration("rec", telemetry, derived, fits, {})
    try:
        spec = calibration.spec
    except SpecError as error:
        # A call cycle a request would go round forever is the one thing a recording can say
        # that a spec must refuse.
        assert "cycle" in str(error), str(error)
        return
    assert set(spec.components) == set(derived.services)
    assert spec.workload.rate_per_s == pytest.approx(derived.rate_per_s, rel=1e-3)
