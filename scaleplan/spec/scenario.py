"""Client scenarios: the decision context, the workload, the NFRs, the candidates and the budget.

A scenario file (``data/scenarios/*.yaml``) describes one architecture decision:

.. code-block:: yaml

    title: Online shop — scaling for the next two years
    context: …                     # who the client is, what runs today
    problem: …                     # the question to decide
    drivers: [ … ]                 # what matters most, in words
    workload:
      today: {arrival: poisson, rate_per_s: 90}   # the architecture workload keys
      peak_factor: 2.5             # busiest hour / mean (default: from a diurnal profile, else 1)
      growth_percent_per_month: 8
    nfrs: {slos: ["p99<=400ms", "errors<=0.1%"], headroom: {min_percent: 30}, …}
    candidates:
      - {path: ../architectures/monolith.yaml}          # relative to this file
      - {name: big-monolith, path: ../architectures/monolith.yaml}
      - {name: inline-one, architecture: {…}}           # or an architecture in-line
    costs: {currency: EUR, defaults: {service: {…}}, candidates: {monolith: {db: {…}}}}
    criteria: {p99_ms: 3, cost_per_month: 3, runway_months: 2, headroom: 1}
    run: {seed: 1, replications: 5, requests: 20000, pull_replications: 3, …}
    resilience:                    # optional: the chosen option's downtime in the record
      dr: ../dr/online-shop-dr.yaml          # a disaster-recovery file (relative to this file)
      rollout: ../rollouts/canary.yaml       # a release plan (its strategy and component)
    loadtest:                      # optional: how `scaleplan loadtest` drives the real system
      host: http://127.0.0.1:8000
      user_rate_per_s: 1.0         # requests/s per Locust user
      step_s: 60                   # seconds per step; the first settle_s of each not measured
      settle_s: 15
      fractions: [0.25, 0.5, 0.75, 0.9, 1.0, 1.1]   # of the predicted limit
      requests: {browse: {method: GET, path: /browse}}   # default: GET /<class name>

:func:`load_scenario` validates all of it with the same key-path errors as architecture files
(file, line, key path, what was found), loads every candidate and applies the scenario's
workload to it, so :meth:`ScenarioSpec.architectures` gives ready-to-simulate specs. The
scenario's workload keys override the candidate's; keys it does not give (e.g. request
classes that only one candidate defines) stay as the candidate has them. This module does not
run anything: :func:`scaleplan.experiments.compare` does.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from scaleplan.distributions import Empirical
from scaleplan.errors import Problem, SpecError
from scaleplan.paths import DataFileError, resolve_reference, scenario_scope
from scaleplan.spec.architecture import (
    KINDS,
    NAME_PATTERN,
    ArchitectureSpec,
    WorkloadSpec,
    format_key_path,
    line_of,
    load_spec,
    parse_spec,
    read_yaml,
    suggest,
    validation_problems,
)
from scaleplan.spec.base import (
    MAX_COUNT,
    MAX_FACTOR,
    Count,
    GrowthPercent,
    NonNegativeWeight,
    PositiveSeconds,
    Rate,
    Seconds,
    Seed,
    StrictModel,
)
from scaleplan.spec.cost import CostTableSpec
from scaleplan.spec.nfr import NFRSpec
from scaleplan.spec.profile import ProfileSpec

__all__ = [
    "CRITERIA",
    "DEFAULT_CRITERIA",
    "PRECISION_CAP_FACTOR",
    "CandidateSpec",
    "LoadTestRequestSpec",
    "LoadTestSpec",
    "ResilienceSpec",
    "RunBudgetSpec",
    "ScenarioSpec",
    "ScenarioWorkloadSpec",
    "load_scenario",
    "parse_scenario",
]

#: Under ``run.stopping: precision`` a candidate's replications (and pull searches) are capped
#: at this many times the budget's ``run.replications`` (``run.pull_replications``).
PRECISION_CAP_FACTOR = 2

#: The criteria a decision matrix can weigh, and whether lower or higher values are better.
CRITERIA: dict[str, str] = {
    "p99_ms": "lower",  # end-to-end p99 at peak load
    "mean_ms": "lower",  # end-to-end mean at peak load
    "error_rate": "lower",  # rejected + failed share at peak load
    "cost_per_month": "lower",  # at today's load
    "cost_per_million": "lower",  # cost per million requests at today's load
    "headroom": "higher",  # 1 − peak / sustainable limit
    "runway_months": "higher",  # months of growth until the first SLO breaks
    "limit_per_s": "higher",  # the tractor pull's sustainable limit
}
DEFAULT_CRITERIA: dict[str, float] = {
    "p99_ms": 1.0,
    "cost_per_month": 1.0,
    "runway_months": 1.0,
}


class CandidateSpec(StrictModel):
    """One candidate: an architecture file (relative to the scenario) or an in-line one.

    After :func:`load_scenario`, :attr:`spec` is the architecture with the scenario's workload
    and run budget applied, and :attr:`original` is the architecture as written.
    """

    name: str | None = Field(default=None, pattern=NAME_PATTERN)
    path: str | None = None
    architecture: dict[str, Any] | None = None
    description: str = ""

    _spec: ArchitectureSpec | None = PrivateAttr(default=None)
    _original: ArchitectureSpec | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _one_source(self) -> CandidateSpec:
        if (self.path is None) == (self.architecture is None):
            raise ValueError("give either 'path' (an architecture file) or 'architecture'")
        return self

    @property
    def spec(self) -> ArchitectureSpec:
        """The architecture with the scenario's workload applied (ready to simulate)."""
        if self._spec is None:
            raise RuntimeError("candidate not loaded: use load_scenario or parse_scenario")
        return self._spec

    @property
    def original(self) -> ArchitectureSpec:
        """The architecture as its file (or the in-line mapping) gives it."""
        if self._original is None:
            raise RuntimeError("candidate not loaded: use load_scenario or parse_scenario")
        return self._original

    @property
    def label(self) -> str:
        """The candidate's name: its own ``name`` or its architecture's."""
        if self.name:
            return self.name
        return self._original.name if self._original is not None else str(self.path)


