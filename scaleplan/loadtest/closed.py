"""What a load test of a closed workload needs from the scenario: users, not a rate.

A closed workload (``workload.today: {kind: closed, users: N, think_time: …}``) is how a
load-test tool generates load: N users each send a request, wait for its answer, think and send
the next. Its load test steps up the *users*: each step runs ``fraction × limit`` users (the
limit from the tractor pull over users, :func:`scaleplan.experiments.pull_users.pull_users`),
rounded to whole users, and the model predicts each step's throughput, the rate those users
reach.

- **Per-class users.** When the classes give their own ``users``, a step keeps their
  proportions: its users are split over the classes in proportion to the spec's (largest
  remainder, each class at least one user), as the spec's own ``users`` would be split by
  weight. :func:`users_spec` builds that spec (weights = the classes' users), which is also the
  one the pull varies.
- **Peak users.** ``peak_factor`` multiplies today's users (rounded up, as ``compare`` does):
  the load and soak test cases run them, the spike twice as many.
- **Mixed workloads** (open classes beside the users) are refused: a Locust file would need an
  open stream beside the users (not built).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import TypeAdapter

from scaleplan.distributions import (
    Constant,
    Distribution,
    Empirical,
    Exponential,
    Gamma,
    Lognormal,
    Uniform,
)
from scaleplan.errors import Problem, SpecError
from scaleplan.spec import ArchitectureSpec, ScenarioSpec
from scaleplan.spec.scenario import DEFAULT_CLASS

__all__ = [
    "MAX_EMPIRICAL_SAMPLES",
    "check_closed",
    "class_shares",
    "is_closed",
    "peak_users",
    "split_users",
    "step_users",
    "think_sampler",
    "think_time_data",
    "think_time_text",
    "users_spec",
]

_DISTRIBUTION: TypeAdapter[Any] = TypeAdapter(Distribution)

#: An empirical think time is written into the Locust file and the k6 script as its samples;
#: more than this many would bloat them (give a fitted distribution instead).
MAX_EMPIRICAL_SAMPLES = 10_000


def is_closed(scenario: ScenarioSpec) -> bool:
    """Whether the scenario's workload is closed (users who think), not open (a rate)."""
    return scenario.workload.today.closed


def check_closed(scenario: ScenarioSpec, spec: ArchitectureSpec) -> None:
    """Refuse a closed workload the load test cannot drive, naming the key."""
    workload = spec.workload
    if workload.mixed:
        open_classes = [cls.name for cls in workload.classes if cls.open]
        raise SpecError(
            [
                Problem(
                    scenario.source,
                    "workload.today.classes",
                    "a load test of a closed workload with open classes (classes with a "
                    f"rate_per_s: {', '.join(open_classes)}) is not supported: the Locust file "
                    "runs users only; give those classes users or plan an open workload",
                )
            ]
        )
    think = workload.think_time
    if isinstance(think, Empirical) and len(think._loaded) > MAX_EMPIRICAL_SAMPLES:
        raise SpecError(
            [
                Problem(
                    scenario.source,
                    "workload.today.think_time",
                    f"an empirical think time of {len(think._loaded):,} samples cannot be "
                    f"written into the Locust file and k6 script (at most "
                    f"{MAX_EMPIRICAL_SAMPLES:,}): fit a distribution (lognormal, gamma, …) "
                    "instead",
                )
            ]
        )


def think_time_data(spec: ArchitectureSpec) -> dict[str, Any] | None:
    """The users' think time as the plan keeps it: the spec's distribution as data (an
    empirical one with its samples), None without think time."""
    think = spec.workload.think_time
    if think is None:
        return None
    if isinstance(think, Empirical):
        return {"dist": "empirical", "samples_ms": list(think._loaded)}
    data: dict[str, Any] = think.model_dump(mode="json", exclude_none=True)
    return data


def think_time_text(think_time: dict[str, Any] | None) -> str:
    """A plan's think time in words: ``exponential mean 3000 ms, cv 1``, or ``none``."""
    if think_time is None:
        return "no think time"
    return str(_DISTRIBUTION.validate_python(think_time).describe())


