"""The architecture drawn as a layered plotly graph, coloured by load; self-contained HTML.

One marker per component, its symbol telling the kind (a legend lists them) and its colour the
load when a result is given. Parts of a component that have rows of their own in a result
(a database's shards, a topic's subscriptions) are not drawn as nodes: they are listed in the
hover of their component, and a database takes the colour of its busiest shard or node, so a
hot shard shows. Synchronous calls are solid arrows; a broker's deliveries to its consumers,
which nobody waits for, are dashed.

:func:`write_html` writes a figure as one file (plotly.js embedded, no CDN, no MathJax) that
opens offline. Every name and description is HTML-escaped before plotly renders it.
"""

from __future__ import annotations

import contextlib
import errno
import html
import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import networkx as nx

from scaleplan.formatting import ms as _ms
from scaleplan.graph import layers
from scaleplan.kinds import REGISTRY
from scaleplan.result import ComponentResult, SimulationResult

if TYPE_CHECKING:
    import plotly.graph_objects as go

# Utilisation colour scale: calm green through amber to saturated red at 1.
LOAD_COLORSCALE = [(0.0, "#2ca25f"), (0.6, "#fdae61"), (0.85, "#f46d43"), (1.0, "#a50026")]
IDLE_COLOR = "#9ecae1"
EDGE_COLOR = "#888"


def kind_symbol(kind: str) -> str:
    """The plotly marker symbol of a component kind, from the registry of kinds (asked at
    drawing time, so a kind registered later is drawn with its own; unknown kinds are
    circles)."""
    found = REGISTRY.get(kind)
    return found.symbol if found is not None else "circle"


#: Parts listed in a component's hover at most; the rest are counted.
MAX_PARTS_SHOWN = 12


def graph_positions(graph: nx.DiGraph) -> dict[str, tuple[float, float]]:
    """Left-to-right layered positions: x is the call depth from an entry, and within a layer
    the components are ordered by the mean height of their neighbours (a few barycentre sweeps,
    as in Sugiyama's layout) so that fewer edges cross. An edge that skips layers holds a slot
    of its own in each layer it crosses (:func:`edge_routes`), so no node sits on its way.

    Examples
    --------
    >>> G = nx.DiGraph([("lb", "api"), ("api", "db")])
    >>> graph_positions(G)
    {'lb': (0.0, 0.0), 'api': (1.0, 0.0), 'db': (2.0, 0.0)}
    """
    return _layout(graph)[0]


def edge_routes(graph: nx.DiGraph) -> dict[tuple[str, str], list[tuple[float, float]]]:
    """The points each edge is drawn through, from its source to its target.

    An edge to the next layer is straight. An edge that skips layers bends through a slot of
    its own in every layer between (a virtual node of the layered layout), so it passes
    between the components there, never through one. An edge within a layer (a call cycle)
    bows out to the right of the layer, clear of the components stacked in it.

    Examples
    --------
    >>> G = nx.DiGraph([("api", "cache"), ("cache", "db"), ("api", "db")])
    >>> route = edge_routes(G)[("api", "db")]
    >>> len(route), route[1][0], route[1] != graph_positions(G)["cache"]
    (3, 1.0, True)
    """
    return _layout(graph)[1]


def _layout(
    graph: nx.DiGraph,
) -> tuple[dict[str, tuple[float, float]], dict[tuple[str, str], list[tuple[float, float]]]]:
    depth = layers(graph)
    # The layered graph: each edge that skips layers is cut into one-layer steps through
    # virtual nodes, which are ordered with the components (so they get slots of their own).
    layered = nx.DiGraph()
    layered.add_nodes_from(graph)
    level: dict[Any, int] = dict(depth)
    chains: dict[tuple[str, str], list[Any]] = {}
    for source, target in graph.edges:
        gap = depth[target] - depth[source]
        chain: list[Any] = [source]
        for step in range(1, gap):
            virtual = ("virtual", source, target, step)
            level[virtual] = depth[source] + step
            chain.append(virtual)
        chain.append(target)
        chains[source, target] = chain
        nx.add_path(layered, chain)
    by_layer: dict[int, list[Any]] = {}
    for node in layered:
        by_layer.setdefault(level[node], []).append(node)

    def height(node: Any) -> float:
        members = by_layer[level[node]]
        return members.index(node) - (len(members) - 1) / 2

    def sweep(levels: list[int], neighbours: Any) -> None:
        for current_level in levels:
            current = {node: height(node) for node in by_layer[current_level]}
            keys = {}
            for node in by_layer[current_level]:
                near = [other for other in neighbours(node) if level[other] != current_level]
                keys[node] = sum(map(height, near)) / len(near) if near else current[node]
            by_layer[current_level].sort(key=lambda node: keys[node])

    levels = sorted(by_layer)
    for _ in range(4):
        sweep(levels[1:], layered.predecessors)
        sweep(levels[-2::-1], layered.successors)
    place = {node: (float(level[node]), -height(node) + 0.0) for node in layered}
    routes: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for (source, target), chain in chains.items():
        points = [place[node] for node in chain]
        if depth[source] == depth[target]:  # within a layer: bow out to its right
            (x0, y0), (x1, y1) = points
            points = [(x0, y0), (x0 + 0.35, (y0 + y1) / 2), (x1, y1)]
        routes[source, target] = points
    return {name: place[name] for name in graph}, routes


