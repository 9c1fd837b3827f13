"""The run over time (``simulate --html``): each panel from the result's own series, and a
note instead of an empty panel."""

from __future__ import annotations

import math
from pathlib import Path

from typer.testing import CliRunner

from scaleplan.analytic import estimate
from scaleplan.cli import app
from scaleplan.engine import simulate
from scaleplan.paths import OutputError
from scaleplan.spec import example_spec, load_spec
from scaleplan.views import note
from scaleplan.views.timeseries import figure_timeseries

ROOT = Path(__file__).resolve().parent.parent
AUTOSCALING = ROOT / "data/architectures/autoscaling.yaml"


def _annotations(figure: object) -> list[str]:
    return [str(item.text) for item in figure.layout.annotations]  # type: ignore[attr-defined]


def test_an_autoscaled_run_draws_its_replicas_as_the_result_counts_them() -> None:
    result = simulate(load_spec(AUTOSCALING), seed=1, requests=20_000)
    assert result.timeseries is not None
    figure = figure_timeseries(result)
    traces = {trace.name: trace for trace in figure.data}
    assert {"p50", "p99", "arrivals/s", "throughput/s", "errors/s"} <= set(traces)
    drawn = [value for value in traces["api replicas"].y if value is not None]
    counted = [v for v in result.timeseries.components["api"].replicas if math.isfinite(v)]
    assert drawn == counted and max(drawn) > min(drawn)
    assert not any("no replica count changed" in text for text in _annotations(figure))


def test_a_fixed_run_says_why_its_replica_panel_is_empty() -> None:
    result = simulate(example_spec(), seed=1, requests=3_000)
    figure = figure_timeseries(result)
    assert not any(str(trace.name).endswith("replicas") for trace in figure.data)
    assert any("no replica count changed" in text for text in _annotations(figure))


def test_an_estimate_has_no_time_series_and_says_so() -> None:
    figure = figure_timeseries(estimate(example_spec()))
    assert "no time series" in (note(figure) or "")


def test_simulate_writes_the_run_over_time(tmp_path: Path) -> None:
    page = tmp_path / "run.html"
    spec = ROOT / "data/architectures/lb-cluster.yaml"
    done = CliRunner().invoke(
        app, ["simulate", str(spec), "--requests", "3000", "--html", str(page)]
    )
    assert done.exit_code == 0, done.output
    assert "the run over time" in page.read_text()


def test_a_page_that_cannot_be_written_keeps_the_results(tmp_path: Path) -> None:
    spec = ROOT / "data/architectures/lb-cluster.yaml"
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    bad = blocker / "run.html"
    done = CliRunner().invoke(
        app, ["simulate", str(spec), "--requests", "2000", "--html", str(bad)]
    )
    # The CLI's entry point turns an OutputError into exit 2 (tests/test_hardening_files.py).
    assert isinstance(done.exception, OutputError)
    assert "the results were printed above" in str(done.exception)
    assert "components" in done.output  # the table was printed before the page failed
