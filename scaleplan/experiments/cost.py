"""Cost: what a candidate costs a month at today's and at peak load, and per request.

Prices come from a :class:`~scaleplan.spec.CostTableSpec` (per node-hour — ``per_replica_hour``
in the table —, per million requests the component serves, per GB-month stored, fixed per
month). Each kind states the nodes it bills for (:meth:`ComponentKind.billable_nodes
<scaleplan.kinds.base.ComponentKind.billable_nodes>`): a service's replicas, a database's shards
× (primary + read replicas), a cache's nodes, a broker's nodes; an autoscaled service is billed
for the replicas a run measured on average (its replica-hours) at peak when one is given, and at
other loads (today's, the month of breach) for the replicas its autoscaler settles on there
(:func:`settled_replicas`, the analytic estimate's HPA steady state). A component
serves the system's rate times its visit ratio (the traffic equations of
:mod:`scaleplan.graph`); the component named by the retention NFR stores
``write rate × record size × retention``.

Definitions:

- **cost per month** at a load: replica-hours for a month (730.5 hours) + requests served in a
  month at that load + storage + fixed fees — "at peak load" means as if the peak lasted all
  month, an upper bound;
- **cost per million requests**: the monthly cost at today's load over today's requests;
- **cost per SLO-meeting request**: the monthly cost at peak over the requests a month at peak
  that the system serves within its SLOs, taken as ``min(peak, sustainable limit)`` per second
  (beyond the limit the extra requests do not meet the SLOs);
- **cost at the month of breach**: the monthly cost at the load of the month in which growth
  first passes the limit (:mod:`scaleplan.experiments.growth`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scaleplan.experiments._common import clean, settled_replicas
from scaleplan.graph import build_graph, visit_ratios
from scaleplan.kinds import kind_of
from scaleplan.spec import HOURS_PER_MONTH, ArchitectureSpec, CostTableSpec, RetentionNFR

__all__ = ["ComponentCost", "CostResult", "cost", "settled_replicas"]

SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600.0


@dataclass(frozen=True)
class ComponentCost:
    """One component's monthly cost at today's load."""

    component: str
    kind: str
    nodes: float
    requests_per_s: float
    stored_gb: float
    per_month: float


@dataclass(frozen=True)
class CostResult:
    """The cost figures of one candidate (see the module docstring for the definitions)."""

    spec: str
    currency: str
    today_per_s: float
    peak_per_s: float
    per_month_today: float
    per_month_peak: float
    per_million_requests: float
    per_slo_meeting_request: float
    breach_month: int | None
    per_month_at_breach: float
    storage_gb: float
    components: tuple[ComponentCost, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (NaN written as ``null``)."""
        return {
            "spec": self.spec,
            "currency": self.currency,
            "today_per_s": clean(self.today_per_s),
            "peak_per_s": clean(self.peak_per_s),
            "per_month_today": clean(self.per_month_today),
            "per_month_peak": clean(self.per_month_peak),
            "per_million_requests": clean(self.per_million_requests),
            "per_slo_meeting_request": clean(self.per_slo_meeting_request),
            "breach_month": self.breach_month,
            "per_month_at_breach": clean(self.per_month_at_breach),
            "storage_gb": clean(self.storage_gb),
            "components": [clean(component) for component in self.components],
        }

    def records(self) -> list[dict[str, Any]]:
        """One row per component (today's load), with the candidate's name and currency."""
        return [
            {"spec": self.spec, "currency": self.currency, **clean(component)}
            for component in self.components
        ]


def _monthly(
    spec: ArchitectureSpec,
    table: CostTableSpec,
    candidate: str,
    rate_per_s: float,
    retention: RetentionNFR | None,
    running_replicas: Mapping[str, float] | None = None,
) -> tuple[float, list[ComponentCost]]:
    visits = visit_ratios(build_graph(spec))
    running = running_replicas or {}
    rows = []
    for name, component in spec.components.items():
        price = table.rate(candidate, name, component.kind)
        nodes = kind_of(component.kind).billable_nodes(component, running.get(name))
        served = rate_per_s * visits.get(name, 0.0)
        stored = 0.0
        if retention is not None and retention.component == name:
            stored = retention.storage_gb(rate_per_s)
        monthly = price.per_month(replicas=nodes, requests_per_s=served, stored_gb=stored)
        rows.append(
            ComponentCost(name, component.kind, nodes, served, stored + price.stored_gb, monthly)
        )
    return math.fsum(row.per_month for row in rows), rows


