"""The architecture and workload contract, and YAML loading with key-path errors.

This module is the boundary of scaleplan (docs/architecture.md): after :func:`load_spec` or
:func:`parse_spec`, everything downstream may trust its input. It owns the keys of the public
YAML contract, their defaults and their errors, and the JSON Schema editors validate against.
It does not know how a component is simulated (``engine``) or drawn (``views``).

The component kinds live in :mod:`scaleplan.spec.components`.
"""

from __future__ import annotations

import collections
import functools
import itertools
import math
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

import yaml
from pydantic import (
    BaseModel,
    Field,
    PrivateAttr,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from scaleplan.distributions import Distribution
from scaleplan.errors import Problem, ScaleplanError, SpecError
from scaleplan.kinds.registry import REGISTRY
from scaleplan.kinds.service import ServiceSpec
from scaleplan.paths import DataFileError, read_number_column, resolve_reference
from scaleplan.spec.base import (
    Count,
    NonNegativeWeight,
    PositiveSeconds,
    Rate,
    StrictModel,
    Weight,
    parse_duration_s,
)
from scaleplan.spec.components import NAME_PATTERN, ChaosEventSpec
from scaleplan.spec.hints import field_names, key_owners, keys_at, models_at, suggest, tag_of
from scaleplan.spec.profile import ProfileSpec

if TYPE_CHECKING:
    # What the type checker sees; at run time the union is the registry's (below), and
    # tests/test_kinds.py checks that the two list the same models.
    from scaleplan.kinds.cache import CacheSpec
    from scaleplan.kinds.database import DatabaseSpec
    from scaleplan.kinds.edge import EdgeSpec
    from scaleplan.kinds.load_balancer import LoadBalancerSpec
    from scaleplan.kinds.queue import QueueSpec
    from scaleplan.kinds.topic import TopicSpec
    from scaleplan.kinds.worker_pool import WorkerPoolSpec

    ComponentSpec = Annotated[
        ServiceSpec
        | LoadBalancerSpec
        | DatabaseSpec
        | CacheSpec
        | EdgeSpec
        | QueueSpec
        | TopicSpec
        | WorkerPoolSpec,
        Field(discriminator="kind"),
    ]
else:
    #: Any component, told apart by its ``kind`` tag: the union of every registered kind's model.
    ComponentSpec = Annotated[
        Union[tuple(kind.spec_model for kind in REGISTRY.values())],  # noqa: UP007
        Field(discriminator="kind"),
    ]
#: The ``kind`` tags, in the registry's order.
KINDS: tuple[str, ...] = tuple(REGISTRY)

# A YAML document larger than this once its aliases are expanded is refused: it is far beyond
# any real architecture and is the shape of an alias ("billion laughs") bomb.
MAX_EXPANDED_NODES = 200_000
#: Slices of a diurnal profile at most (one a minute of a day is 1,440).
MAX_PROFILE_SLICES = 100_000


# --------------------------------------------------------------------------- workload


class BurstSpec(StrictModel):
    """Two-state Markov-modulated Poisson arrivals: the base rate and bursts of ``rate_per_s``."""

    rate_per_s: Rate = Field(description="arrival rate during a burst")
    mean_duration_s: PositiveSeconds = Field(description="mean length of a burst (exponential)")
    mean_gap_s: PositiveSeconds = Field(description="mean time between bursts (exponential)")


class DiurnalSpec(StrictModel):
    """A rate profile over one period (a day, or a day compressed into ``period_s``).

    ``profile`` holds relative rates for equal slices of the period; it is scaled so that its
    mean is the workload's ``rate_per_s``.
    """

    profile: tuple[NonNegativeWeight, ...] = Field(min_length=1, max_length=MAX_PROFILE_SLICES)
    period_s: PositiveSeconds = 86_400.0

    @field_validator("profile")
    @classmethod
    def _not_all_zero(cls, profile: tuple[float, ...]) -> tuple[float, ...]:
        if not any(profile):
            raise ValueError("needs at least one slice with a rate above 0")
        return profile

    def multipliers(self) -> tuple[float, ...]:
        mean = sum(self.profile) / len(self.profile)
        return tuple(value / mean for value in self.profile)


class TraceSpec(StrictModel):
    """Replay of recorded arrival times: a CSV file whose first column is seconds."""

    file: str
    _times_s: tuple[float, ...] = PrivateAttr(default=())

    def times_s(self) -> tuple[float, ...]:
        return self._times_s


MAX_PRIORITY = 9
#: Request classes of one workload at most: each has its own figures in every station's
#: estimate and every result (a real workload has a handful).
MAX_CLASSES = 1_000
#: Users of a closed workload at most: each is one pending event of the engine at any time.
MAX_USERS = 1_000_000


class RequestClassSpec(StrictModel):
    name: str = Field(pattern=NAME_PATTERN)
    weight: Weight = 1.0
    entry: str | None = Field(default=None, description="defaults to the architecture's entry")
    priority: int = Field(
        default=0,
        ge=0,
        le=MAX_PRIORITY,
        description=(
            "0..9, SMALLER is served first (as Ciw's priority classes): in every queue the "
            "class waits in, a freed slot goes to the waiting request with the smallest "
            "priority, first come first served within a priority; a service with "
            "'preemptive: true' also interrupts a worse-priority request in service"
        ),
    )
    users: int | None = Field(
        default=None,
        ge=1,
        le=MAX_USERS,
        description=(
            "closed workloads only: this class's users (give it for every class of users or "
            "for none; without it the workload's users are split over the classes by weight)"
        ),
    )
    rate_per_s: Rate | None = Field(
        default=None,
        description=(
            "closed workloads only: an open class beside the users, Poisson arrivals at this "
            "rate whatever the system does (a mixed workload); it has no users"
        ),
    )

    @model_validator(mode="after")
    def _users_or_rate(self) -> RequestClassSpec:
        if self.users is not None and self.rate_per_s is not None:
            raise ValueError(
                f"class {self.name!r}: give users (a class of users) or rate_per_s (an open "
                "class), not both"
            )
        return self

    @property
    def open(self) -> bool:
        """An open class of a mixed workload: arrivals at its own rate, no users."""
        return self.rate_per_s is not None


class ClosedWorkloadError(ScaleplanError):
    """A closed workload met where an arrival rate is needed: it has users, not a rate."""


class WorkloadSpec(StrictModel):
    kind: Literal["open", "closed"] = Field(
        default="open",
        description=(
            "'open': requests arrive at rate_per_s whatever the system does; 'closed': a fixed "
            "number of users each send a request, wait for its answer (ok, failed or "
            "rejected), think, and send the next (as Locust, JMeter and k6 generate load)"
        ),
    )
    users: int | None = Field(
        default=None,
        ge=1,
        le=MAX_USERS,
        description=(
            "closed workloads: the number of users; with request classes they are split over "
            "the classes in proportion to their weights (largest remainder, each class at "
            "least 1) unless every class gives its own 'users'"
        ),
    )
    think_time: Distribution | None = Field(
        default=None,
        description=(
            "closed workloads: each user's pause between an answer and its next request, a "
            "distribution as a service's service_time (0 or omitted: no think time)"
        ),
    )
    arrival: Literal["poisson", "constant", "bursty", "diurnal", "trace", "profile"] = "poisson"
    rate_per_s: Rate | None = Field(
        default=None,
        description="mean arrival rate (the base rate for bursty, and the rate a profile's "
        "factors multiply)",
    )
    requests: Count | None = Field(default=None, description="arrivals to simulate")
    duration_s: PositiveSeconds | None = Field(default=None, description="or a simulated duration")
    _source: str = PrivateAttr(default="<memory>")
    warmup: float | str = Field(
        default="auto",
        description="'auto' (MSER-5), 'none', a fraction of requests in [0, 1), or a duration",
    )
    burst: BurstSpec | None = None
    diurnal: DiurnalSpec | None = None
    trace: TraceSpec | None = None
    profile: ProfileSpec | None = Field(
        default=None,
        description="arrival 'profile': phases (steady, ramp, spike, daily, flash) whose "
        "factors multiply rate_per_s; the run lasts the profile unless duration_s is given",
    )
    classes: tuple[RequestClassSpec, ...] = Field(
        default=(),
        max_length=MAX_CLASSES,
        description=f"request classes with their shares, entries and priorities (at most "
        f"{MAX_CLASSES})",
    )

    @field_validator("warmup", mode="before")
    @classmethod
    def _warmup(cls, value: Any) -> float | str:
        if isinstance(value, bool):
            raise ValueError(f"must be 'auto', 'none', a fraction or a duration (got {value!r})")
        if isinstance(value, int | float):
            if not 0 <= value < 1:
                raise ValueError(f"a fraction of requests must be in [0, 1) (got {value})")
            return float(value)
        if isinstance(value, str):
            if value in ("auto", "none"):
                return value
            parse_duration_s(value)
            return value
        raise ValueError(f"must be 'auto', 'none', a fraction or a duration (got {value!r})")

    @field_validator("think_time", mode="before")
    @classmethod
    def _no_think_time(cls, value: Any) -> Any:
        # ``think_time: 0`` is the same as leaving it out.
        if isinstance(value, int | float) and not isinstance(value, bool) and value == 0:
            return None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> WorkloadSpec:
        if self.requests is not None and self.duration_s is not None:
            raise ValueError("give requests or duration_s, not both")
        if self.kind == "closed":
            self._check_closed()
            return self._check_classes()
        if self.users is not None or self.think_time is not None:
            raise ValueError(
                "users and think_time apply to a closed workload only: add 'kind: closed' "
                "(and drop rate_per_s), or remove them"
            )
        if any(cls.users is not None for cls in self.classes):
            raise ValueError("a request class's users apply to a closed workload only")
        if any(cls.rate_per_s is not None for cls in self.classes):
            raise ValueError(
                "a request class's rate_per_s applies to a closed workload only (an open "
                "workload's classes share its rate_per_s by weight)"
            )
        needs = {"bursty": "burst", "diurnal": "diurnal", "trace": "trace", "profile": "profile"}
        for arrival, key in needs.items():
            given = getattr(self, key) is not None
            if self.arrival == arrival and not given:
                raise ValueError(f"arrival {arrival!r} needs the key {key!r}")
            if self.arrival != arrival and given:
                raise ValueError(f"key {key!r} only applies to arrival {arrival!r}")
        if self.rate_per_s is None and self.arrival != "trace":
            raise ValueError(f"arrival {self.arrival!r} needs rate_per_s")
        if self.profile is not None:
            self._check_profile(self.profile)
        return self._check_classes()

    def _check_profile(self, profile: ProfileSpec) -> None:
        """A profile run lasts its phases: no request count; its mixes name known classes."""
        if self.requests is not None:
            raise ValueError(
                f"arrival 'profile' runs for the profile's {profile.duration_s:g} s: remove "
                f"requests ({self.requests}), or give duration_s to cut it shorter"
            )
        names = [cls.name for cls in self.classes] or ["default"]
        problems = profile.check_classes(names)
        if problems:
            raise ValueError("; ".join(f"{path}: {message}" for path, message in problems))

    def _check_classes(self) -> WorkloadSpec:
        counted = collections.Counter(cls.name for cls in self.classes)
        duplicates = sorted(name for name, times in counted.items() if times > 1)
        if duplicates:
            raise ValueError(f"request class names must be unique (got {duplicates} twice)")
        return self

    def _check_closed(self) -> None:
        """A closed workload has users and no arrival process."""
        arrival_keys = [
            key
            for key in ("rate_per_s", "arrival", "burst", "diurnal", "trace", "profile")
            if key in self.model_fields_set
        ]
        if arrival_keys:
            raise ValueError(
                f"a closed workload has users, not an arrival process: remove "
                f"{', '.join(arrival_keys)} (its rate follows from users, think_time and the "
                "architecture's response time)"
            )
        closed = [cls for cls in self.classes if not cls.open]
        if self.classes and not closed:
            raise ValueError(
                "a closed workload needs a class of users: every class has a rate_per_s (an "
                "open workload is 'kind: open' with rate_per_s)"
            )
        given = [cls.users for cls in closed if cls.users is not None]
        if given and len(given) != len(closed):
            missing = [cls.name for cls in closed if cls.users is None]
            raise ValueError(
                f"give users for every request class of users or for none (missing for {missing})"
            )
        if given:
            if self.users is not None and self.users != sum(given):
                raise ValueError(
                    f"users ({self.users}) must equal the sum of the classes' users "
                    f"({sum(given)}), or be left out"
                )
            return
        if self.users is None:
            raise ValueError("a closed workload needs users (the number of concurrent users)")
        if closed and self.users < len(closed):
            raise ValueError(
                f"{self.users} users cannot be split over {len(closed)} request classes "
                "(each needs at least 1)"
            )

    @property
    def closed(self) -> bool:
        return self.kind == "closed"

    def class_users(self) -> tuple[int, ...]:
        """Each request class's users (one entry, all users, without classes): its own
        ``users`` when given, else the workload's split in proportion to the weights by
        largest remainder (ties to the earlier class); a class left with none takes one from
        the class with the most.

        Examples
        --------
        >>> WorkloadSpec(kind="closed", users=10, classes=[
        ...     {"name": "a", "weight": 2}, {"name": "b", "weight": 1}]).class_users()
        (7, 3)
        """
        if not self.classes:
            return (self.total_users,)
        closed = [index for index, cls in enumerate(self.classes) if not cls.open]
        result = [0] * len(self.classes)  # an open class has no users
        if all(self.classes[index].users is not None for index in closed):
            for index in closed:
                result[index] = int(self.classes[index].users or 0)
            return tuple(result)
        total = self.total_users
        weights = [self.classes[index].weight for index in closed]
        shares = [total * weight / sum(weights) for weight in weights]
        counts = [math.floor(share) for share in shares]
        order = sorted(range(len(shares)), key=lambda i: (counts[i] - shares[i], i))
        for index in order[: total - sum(counts)]:
            counts[index] += 1
        for index, count in enumerate(counts):
            if count == 0:  # a class too light for a user of its own gets one all the same
                counts[index] = 1
                counts[counts.index(max(counts))] -= 1
        for index, count in zip(closed, counts, strict=True):
            result[index] = count
        return tuple(result)

    def open_rates(self) -> tuple[float, ...]:
        """Each request class's own arrival rate (0 for a class of users): the open classes
        of a mixed workload."""
        return tuple(float(cls.rate_per_s or 0.0) for cls in self.classes) or (0.0,)

    @property
    def mixed(self) -> bool:
        """A closed workload with open classes beside its users."""
        return self.kind == "closed" and any(cls.open for cls in self.classes)

    @property
    def total_users(self) -> int:
        """A closed workload's users (0 for an open one)."""
        if self.kind != "closed":
            return 0
        if self.users is not None:
            return self.users
        return sum(int(cls.users or 0) for cls in self.classes)

    @property
    def think_time_s(self) -> float:
        """A user's mean think time in seconds (0 without think time)."""
        return self.think_time.mean_s if self.think_time is not None else 0.0

    def _open_only(self, what: str) -> None:
        if self.kind == "closed":
            raise ClosedWorkloadError(
                f"{self._source}: workload: a closed workload ({self.total_users} users) has "
                f"no {what}, which this needs; give an open workload (rate_per_s) or use a verb "
                "that varies the users (simulate, estimate, pull, sweep of workload.users)"
            )

    @property
    def mean_rate_per_s(self) -> float:
        """The long-run mean arrival rate, whatever the arrival process (an open workload's
        only: a closed one raises :class:`ClosedWorkloadError`)."""
        self._open_only("arrival rate")
        if self.arrival == "bursty" and self.burst is not None and self.rate_per_s is not None:
            base, burst = self.rate_per_s, self.burst
            total = burst.mean_gap_s + burst.mean_duration_s
            return (base * burst.mean_gap_s + burst.rate_per_s * burst.mean_duration_s) / total
        if self.arrival == "trace" and self.trace is not None:
            times = self.trace.times_s()
            span = times[-1] - times[0]
            return (len(times) - 1) / span if span > 0 else float(len(times))
        assert self.rate_per_s is not None
        if self.profile is not None:
            # The mean over the part of the profile the run covers.
            seconds = self.time_bound_s or self.profile.duration_s
            return self.rate_per_s * self.profile.cumulative(seconds) / seconds
        return self.rate_per_s

    @property
    def peak_rate_per_s(self) -> float:
        if self.arrival == "bursty" and self.burst is not None:
            return max(self.burst.rate_per_s, self.rate_per_s or 0.0)
        if self.arrival == "diurnal" and self.diurnal is not None and self.rate_per_s:
            return self.rate_per_s * max(self.diurnal.multipliers())
        if self.profile is not None and self.rate_per_s:
            return self.rate_per_s * self.profile.max_factor
        return self.mean_rate_per_s

    @property
    def busiest_hour_rate_per_s(self) -> float:
        """The rate of the busiest hour, a peak to hold steady: a diurnal profile's busiest
        slice, else the mean (a bursty load's bursts last seconds and each run replays them;
        a load profile's phases are run through, not held)."""
        if self.arrival == "diurnal":
            return self.peak_rate_per_s
        return self.mean_rate_per_s

    @property
    def is_poisson(self) -> bool:
        return self.kind == "open" and self.arrival == "poisson"

    @property
    def time_bound_s(self) -> float | None:
        """The simulated seconds a run lasts: ``duration_s``, else a profile's length (None:
        the run is bounded by its requests)."""
        if self.duration_s is not None:
            return self.duration_s
        if self.profile is not None and self.requests is None:
            return self.profile.duration_s
        return None

    def planned_requests(self, default: int = 100_000) -> int:
        if self.requests is not None:
            return self.requests
        if self.time_bound_s is not None:
            return max(1, round(self.time_bound_s * self.mean_rate_per_s))
        if self.arrival == "trace" and self.trace is not None:
            return len(self.trace.times_s())
        return default

    def planned_duration_s(self, default_requests: int = 100_000) -> float:
        if self.time_bound_s is not None:
            return self.time_bound_s
        return self.planned_requests(default_requests) / self.mean_rate_per_s

    def warmup_fraction(self) -> float | None:
        return self.warmup if isinstance(self.warmup, float) else None

    def warmup_duration_s(self) -> float | None:
        if isinstance(self.warmup, str) and self.warmup not in ("auto", "none"):
            return parse_duration_s(self.warmup)
        return None


# --------------------------------------------------------------------------- architecture


class ArchitectureSpec(StrictModel):
    """One candidate architecture with its workload."""

    name: str = Field(
        pattern=NAME_PATTERN, description="the architecture's name (a scenario's candidate name)"
    )
    description: str = Field(default="", description="what it is, in words")
    workload: WorkloadSpec = Field(
        description="the load: a rate (open) or users (closed), request classes"
    )
    entry: str | None = Field(default=None, description="where requests arrive")
    components: dict[str, ComponentSpec] = Field(min_length=1)
    chaos: tuple[ChaosEventSpec, ...] = Field(default=(), description="scheduled faults")

    _source: str = PrivateAttr(default="<memory>")
    _base_dir: str = PrivateAttr(default=".")

    @property
    def source(self) -> str:
        """The file this spec came from (for messages), or ``<memory>``."""
        return self._source

    @model_validator(mode="after")
    def _bind_call_classes(self) -> ArchitectureSpec:
        # A call for some classes is tested in the engine by the request's class position;
        # names that are not classes are left to the reference problems (with key paths).
        positions = {name: index for index, (name, _, _) in enumerate(self.entries())}
        for component in self.components.values():
            for call in getattr(component, "calls", ()):
                if call.classes is not None:
                    call._class_indices = frozenset(
                        positions[name] for name in call.classes if name in positions
                    )
        return self

    def entries(self) -> list[tuple[str, str, float]]:
        """(class name, entry component, share of arrivals) for each request class."""
        if not self.workload.classes:
            return [("default", self.entry or "", 1.0)]
        total = sum(cls.weight for cls in self.workload.classes)
        return [
            (cls.name, cls.entry or self.entry or "", cls.weight / total)
            for cls in self.workload.classes
        ]

    def class_priorities(self) -> tuple[int, ...] | None:
        """Each request class's priority, in the order of :meth:`entries`, when the classes do
        not all have the same one (``None``: priorities change nothing, every queue is FIFO)."""
        priorities = tuple(cls.priority for cls in self.workload.classes)
        return priorities if len(set(priorities)) > 1 else None

    def with_changes(self, changes: Mapping[str, Any]) -> ArchitectureSpec:
        """A new, re-validated spec with values set at dotted key paths.

        Examples
        --------
        >>> spec = example_spec()
        >>> spec.with_changes({"components.api.replicas": 5}).components["api"].capacity
        5
        """
        data = self.model_dump(mode="python", exclude_unset=True)
        for key_path, value in changes.items():
            _set_path(data, key_path, value)
        return parse_spec(data, source=self._source, base_dir=self._base_dir)


def _set_path(data: dict[str, Any], key_path: str, value: Any) -> None:
    parts = key_path.split(".")
    node: Any = data
    for part in parts[:-1]:
        if isinstance(node, dict):
            node = node.setdefault(part, {})
        elif isinstance(node, list | tuple) and part.isdigit():
            node = node[int(part)]
        else:
            raise SpecError([Problem("<changes>", key_path, f"cannot set a value under {part!r}")])
    if isinstance(node, dict):
        node[parts[-1]] = value
    elif isinstance(node, list) and parts[-1].isdigit():
        node[int(parts[-1])] = value
    else:
        raise SpecError([Problem("<changes>", key_path, "cannot set a value here")])


def example_spec() -> ArchitectureSpec:
    """A small spec for examples and doctests: an M/M/1 API at half load."""
    return parse_spec(
        {
            "name": "example",
            "workload": {"rate_per_s": 50, "requests": 2000},
            "entry": "api",
            "components": {
                "api": {"kind": "service", "service_time": {"dist": "exponential", "mean_ms": 10}}
            },
        }
    )


# --------------------------------------------------------------------------- loading


def load_spec(path: str | Path) -> ArchitectureSpec:
    """Read and validate an architecture YAML file.

    Raises :class:`~scaleplan.errors.SpecError` naming the file, the key path and what was
    found for every problem, and never lets a YAML object tag or an alias bomb through.

    Examples
    --------
    >>> from pathlib import Path
    >>> import scaleplan
    >>> root = Path(scaleplan.__file__).parent.parent
    >>> load_spec(root / "data/architectures/monolith.yaml").name
    'monolith'
    """
    path = Path(path)
    data, lines = read_yaml(path)
    return parse_spec(data, source=str(path.name), base_dir=str(path.parent), lines=lines)


def parse_spec(
    data: Any,
    *,
    source: str = "<memory>",
    base_dir: str = ".",
    lines: Mapping[tuple[str | int, ...], int] | None = None,
) -> ArchitectureSpec:
    """Validate already-parsed data (a dict as from YAML) into an :class:`ArchitectureSpec`."""
    if not isinstance(data, dict):
        raise SpecError([Problem(source, "", f"must be a mapping of keys (got {_kind(data)})")])
    try:
        spec = ArchitectureSpec.model_validate(data, context={"base_dir": base_dir})
    except ValidationError as error:
        problems = validation_problems(error, data, source, lines or {})
        # Names that refer to no component, found in one pass with the keys' problems.
        problems.extend(_unvalidated_reference_problems(data, source, base_dir, lines or {}))
        raise SpecError(problems) from None
    spec._source = source
    spec.workload._source = source  # for the errors of a closed workload's missing rate
    spec._base_dir = base_dir
    _load_trace(spec, source, base_dir)
    problems = list(_reference_problems(spec, source, lines or {}))
    if problems:
        raise SpecError(problems)
    return spec


def _load_trace(spec: ArchitectureSpec, source: str, base_dir: str) -> None:
    trace = spec.workload.trace
    if trace is None:
        return
    key = "workload.trace.file"
    try:
        path = resolve_reference(trace.file, base_dir)
        if not path.is_file():
            raise DataFileError(f"file does not exist (got {trace.file!r})")
        times = [time_s for _, time_s in read_number_column(path)]
    except DataFileError as error:
        raise SpecError([Problem(source, key, str(error))]) from None
    if len(times) < 2 or any(b < a for a, b in itertools.pairwise(times)):
        message = f"{path.name}: needs at least 2 arrival times in increasing order"
        raise SpecError([Problem(source, key, message)])
    trace._times_s = tuple(times)


def _reference_problems(
    spec: ArchitectureSpec, source: str, lines: Mapping[tuple[str | int, ...], int]
) -> Iterable[Problem]:
    names = set(spec.components)

    def problem(path: tuple[str | int, ...], message: str) -> Problem:
        # The key paths here are built from validated data, so the user's keys are known.
        return Problem(source, format_key_path(path), message, line_of(lines, path))

    for class_name, entry, _ in spec.entries():
        if not entry:
            yield problem(("entry",), "required key is missing (where requests arrive)")
        elif entry not in names:
            path: tuple[str | int, ...] = ("entry",)
            if spec.workload.classes and entry != spec.entry:
                index = [cls.name for cls in spec.workload.classes].index(class_name)
                path = ("workload", "classes", index, "entry")
            yield problem(path, f"no component named {entry!r}{suggest(entry, names)}")
    yield from _chaos_problems(spec, problem)
    yield from _depth_problems(spec, problem)
    yield from _routing_problems(spec, problem)
    for name, component in spec.components.items():
        if not re.match(NAME_PATTERN, name):
            yield problem(("components", name), f"not a valid component name (got {name!r})")
        for key, target, kinds in component.references():
            path = ("components", name, *_parse_key(key))
            if target not in names:
                yield problem(path, f"no component named {target!r}{suggest(target, names)}")
            elif target == name:
                refused = _self_call_problem(component, target)
                if refused:
                    yield problem(path, refused)
            elif kinds and spec.components[target].kind not in kinds:
                found = spec.components[target].kind
                wanted = " or ".join(kinds)
                yield problem(
                    path, f"a {component.kind} sends to a {wanted} ({target!r} is a {found})"
                )


def _routing_problems(
    spec: ArchitectureSpec, problem: Callable[[tuple[str | int, ...], str], Problem]
) -> Iterable[Problem]:
    """A call for classes the workload does not have; an operation on what is not a database,
    or a read from a database that has nowhere to read."""
    classes = [cls.name for cls in spec.workload.classes]
    for name, component in spec.components.items():
        for index, call in enumerate(getattr(component, "calls", ())):
            path: tuple[str | int, ...] = ("components", name, "calls", index)
            for position, cls in enumerate(call.classes or ()):
                if cls in classes:
                    continue
                known = (
                    f"the workload's classes are {', '.join(classes)}"
                    if classes
                    else "the workload has no request classes (workload.classes)"
                )
                yield problem(
                    (*path, "classes", position),
                    f"no request class named {cls!r}{suggest(cls, classes)}; {known}",
                )
            if call.operation is None:
                continue
            for target, _, key in call.targets():
                found = spec.components.get(target)
                if found is None:
                    continue  # named by the reference problems
                if found.kind != "database":
                    yield problem(
                        (*path, *_parse_key(key)),
                        f"operation {call.operation} applies to a call to a database "
                        f"({target!r} is a {found.kind}): remove operation or call a database",
                    )
                elif (
                    call.operation == "read"
                    and not getattr(found, "reads_from_primary", True)
                    and getattr(found, "read_replicas", 0) == 0
                ):
                    yield problem(
                        (*path, "operation"),
                        f"a read from {target!r}, which reads from neither its primary "
                        "(reads_from_primary: false) nor a read replica (read_replicas 0)",
                    )


@functools.cache
def _component_adapter() -> TypeAdapter[Any]:
    return TypeAdapter(ComponentSpec)


def _unvalidated_reference_problems(
    data: dict[str, Any], source: str, base_dir: str, lines: Mapping[tuple[str | int, ...], int]
) -> list[Problem]:
    """Names of no component in a document whose keys do not validate: the entry, and the
    references of each component that validates on its own (the others' problems are
    reported already). The full checks (kinds, cycles, chaos) need the validated spec."""
    components = data.get("components")
    if not isinstance(components, dict) or not components:
        return []  # no components at all: said already, and every name would be "missing"
    names = {str(name) for name in components}

    def problem(path: tuple[str | int, ...], target: str) -> Problem:
        message = f"no component named {target!r}{suggest(target, names)}"
        return Problem(source, format_key_path(path), message, line_of(lines, path))

    found: list[Problem] = []
    entry = data.get("entry")
    if isinstance(entry, str) and entry and entry not in names:
        found.append(problem(("entry",), entry))
    for name, raw in components.items():
        try:
            component = _component_adapter().validate_python(raw, context={"base_dir": base_dir})
        except ValidationError:
            continue
        for key, target, _ in component.references():
            if target not in names:
                found.append(problem(("components", name, *_parse_key(key)), target))
    return found


def _depth_problems(
    spec: ArchitectureSpec, problem: Callable[[tuple[str | int, ...], str], Problem]
) -> Iterable[Problem]:
    """A chain of nested calls longer than :data:`MAX_CALL_DEPTH` components.

    The engine simulates a nested call inside its caller's visit (and Python nests each level's
    frames), so a chain of hundreds of calls would end in a RecursionError mid-run. Counted over
    the synchronous calls with call cycles collapsed (a feedback loop's depth is random).
    """
    import networkx as nx

    graph = nx.DiGraph()
    graph.add_nodes_from(spec.components)
    for name, component in spec.components.items():
        asynchronous = component.async_targets()
        for target, _, _ in component.edges():
            if target in spec.components and target != name and target not in asynchronous:
                graph.add_edge(name, target)
    condensed = nx.condensation(graph)
    depth = int(nx.dag_longest_path_length(condensed)) + 1
    if depth > MAX_CALL_DEPTH:
        members = condensed.nodes[nx.dag_longest_path(condensed)[0]]["members"]
        first = sorted(members)[0]
        yield problem(
            ("components", first),
            f"starts a chain of {depth} nested calls; at most {MAX_CALL_DEPTH} components may "
            "call one another in a row",
        )


def _self_call_problem(component: Any, target: str) -> str:
    """Why a component may not name itself, or "" when it may.

    A service that releases its slot before its calls sends a request back to the end of its
    own queue: Bernoulli feedback, Jackson's p_ii > 0. One that holds its slot during its calls
    would hold a slot while waiting for a slot of its own.
    """
    if not isinstance(component, ServiceSpec):
        return f"a component cannot call itself (got {target!r})"
    if component.hold_during_calls:
        return (
            f"a service that holds its slot during its calls cannot call itself (got {target!r}): "
            "the slot would wait on itself; set hold_during_calls: false to feed the request "
            "back to its own queue"
        )
    return ""


def _chaos_problems(
    spec: ArchitectureSpec, problem: Callable[[tuple[str | int, ...], str], Problem]
) -> Iterable[Problem]:
    zones = {
        zone
        for component in spec.components.values()
        if isinstance(component, ServiceSpec)
        for zone in component.zones
    }
    for index, event in enumerate(spec.chaos):
        if event.component is not None:
            path: tuple[str | int, ...] = ("chaos", index, "component")
            target = spec.components.get(event.component)
            if target is None:
                names = set(spec.components)
                found = event.component
                yield problem(path, f"no component named {found!r}{suggest(found, names)}")
            elif "failures" not in type(target).model_fields:
                found = f"{event.component!r} is a {target.kind}"
                failable = ", ".join(key_owners(ArchitectureSpec, "failures"))
                yield problem(path, f"{event.action} needs one of: {failable} ({found})")
        if event.zone is not None and event.zone not in zones:
            known = ", ".join(sorted(zones)) or "none: give services `zones`"
            yield problem(
                ("chaos", index, "zone"), f"no replica runs in zone {event.zone!r} (zones: {known})"
            )


def _parse_key(key: str) -> tuple[str | int, ...]:
    parts: list[str | int] = []
    for token in re.findall(r"[^.\[\]]+", key):
        parts.append(int(token) if token.isdigit() else token)
    return tuple(parts)


def _kind(value: Any) -> str:
    return "nothing" if value is None else type(value).__name__


# --------------------------------------------------------------------------- YAML


class _GuardedLoader(yaml.SafeLoader):
    """SafeLoader (no object tags) that records the line of every key."""


# The longest chain of nested synchronous calls (no real architecture nests a tenth as deep).
MAX_CALL_DEPTH = 50
# A YAML file larger than this is refused before it is parsed (PyYAML reads about 100 kB a
# second; the bundled files are a few kB).
MAX_YAML_BYTES = 1_000_000
# Nesting deeper than this is refused before the YAML is composed (PyYAML's composer and
# pydantic recurse once per level, and no document of scaleplan's is a tenth as deep).
MAX_DEPTH = 64
# An integer with more digits than this is refused: Python will not even print one of 4,300
# digits, and no count or seed of scaleplan's has more than 20.
MAX_INT_DIGITS = 30
_INT_TAG = "tag:yaml.org,2002:int"
_OPENERS = (yaml.BlockMappingStartToken, yaml.BlockSequenceStartToken)
_FLOW_OPENERS = (yaml.FlowMappingStartToken, yaml.FlowSequenceStartToken)
_FLOW_CLOSERS = (yaml.FlowMappingEndToken, yaml.FlowSequenceEndToken)
# libyaml's scanner when it is there (ten times faster; the depth check reads every token).
_SCANNER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _too_deep(text: str) -> int | None:
    """The line at which the document nests deeper than :data:`MAX_DEPTH`, if it does.

    Read from the scanner's tokens, which need no recursion (the composer does). An indented
    sequence inside a mapping opens no block of its own, so the count is a lower bound of the
    real depth, which is fine for a limit far above any real document.
    """
    depth = 0
    try:
        for token in yaml.scan(text, Loader=_SCANNER):
            if isinstance(token, _OPENERS + _FLOW_OPENERS):
                depth += 1
                if depth > MAX_DEPTH:
                    return int(token.start_mark.line) + 1
            elif isinstance(token, (yaml.BlockEndToken, *_FLOW_CLOSERS)):
                depth -= 1
    except yaml.YAMLError as error:
        # libyaml's scanner stops by itself past its own depth limit (1,000): that is too deep
        # too, and the pure-Python loader would recurse on it. Other errors: the loader
        # reports them, with their line.
        if "nesting depth" in str(error):
            mark = getattr(error, "problem_mark", None)
            return int(mark.line) + 1 if mark is not None else 1
        return None
    return None


def _node_problems(name: str, root: yaml.Node) -> list[Problem]:
    """Duplicate keys and integers too long to be a number, with their key paths and lines.

    A duplicate key is an error, not "the last one wins": the two values usually come from
    two edits of the file, and silently dropping one is a wrong model. Walked without
    recursion; each node once (aliases share nodes).
    """
    problems: list[Problem] = []
    seen: set[int] = set()
    pending: list[tuple[yaml.Node, tuple[str | int, ...]]] = [(root, ())]
    while pending:
        node, path = pending.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            digits = sum(character.isdigit() for character in str(node.value))
            if node.tag == _INT_TAG and digits > MAX_INT_DIGITS:
                problems.append(
                    Problem(
                        name,
                        format_key_path(path),
                        f"an integer of {digits:,} digits is beyond any count or seed "
                        f"(at most {MAX_INT_DIGITS} digits)",
                        node.start_mark.line + 1,
                    )
                )
        elif isinstance(node, yaml.MappingNode):
            first: dict[Any, int] = {}
            for key_node, value_node in node.value:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
                if key is not None and key != "<<":
                    line = key_node.start_mark.line + 1
                    if key in first:
                        problems.append(
                            Problem(
                                name,
                                format_key_path((*path, key)),
                                f"duplicate key {key!r} (first given on line {first[key]}); "
                                "give each key once",
                                line,
                            )
                        )
                    else:
                        first[key] = line
                pending.append((value_node, (*path, key) if key is not None else path))
        elif isinstance(node, yaml.SequenceNode):
            pending.extend((item, (*path, index)) for index, item in enumerate(node.value))
    return sorted(problems, key=lambda problem: problem.line or 0)


def read_yaml(path: Path) -> tuple[Any, dict[tuple[str | int, ...], int]]:
    """Safely load a YAML file; return the data and the line number of each key path."""
    name = path.name
    if not path.exists():
        raise SpecError([Problem(str(path), "", "file does not exist")])
    if not path.is_file():
        raise SpecError([Problem(str(path), "", "is not a file")])
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_YAML_BYTES + 1)
        if len(raw) > MAX_YAML_BYTES:
            message = (
                f"is larger than {MAX_YAML_BYTES // 1_000_000} MB; refused (a YAML file of "
                "scaleplan's is a few kB; 1 MB holds about 10,000 components)"
            )
            raise SpecError([Problem(name, "", message)])
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SpecError([Problem(name, "", f"cannot be read ({error})")]) from None
    try:
        deep = _too_deep(text)
        if deep is not None:
            message = f"nests deeper than {MAX_DEPTH} levels; refused"
            raise SpecError([Problem(name, "", message, deep)])
        loader = _GuardedLoader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                raise SpecError([Problem(name, "", "is empty")])
            memo: dict[int, int] = {}
            size = _expanded_size(node, memo)
            if size > MAX_EXPANDED_NODES:
                # Told apart honestly: a document large as written, and one that aliases
                # make large (an alias, "billion laughs", bomb).
                if len(memo) > MAX_EXPANDED_NODES // 2:
                    message = (
                        f"has more than {MAX_EXPANDED_NODES:,} YAML nodes (keys, values and "
                        f"items); refused: at most {MAX_EXPANDED_NODES:,}, room for about "
                        f"{MAX_EXPANDED_NODES // 20:,} components"
                    )
                else:
                    message = (
                        f"expands to {size:,} YAML nodes through aliases; refused "
                        f"(at most {MAX_EXPANDED_NODES:,})"
                    )
                raise SpecError([Problem(name, "", message)])
            problems = _node_problems(name, node)
            if problems:
                raise SpecError(problems)
            data = loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else None
        reason = error.problem or str(error)
        raise SpecError([Problem(name, "", f"invalid YAML: {reason}", line)]) from None
    except yaml.YAMLError as error:
        raise SpecError([Problem(name, "", f"invalid YAML: {error}")]) from None
    lines: dict[tuple[str | int, ...], int] = {}
    _collect_lines(node, (), lines, depth=0)
    return data, lines


