"""Charts that read right: axes that span their data (the DR chart's RTO axis ran to 10^138
minutes, a one-option cost axis spanned 1.5 EUR), lines labelled where they are drawn on log
axes, infinite times drawn as "not recovered", and a note in words where there is nothing to
draw (scaleplan/views/axes.py, downtime.py, experiments.py)."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytest

from scaleplan.experiments import CompareSettings, ComparisonResult, compare, ramp
from scaleplan.experiments.dr import RecoveryResult, recovery
from scaleplan.spec import example_spec
from scaleplan.spec.dr import parse_dr
from scaleplan.views import (
    figure_comparison,
    figure_pareto,
    figure_pull_utilization,
    figure_ramp,
    figure_recovery,
    figure_runway,
    note,
)
from scaleplan.views.axes import span


@pytest.fixture(scope="module")
def disasters() -> RecoveryResult:
    """Backups and restore (hours) beside an async replica (seconds): data over 4 decades."""
    spec = parse_dr(
        {
            "title": "t",
            "data": {"size_gb": 100, "writes_per_s": 5, "record_kb": 2},
            "backups": {"interval": "24h", "restore_gb_per_h": 100},
            "replication": {"lag": {"mean": "2s", "cv": 1.0}},
            "strategies": [
                {"name": "restore", "kind": "backup_restore"},
                {"name": "both", "kind": "active_active", "switch": "1min"},
            ],
            "nfrs": {"rpo": {"max": "15min"}, "rto": {"max": "2h"}},
        }
    )
    return recovery(spec, disasters=2000)


@pytest.fixture(scope="module")
def comparison() -> ComparisonResult:
    spec = example_spec()
    settings = CompareSettings(nfrs=["p99<=100ms"], replications=2, requests=1000)
    return compare(
        {"one": spec, "two": spec.with_changes({"components.api.replicas": 2})},
        dataclasses.replace(settings, pull_replications=0),
    )


def axes(figure: Any) -> dict[str, Any]:
    """Every axis of a figure by its reference ("x", "x2", "y"…)."""
    layout = figure.layout
    found = {}
    for name in dir(layout):
        if name.startswith(("xaxis", "yaxis")) and layout[name] is not None:
            found[name[0] + name[5:]] = layout[name]
    return found


def assert_labels_inside(figure: Any) -> None:
    """No annotation sits on a log axis (plotly reads its position in log10 units: a label at
    120 minutes stretched the axis to 10^120), and every line's label is its shape's own."""
    drawn = axes(figure)
    for annotation in figure.layout.annotations:
        for ref in (annotation.xref, annotation.yref):
            axis = drawn.get(ref or "")
            assert axis is None or axis.type != "log", (annotation.text, ref)


def in_range(axis: Any, value: float) -> bool:
    low, high = axis.range
    if axis.type == "log":
        value = math.log10(value)
    return bool(low <= value <= high)


# --------------------------------------------------------------------------- disaster recovery


def test_the_recovery_axes_span_the_data_and_the_objectives(disasters: RecoveryResult) -> None:
    figure = figure_recovery(disasters)
    assert_labels_inside(figure)
    drawn = axes(figure)
    for ref, kind, bound in (("x", "rpo_s", 15.0), ("x2", "rto_s", 120.0)):
        axis = drawn[ref]
        values = [
            value / 60
            for outcome in disasters.strategies
            for value in getattr(outcome, kind).quantiles
            if value > 0
        ]
        assert axis.range is not None, f"{ref} is left to plotly's autorange"
        for value in (min(values), max(values), bound):
            assert in_range(axis, value), (ref, value, axis.range)
        # The axis spans the data, not decades beyond it.
        low, high = axis.range
        data_low = math.log10(min([*values, bound])) if axis.type == "log" else 0.0
        data_high = max([*values, bound])
        data_high = math.log10(data_high) if axis.type == "log" else data_high
        assert high - low <= 1.3 * (data_high - data_low) + 0.3
    # Each objective's line stands at its bound, labelled by its shape.
    lines = {shape.xref: shape for shape in figure.layout.shapes}
    assert lines["x"].x0 == 15.0 and "RPO" in lines["x"].label.text
    assert lines["x2"].x0 == 120.0 and "RTO" in lines["x2"].label.text


def test_an_infinite_rto_is_drawn_as_not_recovered(disasters: RecoveryResult) -> None:
    outcome = disasters.strategies[0]
    quantiles = list(outcome.rto_s.quantiles)
    quantiles[-10:] = [math.inf] * 10  # the worst tenth never recover
    broken = dataclasses.replace(
        outcome, rto_s=dataclasses.replace(outcome.rto_s, quantiles=tuple(quantiles))
    )
    result = dataclasses.replace(disasters, strategies=(broken, *disasters.strategies[1:]))
    figure = figure_recovery(result)
    rto = [trace for trace in figure.data if trace.xaxis == "x2" and trace.name == outcome.name]
    assert all(math.isfinite(x) for x in rto[0].x)
    assert max(rto[0].y) < 0.95  # the curve stops short of 100%
    notes = " ".join(annotation.text for annotation in figure.layout.annotations)
    assert "restore: about 10% of disasters not recovered (RTO infinite)" in notes
    axis = axes(figure)["x2"]  # up to the largest finite time or the objective, not ∞
    largest = max([*(v / 60 for v in quantiles if math.isfinite(v)), 120.0])
    assert in_range(axis, largest)
    high = 10 ** axis.range[1] if axis.type == "log" else axis.range[1]
    assert high < 1.5 * largest


# --------------------------------------------------------------------------- cost against p99


def with_options(result: ComparisonResult, *options: tuple[float, float]) -> ComparisonResult:
    """``result`` with its candidates' cost and p99 replaced by ``options`` (cost, p99)."""
    template = result.candidates[0]
    candidates = tuple(
        dataclasses.replace(
            template,
            name=f"option {index}",
            values={**template.values, "cost_per_month": cost, "p99_ms": p99},
        )
        for index, (cost, p99) in enumerate(options)
    )
    return dataclasses.replace(result, candidates=candidates, recommended="option 0")


