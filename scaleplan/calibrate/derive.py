"""From what the telemetry recorded to the figures a model needs: the arrival rate (and its
hourly profile when the data spans hours), the class mix, the call graph with call
probabilities and parallel fan-out, each service's own times, its observed concurrency and
errors, and the end-to-end latencies the model is later compared with.

Traces give all of it. An access log gives one service: its classes by method and route, its
request times (which include any queueing inside the server: they are service times only at
low load) and its errors by status. Prometheus histograms give per service and route a count
and a bucket distribution of the same latency; no call graph (a flat model, one service per
``service`` label, each route a class entering there).
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np

from scaleplan.calibrate.model import Histogram, RequestRecord, Telemetry, bad_input
from scaleplan.calibrate.traces import DEFAULT_SKEW_TOLERANCE_MS, Trace, build_traces

HOUR_S = 3600.0
DAY_S = 86_400.0
#: Data spanning at least this long gets an hourly profile (``arrival: diurnal``).
PROFILE_MIN_S = 2 * HOUR_S
_NAME_BAD = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass
class CallFigure:
    """Calls from one service to another, per visit of the caller."""

    to: str
    calls: int
    per_visit: float
    order: float  # mean position of its first call among the caller's callees


@dataclass
class ServiceFigures:
    name: str
    label: str  # the name as the telemetry spelled it
    visits: int
    time_kind: str  # what the times are: "own time", "request time", "latency histogram"
    own_ms: np.ndarray | None = None
    # (upper edge ms, requests in the bucket), non-cumulative; the last edge may be inf.
    histogram: tuple[tuple[float, float], ...] | None = None
    histogram_sum_ms: float = 0.0  # the histograms' _sum: their exact mean with the count
    calls: list[CallFigure] = field(default_factory=list)
    multi_call_visits: int = 0  # visits with at least two callees
    parallel_visits: int = 0  # of those, visits whose callees overlapped
    concurrency_max: int | None = None
    concurrency_mean: float = math.nan
    errors: int = 0
    operations: Counter[str] = field(default_factory=Counter)
    #: Mean wait for a worker (ms) left out of the own times; nan when no span marked one.
    wait_ms: float = math.nan

    @property
    def parallel(self) -> bool:
        return self.multi_call_visits > 0 and self.parallel_visits * 2 > self.multi_call_visits

    @property
    def error_probability(self) -> float:
        return self.errors / self.visits if self.visits else 0.0


@dataclass
class ClassFigure:
    name: str
    label: str
    entry: str
    count: int


@dataclass
class Derived:
    source: str  # "traces", "access-log", "prometheus"
    requests: int
    window_s: float
    rate_per_s: float
    rate_basis: str
    classes: list[ClassFigure]
    services: dict[str, ServiceFigures]
    entry: str
    profile: tuple[float, ...] | None = None
    period_s: float | None = None
    end_to_end_ms: np.ndarray | None = None
    end_to_end_histogram: tuple[tuple[float, float], ...] | None = None
    end_to_end_mean_ms: float = math.nan  # a histogram's exact mean (_sum / _count)
    notes: list[str] = field(default_factory=list)


def model_name(label: str, taken: set[str] | None = None, prefix: str = "x") -> str:
    """A name scaleplan accepts (letters, digits, ``_``, ``-``; a letter first), unique in
    ``taken`` (which it joins).

    >>> model_name("GET /item/{id}")
    'GET-item-id'
    >>> model_name("9lives")
    'x9lives'
    """
    name = _NAME_BAD.sub("-", label).strip("-") or prefix
    if not name[0].isalpha():
        name = prefix + name
    if taken is not None:
        base, n = name, 2
        while name in taken:
            name, n = f"{base}-{n}", n + 1
        taken.add(name)
    return name


def derive(
    telemetry: Telemetry,
    *,
    skew_tolerance_ms: float = DEFAULT_SKEW_TOLERANCE_MS,
    rate_per_s: float | None = None,
    file: str = "<telemetry>",
) -> Derived:
    """The model's figures from what the readers found (one kind of telemetry at a time)."""
    kinds = [
        kind
        for kind, found in (
            ("traces", telemetry.spans),
            ("access-log", telemetry.requests),
            ("prometheus", telemetry.histograms),
        )
        if found
    ]
    if not kinds:
        reasons = "; ".join(telemetry.skipped_lines()) or "no records"
        raise bad_input(file, f"nothing usable was read ({reasons})")
    if len(kinds) > 1:
        raise bad_input(
            file,
            f"mixes kinds of telemetry ({' and '.join(kinds)}): calibrate from one kind at a time",
        )
    if kinds[0] == "traces":
        traces = build_traces(telemetry.spans, telemetry, skew_tolerance_ms=skew_tolerance_ms)
        if not traces:
            reasons = "; ".join(telemetry.skipped_lines())
            raise bad_input(file, f"no complete trace is left to calibrate from ({reasons})")
        derived = from_traces(traces)
    elif kinds[0] == "access-log":
        derived = from_requests(telemetry.requests)
    else:
        derived = from_histograms(telemetry.histograms, rate_per_s, file)
    if rate_per_s is not None:
        derived.rate_per_s = rate_per_s
        derived.rate_basis = "given (--rate-per-s)"
    if not derived.rate_per_s > 0 or not math.isfinite(derived.rate_per_s):
        raise bad_input(
            file,
            f"the arrival rate cannot be measured ({derived.rate_basis}): give it (--rate-per-s)",
        )
    return derived