class ScenarioWorkloadSpec(StrictModel):
    """Today's workload (architecture workload keys), its peak and its monthly growth."""

    today: WorkloadSpec
    peak_factor: float | None = Field(
        default=None,
        ge=1,
        le=MAX_FACTOR,
        description="busiest hour / mean; default from diurnal, else 1",
    )
    growth_percent_per_month: GrowthPercent = 0.0
    profile: ProfileSpec | None = Field(
        default=None,
        description="the load over time a decision is made over: phases whose factors "
        "multiply today's rate (spike factor 20 = 20 × today); run by `scaleplan transient`",
    )

    @property
    def closed(self) -> bool:
        """Whether the load is users who think between requests (a closed workload), not a
        rate."""
        return self.today.closed

    @property
    def today_rate_per_s(self) -> float:
        return self.today.mean_rate_per_s

    @property
    def peak_rate_per_s(self) -> float:
        """The busiest hour's rate: today's mean × ``peak_factor``; without one, a diurnal
        profile's busiest slice, else the mean (a bursty load's bursts last seconds, and every
        run at peak replays them: its burst rate is not an hour's)."""
        if self.peak_factor is not None:
            return self.today.mean_rate_per_s * self.peak_factor
        return self.today.busiest_hour_rate_per_s

    @property
    def today_users(self) -> int:
        """A closed workload's users today (0 for an open one)."""
        return self.today.total_users

    @property
    def peak_users(self) -> int:
        """A closed workload's users at peak: today's × ``peak_factor``, rounded up (a
        peak of 2.5 × 40 users is 100 users at once)."""
        if not self.closed:
            return 0
        factor = self.peak_factor if self.peak_factor is not None else 1.0
        return math.ceil(self.today.total_users * factor - 1e-9)

    @property
    def growth_per_month(self) -> float:
        """Monthly growth as a fraction (0.08 for 8%)."""
        return self.growth_percent_per_month / 100.0


