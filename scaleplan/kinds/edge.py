"""The ``edge`` kind: a share of requests answered at the edge or in the front end with a
latency of its own; the rest goes on (spec :class:`~scaleplan.spec.EdgeSpec`, station
:class:`~scaleplan.engine.data.EdgeStation`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from scaleplan.kinds.base import ComponentKind
from scaleplan.spec.components import EdgeSpec


class EdgeKind(ComponentKind):
    name = "edge"
    spec_model = EdgeSpec
    symbol = "triangle-up"
    example: ClassVar[Mapping[str, Any]] = {"kind": "edge", "to": "{target}", "share": 0.3}
    example_neighbours: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        "target": {"kind": "service", "service_time": {"dist": "exponential", "mean_ms": 10}}
    }

    def station(self, name: str, spec: Any, env: Any, streams: Any) -> Any:
        from scaleplan.engine.data import EdgeStation

        return EdgeStation(name, spec, env, streams)

    def analytic_station(self, ctx: Any, name: str, spans: Mapping[str, float]) -> Any:
        from scaleplan.analytic import network

        component = ctx.component(name)
        station = network._slot_station(ctx, name, spans)
        station.details = {
            "edge_share": component.share,
            "forwarded_per_s": station.arrival_rate * (1.0 - component.share),
        }
        return station

    def billable_nodes(self, spec: Any, running_replicas: float | None = None) -> float:
        return 1.0  # one edge configuration; a CDN is mostly priced per request

    def failure_units(self, spec: Any) -> str:
        return ""  # an edge network is modelled as always up

    def passes_poisson(self, ctx: Any, name: str) -> bool:
        # A Bernoulli thinning of an exponential delay keeps the stream Poisson.
        return bool(ctx.component(name).service_time.scv == 1.0)


KIND = EdgeKind()
