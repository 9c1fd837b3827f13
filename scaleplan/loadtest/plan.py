"""The load-test plan file: what ``scaleplan loadtest`` writes and ``scaleplan verify`` reads.

One JSON file (``plan.json`` beside the generated Locust and k6 scripts) holds everything the
measurement is later judged against: the candidate and scenario it was made for, the HTTP
request each request class sends, and the steps of the load (when each starts, how long it
lasts, how long to let it settle before measuring, the users and the rate they offer) with the
model's prediction at each step — every figure as a mean and its 95% CI. ``verify`` needs
nothing else from the model, so a result can be judged years later against what was predicted
when the test was planned.

The file is versioned by :data:`FORMAT`; :func:`read_plan` refuses another version, a file
that is not JSON, and a plan with missing or invalid keys, naming the file and the key path
(exit 2 on the command line).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import Field, TypeAdapter, ValidationError, field_validator, model_validator

from scaleplan.distributions import Distribution
from scaleplan.errors import Problem, SpecError
from scaleplan.spec.architecture import validation_problems
from scaleplan.spec.base import StrictModel

#: The plan file's format and version (a reader refuses any other).
FORMAT: Final = "scaleplan-loadtest-plan/1"
#: Validates a closed plan's think time as the spec's distributions.
_DISTRIBUTION: TypeAdapter[Any] = TypeAdapter(Distribution)
#: The figures a step predicts (all optional but throughput): keys of :attr:`Step.predicted`.
FIGURES = ("throughput_per_s", "mean_ms", "p50_ms", "p95_ms", "p99_ms", "error_rate")


class Band(StrictModel):
    """A predicted figure: its mean and 95% confidence interval (low ≤ mean ≤ high), and the
    range one measured window of the step falls in (optional).

    The CI is the model's uncertainty about the long-run figure; a load test measures a window
    of some seconds, itself a sample whose figure scatters around the long-run one (fewer
    requests, fewer still in the tail). ``window_low``/``window_high`` are the 2.5% and 97.5%
    quantiles of the figure over many simulated windows of the step's measured length: what a
    correct model says one measurement may show.
    """

    mean: float = Field(description="the model's estimate")
    low: float = Field(description="lower end of its 95% CI")
    high: float = Field(description="upper end of its 95% CI")
    window_low: float | None = Field(
        default=None, description="2.5% quantile of the figure over windows of the step's length"
    )
    window_high: float | None = Field(
        default=None, description="97.5% quantile of the figure over windows of the step's length"
    )

    @model_validator(mode="after")
    def _ordered(self) -> Band:
        if not self.low <= self.mean <= self.high:
            raise ValueError(
                f"must have low <= mean <= high (got {self.low}, {self.mean}, {self.high})"
            )
        if (self.window_low is None) != (self.window_high is None):
            raise ValueError("give both window_low and window_high, or neither")
        if (
            self.window_low is not None
            and self.window_high is not None
            and self.window_low > self.window_high
        ):
            raise ValueError(
                f"must have window_low <= window_high (got {self.window_low}, {self.window_high})"
            )
        return self

    @property
    def reach(self) -> tuple[float, float]:
        """Where a correct model's measurement may lie: the CI, and the window's range."""
        if self.window_low is None or self.window_high is None:
            return self.low, self.high
        return min(self.low, self.window_low), max(self.high, self.window_high)


class ClassRequest(StrictModel):
    """The HTTP request one request class sends (Locust names its statistics by ``name``)."""

    name: str = Field(min_length=1, description="the request class (Locust's request name)")
    weight: float = Field(gt=0, description="its share of the requests (Locust task weight)")
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    path: str = Field(pattern=r"^/", description="the URL path, from the host on")


class Step(StrictModel):
    """One step of the load and the model's prediction there."""

    index: int = Field(ge=0)
    phase: str = Field(
        default="stress", description="the test case it belongs to: load, stress, spike, soak"
    )
    start_s: float = Field(ge=0, description="seconds from the start of the test")
    duration_s: float = Field(gt=0, description="how long the step lasts")
    settle_s: float = Field(
        ge=0, description="seconds at the start of the step left out of the measurement"
    )
    users: int = Field(
        ge=1,
        description=(
            "concurrent Locust users (k6 virtual users); a closed plan's load: the model's users"
        ),
    )
    rate_per_s: float = Field(
        gt=0,
        description=(
            "the requests per second the users offer (open plan); a closed plan's users send "
            "what they manage: the model's predicted throughput at this step's users"
        ),
    )
    predicted: dict[str, Band] = Field(
        description=f"the model's figures at this load: {', '.join(FIGURES)}"
    )
    busiest: str = Field(default="", description="the busiest component at this load")
    busiest_utilization: float | None = Field(default=None, ge=0)
    meets_slos: bool = Field(description="whether the model predicts every SLO met here")

    @model_validator(mode="after")
    def _known_figures(self) -> Step:
        unknown = sorted(set(self.predicted) - set(FIGURES))
        if unknown:
            raise ValueError(f"unknown predicted figures {unknown} (known: {list(FIGURES)})")
        if "throughput_per_s" not in self.predicted:
            raise ValueError("predicted needs throughput_per_s")
        if self.settle_s >= self.duration_s:
            raise ValueError(
                f"settle_s must be shorter than duration_s (got {self.settle_s} >= "
                f"{self.duration_s})"
            )
        return self

    @property
    def window_s(self) -> tuple[float, float]:
        """The measured part of the step, in seconds from the start of the test."""
        return self.start_s + self.settle_s, self.start_s + self.duration_s