class RunBudgetSpec(StrictModel):
    """How much simulation the scenario may spend, and the seed that makes it reproducible.

    ``replications`` runs of ``requests`` each measure every candidate at peak load, with seeds
    ``seed … seed + replications − 1`` shared by all candidates (common random numbers).
    ``pull_replications`` independent tractor pulls of ``pull_requests`` per step give each
    candidate's sustainable limit with a CI, to ``precision`` (relative bracket width).

    With ``stopping: precision`` (the default) ``replications`` is a budget, not a count: each
    candidate gets at least 3 replications, then more until every figure a verdict depends on
    is settled (its CI clears the bound) or within ``ci_precision`` (relative CI half-width),
    at most twice ``replications``; the pull's bracket starts at the analytic estimate of the
    limit. ``stopping: fixed`` spends exactly the budget, as before.
    """

    seed: Seed = Field(default=1, description="one seed gives identical output")
    replications: int = Field(default=5, ge=2, le=MAX_COUNT)
    requests: Count = 20_000
    pull_replications: int = Field(default=3, ge=2, le=MAX_COUNT)
    pull_requests: Count = 10_000
    precision: float = Field(default=0.02, gt=0, lt=0.5)
    stopping: Literal["precision", "fixed"] = Field(
        default="precision",
        description=(
            "precision: measure each candidate until its verdicts are settled or its CIs are "
            "within ci_precision (at least 3, at most 2 × replications runs) and bracket the pull "
            "from the analytic estimate; fixed: exactly `replications` runs and the pull's bracket "
            "from the bottleneck bound"
        ),
    )
    ci_precision: float = Field(
        default=0.05,
        gt=0,
        lt=1,
        description=(
            "target relative half-width of the 95% CI of every figure a verdict or a criterion "
            "depends on (stopping: precision)"
        ),
    )
    baseline: str | None = Field(default=None, description="defaults to the first candidate")
    spike_limit: bool = Field(
        default=False,
        description=(
            "with a load profile: the decision record also searches how big the peak phase "
            "may grow for the chosen option before an SLO breaks (its spike limit, with a CI)"
        ),
    )
    spike_searches: int = Field(
        default=3, ge=2, le=MAX_COUNT, description="independent searches of the spike limit"
    )


class ResilienceSpec(StrictModel):
    """Files that describe the chosen option's downtime, relative to the scenario file.

    ``dr`` is a disaster-recovery file (:func:`scaleplan.spec.dr.load_dr`), ``rollout`` a
    release plan (:func:`scaleplan.spec.rollout.load_rollout`). Both are optional; the decision
    record shows a Resilience part only when at least one is given.
    """

    dr: str | None = None
    rollout: str | None = None


#: The request class of a workload without classes (its load-test requests go to ``/default``).
DEFAULT_CLASS = "default"
#: Steps a load test may have (a step is at least a few seconds of real load).
MAX_LOADTEST_STEPS = 100


class LoadTestRequestSpec(StrictModel):
    """The HTTP request one request class sends in a load test."""

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = Field(
        default="GET", description="the HTTP method"
    )
    path: str = Field(
        pattern=r"^/[^\s]*$",
        max_length=2000,
        description="the URL path from the host on, starting with '/' (no spaces)",
    )


