"""What-if sweeps: simulate every point of a grid over any key paths, in parallel.

``sweep(spec, {"components.api.replicas": range(2, 13), "workload.rate_per_s": [100, 200]})``
simulates the cartesian product of the values, each point being
``spec.with_changes(point)`` — any dotted key path of the architecture contract, re-validated.
Every point is checked before anything runs, so a misspelt key path fails at once with a
:class:`~scaleplan.errors.SpecError`; a point that is certainly unstable comes back as a row
with ``stable: false`` and the reason rather than stopping the sweep.

Points run on local processes (:class:`concurrent.futures.ProcessPoolExecutor`, one per core)
or on any executor-like object given as ``executor`` — anything whose ``submit(fn, *args)``
returns a future with ``result()``, e.g. a ``dask.distributed.Client`` (its futures are then
awaited with ``distributed.as_completed``). The work function and its arguments are plain
picklable values, and every point uses the same seed, so the rows are the same wherever they
run (and points differ only by their changes: common random numbers).
"""

from __future__ import annotations

import difflib
import itertools
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from scaleplan.errors import Problem, SpecError
from scaleplan.experiments._common import (
    ExecutorLike,
    Progress,
    busiest,
    clean,
    default_executor,
    error_rate,
    submit_all,
)
from scaleplan.result import SimulationResult
from scaleplan.spec import ArchitectureSpec, NFRSpec, SLOSpec, parse_slo

__all__ = ["SweepResult", "parse_grid_values", "sweep"]


