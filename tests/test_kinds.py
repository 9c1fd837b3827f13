"""Every registered component kind is complete in every stage of the pipeline.

Adding a kind is one module under ``scaleplan/kinds/`` and one line in its registry; these tests
name the piece a new kind still lacks, then run the kind's own example through each stage:
the spec, the simulation, the analytic estimate, cost, failures, the explorer's knobs and the
drawing.
"""

from __future__ import annotations

import inspect
import math
from typing import Any, ClassVar

import pytest

from scaleplan.analytic import estimate
from scaleplan.engine import simulate
from scaleplan.experiments import cost
from scaleplan.graph import build_graph
from scaleplan.kinds import PIECES, REGISTRY, ComponentKind
from scaleplan.spec import CostTableSpec, parse_spec
from scaleplan.spec import architecture as architecture_module
from scaleplan.views.graph import figure_graph, kind_symbol
from scaleplan.widgets.knobs import discover_knobs

KINDS = sorted(REGISTRY)


def _resolve(value: Any, name: str) -> Any:
    """The example with ``{target}`` naming the component's neighbour."""
    if isinstance(value, str):
        return value.replace("{target}", f"{name}-target")
    if isinstance(value, dict):
        return {key: _resolve(item, name) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_resolve(item, name) for item in value]
    return value


def architecture_with(kind_name: str) -> Any:
    """A small architecture: a front service calling one component of the kind (and what the
    kind's example needs beside it)."""
    kind = REGISTRY[kind_name]
    assert kind.example is not None
    name = "subject"
    components = {
        "front": {
            "kind": "service",
            "replicas": 2,
            "concurrency": 4,
            "service_time": {"dist": "exponential", "mean_ms": 2},
            "calls": [{"to": name}],
        },
        name: _resolve(dict(kind.example), name),
    }
    for neighbour, spec in kind.example_neighbours.items():
        components[f"{name}-{neighbour}"] = _resolve(dict(spec), name)
    return parse_spec(
        {
            "name": f"one-{kind_name}",
            "workload": {"rate_per_s": 20, "requests": 400},
            "entry": "front",
            "components": components,
        }
    )


def test_every_registered_kind_gives_every_piece():
    incomplete = {name: kind.missing() for name, kind in REGISTRY.items() if kind.missing()}
    assert not incomplete, "; ".join(
        f"kind {name!r} lacks " + ", ".join(f"{piece} ({PIECES[piece]})" for piece in pieces)
        for name, pieces in incomplete.items()
    )


def test_the_completeness_check_names_what_a_new_kind_lacks():
    class RateLimiterKind(ComponentKind):
        name = "rate_limiter"
        symbol = "x"
        example: ClassVar[dict[str, Any]] = {"kind": "rate_limiter"}

        def station(self, name: str, spec: Any, env: Any, streams: Any) -> Any:
            raise AssertionError("not called")

    missing = RateLimiterKind().missing()
    assert "spec_model" in missing
    assert "analytic_station" in missing
    assert "billable_nodes" in missing
    assert "passes_poisson" in missing
    assert "station" not in missing and "symbol" not in missing
    assert "knobs" not in missing  # it has a default found from the model's fields


def test_the_spec_union_is_the_registry():
    runtime = architecture_module.ComponentSpec.__origin__  # Annotated[Union[...], ...]
    models = set(getattr(runtime, "__args__", (runtime,)))
    assert models == {kind.spec_model for kind in REGISTRY.values()}
    # The type checker's copy of the union (a TYPE_CHECKING block) names the same models.
    source = inspect.getsource(architecture_module)
    checked = source[source.index("if TYPE_CHECKING:") : source.index("else:")]
    for kind in REGISTRY.values():
        assert kind.spec_model is not None
        assert kind.spec_model.__name__ in checked, kind.name


