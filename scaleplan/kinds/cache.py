"""The ``cache`` kind: a fixed hit ratio, or a real LRU/TTL over sampled keys, in front of a
backing component (spec :class:`~scaleplan.spec.CacheSpec`, station
:class:`~scaleplan.engine.data.CacheStation`; Che's approximation in the estimate)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from scaleplan.kinds.base import ComponentKind
from scaleplan.spec.components import CacheSpec


class CacheKind(ComponentKind):
    name = "cache"
    spec_model = CacheSpec
    symbol = "hexagon"
    example: ClassVar[Mapping[str, Any]] = {
        "kind": "cache",
        "backing": "{target}",
        "hit_ratio": 0.8,
    }
    example_neighbours: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        "target": {"kind": "service", "service_time": {"dist": "exponential", "mean_ms": 10}}
    }

    def station(self, name: str, spec: Any, env: Any, streams: Any) -> Any:
        from scaleplan.engine.data import CacheStation

        return CacheStation(name, spec, env, streams)

    def analytic_station(self, ctx: Any, name: str, spans: Mapping[str, float]) -> Any:
        from scaleplan.analytic import network

        station = network._slot_station(ctx, name, spans)
        network._report_cache(ctx, name, ctx.component(name), station)
        return station

    def billable_nodes(self, spec: Any, running_replicas: float | None = None) -> float:
        return float(spec.replicas)

    def failure_units(self, spec: Any) -> str:
        # A lost node's entries are gone: its lookups go to the backing store until it refills.
        return "each cache node"

    def passes_poisson(self, ctx: Any, name: str) -> bool:
        component = ctx.component(name)
        return bool(
            component.hit_ratio is not None
            and component.replicas == 1
            and component.service_time.scv == 1.0
        )


KIND = CacheKind()