@pytest.mark.parametrize(
    "options",
    [[(1234.0, 80.0)], [(1000.0, 80.0), (1001.0, 79.0)], [(100.0, 20.0), (5000.0, 300.0)]],
    ids=["one", "near-equal", "far-apart"],
)
def test_the_cost_axis_is_padded_relative_to_the_values(
    comparison: ComparisonResult, options: list[tuple[float, float]]
) -> None:
    figure = figure_pareto(with_options(comparison, *options))
    for axis, values in (
        (figure.layout.xaxis, [c for c, _ in options]),
        (figure.layout.yaxis, [p for _, p in options]),
    ):
        assert axis.range is not None, "left to plotly's autorange (1.5 EUR around one point)"
        low, high = axis.range
        assert low >= 0 and all(low < value < high for value in values)
        assert high - low >= 0.2 * max(values)  # never a sliver around near-equal values
        assert high - low <= 1.3 * max(values)  # nor a range far beyond them


def test_span_pads_one_point_and_keeps_a_log_range_in_decades() -> None:
    assert span([50.0]) == [45.0, 55.0]
    assert span([0.0]) == [-1.0, 1.0]
    assert span([0.0, 10.0], floor=0.0) == [0.0, 10.8]
    assert span([1.0, 1000.0], log=True) == [-0.24, 3.24]
    assert span([0.0, -1.0], log=True) is None


# --------------------------------------------------------------------------- nothing to draw


def test_a_figure_with_nothing_to_draw_says_why_in_words(comparison: ComparisonResult) -> None:
    empty = dataclasses.replace(comparison, candidates=())
    unmeasured = with_options(comparison, (100.0, math.nan))
    no_runway = comparison  # pulled by nobody (pull_replications=0)
    assert all(candidate.runway is None for candidate in no_runway.candidates)
    figures = {
        "comparison": figure_comparison(empty),
        "pareto": figure_pareto(unmeasured),
        "runway": figure_runway(no_runway),
    }
    for name, figure in figures.items():
        reason = note(figure)
        assert reason, f"{name}: an empty chart without a word"
        assert not figure.data, name
        assert any(reason in (a.text or "") for a in figure.layout.annotations), name
    assert "no option was pulled" in str(note(figures["runway"]))
    assert note(figure_pareto(comparison)) is None  # a chart with something to draw


def test_the_utilisation_and_the_ramp_say_why_when_empty() -> None:
    stepped = ramp(example_spec(), slos=["p99<=200ms"], steps=3, requests=3000)
    figure = figure_ramp(stepped)
    assert note(figure) is None
    assert_labels_inside(figure)
    latency = axes(figure)["y2"]
    assert latency.type == "log" and in_range(latency, 200.0)  # the SLO line is on the chart
    drawn = [v for trace in figure.data if trace.yaxis == "y2" for v in trace.y if v and v > 0]
    assert latency.range[1] < math.log10(max([*drawn, 200.0])) + 0.5
    hollow = dataclasses.replace(
        stepped, timeseries=dataclasses.replace(stepped.timeseries, t_s=())
    )
    assert "no time window" in str(note(figure_ramp(hollow)))


def test_a_pull_without_components_at_its_limit_says_so() -> None:
    from scaleplan.experiments import pull

    result = pull(example_spec(), ["p99<=100ms"], requests=1000, replications=2, curve=())
    emptied = dataclasses.replace(result, utilization_at_limit={})
    assert "no limit" in str(note(figure_pull_utilization(emptied)))


