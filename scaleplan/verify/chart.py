"""The chart of a verification: predicted against measured latency, against the load.

For each percentile (p50, p95, p99; the mean when no percentile was measured), the model's
predicted mean is a line with its 95% CI as error bars, the band the tolerance accepts is a
shaded area, and the measurements are markers — filled where they agree, crosses where they
do not. plotly is imported inside the function, as in :mod:`scaleplan.views`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scaleplan.formatting import chart_text
from scaleplan.verify.judge import LABELS, StepCheck, Verification

if TYPE_CHECKING:
    import plotly.graph_objects as go

COLORS = {"p50_ms": "#1f77b4", "p95_ms": "#ff7f0e", "p99_ms": "#d62728", "mean_ms": "#2ca02c"}
_FILL = {"p50_ms": "rgba(31,119,180,0.12)", "p95_ms": "rgba(255,127,14,0.12)"}
_FILL |= {"p99_ms": "rgba(214,39,40,0.12)", "mean_ms": "rgba(44,160,44,0.12)"}


def figure_verification(result: Verification, *, title: str | None = None) -> go.Figure:
    """Predicted latency bands and measured latency per step, against the offered load."""
    import plotly.graph_objects as go

    figure = go.Figure()
    # A closed plan's load is its users (its rate is a prediction, not what was offered).
    closed = result.load_test_plan is not None and result.load_test_plan.closed

    def load(step: StepCheck) -> float:
        return float(step.step.users) if closed else step.step.rate_per_s

    unit = "users" if closed else "requests/s"
    steps = sorted(result.steps, key=load)
    measured_any = {check.figure for step in steps for check in step.checks if check.measured_known}
    shown: list[str] = [f for f in ("p50_ms", "p95_ms", "p99_ms") if f in measured_any]
    shown = shown or ["mean_ms"]
    for figure_name in shown:
        checks = [(step, step.check(figure_name)) for step in steps]
        present = [(step, check) for step, check in checks if check is not None]
        if not present:
            continue
        rates = [load(step) for step, _ in present]
        label = LABELS[figure_name]
        color = COLORS[figure_name]
        figure.add_trace(
            go.Scatter(
                x=rates + rates[::-1],
                y=[check.high for _, check in present] + [check.low for _, check in present][::-1],
                fill="toself",
                fillcolor=_FILL[figure_name],
                mode="lines",
                line={"width": 0},
                hoverinfo="skip",
                name=f"{label} accepted ({result.tolerances.text(figure_name)})",
                legendgroup=label,
            )
        )
        figure.add_trace(
            go.Scatter(
                x=rates,
                y=[check.predicted.mean for _, check in present],
                error_y={
                    "type": "data",
                    "array": [check.predicted.high - check.predicted.mean for _, check in present],
                    "arrayminus": [
                        check.predicted.mean - check.predicted.low for _, check in present
                    ],
                },
                mode="lines+markers",
                line={"color": color, "dash": "dash"},
                name=f"{label} predicted (95% CI)",
                legendgroup=label,
                hovertemplate=f"%{{x:.4g}} {unit}<br>%{{y:.1f}} ms<extra>predicted "
                + label
                + "</extra>",
            )
        )
        measured = [(step, check) for step, check in present if check.measured_known]
        figure.add_trace(
            go.Scatter(
                x=[load(step) for step, _ in measured],
                y=[check.measured for _, check in measured],
                mode="markers",
                marker={
                    "color": color,
                    "size": 10,
                    "symbol": ["circle" if check.agrees else "x" for _, check in measured],
                },
                name=f"{label} measured",
                legendgroup=label,
                text=[f"step {step.step.index}" for step, _ in measured],
                hovertemplate=f"%{{text}}: %{{x:.4g}} {unit}<br>%{{y:.1f}} ms<extra>measured "
                + label
                + "</extra>",
            )
        )
    figure.update_layout(
        title=title
        or (
            f"{chart_text(result.candidate)}: predicted against measured latency ({result.verdict})"
        ),
        xaxis_title="users (closed workload)" if closed else "offered load (requests/s)",
        yaxis_title="latency (ms)",
        yaxis_type="log",
        template="plotly_white",
        legend={"orientation": "h", "y": -0.2},
    )
    return figure
