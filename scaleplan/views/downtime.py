"""Plotly figures of downtime: availability timelines, RPO/RTO distributions, deploys.

Every function takes a result of :mod:`scaleplan.experiments.availability`,
:mod:`~scaleplan.experiments.dr` or :mod:`~scaleplan.experiments.rollout` and returns a
``plotly.graph_objects.Figure``; objectives are drawn as lines and intervals as error bars.
Nothing here runs a simulation; plotly is imported inside the functions. Free text from input
files (titles, names) is HTML-escaped before plotly renders it.
"""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING

from scaleplan.analytic.availability import MINUTES_PER_MONTH
from scaleplan.experiments.availability import FailuresResult
from scaleplan.experiments.dr import RecoveryResult
from scaleplan.experiments.rollout import RolloutResult
from scaleplan.formatting import percent
from scaleplan.views.axes import finite, mark, note_figure, span

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["figure_availability", "figure_recovery", "figure_rollout"]

PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
OUTAGE_COLOR = "#d62728"
CHAOS_COLOR = "#ff7f0e"
BOUND_COLOR = "#7f7f7f"


def _percent(value: float, digits: int = 3) -> str:
    return percent(value, digits)


def figure_availability(result: FailuresResult, *, title: str | None = None) -> go.Figure:
    """Replicas up over time with the system's outages and chaos events marked (top), and
    each component's downtime per month with its CI beside the analytic value (bottom).

    Examples
    --------
    >>> from scaleplan.experiments.availability import failures
    >>> from scaleplan.spec import parse_spec
    >>> spec = parse_spec({"name": "ha", "entry": "api", "workload": {"rate_per_s": 10},
    ...     "components": {"api": {"kind": "service", "replicas": 2,
    ...         "service_time": {"dist": "exponential", "mean_ms": 10},
    ...         "failures": {"mtbf_h": 10, "mttr_min": 60}}}})
    >>> figure = figure_availability(failures(spec, replications=2, duration_h=500, probes=200))
    >>> [trace.name for trace in figure.data]
    ['api', 'measured', 'analytic']
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    if not result.components:
        return note_figure(
            "Nothing to draw: no component of this architecture fails (none declares "
            "failures and no chaos event stops one).",
            title=title or html.escape(f"{result.spec}: availability"),
        )
    figure = make_subplots(
        rows=2,
        cols=1,
        row_heights=[0.62, 0.38],
        vertical_spacing=0.14,
        subplot_titles=("replicas up (system outages shaded)", "downtime per month (minutes)"),
    )
    timeline = result.timeline
    end_s = float(timeline.get("end_s") or 0.0)
    # Long steady-state runs read better in hours, game days in seconds.
    scale, unit = (3600.0, "hours") if end_s > 3 * 3600 else (1.0, "seconds")
    for index, (name, series) in enumerate(timeline.get("components", {}).items()):
        figure.add_trace(
            go.Scatter(
                x=[t / scale for t in series["t_s"]],
                y=series["up"],
                mode="lines",
                line={"shape": "hv", "color": PALETTE[index % len(PALETTE)]},
                name=name,
                hovertemplate="%{x:.4g} " + unit + ": %{y} up<extra>" + name + "</extra>",
            ),
            row=1,
            col=1,
        )
    for start, end in timeline.get("outages", []):
        figure.add_vrect(
            x0=start / scale,
            x1=end / scale,
            fillcolor=OUTAGE_COLOR,
            opacity=0.25,
            line_width=0,
            row=1,
            col=1,
        )
    for event in timeline.get("chaos", []):
        end = event["end_s"] if event["end_s"] is not None else end_s
        figure.add_vrect(
            x0=event["at_s"] / scale,
            x1=end / scale,
            fillcolor=CHAOS_COLOR,
            opacity=0.12,
            line_width=0,
            annotation_text=html.escape(f"{event['action']} {event['target']}"),
            annotation_position="top left",
            row=1,
            col=1,
        )
    names = [item.name for item in result.components]
    downtimes = [item.downtime_min_per_month for item in result.components]
    minutes = [ci.mean for ci in downtimes]
    plus = [ci.high - ci.mean for ci in downtimes]
    minus = [ci.mean - ci.low for ci in downtimes]
    figure.add_trace(
        go.Bar(
            x=names,
            y=minutes,
            error_y={"type": "data", "array": plus, "arrayminus": minus},
            name="measured",
            marker_color=PALETTE[0],
        ),
        row=2,
        col=1,
    )
    analytic = [(1 - item.analytic) * MINUTES_PER_MONTH for item in result.components]
    figure.add_trace(
        go.Scatter(
            x=names,
            y=analytic,
            mode="markers",
            marker={"symbol": "line-ew-open", "size": 28, "color": BOUND_COLOR},
            name="analytic",
        ),
        row=2,
        col=1,
    )
    if result.budget is not None:
        figure.add_hline(
            y=result.budget.budget_min_per_month,
            line={"color": OUTAGE_COLOR, "dash": "dash"},
            annotation_text="error budget",
            row=2,
            col=1,
        )
    figure.update_xaxes(title_text=unit, row=1, col=1)
    figure.update_yaxes(title_text="replicas up", rangemode="tozero", row=1, col=1)
    low, high = result.system_time.low, result.system_time.high
    figure.update_layout(
        title=title
        or html.escape(
            f"{result.spec}: availability {_percent(result.system_time.mean)} "
            f"(95% CI {_percent(low)} – {_percent(high)}), analytic {_percent(result.analytic)}"
        ),
        template="plotly_white",
        height=650,
    )
    return figure


def figure_recovery(result: RecoveryResult, *, title: str | None = None) -> go.Figure:
    """The RPO and RTO distributions of each strategy (cumulative, in minutes), with the
    objectives drawn as vertical lines.

    Each axis spans its data and objective: a log axis when the positive values cover more
    than two decades, else linear. Disasters a strategy never recovers from (an infinite
    time) are not drawn as a number: the strategy's curve stops below 100% and a note under
    the chart says how many were not recovered; a strategy that loses no data (synchronous
    replication: RPO 0 every time) is named in that note when the axis is logarithmic.

    Examples
    --------
    >>> from scaleplan.experiments.dr import recovery
    >>> from scaleplan.spec.dr import parse_dr
    >>> spec = parse_dr({"title": "t", "data": {"size_gb": 100},
    ...     "backups": {"interval": "24h", "restore_gb_per_h": 100},
    ...     "strategies": [{"name": "restore", "kind": "backup_restore"}]})
    >>> [trace.name for trace in figure_recovery(recovery(spec, disasters=1000)).data]
    ['restore', 'restore']
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    heading = title or html.escape(f"{result.title}: {result.disasters:,} simulated disasters")
    if not result.strategies:
        return note_figure("No strategy to draw: the DR file names none.", title=heading)
    figure = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=("RPO: data lost (minutes)", "RTO: time to restore service (minutes)"),
        horizontal_spacing=0.1,
    )
    bounds: dict[str, tuple[float, str]] = {}
    for outcome in result.strategies:
        for verdict in outcome.verdicts:
            bounds[verdict.kind] = (verdict.bound, verdict.nfr)
    notes: list[str] = []
    legend: set[str] = set()  # strategies in the legend (from the first panel that draws them)
    for col, kind in ((1, "rpo"), (2, "rto")):
        minutes = {
            outcome.name: [value / 60 for value in getattr(outcome, f"{kind}_s").quantiles]
            for outcome in result.strategies
        }
        shown = [value for values in minutes.values() for value in finite(values)]
        if kind in bounds:
            shown.append(bounds[kind][0])
        positive = [value for value in shown if value > 0]
        log = bool(positive) and max(positive) / min(positive) > 100
        for index, outcome in enumerate(result.strategies):
            values = minutes[outcome.name]
            count = len(values)
            drawn = [
                (value, step / (count - 1))
                for step, value in enumerate(values)
                if math.isfinite(value) and (value > 0 or not log)
            ]
            color = PALETTE[index % len(PALETTE)]
            figure.add_trace(
                go.Scatter(
                    x=[value for value, _ in drawn],
                    y=[share for _, share in drawn],
                    mode="lines",
                    line={"color": color},
                    name=html.escape(outcome.name),
                    legendgroup=html.escape(outcome.name),
                    showlegend=bool(drawn) and outcome.name not in legend,
                    hovertemplate="%{x:.3g} min: %{y:.0%} of disasters<extra>"
                    + html.escape(outcome.name)
                    + "</extra>",
                ),
                row=1,
                col=col,
            )
            if drawn:
                legend.add(outcome.name)
            lost = sum(1 for value in values if not math.isfinite(value))
            if lost:
                notes.append(
                    f"{outcome.name}: about {lost / max(count - 1, 1):.0%} of disasters not "
                    f"recovered ({kind.upper()} infinite), drawn as a curve that stops short of "
                    "100%"
                )
            if log and values and all(value == 0 for value in finite(values)):
                notes.append(
                    f"{outcome.name}: {kind.upper()} 0 in every disaster (not on the log axis)"
                )
        axis_range = span(shown, log=log) if log else _from_zero(shown)
        if kind in bounds:
            bound, text = bounds[kind]
            mark(
                figure,
                "x",
                bound,
                html.escape(text),
                color=OUTAGE_COLOR,
                within=axis_range,
                log=log,
                row=1,
                col=col,
            )
        figure.update_xaxes(
            title_text="minutes (log scale)" if log else "minutes",
            type="log" if log else "linear",
            range=axis_range,
            row=1,
            col=col,
        )
    figure.update_yaxes(tickformat=".0%", range=[0, 1.04])
    figure.update_yaxes(title_text="share of disasters", row=1, col=1)
    figure.update_layout(title=heading, template="plotly_white", height=480)
    if notes:
        figure.add_annotation(
            text="<br>".join(html.escape(line) for line in notes),
            xref="paper",
            yref="paper",
            x=0,
            y=-0.22,
            showarrow=False,
            align="left",
        )
        figure.update_layout(margin={"b": 80 + 18 * len(notes)})
    return figure