class LoadTestSpec(StrictModel):
    """How ``scaleplan loadtest`` drives the real system: its address, the users' pace, the
    steps of the tractor pull (fractions of the model's limit) and each class's HTTP request.

    A class without an entry in ``requests`` sends ``GET /<class name>``; a workload without
    classes has one class, ``default``.
    """

    host: str = Field(
        default="http://127.0.0.1:8000",
        pattern=r"^https?://[^\s/]+(/[^\s]*)?$",
        max_length=2000,
        description="default base URL of the system under test (http:// or https://)",
    )
    user_rate_per_s: Rate = Field(
        default=1.0,
        description=(
            "requests per second each Locust user sends: a step runs ceil(rate / this) "
            "users, each at a random phase of its period"
        ),
    )
    step_s: PositiveSeconds = Field(default=60.0, description="seconds per step of the load")
    settle_s: Seconds = Field(
        default=15.0,
        description="seconds at the start of each step left out of the measurement (< step_s)",
    )
    fractions: tuple[float, ...] = Field(
        default=(0.25, 0.5, 0.75, 0.9, 1.0, 1.1),
        min_length=1,
        max_length=MAX_LOADTEST_STEPS,
        description="each step's rate as a fraction of the predicted limit: above 0, increasing",
    )
    requests: dict[str, LoadTestRequestSpec] = Field(
        default_factory=dict,
        description="request class → its HTTP request (default: GET /<class name>)",
    )

    @field_validator("fractions")
    @classmethod
    def _increasing(cls, fractions: tuple[float, ...]) -> tuple[float, ...]:
        for index, fraction in enumerate(fractions):
            if not 0 < fraction <= MAX_FACTOR:
                raise ValueError(
                    f"item {index} must be above 0 and at most {MAX_FACTOR:g} (got {fraction!r})"
                )
        for index, (before, after) in enumerate(itertools.pairwise(fractions), start=1):
            if not after > before:
                raise ValueError(f"must increase (item {index}, {after:g}, follows {before:g})")
        return fractions

    @model_validator(mode="after")
    def _consistent(self) -> LoadTestSpec:
        if not self.settle_s < self.step_s:
            raise ValueError(
                f"settle_s must be shorter than step_s (got settle_s {self.settle_s:g} s, "
                f"step_s {self.step_s:g} s)"
            )
        return self

    def request_for(self, name: str) -> LoadTestRequestSpec:
        """The HTTP request of class ``name`` (``GET /<name>`` unless ``requests`` gives one)."""
        return self.requests.get(name) or LoadTestRequestSpec(path=f"/{name}")


class ScenarioSpec(StrictModel):
    """One architecture decision for one client (see the module docstring for the keys)."""

    title: str = Field(min_length=1, description="the decision, in a line")
    context: str = Field(default="", description="who the client is, what runs today")
    problem: str = Field(default="", description="the question to decide")
    drivers: tuple[str, ...] = Field(default=(), description="what matters most, in words")
    workload: ScenarioWorkloadSpec
    nfrs: NFRSpec = NFRSpec()
    candidates: tuple[CandidateSpec, ...] = Field(min_length=1)
    costs: CostTableSpec = CostTableSpec()
    criteria: dict[str, NonNegativeWeight] = Field(
        default_factory=lambda: dict(DEFAULT_CRITERIA),
        description="criterion → weight in the decision matrix (p99_ms, cost_per_month, …)",
    )
    run: RunBudgetSpec = RunBudgetSpec()
    consequences: tuple[str, ...] = Field(
        default=(), description="what the decision entails, in words, for the record"
    )
    resilience: ResilienceSpec | None = None
    loadtest: LoadTestSpec = Field(
        default_factory=LoadTestSpec,
        description="how `scaleplan loadtest` drives the real system (all keys optional)",
    )

    _source: str = PrivateAttr(default="<memory>")
    _base_dir: str = PrivateAttr(default=".")

    @property
    def source(self) -> str:
        """The file this scenario came from (for messages), or ``<memory>``."""
        return self._source

    @property
    def base_dir(self) -> str:
        return self._base_dir

    def resilience_file(self, key: str) -> Path | None:
        """The ``resilience.dr`` or ``resilience.rollout`` file, resolved against the
        scenario's folder; ``None`` when the scenario does not give it."""
        given = getattr(self.resilience, key) if self.resilience is not None else None
        if given is None:
            return None
        path = Path(given)
        return path if path.is_absolute() else Path(self._base_dir) / path

    @property
    def names(self) -> list[str]:
        """Candidate names in file order."""
        return [candidate.label for candidate in self.candidates]

    def architectures(self) -> dict[str, ArchitectureSpec]:
        """Candidate name → architecture with the scenario's workload applied."""
        return {candidate.label: candidate.spec for candidate in self.candidates}

    @property
    def baseline(self) -> str:
        return self.run.baseline or self.names[0]

    @property
    def today_rate_per_s(self) -> float:
        return self.workload.today_rate_per_s

    @property
    def peak_rate_per_s(self) -> float:
        return self.workload.peak_rate_per_s

    @property
    def growth_per_month(self) -> float:
        """The growth the NFRs ask to absorb, else the workload's forecast (a fraction)."""
        growth = self.nfrs.growth
        if growth is not None and growth.percent_per_month is not None:
            return growth.percent_per_month / 100.0
        return self.workload.growth_per_month

    def weights(self) -> dict[str, float]:
        """The criteria weights, normalised to sum to 1 (criteria of weight 0 dropped)."""
        total = math.fsum(self.criteria.values())
        return {name: weight / total for name, weight in self.criteria.items() if weight > 0}