@pytest.mark.parametrize("kind_name", KINDS)
def test_the_kind_model_is_tagged_with_its_name(kind_name):
    kind = REGISTRY[kind_name]
    assert kind.spec_model is not None
    assert kind.spec_model.model_fields["kind"].annotation.__args__ == (kind_name,)


@pytest.mark.parametrize("kind_name", KINDS)
def test_each_kind_runs_through_every_stage(kind_name):
    kind = REGISTRY[kind_name]
    spec = architecture_with(kind_name)
    subject = spec.components["subject"]

    simulated = simulate(spec, seed=3)
    assert simulated.requests.conserved()
    assert simulated.components["subject"].kind == kind_name

    estimated = estimate(spec)
    assert "subject" in estimated.components

    table = CostTableSpec.model_validate({"defaults": {kind_name: {"per_replica_hour": 1.0}}})
    priced = {row.component: row for row in cost(spec, table, today_per_s=20.0).components}
    nodes = kind.billable_nodes(subject)
    assert nodes >= 1 and math.isfinite(nodes)
    assert priced["subject"].per_month == pytest.approx(nodes * 730.5)

    model = kind.availability_model(subject)
    assert model is None or (0.0 <= model.analytic <= 1.0 and model.count >= 1)
    assert kind_symbol(kind_name) == kind.symbol
    nodes_trace = figure_graph(build_graph(spec), simulated).data[-1]
    drawn = dict(zip(nodes_trace.text, nodes_trace.marker.symbol, strict=True))
    assert drawn["subject"] == kind.symbol

    knobs = [knob.key_path for knob in discover_knobs(spec)]
    assert [knob.key_path for knob in kind.knobs("subject", subject)] == [
        path for path in knobs if path.startswith("components.subject.")
    ]


@pytest.fixture
def throttle_registered():
    """The one line a new kind needs — its entry in the registry — made for this test (and the
    spec's union rebuilt from the registry, as it is built at import)."""
    from typing import Annotated, Union

    from _new_kind import KIND
    from pydantic import Field

    from scaleplan.kinds import registry
    from scaleplan.spec import ArchitectureSpec

    field = ArchitectureSpec.model_fields["components"]
    saved = field.annotation
    registry.REGISTRY["throttle"] = KIND
    field.annotation = dict[  # type: ignore[assignment]
        str,
        Annotated[
            Union[tuple(kind.spec_model for kind in registry.REGISTRY.values())],  # noqa: UP007
            Field(discriminator="kind"),
        ],
    ]
    ArchitectureSpec.model_rebuild(force=True)
    yield KIND
    del registry.REGISTRY["throttle"]
    field.annotation = saved
    ArchitectureSpec.model_rebuild(force=True)


def test_a_new_kind_is_one_module_and_one_registry_line(throttle_registered):
    """tests/_new_kind.py holds a whole kind; with its registry line it is complete and runs
    through the spec, the simulation, the estimate (whose M/M/c station it gets from the shared
    slot station), cost, failures, the drawing and the knobs — no other file changed."""
    kind = throttle_registered
    assert kind.missing() == []
    spec = architecture_with("throttle")
    simulated = simulate(spec, seed=5, requests=4000)
    assert simulated.requests.conserved() and simulated.stable
    estimated = estimate(spec)
    assert estimated.components["subject"].utilization == pytest.approx(20 * 0.001 / 4)
    table = CostTableSpec.model_validate(
        {"defaults": {"service": {"per_replica_hour": 1.0}, "throttle": {"per_replica_hour": 1.0}}}
    )
    # front (2 replicas) + the throttle's target (1) + the throttle (1 node)
    assert cost(spec, table, today_per_s=20.0).per_month_today == pytest.approx(4 * 730.5)
    nodes_trace = figure_graph(build_graph(spec), simulated).data[-1]
    drawn = dict(zip(nodes_trace.text, nodes_trace.marker.symbol, strict=True))
    assert drawn["subject"] == "octagon"
    assert "components.subject.concurrency" in [k.key_path for k in discover_knobs(spec)]
