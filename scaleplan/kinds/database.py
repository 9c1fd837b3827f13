"""The ``database`` kind: shards (hash or range) over a key popularity, a primary and read
replicas per shard, a read/write mix and replication lag (spec
:class:`~scaleplan.spec.DatabaseSpec`, station :class:`~scaleplan.engine.data.DatabaseStation`,
per-shard nodes in the estimate)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from scaleplan.kinds.base import ComponentKind
from scaleplan.spec.components import DatabaseSpec


class DatabaseKind(ComponentKind):
    name = "database"
    spec_model = DatabaseSpec
    symbol = "square"
    example: ClassVar[Mapping[str, Any]] = {
        "kind": "database",
        "shards": 2,
        "read_replicas": 1,
        "concurrency": 4,
        "read_time": {"dist": "exponential", "mean_ms": 2},
    }

    def station(self, name: str, spec: Any, env: Any, streams: Any) -> Any:
        from scaleplan.engine.data import DatabaseStation

        return DatabaseStation(name, spec, env, streams)

    def analytic_station(self, ctx: Any, name: str, spans: Mapping[str, float]) -> Any:
        from scaleplan.analytic import network

        return network._database_station(ctx, name, ctx.component(name))

    def billable_nodes(self, spec: Any, running_replicas: float | None = None) -> float:
        # Every shard runs a primary and its read replicas.
        return float(spec.shards * spec.nodes_per_shard)

    def failure_units(self, spec: Any) -> str:
        scope = spec.failures.scope if spec.failures is not None else "node"
        if scope == "component":
            return "the whole database"
        if scope == "shard":
            return "each shard, with all its nodes"
        # A primary's loss fails the shard's writes until a read replica is promoted
        # (detection_s + failover_s later); without read replicas the shard is down till repair.
        return "each node of each shard (primary or read replica)"

    def passes_poisson(self, ctx: Any, name: str) -> bool:
        return False  # it calls nobody: nothing downstream to keep Poisson


KIND = DatabaseKind()
