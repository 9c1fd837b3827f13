"""Plotly figures of the experiments: the pull, the ramp, sweeps, comparisons, runway.

Every function takes an experiment's result and returns a ``plotly.graph_objects.Figure``; the
SLO is drawn on every latency chart, limits and bounds are marked, and intervals are drawn as
error bars or bands. Nothing here runs a simulation. plotly is imported inside the functions.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from scaleplan.experiments.compare import ComparisonResult
from scaleplan.experiments.growth import RunwayResult
from scaleplan.experiments.pull import PullResult, RampResult, binding_slo
from scaleplan.experiments.pull_users import UsersPullResult
from scaleplan.experiments.sweep import SweepResult
from scaleplan.formatting import chart_text
from scaleplan.views.axes import mark, note_figure, span

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from scaleplan.spec import SLOSpec

__all__ = [
    "figure_comparison",
    "figure_pareto",
    "figure_pull",
    "figure_pull_users",
    "figure_pull_utilization",
    "figure_ramp",
    "figure_runway",
    "figure_sweep",
    "pull_binding",
]

SLO_COLOR = "#d62728"
LIMIT_COLOR = "#2ca02c"
BOUND_COLOR = "#7f7f7f"
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf"]


def _latency_slos(slos: Sequence[str]) -> list[tuple[str, float, str]]:
    """(metric, bound in ms, text) of the whole-system latency SLOs among ``slos``."""
    from scaleplan.spec import parse_slo

    found: list[tuple[str, float, str]] = []
    for text in slos:
        slo = parse_slo(text)
        if slo.is_latency and slo.request_class is None:
            found.append((slo.metric, slo.bound, slo.text))
    return found


def _finite(value: float) -> bool:
    return value is not None and math.isfinite(value)


#: A pull chart draws every per-class latency SLO (its class's curve and line) up to this many;
#: beyond, only the one that binds, so that the chart stays legible.
MAX_CLASS_CURVES = 4


def _class_slos(slos: Sequence[str], binding: str) -> list[SLOSpec]:
    """The per-class latency SLOs a pull chart draws: all when few, else the binding one."""
    from scaleplan.spec import parse_slo

    found = [slo for slo in map(parse_slo, slos) if slo.is_latency and slo.request_class]
    if len(found) <= MAX_CLASS_CURVES:
        return found
    return [slo for slo in found if slo.text == binding]


def _class_curves(
    figure: go.Figure,
    steps: Sequence[Any],
    slos: Sequence[SLOSpec],
    x: Callable[[Any], float],
    *,
    mode: str,
    unit: str,
) -> None:
    """One curve per per-class SLO: its class's figure (the step's measured value of the
    objective: that class's percentile or mean) at every step, named ``checkout p99``."""
    import plotly.graph_objects as go

    for index, slo in enumerate(slos):
        name = f"{slo.request_class} {slo.metric}"
        figure.add_trace(
            go.Scatter(
                x=[x(step) for step in steps],
                y=[step.values.get(slo.text, math.nan) for step in steps],
                mode=mode,
                name=chart_text(name),
                line={"color": PALETTE[(3 + index) % len(PALETTE)]},
                marker={"color": PALETTE[(3 + index) % len(PALETTE)]},
                hovertemplate="%{x:.4g}" + unit + "<br>%{y:.1f} ms<extra>"
                f"{chart_text(name)}</extra>",
            )
        )


def _failing_y(step: Any, binding: SLOSpec | None) -> float:
    """Where a failing step is marked: on its class's curve when a class's SLO binds."""
    if binding is not None and binding.request_class:
        return float(step.values.get(binding.text, math.nan))
    return float(step.p99_ms)


def _binding(slos: Sequence[str], binding: str) -> SLOSpec | None:
    from scaleplan.spec import parse_slo

    return next((parse_slo(t) for t in slos if t == binding), None)


