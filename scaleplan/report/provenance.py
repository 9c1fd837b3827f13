"""Where a decision record's numbers come from: input hashes, the run budget, versions.

A run is identified by its :class:`RunKey` — the scenario file's hash, each candidate spec's
hash (its canonical JSON and the data it loaded from files: empirical samples, trace times),
the hashes of the other files the record reads (the DR file, the rollout plan, the record
template), the seed, the run budget and scaleplan's version. Two runs with the same key give
the same numbers (one seed gives identical output), so the run store resumes by this key —
and a change to any input is a new key, so a batch never keeps a record of older inputs —
and the record prints it under "More Information" so a reader can reproduce it.
"""

from __future__ import annotations

import hashlib
import json
import platform
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

import scaleplan
from scaleplan.errors import ScaleplanError

if TYPE_CHECKING:  # imported where a key is made: not by the parent of `decide` (0.5 s)
    from scaleplan.experiments import CompareSettings
    from scaleplan.spec import ArchitectureSpec, ScenarioSpec

#: The libraries whose versions a record lists (the numbers depend on the first ones).
LIBRARIES = (
    "simpy",
    "numpy",
    "scipy",
    "networkx",
    "pydantic",
    "plotly",
    "papermill",
    "nbconvert",
    "ipykernel",
)
HASH_CHARS = 16


def digest(data: bytes) -> str:
    """A short SHA-256 hex digest (16 characters, 64 bits: ample to tell inputs apart)."""
    return hashlib.sha256(data).hexdigest()[:HASH_CHARS]


def file_hash(path: str | Path) -> str:
    """The hash of a file's bytes (a scenario, comments included: what the user wrote)."""
    return digest(Path(path).read_bytes())


def spec_hash(spec: ArchitectureSpec) -> str:
    """The hash of a validated spec's canonical JSON (independent of comments and key order).

    Examples
    --------
    >>> from scaleplan.spec import example_spec
    >>> spec = example_spec()
    >>> spec_hash(spec) == spec_hash(spec.with_changes({}))
    True
    >>> spec_hash(spec) == spec_hash(spec.with_changes({"components.api.replicas": 2}))
    False
    """
    data: dict[str, Any] = spec.model_dump(mode="json")
    loaded = dict(_loaded_data(spec, ""))
    if loaded:  # data read from files (empirical samples, trace times): the result uses it
        data["_loaded"] = loaded
    return digest(json.dumps(data, sort_keys=True, separators=(",", ":")).encode())


def _loaded_data(value: Any, where: str) -> Iterator[tuple[str, list[float]]]:
    """Every number tuple a model keeps privately (what it read from a file), by key path.

    The dump leaves these out (a re-validated spec reads its files again), so they are found
    here, in every nested model, list and mapping: a new kind of data file is hashed too.
    """
    if isinstance(value, BaseModel):
        for name, private in sorted((value.__pydantic_private__ or {}).items()):
            if (
                isinstance(private, tuple)
                and private
                and all(isinstance(item, int | float) for item in private)
            ):
                yield f"{where}{name}", [float(item) for item in private]
        for name in type(value).model_fields:
            yield from _loaded_data(getattr(value, name), f"{where}{name}.")
    elif isinstance(value, Mapping):
        for name, item in value.items():
            yield from _loaded_data(item, f"{where}{name}.")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _loaded_data(item, f"{where}{index}.")


def versions() -> dict[str, str]:
    """Python, scaleplan and the libraries' versions."""
    found = {"python": platform.python_version(), "scaleplan": scaleplan.__version__}
    for name in LIBRARIES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


@dataclass(frozen=True)
class RunSettings:
    """The seed and run budget a record is made with (the scenario's ``run:`` with overrides).

    ``budget`` on the command line and in the template is the number of requests per
    simulation run: it sets ``requests`` and caps ``pull_requests``; replications and the pull's
    precision stay as the scenario gives them.
    """

    seed: int
    replications: int
    requests: int
    pull_replications: int
    pull_requests: int
    precision: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def compare_settings(self) -> CompareSettings:
        """These settings as :func:`scaleplan.experiments.compare` takes them."""
        from scaleplan.experiments import CompareSettings

        return CompareSettings(**self.as_dict())

    def load(self, path: str | Path) -> ScenarioSpec:
        """Load the scenario at ``path`` with its ``run:`` settings replaced by these.

        The file is validated again with the new settings, so every candidate's workload
        carries the new requests per run (the scenario applies ``run.requests`` to them).
        """
        from scaleplan.spec import parse_scenario, read_yaml

        path = Path(path)
        data, lines = read_yaml(path)
        if isinstance(data, dict):
            run = dict(data.get("run") or {})
            run.update(self.as_dict())
            data = {**data, "run": run}
        return parse_scenario(data, source=path.name, base_dir=str(path.parent), lines=lines)