# --------------------------------------------------------------------------- rate and profile


def _rate(times_s: np.ndarray, resolution_s: float = 0.0) -> tuple[float, float, str]:
    """Arrivals per second over the observed span: (n − 1) / (last − first) for exact times;
    with times known to ``resolution_s`` (a log's whole seconds) n / (last − first + it)."""
    n = len(times_s)
    window = float(times_s.max() - times_s.min()) if n else 0.0
    if resolution_s > 0:
        window += resolution_s
        return n / window, window, f"{n:,} requests over {window:,.1f} s"
    if n < 2 or window <= 0:
        return math.nan, window, f"{n} request(s) at one instant"
    return (n - 1) / window, window, f"{n:,} requests over {window:,.1f} s"


def hourly_profile(times_s: np.ndarray) -> tuple[tuple[float, ...], float] | None:
    """Relative hourly rates, or None when the data spans less than two hours.

    A day or more is folded onto the hours of the day (UTC), period one day; less is the
    observed hours in turn, period their length. Each slice is its arrivals per second of
    observed time, so a partly observed hour is not undercounted.
    """
    if len(times_s) < 2:
        return None
    first, last = float(times_s.min()), float(times_s.max())
    if last - first < PROFILE_MIN_S:
        return None
    if last - first >= DAY_S:
        slices, period = 24, DAY_S
        index = ((times_s % DAY_S) // HOUR_S).astype(int)
        covered = np.zeros(slices)
        # Seconds observed at each hour of the day over [first, last].
        edges = np.arange(math.floor(first / HOUR_S) * HOUR_S, last + HOUR_S, HOUR_S)
        for start in edges:
            seconds = min(start + HOUR_S, last) - max(start, first)
            if seconds > 0:
                covered[int((start % DAY_S) // HOUR_S)] += seconds
    else:
        slices = math.ceil((last - first) / HOUR_S)
        period = slices * HOUR_S
        index = np.minimum(((times_s - first) // HOUR_S).astype(int), slices - 1)
        covered = np.full(slices, HOUR_S)
        covered[-1] = (last - first) - (slices - 1) * HOUR_S or HOUR_S
    counts = np.bincount(index, minlength=slices).astype(float)
    rates = np.divide(counts, covered, out=np.zeros(slices), where=covered > 0)
    if not rates.any():
        return None
    mean = rates.mean()
    return tuple(round(float(r / mean), 4) for r in rates), period


# --------------------------------------------------------------------------- traces


def _concurrency(intervals: list[tuple[int, int]]) -> int:
    """The most intervals open at one instant (an end before a start at the same time)."""
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    best = level = 0
    for _, step in events:
        level += step
        best = max(best, level)
    return best


def from_traces(traces: list[Trace]) -> Derived:
    names: dict[str, str] = {}
    taken: set[str] = set()

    def name_of(service: str) -> str:
        if service not in names:
            names[service] = model_name(service, taken, prefix="s")
        return names[service]

    root_times = np.array([t.root.start_ns for t in traces], dtype=float) / 1e9
    rate, window, basis = _rate(root_times)
    first_ns = min(t.root.start_ns for t in traces)
    last_ns = max(t.root.end_ns for t in traces)
    observed_s = max((last_ns - first_ns) / 1e9, 1e-9)

    own: dict[str, list[float]] = defaultdict(list)
    waits: dict[str, list[float]] = defaultdict(list)
    intervals: dict[str, list[tuple[int, int]]] = defaultdict(list)
    calls: dict[str, Counter[str]] = defaultdict(Counter)
    order: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    figures: dict[str, ServiceFigures] = {}
    for trace in traces:
        for visit in trace.visits:
            service = name_of(visit.service)
            fig = figures.get(service)
            if fig is None:
                fig = figures[service] = ServiceFigures(service, visit.service, 0, "own time")
            fig.visits += 1
            fig.operations[visit.name] += 1
            fig.errors += visit.failed_itself
            own[service].append(visit.own_ns / 1e6)
            waits[service].append(visit.wait_ns / 1e6)
            intervals[service].append((visit.start_ns + visit.wait_ns, visit.end_ns))
            callees = sorted(visit.callees, key=lambda v: v.start_ns)
            seen: set[str] = set()
            for position, callee in enumerate(callees):
                target = name_of(callee.service)
                calls[service][target] += 1
                if target not in seen:
                    seen.add(target)
                    order[service][target].append(position)
            if len(callees) >= 2:
                fig.multi_call_visits += 1
                fig.parallel_visits += visit.parallel
    for service, fig in figures.items():
        fig.own_ms = np.asarray(own[service])
        if any(waits[service]):
            fig.wait_ms = float(np.mean(waits[service]))
        fig.concurrency_max = _concurrency(intervals[service])
        fig.concurrency_mean = sum(e - s for s, e in intervals[service]) / 1e9 / observed_s
        fig.calls = sorted(
            (
                CallFigure(to, count, count / fig.visits, float(np.mean(order[service][to])))
                for to, count in calls[service].items()
            ),
            key=lambda call: (call.order, call.to),
        )
    classes = _classes(
        [(name_of(t.root.service), t.root.name) for t in traces], taken_names=set(figures)
    )
    entry = Counter(name_of(t.root.service) for t in traces).most_common(1)[0][0]
    derived = Derived(
        source="traces",
        requests=len(traces),
        window_s=window,
        rate_per_s=rate,
        rate_basis=f"root spans: {basis}",
        classes=classes,
        services=figures,
        entry=entry,
        end_to_end_ms=np.array([t.root.duration_ns / 1e6 for t in traces]),
    )
    profile = hourly_profile(root_times)
    if profile is not None:
        derived.profile, derived.period_s = profile
    return derived


def _classes(roots: list[tuple[str, str]], taken_names: set[str]) -> list[ClassFigure]:
    counts = Counter(roots)
    taken: set[str] = set()
    found = []
    for (entry, label), count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        found.append(ClassFigure(model_name(label, taken, prefix="c"), label, entry, count))
    return found


# --------------------------------------------------------------------------- access logs


def from_requests(records: list[RequestRecord]) -> Derived:
    taken: set[str] = set()
    services: dict[str, ServiceFigures] = {}
    own: dict[str, list[float]] = defaultdict(list)
    for record in records:
        name = model_name(record.service, None, prefix="s")
        fig = services.get(name)
        if fig is None:
            name = model_name(record.service, taken, prefix="s")
            fig = services[name] = ServiceFigures(name, record.service, 0, "request time")
        fig.visits += 1
        fig.operations[record.route] += 1
        fig.errors += record.status >= 500
        own[name].append(record.duration_ms)
    times = np.array([r.time_s for r in records], dtype=float)
    rate, window, basis = _rate(times, resolution_s=1.0)
    for name, fig in services.items():
        fig.own_ms = np.asarray(own[name])
        # Little's law: requests in the server on average; the peak needs start times a
        # log does not have.
        fig.concurrency_mean = fig.visits / window * float(fig.own_ms.mean()) / 1000
    classes = _classes(
        [(model_name(r.service, None, prefix="s"), r.route) for r in records], set(services)
    )
    derived = Derived(
        source="access-log",
        requests=len(records),
        window_s=window,
        rate_per_s=rate,
        rate_basis=f"log lines: {basis} (whole-second timestamps)",
        classes=classes,
        services=services,
        entry=Counter(c.entry for c in classes for _ in range(c.count)).most_common(1)[0][0],
        end_to_end_ms=np.array([r.duration_ms for r in records]),
        notes=[
            "request times include any queueing inside the server: they are service times "
            "only at low load"
        ],
    )
    profile = hourly_profile(times)
    if profile is not None:
        derived.profile, derived.period_s = profile
    return derived


# --------------------------------------------------------------------------- Prometheus


def _series_delta(series: list[Histogram]) -> tuple[Histogram, float | None]:
    """The increase between the first and last scrape of one series, and the seconds between
    them (None with one scrape or no timestamps: the totals since the process started)."""
    ordered = sorted(series, key=lambda h: h.timestamp_s or 0.0)
    first, last = ordered[0], ordered[-1]
    if len(ordered) < 2 or first.timestamp_s is None or last.timestamp_s is None:
        return last, None
    if last.timestamp_s <= first.timestamp_s:
        return last, None
    firsts = dict(first.buckets)
    buckets = tuple((edge, count - firsts.get(edge, 0.0)) for edge, count in last.buckets)
    delta = Histogram(
        last.service,
        last.route,
        buckets,
        last.count - first.count,
        last.sum_ms - first.sum_ms,
        last.timestamp_s,
        last.where,
    )
    return delta, last.timestamp_s - first.timestamp_s


def _non_cumulative(buckets: tuple[tuple[float, float], ...]) -> list[tuple[float, float]]:
    found, below = [], 0.0
    for edge, cumulative in sorted(buckets):
        found.append((edge, max(cumulative - below, 0.0)))
        below = max(below, cumulative)
    return found


def from_histograms(histograms: list[Histogram], rate_per_s: float | None, file: str) -> Derived:
    by_series: dict[tuple[str, str], list[Histogram]] = defaultdict(list)
    for histogram in histograms:
        by_series[(histogram.service, histogram.route)].append(histogram)
    taken: set[str] = set()
    names: dict[str, str] = {}
    services: dict[str, ServiceFigures] = {}
    merged: dict[str, dict[float, float]] = defaultdict(lambda: defaultdict(float))
    total: dict[float, float] = defaultdict(float)
    class_counts: list[tuple[tuple[str, str], int]] = []
    spans: list[float] = []
    sums = 0.0
    for (service, route), series in sorted(by_series.items()):
        delta, seconds = _series_delta(series)
        if seconds is not None:
            spans.append(seconds)
        if service not in names:
            names[service] = model_name(service, taken, prefix="s")
        name = names[service]
        fig = services.get(name)
        if fig is None:
            fig = services[name] = ServiceFigures(name, service, 0, "latency histogram")
        count = round(delta.count)
        fig.visits += count
        fig.operations[route] += count
        sums += delta.sum_ms
        fig.histogram_sum_ms += delta.sum_ms
        for edge, in_bucket in _non_cumulative(delta.buckets):
            merged[name][edge] += in_bucket
            total[edge] += in_bucket
        class_counts.append(((name, route), count))
    requests = sum(count for _, count in class_counts)
    if requests == 0:
        raise bad_input(file, "the histograms counted no requests (every count is 0)")
    if spans:
        window = float(np.median(spans))
        rate, basis = (
            requests / window,
            f"histogram counts: {requests:,} requests over {window:,.1f} s between scrapes",
        )
    else:
        window, rate = math.nan, math.nan
        basis = "one scrape holds totals since the process started, not a rate"
    for name, fig in services.items():
        fig.histogram = tuple(sorted(merged[name].items()))
        # Little's law: requests in the server on average, when the rate is known.
        total_rate = rate if rate_per_s is None else rate_per_s
        if fig.visits and math.isfinite(total_rate):
            visits_per_s = total_rate * fig.visits / requests
            fig.concurrency_mean = visits_per_s * fig.histogram_sum_ms / fig.visits / 1000
    taken_classes: set[str] = set()
    classes = [
        ClassFigure(
            model_name(f"{entry}-{route}" if len(services) > 1 else route, taken_classes, "c"),
            f"{entry} {route}",
            entry,
            count,
        )
        for (entry, route), count in sorted(class_counts, key=lambda item: -item[1])
        if count > 0
    ]
    return Derived(
        source="prometheus",
        requests=requests,
        window_s=window,
        rate_per_s=rate if rate_per_s is None else rate_per_s,
        rate_basis=basis,
        classes=classes,
        services=services,
        entry=classes[0].entry,
        end_to_end_histogram=tuple(sorted(total.items())),
        end_to_end_mean_ms=sums / requests,
        notes=[
            "Prometheus histograms hold no call graph: a flat model, one service per "
            "service label, each route a class entering there",
            "latencies include any queueing inside the server: they are service times only "
            "at low load",
        ],
    )
