"""The Grafana dashboard: an SLO row, then one row per component with its RED/USE panels.

Plain JSON in Grafana's dashboard model (``schemaVersion`` 39, Grafana 10.4 and later migrate
it on load): ``row`` panels followed by their ``stat`` and ``timeseries`` panels on the
24-column grid, every query on the ``${datasource}`` Prometheus variable. Queries use the
rules' recorded series (``slo:*``, ``component:*``) where the rules record one, and otherwise
the instrumentation plan's series, selected by the label that names the component (see
:attr:`scaleplan.apm.instruments.Instrument.component_label`). grafanalib, the Python builder
once used for this, has had no release since January 2024 and writes ``schemaVersion`` 12 with
the retired graph panel, so none is used.
"""

from __future__ import annotations

import json
import math
import re
from typing import TYPE_CHECKING, Any

from scaleplan.apm.instruments import HTTP_DURATION, WORKER_COUNT, ComponentPlan

if TYPE_CHECKING:
    from scaleplan.apm.design import MonitoringDesign

__all__ = ["SCHEMA_VERSION", "dashboard", "dashboard_json", "metric_names"]

SCHEMA_VERSION = 39
_DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
_WIDTH = 24
_HEIGHT = 7


class _Grid:
    """Lays panels left to right, rows of panels top to bottom."""

    def __init__(self) -> None:
        self.y, self.x, self.next_id = 0, 0, 1
        self.panels: list[dict[str, Any]] = []

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id - 1

    def row(self, title: str) -> None:
        if self.x:
            self.y, self.x = self.y + _HEIGHT, 0
        self.panels.append(
            {
                "type": "row",
                "id": self._id(),
                "title": title,
                "collapsed": False,
                "panels": [],
                "gridPos": {"h": 1, "w": _WIDTH, "x": 0, "y": self.y},
            }
        )
        self.y += 1

    def panel(
        self,
        kind: str,
        title: str,
        queries: list[tuple[str, str]],
        unit: str,
        description: str = "",
        thresholds: list[tuple[float, str]] | None = None,
        width: int = 8,
    ) -> None:
        if self.x + width > _WIDTH:
            self.y, self.x = self.y + _HEIGHT, 0
        steps: list[dict[str, Any]] = [{"color": "green", "value": None}]
        for value, color in thresholds or []:
            steps.append({"color": color, "value": value})
        self.panels.append(
            {
                "type": kind,
                "id": self._id(),
                "title": title,
                "description": description,
                "datasource": _DATASOURCE,
                "gridPos": {"h": _HEIGHT, "w": width, "x": self.x, "y": self.y},
                "targets": [
                    {
                        "refId": chr(ord("A") + i),
                        "expr": expr,
                        "legendFormat": legend,
                        "datasource": _DATASOURCE,
                    }
                    for i, (expr, legend) in enumerate(queries)
                ],
                "fieldConfig": {
                    "defaults": {
                        "unit": unit,
                        "thresholds": {"mode": "absolute", "steps": steps},
                    },
                    "overrides": [],
                },
                "options": {},
            }
        )
        self.x += width


def _slo_row(grid: _Grid, design: MonitoringDesign) -> None:
    grid.row(
        "SLOs: " + ", ".join(o.text for o in design.objectives) if design.objectives else "SLOs"
    )
    for objective in design.objectives:
        match = f'{{slo="{objective.text}"}}'
        if objective.kind == "mean":
            grid.panel(
                "timeseries",
                f"{objective.text}: mean latency",
                [
                    (f"slo:latency_mean:seconds_rate5m{match}", "5m"),
                    (f"slo:latency_mean:seconds_rate1h{match}", "1h"),
                ],
                "s",
                f"The mean latency at the entries; the objective is {objective.threshold_s:g} s.",
                [(objective.threshold_s, "red")],
            )
            continue
        grid.panel(
            "stat",
            f"{objective.text}: SLI (1 h)",
            [(f"1 - slo:sli_error:ratio_rate1h{match}", "good share")],
            "percentunit",
            f"Share of good requests (not {objective.bad_request()}); target "
            f"{100 * objective.target:.4g}%.",
            [(objective.target, "green")] if math.isfinite(objective.target) else None,
            width=6,
        )
        grid.panel(
            "stat",
            f"{objective.text}: error budget remaining (30 d)",
            [
                (
                    f"1 - slo:sli_error:ratio_rate30d{match} / on(slo) "
                    f"slo:error_budget:ratio{match}",
                    "remaining",
                )
            ],
            "percentunit",
            f"1 − (bad share over 30 days) / budget; budget {100 * objective.budget:.4g}%.",
            width=6,
        )
        grid.panel(
            "timeseries",
            f"{objective.text}: burn rate",
            [
                (f"slo:sli_error:ratio_rate{w}{match} / on(slo) slo:error_budget:ratio{match}", w)
                for w in ("5m", "1h", "6h")
            ],
            "none",
            "How many times faster than sustainable the budget burns (1 = exactly the budget "
            "over 30 days); the page alerts fire at 14.4 (1 h) and 6 (6 h).",
            [(6.0, "orange"), (14.4, "red")],
            width=12,
        )


def _thresholds(design: MonitoringDesign, component: str, signal: str) -> list[tuple[float, str]]:
    marks = []
    for threshold in design.capacity:
        if threshold.component == component and threshold.signal == signal:
            marks.append((threshold.threshold, "red" if threshold.severity == "page" else "orange"))
    return sorted(marks)


