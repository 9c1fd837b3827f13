"""Which reader a results path needs, and where its plan is by default."""

from __future__ import annotations

from pathlib import Path

from scaleplan.errors import Problem, SpecError
from scaleplan.verify.k6_results import read_k6
from scaleplan.verify.locust_results import HISTORY_SUFFIX, locust_prefix, read_locust
from scaleplan.verify.measured import Results

PLAN_FILE = "plan.json"
_K6_SUFFIXES = (".json", ".ndjson", ".jsonl", ".gz")


def read_results(path: str | Path) -> Results:
    """A Locust ``--csv`` prefix (or its ``_stats.csv`` / ``_stats_history.csv``, or the folder
    of one), or a k6 ``--summary-export`` JSON or ``--out json`` NDJSON file."""
    given = Path(path)
    if given.is_dir():
        given = _only_history(given)
    if given.suffix in _K6_SUFFIXES and given.is_file():
        return read_k6(given)
    prefix = locust_prefix(given)
    if prefix is not None:
        return read_locust(prefix)
    if given.is_file():
        raise SpecError(
            [
                Problem(
                    given.name,
                    "",
                    "not a load test's results: give a Locust --csv prefix (or its _stats.csv "
                    "or _stats_history.csv) or a k6 .json file (--summary-export or --out json)",
                )
            ]
        )
    raise SpecError(
        [
            Problem(
                given.name,
                "",
                "no such results file, nor a Locust --csv prefix of one "
                f"({given.name}_stats_history.csv)",
            )
        ]
    )


def _only_history(folder: Path) -> Path:
    """The one Locust history in ``folder`` (a folder given as the results)."""
    found = sorted(folder.glob(f"*{HISTORY_SUFFIX}"))
    if len(found) == 1:
        return found[0]
    what = (
        f"holds {len(found)} Locust histories ({', '.join(path.name for path in found)}): give one"
        if found
        else f"holds no Locust history (*{HISTORY_SUFFIX}): give the results file"
    )
    raise SpecError([Problem(folder.name or str(folder), "", what)])


def default_plan(path: str | Path) -> Path:
    """The plan beside the results: ``plan.json`` in the results' folder (or in the folder
    given as the results)."""
    given = Path(path)
    return (given if given.is_dir() else given.parent) / PLAN_FILE
