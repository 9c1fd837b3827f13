"""The ``load_balancer`` kind: forwards each request to one endpoint of its targets, chosen by
its policy, optionally with a service time of its own (spec
:class:`~scaleplan.spec.LoadBalancerSpec`, station
:class:`LoadBalancerStation`, below).

A target may be any kind that serves requests. A service or a worker pool is spread over
replica by replica (its replicas are the endpoints, each with its share of the target's
weight); any other kind — a cache, a database, an edge, a queue, a topic, another balancer —
is one endpoint, the whole component, which places the request itself (a cache's rotation, a
database's shard and read policy), and whose load for the load-aware policies
(``least_connections``, ``join_shortest_queue``, ``power_of_two``, ``power_of_d``) is its
requests in service plus those waiting at it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar, Literal

import simpy
from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from scaleplan.distributions import Distribution
from scaleplan.engine.policies import Policy, make_policy
from scaleplan.engine.protocol import (
    FAILED,
    OK,
    Replica,
    Request,
    Station,
    StreamFactory,
    Visit,
    service_times,
)
from scaleplan.kinds.base import ComponentKind, FailureModel
from scaleplan.kinds.service import ServiceStation
from scaleplan.spec.base import MAX_SERVERS, Servers, StrictModel, Weight
from scaleplan.spec.components import (
    D_DESCRIPTION,
    POLICY_DESCRIPTION,
    _ComponentBase,
    check_d,
)
from scaleplan.spec.components import (
    Policy as PolicyName,
)

#: The kinds a balancer may spread over: every kind that serves requests. Services and worker
#: pools are spread over replica by replica, the others as whole components.
SERVED_KINDS = (
    "service",
    "worker_pool",
    "cache",
    "database",
    "edge",
    "queue",
    "topic",
    "load_balancer",
)
#: Targets whose replicas are the balancer's endpoints (their stations serve one replica).
PER_REPLICA_KINDS = ("service", "worker_pool")


class WeightedTarget(StrictModel):
    to: str
    weight: Weight = 1.0


class LoadBalancerSpec(_ComponentBase):
    """Spreads each request over the replicas of its target(s) by ``policy``.

    Adds no delay unless it has a ``service_time``; then it is a station of ``concurrency``
    slots like a service.
    """

    kind: Literal["load_balancer"]
    policy: PolicyName = Field(default="round_robin", description=POLICY_DESCRIPTION)
    d: int = Field(default=2, ge=2, le=MAX_SERVERS, description=D_DESCRIPTION)
    to: tuple[WeightedTarget, ...] = Field(min_length=1)
    service_time: Distribution | None = None
    concurrency: Servers = 1024

    @field_validator("to", mode="before")
    @classmethod
    def _single_target(cls, value: Any) -> Any:
        if isinstance(value, str):
            return ({"to": value},)
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return tuple({"to": item} for item in value)
        return value

    @model_validator(mode="after")
    def _policy_options(self) -> LoadBalancerSpec:
        check_d(self.policy, self.d, "d" in self.model_fields_set, "policy")
        if self.policy == "join_shortest_queue" and len({t.weight for t in self.to}) > 1:
            raise ValueError(
                "join_shortest_queue ignores weights (the textbook rule); the targets have "
                "different weights: use least_connections or power_of_d, which weigh them"
            )
        return self

    def edges(self) -> list[tuple[str, float, str]]:
        total = sum(target.weight for target in self.to)
        return [
            (target.to, target.weight / total, f"to[{index}]")
            for index, target in enumerate(self.to)
        ]

    def references(self) -> list[tuple[str, str, tuple[str, ...]]]:
        return [(key, target, SERVED_KINDS) for target, _, key in self.edges()]

    @property
    def capacity(self) -> int:
        return self.concurrency if self.service_time is not None else 0


def _whole_load(station: Station) -> Callable[[], int]:
    """The load of a whole component as one endpoint: its requests in service and waiting."""
    return lambda: station.in_service() + station.waiting()


class LoadBalancerStation(Station):
    """Forwards each request to one endpoint, chosen by its policy: a replica of a target
    service or worker pool, or a whole target of another kind (``replica`` None)."""

    kind = "load_balancer"

    def __init__(
        self, name: str, spec: LoadBalancerSpec, env: simpy.Environment, streams: StreamFactory
    ):
        super().__init__(name, env)
        self.spec = spec
        self.endpoints: list[tuple[Station, Replica | None]] = []
        self.loads: list[Callable[[], int]] = []
        self.targets: list[tuple[Station, float]] = []
        self.policy: Policy | None = None
        self.service_s: Iterator[float] | None = None
        if spec.service_time is not None:
            self.service_s = service_times(spec.service_time, streams(f"service:{name}"))
            self.replicas = [Replica(spec.concurrency)]

    def connect(self, stations: dict[str, Station], streams: StreamFactory) -> None:
        for target in self.spec.to:
            station = stations[target.to]
            self.targets.append((station, target.weight))
            station.listeners.append(self.rebuild)
        weights = self._endpoint_weights()
        self.policy = make_policy(
            self.spec.policy,
            weights,
            self.endpoint_load,
            streams(f"dispatch:{self.name}"),
            self.spec.d,
        )

    def _endpoint_weights(self) -> list[float]:
        self.endpoints = []
        weights: list[float] = []
        for station, weight in self.targets:
            if not isinstance(station, ServiceStation):  # a whole component is one endpoint
                self.endpoints.append((station, None))
                weights.append(weight)
                continue
            for replica in station.replicas:
                self.endpoints.append((station, replica))
                weights.append(weight / len(station.replicas))
        # Each endpoint's load, bound once: a load-aware policy asks it of every endpoint for
        # every request.
        self.loads = [
            replica.load if replica is not None else _whole_load(station)
            for station, replica in self.endpoints
        ]
        return weights

    def rebuild(self) -> None:
        """A target gained or lost replicas: spread over the current ones."""
        assert self.policy is not None
        weights = self._endpoint_weights()
        if weights:
            self.policy.resize(weights)

    def endpoint_load(self, index: int) -> int:
        return self.loads[index]()

    def visit(self, request: Request) -> Visit:
        env = self.env
        arrived = env.now
        waited = own = 0.0
        if self.service_s is not None:
            waited = yield from self.serve_simple(
                self.replicas[0], self.service_s, request.priority
            )
            own = env.now - arrived - waited
        assert self.policy is not None
        if not self.endpoints:  # no healthy replica behind the balancer
            self.failure_times.append(env.now)
            request.error(self.name, FAILED)
            return FAILED
        station, replica = self.endpoints[self.policy.choose()]
        if replica is None:
            status = yield from station.visit(request)
        else:
            assert isinstance(station, ServiceStation)
            status = yield from station.serve(replica, request)
        done = env.now
        self.records.append((done, waited, own, own, done - arrived))
        if status != OK:
            self.failure_times.append(done)
        return status


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
        return LoadBalancerStation(name, spec, env, streams)

    def analytic_station(self, ctx: Any, name: str, spans: Mapping[str, float]) -> Any:
        from scaleplan.analytic import network

        station = network.slot_station(ctx, name, spans)
        component = ctx.component(name)
        whole = _whole_targets(ctx, component)
        if whole and component.policy != "random":
            # A random choice independent of the state thins a Poisson stream into independent
            # Poisson streams of the weight shares (exact); the other policies only keep the
            # long-run shares (round robin, smooth weighted: exactly; the load-aware ones
            # roughly) and make the targets' arrivals more regular than Poisson.
            station.exact = False
            station.warnings.append(
                f"{name}: {component.policy} across whole components "
                f"({', '.join(whole)}) taken as a random split by weight, each target "
                "receiving Poisson arrivals at its weight share (approximation"
                + (
                    ": a load-aware policy sends more to the less loaded target)"
                    if component.policy != "round_robin"
                    else ")"
                )
            )
        return station

    def billable_nodes(self, spec: Any, running_replicas: float | None = None) -> float:
        return 1.0  # one balancer (a managed one is priced per hour and per request)

    def availability_model(self, spec: Any) -> FailureModel | None:
        return None  # modelled as always up; its targets' replicas fail

    def passes_poisson(self, ctx: Any, name: str) -> bool:
        component = ctx.component(name)
        if component.policy != "random" and _whole_targets(ctx, component):
            return False  # a whole target's arrivals are a rotation or load-aware, not Poisson
        return bool(component.service_time is None or component.service_time.scv == 1.0)

    def transform_traffic(
        self,
        name: str,
        spec: Any,
        failure: Mapping[str, float],
        miss: float,
        notes: dict[str, str],
    ) -> tuple[list[Any], float]:
        from scaleplan.load import Call

        # One forward per visit, to one target by its weight share.
        edges = spec.edges()
        return (
            [Call(target, share, share, 1.0, 0.0, False) for target, share, _ in edges],
            math.fsum(share * failure[target] for target, share, _ in edges),
        )

    def visit_outcome(
        self, ctx: Any, name: str, known: Mapping[str, tuple[float, float, float]]
    ) -> tuple[float, float, float]:
        from scaleplan.analytic.network import mixture, own_stage, then

        # One forward per visit, to one target by its weight share.
        targets = [(call.made, known[call.target]) for call in ctx.flows.calls[name]]
        return then(own_stage(ctx, name), mixture(targets))


def _whole_targets(ctx: Any, component: LoadBalancerSpec) -> list[str]:
    """The targets spread over as whole components (not replica by replica)."""
    return [
        target.to
        for target in component.to
        if ctx.component(target.to).kind not in PER_REPLICA_KINDS
    ]


KIND = LoadBalancerKind()
