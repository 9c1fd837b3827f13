"""A release and how it is rolled out: the input of :func:`scaleplan.experiments.rollout.deploy`.

A rollout plan names the service to update, the strategy and its knobs, the release (which may
be bad: more errors, or slower) and the automatic rollback that watches the new version:

.. code-block:: yaml

    component: api           # default: the service behind the entry load balancer
    strategy: canary         # rolling | blue_green | canary | all_at_once
    start_s: 60              # when the deploy begins in the simulated run
    batch_size: 1            # rolling: replicas replaced at once
    drain_s: 10              # at most this long for in-flight requests before a stop
    boot_s: 30               # from start to serving, per new replica
    switch_s: 5              # blue-green: traffic moving from blue to green
    keep_old_s: 300          # blue-green: blue kept for a quick switch back
    canary: {steps: [0.05, 0.25, 0.5, 1.0], bake_s: 60}
    release: {bad_probability: 0.2, error_rate: 0.05, latency_factor: 1.0}
    rollback: {max_error_rate: 0.01, max_latency_ratio: 2.0, window_s: 60, for_s: 30,
               check_interval_s: 5, min_requests: 20}
    users: 10000             # people behind the requests, for the share of users hit
    cost_per_replica_hour: 0.17
    deploys_per_month: 20

Plans are given on the command line (``scaleplan rollout SPEC --strategy canary …``) or in a
YAML file of these keys (``--plan FILE``). This module only describes; the simulation of a
deploy lives in :mod:`scaleplan.experiments.rollout`.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    ValidationError,
    field_validator,
)

from scaleplan.errors import Problem, SpecError
from scaleplan.spec.architecture import read_yaml, validation_problems
from scaleplan.spec.base import (
    MAX_FACTOR,
    Amount,
    Count,
    Factor,
    NonNegativeRate,
    PositiveSeconds,
    Seconds,
    Servers,
    StrictModel,
)

__all__ = [
    "STRATEGIES",
    "CanarySpec",
    "ReleaseSpec",
    "RollbackSpec",
    "RolloutSpec",
    "load_rollout",
]

Strategy = Literal["rolling", "blue_green", "canary", "all_at_once"]
STRATEGIES: tuple[str, ...] = ("rolling", "blue_green", "canary", "all_at_once")
Share = Annotated[float, Field(gt=0, le=1)]


class ReleaseSpec(StrictModel):
    """The new version: bad with ``bad_probability`` (or surely, with ``bad: true``); a bad one
    fails an extra ``error_rate`` of its requests and serves ``latency_factor`` times slower."""

    bad_probability: float = Field(default=0.0, ge=0, le=1)
    bad: bool | None = Field(default=None, description="force the outcome instead of drawing it")
    error_rate: float = Field(default=0.05, ge=0, le=1)
    latency_factor: Factor = 1.0


class RollbackSpec(StrictModel):
    """The automatic rollback, as an alert on the new version's requests would fire.

    Every ``check_interval_s`` it looks at the new version's requests of the last
    ``window_s`` (at least ``min_requests`` of them): a breach is an error rate of at least
    ``max_error_rate`` or a p99 of at least ``max_latency_ratio`` × the p99 before the deploy.
    Once a breach has lasted ``for_s`` (an alert's pending period), it rolls back.
    """

    max_error_rate: float | None = Field(default=0.01, gt=0, le=1)
    max_latency_ratio: float | None = Field(default=None, gt=1, le=MAX_FACTOR)
    window_s: PositiveSeconds = 60.0
    for_s: Seconds = 30.0
    check_interval_s: PositiveSeconds = 5.0
    min_requests: Count = 20


class CanarySpec(StrictModel):
    """Traffic steps (shares of requests to the new version) and the bake time of each."""

    steps: tuple[Share, ...] = Field(default=(0.05, 0.25, 0.5, 1.0), min_length=1)
    bake_s: Seconds = 60.0

    @field_validator("steps")
    @classmethod
    def _rising(cls, steps: tuple[float, ...]) -> tuple[float, ...]:
        if any(b <= a for a, b in itertools.pairwise(steps)):
            raise ValueError(f"steps must rise (got {list(steps)})")
        if steps[-1] != 1.0:
            steps = (*steps, 1.0)
        return steps


class RolloutSpec(StrictModel):
    """One rollout plan (see the module docstring)."""

    strategy: Strategy = Field(
        default="rolling", description="rolling, blue_green, canary or all_at_once"
    )
    component: str | None = Field(
        default=None, description="the service to update (default: the one behind the entry)"
    )
    start_s: Seconds = Field(default=60.0, description="when the deploy begins in the run")
    batch_size: Servers = Field(default=1, description="rolling: replicas replaced at once")
    drain_s: Seconds = Field(
        default=10.0, description="at most this long for in-flight requests before a stop"
    )
    boot_s: Seconds = Field(default=30.0, description="from start to serving, per new replica")
    switch_s: Seconds = Field(
        default=5.0, description="blue-green: traffic moving from blue to green"
    )
    keep_old_s: Seconds = Field(
        default=300.0, description="blue-green: blue kept for a quick switch back"
    )
    canary: CanarySpec = CanarySpec()
    release: ReleaseSpec = ReleaseSpec()
    rollback: RollbackSpec | None = RollbackSpec()
    observe_s: Seconds = Field(
        default=120.0, description="simulated after the longest plan could have finished"
    )
    users: Count = Field(
        default=10_000, description="people behind the requests, for the share of users hit"
    )
    cost_per_replica_hour: Amount = Field(
        default=0.0, description="the price of the extra replicas a deploy runs"
    )
    deploys_per_month: NonNegativeRate = Field(
        default=20.0, description="releases a month, for the monthly cost of deploying"
    )

    def planned_s(self, replicas: int) -> float:
        """How long the deploy takes when nothing goes wrong, for ``replicas`` replicas."""
        if self.strategy == "rolling":
            batches = -(-replicas // self.batch_size)
            return batches * (self.drain_s + self.boot_s)
        if self.strategy == "all_at_once":
            return self.drain_s + self.boot_s
        if self.strategy == "blue_green":
            return self.boot_s + self.switch_s + self.drain_s + self.keep_old_s
        steps = len(self.canary.steps)
        return steps * (self.boot_s + self.canary.bake_s) + self.drain_s

    def with_strategy(self, strategy: str) -> RolloutSpec:
        """The same plan under another strategy."""
        return self.model_copy(update={"strategy": strategy})


def load_rollout(path: str | Path, **overrides: Any) -> RolloutSpec:
    """Read and validate a rollout plan file; ``overrides`` replace its top-level keys.

    Examples
    --------
    >>> from pathlib import Path
    >>> import scaleplan
    >>> root = Path(scaleplan.__file__).parent.parent
    >>> load_rollout(root / "data/rollouts/canary.yaml").canary.steps
    (0.05, 0.25, 0.5, 1.0)
    """
    path = Path(path)
    data, lines = read_yaml(path)
    if not isinstance(data, dict):
        raise SpecError([Problem(path.name, "", "must be a mapping of keys")])
    data = {**data, **{key: value for key, value in overrides.items() if value is not None}}
    try:
        return RolloutSpec.model_validate(data)
    except ValidationError as error:
        raise SpecError(
            validation_problems(error, data, path.name, lines, root=RolloutSpec)
        ) from None