def _slos_and_limit(
    figure: go.Figure,
    slos: Sequence[str],
    limit_ci95: tuple[float, float],
    limit: float,
    limit_text: str,
    *,
    binding: str = "",
    classes: Sequence[SLOSpec] = (),
) -> None:
    """A pull chart's latency SLO lines (the whole system's and the drawn classes', the one
    that binds marked ``binds`` and drawn solid), the limit's CI band and the limit's line."""
    lines = [(text, bound, SLO_COLOR) for _, bound, text in _latency_slos(slos)]
    lines += [
        (slo.text, slo.bound, PALETTE[(3 + index) % len(PALETTE)])
        for index, slo in enumerate(classes)
    ]
    for text, bound, color in lines:
        binds = text == binding
        figure.add_hline(
            y=bound,
            line={
                "color": SLO_COLOR if binds else color,
                "dash": "solid" if binds else "dash",
                "width": 2 if binds else 1,
            },
            annotation_text=f"SLO {chart_text(text)}" + (" — binds" if binds else ""),
            annotation_position="top left",
        )
    low, high = limit_ci95
    if _finite(low) and _finite(high) and high > low:
        figure.add_vrect(x0=low, x1=high, fillcolor=LIMIT_COLOR, opacity=0.12, line_width=0)
    if _finite(limit) and limit > 0:
        figure.add_vline(
            x=limit,
            line={"color": LIMIT_COLOR},
            annotation_text=limit_text,
            annotation_position="top right",
        )


def _error_bars(
    values: Sequence[float], intervals: Sequence[tuple[float, float]]
) -> dict[str, Any]:
    """Each point's 95% interval as plotly's asymmetric error bars (none where unknown)."""

    def reach(value: float, end: float) -> float | None:
        return abs(end - value) if _finite(value) and _finite(end) else None

    return {
        "type": "data",
        "symmetric": False,
        "array": [reach(v, high) for v, (_, high) in zip(values, intervals, strict=True)],
        "arrayminus": [reach(v, low) for v, (low, _) in zip(values, intervals, strict=True)],
        "thickness": 1,
        "width": 3,
    }


def figure_pull(result: PullResult, *, title: str | None = None) -> go.Figure:
    """Latency percentiles against offered load (each step's p50 and p99 with its run's 95%
    interval as error bars), with the SLO line, the limit and the bound.

    Examples
    --------
    >>> from scaleplan.experiments import pull
    >>> from scaleplan.spec import example_spec
    >>> result = pull(example_spec(), ["p99<=100ms"], requests=2000, replications=2, curve=())
    >>> [trace.name for trace in figure_pull(result).data]
    ['p50', 'p99', 'mean', 'failing steps']
    """
    import plotly.graph_objects as go

    curve = result.curve()
    rates = [step.rate_per_s for step in curve]
    classes = _class_slos(result.slos, result.binding)
    binding = _binding(result.slos, result.binding)
    figure = go.Figure()
    for name, values, intervals, dash in (
        ("p50", [s.p50_ms for s in curve], [s.p50_ci95 for s in curve], "dot"),
        ("p99", [s.p99_ms for s in curve], [s.p99_ci95 for s in curve], "solid"),
        ("mean", [s.mean_ms for s in curve], None, "dash"),
    ):
        figure.add_trace(
            go.Scatter(
                x=rates,
                y=values,
                mode="lines+markers",
                name=name,
                line={"dash": dash},
                error_y=_error_bars(values, intervals) if intervals is not None else None,
                hovertemplate="%{x:.4g} requests/s<br>%{y:.1f} ms<extra>" + name + "</extra>",
            )
        )
    _class_curves(
        figure,
        curve,
        classes,
        lambda step: step.rate_per_s,
        mode="lines+markers",
        unit=" requests/s",
    )
    failing = [s for s in curve if not s.meets]
    figure.add_trace(
        go.Scatter(
            x=[s.rate_per_s for s in failing],
            y=[_failing_y(s, binding) for s in failing],
            mode="markers",
            name="failing steps",
            marker={"symbol": "x", "size": 10, "color": SLO_COLOR},
            text=[chart_text(s.reason) for s in failing],
            hovertemplate="%{x:.4g} requests/s: %{text}<extra></extra>",
        )
    )
    _slos_and_limit(
        figure,
        result.slos,
        result.limit_ci95,
        result.limit_per_s,
        f"limit {result.limit_per_s:.4g}/s ({result.limit_per_min:,.0f}/min)",
        binding=result.binding,
        classes=classes,
    )
    if _finite(result.knee_per_s):
        figure.add_vline(
            x=result.knee_per_s,
            line={"color": "#bcbd22", "dash": "dot"},
            annotation_text=f"knee {result.knee_per_s:.4g}/s",
            annotation_position="bottom right",
        )
    if _finite(result.analytic_bound_per_s):
        figure.add_vline(
            x=result.analytic_bound_per_s,
            line={"color": BOUND_COLOR, "dash": "dashdot"},
            annotation_text=f"analytic bound {result.analytic_bound_per_s:.4g}/s",
            annotation_position="bottom left",
        )
    figure.update_layout(
        title=title or f"{chart_text(result.spec)}: latency against offered load (tractor pull)",
        xaxis_title="offered load (requests/s)",
        yaxis_title="latency (ms)",
        yaxis_type="log",
        template="plotly_white",
        legend={"orientation": "h", "y": -0.2},
    )
    return figure


