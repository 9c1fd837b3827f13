"""The ``queue`` kind: asynchronous offload to a worker pool; the producer publishes and goes
on (spec :class:`~scaleplan.spec.QueueSpec`, station
:class:`~scaleplan.engine.messaging.QueueStation`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from scaleplan.kinds.base import ComponentKind
from scaleplan.spec.components import QueueSpec


class BrokerKind(ComponentKind):
    """What a queue and a topic share: a broker of ``nodes`` nodes whose publish is a pure
    delay (the estimate's broker station), billed per node."""

    def analytic_station(self, ctx: Any, name: str, spans: Mapping[str, float]) -> Any:
        from scaleplan.analytic import network

        return network._broker_station(ctx, name, ctx.component(name))

    def billable_nodes(self, spec: Any, running_replicas: float | None = None) -> float:
        return float(spec.nodes)

    def failure_units(self, spec: Any) -> str:
        return "each broker node (publishes fail without a majority of nodes up)"


class QueueKind(BrokerKind):
    name = "queue"
    spec_model = QueueSpec
    symbol = "hourglass"
    example: ClassVar[Mapping[str, Any]] = {"kind": "queue", "consumer": "{target}"}
    example_neighbours: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        "target": {
            "kind": "worker_pool",
            "replicas": 2,
            "service_time": {"dist": "exponential", "mean_ms": 10},
        }
    }

    def station(self, name: str, spec: Any, env: Any, streams: Any) -> Any:
        from scaleplan.engine.messaging import QueueStation

        return QueueStation(name, spec, env, streams)

    def passes_poisson(self, ctx: Any, name: str) -> bool:
        return True  # a publish is a pure delay: Poisson in, Poisson out


KIND = QueueKind()
