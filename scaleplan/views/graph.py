"""The architecture drawn as a layered plotly graph, coloured by load; self-contained HTML.

:func:`write_html` writes a figure as one file (plotly.js embedded, no CDN, no MathJax) that
opens offline.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import networkx as nx

from scaleplan.graph import layers
from scaleplan.result import SimulationResult

if TYPE_CHECKING:
    import plotly.graph_objects as go

# Utilisation colour scale: calm green through amber to saturated red at 1.
LOAD_COLORSCALE = [(0.0, "#2ca25f"), (0.6, "#fdae61"), (0.85, "#f46d43"), (1.0, "#a50026")]
IDLE_COLOR = "#9ecae1"


def graph_positions(graph: nx.DiGraph) -> dict[str, tuple[float, float]]:
    """Left-to-right layered positions: x is the call depth from an entry."""
    depth = layers(graph)
    for name in graph:
        graph.nodes[name]["_layer"] = depth[name]
    positions = nx.multipartite_layout(graph, subset_key="_layer", align="vertical")
    for name in graph:
        del graph.nodes[name]["_layer"]
    return {name: (float(x), float(y)) for name, (x, y) in positions.items()}


def _hover(name: str, graph: nx.DiGraph, result: SimulationResult | None) -> str:
    component = graph.nodes[name]["spec"]
    lines = [f"<b>{html.escape(name)}</b> ({component.kind})"]
    if component.capacity:
        replicas = getattr(component, "replicas", 1)
        lines.append(f"capacity {component.capacity} slots ({replicas} replicas)")
    if result is not None and name in result.components:
        metrics = result.components[name]
        lines += [
            f"utilisation {metrics.utilization:.1%}",
            f"throughput {metrics.throughput_per_s:.1f}/s",
            f"mean queue {metrics.mean_queue:.2f}",
            f"latency mean {metrics.latency_ms.mean:.1f} ms, p99 {metrics.latency_ms.p99:.1f} ms",
        ]
        if metrics.rejected:
            lines.append(f"rejected {metrics.rejected}")
    return "<br>".join(lines)


def figure_graph(
    graph: nx.DiGraph, result: SimulationResult | None = None, *, title: str | None = None
) -> go.Figure:
    """The architecture as a layered graph, nodes coloured by utilisation when ``result`` is given.

    Examples
    --------
    >>> from scaleplan.graph import build_graph
    >>> from scaleplan.spec import example_spec
    >>> figure_graph(build_graph(example_spec())).data[-1].text
    ('api',)
    """
    import plotly.graph_objects as go

    positions = graph_positions(graph)
    figure = go.Figure()
    annotations = []
    for source, target, data in graph.edges(data=True):
        (x0, y0), (x1, y1) = positions[source], positions[target]
        annotations.append(
            {
                "x": x1,
                "y": y1,
                "ax": x0,
                "ay": y0,
                "xref": "x",
                "yref": "y",
                "axref": "x",
                "ayref": "y",
                "showarrow": True,
                "arrowhead": 3,
                "arrowsize": 1.2,
                "arrowwidth": 1.5,
                "arrowcolor": "#888",
                "standoff": 18,
                "startstandoff": 18,
            }
        )
        if data["visits"] != 1:
            annotations.append(
                {
                    "x": (x0 + x1) / 2,
                    "y": (y0 + y1) / 2,
                    "text": f"×{data['visits']:.2g}",
                    "showarrow": False,
                    "font": {"size": 11, "color": "#555"},
                }
            )
    names = list(graph)
    loads = []
    for name in names:
        if result is not None and name in result.components:
            value = result.components[name].utilization
            loads.append(value if math.isfinite(value) else 0.0)
        else:
            loads.append(0.0)
    marker: dict[str, Any] = {"size": 42, "line": {"width": 2, "color": "#333"}}
    if result is not None:
        marker |= {
            "color": loads,
            "colorscale": LOAD_COLORSCALE,
            "cmin": 0.0,
            "cmax": 1.0,
            "colorbar": {"title": {"text": "utilisation"}, "tickformat": ".0%"},
        }
    else:
        marker["color"] = IDLE_COLOR
    figure.add_trace(
        go.Scatter(
            x=[positions[name][0] for name in names],
            y=[positions[name][1] for name in names],
            mode="markers+text",
            text=names,
            textposition="bottom center",
            hovertext=[_hover(name, graph, result) for name in names],
            hoverinfo="text",
            marker=marker,
            showlegend=False,
        )
    )
    figure.update_layout(
        title=title if title is not None else html.escape(str(graph.graph.get("name", ""))),
        annotations=annotations,
        xaxis={"visible": False},
        yaxis={"visible": False},
        plot_bgcolor="white",
        margin={"l": 20, "r": 20, "t": 50, "b": 20},
        height=360,
    )
    return figure


def write_html(figure: go.Figure, path: str | Path) -> Path:
    """Write ``figure`` as one HTML file that needs no network (plotly.js embedded)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.write_html(path, include_plotlyjs=True, include_mathjax=False, full_html=True)
    return path