def _parts(name: str, result: SimulationResult | None) -> dict[str, ComponentResult]:
    """The rows of a component's parts ("<name>/<part>"), by part name, in result order."""
    if result is None:
        return {}
    prefix = f"{name}/"
    return {
        key[len(prefix) :]: metrics
        for key, metrics in result.components.items()
        if key.startswith(prefix)
    }


def _load(name: str, result: SimulationResult | None) -> float:
    """The colour value: utilisation, or for a component with parts its most loaded part."""
    if result is None or name not in result.components:
        return 0.0
    metrics = result.components[name]
    values = [metrics.utilization]
    values += [part.utilization for part in _parts(name, result).values()]
    busiest = metrics.details.get("busiest_node_utilization")
    if isinstance(busiest, int | float):
        values.append(float(busiest))
    finite = [value for value in values if math.isfinite(value)]
    return max(finite, default=0.0)


def _part_lines(parts: Mapping[str, ComponentResult]) -> list[str]:
    lines: list[str] = []
    for index, (part, metrics) in enumerate(parts.items()):
        if index == MAX_PARTS_SHOWN:
            lines.append(f"  … and {len(parts) - MAX_PARTS_SHOWN} more")
            break
        label = html.escape(part)
        if metrics.kind == "shard":
            share = metrics.details.get("share")
            busiest = metrics.details.get("busiest_node_utilization")
            text = f"  {label}: utilisation {metrics.utilization:.1%}"
            if isinstance(busiest, int | float):
                text += f" (busiest node {busiest:.1%})"
            if isinstance(share, int | float):
                text += f", share {share:.1%}"
            text += f", {metrics.throughput_per_s:.1f}/s, latency {_ms(metrics.latency_ms.mean)}"
        else:
            text = (
                f"  {label}: consumer lag {_ms(metrics.wait_ms)}, "
                f"time in system {_ms(metrics.latency_ms.mean)}"
            )
        lines.append(text)
    return lines


def _hover(name: str, graph: nx.DiGraph, result: SimulationResult | None) -> str:
    component = graph.nodes[name]["spec"]
    lines = [f"<b>{html.escape(name)}</b> ({html.escape(component.kind)})"]
    description = getattr(component, "description", "")
    if description:
        lines.append(f"<i>{html.escape(description)}</i>")
    if component.capacity:
        if component.kind == "database":
            shape = f" ({component.shards} shards × {component.nodes_per_shard} nodes)"
        else:
            replicas = getattr(component, "replicas", None)
            shape = f" ({replicas} replicas)" if replicas else ""
        lines.append(f"capacity {component.capacity} slots{shape}")
    # An exit has no arrow to draw: say where visits may end early.
    exits = [
        f"calls[{index}] ends {call.probability:.0%} of the visits reaching it"
        for index, call in enumerate(getattr(component, "calls", ()))
        if call.exit
    ]
    if exits:
        lines.append(f"exit: {'; '.join(exits)}")
    if result is not None and name in result.components:
        metrics = result.components[name]
        if metrics.capacity:
            lines.append(f"utilisation {metrics.utilization:.1%}")
        lines += [
            f"throughput {metrics.throughput_per_s:.1f}/s",
            f"mean queue {metrics.mean_queue:.2f}",
            f"latency mean {_ms(metrics.latency_ms.mean)}, p99 {_ms(metrics.latency_ms.p99)}",
        ]
        if component.kind == "queue":
            lines.append(f"consumer lag {_ms(metrics.wait_ms)} (latency = time in system)")
        elif math.isfinite(metrics.wait_ms) and metrics.wait_ms > 0:
            lines.append(f"wait {_ms(metrics.wait_ms)}")
        details = metrics.details
        for key, label in (("hit_ratio_whole_run", "hit ratio"), ("hit_ratio_expected", "")):
            value = details.get(key)
            if isinstance(value, int | float):
                lines.append(
                    f"hit ratio {value:.1%}" if label else f"hit ratio expected {value:.1%}"
                )
        if metrics.rejected:
            lines.append(f"rejected {metrics.rejected}")
        if metrics.method:
            lines.append(f"method: {html.escape(metrics.method)}")
        parts = _parts(name, result)
        if parts:
            title = "shards" if component.kind == "database" else "subscriptions"
            lines.append(f"{title}:")
            lines += _part_lines(parts)
        if result.unstable is not None and result.unstable.component == name:
            lines.append(f"<b>unstable</b>: {html.escape(result.unstable.reason)}")
    return "<br>".join(lines)


