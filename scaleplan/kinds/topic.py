"""The ``topic`` kind: publish once, deliver to every subscription, each with its own queue and
consumer group (spec :class:`~scaleplan.spec.TopicSpec`, station
:class:`TopicStation`, below)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar, Literal

import simpy
from pydantic import (
    Field,
    field_validator,
)
from simpy.events import Timeout

from scaleplan.distributions import Distribution
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
    _BrokerFields,
    accepting,
    prepare_broker_nodes,
    refuse,
)
from scaleplan.spec.base import Servers
from scaleplan.spec.components import (
    NAME_PATTERN,
    FailureSpec,
    _ComponentBase,
)


class SubscriptionSpec(_BrokerFields):
    name: str = Field(pattern=NAME_PATTERN)
    consumer: str


class TopicSpec(_ComponentBase):
    """Publish once, deliver to every subscription, each with its own queue and consumer group."""

    kind: Literal["topic"]
    nodes: Servers = Field(default=1, description="broker nodes (billed per node-hour)")
    subscriptions: tuple[SubscriptionSpec, ...] = Field(min_length=1)
    publish_time: Distribution | None = None
    failures: FailureSpec | None = Field(
        default=None, description="broker nodes crash; publishes fail without a majority up"
    )

    @field_validator("subscriptions")
    @classmethod
    def _unique(cls, value: tuple[SubscriptionSpec, ...]) -> tuple[SubscriptionSpec, ...]:
        names = [item.name for item in value]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"subscription names must be unique (got {twice} twice)")
        return value

    def broker_limits(self, name: str) -> list[tuple[str, int | None, str, str]]:
        return [
            (f"{name}/{item.name}", item.max_messages, item.when_full, item.consumer)
            for item in self.subscriptions
        ]

    def edges(self) -> list[tuple[str, float, str]]:
        return [
            (item.consumer, 1.0, f"subscriptions[{index}].consumer")
            for index, item in enumerate(self.subscriptions)
        ]

    def references(self) -> list[tuple[str, str, tuple[str, ...]]]:
        return [(key, target, ("worker_pool",)) for target, _, key in self.edges()]

    def async_targets(self) -> set[str]:
        return {item.consumer for item in self.subscriptions}

    @property
    def own_service_time(self) -> Distribution | None:
        return self.publish_time


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

    def transform_traffic(
        self,
        name: str,
        spec: Any,
        failure: Mapping[str, float],
        miss: float,
        notes: dict[str, str],
    ) -> tuple[list[Any], float]:
        from scaleplan.load import delivery

        return [delivery(item.consumer, item, failure) for item in spec.subscriptions], 0.0


KIND = TopicKind()
