"""The protocol every component kind implements, and the list of its pieces.

A component kind is one module under :mod:`scaleplan.kinds` holding one
:class:`ComponentKind` subclass, registered by one line in :data:`scaleplan.kinds.REGISTRY`.
Every stage of the pipeline (the spec, the engine, the analytic estimate, cost, failures, the
explorer and the drawing) asks the registry what a kind is instead of testing types, so a new
kind is one new module and one registry line. :data:`PIECES` lists what a kind must give; the
completeness test (``tests/test_kinds.py``) names any piece a kind lacks.

This module imports nothing from the engine or the analytic package. A kind's own module holds
its station, so loading the spec (which builds its union from the registry) imports the
engine's protocol and SimPy too; the analytic figures are imported when first asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel

if TYPE_CHECKING:  # imported for annotations only: the engine imports the spec, not the reverse
    import numpy as np
    import simpy

    from scaleplan.engine.protocol import Station
    from scaleplan.load import Call, StationLoad
    from scaleplan.widgets.knobs import Knob

StreamFactory = Callable[[str], "np.random.Generator"]

#: The pieces of a kind, with what each is for; a kind is complete when it gives every one.
PIECES: dict[str, str] = {
    "spec_model": "the pydantic model of its YAML (tagged by `kind`)",
    "example": "a minimal valid spec dict, used by the completeness test and the docs",
    "symbol": "the plotly marker symbol that draws it",
    "station": "the SimPy station that simulates it (engine)",
    "analytic_station": "its station figures in the analytic estimate",
    "billable_nodes": "the nodes it bills for (replica-hours)",
    "availability_model": "what fails when it has failures, and its availability's closed form",
    "knobs": "the values the explorer lets the user move",
    "passes_poisson": "whether Poisson arrivals leave it Poisson (the estimate's product form)",
    "transform_traffic": "how one visit turns into calls, and how likely the visit fails",
    "visit_outcome": "a visit's outcome in the estimate: P(ok), mean time when ok and when not",
    "station_loads": "its stations' offered loads, for the one overload formula (capacity)",
}
#: Pieces with a default that fits most kinds (found from the model's fields).
DEFAULTED = frozenset({"knobs", "station_loads"})


class ComponentKind:
    """Everything one kind of component is. Subclasses set the class attributes and override
    the methods; the defaults that raise :class:`NotImplementedError` are the required ones."""

    #: The ``kind:`` tag in YAML.
    name: ClassVar[str] = ""
    #: The pydantic model of the component's YAML.
    spec_model: ClassVar[type[BaseModel] | None] = None
    #: A minimal valid spec of this kind; ``{target}`` strings name the component it calls.
    example: ClassVar[Mapping[str, Any] | None] = None
    #: The kinds of the components the example needs beside it, by name (e.g. a queue's
    #: consumer is a worker pool).
    example_neighbours: ClassVar[Mapping[str, Mapping[str, Any]]] = {}
    #: Plotly marker symbol.
    symbol: ClassVar[str] = ""

    def station(
        self, name: str, spec: Any, env: simpy.Environment, streams: StreamFactory
    ) -> Station:
        """The SimPy station that simulates one component of this kind."""
        raise NotImplementedError

    def analytic_station(self, ctx: Any, name: str, spans: Mapping[str, float]) -> Any:
        """The component's station figures in the analytic estimate
        (:mod:`scaleplan.analytic.network`)."""
        raise NotImplementedError

    def billable_nodes(self, spec: Any, running_replicas: float | None = None) -> float:
        """Nodes billed per hour. ``running_replicas`` is the time-averaged replica count a
        simulation measured (autoscaling), when there is one."""
        raise NotImplementedError

    def availability_model(self, spec: Any) -> FailureModel | None:
        """How one component of this kind fails and what the closed form says of its
        availability (None for a kind modelled as always up)."""
        raise NotImplementedError

    def knobs(self, name: str, spec: Any) -> list[Knob]:
        """The explorer's knobs for one component of this kind (default: its count, ratio and
        choice fields and its call shares, found from the model's fields)."""
        from scaleplan.widgets.knobs import component_knobs

        return component_knobs(name, spec)

    def passes_poisson(self, ctx: Any, name: str) -> bool:
        """Whether Poisson arrivals at the component leave it as a Poisson stream (Burke's
        theorem), which decides whether the estimate's product form is exact downstream."""
        raise NotImplementedError

    def transform_traffic(
        self,
        name: str,
        spec: Any,
        failure: Mapping[str, float],
        miss: float,
        notes: dict[str, str],
    ) -> tuple[list[Call], float]:
        """How one visit sends work on (calls, forwards, misses, deliveries, each a
        :class:`~scaleplan.load.Call`) given the probability ``failure[target]`` that a visit
        to each target fails, and the probability that a visit here fails. ``miss`` is a
        cache's miss ratio at its arrival rate; ``notes`` collects approximations made."""
        raise NotImplementedError

    def visit_outcome(
        self, ctx: Any, name: str, known: Mapping[str, tuple[float, float, float]]
    ) -> tuple[float, float, float]:
        """A visit's outcome in the estimate, from its station's wait and its callees'
        outcomes ``known``: (probability it succeeds, mean time × that probability, mean time
        × the probability it fails) — what the exact percentiles and error rates compose."""
        raise NotImplementedError

    def station_loads(
        self, name: str, spec: Any, arrivals_per_s: float, holding_s: float
    ) -> list[StationLoad]:
        """The stations a queue forms at, with their offered load (default: one station of
        all the component's slots, judged at its most replicas; none for a kind without
        slots)."""
        from scaleplan.load import StationLoad

        servers = spec.max_capacity
        if servers == 0:
            return []
        bounded = getattr(spec, "queue_limit", None) is not None
        return [StationLoad(name, "", arrivals_per_s, holding_s, servers, bounded)]

    def missing(self) -> list[str]:
        """The pieces of :data:`PIECES` this kind does not give (empty when complete)."""
        absent = []
        for piece in PIECES:
            value = getattr(type(self), piece, None)
            inherited = getattr(ComponentKind, piece, None)
            if value is None or value == "" or (value is inherited and piece not in DEFAULTED):
                absent.append(piece)
        return absent


@dataclass(frozen=True)
class FailureModel:
    """How one component fails, and what the closed form says of it.

    ``count`` failure units (``units``: replicas or nodes); its up log counts ``logged`` things
    at the start (replicas, nodes, or a database's shards taking writes), of which ``needed``
    must be up for the component to be up. ``unit`` is one unit's availability, ``analytic``
    the component's; ``spof`` whether one failure takes it down; ``fallback`` whether its
    outage sends its work elsewhere instead of failing it (a cache); ``exact`` whether the
    closed form is exact or a first-order guide.
    """

    kind: str
    units: str
    count: int
    logged: int
    needed: int
    failures: Any
    unit: float
    analytic: float
    spof: bool
    fallback: bool = False
    exact: bool = True


def unit_availability(spec: Any) -> tuple[Any, float, bool]:
    """(its failures spec or None, one unit's availability MTBF/(MTBF+MTTR), whether all its
    units fail together)."""
    failures = getattr(spec, "failures", None)
    a = failures.availability if failures is not None else 1.0
    return failures, a, failures is not None and failures.scope == "component"


def autoscaled_nodes(spec: Any, running_replicas: float | None) -> float:
    """Replicas billed for a service-like kind: what ran on average when a run measured it,
    otherwise the replicas it starts with (an autoscaler's minimum is its floor, not its bill)."""
    if running_replicas is not None:
        return float(running_replicas)
    return float(spec.replicas)