def cost(
    spec: ArchitectureSpec,
    table: CostTableSpec,
    *,
    today_per_s: float,
    peak_per_s: float | None = None,
    limit_per_s: float | None = None,
    growth_per_month: float = 0.0,
    breach_month: int | None = None,
    retention: RetentionNFR | None = None,
    candidate: str | None = None,
    running_replicas: Mapping[str, float] | None = None,
    settle: bool = False,
) -> CostResult:
    """Price one candidate at today's load, at peak, per request and at the month of breach.

    Parameters
    ----------
    spec : ArchitectureSpec
        The candidate (its replicas and call graph).
    table : CostTableSpec
        Prices by kind, overridden by candidate and component.
    today_per_s, peak_per_s : float
        Today's mean load and its peak (default: the mean).
    limit_per_s : float, optional
        The sustainable limit, for the cost per SLO-meeting request (default: all requests).
    growth_per_month, breach_month : optional
        Monthly growth (a fraction) and the month of breach (from
        :func:`~scaleplan.experiments.runway`), for the cost at that month.
    retention : RetentionNFR, optional
        Data kept, charged per GB-month to ``retention.component``.
    candidate : str, optional
        The candidate's name in the cost table (default: the spec's name).
    running_replicas : mapping, optional
        Component → replicas a simulation measured on average; an autoscaled component is
        billed for these replica-hours rather than for the replicas it starts with.
    settle : bool
        Bill autoscaled components at today's load and at the month of breach for the
        replicas their autoscalers settle on there (:func:`settled_replicas`); at peak
        ``running_replicas`` still apply where given. Default: ``running_replicas`` at
        every load.

    Examples
    --------
    >>> from scaleplan.spec import CostTableSpec, example_spec
    >>> table = CostTableSpec.model_validate({"defaults": {"service": {"per_replica_hour": 0.1}}})
    >>> result = cost(example_spec(), table, today_per_s=50)
    >>> round(result.per_month_today, 2), round(result.per_million_requests, 4)
    (73.05, 0.5556)
    """
    name = candidate or spec.name
    peak = today_per_s if peak_per_s is None else peak_per_s

    def replicas_at(load: float) -> Mapping[str, float] | None:
        if not settle:
            return running_replicas
        return {**(running_replicas or {}), **settled_replicas(spec, load)}

    today_total, rows = _monthly(
        spec, table, name, today_per_s, retention, replicas_at(today_per_s)
    )
    peak_replicas = running_replicas if running_replicas else replicas_at(peak)
    peak_total, _ = _monthly(spec, table, name, peak, retention, peak_replicas)
    requests_month = today_per_s * SECONDS_PER_MONTH
    per_million = today_total / (requests_month / 1e6) if requests_month > 0 else math.nan
    good_rate = peak if limit_per_s is None else max(0.0, min(peak, limit_per_s))
    per_good = peak_total / (good_rate * SECONDS_PER_MONTH) if good_rate > 0 else math.inf
    at_breach = math.nan
    if breach_month is not None:
        load = today_per_s * (1.0 + growth_per_month) ** breach_month
        at_breach, _ = _monthly(spec, table, name, load, retention, replicas_at(load))
    storage = math.fsum(row.stored_gb for row in rows)
    return CostResult(
        spec=name,
        currency=table.currency,
        today_per_s=today_per_s,
        peak_per_s=peak,
        per_month_today=today_total,
        per_month_peak=peak_total,
        per_million_requests=per_million,
        per_slo_meeting_request=per_good,
        breach_month=breach_month,
        per_month_at_breach=at_breach,
        storage_gb=storage,
        components=tuple(rows),
    )
