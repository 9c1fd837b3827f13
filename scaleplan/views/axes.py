"""Axes that span their data, marker lines that stay where they are drawn, and the note shown
in place of a figure that has nothing to draw.

plotly places an *annotation* on a log axis in log10 units but a *shape* in data units, so
``add_vline(x=120, annotation_text=…)`` on a log axis draws the line at 120 and stretches the
autorange to 10^120 for its label (the RTO axis that ran to 10^138 minutes). :func:`mark`
draws the line with the shape's own label instead, which follows the shape, and the figures
set their ranges from their data with :func:`span` rather than leaving plotly to autorange one
point into a sliver (a cost axis of 1.5 EUR around one option).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = [
    "NOTE_KEY",
    "finite",
    "log_safe",
    "mark",
    "note",
    "note_figure",
    "panel_note",
    "span",
]

#: Where :func:`note_figure` keeps its reason in ``layout.meta`` (read by :func:`note`).
NOTE_KEY = "scaleplan_note"
#: A range's padding each side, as a share of the data's spread.
PAD = 0.08
#: A range is at least this share of its largest magnitude wide, so that near-equal values
#: (two options costing 1,000 and 1,001 EUR) are not blown up into a zoom on the cents.
MIN_RELATIVE_WIDTH = 0.2


def finite(values: Iterable[Any]) -> list[float]:
    """The finite numbers among ``values`` (None, NaN and ±∞ left out)."""
    found = []
    for value in values:
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            found.append(float(value))
    return found


def span(
    values: Iterable[Any], *, log: bool = False, floor: float | None = None
) -> list[float] | None:
    """The range of an axis showing ``values``, padded; ``None`` when none is drawable.

    A linear range is padded by :data:`PAD` of the spread each side and is at least
    :data:`MIN_RELATIVE_WIDTH` of the largest magnitude wide (one point sits in the middle of
    ±10% of itself; zero alone gets −1 … 1). A log range is in log10 units, as plotly wants
    it, over the positive values only, padded by a tenth of a decade at least. ``floor``
    keeps a linear range from starting below it (0 for costs and latencies).

    Examples
    --------
    >>> span([1234.0])
    [1110.6, 1357.4]
    >>> span([10.0, 1000.0], log=True)
    [0.84, 3.16]
    >>> span([5.0, 200.0], floor=0.0)
    [0.0, 215.6]
    >>> span([float("inf"), None]) is None
    True
    """
    numbers = finite(values)
    if log:
        numbers = [math.log10(value) for value in numbers if value > 0]
        if not numbers:
            return None
        low, high = min(numbers), max(numbers)
        pad = max(PAD * (high - low), 0.1)
        return [round(low - pad, 6), round(high + pad, 6)]
    if not numbers:
        return None
    low, high = min(numbers), max(numbers)
    largest = max(abs(low), abs(high))
    width = max(high - low, MIN_RELATIVE_WIDTH * largest) or 2.0
    middle = (low + high) / 2
    half = width / 2 + PAD * (high - low)
    start = middle - half if floor is None or low < floor else max(middle - half, floor)
    return [round(start, 10), round(middle + half, 10)]


def mark(
    figure: go.Figure,
    axis: Literal["x", "y"],
    value: float,
    text: str = "",
    *,
    color: str,
    dash: str = "dash",
    width: float = 1.5,
    position: str = "end",
    within: list[float] | None = None,
    log: bool = False,
    row: int | str | None = None,
    col: int | None = None,
) -> None:
    """A vertical (``axis="x"``) or horizontal line at ``value`` in data units, labelled with
    ``text`` (already escaped) by the shape itself, so it is right on log axes too.

    A vertical line's label sits left of it, or right of it when the line is in the left
    third of ``within`` (the axis range as :func:`span` gives it, in log10 units when ``log``),
    where a label on the left would be cut at the plot's edge."""
    if not (isinstance(value, int | float) and math.isfinite(value)):
        return
    line = {"color": color, "dash": dash, "width": width}
    label: dict[str, Any] = {"font": {"size": 11, "color": color}}
    if text:
        label |= {"text": text, "textposition": position}
    where: dict[str, Any] = {} if row is None else {"row": row, "col": col}
    if axis == "x":
        # Upright, beside the line and inside the plot (centred on it, it is cut at the edge).
        side = "right"
        if within is not None and within[1] > within[0] and (value > 0 or not log):
            at = math.log10(value) if log else value
            side = "left" if (at - within[0]) / (within[1] - within[0]) < 1 / 3 else "right"
        if text:
            label |= {"textangle": 0, "xanchor": side, "yanchor": "top", "padding": 4}
        figure.add_vline(x=value, line=line, label=label, **where)
    else:
        figure.add_hline(y=value, line=line, label=label, **where)


