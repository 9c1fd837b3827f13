"""The ``load_balancer`` kind: forwards each request to one replica of its targets, chosen by
its policy, optionally with a service time of its own (spec
:class:`~scaleplan.spec.LoadBalancerSpec`, station
:class:`~scaleplan.engine.stations.LoadBalancerStation`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from scaleplan.kinds.base import ComponentKind
from scaleplan.spec.components import LoadBalancerSpec


class LoadBalancerKind(ComponentKind):
    name = "load_balancer"
    spec_model = LoadBalancerSpec
    symbol = "diamond"
    example: ClassVar[Mapping[str, Any]] = {
        "kind": "load_balancer",
        "policy": "round_robin",
        "to": "{target}",
    }
    example_neighbours: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        "target": {
            "kind": "service",
            "replicas": 2,
            "service_time": {"dist": "exponential", "mean_ms": 10},
        }
    }

    def station(self, name: str, spec: Any, env: Any, streams: Any) -> Any:
        from scaleplan.engine.stations import LoadBalancerStation

        return LoadBalancerStation(name, spec, env, streams)

    def analytic_station(self, ctx: Any, name: str, spans: Mapping[str, float]) -> Any:
        from scaleplan.analytic import network

        return network._slot_station(ctx, name, spans)

    def billable_nodes(self, spec: Any, running_replicas: float | None = None) -> float:
        return 1.0  # one balancer (a managed one is priced per hour and per request)

    def failure_units(self, spec: Any) -> str:
        return ""  # modelled as always up; its targets' replicas fail

    def passes_poisson(self, ctx: Any, name: str) -> bool:
        component = ctx.component(name)
        return bool(component.service_time is None or component.service_time.scv == 1.0)


KIND = LoadBalancerKind()
