"""The cost model's spec: what each component of each candidate costs to run.

A scenario's ``costs:`` table gives prices by component kind (``defaults``) and, where a
candidate differs, by candidate and component (``candidates``). Each price is a
:class:`CostRateSpec` with four parts — per replica-hour, per million requests the component
serves, per GB-month stored, and a fixed monthly fee — so the same table prices a monolith, a
cluster or a managed database. Keeping the prices in the scenario, not in the architecture files,
lets one architecture be priced differently for different clients.

This module only describes prices; :func:`scaleplan.experiments.cost` applies them to loads.
"""

from __future__ import annotations

from pydantic import Field

from scaleplan.spec.base import Amount, StrictModel

__all__ = ["HOURS_PER_MONTH", "CostRateSpec", "CostTableSpec"]

#: Hours in an average month (365.25 × 24 / 12), the convention cloud price lists use.
HOURS_PER_MONTH = 730.5


class CostRateSpec(StrictModel):
    """The price of one component: every part is optional and adds up.

    Examples
    --------
    >>> round(CostRateSpec(per_replica_hour=0.1, fixed_per_month=20).per_month(replicas=3), 2)
    239.15
    """

    per_replica_hour: Amount = Field(
        default=0.0, description="per node-hour: a replica, a database node, a cache or broker node"
    )
    per_million_requests: Amount = 0.0
    per_gb_month: Amount = 0.0
    fixed_per_month: Amount = 0.0
    stored_gb: Amount = Field(
        default=0.0, description="data held regardless of load (added to any retention storage)"
    )

    def per_month(
        self, *, replicas: float, requests_per_s: float = 0.0, stored_gb: float = 0.0
    ) -> float:
        """Monthly cost with ``replicas`` nodes running (on average), serving
        ``requests_per_s``, holding data."""
        return (
            self.per_replica_hour * replicas * HOURS_PER_MONTH
            + self.per_million_requests * requests_per_s * HOURS_PER_MONTH * 3600.0 / 1e6
            + self.per_gb_month * (self.stored_gb + stored_gb)
            + self.fixed_per_month
        )


class CostTableSpec(StrictModel):
    """Prices by component kind, overridden per candidate and component.

    Examples
    --------
    >>> table = CostTableSpec.model_validate(
    ...     {"defaults": {"service": {"per_replica_hour": 0.1}},
    ...      "candidates": {"big": {"db": {"per_replica_hour": 0.5}}}}
    ... )
    >>> table.rate("big", "db", "service").per_replica_hour
    0.5
    >>> table.rate("small", "db", "service").per_replica_hour
    0.1
    """

    currency: str = "USD"
    defaults: dict[str, CostRateSpec] = Field(
        default_factory=dict, description="component kind → price"
    )
    candidates: dict[str, dict[str, CostRateSpec]] = Field(
        default_factory=dict, description="candidate → component → price"
    )

    def rate(self, candidate: str, component: str, kind: str) -> CostRateSpec:
        """The price of ``component`` in ``candidate``: its own entry, else its kind's default."""
        own = self.candidates.get(candidate, {}).get(component)
        if own is not None:
            return own
        return self.defaults.get(kind, CostRateSpec())