# --------------------------------------------------------------------------- loading


def load_scenario(path: str | Path) -> ScenarioSpec:
    """Read and validate a scenario file, load its candidates and apply its workload to them.

    Candidate ``path`` entries are relative to the scenario file. Every problem is reported
    as a :class:`~scaleplan.errors.SpecError` naming the file, the line, the key path and what
    was found; a problem inside a candidate's own file names that file.

    Examples
    --------
    >>> from pathlib import Path
    >>> import scaleplan
    >>> root = Path(scaleplan.__file__).parent.parent
    >>> scenario = load_scenario(root / "data/scenarios/online-shop.yaml")
    >>> scenario.names
    ['monolith', 'lb-cluster', 'three-tier']
    >>> scenario.architectures()["monolith"].workload.rate_per_s == scenario.today_rate_per_s
    True
    """
    path = Path(path)
    data, lines = read_yaml(path)
    return parse_scenario(data, source=path.name, base_dir=str(path.parent), lines=lines)


def parse_scenario(
    data: Any,
    *,
    source: str = "<memory>",
    base_dir: str = ".",
    lines: Mapping[tuple[str | int, ...], int] | None = None,
) -> ScenarioSpec:
    """Validate already-parsed data (a dict as from YAML) into a loaded :class:`ScenarioSpec`."""
    lines = lines or {}
    if not isinstance(data, dict):
        found = "nothing" if data is None else type(data).__name__
        raise SpecError([Problem(source, "", f"must be a mapping of keys (got {found})")])
    try:
        # Files the workload names (an empirical think time, a trace) are the scenario's.
        scenario = ScenarioSpec.model_validate(data, context={"base_dir": base_dir})
    except ValidationError as error:
        # The files it names are read all the same: every problem of every file in one pass.
        problems = _problems(error, data, source, lines)
        problems.extend(_named_file_problems(data, source, base_dir, lines))
        raise SpecError(problems) from None
    scenario._source = source
    scenario._base_dir = base_dir
    problems = []
    for index, candidate in enumerate(scenario.candidates):
        problems.extend(_load_candidate(scenario, index, candidate, source, base_dir, lines))
    if not problems:
        problems.extend(_cross_problems(scenario, source, lines))
    resilience = scenario.resilience
    given = resilience.model_dump() if resilience is not None else {}
    problems.extend(_resilience_problems(given, source, base_dir, lines))
    if problems:
        raise SpecError(problems)
    return scenario


def _named_file_problems(
    data: Mapping[str, Any], source: str, base_dir: str, lines: Mapping[tuple[str | int, ...], int]
) -> list[Problem]:
    """The problems of the candidates and resilience files an invalid scenario names, read
    from its raw data (each entry that names one file or one in-line architecture)."""
    problems: list[Problem] = []
    candidates = data.get("candidates")
    for index, entry in enumerate(candidates if isinstance(candidates, list) else ()):
        if not isinstance(entry, dict):
            continue
        path, architecture = entry.get("path"), entry.get("architecture")
        if isinstance(path, str) and architecture is None:
            problems.extend(_read_candidate(index, path, None, source, base_dir, lines)[1])
        elif isinstance(architecture, dict) and path is None:
            problems.extend(_read_candidate(index, None, architecture, source, base_dir, lines)[1])
    resilience = data.get("resilience")
    if isinstance(resilience, dict):
        given = {key: resilience.get(key) for key in ("dr", "rollout")}
        strings = {key: value for key, value in given.items() if isinstance(value, str)}
        problems.extend(_resilience_problems(strings, source, base_dir, lines))
    return problems