class PlannedCase(StrictModel):
    """One test case of the test plan (load, stress, spike, failover, soak) as the plan file
    keeps it, so that a decision record can print the test plan without simulating again."""

    name: str = Field(min_length=1)
    purpose: str = ""
    load: str = Field(description="the load in words")
    duration_s: float = Field(gt=0)
    rate_per_s: float | None = Field(default=None, gt=0)
    users: int | None = Field(default=None, ge=1)
    predicted: dict[str, Band] | None = Field(
        default=None, description="the model's figures at this load (null: no prediction)"
    )
    busiest: str = ""
    busiest_utilization: float | None = Field(default=None, ge=0)
    meets_slos: bool = False
    stable: bool = True
    criteria: tuple[str, ...] = ()
    on_failure: str = ""
    notes: tuple[str, ...] = ()
    model_notes: tuple[str, ...] = Field(default=(), description="the prediction's own notes")


class LoadTestPlan(StrictModel):
    """A load test of one candidate: its requests, its steps and the model's predictions."""

    format: Literal["scaleplan-loadtest-plan/1"] = FORMAT
    scenario: str = Field(description="the scenario file the plan was made from")
    candidate: str = Field(description="the architecture under test")
    host: str = Field(description="default base URL of the system under test")
    classes: tuple[ClassRequest, ...] = Field(min_length=1)
    workload: Literal["open", "closed"] = Field(
        default="open",
        description=(
            "open: each step offers its rate_per_s whatever the system does (users paced); "
            "closed: each step runs its users, each sending, waiting for the answer and "
            "thinking (think_time) before the next, as the model's closed workload"
        ),
    )
    think_time: dict[str, Any] | None = Field(
        default=None,
        description=(
            "closed plans: the users' think time, a distribution as the spec writes it "
            "(e.g. {dist: exponential, mean_ms: 3000}; an empirical one with its samples_ms); "
            "null: no think time"
        ),
    )
    class_users: dict[str, float] | None = Field(
        default=None,
        description=(
            "closed plans: each request class's share of the users (a user keeps its class), "
            "in proportion to the model's split; null: an open plan's task weights decide"
        ),
    )
    user_rate_per_s: float | None = Field(
        default=None,
        gt=0,
        description=(
            "open plans: requests per second each user sends (a step runs its rate over this); "
            "null for a closed plan (its users think instead)"
        ),
    )
    slos: tuple[str, ...] = Field(default=(), description="the NFR objectives, as written")
    limit_per_s: float | None = Field(
        default=None, description="the model's sustainable limit (tractor pull); null: none"
    )
    limit_ci95: tuple[float, float] | None = Field(default=None, description="its 95% CI")
    limit_users: float | None = Field(
        default=None,
        description="closed plans: the most users meeting every SLO (tractor pull over users)",
    )
    limit_users_ci95: tuple[float, float] | None = Field(
        default=None, description="closed plans: its 95% CI"
    )
    bottleneck: str = Field(default="", description="the component that saturates first")
    steps: tuple[Step, ...] = Field(min_length=1)
    cases: tuple[PlannedCase, ...] = Field(
        default=(), description="the test plan's cases, as `scaleplan loadtest` predicted them"
    )

    @field_validator("think_time")
    @classmethod
    def _a_distribution(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return None
        if "file" in value:
            raise ValueError("give an empirical think time by its samples_ms, not a file")
        _DISTRIBUTION.validate_python(value)
        return value

    @model_validator(mode="after")
    def _steps_in_order(self) -> LoadTestPlan:
        if self.workload == "open" and self.user_rate_per_s is None:
            raise ValueError("an open plan needs user_rate_per_s")
        if self.workload == "open" and (
            self.think_time is not None or self.class_users is not None
        ):
            raise ValueError("think_time and class_users belong to a closed plan")
        for before, after in zip(self.steps, self.steps[1:], strict=False):
            if after.start_s < before.start_s + before.duration_s - 1e-9:
                raise ValueError(
                    f"step {after.index} starts at {after.start_s} s, before step "
                    f"{before.index} ends ({before.start_s + before.duration_s} s)"
                )
        return self

    @property
    def closed(self) -> bool:
        """Whether the steps run users who think (True) or offer rates (False)."""
        return self.workload == "closed"

    @property
    def duration_s(self) -> float:
        """The whole test, from its start to the end of its last step."""
        last = self.steps[-1]
        return last.start_s + last.duration_s

    def to_json(self) -> str:
        return self.model_dump_json(indent=2) + "\n"


def write_plan(plan: LoadTestPlan, path: str | Path) -> Path:
    """Write ``plan`` as JSON to ``path`` (its folder must exist)."""
    target = Path(path)
    target.write_text(plan.to_json(), encoding="utf-8")
    return target


def read_plan(path: str | Path) -> LoadTestPlan:
    """Read a plan file; a clear :class:`~scaleplan.errors.SpecError` when it cannot be used."""
    source = Path(path)
    try:
        data: Any = json.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SpecError([Problem(source.name, "", "no such file")]) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SpecError([Problem(source.name, "", f"not a JSON plan file ({error})")]) from None
    if not isinstance(data, dict):
        raise SpecError([Problem(source.name, "", "must be a JSON object")])
    if data.get("format") != FORMAT:
        raise SpecError(
            [
                Problem(
                    source.name,
                    "format",
                    f"must be {FORMAT!r}, a plan written by `scaleplan loadtest` "
                    f"(got {data.get('format')!r})",
                )
            ]
        )
    try:
        return LoadTestPlan.model_validate(data)
    except ValidationError as error:
        raise SpecError(
            validation_problems(error, data, source.name, {}, root=LoadTestPlan)
        ) from None