def resolve_budget(
    scenario: ScenarioSpec, *, seed: int | None = None, budget: int | None = None
) -> RunSettings:
    """The effective settings of a run of ``scenario`` with an optional seed and budget.

    Examples
    --------
    >>> from pathlib import Path
    >>> from scaleplan.spec import load_scenario
    >>> root = Path(scaleplan.__file__).parent.parent
    >>> scenario = load_scenario(root / "data/scenarios/online-shop.yaml")
    >>> settings = resolve_budget(scenario, budget=2000)
    >>> settings.requests, settings.pull_requests, settings.seed
    (2000, 2000, 1)
    """
    run = scenario.run
    if budget is not None and budget < 1:
        raise ScaleplanError(f"the run budget must be at least 1 request (got {budget})")
    return RunSettings(
        seed=run.seed if seed is None else seed,
        replications=run.replications,
        requests=run.requests if budget is None else budget,
        pull_replications=run.pull_replications,
        pull_requests=run.pull_requests if budget is None else min(run.pull_requests, budget),
        precision=run.precision,
    )


@dataclass(frozen=True)
class RunKey:
    """What makes two runs the same run."""

    scenario_hash: str
    spec_hashes: dict[str, str] = field(default_factory=dict)
    #: The scenario file (resolved): two files of the same text are two records, in two
    #: folders, each done only when its own is.
    scenario: str = ""
    #: The other files the record reads, by role: ``resilience.dr``, ``resilience.rollout``,
    #: ``template``.
    inputs: dict[str, str] = field(default_factory=dict)
    seed: int | None = None
    budget: dict[str, Any] = field(default_factory=dict)
    scaleplan_version: str = scaleplan.__version__

    @property
    def digest(self) -> str:
        return digest(json.dumps(asdict(self), sort_keys=True).encode())


def run_key(
    scenario_path: str | Path, *, seed: int | None = None, budget: int | None = None
) -> RunKey:
    """The key of running ``scenario_path`` with ``seed`` and ``budget``.

    The seed and budget are resolved against the scenario's own ``run:`` settings, so leaving
    them out and giving the scenario's values are the same run. A scenario that cannot be
    loaded — a bad input, or a bug it meets — still gets a key (from its bytes), so its failure
    is stored (the job meets the same error and reports it) and retried once fixed.
    """
    from scaleplan.spec import load_scenario

    path = Path(scenario_path)
    try:
        scenario_bytes_hash = file_hash(path)
    except OSError as error:
        raise ScaleplanError(f"{path}: cannot be read ({error.strerror})") from None
    try:
        scenario = load_scenario(path)
    except Exception:  # any failure, even a bug: the job meets it and reports it
        return RunKey(
            scenario_hash=scenario_bytes_hash,
            scenario=str(path.resolve()),
            seed=seed,
            budget={"requests": budget} if budget else {},
        )
    settings = resolve_budget(scenario, seed=seed, budget=budget)
    return RunKey(
        scenario_hash=scenario_bytes_hash,
        spec_hashes={name: spec_hash(spec) for name, spec in scenario.architectures().items()},
        scenario=str(path.resolve()),
        inputs=input_hashes(scenario),
        seed=settings.seed,
        budget=settings.as_dict(),
    )


def input_hashes(scenario: ScenarioSpec) -> dict[str, str]:
    """The hashes of the files besides the scenario and its candidates a record reads."""
    from scaleplan.report.decide import template_path

    found = {}
    for key in ("dr", "rollout"):
        path = scenario.resilience_file(key)
        if path is not None:
            try:
                found[f"resilience.{key}"] = file_hash(path)
            except OSError as error:
                found[f"resilience.{key}"] = f"unreadable: {error.strerror}"
    try:
        found["template"] = file_hash(template_path())
    except (OSError, ScaleplanError):
        found["template"] = "missing"
    return found