def _load_candidate(
    scenario: ScenarioSpec,
    index: int,
    candidate: CandidateSpec,
    source: str,
    base_dir: str,
    lines: Mapping[tuple[str | int, ...], int],
) -> list[Problem]:
    original, problems = _read_candidate(
        index, candidate.path, candidate.architecture, source, base_dir, lines
    )
    if original is None:
        return problems
    try:
        applied = apply_workload(original, scenario)
    except SpecError as error:
        name = candidate.name or original.name
        return [
            _problem(
                source,
                ("workload", "today"),
                f"cannot be applied to candidate {name!r}: "
                + "; ".join(f"{p.key_path}: {p.message}" for p in error.problems),
                lines,
            )
        ]
    candidate._original = original
    candidate._spec = applied
    if candidate.name is None:
        # After loading, every candidate has its name (the architecture's unless renamed).
        object.__setattr__(candidate, "name", original.name)
    return []


def _read_candidate(
    index: int,
    path: str | None,
    architecture: dict[str, Any] | None,
    source: str,
    base_dir: str,
    lines: Mapping[tuple[str | int, ...], int],
) -> tuple[ArchitectureSpec | None, list[Problem]]:
    """Candidate ``index``'s architecture as written (a file or in-line), or its problems:
    a problem inside the candidate's own file names that file."""
    where: tuple[str | int, ...] = ("candidates", index)
    if path is not None:
        try:
            file = resolve_reference(path, base_dir, scope=scenario_scope(base_dir))
        except DataFileError as error:
            return None, [_problem(source, (*where, "path"), str(error), lines)]
        if not file.is_file():
            message = f"file does not exist (got {path!r}; paths are relative to the scenario file)"
            return None, [_problem(source, (*where, "path"), message, lines)]
        try:
            return load_spec(file), []
        except SpecError as error:
            return None, list(error.problems)
    prefix = (*where, "architecture")
    sub_lines = {
        key[len(prefix) :]: line for key, line in lines.items() if key[: len(prefix)] == prefix
    }
    try:
        return parse_spec(architecture, source=source, base_dir=base_dir, lines=sub_lines), []
    except SpecError as error:
        dotted = f"candidates[{index}].architecture"
        return None, [
            Problem(
                problem.file,
                f"{dotted}.{problem.key_path}" if problem.key_path else dotted,
                problem.message,
                problem.line,
            )
            for problem in error.problems
        ]


def _resilience_problems(
    given: Mapping[str, str | None],
    source: str,
    base_dir: str,
    lines: Mapping[tuple[str | int, ...], int],
) -> list[Problem]:
    """The ``resilience`` files (``dr``, ``rollout``: paths relative to the scenario) must
    exist and be valid (a problem inside one names it)."""
    from scaleplan.spec.dr import load_dr
    from scaleplan.spec.rollout import load_rollout

    problems: list[Problem] = []
    for key, load in (("dr", load_dr), ("rollout", load_rollout)):
        named = given.get(key)
        if named is None:
            continue
        try:
            file = resolve_reference(named, base_dir, scope=scenario_scope(base_dir))
        except DataFileError as error:
            problems.append(_problem(source, ("resilience", key), str(error), lines))
            continue
        if not file.is_file():
            problems.append(
                _problem(
                    source,
                    ("resilience", key),
                    f"file does not exist (got {named!r}; paths are relative to the scenario file)",
                    lines,
                )
            )
            continue
        try:
            load(file)
        except SpecError as error:
            problems.extend(error.problems)
    return problems


