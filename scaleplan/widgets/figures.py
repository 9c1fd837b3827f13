"""The explorer's two small charts: latency percentiles against the SLO, utilisation per component.

Plain functions of results (analytic estimate and/or simulation) returning plotly figures;
they run nothing. The architecture graph itself is :func:`scaleplan.views.figure_graph`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from scaleplan.result import PERCENTILES, SimulationResult
from scaleplan.spec import SLOSpec

if TYPE_CHECKING:
    import plotly.graph_objects as go

PERCENTILE_LABELS = {"mean": "mean", "p50": "p50", "p90": "p90", "p95": "p95", "p99": "p99"}
PERCENTILE_LABELS |= {"p999": "p99.9"}
SLO_COLOR = "#d62728"
#: Utilisation above which a component is drawn amber, and red (as in the CLI's table).
WARN_UTILIZATION = 0.70
HIGH_UTILIZATION = 0.85


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def figure_latency(
    estimate: SimulationResult | None,
    result: SimulationResult | None,
    slo_ms: Mapping[str, float] | None = None,
    *,
    class_slos: Sequence[SLOSpec] = (),
) -> go.Figure:
    """Latency mean and percentiles, estimate beside simulation, with each SLO as a red mark.

    Each of ``class_slos`` adds a bar pair of its own (``checkout p99``): the request class's
    figure from the results' ``classes``, with its SLO's mark.

    Examples
    --------
    >>> from scaleplan.analytic import estimate
    >>> from scaleplan.spec import example_spec
    >>> figure = figure_latency(estimate(example_spec()), None, {"p99": 100})
    >>> [trace.name for trace in figure.data]
    ['analytic estimate', 'SLO']
    """
    import plotly.graph_objects as go

    names = ["mean", *PERCENTILES]
    labels = [PERCENTILE_LABELS[name] for name in names]
    # A class's objective gets its own bar pair, read off that class's figures.
    class_labels = [f"{slo.request_class} {PERCENTILE_LABELS[slo.metric]}" for slo in class_slos]
    figure = go.Figure()
    for source, label, color in (
        (estimate, "analytic estimate", "#9ecae1"),
        (result, "simulation", "#3182bd"),
    ):
        if source is None:
            continue
        values = [_finite(getattr(source.latency_ms, name)) for name in names]
        values += [_class_value(source, slo) for slo in class_slos]
        figure.add_trace(
            go.Bar(
                x=labels + class_labels,
                y=values,
                name=label,
                marker_color=color,
                hovertemplate="%{x}: %{y:.1f} ms<extra>" + label + "</extra>",
            )
        )
    if slo_ms or class_slos:
        shown = [(PERCENTILE_LABELS[name], bound) for name, bound in (slo_ms or {}).items()]
        shown = [(label, bound) for label, bound in shown if label in labels]
        shown += [(label, slo.bound) for label, slo in zip(class_labels, class_slos, strict=True)]
        figure.add_trace(
            go.Scatter(
                x=[label for label, _ in shown],
                y=[bound for _, bound in shown],
                mode="markers",
                name="SLO",
                marker={
                    "symbol": "line-ew-open",
                    "size": 44,
                    "color": SLO_COLOR,
                    "line": {"width": 3},
                },
                hovertemplate="SLO %{x} ≤ %{y:g} ms<extra></extra>",
            )
        )
    figure.update_layout(
        title="latency (ms)",
        barmode="group",
        yaxis={"title": {"text": "ms"}, "rangemode": "tozero"},
        height=300,
        width=470,
        margin={"l": 50, "r": 20, "t": 40, "b": 30},
        legend={"orientation": "h", "y": -0.15},
    )
    return figure


def _class_value(source: SimulationResult, slo: SLOSpec) -> float | None:
    found = source.classes.get(str(slo.request_class))
    return None if found is None else _finite(found.percentile(slo.metric))


def figure_utilization(result: SimulationResult) -> go.Figure:
    """Utilisation per component (0–100%), amber from 70% and red from 85%.

    Examples
    --------
    >>> from scaleplan.analytic import estimate
    >>> from scaleplan.spec import example_spec
    >>> figure_utilization(estimate(example_spec())).data[0].y
    (0.5,)
    """
    import plotly.graph_objects as go

    names = [name for name, c in result.components.items() if c.capacity]
    values = [result.components[name].utilization for name in names]
    colors = [
        "#a50026"
        if value >= HIGH_UTILIZATION
        else "#fdae61"
        if value >= WARN_UTILIZATION
        else "#2ca25f"
        for value in values
    ]
    figure = go.Figure(
        go.Bar(
            x=names,
            y=[_finite(value) for value in values],
            marker_color=colors,
            hovertemplate="%{x}: %{y:.1%}<extra></extra>",
        )
    )
    figure.add_hline(y=HIGH_UTILIZATION, line_dash="dot", line_color="#a50026")
    figure.update_layout(
        title=f"utilisation ({result.method.split(':')[0]})",
        yaxis={
            "tickformat": ".0%",
            "range": [0, max(1.0, *[v for v in values if math.isfinite(v)])],
        },
        height=300,
        width=380,
        margin={"l": 50, "r": 20, "t": 40, "b": 30},
    )
    return figure