def _edge_traces(
    graph: nx.DiGraph, routes: Mapping[tuple[str, str], list[tuple[float, float]]]
) -> tuple[list[go.Scatter], list[dict[str, Any]]]:
    """One line per edge along its route (dashed when asynchronous), its arrowhead halfway
    along its last stretch; components are drawn over the lines, so a line ends at the border
    of its component's marker."""
    import plotly.graph_objects as go

    traces: list[go.Scatter] = []
    labels: list[dict[str, Any]] = []
    for source, target, data in graph.edges(data=True):
        route = list(routes[source, target])
        (x0, y0), (x1, y1) = route[0], route[1]
        (xa, ya), (xb, yb) = route[-2], route[-1]
        points = [*route[:-1], ((xa + xb) / 2, (ya + yb) / 2), route[-1]]
        asynchronous = bool(data.get("asynchronous", False))
        visits = float(data.get("visits", 1.0))
        kind = "asynchronous delivery" if asynchronous else "call"
        text = f"{html.escape(source)} → {html.escape(target)}: {kind}, ×{visits:.3g} per visit"
        traces.append(
            go.Scatter(
                x=[x for x, _ in points],
                y=[y for _, y in points],
                mode="lines+markers",
                line={
                    "color": EDGE_COLOR,
                    "width": 1.5,
                    "dash": "dash" if asynchronous else "solid",
                    "shape": "spline" if len(route) > 2 else "linear",
                },
                marker={
                    "symbol": "arrow",
                    "angleref": "previous",
                    "size": [0] * (len(points) - 2) + [13, 0],
                    "color": EDGE_COLOR,
                },
                hovertext=[text] * len(points),
                hoverinfo="text",
                name=f"{source} → {target}",
                meta={"edge": [source, target], "asynchronous": asynchronous},
                showlegend=False,
            )
        )
        if not math.isclose(visits, 1.0):
            labels.append(
                {
                    "x": 0.75 * x0 + 0.25 * x1,
                    "y": 0.75 * y0 + 0.25 * y1,
                    "text": f"×{visits:.3g}",
                    "showarrow": False,
                    "font": {"size": 11, "color": "#555"},
                    "bgcolor": "white",
                }
            )
    return traces, labels


def _legend_traces(graph: nx.DiGraph, labelled: bool = False) -> list[go.Scatter]:
    """Legend entries only: one per kind present, the two kinds of edge and, when an edge
    carries one, what its ×n label means."""
    import plotly.graph_objects as go

    kinds = sorted({graph.nodes[name]["spec"].kind for name in graph}, key=_kind_order)
    entries = [
        go.Scatter(
            x=[None],
            y=[None],
            mode="markers",
            marker={
                "symbol": kind_symbol(kind),
                "size": 12,
                "color": "white",
                "line": {"width": 2, "color": "#333"},
            },
            name=kind.replace("_", " "),
            legendgroup="kinds",
            legendgrouptitle={"text": "kinds"} if index == 0 else None,
            hoverinfo="skip",
        )
        for index, kind in enumerate(kinds)
    ]
    has_async = any(data.get("asynchronous", False) for _, _, data in graph.edges(data=True))
    for index, (label, dash) in enumerate(
        [("call", "solid"), *([("asynchronous", "dash")] if has_async else [])]
    ):
        entries.append(
            go.Scatter(
                x=[None],
                y=[None],
                mode="lines",
                line={"color": EDGE_COLOR, "width": 1.5, "dash": dash},
                name=label,
                legendgroup="edges",
                legendgrouptitle={"text": "edges"} if index == 0 else None,
                hoverinfo="skip",
            )
        )
    if labelled:
        # An edge's "×0.3": calls (or deliveries) per visit of its source, unlabelled when 1.
        entries.append(
            go.Scatter(
                x=[None],
                y=[None],
                mode="lines",
                line={"color": "rgba(0,0,0,0)", "width": 0},
                name="×n: calls per visit<br>of the caller (no label: 1)",
                legendgroup="edges",
                hoverinfo="skip",
            )
        )
    return entries


