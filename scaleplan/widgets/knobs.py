"""The knobs of an architecture: which values of a spec the explorer lets the user move.

A :class:`Knob` is one dotted key path of the spec (``components.api.replicas``) with its
current value and a sensible range. :func:`discover_knobs` finds them by looking at the
validated spec's fields rather than at a fixed list of component kinds: each kind
(:mod:`scaleplan.kinds`) answers for its own knobs, and the default it inherits,
:func:`component_knobs`, gives a kind that has ``replicas``, ``concurrency``, ``shards``,
``workers``, a ``hit_ratio``, a ``policy`` or a ``discipline`` its sliders and dropdowns
without touching this module.

This module knows nothing of ipywidgets; :mod:`scaleplan.widgets.explorer` turns knobs into
widgets.
"""

from __future__ import annotations

import math
import typing
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from scaleplan.spec import ArchitectureSpec

#: Integer fields of a component that the explorer offers as sliders (counts of things; a
#: cache's ``size`` in entries is what sets its hit ratio when it is not given as a fixed one).
COUNT_FIELDS = (
    "replicas",
    "concurrency",
    "shards",
    "read_replicas",
    "size",
    "partitions",
    "workers",
    "consumers",
    "d",
)
#: Count fields that only mean something under one policy: offered only when it is chosen.
POLICY_COUNTS = {"d": "power_of_d"}
#: Fractions in [0, 1] offered as sliders (a cache's hit ratio, the share answered at the edge).
RATIO_FIELDS = ("hit_ratio", "share")
#: Literal-typed fields offered as dropdowns.
CHOICE_FIELDS = ("policy", "read_policy", "partitioning", "discipline")

Kind = Literal["int", "float", "choice"]


@dataclass(frozen=True)
class Knob:
    """One value of the spec that the user may move, at ``key_path`` (for ``with_changes``)."""

    key_path: str
    label: str
    kind: Kind
    value: Any
    minimum: float = 0.0
    maximum: float = 1.0
    step: float = 1.0
    options: tuple[str, ...] = ()
    group: str = "workload"


def nice_step(span: float, steps: int = 200) -> float:
    """A round step (1, 2 or 5 × 10ⁿ) that cuts ``span`` into about ``steps`` pieces.

    Examples
    --------
    >>> nice_step(1000), nice_step(3), nice_step(0)
    (5.0, 0.02, 1.0)
    """
    if not span > 0:
        return 1.0
    raw = span / steps
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * power:
            return float(round(factor * power, 12))
    return float(10 * power)  # pragma: no cover - the loop always returns


def rate_range(spec: ArchitectureSpec) -> tuple[float, float]:
    """A slider range for the arrival rate: from a trickle to past the bottleneck.

    The upper end is 1.25× the most the architecture can carry (the analytic bottleneck
    bound), so the user can see the cliff, or twice today's rate if that is higher.
    """
    from scaleplan.analytic import bottleneck

    rate = spec.workload.mean_rate_per_s
    try:
        limit, _ = bottleneck(spec)
    except Exception:  # a bound we cannot compute must not cost the user the explorer
        limit = math.inf
    upper = max(2.0 * rate, 1.25 * limit) if math.isfinite(limit) else 3.0 * rate
    step = nice_step(upper)
    lower = max(step, math.floor(rate / 20 / step) * step)
    upper = math.ceil(upper / step) * step
    return lower, upper


