"""The ``service`` kind: replicas × concurrency slots, a FIFO per replica, calls in order or in
parallel, autoscaling, failures and zones (spec :class:`~scaleplan.spec.ServiceSpec`, station
:class:`~scaleplan.engine.stations.ServiceStation`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from scaleplan.kinds.base import ComponentKind, autoscaled_nodes
from scaleplan.spec.components import ServiceSpec


def service_passes_poisson(ctx: Any, name: str) -> bool:
    """An exponential server that frees its slot before its calls and whose replicas get a
    random split (or that has one replica) passes Poisson traffic on (Burke)."""
    component = ctx.component(name)
    has_calls = any(call.made > 0 for call in ctx.flows.calls[name])
    most = component.autoscale.max_replicas if component.autoscale else component.replicas
    split = ctx.splits[name]
    split_ok = (
        component.kind == "worker_pool"
        or most == 1
        or (split.policy == "random" and not split.mixed)
    )
    holds = component.hold_during_calls and has_calls
    return bool(component.service_time.scv == 1.0 and not holds and split_ok)


class ServiceKind(ComponentKind):
    name = "service"
    spec_model = ServiceSpec
    symbol = "circle"
    example: ClassVar[Mapping[str, Any]] = {
        "kind": "service",
        "replicas": 2,
        "concurrency": 2,
        "service_time": {"dist": "exponential", "mean_ms": 10},
    }

    def station(self, name: str, spec: Any, env: Any, streams: Any) -> Any:
        from scaleplan.engine.stations import ServiceStation

        return ServiceStation(name, spec, env, streams)

    def analytic_station(self, ctx: Any, name: str, spans: Mapping[str, float]) -> Any:
        from scaleplan.analytic import network

        component = ctx.component(name)
        if component.autoscale is not None:
            return network._autoscaled_station(ctx, name, spans, component)
        return network._slot_station(ctx, name, spans)

    def billable_nodes(self, spec: Any, running_replicas: float | None = None) -> float:
        return autoscaled_nodes(spec, running_replicas)

    def failure_units(self, spec: Any) -> str:
        return (
            "the whole component"
            if spec.failures and spec.failures.scope == "component"
            else ("each replica")
        )

    def passes_poisson(self, ctx: Any, name: str) -> bool:
        return service_passes_poisson(ctx, name)


KIND = ServiceKind()
