"""k6's output as :class:`~scaleplan.verify.measured.Results`.

Two files k6 writes are read:

- ``--out json=FILE`` (NDJSON, optionally gzipped): one line per ``Metric`` declaration or
  ``Point`` sample. Each request gives a ``http_req_duration`` point (ms, at the time k6
  recorded it, tagged with the request's ``name``) and a ``http_req_failed`` point (1 failed,
  0 not; k6 ≥ 0.31, else the ``status`` tag decides: 0 or ≥ 400 failed). Every window's figures
  are exact: the requests recorded in it, their mean and their percentiles. The test starts at
  the earliest point of any metric (k6 samples ``vus`` from the start).
- ``--summary-export FILE`` (one JSON object): whole-run figures only — ``http_reqs`` (count,
  rate), ``http_req_duration`` (avg, med, p(90), p(95) and p(99) when ``summaryTrendStats``
  asks for it) and ``http_req_failed`` (``passes`` counts the *failed* requests, ``value`` is
  their share). It can judge a plan of one step, its whole run as that step's window.
"""

from __future__ import annotations

import gzip
import json
import math
from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import numpy as np

from scaleplan.errors import Problem, SpecError
from scaleplan.verify.measured import ALL, Figures, Results

_WANTED = ('"http_req_duration"', '"http_req_failed"', '"vus"', '"http_reqs"')


@dataclass(frozen=True)
class K6Points(Results):
    """k6's NDJSON samples: per request its end time, duration, name and failure."""

    times: np.ndarray = field(default_factory=lambda: np.zeros(0))  # s from the start, sorted
    durations_ms: np.ndarray = field(default_factory=lambda: np.zeros(0))
    request_names: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))
    # the failed requests' times (s from the start, sorted) and names
    failure_times: np.ndarray = field(default_factory=lambda: np.zeros(0))
    failure_names: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))

    def window(self, start_s: float, end_s: float, name: str = ALL) -> Figures | None:
        if start_s < -1.0 or end_s > self.span_s + 1.0:
            return None  # the samples do not cover the window (1 s: k6 samples vus each second)
        low, high = bisect_left(self.times, start_s), bisect_left(self.times, end_s)
        durations = self.durations_ms[low:high]
        first = bisect_left(self.failure_times, start_s)
        last = bisect_left(self.failure_times, end_s)
        failures = last - first
        if name != ALL:
            durations = durations[self.request_names[low:high] == name]
            failures = int((self.failure_names[first:last] == name).sum())
        count = int(durations.size)
        p50, p95, p99 = np.quantile(durations, [0.5, 0.95, 0.99]) if count else (math.nan,) * 3
        return Figures(
            start_s=start_s,
            end_s=end_s,
            requests=count,
            failures=min(failures, count),
            throughput_per_s=count / (end_s - start_s),
            mean_ms=float(durations.mean()) if count else math.nan,
            p50_ms=float(p50),
            p95_ms=float(p95),
            p99_ms=float(p99),
        )


@dataclass(frozen=True)
class K6Summary(Results):
    """k6's end-of-test summary: one window, the whole run."""

    whole: Figures | None = None

    def window(self, start_s: float, end_s: float, name: str = ALL) -> Figures | None:
        if name != ALL or self.whole is None:
            return None
        return self.whole


def read_k6(path: Path) -> Results:
    """Read k6's ``--summary-export`` JSON or its ``--out json`` NDJSON (told apart by content)."""
    try:
        handle: IO[str] = (
            gzip.open(path, "rt", encoding="utf-8")  # noqa: SIM115 - closed by the with below
            if path.suffix == ".gz"
            else path.open(encoding="utf-8")
        )
    except FileNotFoundError:
        raise SpecError([Problem(path.name, "", "no such file")]) from None
    with handle:
        try:
            first = handle.readline()
            if not first.strip():
                raise SpecError([Problem(path.name, "", "is empty: no k6 results")])
            try:
                head = json.loads(first)
            except json.JSONDecodeError:
                head = None  # a pretty-printed summary spans lines
            if isinstance(head, dict) and "type" in head:
                return _points(path.name, first, handle)
            rest = handle.read()
        except (UnicodeDecodeError, OSError, EOFError) as error:
            raise SpecError([Problem(path.name, "", f"not a k6 JSON file ({error})")]) from None
    try:
        data = json.loads(first + rest)
    except json.JSONDecodeError as error:
        raise SpecError([Problem(path.name, "", f"not JSON ({error})")]) from None
    return _summary(path.name, data)