#: The keys of an open workload's arrival process besides its rate.
_ARRIVAL_KEYS = ("burst", "diurnal", "trace")


def apply_workload(spec: ArchitectureSpec, scenario: ScenarioSpec) -> ArchitectureSpec:
    """``spec`` with the scenario's workload keys and run budget (requests per run) applied.

    Keys the scenario gives replace the candidate's; a new ``arrival`` drops the candidate's
    burst, diurnal or trace settings; the run length is the scenario's ``run.requests``.
    """
    workload = spec.workload.model_dump(mode="python", exclude_unset=True)
    today = scenario.workload.today
    given = today.model_dump(mode="python", exclude_unset=True)
    if isinstance(today.think_time, Empirical) and today.think_time.file is not None:
        # The samples the scenario read from its folder, inline: the candidate's folder (and
        # every re-validation of its spec) would look for the file next to the candidate.
        given["think_time"] = {"dist": "empirical", "samples_ms": list(today.think_time.values)}
    if "arrival" in given:
        for key in ("burst", "diurnal", "trace"):
            workload.pop(key, None)
    if given.get("kind", "open") != workload.get("kind", "open"):
        # Open and closed loads have different keys: the scenario's kind brings its own.
        for key in ("kind", "users", "think_time", "rate_per_s", "arrival", *_ARRIVAL_KEYS):
            workload.pop(key, None)
    workload.update(given)
    workload.pop("duration_s", None)
    workload["requests"] = scenario.run.requests
    return spec.with_changes({"workload": workload})