def discover_knobs(spec: ArchitectureSpec) -> list[Knob]:
    """The knobs of ``spec``: the arrival rate, then each component's counts, ratios, choices
    and call shares, in the order of the spec.

    Examples
    --------
    >>> from scaleplan.spec import example_spec
    >>> [knob.key_path for knob in discover_knobs(example_spec())]
    ['workload.rate_per_s', 'components.api.replicas', 'components.api.concurrency', \
'components.api.discipline']
    """
    knobs: list[Knob] = []
    if spec.workload.rate_per_s is not None and spec.workload.arrival != "trace":
        lower, upper = rate_range(spec)
        rate = float(spec.workload.rate_per_s)
        knobs.append(
            Knob(
                "workload.rate_per_s",
                "arrival rate (requests/s)",
                "float",
                rate,
                minimum=lower,
                maximum=max(upper, rate),
                step=nice_step(upper),
            )
        )
    users = spec.workload.users
    split = not any(cls.users is not None for cls in spec.workload.classes)
    if spec.workload.closed and users is not None and split:
        # A closed workload's load is its users (split over its classes by weight).
        knobs.append(
            Knob("workload.users", "users", "int", users, minimum=1, maximum=max(10, 4 * users))
        )
    from scaleplan.kinds import kind_of

    for name, component in spec.components.items():
        knobs.extend(kind_of(component.kind).knobs(name, component))
    return knobs


def component_knobs(name: str, component: BaseModel) -> list[Knob]:
    """The knobs found from a component's fields: counts, ratios, choices and call shares."""
    knobs: list[Knob] = []
    fields = type(component).model_fields
    prefix = f"components.{name}"
    for field_name in COUNT_FIELDS:
        if field_name not in fields or not isinstance(getattr(component, field_name), int):
            continue
        if field_name == "concurrency" and getattr(component, "service_time", 1) is None:
            continue  # a load balancer without a service time adds no delay: nothing to size
        if field_name in POLICY_COUNTS:
            # d only with power_of_d (set with any other policy, the spec refuses it).
            policy = getattr(component, "policy", None) or getattr(component, "dispatch", None)
            if policy != POLICY_COUNTS[field_name]:
                continue
        value = int(getattr(component, field_name))
        top = 64 if field_name == "concurrency" else 16
        knobs.append(
            Knob(
                f"{prefix}.{field_name}",
                f"{name} {field_name.replace('_', ' ')}",
                "int",
                value,
                minimum=_lowest(fields[field_name]),
                maximum=max(2 * value, top),
                step=1,
                group=name,
            )
        )
    for field_name in RATIO_FIELDS:
        # A cache given by keys and size has no fixed hit ratio (None): nothing to slide.
        if field_name in fields and isinstance(getattr(component, field_name), float | int):
            knobs.append(
                Knob(
                    f"{prefix}.{field_name}",
                    f"{name} {field_name.replace('_', ' ')}",
                    "float",
                    float(getattr(component, field_name)),
                    minimum=0.0,
                    maximum=1.0,
                    step=0.01,
                    group=name,
                )
            )
    for field_name in CHOICE_FIELDS:
        if field_name in fields:
            options = _literal_options(fields[field_name].annotation)
            if len(options) > 1:  # a worker pool's discipline is fifo only: nothing to choose
                knobs.append(
                    Knob(
                        f"{prefix}.{field_name}",
                        f"{name} {field_name}",
                        "choice",
                        str(getattr(component, field_name)),
                        options=options,
                        group=name,
                    )
                )
    for index, call in enumerate(getattr(component, "calls", ()) or ()):
        # The share of visits that call a component (a cache's miss ratio, a fan-out, …) or
        # that leave at an exit.
        # A one_of call names its targets; the share is that of visits making the call.
        called = " | ".join(target for target, _, _ in call.targets())
        label = f"{name} → exit share" if call.exit else f"{name} → {called} share"
        knobs.append(
            Knob(
                f"{prefix}.calls.{index}.probability",
                label,
                "float",
                float(call.probability),
                minimum=0.0,
                maximum=1.0,
                step=0.01,
                group=name,
            )
        )
    return knobs


def _lowest(field: Any) -> int:
    """The smallest count a field accepts: its ``ge`` bound (0 for a NonNegativeInt, 2 for
    ``d``), otherwise 1."""
    for constraint in getattr(field, "metadata", ()):
        bound = getattr(constraint, "ge", None)
        if isinstance(bound, int):
            return bound
    return 1


def _literal_options(annotation: Any) -> tuple[str, ...]:
    if typing.get_origin(annotation) is Literal:
        return tuple(str(option) for option in typing.get_args(annotation))
    for argument in typing.get_args(annotation):
        found = _literal_options(argument)
        if found:
            return found
    return ()
