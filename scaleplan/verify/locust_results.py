"""Locust's CSV output (``locust --csv PREFIX``) as :class:`~scaleplan.verify.measured.Results`.

Locust writes ``PREFIX_stats.csv`` (whole-run figures per request name),
``PREFIX_stats_history.csv`` (one row a second, ``CSV_STATS_INTERVAL_SEC``: the Aggregated row
and, with ``--csv-full-history``, one row per request name), ``PREFIX_failures.csv`` and
``PREFIX_exceptions.csv``. The history is what a step is measured from:

- its cumulative columns (``Total Request Count``, ``Total Failure Count``, ``Total Average
  Response Time``) give a window's exact throughput, error rate and mean by differences
  between the rows at the window's ends (to Locust's whole-second timestamps);
- its percentile columns (``50%`` … ``99%``) are, with ``--csv-full-history``, Locust's
  *current* percentiles over its rolling window (``CURRENT_RESPONSE_TIME_PERCENTILE_WINDOW``,
  10 s) and, without it, percentiles since the start of the test. A step's percentiles are
  therefore those of the last row inside its window, taken only when the history is full and
  the window at least 10 s long: the percentiles of the window's last ~10 s, an approximation
  stated in the results' notes. Locust also rounds response times above 100 ms to two
  significant digits before it counts them.

The test's start is the first history row's timestamp (Locust writes it when the test starts,
with 0 users).
"""

from __future__ import annotations

import csv
import math
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from pathlib import Path

from scaleplan.errors import Problem, SpecError
from scaleplan.verify.measured import ALL, Figures, Results

HISTORY_SUFFIX = "_stats_history.csv"
STATS_SUFFIX = "_stats.csv"
FAILURES_SUFFIX = "_failures.csv"
#: Locust's rolling window of its current percentiles, in seconds.
PERCENTILE_WINDOW_S = 10.0
#: Seconds a window's end may lie from the nearest history row (rows come once a second and
#: carry whole-second timestamps).
SLACK_S = 2.0
#: The history columns read, by what they hold.
COLUMNS = {
    "time": "Timestamp",
    "type": "Type",
    "name": "Name",
    "p50": "50%",
    "p95": "95%",
    "p99": "99%",
    "count": "Total Request Count",
    "failures": "Total Failure Count",
    "mean": "Total Average Response Time",
}


@dataclass(frozen=True)
class _Row:
    time: float
    count: int
    failures: int
    mean_ms: float
    p50_ms: float
    p95_ms: float
    p99_ms: float


_ZERO = _Row(-math.inf, 0, 0, 0.0, math.nan, math.nan, math.nan)


@dataclass(frozen=True)
class LocustResults(Results):
    """A Locust stats history, one series of rows per request name (and ALL)."""

    full_history: bool = False
    series: dict[str, tuple[_Row, ...]] = field(default_factory=dict)
    failure_messages: tuple[str, ...] = ()

    def window(self, start_s: float, end_s: float, name: str = ALL) -> Figures | None:
        rows = self.series.get(name)
        times = [row.time for row in self.series[ALL]]
        first = bisect_left(times, self.started_at + start_s)
        last = bisect_right(times, self.started_at + end_s) - 1
        if first >= len(times) or last < 0 or times[last] <= times[first]:
            return None
        if times[first] - (self.started_at + start_s) > SLACK_S:
            return None
        if (self.started_at + end_s) - times[last] > SLACK_S:
            return None
        if rows is None:
            return None
        before, after = _state_at(rows, times[first]), _state_at(rows, times[last])
        seconds = times[last] - times[first]
        count = after.count - before.count
        failures = after.failures - before.failures
        mean = (
            (after.count * after.mean_ms - before.count * before.mean_ms) / count
            if count > 0
            else math.nan
        )
        # The last row's current percentiles cover its last ~10 s: the window's, when the
        # window is at least that long and Locust's percentile cache had filled.
        current = (
            self.full_history
            and end_s - start_s >= PERCENTILE_WINDOW_S
            and times[last] - self.started_at >= PERCENTILE_WINDOW_S + SLACK_S
            and after.time == times[last]
        )
        return Figures(
            start_s=times[first] - self.started_at,
            end_s=times[last] - self.started_at,
            requests=count,
            failures=failures,
            throughput_per_s=count / seconds,
            mean_ms=mean,
            p50_ms=after.p50_ms if current else math.nan,
            p95_ms=after.p95_ms if current else math.nan,
            p99_ms=after.p99_ms if current else math.nan,
        )


def _state_at(rows: tuple[_Row, ...], time: float) -> _Row:
    """The last row at or before ``time`` (a name not yet requested: all zero)."""
    index = bisect_right([row.time for row in rows], time) - 1
    return rows[index] if index >= 0 else _ZERO


def locust_prefix(path: Path) -> Path | None:
    """The ``--csv`` prefix that ``path`` names (the prefix, its stats or history file)."""
    for suffix in (HISTORY_SUFFIX, STATS_SUFFIX, FAILURES_SUFFIX):
        if path.name.endswith(suffix):
            return path.with_name(path.name[: -len(suffix)])
    if (
        path.with_name(path.name + HISTORY_SUFFIX).is_file()
        or path.with_name(path.name + STATS_SUFFIX).is_file()
    ):
        return path
    return None


