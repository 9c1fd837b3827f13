"""Turns what the stations append during a run into bounded-memory statistics.

Stations append one tuple per visit to a plain list (the cheapest thing Python can do in the
hot path); every few thousand arrivals :meth:`Recorder.flush` folds those lists, vectorised,
into fixed-size arrays: per time bucket a latency histogram (:class:`~scaleplan.metrics.LogBins`,
1% relative error), counts and sums, plus consecutive batch means for the confidence interval
and the warm-up cut. Memory therefore depends on the number of components and time buckets,
never on the number of requests.

Time buckets are ``horizon / n_buckets`` wide; the run may go on past the horizon while it
drains, up to ``2 × horizon``, and anything later is clipped into the last bucket.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

from scaleplan.metrics import DEFAULT_BINS, BatchMeanSeries, LogBins

N_BUCKETS = 60
# (completion time, wait, own service, holding time, span) of one visit, in seconds
VisitRecord = tuple[float, float, float, float, float]


class LatencySeries:
    """Latencies (ms) of one thing — the system, a request class, a component — over time."""

    def __init__(self, n_buckets: int, inv_width: float, bins: LogBins = DEFAULT_BINS):
        self.bins = bins
        self.inv_width = inv_width
        self.n_buckets = n_buckets
        self.hist = np.zeros((n_buckets, bins.n_bins), dtype=np.int64)
        self.count = np.zeros(n_buckets, dtype=np.int64)
        self.sum_ms = np.zeros(n_buckets)
        self.batches = BatchMeanSeries(base_batch_size=5, max_batches=4096)

    def bucket_of(self, times: np.ndarray) -> np.ndarray:
        return np.minimum((times * self.inv_width).astype(np.int64), self.n_buckets - 1)

    def add(
        self, times: np.ndarray, values_ms: np.ndarray, buckets: np.ndarray | None = None
    ) -> None:
        if not len(times):
            return
        buckets = self.bucket_of(times) if buckets is None else buckets
        flat = buckets * self.bins.n_bins + self.bins.index(values_ms)
        np.add.at(self.hist.reshape(-1), flat, 1)
        self.count += np.bincount(buckets, minlength=self.n_buckets)
        self.sum_ms += np.bincount(buckets, weights=values_ms, minlength=self.n_buckets)
        self.batches.add_many(values_ms, times)


class StationSeries:
    """A component's per-bucket figures: its span latencies plus waits, holding and rejects."""

    def __init__(self, capacity: int, n_buckets: int, inv_width: float):
        self.capacity = capacity
        self.span = LatencySeries(n_buckets, inv_width)
        self.wait_s = np.zeros(n_buckets)
        self.held_s = np.zeros(n_buckets)
        self.rejects = np.zeros(n_buckets, dtype=np.int64)
        self.failures = np.zeros(n_buckets, dtype=np.int64)
        width = 1.0 / inv_width
        # Slot-seconds available per bucket, and mean replicas per bucket: constant unless
        # the component autoscales (see :meth:`scale`).
        self.capacity_s = np.full(n_buckets, capacity * width)
        self.replicas = np.zeros(n_buckets)
        self.kind = ""
        self.details: dict[str, Any] = {}
        # (time, replicas up) at each crash or repair, and how many replicas there are.
        self.up_log: list[tuple[float, int]] = []
        self.total_replicas = 0
        # (time, replicas) at each change of the replica count (autoscaling), from t = 0.
        self.replica_log: list[tuple[float, int]] = []

    def _spread(self, totals: np.ndarray, start: np.ndarray, end: np.ndarray) -> None:
        """Add the length of each interval [start, end] to the buckets it overlaps."""
        bucket_of = self.span.bucket_of
        first, last = bucket_of(start), bucket_of(end)
        within = first == last
        totals += np.bincount(first[within], weights=(end - start)[within], minlength=len(totals))
        if within.all():
            return
        # The intervals that cross a bucket edge, all at once: one (bucket, overlap) pair per
        # bucket each one overlaps, interval after interval. np.add.at adds them one at a time
        # in that order, so the totals are bit for bit those of a loop over the intervals.
        crossing = ~within
        low, high = start[crossing], end[crossing]
        a, b = first[crossing], last[crossing]
        spans = b - a + 1
        owner = np.repeat(np.arange(len(a)), spans)
        offsets = np.cumsum(spans) - spans
        bucket = a[owner] + (np.arange(len(owner)) - offsets[owner])
        width = 1.0 / self.span.inv_width
        edge_low = bucket.astype(np.float64) * width
        edge_high = (bucket + 1).astype(np.float64) * width
        interval_low, interval_high = low[owner], high[owner]
        overlap = np.minimum(edge_high, interval_high) - np.maximum(edge_low, interval_low)
        # The last bucket also absorbs anything past the end of the run.
        absorbs = (bucket == b[owner]) & (bucket == len(totals) - 1)
        overlap[absorbs] = interval_high[absorbs] - np.maximum(edge_low, interval_low)[absorbs]
        np.add.at(totals, bucket, np.clip(overlap, 0.0, None))

    def scale(self, log: list[tuple[float, int]], slots_per_replica: float, replicas: int) -> None:
        """Turn the log of (time, replicas) changes into per-bucket capacity and replicas."""
        n = len(self.capacity_s)
        width = 1.0 / self.span.inv_width
        if not log:
            self.replicas = np.full(n, float(replicas))
            return
        edges = np.arange(n + 1) * width
        times = np.array([t for t, _ in log] + [edges[-1]])
        counts = np.array([c for _, c in log], dtype=float)
        replica_seconds = np.zeros(n)
        for (start, end), count in zip(itertools.pairwise(times), counts, strict=True):
            overlap = np.clip(np.minimum(edges[1:], end) - np.maximum(edges[:-1], start), 0, None)
            replica_seconds += overlap * count
        self.replicas = replica_seconds / width
        self.capacity_s = replica_seconds * slots_per_replica

    def add(self, records: list[VisitRecord], rejects: list[float], failures: list[float]) -> None:
        if records:
            block = np.asarray(records)
            times = block[:, 0]
            arrived = times - block[:, 4]
            started = arrived + block[:, 1]
            # A wait and a holding time are spread over the buckets they overlap, so the
            # busy time in a window is exactly the busy time inside it (utilisation ≤ 1).
            self._spread(self.wait_s, arrived, started)
            self._spread(self.held_s, started, started + block[:, 3])
            self.span.add(times, block[:, 4] * 1e3)
        if rejects:
            self.rejects += np.bincount(
                self.span.bucket_of(np.asarray(rejects)), minlength=self.span.n_buckets
            )
        if failures:
            self.failures += np.bincount(
                self.span.bucket_of(np.asarray(failures)), minlength=self.span.n_buckets
            )


