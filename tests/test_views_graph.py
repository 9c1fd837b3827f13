"""The architecture drawing: one node per component, kinds by symbol, async edges dashed,
figures in the hover, escaped text, and a self-contained HTML file."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from scaleplan.analytic import estimate
from scaleplan.cli import app
from scaleplan.engine import simulate
from scaleplan.graph import build_graph
from scaleplan.kinds import REGISTRY
from scaleplan.spec import ArchitectureSpec, example_spec, parse_spec
from scaleplan.views import figure_graph, graph_positions, write_html
from scaleplan.views.graph import kind_symbol


def exponential(mean_ms: float) -> dict[str, Any]:
    return {"dist": "exponential", "mean_ms": mean_ms}


def every_kind(description: str = "") -> ArchitectureSpec:
    """One component of every kind, a sharded database and a topic with two subscriptions."""
    return parse_spec(
        {
            "name": "all-kinds",
            "workload": {"rate_per_s": 50, "requests": 3000},
            "entry": "cdn",
            "components": {
                "cdn": {"kind": "edge", "to": "lb", "share": 0.5},
                "lb": {"kind": "load_balancer", "to": "api"},
                "api": {
                    "kind": "service",
                    "replicas": 2,
                    "concurrency": 4,
                    "service_time": exponential(5),
                    "description": description,
                    "calls": [{"to": "cache"}, {"to": "jobs"}, {"to": "events"}],
                },
                "cache": {"kind": "cache", "backing": "db", "hit_ratio": 0.7},
                "db": {
                    "kind": "database",
                    "shards": 3,
                    "partitioning": "range",
                    "keys": {"count": 1000, "popularity": "zipf"},
                    "read_time": exponential(3),
                },
                "jobs": {"kind": "queue", "consumer": "workers"},
                "workers": {
                    "kind": "worker_pool",
                    "concurrency": 4,
                    "service_time": exponential(20),
                },
                "events": {
                    "kind": "topic",
                    "subscriptions": [
                        {"name": "mail", "consumer": "mailers"},
                        {"name": "stats", "consumer": "workers"},
                    ],
                },
                "mailers": {
                    "kind": "worker_pool",
                    "concurrency": 2,
                    "service_time": exponential(8),
                },
            },
        }
    )


def nodes(figure: Any) -> Any:
    return figure.data[-1]


def edges(figure: Any) -> list[Any]:
    return [trace for trace in figure.data if trace.meta and "edge" in trace.meta]


def hover_of(figure: Any, name: str) -> str:
    trace = nodes(figure)
    return str(trace.hovertext[list(trace.text).index(name)])


def test_one_node_per_component_with_its_kinds_symbol() -> None:
    spec = every_kind()
    graph = build_graph(spec)
    figure = figure_graph(graph, estimate(spec))
    trace = nodes(figure)
    assert list(trace.text) == list(graph) == list(spec.components)
    assert len(trace.x) == len(trace.y) == len(spec.components)
    assert list(trace.customdata) == [spec.components[name].kind for name in graph]
    assert list(trace.marker.symbol) == [kind_symbol(kind) for kind in trace.customdata]
    symbols = [kind.symbol for kind in REGISTRY.values()]
    assert len(set(symbols)) == len(symbols)  # one symbol per kind
    # Shards and subscriptions are rows of a result, not nodes of the drawing.
    assert not any("/" in name for name in trace.text)
    others = [trace for trace in figure.data[:-1] if trace.x and trace.x[0] is not None]
    assert all(trace.meta and "edge" in trace.meta for trace in others)


def test_legend_lists_the_kinds_present_and_the_edge_styles() -> None:
    figure = figure_graph(build_graph(every_kind()))
    legend = [trace for trace in figure.data if trace.showlegend is not False]
    names = [trace.name for trace in legend]
    labelled = "×n: calls per visit<br>of the caller (no label: 1)"  # the cache's misses: ×0.3
    assert names == [kind.replace("_", " ") for kind in REGISTRY] + [
        "call",
        "asynchronous",
        labelled,
    ]
    assert any(label["text"].startswith("×") for label in figure.layout.annotations)
    symbols = [trace.marker.symbol for trace in legend if trace.mode == "markers"]
    assert symbols == [kind.symbol for kind in REGISTRY.values()]
    only_services = figure_graph(build_graph(example_spec()))
    assert [t.name for t in only_services.data if t.showlegend is not False] == ["service", "call"]


def test_asynchronous_edges_are_dashed() -> None:
    graph = build_graph(every_kind())
    figure = figure_graph(graph)
    drawn = {tuple(trace.meta["edge"]): trace for trace in edges(figure)}
    assert set(drawn) == set(graph.edges)
    for (source, target), trace in drawn.items():
        asynchronous = graph.edges[source, target]["asynchronous"]
        assert trace.meta["asynchronous"] is asynchronous
        assert trace.line.dash == ("dash" if asynchronous else "solid")
    dashed = {edge for edge, trace in drawn.items() if trace.line.dash == "dash"}
    assert dashed == {("jobs", "workers"), ("events", "mailers"), ("events", "workers")}


def test_hover_holds_the_figures_and_the_parts() -> None:
    spec = every_kind()
    result = estimate(spec)
    figure = figure_graph(build_graph(spec), result)
    api = hover_of(figure, "api")
    metrics = result.components["api"]
    assert f"utilisation {metrics.utilization:.1%}" in api
    assert f"throughput {metrics.throughput_per_s:.1f}/s" in api
    assert f"latency mean {metrics.latency_ms.mean:.1f} ms" in api
    assert "capacity 8 slots (2 replicas)" in api
    db = hover_of(figure, "db")
    for index in range(3):
        shard = result.components[f"db/shard-{index}"]
        assert f"shard-{index}: utilisation {shard.utilization:.1%}" in db
    events = hover_of(figure, "events")
    assert "mail: consumer lag" in events and "stats: consumer lag" in events
    assert "consumer lag" in hover_of(figure, "jobs")
    assert "hit ratio expected 70.0%" in hover_of(figure, "cache")


def test_nodes_are_coloured_by_load_and_a_database_by_its_busiest_shard() -> None:
    spec = every_kind()
    result = estimate(spec)
    trace = nodes(figure_graph(build_graph(spec), result))
    colours = dict(zip(trace.text, trace.marker.color, strict=True))
    assert colours["api"] == pytest.approx(result.components["api"].utilization)
    shards = [result.components[f"db/shard-{index}"].utilization for index in range(3)]
    assert colours["db"] == pytest.approx(max(shards))
    assert colours["db"] > result.components["db"].utilization  # the hot shard shows
    assert trace.marker.cmin == 0 and trace.marker.cmax == 1
    idle = nodes(figure_graph(build_graph(spec)))
    assert isinstance(idle.marker.color, str)


def test_a_simulation_result_is_drawn_too() -> None:
    spec = every_kind()
    result = simulate(spec, seed=1, requests=3000)
    figure = figure_graph(build_graph(spec), result)
    assert "shard-2: utilisation" in hover_of(figure, "db")
    assert "hit ratio" in hover_of(figure, "cache")


def test_names_and_descriptions_are_escaped() -> None:
    spec = every_kind(description='<script>alert("x")</script> & <b>bold</b>')
    figure = figure_graph(build_graph(spec), estimate(spec))
    api = hover_of(figure, "api")
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in api
    assert "<script>" not in api and "<b>bold" not in api


def test_write_html_embeds_plotly_once_and_loads_nothing(tmp_path: Path) -> None:
    spec = every_kind(description="<script>alert(1)</script>")
    figure = figure_graph(build_graph(spec), estimate(spec))
    path = write_html(figure, tmp_path / "out" / "graph.html")
    page = path.read_text(encoding="utf-8")
    assert page.count("plotly.js v") == 1  # the bundle's licence header, once
    assert '<script src="http' not in page
    assert re.findall(r"<script[^>]*>", page) == ["<script>"] * page.count("<script")
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)" in page or "\\u0026lt;script\\u0026gt;alert(1)" in page
    assert len(page) > 1_000_000


def test_positions_are_layered_by_call_depth() -> None:
    graph = build_graph(every_kind())
    positions = graph_positions(graph)
    assert positions["cdn"][0] < positions["lb"][0] < positions["api"][0]
    assert positions["api"][0] < positions["jobs"][0] < positions["workers"][0]
    assert len(set(positions.values())) == len(positions)  # no two nodes on one spot
    assert "_layer" not in graph.nodes["api"]


# --------------------------------------------------------------------------- routes and --rate


def layer_skipping() -> ArchitectureSpec:
    """api calls auth → sessions → db and db directly: the direct call skips two layers, with
    components in each (the straight line from api to db ran through them)."""
    return parse_spec(layer_skipping_document())


def layer_skipping_document() -> dict[str, Any]:
    service = {"kind": "service", "service_time": exponential(2)}
    return dict(
        {
            "name": "skip-layers",
            "entry": "lb",
            "workload": {"rate_per_s": 40, "requests": 2000},
            "components": {
                "lb": {"kind": "load_balancer", "to": "api"},
                "api": {
                    **service,
                    "replicas": 2,
                    "calls": [{"to": "auth"}, {"to": "db", "probability": 0.4}, {"to": "audit"}],
                },
                "auth": {**service, "calls": [{"to": "sessions"}]},
                "sessions": {**service, "calls": [{"to": "db"}]},
                "audit": service,
                "db": {"kind": "database", "read_time": exponential(3)},
            },
        }
    )


def _distance(point: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
    """From ``point`` to the segment a–b."""
    (px, py), (ax, ay), (bx, by) = point, a, b
    dx, dy = bx - ax, by - ay
    length = dx * dx + dy * dy
    t = 0.0 if length == 0 else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / length))
    return float(((px - ax - t * dx) ** 2 + (py - ay - t * dy) ** 2) ** 0.5)


@pytest.mark.parametrize("spec", [layer_skipping(), every_kind()], ids=["skip", "every-kind"])
def test_no_edge_is_drawn_through_a_component(spec: ArchitectureSpec) -> None:
    graph = build_graph(spec)
    figure = figure_graph(graph)
    positions = graph_positions(graph)
    for trace in edges(figure):
        source, target = trace.meta["edge"]
        points = list(zip(trace.x, trace.y, strict=True))
        assert points[0] == positions[source] and points[-1] == positions[target]
        for name, where in positions.items():
            if name in (source, target):
                continue
            # Components sit a layer (1) apart and at least one slot (1) apart in a layer: a
            # line that keeps a third of a slot away passes beside a marker, not through it.
            gap = min(_distance(where, a, b) for a, b in itertools.pairwise(points))
            assert gap > 0.3, f"{source} → {target} passes {gap:.2f} from {name}"


def test_graph_rate_colours_by_the_load_at_that_rate(tmp_path: Path) -> None:
    spec = tmp_path / "skip.json"  # JSON is YAML
    spec.write_text(json.dumps(layer_skipping_document()))

    def api_utilisation(*options: str) -> tuple[str, str]:
        page = tmp_path / "graph.html"
        done = CliRunner().invoke(app, ["graph", str(spec), "-o", str(page), *options])
        assert done.exit_code == 0, done.output
        text = page.read_text(encoding="utf-8")
        hover = r"api\\u003c\\u002fb\\u003e \(service\)[^\"]*?utilisation ([\d.]+%)"
        found = re.search(hover, text)
        assert found, "no utilisation in the api's hover"
        return found.group(1), text.replace("\\u002f", "/")  # plotly's JSON escapes "/"

    architecture = layer_skipping()
    # The hover shows the closed form's or the simulation's figure at the rate asked for.
    shown, page = api_utilisation("--no-simulate", "--rate", "20")
    assert shown == f"{estimate(architecture, rate_per_s=20).components['api'].utilization:.1%}"
    assert "utilisation at 20 requests/s (closed form)" in page
    shown, page = api_utilisation("--rate", "20")
    ran = simulate(architecture, rate_per_s=20, seed=1)
    assert shown == f"{ran.components['api'].utilization:.1%}"
    assert "utilisation at 20 requests/s (simulated)" in page
    # Beyond capacity the simulation is refused and the closed form says how far beyond.
    over, page = api_utilisation("--rate", "5000")
    assert float(over.rstrip("%")) > 100
    assert "utilisation at 5000 requests/s (closed form)" in page