def figure_pull_users(result: UsersPullResult, *, title: str | None = None) -> go.Figure:
    """A closed workload's pull: mean and p99 response time against the users at every step
    of every search, the failing steps marked, the SLO lines and the limit with its CI.

    Examples
    --------
    >>> from scaleplan.experiments.pull_users import pull_users
    >>> from scaleplan.spec import parse_spec
    >>> spec = parse_spec({"name": "shop", "entry": "api",
    ...     "workload": {"kind": "closed", "users": 4, "think_time":
    ...                  {"dist": "exponential", "mean_ms": 500}},
    ...     "components": {"api": {"kind": "service",
    ...                            "service_time": {"dist": "exponential", "mean_ms": 20}}}})
    >>> result = pull_users(spec, ["mean<=60ms"], requests=1000, replications=2)
    >>> [trace.name for trace in figure_pull_users(result).data]
    ['p99', 'mean', 'failing steps']
    """
    import plotly.graph_objects as go

    steps = sorted(result.steps, key=lambda step: step.users)
    users = [step.users for step in steps]
    bound = pull_binding(result)
    classes = _class_slos(result.slos, bound)
    binding = _binding(result.slos, bound)
    figure = go.Figure()
    p99s = [step.p99_ms for step in steps]
    for name, values, bars in (
        ("p99", p99s, _error_bars(p99s, [step.p99_ci95 for step in steps])),
        ("mean", [step.mean_ms for step in steps], None),
    ):
        figure.add_trace(
            go.Scatter(
                x=users,
                y=values,
                mode="markers",
                name=name,
                error_y=bars,
                marker={"symbol": "circle" if name == "p99" else "diamond"},
                hovertemplate="%{x} users<br>%{y:.1f} ms<extra>" + name + "</extra>",
            )
        )
    _class_curves(figure, steps, classes, lambda step: step.users, mode="markers", unit=" users")
    failing = [step for step in steps if not step.meets]
    figure.add_trace(
        go.Scatter(
            x=[step.users for step in failing],
            y=[_failing_y(step, binding) for step in failing],
            mode="markers",
            name="failing steps",
            marker={"symbol": "x", "size": 10, "color": SLO_COLOR},
            text=[chart_text(step.reason) for step in failing],
            hovertemplate="%{x} users: %{text}<extra></extra>",
        )
    )
    _slos_and_limit(
        figure,
        result.slos,
        result.limit_ci95,
        result.limit_users,
        f"limit {result.limit_users:.0f} users ({result.throughput_per_s:.4g}/s)",
        binding=bound,
        classes=classes,
    )
    figure.update_layout(
        title=title or f"{chart_text(result.spec)}: response time against users (tractor pull)",
        xaxis_title="concurrent users",
        yaxis_title="response time (ms)",
        yaxis_type="log",
        template="plotly_white",
        legend={"orientation": "h", "y": -0.2},
    )
    return figure


def pull_binding(result: PullResult | UsersPullResult) -> str:
    """The objective that binds a pull (its text; empty when none broke): the one recorded
    by the pull over the rate, and for a pull over users the one its per-objective searches
    found breaking first, else the one its joint search broke first (:func:`binding_slo`)."""
    from scaleplan.spec import parse_slo

    if isinstance(result, PullResult):
        return result.binding
    marked = [objective.slo for objective in result.objectives if objective.binding]
    if marked:
        return marked[0]
    slos = [parse_slo(text) for text in result.slos]
    return binding_slo(slos, result.steps, load=lambda step: step.users)


