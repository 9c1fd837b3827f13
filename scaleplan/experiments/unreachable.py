"""SLOs that no load can meet: diagnosed from the spec before any rate is searched.

At a vanishing load nothing waits, so a request's latency is at least the own service time of
every component it must visit, and its chance of failing at least the own error probability of
each. A component is **on every request's path** when it is the entry, or is called with
probability 1 by one that is (before any exit of its call list, with no timeout, retry or
circuit breaker that could cut the wait or hide the failure), or is a balancer's only target.
Whatever else the request does (other calls, in sequence or in parallel, queueing), its
latency is at least each such component's own service time: so the latency's percentile is at
least that component's own percentile, its mean at least that component's mean, its error rate
at least that component's error probability. When one of these already breaks an SLO, the SLO is
unreachable; the component with the largest own figure is named.

Percentiles of a service time are read off a fixed-seed sample of :data:`SAMPLE` draws at the
lower end of the order statistic's 95% interval, so sampling can only understate them and an
SLO is called unreachable only when even that understatement breaks it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from scaleplan.spec import ArchitectureSpec, SLOSpec

__all__ = ["SAMPLE", "Unreachable", "unreachable"]

#: Draws of a service-time distribution read for its percentile.
SAMPLE = 200_000
_SEED = 20_240_601
#: The percentile objectives and their quantiles.
QUANTILES = {"p50": 0.5, "p90": 0.9, "p95": 0.95, "p99": 0.99, "p999": 0.999}


@dataclass(frozen=True)
class Unreachable:
    """Why ``slo`` cannot be met at any load: ``component``'s own ``figure`` (in the SLO's
    unit: ms, or a fraction for errors) is already beyond its bound."""

    slo: str
    component: str
    figure: float
    text: str


def unreachable(spec: ArchitectureSpec, slos: Sequence[SLOSpec]) -> Unreachable | None:
    """The first SLO in ``slos`` that no load meets on ``spec`` (None: none is known to be)."""
    for slo in slos:
        found = _diagnose(spec, slo)
        if found is not None:
            return found
    return None


def _entries(spec: ArchitectureSpec, request_class: str | None) -> list[str]:
    classes, root = spec.workload.classes, spec.entry or ""
    if request_class is not None:
        classes = tuple(c for c in classes if c.name == request_class)
    found = sorted({c.entry or root for c in classes if c.weight > 0})
    return [name for name in found or [root] if name]


def _follows(call: Any) -> bool:
    """Whether a call is certain to be made and waited for to its end."""
    if getattr(call, "exit", False) or call.probability < 1:
        return False
    # A class filter (a call for some classes only) makes it uncertain for the others.
    if getattr(call, "classes", None) or getattr(call, "one_of", None):
        return False  # one of several targets: none is certain to be called
    return call.timeout_ms is None and call.retries is None and call.circuit_breaker is None


def _on_every_path(spec: ArchitectureSpec, entry: str) -> list[str]:
    """The components every request entering at ``entry`` visits (see the module)."""
    seen: list[str] = []
    todo = [entry]
    while todo:
        name = todo.pop()
        if name in seen or name not in spec.components:
            continue
        seen.append(name)
        component = spec.components[name]
        if component.kind == "load_balancer":
            targets = tuple(getattr(component, "to", ()))
            if len(targets) == 1:
                todo.append(targets[0].to)
            continue
        if component.kind != "service":
            continue
        for call in getattr(component, "calls", ()):
            if getattr(call, "exit", False) and call.probability > 0:
                break  # the later calls are made only when the request does not leave here
            if _follows(call):
                todo.append(call.target)
    return seen


def _mandatory(spec: ArchitectureSpec, slo: SLOSpec) -> list[str]:
    paths = [set(_on_every_path(spec, entry)) for entry in _entries(spec, slo.request_class)]
    common = set.intersection(*paths) if paths else set()
    return sorted(common)


def _own_percentile(distribution: Any, quantile: float) -> tuple[float, float]:
    """A service time's ``quantile`` in ms: the 95% lower confidence bound (what is judged)
    and the point estimate (what is shown), from the order statistics of a fixed sample."""
    draws = np.sort(np.asarray(distribution.sample(np.random.default_rng(_SEED), SAMPLE)))
    spread = 1.96 * math.sqrt(SAMPLE * quantile * (1 - quantile))
    low = max(0, math.floor(SAMPLE * quantile - spread) - 1)
    point = min(SAMPLE - 1, max(0, math.ceil(SAMPLE * quantile) - 1))
    return float(draws[low]), float(draws[point])


def _percentile_of(slo: SLOSpec) -> float | None:
    return QUANTILES.get(slo.metric)


def _diagnose(spec: ArchitectureSpec, slo: SLOSpec) -> Unreachable | None:
    if slo.op != "<=":
        return None
    where = f"{slo.request_class}'s " if slo.request_class else ""
    figures: dict[str, float] = {}  # judged: a percentile's lower confidence bound
    shown: dict[str, str] = {}
    if slo.is_latency:
        quantile = _percentile_of(slo)
        if slo.metric != "mean" and quantile is None:
            return None
        for name in _mandatory(spec, slo):
            distribution = getattr(spec.components[name], "service_time", None)
            if distribution is None:
                continue
            if slo.metric == "mean":
                figures[name] = point = float(distribution.mean_value_ms())
            elif quantile is not None:
                figures[name], point = _own_percentile(distribution, quantile)
            shown[name] = f"{point:,.0f} ms"
        label: str = slo.metric
        bound = f"{slo.bound:,.0f} ms"
    elif slo.metric == "errors":
        for name in _mandatory(spec, slo):
            share = float(getattr(spec.components[name], "error_probability", 0.0) or 0.0)
            if share > 0:
                figures[name] = share
        label = "error rate"
        shown = {name: f"{100 * value:.3g}%" for name, value in figures.items()}
        bound = f"{100 * slo.bound:.3g}%"
    else:
        return None
    beyond = {name: value for name, value in figures.items() if value > slo.bound}
    if not beyond:
        return None
    worst = max(beyond, key=lambda name: (beyond[name], name))
    sign = "≤"
    text = (
        f"unreachable: {worst}'s own {label} is {shown[worst]} under {where}{slo.metric} "
        f"{sign} {bound}; every request visits {worst}, so no load meets it"
    )
    return Unreachable(slo.text, worst, beyond[worst], text)