def test_a_strategy_that_loses_no_data_stays_in_the_legend_and_the_notes() -> None:
    spec = parse_dr(
        {
            "title": "t",
            "data": {"size_gb": 100},
            "backups": {"interval": "24h", "restore_gb_per_h": 100},
            "replication": {"lag": {"mean": "1s", "cv": 1.0}},
            "strategies": [
                {"name": "restore", "kind": "backup_restore"},
                {"name": "sync", "kind": "warm_standby", "replication": "sync", "switch": "1min"},
            ],
        }
    )
    figure = figure_recovery(recovery(spec, disasters=500))
    assert axes(figure)["x"].type == "log"  # RPO: hours of backups, 0 for sync
    assert sorted(trace.name for trace in figure.data if trace.showlegend) == ["restore", "sync"]
    notes = " ".join(annotation.text for annotation in figure.layout.annotations)
    assert "sync: RPO 0 in every disaster" in notes


def test_labels_added_with_their_lines_on_a_log_axis_are_moved_where_the_lines_are() -> None:
    """plotly.py's ``add_hline(annotation_text=…)`` labels an SLO at 100 ms with an annotation
    at y = 100, which plotly.js reads as 10^100 on a log axis (the pull chart's latency axis
    then ran to 10^216 ms): ``log_safe``, applied where figures leave scaleplan, moves it."""
    import plotly.graph_objects as go

    from scaleplan.experiments import pull
    from scaleplan.views import figure_pull
    from scaleplan.views.axes import log_safe

    figure = go.Figure(go.Scatter(x=[1, 2], y=[5, 50]), layout={"yaxis_type": "log"})
    figure.add_hline(y=100, annotation_text="SLO p99<=100ms")
    figure.add_annotation(x=1, y=1.5, text="placed in log units on purpose")
    log_safe(figure)
    assert [a.y for a in figure.layout.annotations] == [2.0, 1.5]
    log_safe(figure)  # once is enough: the label no longer sits on the line's value
    assert figure.layout.annotations[0].y == 2.0

    result = pull(example_spec(), ["p99<=100ms"], requests=1000, replications=2, curve=())
    drawn = log_safe(figure_pull(result))
    latencies = [v for trace in drawn.data for v in (trace.y or ()) if v and v > 0]
    for annotation in drawn.layout.annotations:
        if annotation.yref == "y":
            assert annotation.y <= math.log10(max([*latencies, 100.0])) + 0.5, annotation.text


def test_the_pull_chart_draws_each_steps_percentile_interval() -> None:
    """Each step's p50 and p99 carry their run's 95% interval as error bars (issue 13)."""
    from scaleplan.experiments import pull
    from scaleplan.views import figure_pull

    result = pull(example_spec(), ["p99<=100ms"], requests=3000, replications=2, curve=())
    traces = {trace.name: trace for trace in figure_pull(result).data}
    curve = result.curve()
    for name, intervals in (
        ("p99", [s.p99_ci95 for s in curve]),
        ("p50", [s.p50_ci95 for s in curve]),
    ):
        bars, y = traces[name].error_y, traces[name].y
        assert bars.symmetric is False
        for value, (low, high), up, down in zip(
            y, intervals, bars.array, bars.arrayminus, strict=True
        ):
            if math.isfinite(low):
                assert value + up == pytest.approx(high) and value - down == pytest.approx(low)
    assert traces["mean"].error_y.array is None


def test_the_users_pull_chart_draws_each_steps_p99_interval() -> None:
    from scaleplan.experiments.pull_users import pull_users
    from scaleplan.spec import parse_spec
    from scaleplan.views import figure_pull_users

    spec = parse_spec(
        {
            "name": "shop",
            "entry": "api",
            "workload": {
                "kind": "closed",
                "users": 4,
                "think_time": {"dist": "exponential", "mean_ms": 500},
            },
            "components": {
                "api": {"kind": "service", "service_time": {"dist": "exponential", "mean_ms": 20}}
            },
        }
    )
    result = pull_users(spec, ["mean<=60ms"], requests=3000, replications=1, seed=1)
    (p99,) = [trace for trace in figure_pull_users(result).data if trace.name == "p99"]
    steps = sorted(result.steps, key=lambda step: step.users)  # as the chart draws them
    bars = p99.error_y
    for value, up, down, step in zip(p99.y, bars.array, bars.arrayminus, steps, strict=True):
        low, high = step.p99_ci95
        if math.isfinite(low):
            assert value - down == pytest.approx(low) and value + up == pytest.approx(high)
    assert any(up is not None for up in bars.array)