@dataclass
class Window:
    """The measured part of a run: whole buckets ``first`` … ``last - 1``."""

    first: int
    last: int
    width_s: float
    warmup_s: float

    @property
    def seconds(self) -> float:
        return (self.last - self.first) * self.width_s

    @property
    def start_s(self) -> float:
        return self.first * self.width_s

    @property
    def end_s(self) -> float:
        return self.last * self.width_s


class Recorder:
    """All the series of one replication."""

    def __init__(
        self,
        horizon_s: float,
        class_names: list[str],
        capacities: dict[str, int],
        n_buckets: int = N_BUCKETS,
    ):
        self.width_s = horizon_s / n_buckets
        inv_width = 1.0 / self.width_s
        total = 2 * n_buckets + 1  # room to drain past the horizon
        self.n_buckets = total
        self.system = LatencySeries(total, inv_width)
        self.classes = {name: LatencySeries(total, inv_width) for name in class_names}
        self.class_names = class_names
        self.stations = {
            name: StationSeries(capacity, total, inv_width) for name, capacity in capacities.items()
        }
        self.rejected = np.zeros(total, dtype=np.int64)
        self.failed = np.zeros(total, dtype=np.int64)
        self.arrivals = np.zeros(total, dtype=np.int64)

    def flush(
        self,
        completions: list[tuple[float, float, int]],
        unsuccessful: list[tuple[float, int]],
        arrival_times: list[float],
        stations: dict[str, tuple[list[VisitRecord], list[float], list[float]]],
    ) -> None:
        """Fold the raw lists into the series and empty them."""
        if completions:
            block = np.asarray(completions)
            times, latency_ms = block[:, 0], block[:, 1] * 1e3
            buckets = self.system.bucket_of(times)
            self.system.add(times, latency_ms, buckets)
            if len(self.class_names) > 1:
                class_index = block[:, 2].astype(np.int64)
                for index, name in enumerate(self.class_names):
                    mask = class_index == index
                    self.classes[name].add(times[mask], latency_ms[mask], buckets[mask])
            completions.clear()
        if unsuccessful:
            block = np.asarray(unsuccessful)
            buckets = self.system.bucket_of(block[:, 0])
            rejected = block[:, 1] == 1
            self.rejected += np.bincount(buckets[rejected], minlength=self.n_buckets)
            self.failed += np.bincount(buckets[~rejected], minlength=self.n_buckets)
            unsuccessful.clear()
        if arrival_times:
            self.arrivals += np.bincount(
                self.system.bucket_of(np.asarray(arrival_times)), minlength=self.n_buckets
            )
            arrival_times.clear()
        for name, (records, rejects, failures) in stations.items():
            self.stations[name].add(records, rejects, failures)
            records.clear()
            rejects.clear()
            failures.clear()
