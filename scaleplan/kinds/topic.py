"""The ``topic`` kind: publish once, deliver to every subscription, each with its own queue and
consumer group (spec :class:`~scaleplan.spec.TopicSpec`, station
:class:`~scaleplan.engine.messaging.TopicStation`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from scaleplan.kinds.queue import BrokerKind
from scaleplan.spec.components import TopicSpec


class TopicKind(BrokerKind):
    name = "topic"
    spec_model = TopicSpec
    symbol = "bowtie"
    example: ClassVar[Mapping[str, Any]] = {
        "kind": "topic",
        "subscriptions": [{"name": "audit", "consumer": "{target}"}],
    }
    example_neighbours: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        "target": {
            "kind": "worker_pool",
            "replicas": 2,
            "service_time": {"dist": "exponential", "mean_ms": 10},
        }
    }

    def station(self, name: str, spec: Any, env: Any, streams: Any) -> Any:
        from scaleplan.engine.messaging import TopicStation

        return TopicStation(name, spec, env, streams)

    def passes_poisson(self, ctx: Any, name: str) -> bool:
        component = ctx.component(name)
        consumers = [item.consumer for item in component.subscriptions]
        return len(set(consumers)) == len(consumers)  # one consumer twice gets batches of two


KIND = TopicKind()