def note_figure(reason: str, *, title: str = "") -> go.Figure:
    """A figure with nothing to draw: no axes, ``reason`` (plain text, escaped here) in words
    in its middle, and kept in ``layout.meta`` so that the record and the pages show the words
    instead of an empty chart. ``title`` is plotly's (already escaped).

    Examples
    --------
    >>> note(note_figure("No option <was> pulled."))
    'No option <was> pulled.'
    """
    import html

    import plotly.graph_objects as go

    figure = go.Figure()
    figure.update_layout(
        title=title,
        meta={NOTE_KEY: reason},
        xaxis={"visible": False},
        yaxis={"visible": False},
        template="plotly_white",
        height=220,
        annotations=[
            {
                "text": html.escape(reason),
                "xref": "paper",
                "yref": "paper",
                "x": 0.5,
                "y": 0.5,
                "showarrow": False,
                "font": {"size": 14, "color": "#555"},
            }
        ],
    )
    return figure


def note(figure: Any) -> str | None:
    """The reason a figure made by :func:`note_figure` has nothing to draw, else ``None``."""
    meta = getattr(getattr(figure, "layout", None), "meta", None)
    if isinstance(meta, dict) and isinstance(meta.get(NOTE_KEY), str):
        return str(meta[NOTE_KEY])
    return None


def log_safe(figure: Any) -> Any:
    """``figure`` with the labels plotly.py's ``add_hline``/``add_vline(annotation_text=…)``
    put on a log axis moved to where their lines are.

    Such a label is an annotation at the line's value in data units, which plotly.js reads in
    log10 units on a log axis: the label of an SLO line at 200 ms asked for 10^200 and the
    axis stretched to show it. Only an annotation whose position on a log axis equals a line
    shape's on that axis is changed (to the log10 of it), so one placed in log units on
    purpose stays. Applied where figures leave scaleplan (the record, ``--html`` files), for
    every builder's figures alike; :func:`mark` draws lines that need none of it.

    Examples
    --------
    >>> import plotly.graph_objects as go
    >>> figure = go.Figure(go.Scatter(x=[1, 2], y=[5, 50]), layout={"yaxis_type": "log"})
    >>> _ = figure.add_hline(y=100, annotation_text="SLO")
    >>> log_safe(figure).layout.annotations[0].y
    2.0
    """
    layout = getattr(figure, "layout", None)
    if layout is None or not layout.annotations:
        return figure
    for annotation in layout.annotations:
        for letter in ("x", "y"):
            ref = annotation[f"{letter}ref"] or letter
            axis = layout[f"{letter}axis{ref[1:]}"] if ref[1:].isdigit() or ref == letter else None
            value = annotation[letter]
            if axis is None or axis.type != "log" or not isinstance(value, int | float):
                continue
            on_a_line = any(
                shape.type == "line"
                and shape[f"{letter}ref"] == ref
                and shape[f"{letter}0"] == shape[f"{letter}1"] == value
                for shape in layout.shapes
            )
            if on_a_line and value > 0:
                annotation[letter] = math.log10(value)
    return figure


def panel_note(figure: go.Figure, row: int, reason: str, color: str = "#555555") -> None:
    """An empty panel (``row`` of a one-column subplot figure) says why, in its middle:
    ``reason`` is plain text, escaped here."""
    from scaleplan.formatting import chart_text

    axis = "" if row == 1 else str(row)
    figure.add_annotation(
        text=chart_text(reason),
        xref=f"x{axis} domain",
        yref=f"y{axis} domain",
        x=0.5,
        y=0.5,
        showarrow=False,
        font={"color": color},
    )
