"""A kind written as a user of the kind protocol would write it: everything in one module.

``throttle`` is a gateway with a fixed number of slots and a service time of its own that
forwards every request it has served to one target. The test that imports this module adds it
to the registry (the one line a new kind needs) and runs it through every stage.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import simpy
from pydantic import Field, PositiveInt

from scaleplan.distributions import Distribution
from scaleplan.engine.protocol import (
    Replica,
    Request,
    Station,
    StreamFactory,
    Visit,
    service_times,
)
from scaleplan.kinds.base import ComponentKind, FailureModel
from scaleplan.spec.components import _ComponentBase


class ThrottleSpec(_ComponentBase):
    """A gateway of ``concurrency`` slots in front of ``to``."""

    kind: Literal["throttle"]
    to: str
    concurrency: PositiveInt = Field(default=4, description="requests served at once")
    service_time: Distribution

    def edges(self) -> list[tuple[str, float, str]]:
        return [(self.to, 1.0, "to")]

    @property
    def capacity(self) -> int:
        return self.concurrency


class ThrottleStation(Station):
    kind = "throttle"

    def __init__(
        self, name: str, spec: ThrottleSpec, env: simpy.Environment, streams: StreamFactory
    ):
        super().__init__(name, env)
        self.spec = spec
        self.replicas = [Replica(spec.concurrency)]
        self.own_s = service_times(spec.service_time, streams(f"service:{name}"))
        self.target: Station | None = None

    def connect(self, stations: dict[str, Station], streams: StreamFactory) -> None:
        self.target = stations[self.spec.to]

    def visit(self, request: Request) -> Visit:
        arrived = self.env.now
        waited = yield from self.serve_simple(self.replicas[0], self.own_s)
        own = self.env.now - arrived - waited
        assert self.target is not None
        status = yield from self.target.visit(request)
        done = self.env.now
        self.records.append((done, waited, own, own, done - arrived))
        return status


class ThrottleKind(ComponentKind):
    name = "throttle"
    spec_model = ThrottleSpec
    symbol = "octagon"
    example: ClassVar[Mapping[str, Any]] = {
        "kind": "throttle",
        "to": "{target}",
        "service_time": {"dist": "exponential", "mean_ms": 1},
    }
    example_neighbours: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        "target": {"kind": "service", "service_time": {"dist": "exponential", "mean_ms": 5}}
    }

    def station(self, name: str, spec: Any, env: Any, streams: Any) -> Any:
        return ThrottleStation(name, spec, env, streams)

    def transform_traffic(
        self,
        name: str,
        spec: Any,
        failure: Mapping[str, float],
        miss: float,
        notes: dict[str, str],
    ) -> tuple[list[Any], float]:
        from scaleplan.load import Call

        return [Call(spec.to, 1.0, 1.0, 1.0, 0.0, False)], failure[spec.to]

    def analytic_station(self, ctx: Any, name: str, spans: Mapping[str, float]) -> Any:
        from scaleplan.analytic.network import slot_station

        return slot_station(ctx, name, spans)

    def visit_outcome(
        self, ctx: Any, name: str, known: Mapping[str, tuple[float, float, float]]
    ) -> tuple[float, float, float]:
        from scaleplan.analytic.network import forward_outcome

        return forward_outcome(ctx, name, known)

    def passes_poisson(self, ctx: Any, name: str) -> bool:
        return bool(ctx.component(name).service_time.scv == 1.0)

    def billable_nodes(self, spec: Any, running_replicas: float | None = None) -> float:
        return 1.0

    def availability_model(self, spec: Any) -> FailureModel | None:
        return None


KIND = ThrottleKind()