def _summary(name: str, data: Any) -> K6Summary:
    if not isinstance(data, dict) or not isinstance(data.get("metrics"), dict):
        raise SpecError(
            [Problem(name, "metrics", "missing: not a k6 --summary-export file (nor NDJSON)")]
        )
    metrics = data["metrics"]
    problems = [
        Problem(name, f"metrics.{metric}", "missing (k6 writes it for every HTTP test)")
        for metric in ("http_reqs", "http_req_duration")
        if not isinstance(metrics.get(metric), dict)
    ]
    if problems:
        raise SpecError(problems)
    requests = metrics["http_reqs"]
    duration = metrics["http_req_duration"]
    count = _field(name, "metrics.http_reqs.count", requests.get("count"))
    rate = _field(name, "metrics.http_reqs.rate", requests.get("rate"))
    if count <= 0:
        raise SpecError([Problem(name, "metrics.http_reqs.count", "is 0: the test sent none")])
    failed_metric = metrics.get("http_req_failed")
    failures = 0
    if isinstance(failed_metric, dict):
        # A rate metric: "passes" counts the non-zero samples, here the failed requests.
        failures = int(_field(name, "metrics.http_req_failed.passes", failed_metric.get("passes")))
    span = count / rate if rate > 0 else math.nan
    state = data.get("state")
    if isinstance(state, dict) and isinstance(state.get("testRunDurationMs"), int | float):
        span = float(state["testRunDurationMs"]) / 1000.0

    def trend(key: str) -> float:
        value = duration.get(key)
        return float(value) if isinstance(value, int | float) else math.nan

    whole = Figures(
        start_s=0.0,
        end_s=span,
        requests=int(count),
        failures=failures,
        throughput_per_s=rate,
        mean_ms=trend("avg"),
        p50_ms=trend("med"),
        p95_ms=trend("p(95)"),
        p99_ms=trend("p(99)"),
    )
    notes = [
        "k6 summary: whole-run figures (the settle time included); only a plan of one step "
        "can be judged from it (give k6's --out json=FILE for per-step figures)"
    ]
    if math.isnan(whole.p99_ms):
        notes.append("p99 not in the summary: add 'p(99)' to k6's summaryTrendStats")
    return K6Summary(
        source=name,
        tool="k6",
        started_at=0.0,
        span_s=span,
        names=(),
        notes=tuple(notes),
        whole=whole,
    )


def _field(name: str, key: str, value: Any) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise SpecError([Problem(name, key, f"must be a number (got {value!r})")])
    return float(value)


def _points(name: str, first: str, handle: IO[str]) -> K6Points:
    """Stream the NDJSON lines, keeping the HTTP request samples and the earliest time."""
    durations: list[tuple[float, float, str, str]] = []  # time, ms, name, status
    failed: list[tuple[float, str]] = []  # time, name of each failed request
    failure_points = 0
    earliest, latest = math.inf, -math.inf
    number = 0
    for number, line in enumerate(_chain(first, handle), start=1):
        if not any(wanted in line for wanted in _WANTED):
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as error:
            raise SpecError([Problem(name, "", f"not a JSON line ({error.msg})", number)]) from None
        if not isinstance(item, dict) or item.get("type") != "Point":
            continue
        data = item.get("data")
        if not isinstance(data, dict):
            raise SpecError([Problem(name, "data", "missing in a Point line", number)])
        moment = _time(name, data.get("time"), number)
        earliest, latest = min(earliest, moment), max(latest, moment)
        metric = item.get("metric")
        value = data.get("value")
        if metric not in ("http_req_duration", "http_req_failed"):
            continue
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise SpecError([Problem(name, "data.value", f"not a number: {value!r}", number)])
        given = data.get("tags")
        tags: dict[str, Any] = given if isinstance(given, dict) else {}
        label = str(tags.get("name") or tags.get("url") or "")
        if metric == "http_req_duration":
            durations.append((moment, float(value), label, str(tags.get("status") or "")))
        else:
            failure_points += 1
            if value:
                failed.append((moment, label))
    if not durations:
        raise SpecError(
            [Problem(name, "", f"holds no http_req_duration points in {number} lines: no requests")]
        )
    durations.sort(key=lambda sample: sample[0])
    notes = ["k6 points: every window's figures exact, from its requests' samples"]
    if not failure_points:
        failed = [
            (moment, label)
            for moment, _, label, status in durations
            if not status.isdigit() or not 0 < int(status) < 400
        ]
        notes.append("no http_req_failed points (k6 < 0.31): failed = status 0 or >= 400")
    failed.sort(key=lambda sample: sample[0])
    return K6Points(
        source=name,
        tool="k6",
        started_at=earliest,
        span_s=latest - earliest,
        names=tuple(sorted({label for _, _, label, _ in durations})),
        notes=tuple(notes),
        times=np.array([moment - earliest for moment, *_ in durations]),
        durations_ms=np.array([ms for _, ms, _, _ in durations]),
        request_names=np.array([label for _, _, label, _ in durations], dtype=object),
        failure_times=np.array([moment - earliest for moment, _ in failed]),
        failure_names=np.array([label for _, label in failed], dtype=object),
    )


def _chain(first: str, handle: IO[str]) -> Any:
    yield first
    yield from handle


def _time(name: str, value: Any, number: int) -> float:
    if not isinstance(value, str):
        raise SpecError([Problem(name, "data.time", f"missing (got {value!r})", number)])
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        raise SpecError(
            [Problem(name, "data.time", f"not an RFC 3339 time: {value!r}", number)]
        ) from None