def _from_zero(values: list[float]) -> list[float] | None:
    """A linear range over non-negative durations: from 0 to just past the largest."""
    found = span([0.0, *values])
    return None if found is None else [0.0, found[1]]


def figure_rollout(
    result: RolloutResult, *, seed_index: int = 0, title: str | None = None
) -> go.Figure:
    """Traffic and errors through the deploy, the new version's share of requests, the
    in-rotation capacity and the p99, one colour per strategy (one seed).

    Examples
    --------
    >>> from scaleplan.experiments.rollout import deploy
    >>> from scaleplan.spec import example_spec
    >>> from scaleplan.spec.rollout import RolloutSpec
    >>> plan = RolloutSpec(start_s=5, boot_s=2, drain_s=1, observe_s=5)
    >>> figure = figure_rollout(deploy(example_spec(), plan, rate_per_s=20))
    >>> sorted({trace.name for trace in figure.data})
    ['rolling']
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    if not result.strategies or not any(item.runs for item in result.strategies):
        return note_figure(
            "Nothing to draw: no deploy strategy was run.",
            title=title or html.escape(f"{result.spec}: deploying {result.component}"),
        )
    figure = make_subplots(
        rows=4,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.05,
        subplot_titles=(
            "requests/s (solid) and failed requests/s (dotted)",
            "share of requests on the new version",
            "capacity in rotation (share of replicas before the deploy)",
            "p99 latency (ms)",
        ),
    )
    for index, item in enumerate(result.strategies):
        run = item.runs[min(seed_index, len(item.runs) - 1)]
        series = run.timeseries
        color = PALETTE[index % len(PALETTE)]
        t = series.get("t_s", [])
        rows = (
            (1, "arrivals_per_s", "solid", True),
            (1, "errors_per_s", "dot", False),
            (2, "new_share", "solid", False),
            (3, "min_capacity_share", "solid", False),
            (4, "p99_ms", "solid", False),
        )
        for row, key, dash, legend in rows:
            figure.add_trace(
                go.Scatter(
                    x=t,
                    y=series.get(key, []),
                    mode="lines",
                    line={"color": color, "dash": dash, "shape": "hv"},
                    name=item.strategy,
                    legendgroup=item.strategy,
                    showlegend=legend,
                    hovertemplate="%{x:.0f} s: %{y:.3g}<extra>" + item.strategy + "</extra>",
                ),
                row=row,
                col=1,
            )
        if math.isfinite(run.exposed_at_s) and math.isfinite(run.detection_s):
            figure.add_vline(
                x=run.exposed_at_s + run.detection_s,
                line={"color": color, "dash": "dash", "width": 1},
                row="all",
                col=1,
            )
    start = float(result.plan.get("start_s", 0.0))
    figure.add_vline(x=start, line={"color": BOUND_COLOR, "dash": "dot"}, row="all", col=1)
    figure.update_yaxes(tickformat=".0%", row=2, col=1)
    figure.update_yaxes(tickformat=".0%", rangemode="tozero", row=3, col=1)
    figure.update_xaxes(
        title_text="seconds (the deploy starts at the dotted line; dashed: rollback)", row=4, col=1
    )
    figure.update_layout(
        title=title or html.escape(f"{result.spec}: deploying {result.component}"),
        template="plotly_white",
        height=850,
    )
    return figure
