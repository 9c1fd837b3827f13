"""The ``worker_pool`` kind: a service fed by a queue or a topic subscription, whose free slots
pull the next message from one shared FIFO (spec :class:`~scaleplan.spec.WorkerPoolSpec`,
station :class:`WorkerPoolStation`, below)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import simpy
from pydantic import Field, field_validator

from scaleplan.engine.protocol import (
    Replica,
    Request,
    StreamFactory,
    Visit,
    hand_over,
)
from scaleplan.kinds.service import (
    ServiceKind,
    ServiceSpec,
    ServiceStation,
)

if TYPE_CHECKING:
    from scaleplan.analytic.network import _Context, _Station


class WorkerPoolSpec(ServiceSpec):
    """Workers consuming a queue or a topic subscription: a service fed by a broker, whose slots
    pull the next message when free (one shared FIFO over all replicas)."""

    kind: Literal["worker_pool"]  # type: ignore[assignment]
    # Its slots pull the next job from the broker's FIFO: there is no queue of its own whose
    # order another discipline could change.
    discipline: Literal["fifo"] = Field(
        default="fifo",
        description=(
            "fifo only: a worker pool's free slots pull the next message from its broker in "
            "order (give a service discipline lifo or ps instead)"
        ),
    )

    @field_validator("discipline", mode="before")
    @classmethod
    def _fifo_only(cls, value: Any) -> Any:
        if value != "fifo":
            raise ValueError(
                f"a worker_pool's free slots pull the next message from its broker in order, "
                f"so its discipline is fifo only (got {value!r}); a service takes lifo or ps"
            )
        return value


class WorkerPoolStation(ServiceStation):
    """A service whose slots, over all replicas, share one FIFO (workers pull their work)."""

    kind = "worker_pool"

    def __init__(
        self, name: str, spec: WorkerPoolSpec, env: simpy.Environment, streams: StreamFactory
    ):
        super().__init__(name, env=env, spec=spec, streams=streams)
        self.replica_total = spec.replicas
        self.pool = Replica(spec.replicas * spec.concurrency)
        self.replicas = [self.pool]

    @property
    def replica_count(self) -> int:
        return self.replica_total

    @property
    def members(self) -> int:
        return self.replica_total

    def visit(self, request: Request) -> Visit:
        return self.serve(self.pool, request)

    def add_replica(self) -> None:
        self.replica_total += 1
        self.pool.concurrency += self.spec.concurrency
        hand_over(self.pool)  # new slots take waiting jobs at once
        self.notify()

    def remove_replica(self) -> None:
        if self.replica_total <= 1:
            return
        self.replica_total -= 1
        # Busy slots finish their job; the pool simply hands out fewer from now on.
        self.pool.concurrency -= self.spec.concurrency
        self.notify()

    def work(self, job: Request) -> Visit:
        """A job that holds a slot already (its broker took it): serve it, make its calls,
        free the slot — :meth:`ServiceStation.serve` without the wait."""
        return self.serve(self.pool, job, holding=True)


def _report_pool(ctx: _Context, name: str, station: _Station) -> None:
    """As in the engine, a job delivered by a broker records its wait on the broker's row."""
    from scaleplan.analytic.network import ENTRY_WEIGHT, _edge_flow

    direct = ctx.rate * ctx.graph.nodes[name][ENTRY_WEIGHT] + math.fsum(
        ctx.rates[caller] * _edge_flow(ctx, caller, name)
        for caller in ctx.graph.predecessors(name)
        if name not in ctx.component(caller).async_targets()  # not a broker delivering to it
    )
    if not math.isfinite(station.wait_s):
        return
    share = direct / station.arrival_rate if station.arrival_rate > 0 else 0.0
    station.reported_wait_s = station.wait_s * share
    station.latency_s = station.job_s + station.wait_s * share
    station.mean_queue = direct * station.wait_s


class WorkerPoolKind(ServiceKind):
    """A service fed by a broker: a service in every stage but its station (one shared FIFO)
    and its estimate (the wait is reported on the broker that delivers to it)."""

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
        return WorkerPoolStation(name, spec, env, streams)

    def analytic_station(self, ctx: Any, name: str, spans: Mapping[str, float]) -> Any:
        station = super().analytic_station(ctx, name, spans)
        _report_pool(ctx, name, station)
        return station


KIND = WorkerPoolKind()