def _expanded_size(node: yaml.Node, memo: dict[int, int]) -> int:
    key = id(node)
    if key in memo:
        return memo[key]
    memo[key] = 1  # guards against recursive aliases while this node is being counted
    size = 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            size += _expanded_size(key_node, memo) + _expanded_size(value_node, memo)
            if size > MAX_EXPANDED_NODES:
                break
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            size += _expanded_size(item, memo)
            if size > MAX_EXPANDED_NODES:
                break
    memo[key] = size
    return size


def _collect_lines(
    node: yaml.Node,
    path: tuple[str | int, ...],
    lines: dict[tuple[str | int, ...], int],
    depth: int,
) -> None:
    if depth > 50 or len(lines) > MAX_EXPANDED_NODES:
        return
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            lines.setdefault((*path, key), key_node.start_mark.line + 1)
            _collect_lines(value_node, (*path, key), lines, depth + 1)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _collect_lines(item, (*path, index), lines, depth + 1)


def line_of(lines: Mapping[tuple[str | int, ...], int], path: tuple[str | int, ...]) -> int | None:
    """The line of ``path`` in the file, or of its nearest parent that has one."""
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return None


# --------------------------------------------------------------------------- errors

#: Problems of one document listed at most (with their hints); the rest are counted. A file
#: with 20,000 unknown keys is one mistake repeated, and its hints cost a string match each.
MAX_PROBLEMS = 200


