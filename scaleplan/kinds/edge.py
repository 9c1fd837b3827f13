"""The ``edge`` kind: a share of requests answered at the edge or in the front end with a
latency of its own; the rest goes on (spec :class:`~scaleplan.spec.EdgeSpec`, station
:class:`EdgeStation`, below)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar, Literal

import simpy
from pydantic import (
    Field,
)

from scaleplan.distributions import Constant, Distribution
from scaleplan.engine.protocol import (
    OK,
    Replica,
    Request,
    Station,
    StreamFactory,
    Visit,
    service_times,
)
from scaleplan.engine.streams import uniforms
from scaleplan.kinds.base import ComponentKind, FailureModel
from scaleplan.spec.base import Servers
from scaleplan.spec.components import (
    Probability,
    _ComponentBase,
)


class EdgeSpec(_ComponentBase):
    """Work moved to the edge or the front end: a ``share`` of requests is answered there with
    its own latency; the rest goes on to ``to``."""

    kind: Literal["edge"]
    to: str
    share: Probability = Field(description="share of requests answered at the edge")
    service_time: Distribution = Constant(dist="constant", mean_ms=5)
    concurrency: Servers = 4096

    def edges(self) -> list[tuple[str, float, str]]:
        return [(self.to, 1 - self.share, "to")]

    @property
    def capacity(self) -> int:
        return self.concurrency


class EdgeStation(Station):
    """Answers a share of requests itself (its own latency); forwards the rest."""

    kind = "edge"

    def __init__(self, name: str, spec: EdgeSpec, env: simpy.Environment, streams: StreamFactory):
        super().__init__(name, env)
        self.spec = spec
        self.replicas = [Replica(spec.concurrency)]
        self.edge_s = service_times(spec.service_time, streams(f"service:{name}"))
        self.answered: Iterator[float] = uniforms(streams(f"routing:{name}"))
        self.origin: Station | None = None
        self.at_edge = 0
        self.forwarded = 0

    def connect(self, stations: dict[str, Station], streams: StreamFactory) -> None:
        self.origin = stations[self.spec.to]

    def visit(self, request: Request) -> Visit:
        env = self.env
        arrived = env.now
        waited = yield from self.serve_simple(self.replicas[0], self.edge_s, request.priority)
        own = env.now - arrived - waited
        status = OK
        if next(self.answered) < self.spec.share:
            self.at_edge += 1
        else:
            self.forwarded += 1
            assert self.origin is not None
            status = yield from self.origin.visit(request)
        done = env.now
        self.records.append((done, waited, own, own, done - arrived))
        return status

    def details(self) -> dict[str, Any]:
        total = self.at_edge + self.forwarded
        return {
            "answered_at_edge": self.at_edge,
            "forwarded": self.forwarded,
            "edge_share": self.at_edge / total if total else None,
        }


class EdgeKind(ComponentKind):
    name = "edge"
    spec_model = EdgeSpec
    symbol = "triangle-up"
    example: ClassVar[Mapping[str, Any]] = {"kind": "edge", "to": "{target}", "share": 0.3}
    example_neighbours: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        "target": {"kind": "service", "service_time": {"dist": "exponential", "mean_ms": 10}}
    }

    def station(self, name: str, spec: Any, env: Any, streams: Any) -> Any:
        return EdgeStation(name, spec, env, streams)

    def analytic_station(self, ctx: Any, name: str, spans: Mapping[str, float]) -> Any:
        from scaleplan.analytic import network

        component = ctx.component(name)
        station = network.slot_station(ctx, name, spans)
        station.details = {
            "edge_share": component.share,
            "forwarded_per_s": station.arrival_rate * (1.0 - component.share),
        }
        return station

    def billable_nodes(self, spec: Any, running_replicas: float | None = None) -> float:
        return 1.0  # one edge configuration; a CDN is mostly priced per request

    def availability_model(self, spec: Any) -> FailureModel | None:
        return None  # an edge network is modelled as always up

    def passes_poisson(self, ctx: Any, name: str) -> bool:
        # A Bernoulli thinning of an exponential delay keeps the stream Poisson.
        return bool(ctx.component(name).service_time.scv == 1.0)

    def transform_traffic(
        self,
        name: str,
        spec: Any,
        failure: Mapping[str, float],
        miss: float,
        notes: dict[str, str],
    ) -> tuple[list[Any], float]:
        from scaleplan.load import Call

        forwarded = 1.0 - spec.share
        return [Call(spec.to, forwarded, forwarded, 1.0, 0.0, False)], (
            forwarded * failure[spec.to]
        )

    def visit_outcome(
        self, ctx: Any, name: str, known: Mapping[str, tuple[float, float, float]]
    ) -> tuple[float, float, float]:
        from scaleplan.analytic.network import forward_outcome

        return forward_outcome(ctx, name, known)


KIND = EdgeKind()
