"""The time-series chart of candidates run through a load profile (``scaleplan transient``).

Four panels over the profile's time, one colour per candidate: p99 latency per request class
with its 95% band across the replications and each latency SLO's line; the replicas of every
autoscaled component; the queue (consumer lag) of every component where one formed; errors per
second. A panel with nothing to draw says why instead of standing empty. Phase boundaries are
dotted lines, named at the top.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from scaleplan.formatting import chart_text
from scaleplan.views.axes import panel_note

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from scaleplan.experiments.transient import Band, TransientResult
    from scaleplan.spec import SLOSpec

__all__ = ["figure_transient"]

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2")
BOUND_COLOR = "#555555"
DASHES = ("solid", "dash", "dot", "dashdot", "longdash")
#: A queue whose largest bucket mean stays under this is "no queue" on the chart.
QUEUE_SHOWN = 1.0


def _band(
    figure: go.Figure,
    t: Sequence[float],
    band: Band,
    name: str,
    color: str,
    row: int,
    group: str,
    dash: str = "solid",
) -> None:
    """The mean as a line and its 95% CI as a shaded band (where it exists)."""
    import plotly.graph_objects as go

    if any(math.isfinite(v) for v in band.low):
        figure.add_trace(
            go.Scatter(
                x=list(t),
                y=list(band.high),
                mode="lines",
                line={"width": 0},
                showlegend=False,
                hoverinfo="skip",
                legendgroup=group,
            ),
            row=row,
            col=1,
        )
        figure.add_trace(
            go.Scatter(
                x=list(t),
                y=list(band.low),
                mode="lines",
                line={"width": 0},
                fill="tonexty",
                fillcolor=_faint(color),
                showlegend=False,
                hoverinfo="skip",
                legendgroup=group,
            ),
            row=row,
            col=1,
        )
    figure.add_trace(
        go.Scatter(
            x=list(t),
            y=list(band.mean),
            mode="lines",
            line={"color": color, "dash": dash},
            name=chart_text(name),
            legendgroup=group,
            hovertemplate="%{x:.0f} s: %{y:.4g}<extra>" + chart_text(name) + "</extra>",
        ),
        row=row,
        col=1,
    )


def _faint(color: str) -> str:
    red, green, blue = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red},{green},{blue},0.18)"


def figure_transient(
    results: Mapping[str, TransientResult],
    slos: Sequence[SLOSpec] = (),
    *,
    title: str | None = None,
) -> go.Figure:
    """Latency per class with its SLO lines, replicas, queues and errors over the profile."""
    from plotly.subplots import make_subplots

    figure = make_subplots(
        rows=4,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.06,
        subplot_titles=(
            "p99 latency per request class (ms), 95% band across replications; dashed: SLO",
            "replicas of autoscaled components",
            "requests waiting (queue, consumer lag)",
            "errors per second (failed and rejected)",
        ),
    )
    drawn = {2: False, 3: False, 4: False}
    for index, (name, result) in enumerate(results.items()):
        color = PALETTE[index % len(PALETTE)]
        t = result.t_s
        several = len(result.classes) > 1
        for number, (cls, series) in enumerate(result.classes.items()):
            # One colour per candidate, one dash per request class.
            label = f"{name} {cls}" if several else name
            dash = DASHES[number % len(DASHES)]
            _band(figure, t, series["p99_ms"], f"{label} p99", color, 1, name, dash)
        for component, scaling in result.scaling.items():
            _band(
                figure,
                t,
                result.components[component]["replicas"],
                f"{name} {component} replicas",
                color,
                2,
                name,
            )
            drawn[2] = drawn[2] or bool(scaling.max_replicas.n)
        for component, figure_max in result.max_queue.items():
            if figure_max.mean >= QUEUE_SHOWN:
                _band(
                    figure,
                    t,
                    result.components[component]["queue"],
                    f"{name} {component} waiting",
                    color,
                    3,
                    name,
                )
                drawn[3] = True
        errors = result.system["errors_per_s"]
        if any(v > 0 for v in errors.mean if math.isfinite(v)):
            _band(figure, t, errors, f"{name} errors/s", color, 4, name)
            drawn[4] = True
    for slo in slos:
        if slo.is_latency and slo.metric == "p99":
            figure.add_hline(
                y=slo.bound,
                line={"color": BOUND_COLOR, "dash": "dash"},
                row=1,
                col=1,
                annotation_text=chart_text(slo.text),
                annotation_position="top left",
            )
    reasons = {
        2: "no component autoscales: every replica count is fixed",
        3: f"no queue formed (every largest bucket-mean queue is under {QUEUE_SHOWN:g})",
        4: "no request failed or was rejected",
    }
    for row, done in drawn.items():
        if not done:
            panel_note(figure, row, reasons[row], BOUND_COLOR)
    first = next(iter(results.values()), None)
    if first is not None:
        for _, start, _ in first.phases[1:]:
            figure.add_vline(
                x=start, line={"color": BOUND_COLOR, "dash": "dot", "width": 1}, row="all", col=1
            )
        for phase, start, end in first.phases:
            figure.add_annotation(
                text=chart_text(phase),
                x=(start + end) / 2,
                xref="x",
                yref="y domain",
                y=1.0,
                showarrow=False,
                font={"size": 11, "color": BOUND_COLOR},
            )
    figure.update_xaxes(title_text="seconds into the profile", row=4, col=1)
    shown = ", ".join(results)
    replications = first.replications if first is not None else 0
    figure.update_layout(
        title=title
        or html.escape(f"{shown} through the load profile ({replications} replications)"),
        template="plotly_white",
        height=1000,
    )
    return figure