def format_key_path(path: Iterable[str | int]) -> str:
    """``('components', 'api', 'calls', 0)`` → ``components.api.calls[0]``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


_MISSING = object()


def _child(node: Any, part: str | int) -> Any:
    if isinstance(node, dict):
        return node.get(part, _MISSING)
    if isinstance(node, list | tuple) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return _MISSING


def _data_path(data: Any, loc: tuple[str | int, ...], names_a_key: bool) -> tuple[str | int, ...]:
    """The key path in the user's data: drops the union tags pydantic puts into ``loc``.

    A last part that is not in the data is kept only when the error is about that very key
    (missing or unknown); otherwise it is a union tag such as ``lognormal``.
    """
    path: list[str | int] = []
    node: Any = data
    for index, part in enumerate(loc):
        child = _child(node, part)
        if child is not _MISSING:
            path.append(part)
            node = child
        elif index == len(loc) - 1 and names_a_key:
            path.append(part)
        # otherwise a tag of a discriminated union or a union member's name: not a user key
    return tuple(path)


def validation_problems(
    error: ValidationError,
    data: Any,
    source: str,
    lines: Mapping[tuple[str | int, ...], int],
    root: type[BaseModel] | None = None,
) -> list[Problem]:
    """Turn pydantic's errors into one :class:`Problem` per input problem.

    ``root`` is the model of the whole document (an architecture unless said otherwise): an
    unknown key is compared with the keys valid at its place in it (:mod:`.hints`).
    """
    root = root or ArchitectureSpec
    found: list[tuple[tuple[str | int, ...], Problem]] = []
    items = error.errors(include_url=False)
    for item in items[:MAX_PROBLEMS]:
        names_a_key = item["type"] in ("missing", "extra_forbidden")
        path = _data_path(data, tuple(item["loc"]), names_a_key)
        problem = Problem(
            source, format_key_path(path), _message(item, root, path), line_of(lines, path)
        )
        found.append((path, problem))
    # A container's own complaint ("should have at least 1 item") after one of its items
    # failed is noise: keep the deepest problem on each path. The paths with a problem below
    # them are collected once (linear: 20,000 unknown keys are reported at once).
    above = {path[:end] for path, _ in found for end in range(1, len(path))}
    unique: dict[str, Problem] = {}
    for path, problem in found:
        if not path or path not in above:
            unique.setdefault(str(problem), problem)
    if len(items) > MAX_PROBLEMS:
        more = len(items) - MAX_PROBLEMS
        unique["..."] = Problem(
            source, "", f"… and {more:,} more problems (the first {MAX_PROBLEMS} are listed)"
        )
    return list(unique.values())


def _unknown_key(item: Any, root: type[BaseModel], path: tuple[str | int, ...]) -> str:
    """An unknown key: the close key valid at its place, else where it is a key, else none."""
    loc = tuple(item["loc"])
    key = str(loc[-1])
    here = models_at(root, loc[:-1])
    # Without a place (a location the models do not explain), every key of the document.
    hint = suggest(key, keys_at(root, loc[:-1]) if here else field_names(root))
    owners = key_owners(root, key) if key in field_names(root) else ()
    if owners and not hint:  # a real key, in the wrong place: say where it belongs
        tags = {tag_of(model) for model in here}
        parent = format_key_path(path[:-1])
        where = (
            f"a {tags.pop()}"
            if len(tags) == 1 and None not in tags
            else (parent or "the top level")
        )
        return f"{key!r} is not a key of {where}; it is a key of: {', '.join(owners)}"
    return f"unknown key {key!r}{hint}"


def _message(item: Any, root: type[BaseModel], path: tuple[str | int, ...]) -> str:
    kind = item["type"]
    ctx = item.get("ctx") or {}
    found = item.get("input")
    if kind == "extra_forbidden":
        return _unknown_key(item, root, path)
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        shown = repr(found) if isinstance(found, str | int | float | bool) else f"a {_kind(found)}"
        return f"must be a mapping of keys (got {shown})"
    if kind == "missing":
        return "required key is missing"
    if kind == "finite_number":
        return f"must be a finite number (got {found!r})"
    if kind == "union_tag_invalid":
        expected = ctx.get("expected_tags", "")
        key = str(ctx.get("discriminator", "tag")).strip("'")
        return f"unknown {key} {ctx.get('tag')!r} (expected one of {expected})"
    if kind == "union_tag_not_found":
        return f"missing key {ctx.get('discriminator', '')!s}".replace("'", "")
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        gt = ctx.get("gt")
        words = {
            "greater_than_equal": f"must be at least {_number(ctx.get('ge'))}",
            "greater_than": (
                f"must be at least {gt + 1}"
                if isinstance(gt, int) and isinstance(found, int)
                else f"must be greater than {_number(ctx.get('gt'))}"
            ),
            "less_than_equal": f"must be at most {_number(ctx.get('le'))}",
            "less_than": f"must be less than {_number(ctx.get('lt'))}",
        }
        return f"{words[kind]} (got {found!r})"
    message = str(item["msg"])
    message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    message = message[:1].lower() + message[1:]
    if kind == "value_error" or "(got " in message:
        return message
    if isinstance(found, str | int | float | bool) or found is None:
        return f"{message} (got {found!r})"
    return f"{message} (got a {_kind(found)})"


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
