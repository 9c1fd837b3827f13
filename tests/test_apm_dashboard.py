"""The Grafana dashboard: an SLO row, a row per component, every query on a known series."""

from __future__ import annotations

import json

from _apm import shop_design

from scaleplan.apm.dashboard import SCHEMA_VERSION, dashboard, dashboard_json, metric_names

NFRS = {
    "slos": ["p99<=400ms", "errors<=0.1%", "checkout.p95<=800ms", "mean<=60ms"],
    "availability": {"min_percent": 99.9},
}


def _rows(board: dict) -> list[tuple[dict, list[dict]]]:
    rows: list[tuple[dict, list[dict]]] = []
    for panel in board["panels"]:
        if panel["type"] == "row":
            rows.append((panel, []))
        else:
            rows[-1][1].append(panel)
    return rows


def test_an_slo_row_then_a_row_per_component() -> None:
    made = shop_design(NFRS, candidate="three-tier")
    board = json.loads(dashboard_json(made))
    assert board["schemaVersion"] == SCHEMA_VERSION >= 36
    rows = _rows(board)
    assert rows[0][0]["title"].startswith("SLOs")
    names = [row["title"].split(" (")[0] for row, _ in rows[1:]]
    assert names == list(made.spec.components)
    slo_titles = [panel["title"] for panel in rows[0][1]]
    for objective in made.objectives:
        if objective.kind == "mean":
            assert f"{objective.text}: mean latency" in slo_titles
            continue
        assert f"{objective.text}: SLI (1 h)" in slo_titles
        assert f"{objective.text}: error budget remaining (30 d)" in slo_titles
        assert f"{objective.text}: burn rate" in slo_titles
    for row, panels in rows[1:]:
        assert panels, row["title"]  # every component has something to show
        titles = {p["title"].split(": ", 1)[1] for p in panels}
        if "RED" in row["title"] and "(service)" in row["title"]:
            assert {"rate", "errors", "duration"} <= titles
        if "USE" in row["title"]:
            assert {"utilisation", "saturation", "rejected"} <= titles


def test_every_query_reads_a_recorded_or_planned_series() -> None:
    made = shop_design(NFRS, candidate="three-tier")
    known = set(made.rules.recorded) | made.plan.series()
    board = dashboard(made)
    exprs = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    assert exprs
    for expr in exprs:
        names = metric_names(expr)
        assert names, expr
        assert names <= known, (expr, names - known)


def test_the_grid_holds_unique_panels_inside_24_columns() -> None:
    board = dashboard(shop_design())
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    taken: set[tuple[int, int]] = set()
    for panel in board["panels"]:
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24
        cells = {
            (y, x)
            for y in range(pos["y"], pos["y"] + pos["h"])
            for x in range(pos["x"], pos["x"] + pos["w"])
        }
        assert not cells & taken, panel["title"]
        taken |= cells
        for target in panel.get("targets", []):
            assert target["datasource"]["uid"] == "${datasource}"


def test_the_bottlenecks_panel_marks_the_models_thresholds() -> None:
    made = shop_design()
    pulled = made.candidate.pull
    assert pulled is not None
    [panel] = [
        p for p in dashboard(made)["panels"] if p["title"] == f"{pulled.bottleneck}: utilisation"
    ]
    steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert any(abs(s["value"] - pulled.bottleneck_utilization) < 1e-12 for s in steps[1:])