def _kind_order(kind: str) -> int:
    order = list(REGISTRY)
    return order.index(kind) if kind in order else len(order)


def figure_graph(
    graph: nx.DiGraph, result: SimulationResult | None = None, *, title: str | None = None
) -> go.Figure:
    """The architecture as a layered graph, nodes coloured by utilisation when ``result`` is given.

    Parameters
    ----------
    graph : nx.DiGraph
        From :func:`scaleplan.graph.build_graph`.
    result : SimulationResult, optional
        A simulation or an estimate; its figures go into each node's hover and colour.
    title : str, optional
        Defaults to the architecture's name.

    Returns
    -------
    go.Figure
        The last trace holds the nodes (one point per component, in graph order, with its
        kind in ``customdata``); before it, one trace per edge (``line.dash`` is ``"dash"``
        for an asynchronous one) and legend-only traces for the kinds and edge styles.

    Examples
    --------
    >>> from scaleplan.graph import build_graph
    >>> from scaleplan.spec import example_spec
    >>> figure = figure_graph(build_graph(example_spec()))
    >>> figure.data[-1].text, figure.data[-1].marker.symbol
    (('api',), ('circle',))
    """
    import plotly.graph_objects as go

    positions, routes = _layout(graph)
    figure = go.Figure()
    edges, labels = _edge_traces(graph, routes)
    for trace in [*edges, *_legend_traces(graph, bool(labels))]:
        figure.add_trace(trace)

    names = list(graph)
    kinds = [graph.nodes[name]["spec"].kind for name in names]
    marker: dict[str, Any] = {
        "size": 36,
        "symbol": [kind_symbol(kind) for kind in kinds],
        "line": {"width": 2, "color": "#333"},
    }
    if result is not None:
        marker |= {
            "color": [_load(name, result) for name in names],
            "colorscale": LOAD_COLORSCALE,
            "cmin": 0.0,
            "cmax": 1.0,
            "colorbar": {"title": {"text": "utilisation"}, "tickformat": ".0%", "x": 1.02},
        }
    else:
        marker["color"] = IDLE_COLOR
    figure.add_trace(
        go.Scatter(
            x=[positions[name][0] for name in names],
            y=[positions[name][1] for name in names],
            mode="markers+text",
            text=[html.escape(name) for name in names],
            textposition="bottom center",
            hovertext=[_hover(name, graph, result) for name in names],
            hoverinfo="text",
            customdata=kinds,
            marker=marker,
            name="components",
            showlegend=False,
        )
    )
    figure.update_layout(
        title=title if title is not None else html.escape(str(graph.graph.get("name", ""))),
        annotations=labels,
        xaxis={"visible": False},
        yaxis={"visible": False},
        plot_bgcolor="white",
        margin={"l": 20, "r": 20, "t": 50, "b": 20},
        height=max(360, 90 * max(_layer_sizes(graph), default=1)),
        legend={"x": 1.12, "y": 1, "itemclick": False, "itemdoubleclick": False},
        hoverlabel={"align": "left"},
    )
    return figure


def _layer_sizes(graph: nx.DiGraph) -> list[int]:
    counts: dict[int, int] = {}
    for depth in layers(graph).values():
        counts[depth] = counts.get(depth, 0) + 1
    return list(counts.values())


def write_html(figure: go.Figure | str, path: str | Path, *, kept: str = "") -> Path:
    """Write ``figure`` (or a page, :class:`~scaleplan.views.tables.Html`) as one HTML file
    that needs no network (plotly.js embedded).

    A write that fails (a folder in the way, a missing or read-only folder, a full disk) is an
    :class:`~scaleplan.paths.OutputError` naming the file, the reason and ``kept`` (where what
    was computed can still be found); no half-written file is left.
    """
    from scaleplan.paths import OutputError, output_problem
    from scaleplan.views.axes import log_safe

    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            raise IsADirectoryError(errno.EISDIR, "Is a directory", str(path))
        # Written in place, not renamed over: ``path`` may be a device (/dev/stdout).
        if isinstance(figure, str):  # a page (Html) made of tables and figures
            path.write_text(figure, encoding="utf-8")
        else:
            log_safe(figure).write_html(
                path, include_plotlyjs=True, include_mathjax=False, full_html=True
            )
    except OSError as error:
        with contextlib.suppress(OSError):
            if path.is_file():
                path.unlink()  # half written
        raise OutputError(output_problem(path, error, kept=kept)) from None
    return path
