"""A simulation's time series (``scaleplan simulate --html``): what an APM dashboard would
show of the run, averaged over its replications.

Four panels over simulated time: the system's p50 and p99 latency; arrivals and throughput per
second with errors; the replicas of every component whose count changed (an autoscaler at work);
the requests waiting at every component where a queue formed. A panel with nothing to draw says
why instead of standing empty. A run through a load profile (``arrival: profile``) draws its
phases; ``scaleplan transient`` draws such a run with intervals across replications.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from scaleplan.formatting import chart_text
from scaleplan.views.axes import note_figure, panel_note

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from scaleplan.result import SimulationResult

__all__ = ["figure_timeseries"]

# The system's lines each have their own colour; components take theirs from COMPONENTS.
SYSTEM = {
    "p50": "#1f77b4",
    "p99": "#d62728",
    "arrivals/s": "#2ca02c",
    "throughput/s": "#9467bd",
    "errors/s": "#ff7f0e",
}
COMPONENTS = ("#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f")
NOTE_COLOR = "#555555"
#: A component whose largest bucket-mean queue stays under this has no queue worth drawing.
QUEUE_SHOWN = 1.0


def _finite(values: tuple[float, ...]) -> list[float | None]:
    return [value if math.isfinite(value) else None for value in values]


def figure_timeseries(result: SimulationResult, *, title: str | None = None) -> go.Figure:
    """The run over time: latency, load and errors, replicas, queues."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    series = result.timeseries
    heading = title or chart_text(f"{result.spec}: the run over time")
    if series is None or not series.t_s:
        return note_figure(
            "This result has no time series: an analytic estimate does not run over time.",
            title=heading,
        )
    figure = make_subplots(
        rows=4,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.07,
        subplot_titles=(
            "latency of the requests completed in each bucket (ms)",
            "requests per second",
            "replicas, where the count changed",
            "requests waiting",
        ),
    )
    t = list(series.t_s)
    system = series.system
    for name, values in (("p50", system.p50_ms), ("p99", system.p99_ms)):
        figure.add_trace(
            go.Scatter(x=t, y=_finite(values), name=name, line={"color": SYSTEM[name]}),
            row=1,
            col=1,
        )
    for name, values, dash in (
        ("arrivals/s", system.arrivals_per_s, "dot"),
        ("throughput/s", system.throughput_per_s, "solid"),
        ("errors/s", system.errors_per_s, "solid"),
    ):
        line = {"color": SYSTEM[name], "dash": dash}
        figure.add_trace(go.Scatter(x=t, y=_finite(values), name=name, line=line), row=2, col=1)
    scaled = queued = False
    for index, (component, part) in enumerate(series.components.items()):
        color = COMPONENTS[index % len(COMPONENTS)]
        counts = [value for value in part.replicas if math.isfinite(value)]
        if counts and max(counts) - min(counts) > 1e-9:
            scaled = True
            figure.add_trace(
                go.Scatter(
                    x=t,
                    y=_finite(part.replicas),
                    name=chart_text(f"{component} replicas"),
                    line={"color": color},
                ),
                row=3,
                col=1,
            )
        waiting = [value for value in part.mean_queue if math.isfinite(value)]
        if waiting and max(waiting) >= QUEUE_SHOWN:
            queued = True
            figure.add_trace(
                go.Scatter(
                    x=t,
                    y=_finite(part.mean_queue),
                    name=chart_text(f"{component} waiting"),
                    line={"color": color, "dash": "dash"},
                ),
                row=4,
                col=1,
            )
    for row, done, reason in (
        (3, scaled, "no replica count changed: nothing autoscaled or failed over"),
        (4, queued, f"no queue formed (every bucket's mean is under {QUEUE_SHOWN:g} waiting)"),
    ):
        if not done:
            panel_note(figure, row, reason, NOTE_COLOR)
    figure.update_xaxes(title_text="simulated time (s)", row=4, col=1)
    figure.update_layout(title=heading, height=900, hovermode="x unified")
    return figure