def _component_row(grid: _Grid, design: MonitoringDesign, plan: ComponentPlan) -> None:
    name = plan.name
    methods = ", ".join(plan.methods) or "nothing of its own"
    grid.row(f"{name} ({plan.kind}): {methods}")
    job = f'{{job="{name}"}}'
    if plan.instrument(HTTP_DURATION) is not None:
        grid.panel(
            "timeseries",
            f"{name}: rate",
            [(f"component:http_requests:rate5m{job}", "req/s")],
            "reqps",
        )
        grid.panel(
            "timeseries",
            f"{name}: errors",
            [(f"component:http_errors:ratio_rate5m{job}", "errors")],
            "percentunit",
        )
        grid.panel(
            "timeseries",
            f"{name}: duration",
            [
                (f"component:http_request_duration_seconds:p50_rate5m{job}", "p50"),
                (f"component:http_request_duration_seconds:p99_rate5m{job}", "p99"),
            ],
            "s",
        )
    for instrument in plan.instruments:
        selector = f'{{{instrument.component_label}="{name}"}}'
        series = instrument.prometheus
        if instrument.name in (
            HTTP_DURATION,
            "http.server.active_requests",
        ) or instrument.name.startswith("app.worker."):
            continue
        if instrument.instrument == "histogram":
            bucket = f"{series}_bucket{selector}"
            grid.panel(
                "timeseries",
                f"{name}: {instrument.name}",
                [
                    (f"sum(rate({series}_count{selector}[5m]))", "rate"),
                    (f"histogram_quantile(0.99, sum by (le) (rate({bucket}[5m])))", "p99"),
                ],
                "short",
                instrument.why,
            )
        elif instrument.instrument == "counter" and "hit ratio" in instrument.signals:
            attribute = instrument.attributes[0].replace(".", "_")
            hits = f'{series}{{{instrument.component_label}="{name}",{attribute}="hit"}}'
            grid.panel(
                "timeseries",
                f"{name}: hit ratio",
                [(f"sum(rate({hits}[5m])) / sum(rate({series}{selector}[5m]))", "hit ratio")],
                "percentunit",
                instrument.why,
            )
        elif instrument.instrument == "counter":
            grid.panel(
                "timeseries",
                f"{name}: {instrument.name}",
                [
                    (
                        f"sum by ({instrument.component_label}) (rate({series}{selector}[5m]))",
                        "per s",
                    )
                ],
                "short",
                instrument.why,
            )
        elif "scaling events" in instrument.signals:
            grid.panel(
                "timeseries",
                f"{name}: scaling events",
                [
                    (f"changes({series}{selector}[1h])", "changes per hour"),
                    (f"{series}{selector}", "desired"),
                ],
                "short",
                instrument.why,
            )
        else:
            unit = "s" if instrument.unit == "s" else "short"
            grid.panel(
                "timeseries",
                f"{name}: {instrument.name}",
                [(f"{series}{selector}", "{{messaging_consumer_group_name}}")],
                unit,
                instrument.why,
            )
    if plan.instrument(WORKER_COUNT) is not None:
        grid.panel(
            "timeseries",
            f"{name}: utilisation",
            [(f"component:app_worker_utilisation:ratio_avg5m{job}", "busy")],
            "percentunit",
            "Slots busy; the lines are the model's knee and limit when this is the bottleneck.",
            _thresholds(design, name, "utilisation"),
        )
        grid.panel(
            "timeseries",
            f"{name}: saturation",
            [(f"component:app_worker_pending_requests:avg5m{job}", "waiting")],
            "short",
            "Requests waiting for a slot; the line is the depth that predicts an SLO breach.",
            _thresholds(design, name, "queue depth"),
        )
        grid.panel(
            "timeseries",
            f"{name}: rejected",
            [(f"component:app_worker_rejected:rate5m{job}", "per s")],
            "reqps",
        )


def dashboard(design: MonitoringDesign) -> dict[str, Any]:
    """The dashboard of ``design`` as Grafana's JSON model."""
    grid = _Grid()
    _slo_row(grid, design)
    for plan in design.plan.components:
        _component_row(grid, design, plan)
    uid = re.sub(r"[^A-Za-z0-9_-]", "-", f"scaleplan-{design.name}")[:40]
    return {
        "title": f"{design.scenario.title} — {design.name}",
        "uid": uid,
        "description": "Generated by scaleplan apm from the model of " + design.name,
        "tags": ["scaleplan", "slo"],
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "editable": True,
        "timezone": "browser",
        "refresh": "1m",
        "time": {"from": "now-6h", "to": "now"},
        "annotations": {"list": []},
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "label": "Prometheus",
                    "type": "datasource",
                    "query": "prometheus",
                    "current": {},
                    "hide": 0,
                }
            ]
        },
        "panels": grid.panels,
    }


def dashboard_json(design: MonitoringDesign) -> str:
    return json.dumps(dashboard(design), indent=2, ensure_ascii=False) + "\n"


_METRIC = re.compile(r"([A-Za-z_:][A-Za-z0-9_:]*)\s*\{")


def metric_names(expr: str) -> set[str]:
    """The series names an expression selects (every selector here carries ``{…}``)."""
    return set(_METRIC.findall(expr))
