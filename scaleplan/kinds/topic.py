"""The ``topic`` kind: publish once, deliver to every subscription, each with its own queue and
consumer group (spec :class:`~scaleplan.spec.TopicSpec`, station
:class:`TopicStation`, below)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import simpy
from simpy.events import Timeout

from scaleplan.engine.protocol import (
    OK,
    Replica,
    Request,
    Station,
    StreamFactory,
    Visit,
    service_times,
)
from scaleplan.kinds.queue import (
    BrokerKind,
    SubscriptionStation,
    accepting,
    prepare_broker_nodes,
    refuse,
)
from scaleplan.spec.components import TopicSpec


class TopicStation(Station):
    kind = "topic"

    def __init__(self, name: str, spec: TopicSpec, env: simpy.Environment, streams: StreamFactory):
        super().__init__(name, env)
        self.spec = spec
        self.subscriptions = [
            SubscriptionStation(f"{name}/{item.name}", item, env, streams)
            for item in spec.subscriptions
        ]
        self.children = list(self.subscriptions)
        self.publish_s: Iterator[float] | None = (
            service_times(spec.publish_time, streams(f"publish:{name}"))
            if spec.publish_time is not None
            else None
        )
        self.published = 0

    def connect(self, stations: dict[str, Station], streams: StreamFactory) -> None:
        for subscription in self.subscriptions:
            subscription.bind(stations)

    def visit(self, request: Request) -> Visit:
        env = self.env
        arrived = env.now
        if not accepting(self):
            return refuse(self, request)
        if self.publish_s is not None:
            yield Timeout(env, next(self.publish_s))
        self.published += 1
        status = OK
        for subscription in self.subscriptions:
            outcome = yield from subscription.publish(request)
            status = max(status, outcome)
        done = env.now
        self.records.append((done, 0.0, done - arrived, 0.0, done - arrived))
        return status

    def details(self) -> dict[str, Any]:
        return {"published": self.published}

    def prepare_failures(self, spec: Any) -> None:
        prepare_broker_nodes(self, spec)

    def set_rotation(self, replica: Replica, serving: bool) -> None:
        """Producers publish to the cluster, not to a node: no rotation to keep."""


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
        return TopicStation(name, spec, env, streams)

    def passes_poisson(self, ctx: Any, name: str) -> bool:
        component = ctx.component(name)
        consumers = [item.consumer for item in component.subscriptions]
        return len(set(consumers)) == len(consumers)  # one consumer twice gets batches of two


KIND = TopicKind()