def figure_pull_utilization(result: PullResult, *, title: str | None = None) -> go.Figure:
    """Utilisation per component at the limit; the bottleneck highlighted.

    Examples
    --------
    >>> from scaleplan.experiments import pull
    >>> from scaleplan.spec import example_spec
    >>> result = pull(example_spec(), ["p99<=100ms"], requests=2000, replications=2, curve=())
    >>> figure_pull_utilization(result).data[0].x
    ('api',)
    """
    import plotly.graph_objects as go

    heading = title or (
        f"{chart_text(result.spec)}: utilisation at the limit ({result.limit_per_s:.4g} requests/s)"
    )
    names = list(result.utilization_at_limit)
    if not names:
        return note_figure(
            "No utilisation to draw: the pull found no limit to measure the components at.",
            title=heading,
        )
    values = [result.utilization_at_limit[name] for name in names]
    colors = [SLO_COLOR if name == result.bottleneck else PALETTE[0] for name in names]
    error = None
    low, high = result.bottleneck_utilization_ci95
    if _finite(low) and _finite(high):
        plus = [
            high - v if n == result.bottleneck else 0.0 for n, v in zip(names, values, strict=True)
        ]
        minus = [
            v - low if n == result.bottleneck else 0.0 for n, v in zip(names, values, strict=True)
        ]
        error = {"type": "data", "array": plus, "arrayminus": minus}
    figure = go.Figure(
        go.Bar(
            x=[chart_text(name) for name in names],
            y=values,
            marker_color=colors,
            error_y=error,
            text=[f"{100 * v:.0f}%" for v in values],
            textposition="outside",
        )
    )
    figure.add_hline(y=1.0, line={"color": BOUND_COLOR, "dash": "dash"})
    figure.update_layout(
        title=heading,
        yaxis_title="utilisation",
        yaxis_tickformat=".0%",
        yaxis_range=[0, 1.15],
        template="plotly_white",
    )
    return figure