def think_sampler(
    think_time: dict[str, Any] | None, source: str = "plan.json"
) -> tuple[str, dict[str, Any]]:
    """How a load-test script draws the think time: a sampler name and its parameters, in
    seconds (``("none", {})`` without think time). Every distribution of the spec has an exact
    sampler in Python's ``random`` and in JavaScript from ``Math.random``:

    - ``exponential``: ``mean_s``; ``constant``: ``value_s``; ``uniform``: ``low_s``, ``high_s``;
    - ``lognormal``: ``mu``, ``sigma`` of the log of the value in *milliseconds* (as
      :class:`scaleplan.distributions.Lognormal` parameterises it);
    - ``gamma``: ``shape`` (1 / cv²) and ``scale_s``;
    - ``empirical``: ``samples_s`` (resampled uniformly).

    Anything else is a :class:`~scaleplan.errors.SpecError` naming ``workload.think_time``.
    """
    if think_time is None:
        return "none", {}
    dist = _DISTRIBUTION.validate_python(think_time)
    if isinstance(dist, Exponential):
        return "exponential", {"mean_s": dist.mean_ms / 1000}
    if isinstance(dist, Constant):
        return "constant", {"value_s": dist.mean_ms / 1000}
    if isinstance(dist, Uniform):
        low, high = dist._bounds()
        return "uniform", {"low_s": low / 1000, "high_s": high / 1000}
    if isinstance(dist, Lognormal):
        mu, sigma = dist._mu_sigma()
        return "lognormal", {"mu": mu, "sigma": sigma}
    if isinstance(dist, Gamma):
        shape = 1 / dist.cv**2
        return "gamma", {"shape": shape, "scale_s": dist.mean_ms / shape / 1000}
    if isinstance(dist, Empirical):
        return "empirical", {"samples_s": [value / 1000 for value in dist._loaded]}
    raise SpecError(
        [
            Problem(
                source,
                "workload.think_time",
                f"a think time of dist {think_time.get('dist')!r} cannot be sampled by the "
                "load-test scripts (exponential, constant, uniform, lognormal, gamma, "
                "empirical can)",
            )
        ]
    )


def class_shares(spec: ArchitectureSpec) -> dict[str, float]:
    """Each class's share of the users: its own users when the classes give them, else its
    weight (one ``default`` class without classes)."""
    classes = spec.workload.classes
    if not classes:
        return {DEFAULT_CLASS: 1.0}
    if all(cls.users is not None for cls in classes):
        return {cls.name: float(cls.users or 0) for cls in classes}
    return {cls.name: cls.weight for cls in classes}


def users_spec(spec: ArchitectureSpec, users: int | None = None) -> ArchitectureSpec:
    """``spec`` with ``users`` users (default: its own) split over its classes by weight; classes
    that give their own users become weights in their proportions (see the module docstring)."""
    workload = spec.workload
    total = workload.total_users if users is None else users
    if not any(cls.users is not None for cls in workload.classes):
        if users is None or users == workload.users:
            return spec
        return spec.with_changes({"workload.users": total})
    classes = []
    for cls in workload.classes:
        data = cls.model_dump(mode="python", exclude_unset=True)
        data.pop("users", None)
        data["weight"] = float(cls.users or 0)
        classes.append(data)
    return spec.with_changes({"workload.users": total, "workload.classes": classes})


def split_users(shares: dict[str, float], users: int) -> list[int]:
    """``users`` split over the classes as the engine splits a closed workload's users by
    weight (largest remainder, ties to the earlier class, each class at least one)."""
    from scaleplan.spec.architecture import WorkloadSpec

    classes = [{"name": name, "weight": share} for name, share in shares.items()]
    workload = WorkloadSpec(kind="closed", users=max(users, len(classes)), classes=classes)
    return list(workload.class_users())


def step_users(fractions: Sequence[float], limit_users: float) -> tuple[list[int], list[str]]:
    """Each step's users, ``fraction × limit`` rounded (at least 1), strictly increasing: a
    fraction that rounds to the users of the step before is dropped, and a note says so."""
    users: list[int] = []
    notes: list[str] = []
    for fraction in fractions:
        count = max(1, round(fraction * limit_users))
        if users and count <= users[-1]:
            notes.append(
                f"fraction {fraction:g} of the limit ({fraction * limit_users:.3g} users) rounds "
                f"to {count}, not more than the step before: dropped"
            )
            continue
        users.append(count)
    return users, notes


def peak_users(scenario: ScenarioSpec) -> int:
    """Today's users at the peak: the users times ``peak_factor``, rounded up (the scenario's
    own ``workload.peak_users``, as ``compare`` measures it)."""
    return max(1, scenario.workload.peak_users)
