"""The ``worker_pool`` kind: a service fed by a queue or a topic subscription, whose free slots
pull the next message from one shared FIFO (spec :class:`~scaleplan.spec.WorkerPoolSpec`,
station :class:`~scaleplan.engine.messaging.WorkerPoolStation`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from scaleplan.kinds.base import ComponentKind, autoscaled_nodes
from scaleplan.kinds.service import service_passes_poisson
from scaleplan.spec.components import WorkerPoolSpec


class WorkerPoolKind(ComponentKind):
    name = "worker_pool"
    spec_model = WorkerPoolSpec
    symbol = "star"
    example: ClassVar[Mapping[str, Any]] = {
        "kind": "worker_pool",
        "replicas": 2,
        "concurrency": 2,
        "service_time": {"dist": "exponential", "mean_ms": 10},
    }

    def station(self, name: str, spec: Any, env: Any, streams: Any) -> Any:
        from scaleplan.engine.messaging import WorkerPoolStation

        return WorkerPoolStation(name, spec, env, streams)

    def analytic_station(self, ctx: Any, name: str, spans: Mapping[str, float]) -> Any:
        from scaleplan.analytic import network

        component = ctx.component(name)
        if component.autoscale is not None:
            station = network._autoscaled_station(ctx, name, spans, component)
        else:
            station = network._slot_station(ctx, name, spans)
        network._report_pool(ctx, name, station)
        return station

    def billable_nodes(self, spec: Any, running_replicas: float | None = None) -> float:
        return autoscaled_nodes(spec, running_replicas)

    def failure_units(self, spec: Any) -> str:
        return (
            "the whole pool"
            if spec.failures and spec.failures.scope == "component"
            else ("each worker replica")
        )

    def passes_poisson(self, ctx: Any, name: str) -> bool:
        return service_passes_poisson(ctx, name)


KIND = WorkerPoolKind()