def figure_ramp(result: RampResult, *, title: str | None = None) -> go.Figure:
    """The ramp's time series: offered load and throughput, p99 and errors as it breaks.

    Examples
    --------
    >>> from scaleplan.experiments import ramp
    >>> from scaleplan.spec import example_spec
    >>> result = ramp(example_spec(), slos=["p99<=200ms"], steps=3, requests=3000)
    >>> [trace.name for trace in figure_ramp(result).data]
    ['offered', 'throughput', 'errors/s', 'p50', 'p99']
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    series = result.timeseries
    t = list(series.t_s)
    system = series.system
    heading = title or f"{chart_text(result.spec)}: stepped load test"
    if not t:
        return note_figure(
            "Nothing to draw: the ramp recorded no time window (too few requests per step).",
            title=heading,
        )
    figure = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.08,
        subplot_titles=("load (requests/s)", "latency (ms, per time window)"),
    )
    offered_x, offered_y = [], []
    for step in result.steps:
        offered_x += [step["start_s"], step["end_s"]]
        offered_y += [step["offered_per_s"], step["offered_per_s"]]
    figure.add_trace(
        go.Scatter(x=offered_x, y=offered_y, name="offered", line={"dash": "dash"}), row=1, col=1
    )
    figure.add_trace(
        go.Scatter(x=t, y=list(system.throughput_per_s), name="throughput"), row=1, col=1
    )
    figure.add_trace(
        go.Scatter(x=t, y=list(system.errors_per_s), name="errors/s", line={"color": SLO_COLOR}),
        row=1,
        col=1,
    )
    figure.add_trace(go.Scatter(x=t, y=list(system.p50_ms), name="p50"), row=2, col=1)
    figure.add_trace(go.Scatter(x=t, y=list(system.p99_ms), name="p99"), row=2, col=1)
    latencies = list(system.p50_ms) + list(system.p99_ms)
    for metric, bound, text in _latency_slos(result.slos):
        if metric in ("p50", "p99"):
            latencies.append(bound)
            mark(figure, "y", bound, f"SLO {chart_text(text)}", color=SLO_COLOR, row=2, col=1)
    if result.broke_at is not None:
        start = result.steps[result.broke_at]["start_s"]
        mark(
            figure,
            "x",
            start,
            f"breaks at {result.broke_at_rate_per_s:.4g}/s",
            color=SLO_COLOR,
            dash="solid",
            row="all",
            col=1,
        )
    # The SLO's label is placed by its shape: on a log axis an annotation would be read as
    # log10 of its value and stretch the axis to 10^bound.
    figure.update_yaxes(type="log", range=span(latencies, log=True), row=2, col=1)
    figure.update_xaxes(title_text="simulated time (s)", row=2, col=1)
    figure.update_layout(
        title=heading,
        template="plotly_white",
        height=600,
    )
    return figure


def figure_sweep(
    result: SweepResult,
    x: str | None = None,
    y: str = "p99_ms",
    *,
    color: str | None = None,
    slo_ms: float | None = None,
    title: str | None = None,
) -> go.Figure:
    """One metric of a sweep against one key path, one line per value of ``color``.

    The SLO line is ``slo_ms`` when given, else the sweep's objective on ``y``'s figure:
    ``y="classes.checkout.p99_ms"`` draws ``checkout.p99<=…``, ``y="p99_ms"`` a whole-system
    ``p99<=…``.

    Examples
    --------
    >>> from scaleplan.experiments import sweep
    >>> from scaleplan.spec import example_spec
    >>> result = sweep(example_spec(), {"workload.rate_per_s": [20, 40]}, requests=1000,
    ...                workers=1)
    >>> len(figure_sweep(result).data)
    1
    """
    import plotly.graph_objects as go

    rows = result.records()
    x = x or result.keys[0]
    groups: dict[Any, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row.get(color) if color else None, []).append(row)
    figure = go.Figure()
    for index, (key, members) in enumerate(groups.items()):
        members = sorted(members, key=lambda row: row[x])
        figure.add_trace(
            go.Scatter(
                # A swept value may be user text (a policy, a name): plotly reads tick labels
                # as HTML, so text is escaped; numbers stay numbers.
                x=[chart_text(v) if isinstance(v := row[x], str) else v for row in members],
                y=[row.get(y) for row in members],
                mode="lines+markers",
                name=chart_text(f"{color}={key}" if color else y),
                line={"color": PALETTE[index % len(PALETTE)]},
                text=[chart_text(row.get("error") or "") for row in members],
            )
        )
    if slo_ms is not None:
        figure.add_hline(y=slo_ms, line={"color": SLO_COLOR, "dash": "dash"}, annotation_text="SLO")
    else:
        for objective in _sweep_objectives(result.slos, y):
            figure.add_hline(
                y=objective.bound,
                line={"color": SLO_COLOR, "dash": "dash"},
                annotation_text=f"SLO {chart_text(objective.text)}",
            )
    figure.update_layout(
        title=title or chart_text(f"{result.spec}: {y} against {x}"),
        xaxis_title=chart_text(x),
        yaxis_title=chart_text(y),
        template="plotly_white",
    )
    return figure


def _sweep_objectives(slos: Sequence[str], column: str) -> list[SLOSpec]:
    """The latency objectives judged on a sweep's ``column`` (a class's on its own column)."""
    from scaleplan.spec import parse_slo

    found = []
    for slo in map(parse_slo, slos):
        if not slo.is_latency:
            continue
        name = f"{slo.metric}_ms"
        if slo.request_class is not None:
            name = f"classes.{slo.request_class}.{name}"
        if name == column:
            found.append(slo)
    return found


def figure_comparison(
    result: ComparisonResult, metric: str = "p99_ms", *, title: str | None = None
) -> go.Figure:
    """One metric at peak per candidate, with 95% CI error bars and the SLO line.

    Examples
    --------
    >>> from scaleplan.experiments import CompareSettings, compare
    >>> from scaleplan.spec import example_spec
    >>> spec = example_spec()
    >>> settings = CompareSettings(nfrs=["p99<=100ms"], replications=2, requests=1000,
    ...                            pull_replications=0)
    >>> result = compare({"a": spec, "b": spec}, settings)
    >>> figure_comparison(result).data[0].x
    ('a', 'b')
    """
    import plotly.graph_objects as go

    heading = (
        title
        or f"{metric} at peak ({result.peak_rate_per_s:g} requests/s), 95% CI; "
        f"seeds {result.seed}…{result.seed + result.replications - 1}"
    )
    names = [c.name for c in result.candidates]
    values = [c.metrics.get(metric, math.nan) for c in result.candidates]
    if not any(_finite(value) for value in values):
        return note_figure(
            f"No {metric} to draw: no option was measured at peak "
            "(every one was refused or its queues grew without bound).",
            title=heading,
        )
    lows = [c.metrics_ci95.get(metric, (math.nan, math.nan))[0] for c in result.candidates]
    highs = [c.metrics_ci95.get(metric, (math.nan, math.nan))[1] for c in result.candidates]
    colors = [
        LIMIT_COLOR if c.name == result.recommended else (BOUND_COLOR if c.gated else PALETTE[0])
        for c in result.candidates
    ]
    figure = go.Figure(
        go.Bar(
            x=[chart_text(name) for name in names],
            y=values,
            marker_color=colors,
            error_y={
                "type": "data",
                "array": [h - v for h, v in zip(highs, values, strict=True)],
                "arrayminus": [v - lo for lo, v in zip(lows, values, strict=True)],
            },
            hovertemplate="%{x}: %{y:.4g}<extra></extra>",
        )
    )
    shown = [*values, *highs]
    if metric.endswith("_ms"):
        wanted = metric.removesuffix("_ms")
        for slo_metric, bound, text in _latency_slos(result.slos):
            if slo_metric == wanted:
                mark(figure, "y", bound, f"SLO {chart_text(text)}", color=SLO_COLOR)
                shown.append(bound)
    sentences = [d.sentence() for d in result.differences if d.metric == metric]
    figure.update_layout(
        title=heading,
        yaxis_title=metric,
        # From 0 to past the bars, their intervals and the SLO (whose label sits above it).
        yaxis_range=span([0.0, *shown], floor=0.0),
        template="plotly_white",
        annotations=[
            {
                "text": "<br>".join(sentences),
                "xref": "paper",
                "yref": "paper",
                "x": 0,
                "y": -0.25,
                "showarrow": False,
                "align": "left",
            }
        ]
        if sentences
        else [],
        margin={"b": 120},
    )
    return figure


def figure_pareto(result: ComparisonResult, *, title: str | None = None) -> go.Figure:
    """Monthly cost against p99 at peak; the Pareto frontier joined, the choice marked.

    Both axes span the options (and the p99 SLO) with padding relative to the values, so one
    option, or several costing nearly the same, sit in a range of a fifth of their size at
    least, not in a sliver of plotly's autorange (1.5 EUR around one point).

    Examples
    --------
    >>> from scaleplan.experiments import CompareSettings, compare
    >>> from scaleplan.spec import example_spec
    >>> spec = example_spec()
    >>> settings = CompareSettings(replications=2, requests=1000, pull_replications=0)
    >>> result = compare({"a": spec, "b": spec}, settings)
    >>> [trace.name for trace in figure_pareto(result).data]
    ['candidates', 'Pareto frontier']
    """
    import plotly.graph_objects as go

    heading = title or "cost against p99 at peak"
    candidates = [
        c
        for c in result.candidates
        if _finite(c.values.get("p99_ms", math.nan))
        and _finite(c.values.get("cost_per_month", math.nan))
    ]
    if not candidates:
        return note_figure(
            "Nothing to draw: no option has both a p99 measured at peak and a monthly cost "
            "(an option refused at peak is not measured).",
            title=heading,
        )
    costs = [c.values["cost_per_month"] for c in candidates]
    p99s = [c.values["p99_ms"] for c in candidates]
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(
            x=costs,
            y=p99s,
            mode="markers+text",
            text=[chart_text(c.name) for c in candidates],
            textposition="top center",
            name="candidates",
            marker={
                "size": 14,
                "color": [
                    LIMIT_COLOR
                    if c.name == result.recommended
                    else (BOUND_COLOR if c.gated else PALETTE[0])
                    for c in candidates
                ],
                "symbol": [
                    "star" if c.name == result.recommended else "circle" for c in candidates
                ],
            },
        )
    )
    frontier = sorted((c for c in candidates if c.pareto), key=lambda c: c.values["cost_per_month"])
    figure.add_trace(
        go.Scatter(
            x=[c.values["cost_per_month"] for c in frontier],
            y=[c.values["p99_ms"] for c in frontier],
            mode="lines",
            line={"shape": "hv", "dash": "dot", "color": LIMIT_COLOR},
            name="Pareto frontier",
        )
    )
    for slo_metric, bound, text in _latency_slos(result.slos):
        if slo_metric == "p99":
            p99s.append(bound)
            mark(figure, "y", bound, f"SLO {chart_text(text)}", color=SLO_COLOR)
    figure.update_layout(
        title=heading,
        xaxis_title=f"cost per month at today's load ({chart_text(result.currency)})",
        yaxis_title="p99 at peak (ms)",
        xaxis_range=span(costs, floor=0.0),
        yaxis_range=span(p99s, floor=0.0),
        template="plotly_white",
    )
    return figure


def figure_runway(
    result: ComparisonResult | RunwayResult | Sequence[RunwayResult],
    *,
    title: str | None = None,
) -> go.Figure:
    """Headroom month by month under growth, with its band, the horizon and each breach.

    Examples
    --------
    >>> from scaleplan.experiments import runway
    >>> figure = figure_runway(runway(300.0, 100.0, 0.08, limit_ci95=(280.0, 320.0),
    ...                               horizon_months=24, name="a"))
    >>> [trace.name for trace in figure.data]
    ['a', 'a (95% CI)']
    """
    import plotly.graph_objects as go

    if isinstance(result, ComparisonResult):
        runways = [c.runway for c in result.candidates if c.runway is not None]
    elif isinstance(result, RunwayResult):
        runways = [result]
    else:
        runways = list(result)
    heading = title or "headroom under growth (1 − load ÷ sustainable limit)"
    if not runways:
        return note_figure(
            "No runway to draw: no option was pulled to its limit (the run budget has no pull), "
            "so there is no headroom to grow into.",
            title=heading,
        )
    figure = go.Figure()
    horizon = None
    lowest = 0.0
    for index, item in enumerate(runways):
        color = PALETTE[index % len(PALETTE)]
        months = [point["month"] for point in item.curve]
        figure.add_trace(
            go.Scatter(
                x=months,
                y=[point["headroom"] for point in item.curve],
                name=chart_text(item.name or f"runway {index + 1}"),
                line={"color": color},
                legendgroup=str(index),
            )
        )
        lows = [point["headroom_low"] for point in item.curve]
        highs = [point["headroom_high"] for point in item.curve]
        if all(math.isfinite(v) for v in lows + highs):
            figure.add_trace(
                go.Scatter(
                    x=months + months[::-1],
                    y=highs + lows[::-1],
                    fill="toself",
                    fillcolor=color,
                    opacity=0.15,
                    line={"width": 0},
                    name=chart_text(f"{item.name} (95% CI)"),
                    legendgroup=str(index),
                    showlegend=False,
                    hoverinfo="skip",
                )
            )
        if item.breach_month is not None:
            mark(
                figure,
                "x",
                item.months,
                chart_text(f"{item.name}: {item.months:.1f} months"),
                color=color,
                dash="dot",
            )
        horizon = item.horizon_months or horizon
        drawn = [point["headroom"] for point in item.curve] + lows
        lowest = min([lowest, *(v for v in drawn if math.isfinite(v))])
    figure.add_hline(y=0.0, line={"color": SLO_COLOR})
    if horizon is not None:
        # Labelled at the bottom: a breach at the horizon would put two labels on one spot.
        mark(figure, "x", horizon, "horizon", color=BOUND_COLOR, position="start")
    # Headroom below −100% (a load more than twice the limit) says no more than −100% does:
    # the axis stops there so that the months around the breaches stay readable.
    floor = max(lowest, -1.0)
    figure.update_layout(
        title=heading,
        xaxis_title="month",
        yaxis_title="headroom" + (" (cut at −100%: the curves go on below)" if lowest < -1 else ""),
        yaxis_tickformat=".0%",
        yaxis_range=[floor - 0.05, 1.05],
        template="plotly_white",
    )
    return figure