def read_locust(prefix: Path) -> LocustResults:
    """Read Locust's stats history (and failures) written with ``--csv PREFIX``."""
    history = prefix.with_name(prefix.name + HISTORY_SUFFIX)
    name = history.name
    try:
        with history.open(newline="", encoding="utf-8") as handle:
            lines = list(csv.reader(handle))
    except FileNotFoundError:
        raise SpecError(
            [
                Problem(
                    name,
                    "",
                    "no such file: Locust writes it beside PREFIX_stats.csv when run with "
                    "--csv PREFIX (use --csv-full-history for per-step percentiles)",
                )
            ]
        ) from None
    except UnicodeDecodeError as error:
        raise SpecError([Problem(name, "", f"not a CSV text file ({error})")]) from None
    if not lines:
        raise SpecError([Problem(name, "", "is empty: no header and no rows")])
    header = lines[0]
    missing = [column for column in COLUMNS.values() if column not in header]
    if missing:
        raise SpecError(
            [
                Problem(name, f"column {column!r}", "missing from the header", line=1)
                for column in missing
            ]
        )
    where = {key: header.index(column) for key, column in COLUMNS.items()}
    raw: dict[str, list[_Row]] = {}
    problems: list[Problem] = []
    for number, line in enumerate(lines[1:], start=2):
        if not line:
            continue
        if len(line) != len(header):
            problems.append(
                Problem(name, "", f"has {len(line)} fields, the header {len(header)}", number)
            )
            continue
        try:
            row = _Row(
                time=_timestamp(line[where["time"]]),
                count=_integer(line[where["count"]]),
                failures=_integer(line[where["failures"]]),
                mean_ms=_number(line[where["mean"]]),
                p50_ms=_number(line[where["p50"]]),
                p95_ms=_number(line[where["p95"]]),
                p99_ms=_number(line[where["p99"]]),
            )
        except ValueError as error:
            problems.append(Problem(name, "", str(error), number))
            continue
        label = line[where["name"]]
        kind = line[where["type"]]
        key = label if label == ALL and not kind else f"{kind} {label}".strip()
        rows = raw.setdefault(key, [])
        if rows and (row.time < rows[-1].time or row.count < rows[-1].count):
            problems.append(
                Problem(
                    name,
                    "",
                    f"{label}'s row goes back in time or in Total Request Count (from "
                    f"{rows[-1].count} to {row.count}): the statistics were reset "
                    "(--reset-stats) or two runs share the file",
                    number,
                )
            )
            break
        rows.append(row)
        if len(problems) >= 20:
            break
    if problems:
        raise SpecError(problems)
    total = raw.get(ALL)
    if not total:
        raise SpecError([Problem(name, "", "holds no Aggregated rows: no results")])
    if total[-1].count == 0:
        raise SpecError([Problem(name, "", "holds no requests: the test sent none")])
    # A request name Locust saw with one method only is known by its name (as in the plan).
    names = [key for key in raw if key != ALL]
    short = {key: key.split(" ", 1)[-1] for key in names}
    labels = {
        key: short[key] if list(short.values()).count(short[key]) == 1 else key for key in names
    }
    series = {ALL: tuple(total)} | {labels[key]: tuple(raw[key]) for key in names}
    full = bool(names)
    notes = [
        "throughput, mean and error rate: exact over each window, from Locust's cumulative "
        "totals at the history rows nearest its ends (whole-second timestamps)",
        (
            "percentiles: Locust's current percentiles over its rolling 10 s window at the "
            "last history row of each window (the window's last ~10 s), for windows of at "
            "least 10 s; response times above 100 ms rounded to 2 significant digits by Locust"
            if full
            else "percentiles: not measured per step (the history holds percentiles since the "
            "start of the test); run Locust with --csv-full-history to compare them"
        ),
    ]
    return LocustResults(
        source=name,
        tool="locust",
        started_at=total[0].time,
        span_s=total[-1].time - total[0].time,
        names=tuple(labels[key] for key in names),
        notes=tuple(notes),
        full_history=full,
        series=series,
        failure_messages=_failures(prefix.with_name(prefix.name + FAILURES_SUFFIX)),
    )


def _timestamp(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"Timestamp {text!r} is not Unix seconds") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"Timestamp {text!r} is not Unix seconds")
    return value


def _integer(text: str) -> int:
    try:
        value = int(float(text)) if text.strip() else 0
    except (ValueError, OverflowError):
        raise ValueError(f"{text!r} is not a number") from None
    if value < 0:
        raise ValueError(f"{text!r} is not a count")
    return value


def _number(text: str) -> float:
    """A figure; Locust writes N/A (and an empty field) for none."""
    if text.strip() in ("", "N/A"):
        return math.nan
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{text!r} is not a time in ms")
    return value


def _failures(path: Path) -> tuple[str, ...]:
    """The failures Locust counted (``PREFIX_failures.csv``), most frequent first."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error):
        return ()
    found = []
    for row in rows:
        try:
            count = int(row.get("Occurrences") or 0)
        except ValueError:
            continue
        found.append((count, f"{row.get('Method') or ''} {row.get('Name') or ''}".strip(), row))
    found.sort(key=lambda item: -item[0])
    return tuple(f"{label}: {row.get('Error')} × {count}" for count, label, row in found[:5])