def _cross_problems(
    scenario: ScenarioSpec, source: str, lines: Mapping[tuple[str | int, ...], int]
) -> Iterable[Problem]:
    """Names that must refer to something else in the scenario: candidates, components …"""
    names = scenario.names
    today = scenario.workload.today
    if today.closed:
        for index, given in enumerate(today.classes):
            if given.users is not None:
                # The peak, the pull and the growth scale one count of users split by weight.
                yield _problem(
                    source,
                    ("workload", "today", "classes", index, "users"),
                    f"a scenario's closed workload splits workload.today.users over the classes "
                    f"by weight; class {given.name!r} gives its own users ({given.users}): give "
                    "its share as a weight instead",
                    lines,
                )
    profile = scenario.workload.profile
    if profile is not None and today.closed:
        yield _problem(
            source,
            ("workload", "profile"),
            "a load profile multiplies today's arrival rate: a closed workload (users) has none",
            lines,
        )
    backlog = scenario.nfrs.backlog
    if backlog is not None and (profile is None or today.closed):
        yield _problem(
            source,
            ("nfrs", "backlog"),
            "a backlog NFR is judged through the load profile: give workload.profile",
            lines,
        )
    if backlog is not None and backlog.component is not None:
        owners = [
            n
            for n, spec in scenario.architectures().items()
            if backlog.component in spec.components
        ]
        if not owners:
            yield _problem(
                source,
                ("nfrs", "backlog", "component"),
                f"no candidate has a component named {backlog.component!r}",
                lines,
            )
        feeding = sorted(
            {
                name
                for spec in scenario.architectures().values()
                for name, component in spec.components.items()
                if getattr(component, "consumer", None) == backlog.component
            }
        )
        if feeding:
            # A consumer's backlog (its lag) waits in the queue or topic it consumes.
            yield _problem(
                source,
                ("nfrs", "backlog", "component"),
                f"{backlog.component!r} consumes {', '.join(map(repr, feeding))}: its backlog "
                f"waits there; name {feeding[0]!r} instead",
                lines,
            )
    if profile is not None:
        for name, spec in scenario.architectures().items():
            classes = [cls.name for cls in spec.workload.classes] or [DEFAULT_CLASS]
            for key, message in profile.check_classes(classes):
                yield _problem(
                    source,
                    ("workload", *_key_parts(key)),
                    f"{message} in candidate {name!r}",
                    lines,
                )
    seen: set[str] = set()
    for index, name in enumerate(names):
        if name in seen:
            yield _problem(
                source,
                ("candidates", index),
                f"two candidates are called {name!r}; give one a 'name'",
                lines,
            )
        seen.add(name)
    specs = scenario.architectures()
    for candidate, components in scenario.costs.candidates.items():
        if candidate not in specs:
            yield _problem(
                source,
                ("costs", "candidates", candidate),
                f"no candidate named {candidate!r}{suggest(candidate, names)}",
                lines,
            )
            continue
        for component in components:
            known = specs[candidate].components
            if component not in known:
                yield _problem(
                    source,
                    ("costs", "candidates", candidate, component),
                    f"candidate {candidate!r} has no component {component!r}"
                    f"{suggest(component, known)}",
                    lines,
                )
    kinds = KINDS
    for kind in scenario.costs.defaults:
        if kind not in kinds:
            yield _problem(
                source,
                ("costs", "defaults", kind),
                f"not a component kind (got {kind!r}; expected one of {', '.join(kinds)})",
                lines,
            )
    for criterion, weight in scenario.criteria.items():
        if criterion not in CRITERIA:
            yield _problem(
                source,
                ("criteria", criterion),
                f"unknown criterion {criterion!r}{suggest(criterion, CRITERIA)} "
                f"(expected one of {', '.join(CRITERIA)})",
                lines,
            )
        elif not weight >= 0 or not math.isfinite(weight):
            yield _problem(
                source, ("criteria", criterion), f"must be at least 0 (got {weight!r})", lines
            )
    if scenario.criteria and not math.fsum(scenario.criteria.values()) > 0:
        yield _problem(source, ("criteria",), "needs at least one weight above 0", lines)
    baseline = scenario.run.baseline
    if baseline is not None and baseline not in specs:
        yield _problem(
            source,
            ("run", "baseline"),
            f"no candidate named {baseline!r}{suggest(baseline, names)}",
            lines,
        )
    retention = scenario.nfrs.retention
    if retention is not None and not any(
        retention.component in spec.components for spec in specs.values()
    ):
        every = {name for spec in specs.values() for name in spec.components}
        yield _problem(
            source,
            ("nfrs", "retention", "component"),
            f"no candidate has a component {retention.component!r}"
            f"{suggest(retention.component, every)}: the stored data is charged to it",
            lines,
        )
    classes = sorted(
        {c.name for spec in specs.values() for c in spec.workload.classes} or {DEFAULT_CLASS}
    )
    for requested in scenario.loadtest.requests:
        if requested not in classes:
            yield _problem(
                source,
                ("loadtest", "requests", requested),
                f"the workload has no request class {requested!r}{suggest(requested, classes)} "
                f"(known: {', '.join(classes)})",
                lines,
            )
    for index, slo in enumerate(scenario.nfrs.slos):
        cls = slo.request_class
        if cls is not None and not any(
            cls in {c.name for c in spec.workload.classes} for spec in specs.values()
        ):
            yield _problem(
                source,
                ("nfrs", "slos", index),
                f"no candidate has a request class {cls!r} (got {slo.text!r})",
                lines,
            )


# --------------------------------------------------------------------------- errors


def _key_parts(dotted: str) -> tuple[str | int, ...]:
    """``profile.phases[2].mix.x`` as the key path ``("profile", "phases", 2, "mix", "x")``."""
    parts: list[str | int] = []
    for piece in dotted.split("."):
        name, _, index = piece.partition("[")
        parts.append(name)
        if index:
            parts.append(int(index.rstrip("]")))
    return tuple(parts)


def _problem(
    source: str,
    path: tuple[str | int, ...],
    message: str,
    lines: Mapping[tuple[str | int, ...], int],
) -> Problem:
    return Problem(source, format_key_path(path), message, line_of(lines, path))


def _problems(
    error: ValidationError, data: Any, source: str, lines: Mapping[tuple[str | int, ...], int]
) -> list[Problem]:
    """The architecture module's error translation, with unknown-key hints from scenario keys."""
    return validation_problems(error, data, source, lines, root=ScenarioSpec)