@dataclass(frozen=True)
class SweepResult:
    """One row per grid point, in grid order (see :func:`sweep` for the columns)."""

    spec: str
    keys: tuple[str, ...]
    seed: int
    requests: int | None
    rows: tuple[dict[str, Any], ...]
    wall_time_s: float
    #: The objectives every point was judged against (``slo.<text>`` columns).
    slos: tuple[str, ...] = ()

    @property
    def failures(self) -> int:
        """Points that were unstable or could not run."""
        return sum(1 for row in self.rows if not row["stable"])

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (NaN written as ``null``)."""
        return clean(
            {
                "spec": self.spec,
                "keys": list(self.keys),
                "seed": self.seed,
                "requests": self.requests,
                "slos": list(self.slos),
                "points": len(self.rows),
                "failures": self.failures,
                "wall_time_s": self.wall_time_s,
                "rows": list(self.rows),
            }
        )

    def records(self) -> list[dict[str, Any]]:
        """The rows (flat dicts: one column per key path and per metric)."""
        return [clean(row) for row in self.rows]


#: A request class's figures in every row (``classes.<class>.<figure>``); a class with an
#: objective on another statistic also gets that one.
CLASS_FIGURES = ("mean", "p50", "p99")


def _class_columns(result: SimulationResult, slos: Sequence[SLOSpec]) -> dict[str, Any]:
    """Each request class's mean, p50 and p99 (with its CI), and the statistic of any
    objective of that class."""
    columns: dict[str, Any] = {}
    for name, summary in result.classes.items():
        wanted = list(CLASS_FIGURES)
        wanted += [s.metric for s in slos if s.request_class == name and s.metric not in wanted]
        for metric in wanted:
            columns[f"classes.{name}.{metric}_ms"] = summary.percentile(metric)
        low, high = summary.percentile_ci95("p99")
        columns[f"classes.{name}.p99_ci95_low"] = low
        columns[f"classes.{name}.p99_ci95_high"] = high
    return columns


def _verdict_columns(result: SimulationResult | None, slos: Sequence[SLOSpec]) -> dict[str, Any]:
    """``slo.<text>`` (pass, fail, inconclusive or not evaluated, as
    :func:`~scaleplan.experiments.check` decides: by the 95% CI, a class's objective on that
    class's figure), ``slo.<text>.measured`` and ``meets_slos`` (every objective passes)."""
    from scaleplan.experiments.nfr import check

    if not slos:
        return {}
    columns: dict[str, Any] = {}
    if result is None:  # refused as certainly unstable: it sustains none of them
        statuses = {slo.text: ("fail", math.nan) for slo in slos}
    else:
        statuses = {v.nfr: (v.status, v.measured) for v in check(result, list(slos))}
    for text, (status, measured) in statuses.items():
        columns[f"slo.{text}"] = status
        columns[f"slo.{text}.measured"] = measured
    columns["meets_slos"] = all(status == "pass" for status, _ in statuses.values())
    return columns


def _run_point(
    spec: ArchitectureSpec,
    point: dict[str, Any],
    seed: int,
    requests: int | None,
    replications: int,
    run_anyway: bool,
    max_in_flight: int | None,
    slos: tuple[SLOSpec, ...] = (),
) -> dict[str, Any]:
    """Simulate one point and return its row (runs in a worker process)."""
    from scaleplan.engine import UnstableError, simulate
    from scaleplan.errors import ScaleplanError

    row: dict[str, Any] = dict(point)
    started = time.perf_counter()
    try:
        result = simulate(
            spec,
            seed=seed,
            requests=requests,
            replications=replications,
            run_anyway=run_anyway,
            max_in_flight=max_in_flight,
        )
    except UnstableError as error:
        row.update({"stable": False, "error": str(error), "rate_per_s": math.nan})
        row.update(_verdict_columns(None, slos))
        row["wall_time_s"] = time.perf_counter() - started
        return row
    except ScaleplanError as error:
        row.update({"stable": False, "error": str(error), "rate_per_s": math.nan})
        row["wall_time_s"] = time.perf_counter() - started
        return row
    latency = result.latency_ms
    name, utilization = busiest(result)
    row.update(
        {
            "stable": result.stable,
            "error": "" if result.stable else "; ".join(result.warnings[:1]),
            "rate_per_s": result.rate_per_s,
            "requests": result.requests.arrived,
            "mean_ms": latency.mean,
            "mean_ci95_low": latency.mean_ci95[0],
            "mean_ci95_high": latency.mean_ci95[1],
            "p50_ms": latency.p50,
            "p90_ms": latency.p90,
            "p95_ms": latency.p95,
            "p99_ms": latency.p99,
            # p99 is the figure most quoted: its 95% CI from the run's time sections
            "p99_ci95_low": latency.p99_ci95[0],
            "p99_ci95_high": latency.p99_ci95[1],
            "p999_ms": latency.p999,
            "throughput_per_s": result.throughput_per_s,
            "error_rate": error_rate(result),
            "rejected": result.requests.rejected,
            "busiest": name,
            "max_utilization": utilization,
        }
    )
    for component, metrics in result.components.items():
        row[f"utilization.{component}"] = metrics.utilization
        row[f"p99_ms.{component}"] = metrics.latency_ms.p99
    row.update(_class_columns(result, slos))
    row.update(_verdict_columns(result, slos))
    row["wall_time_s"] = time.perf_counter() - started
    return row


def sweep(
    spec: ArchitectureSpec,
    grid: Mapping[str, Iterable[Any]],
    *,
    seed: int = 1,
    requests: int | None = None,
    replications: int = 1,
    run_anyway: bool = False,
    max_in_flight: int | None = None,
    workers: int | None = None,
    executor: ExecutorLike | None = None,
    progress: Progress | None = None,
    slos: NFRSpec | Sequence[str | SLOSpec] = (),
) -> SweepResult:
    """Simulate ``spec`` at every point of ``grid`` (key path → values; cartesian product).

    Parameters
    ----------
    spec : ArchitectureSpec
        The base architecture.
    grid : mapping of str to iterable
        Dotted key paths (``components.api.replicas``, ``workload.rate_per_s``, …) and the
        values to try.
    seed, requests, replications, run_anyway, max_in_flight
        As for :func:`scaleplan.engine.simulate`, the same for every point.
    workers : int, optional
        Local processes (default: one per core; 1 runs in this process).
    executor : executor-like, optional
        Run the points there instead (``concurrent.futures`` executor or Dask client).
    progress : callable, optional
        ``progress(done, total)`` as points finish.
    slos : NFRSpec or sequence of SLO strings, optional
        Objectives to judge every point against, as :func:`~scaleplan.experiments.check`
        does (pass only when the 95% CI clears the bound); an objective of a request class
        on that class's figure. An objective of a class the spec lacks is a
        :class:`~scaleplan.errors.SpecError`.

    Returns
    -------
    SweepResult
        One row per point: the key paths' values, ``stable``, ``error``, ``rate_per_s``,
        ``mean_ms`` with its CI, ``p50_ms`` … ``p999_ms``, ``throughput_per_s``,
        ``error_rate``, ``rejected``, ``busiest``, ``max_utilization``,
        ``utilization.<component>`` / ``p99_ms.<component>`` columns; per request class
        ``classes.<class>.mean_ms``, ``.p50_ms``, ``.p99_ms`` (with ``.p99_ci95_low`` and
        ``.p99_ci95_high``) and the statistic of each of its objectives; with ``slos``,
        ``slo.<text>`` (the verdict), ``slo.<text>.measured`` and ``meets_slos``.

    Examples
    --------
    >>> from scaleplan.spec import example_spec
    >>> result = sweep(example_spec(), {"workload.rate_per_s": [20, 60, 120]},
    ...                requests=2000, workers=1)
    >>> [(row["workload.rate_per_s"], row["stable"]) for row in result.records()]
    [(20, True), (60, True), (120, False)]
    """
    keys = tuple(grid)
    if not keys:
        raise SpecError([Problem(spec.source, "", "a sweep needs at least one key path")])
    objectives = _objectives(spec, slos)
    values = [list(grid[key]) for key in keys]
    for key, options in zip(keys, values, strict=True):
        if not options:
            raise SpecError([Problem(spec.source, key, "no values to sweep over")])
    points = [
        dict(zip(keys, combination, strict=True)) for combination in itertools.product(*values)
    ]
    _check_paths(spec, keys)
    # Validate every point here, so bad input fails before any work is sent anywhere.
    specs = [spec.with_changes(point) for point in points]
    started = time.perf_counter()
    tasks = [
        (
            _run_point,
            (changed, point, seed, requests, replications, run_anyway, max_in_flight, objectives),
        )
        for changed, point in zip(specs, points, strict=True)
    ]
    pool = None
    if executor is None:
        pool = default_executor(workers, len(tasks))
    try:
        rows = submit_all(executor or pool, tasks, progress)
    finally:
        if pool is not None:
            pool.shutdown()
    return SweepResult(
        spec=spec.name,
        keys=keys,
        seed=seed,
        requests=requests,
        rows=tuple(rows),
        wall_time_s=time.perf_counter() - started,
        slos=tuple(slo.text for slo in objectives),
    )


def _objectives(
    spec: ArchitectureSpec, slos: NFRSpec | Sequence[str | SLOSpec]
) -> tuple[SLOSpec, ...]:
    """The sweep's objectives, parsed; one of a request class the spec lacks is refused (a
    sweep cannot add classes, so it would be judged nowhere)."""
    if isinstance(slos, NFRSpec):
        parsed = slos.slos
    else:
        problems, found = [], []
        for index, item in enumerate([slos] if isinstance(slos, str) else slos):
            try:
                found.append(item if isinstance(item, SLOSpec) else parse_slo(item))
            except ValueError as error:
                problems.append(Problem("slos", f"slos.{index}", str(error)))
        if problems:
            raise SpecError(problems)
        parsed = tuple(found)
    classes = [cls.name for cls in spec.workload.classes]
    unknown = [
        Problem(
            "slos",
            slo.text,
            f"{spec.name} has no request class {slo.request_class!r} "
            f"(classes: {', '.join(classes) or 'none'})",
        )
        for slo in parsed
        if slo.request_class is not None and slo.request_class not in classes
    ]
    if unknown:
        raise SpecError(unknown)
    return parsed


def _check_paths(spec: ArchitectureSpec, keys: Sequence[str]) -> None:
    """Every key path must lead through parts the architecture has (the last key may be new).

    ``with_changes`` would otherwise create a new component from a misspelt name and report
    it as "missing key kind"; saying which part is unknown is clearer.
    """
    data = spec.model_dump(mode="python")
    problems = []
    for key in keys:
        node: Any = data
        parts = key.split(".")
        if len(parts) == 3 and parts[0] == "components" and parts[2] == "kind":
            # The component's other keys belong to its kind: re-validated under another kind
            # they would be reported as mistakes of the file, which has none.
            problems.append(
                Problem(
                    "--set",
                    key,
                    "a sweep cannot change a component's kind (its other keys belong to its "
                    "kind); write one file per kind and compare them in a scenario",
                )
            )
            continue
        for depth, part in enumerate(parts[:-1]):
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list | tuple) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                where = ".".join(parts[: depth + 1])
                choices = list(node) if isinstance(node, dict) else []
                close = difflib.get_close_matches(part, choices, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                problems.append(Problem(spec.source, where, f"no such key {part!r}{hint}"))
                break
    if problems:
        raise SpecError(problems)


#: Points of one sweep at most (each is a run, and each run re-validates its spec).
MAX_POINTS = 10_000


def parse_grid_values(text: str) -> list[Any]:
    """Values for one key path from the CLI: ``2:12`` (inclusive), ``0:1:0.25`` or ``a,b,c``.

    Examples
    --------
    >>> parse_grid_values("2:5"), parse_grid_values("0:1:0.5"), parse_grid_values("10,20,x")
    ([2, 3, 4, 5], [0.0, 0.5, 1.0], [10, 20, 'x'])
    """
    text = text.strip()
    if not text:
        raise ValueError("no values (write e.g. '2:12', '0:1:0.25' or '100,200,300')")
    if ":" in text and "," not in text:
        parts = text.split(":")
        if len(parts) not in (2, 3):
            raise ValueError(f"a range is 'start:stop' or 'start:stop:step' (got {text!r})")
        try:
            numbers = [yaml.safe_load(part) for part in parts]
        except yaml.YAMLError:
            numbers = []
        if len(numbers) != len(parts) or not all(
            isinstance(n, int | float) and not isinstance(n, bool) for n in numbers
        ):
            raise ValueError(f"a range needs numbers (got {text!r})")
        start, stop = numbers[0], numbers[1]
        step = numbers[2] if len(numbers) == 3 else 1
        if step <= 0 or stop < start:
            raise ValueError(f"a range needs start <= stop and a step above 0 (got {text!r})")
        if not all(math.isfinite(n) for n in numbers):
            raise ValueError(f"a range needs finite numbers (got {text!r})")
        exact = all(isinstance(n, int) for n in numbers)
        count = (
            (stop - start) // step + 1 if exact else math.floor((stop - start) / step + 1e-9) + 1
        )
        if count > MAX_POINTS:
            raise ValueError(
                f"the range has {count:,} values; at most {MAX_POINTS:,} (got {text!r})"
            )
        if exact:
            return list(range(start, stop + 1, step))
        return [float(start + index * step) for index in range(count)]
    values = []
    for part in text.split(","):
        try:
            values.append(yaml.safe_load(part.strip()))
        except yaml.YAMLError:
            values.append(part.strip())
    return values
