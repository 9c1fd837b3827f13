"""Streaming statistics for the engine: latency sketches, batch means, warm-up removal, CIs.

This module owns the numbers behind "Honest numbers" (docs/architecture.md):

- :class:`LogBins` and :class:`LatencySketch` — percentiles from a fixed-size, mergeable
  histogram with a known relative error (the DDSketch log mapping), so a run of any length
  needs the same memory;
- :func:`mser` and :func:`mser_batches` — MSER-m warm-up truncation (White 1997);
- :class:`BatchMeanSeries` — a bounded-memory record of consecutive batch means;
- :class:`MeanCI`, :func:`batch_means_ci`, :func:`replication_ci` — 95% intervals for a mean,
  and :func:`extra_observations_needed` to say how much longer a run would have to be;
- :func:`batch_quantile_ci` — 95% intervals for percentiles, by sectioning consecutive
  histograms (time buckets of one run, or one histogram per replication).

It does not own the simulation (``engine``), the time series shown in views, or the decision of
which interval to report; it only computes. Every function is vectorised with numpy: the engine
buffers observations and passes arrays of a few thousand values at a time.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy.special import stdtrit

__all__ = [
    "DEFAULT_BINS",
    "BatchMeanSeries",
    "LatencySketch",
    "LogBins",
    "MeanCI",
    "batch_means_ci",
    "batch_quantile_ci",
    "extra_observations_needed",
    "mser",
    "mser_batches",
    "proportion_ci",
    "replication_ci",
    "replication_quantile_ci",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def _as_float_array(values: npt.ArrayLike) -> FloatArray:
    return np.asarray(values, dtype=np.float64).ravel()


def _check_qs(qs: FloatArray) -> None:
    if qs.size and not (np.all(qs >= 0.0) and np.all(qs <= 1.0)):
        raise ValueError(f"quantiles must lie in [0, 1] (got {qs.tolist()})")


# --------------------------------------------------------------------------------------------
# Latency sketch
# --------------------------------------------------------------------------------------------


class LogBins:
    """Logarithmically spaced bins with a guaranteed relative accuracy (DDSketch mapping).

    With ``gamma = (1 + α) / (1 − α)``, bin ``j ≥ 1`` holds the values in
    ``(min_value · gamma**(j − 1), min_value · gamma**j]`` and is represented by
    ``min_value · 2 · gamma**j / (gamma + 1)``, which is within relative error α of every value
    in the bin. Two edge bins make the mapping total:

    - bin 0 holds every value ``≤ min_value`` (including 0) and is represented by ``min_value``;
    - values above ``max_value`` are clipped into the last bin, so for them the relative-error
      guarantee does not hold (:class:`LatencySketch` clamps its answers to the observed
      maximum, which keeps the top quantile exact).

    Parameters
    ----------
    relative_accuracy : float
        α, in (0, 1).
    min_value, max_value : float
        The range, ``0 < min_value < max_value``, over which the guarantee holds.

    Examples
    --------
    >>> bins = LogBins(relative_accuracy=0.01, min_value=1e-3, max_value=1e8)
    >>> bins.n_bins
    1268
    >>> values = np.array([0.0, 1e-3, 12.0, 5e9])
    >>> idx = bins.index(values)
    >>> idx.tolist()[:2], bool(idx[-1] == bins.n_bins - 1)
    ([0, 0], True)
    >>> bool(abs(bins.representative(idx[2:3])[0] - 12.0) <= 0.01 * 12.0)
    True
    """

    __slots__ = (
        "_log_gamma",
        "_log_min",
        "gamma",
        "max_value",
        "min_value",
        "n_bins",
        "relative_accuracy",
    )

    def __init__(
        self, relative_accuracy: float = 0.01, min_value: float = 1e-3, max_value: float = 1e8
    ) -> None:
        if not 0.0 < relative_accuracy < 1.0:
            raise ValueError(f"relative_accuracy must lie in (0, 1) (got {relative_accuracy})")
        if not 0.0 < min_value < max_value:
            raise ValueError(
                f"need 0 < min_value < max_value (got min_value={min_value}, max_value={max_value})"
            )
        self.relative_accuracy = float(relative_accuracy)
        self.min_value = float(min_value)
        self.max_value = float(max_value)
        self.gamma = (1.0 + relative_accuracy) / (1.0 - relative_accuracy)
        self._log_gamma = math.log(self.gamma)
        self._log_min = math.log(self.min_value)
        # Bin 0 is "≤ min_value"; bins 1..n_bins-1 reach up to the first edge ≥ max_value.
        self.n_bins = math.ceil(math.log(self.max_value / self.min_value) / self._log_gamma) + 1

    def __repr__(self) -> str:
        return (
            f"LogBins(relative_accuracy={self.relative_accuracy}, min_value={self.min_value}, "
            f"max_value={self.max_value})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LogBins):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def _key(self) -> tuple[float, float, float]:
        return (self.relative_accuracy, self.min_value, self.max_value)

    def index(self, values: npt.ArrayLike) -> IntArray:
        """Bin index of each value (0 for ``≤ min_value``, the last bin above ``max_value``).

        Raises
        ------
        ValueError
            If a value is NaN: it would otherwise land in an arbitrary bin.
        """
        v = _as_float_array(values)
        if np.isnan(v).any():
            raise ValueError("cannot bin NaN values")
        # np.maximum keeps log() away from 0 and negatives; those all belong to bin 0 anyway.
        log_ratio = np.log(np.maximum(v, self.min_value)) - self._log_min
        position = np.ceil(log_ratio / self._log_gamma)
        # Clip while still float: casting inf to int64 is undefined.
        return np.clip(position, 0, self.n_bins - 1).astype(np.int64)

    def representative(self, idx: npt.ArrayLike) -> FloatArray:
        """The value that stands for each bin: within relative error α of any value in it."""
        i = np.asarray(idx, dtype=np.float64)
        rep = self.min_value * 2.0 * np.exp(i * self._log_gamma) / (self.gamma + 1.0)
        return np.where(i <= 0, self.min_value, rep)

    def quantiles(self, counts: npt.ArrayLike, qs: Sequence[float] | npt.ArrayLike) -> FloatArray:
        """Quantiles of the values counted in ``counts`` (one count per bin).

        Uses DDSketch's lower-rank convention: the q-quantile of n values is the order statistic
        of (0-based) rank ``floor(q · (n − 1))``, as ``np.quantile(..., method="lower")``.
        Returns NaN for every q when the counts sum to 0.

        Examples
        --------
        >>> bins = LogBins(0.01)
        >>> counts = np.bincount(bins.index([1.0, 2.0, 3.0, 4.0]), minlength=bins.n_bins)
        >>> np.round(bins.quantiles(counts, [0.0, 0.5, 1.0]), 2)
        array([1.  , 2.02, 3.98])
        """
        c = np.asarray(counts)
        if c.shape != (self.n_bins,):
            raise ValueError(f"counts must have shape ({self.n_bins},) (got {c.shape})")
        q = _as_float_array(qs)
        _check_qs(q)
        cumulative = np.cumsum(c)
        total = cumulative[-1]
        if total <= 0:
            return np.full(q.shape, np.nan)
        rank = q * (total - 1)
        # The first bin whose cumulative count exceeds the rank holds order statistic floor(rank).
        idx = np.searchsorted(cumulative, rank, side="right")
        return self.representative(idx)


DEFAULT_BINS = LogBins(relative_accuracy=0.01, min_value=1e-3, max_value=1e8)
"""The bins every sketch shares unless told otherwise: 1% relative error from 1 µs to ~3 years
when values are in milliseconds, 1268 bins (about 10 kB of counts)."""


class LatencySketch:
    """A mergeable histogram over :class:`LogBins`: quantiles with relative error ≤ α.

    Memory is one int64 count per bin whatever the number of values. The exact count, sum,
    minimum and maximum are kept too: quantile 0 and 1 are exact, and the other quantiles are
    clamped to [minimum, maximum], which can only bring them closer to the truth.

    Parameters
    ----------
    bins : LogBins
        The bin layout; sketches can only be merged when their bins are equal.

    Examples
    --------
    >>> sketch = LatencySketch()
    >>> sketch.add_many(np.arange(1.0, 101.0))
    >>> sketch.count
    100
    >>> round(sketch.quantile(0.5), 1), sketch.quantile(1.0)
    (49.5, 100.0)
    >>> other = LatencySketch()
    >>> other.add_many([1000.0])
    >>> sketch.merge(other)
    >>> sketch.count, sketch.max
    (101, 1000.0)
    """

    __slots__ = ("_counts", "_max", "_min", "_sum", "bins")

    def __init__(self, bins: LogBins = DEFAULT_BINS) -> None:
        self.bins = bins
        self._counts = np.zeros(bins.n_bins, dtype=np.int64)
        self._sum = 0.0
        self._min = math.inf
        self._max = -math.inf

    def __repr__(self) -> str:
        return f"LatencySketch(count={self.count}, bins={self.bins!r})"

    def add_many(self, values: npt.ArrayLike) -> None:
        """Add observations (any shape; flattened). NaN raises ``ValueError``."""
        v = _as_float_array(values)
        if v.size == 0:
            return
        # bincount is O(len(v) + n_bins) and much faster than np.add.at for thousands of values.
        self._counts += np.bincount(self.bins.index(v), minlength=self.bins.n_bins)
        self._sum += float(v.sum())
        self._min = min(self._min, float(v.min()))
        self._max = max(self._max, float(v.max()))

    def merge(self, other: LatencySketch) -> None:
        """Add every observation of ``other`` to this sketch (``other`` is unchanged)."""
        if other.bins != self.bins:
            raise ValueError(
                f"cannot merge sketches with different bins ({self.bins!r} and {other.bins!r})"
            )
        self._counts += other._counts
        self._sum += other._sum
        self._min = min(self._min, other._min)
        self._max = max(self._max, other._max)

    @property
    def count(self) -> int:
        """Number of observations."""
        return int(self._counts.sum())

    @property
    def sum(self) -> float:
        """Exact sum of the observations."""
        return self._sum

    @property
    def mean(self) -> float:
        """Exact mean of the observations (NaN when empty)."""
        n = self.count
        return self._sum / n if n else math.nan

    @property
    def min(self) -> float:
        """Smallest observation (NaN when empty)."""
        return self._min if self.count else math.nan

    @property
    def max(self) -> float:
        """Largest observation (NaN when empty)."""
        return self._max if self.count else math.nan

    def quantiles(self, qs: Sequence[float] | npt.ArrayLike) -> FloatArray:
        """Quantiles by the lower-rank convention (see :meth:`LogBins.quantiles`); NaN if empty."""
        q = _as_float_array(qs)
        estimates = self.bins.quantiles(self._counts, q)
        if self.count == 0:
            return estimates
        estimates = np.clip(estimates, self._min, self._max)
        return np.where(q == 0.0, self._min, np.where(q == 1.0, self._max, estimates))

    def quantile(self, q: float) -> float:
        """One quantile; see :meth:`quantiles`."""
        return float(self.quantiles([q])[0])

    def to_counts(self) -> IntArray:
        """A copy of the per-bin counts (length ``bins.n_bins``)."""
        return self._counts.copy()


# --------------------------------------------------------------------------------------------
# Warm-up truncation
# --------------------------------------------------------------------------------------------


def mser_batches(
    batch_means: npt.ArrayLike, *, start: Literal["unknown", "lightest"] = "unknown"
) -> int:
    """MSER truncation point, in batches, of an already-batched series (White 1997).

    For each candidate ``d`` in ``[0, n // 2]`` the statistic is
    ``sum_{j ≥ d} (Z_j − mean_{j ≥ d})² / (n − d)²`` and the smallest minimiser is returned.
    Candidates that would leave fewer than 2 batches are skipped, because their statistic is
    trivially 0. Computed with reverse cumulative sums in O(n).

    ``start="lightest"`` is for a run known to start at its lightest state (empty queues,
    every replica up, warm caches): its only initial transient lies *below* the steady state,
    so a cut is allowed only where the deleted prefix's mean is below the rest's. Two-sided
    MSER also deletes a high excursion of the steady state itself (a long busy period early in
    a run at high load), and deleting it biases the mean and the percentiles low.

    Examples
    --------
    >>> mser_batches([9.0, 5.0, 1.0, 1.1, 0.9, 1.0, 1.05, 0.95])
    2
    >>> mser_batches([1.0, 1.0, 1.0, 1.0])
    0
    >>> mser_batches([9.0, 5.0, 1.0, 1.1, 0.9, 1.0, 1.05, 0.95], start="lightest")
    0
    >>> mser_batches([0.1, 0.5, 1.0, 1.1, 0.9, 1.0, 1.05, 0.95], start="lightest")
    2
    """
    if start not in ("unknown", "lightest"):
        raise ValueError(f"start must be 'unknown' or 'lightest' (got {start!r})")
    z = _as_float_array(batch_means)
    n = z.size
    if n < 3:
        return 0
    # Centring first makes S2 − S1²/m cancel far less; the statistic is shift-invariant.
    z = z - z.mean()
    last_d = min(n // 2, n - 2)
    tail_sum = np.cumsum(z[::-1])[::-1][: last_d + 1]
    tail_sq = np.cumsum((z * z)[::-1])[::-1][: last_d + 1]
    remaining = (n - np.arange(last_d + 1)).astype(np.float64)
    # Rounding can make a zero sum of squares slightly negative; it is a variance, so clip.
    squares = np.maximum(tail_sq - tail_sum * tail_sum / remaining, 0.0)
    statistic = squares / (remaining * remaining)
    if start == "lightest":
        # The deleted prefix's mean is −tail_sum/d (z is centred), the rest's tail_sum/(n−d).
        deleted = np.arange(last_d + 1, dtype=np.float64)
        prefix_mean = -tail_sum[1:] / deleted[1:]
        rest_mean = tail_sum[1:] / remaining[1:]
        statistic[1:][prefix_mean >= rest_mean] = np.inf
    return int(np.argmin(statistic))


def mser(series: npt.ArrayLike, batch_size: int = 5) -> int:
    """MSER-m warm-up truncation point, in observations (MSER-5 by default).

    The series is cut into non-overlapping batches of ``batch_size`` consecutive observations
    (an incomplete batch at the end is dropped), :func:`mser_batches` picks the number of
    batches ``d`` to delete, and ``d · batch_size`` is returned.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> series = np.r_[rng.normal(10.0, 1.0, 500), rng.normal(1.0, 1.0, 4500)]
    >>> mser(series)
    500
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1 (got {batch_size})")
    x = _as_float_array(series)
    n_batches = x.size // batch_size
    batch_means = x[: n_batches * batch_size].reshape(n_batches, batch_size).mean(axis=1)
    return mser_batches(batch_means) * batch_size


# --------------------------------------------------------------------------------------------
# Batch means
# --------------------------------------------------------------------------------------------


class BatchMeanSeries:
    """Consecutive batch means in bounded memory.

    Observations are summed in batches of ``batch_size`` consecutive values. When
    ``max_batches`` batches are complete, adjacent pairs are merged and the batch size doubles,
    so memory stays at ``3 · max_batches`` numbers however long the run. An incomplete batch at
    the end (the tail) is kept apart; it counts in :attr:`total_count` and :attr:`total_sum` but
    not in :attr:`means`.

    Parameters
    ----------
    base_batch_size : int
        Observations per batch before any merge.
    max_batches : int
        Complete batches kept at most (at least 2).

    Examples
    --------
    >>> series = BatchMeanSeries(base_batch_size=2, max_batches=4)
    >>> series.add_many(np.arange(1.0, 12.0), times=np.arange(1.0, 12.0))
    >>> series.batch_size, series.means.tolist(), series.end_times.tolist()
    (4, [2.5, 6.5], [4.0, 8.0])
    >>> series.total_count, series.total_sum
    (11, 66.0)
    """

    __slots__ = (
        "_batch_size",
        "_counts",
        "_end_times",
        "_n_full",
        "_sums",
        "_tail_count",
        "_tail_end",
        "_tail_sum",
        "base_batch_size",
        "max_batches",
    )

    def __init__(self, base_batch_size: int = 5, max_batches: int = 4096) -> None:
        if base_batch_size < 1:
            raise ValueError(f"base_batch_size must be at least 1 (got {base_batch_size})")
        if max_batches < 2:
            raise ValueError(f"max_batches must be at least 2 (got {max_batches})")
        self.base_batch_size = int(base_batch_size)
        self.max_batches = int(max_batches)
        self._batch_size = self.base_batch_size
        self._sums = np.zeros(self.max_batches)
        self._counts = np.zeros(self.max_batches, dtype=np.int64)
        self._end_times = np.zeros(self.max_batches)
        self._n_full = 0
        self._tail_sum = 0.0
        self._tail_count = 0
        self._tail_end = math.nan

    def __repr__(self) -> str:
        return (
            f"BatchMeanSeries(batch_size={self._batch_size}, batches={self._n_full}, "
            f"total_count={self.total_count})"
        )

    def add_many(self, values: npt.ArrayLike, times: npt.ArrayLike) -> None:
        """Record observations in the order they were made; ``times[i]`` is when ``values[i]``
        completed. The two arrays must have the same length."""
        v = _as_float_array(values)
        t = _as_float_array(times)
        if v.shape != t.shape:
            raise ValueError(f"values and times differ in length ({v.size} and {t.size})")
        n = v.size
        pos = 0
        while pos < n:
            size = self._batch_size
            need = size - self._tail_count
            if n - pos < need:
                self._tail_sum += float(v[pos:].sum())
                self._tail_count += n - pos
                self._tail_end = float(t[-1])
                return
            # Complete the tail batch.
            self._store(
                np.array([self._tail_sum + float(v[pos : pos + need].sum())]),
                np.array([float(t[pos + need - 1])]),
            )
            pos += need
            self._tail_sum, self._tail_count, self._tail_end = 0.0, 0, math.nan
            if self._n_full == self.max_batches:
                self._halve()
                continue
            # Then as many whole batches as fit before the next merge, in one vectorised step.
            whole = min((n - pos) // size, self.max_batches - self._n_full)
            if whole:
                block = v[pos : pos + whole * size].reshape(whole, size).sum(axis=1)
                ends = t[pos + size - 1 : pos + whole * size : size]
                self._store(block, ends)
                pos += whole * size
                if self._n_full == self.max_batches:
                    self._halve()

    def _store(self, sums: FloatArray, ends: FloatArray) -> None:
        k = self._n_full
        self._sums[k : k + sums.size] = sums
        self._counts[k : k + sums.size] = self._batch_size
        self._end_times[k : k + sums.size] = ends
        self._n_full += sums.size

    def _halve(self) -> None:
        """Merge adjacent pairs of complete batches; the batch size doubles."""
        n = self._n_full
        pairs = n // 2
        if n % 2:
            # The odd batch out becomes the start of the (now larger) tail; whatever was in the
            # tail follows it in time, so the tail's end time stays if it has one.
            if self._tail_count == 0:
                self._tail_end = float(self._end_times[n - 1])
            self._tail_sum += float(self._sums[n - 1])
            self._tail_count += int(self._counts[n - 1])
        self._sums[:pairs] = self._sums[: 2 * pairs].reshape(pairs, 2).sum(axis=1)
        self._counts[:pairs] = self._counts[: 2 * pairs].reshape(pairs, 2).sum(axis=1)
        self._end_times[:pairs] = self._end_times[1 : 2 * pairs : 2]
        self._n_full = pairs
        self._batch_size *= 2

    @property
    def batch_size(self) -> int:
        """Observations per complete batch now."""
        return self._batch_size

    @property
    def means(self) -> FloatArray:
        """Means of the complete batches, oldest first."""
        k = self._n_full
        return self._sums[:k] / self._counts[:k]

    @property
    def end_times(self) -> FloatArray:
        """Completion time of the last observation of each complete batch."""
        return self._end_times[: self._n_full].copy()

    @property
    def counts(self) -> IntArray:
        """Observations in each complete batch (all equal to :attr:`batch_size`)."""
        return self._counts[: self._n_full].copy()

    @property
    def total_count(self) -> int:
        """All observations recorded, the tail included."""
        return int(self._counts[: self._n_full].sum()) + self._tail_count

    @property
    def total_sum(self) -> float:
        """Sum of all observations recorded, the tail included."""
        return float(self._sums[: self._n_full].sum()) + self._tail_sum


# --------------------------------------------------------------------------------------------
# Confidence intervals
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MeanCI:
    """A confidence interval for a mean.

    Attributes
    ----------
    mean : float
        The point estimate.
    low, high : float
        The interval (NaN when it cannot be computed).
    half_width : float
        ``(high − low) / 2``.
    n : int
        How many values the Student-t interval was built on: groups of batches or replications.
    method : str
        How it was computed, e.g. ``"batch means (k=20)"`` or ``"replications (R=5)"``.
    """

    mean: float
    low: float
    high: float
    half_width: float
    n: int
    method: str

    def as_list(self) -> list[float]:
        """``[low, high]``, as the results record it (``mean_ci95``)."""
        return [self.low, self.high]


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1) (got {confidence})")


def _t_interval(center: float, values: FloatArray, confidence: float, method: str) -> MeanCI:
    k = values.size
    sem = float(values.std(ddof=1)) / math.sqrt(k)
    # stdtrit is scipy.stats.t.ppf's own computation, without importing scipy.stats (a second).
    half = float(stdtrit(k - 1, 0.5 + confidence / 2.0)) * sem
    return MeanCI(center, center - half, center + half, half, k, method)


def _lag1_autocorrelation(x: FloatArray) -> float:
    d = x - x.mean()
    denominator = float(d @ d)
    return float(d[:-1] @ d[1:]) / denominator if denominator > 0 else 0.0


_MAX_LAG1 = 0.2
_MIN_GROUPS = 10


def batch_means_ci(
    batch_means: npt.ArrayLike,
    counts: npt.ArrayLike | None = None,
    n_groups: int = 20,
    confidence: float = 0.95,
) -> MeanCI:
    """Confidence interval for a steady-state mean from consecutive batch means.

    The batches are regrouped into ``n_groups`` consecutive groups of nearly equal size (in
    observations when ``counts`` is given, else in batches), and a Student-t interval is put
    on the group means around the grand mean. If the group means still look correlated
    (lag-1 autocorrelation above 0.2) the number of groups is halved, not below 10, and the
    interval recomputed; ``method`` says so, and says when the correlation remained.

    Parameters
    ----------
    batch_means : array_like
        Consecutive batch means, warm-up already removed.
    counts : array_like, optional
        Observations in each batch; the means are weighted by them.
    n_groups : int
        Groups to start from (at most the number of batches).
    confidence : float
        Confidence level.

    Returns
    -------
    MeanCI
        With ``low = high = nan`` and method ``"too few batches"`` when fewer than 2 groups
        can be formed.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> ci = batch_means_ci(rng.normal(5.0, 1.0, 400))
    >>> ci.method, ci.n, [round(x, 2) for x in ci.as_list()]
    ('batch means (k=20)', 20, [4.85, 5.08])
    >>> batch_means_ci([3.0]).as_list()
    [nan, nan]
    """
    _check_confidence(confidence)
    if n_groups < 2:
        raise ValueError(f"n_groups must be at least 2 (got {n_groups})")
    z = _as_float_array(batch_means)
    w = np.ones_like(z) if counts is None else _as_float_array(counts)
    if w.shape != z.shape:
        raise ValueError(f"batch_means and counts differ in length ({z.size} and {w.size})")
    total_weight = float(w.sum())
    grand_mean = float(z @ w) / total_weight if total_weight > 0 else math.nan
    if z.size < 2:
        return MeanCI(grand_mean, math.nan, math.nan, math.nan, int(z.size), "too few batches")

    weighted_cumsum = np.cumsum(z * w)
    weight_cumsum = np.cumsum(w)

    def group_means(k: int) -> FloatArray:
        # Group g ends after the first batch whose cumulative weight reaches g/k of the total;
        # unique() drops empty groups that a single very heavy batch would otherwise create.
        targets = total_weight * np.arange(1, k + 1) / k
        # The slack absorbs rounding in the cumulative sums; the last group always ends last.
        ends = np.searchsorted(weight_cumsum, targets * (1 - 1e-12))
        ends[-1] = z.size - 1
        ends = np.unique(np.minimum(ends, z.size - 1))
        sums = np.diff(np.r_[0.0, weighted_cumsum[ends]])
        weights = np.diff(np.r_[0.0, weight_cumsum[ends]])
        return sums / weights

    k = min(n_groups, z.size)
    means = group_means(k)
    first_k, first_r1 = means.size, _lag1_autocorrelation(means)
    r1 = first_r1
    while means.size >= 3 and r1 > _MAX_LAG1 and means.size // 2 >= _MIN_GROUPS:
        means = group_means(means.size // 2)
        r1 = _lag1_autocorrelation(means)
    if means.size < 2:
        return MeanCI(grand_mean, math.nan, math.nan, math.nan, int(means.size), "too few batches")

    method = f"batch means (k={means.size})"
    if means.size != first_k:
        method = (
            f"batch means (k={means.size}; halved from k={first_k}, "
            f"lag-1 autocorrelation {first_r1:.2f})"
        )
    if means.size >= 3 and r1 > _MAX_LAG1:
        method = method[:-1] + (
            f"; lag-1 autocorrelation still {r1:.2f}, the interval may be too narrow)"
        )
    return _t_interval(grand_mean, means, confidence, method)


def replication_ci(values: Sequence[float] | npt.ArrayLike, confidence: float = 0.95) -> MeanCI:
    """Student-t confidence interval for a mean across independent replications.

    Examples
    --------
    >>> ci = replication_ci([10.0, 12.0, 11.0, 13.0, 9.0])
    >>> ci.method, ci.mean, [round(x, 3) for x in ci.as_list()]
    ('replications (R=5)', 11.0, [9.037, 12.963])
    """
    _check_confidence(confidence)
    x = _as_float_array(values)
    mean = float(x.mean()) if x.size else math.nan
    if x.size < 2:
        return MeanCI(mean, math.nan, math.nan, math.nan, int(x.size), "too few replications")
    return _t_interval(mean, x, confidence, f"replications (R={x.size})")


def proportion_ci(ci: MeanCI, trials: int, confidence: float = 0.95) -> MeanCI:
    """A share's interval kept inside [0, 1]: Wilson's score interval at the effective size.

    ``ci`` is a Student-t interval of a proportion (over replications or batch means), which
    can reach below 0 or above 1. Its standard error ``se = half_width / t`` gives the
    effective number of independent trials ``n = p(1 − p) / se²`` (the design effect of
    correlated outcomes, as bursts of errors are), capped at the real ``trials`` so that the
    interval is never narrower than the binomial one; Wilson's score interval at that ``n``
    with the same multiplier ``t`` replaces it. Far from 0 and 1 it is about as wide as ``ci``;
    near them it is asymmetric and stays inside [0, 1], always containing the estimate.

    Examples
    --------
    >>> ci = proportion_ci(MeanCI(0.002, -0.004, 0.008, 0.006, 2, "replications (R=2)"), 4000)
    >>> 0 <= ci.low <= 0.002 <= ci.high <= 1
    True
    """
    _check_confidence(confidence)
    p = ci.mean
    if not (math.isfinite(p) and math.isfinite(ci.half_width)) or ci.n < 2 or trials < 1:
        low = min(max(ci.low, 0.0), 1.0) if math.isfinite(ci.low) else ci.low
        high = min(max(ci.high, 0.0), 1.0) if math.isfinite(ci.high) else ci.high
        return MeanCI(p, low, high, ci.half_width, ci.n, ci.method)
    p = min(max(p, 0.0), 1.0)
    z = float(stdtrit(ci.n - 1, 0.5 + confidence / 2.0))
    se = ci.half_width / z
    n = float(trials) if se <= 0 else min(float(trials), p * (1 - p) / se**2)
    n = max(n, 1.0)
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    low, high = max(0.0, min(centre - half, p)), min(1.0, max(centre + half, p))
    method = f"{ci.method}; Wilson score interval at {n:,.0f} effective trials"
    return MeanCI(p, low, high, (high - low) / 2, ci.n, method)


DEFAULT_QUANTILE_BATCHES = 20
"""Sections a run's histograms are grouped into for a percentile's interval. Twenty keeps
the t quantile near its limit (2.09 for 19 degrees of freedom, against 1.96) while each
section still holds 1/20 of the run (a p99 of a 100,000-request run rests on about 50
values above it per section); fewer sections widened the intervals without better coverage
in the M/M/1 and M/M/c checks (tests/test_percentile_ci.py)."""


def batch_quantile_ci(
    hists: npt.ArrayLike,
    qs: Sequence[float] | npt.ArrayLike,
    *,
    bins: LogBins = DEFAULT_BINS,
    n_batches: int = DEFAULT_QUANTILE_BATCHES,
    confidence: float = 0.95,
) -> list[MeanCI]:
    """Confidence intervals for quantiles from consecutive histograms, by sectioning.

    ``hists`` holds one histogram over ``bins`` per row, rows in time order: the time buckets
    of one run's measured window (grouped here into ``n_batches`` contiguous sections of
    nearly equal counts), or one row per independent replication (pass ``n_batches`` ≥ the
    rows: each row is then a section). Each interval is centred on the quantile ``Q`` of all
    rows together, the estimate the results report, and is the hull of two intervals built
    on the k sections:

    - **sectioning** (Schmeiser 1982; Nakayama 2014): ``Q ± t(k − 1) · S / √k`` with
      ``S² = Σ (Q_i − Q)² / (k − 1)`` over the sections' quantiles ``Q_i``. Measuring the
      spread about ``Q`` rather than the sections' average lets the sections' small-sample
      bias widen the interval instead of shifting it;
    - **the inverted distribution function**: ``F(x)``, the share of values ≤ x, is a mean
      of indicators, so batch means over the sections give its standard error ``SE`` where
      it crosses q (at the bin holding ``Q``); the quantile's interval runs from where the
      overall ``F`` passes ``q − t·SE`` to where it passes ``q + t·SE`` (the order-statistic
      interval, with the batch-means variance in place of ``q(1 − q)/n``). It is linear in
      the counts and its variance is that of the indicator at the quantile itself, so it
      stays honest when a tail's values come in clusters (a queue's rare long excursions)
      that leave the sections' quantiles far from normal and a run that saw few of them
      with a small spread — where sectioning alone covered M/M/1's p99 at ρ = 0.9 only
      14–16 times in 20 (50,000–100,000 requests).

    The ends are then moved out to the edges of their bins (a factor ``1 ± α``): the sketch
    knows a value only to its bin. Memory is that of the histograms: no observation is kept.
    Sections must be long compared with the correlation time of the values, as for batch
    means.

    Parameters
    ----------
    hists : array_like, shape (rows, bins.n_bins)
        Counts per bin of consecutive sections.
    qs : sequence of float
        Quantiles in [0, 1].
    bins : LogBins
        The bins the counts are over.
    n_batches : int
        Sections to group the rows into (at least 2; fewer when there are fewer non-empty rows).
    confidence : float
        Confidence level.

    Returns
    -------
    list of MeanCI
        One per q: ``mean`` the overall quantile, ``n`` the sections used, ``half_width``
        half the interval's length; ``low = high = nan`` (method ``"too few sections"``)
        with fewer than 2 non-empty sections.

    Examples
    --------
    >>> rng = np.random.default_rng(3)
    >>> values = rng.exponential(10.0, size=(20, 5000))  # exact p99: 10·ln 100 ≈ 46.05
    >>> hists = [np.bincount(DEFAULT_BINS.index(row), minlength=DEFAULT_BINS.n_bins)
    ...          for row in values]
    >>> (ci,) = batch_quantile_ci(hists, [0.99])
    >>> ci.method, ci.n, round(ci.low, 1), round(ci.mean, 1), round(ci.high, 1)
    ('sectioning (k=20)', 20, 44.4, 45.7, 47.1)
    >>> batch_quantile_ci(hists[:1], [0.5])[0].as_list()
    [nan, nan]
    """
    _check_confidence(confidence)
    if n_batches < 2:
        raise ValueError(f"n_batches must be at least 2 (got {n_batches})")
    h = np.asarray(hists, dtype=np.int64)
    if h.ndim != 2 or h.shape[1] != bins.n_bins:
        raise ValueError(f"hists must have shape (rows, {bins.n_bins}) (got {h.shape})")
    q = _as_float_array(qs)
    _check_qs(q)
    overall = bins.quantiles(h.sum(axis=0), q)
    nonempty = h[h.sum(axis=1) > 0]
    if nonempty.shape[0] < 2:
        return [
            MeanCI(float(v), math.nan, math.nan, math.nan, 0, "too few sections") for v in overall
        ]
    sections = _sections(nonempty, min(n_batches, nonempty.shape[0]))
    k = sections.shape[0]
    t = _t_quantile(confidence, k - 1)
    cumulative = np.cumsum(sections, axis=1)
    sizes = cumulative[:, -1].astype(np.float64)
    # Sectioning: the spread of the sections' quantiles about the overall one. A section's
    # quantile is in the first bin whose cumulative count exceeds its rank (as LogBins.quantiles).
    ranks = q[None, :] * (sizes[:, None] - 1.0)
    first_bins = np.array(
        [
            np.searchsorted(row, rank, side="right")
            for row, rank in zip(cumulative, ranks, strict=True)
        ]
    )
    per_section = bins.representative(first_bins)
    half = t * np.sqrt(((per_section - overall) ** 2).sum(axis=0) / (k - 1) / k)
    # The distribution function at each bin's upper edge: weighted batch means over sections,
    # and the standard error of that mean.
    weights = sizes / sizes.sum()
    cdfs = cumulative / sizes[:, None]
    cdf = weights @ cdfs
    cdf_se = np.sqrt((weights @ (cdfs - cdf) ** 2) / (k - 1))
    total = cumulative.sum(axis=0)
    top = int(np.nonzero(np.diff(np.r_[0, total]))[0][-1])
    # The bin holding each overall quantile (as LogBins.quantiles finds it).
    at = np.searchsorted(total, q * (total[-1] - 1), side="right")
    alpha = bins.relative_accuracy
    cis = []
    for level, centre, width, j in zip(q, overall, half, at, strict=True):
        # F's standard error where it crosses q (the larger of the two edges of that bin),
        # in probability units; the quantile's interval is where F crosses q ∓ t·SE.
        prob_half = t * float(max(cdf_se[j], cdf_se[j - 1] if j > 0 else 0.0))
        low_bin = int(np.argmax(cdf > level - prob_half))
        above = cdf > level + prob_half
        high_bin = int(np.argmax(above)) if above.any() else top
        low_edge, high_edge = bins.representative([low_bin, high_bin])
        low = float(min(centre - width, low_edge)) / (1.0 + alpha)
        high = float(max(centre + width, high_edge)) / (1.0 - alpha)
        cis.append(MeanCI(float(centre), low, high, (high - low) / 2, k, f"sectioning (k={k})"))
    return cis


def sample_quantile_ci(
    values: npt.ArrayLike,
    qs: Sequence[float] | npt.ArrayLike,
    *,
    n_batches: int = DEFAULT_QUANTILE_BATCHES,
    confidence: float = 0.95,
) -> list[MeanCI]:
    """:func:`batch_quantile_ci` of values kept in time order (a window's latencies): the
    values are cut into ``n_batches`` consecutive sections, each counted over
    :data:`DEFAULT_BINS`.

    Examples
    --------
    >>> values = np.random.default_rng(3).exponential(10.0, 100_000)  # exact p99 ≈ 46.05
    >>> (ci,) = sample_quantile_ci(values, [0.99])
    >>> ci.low <= 46.05 <= ci.high
    True
    """
    x = _as_float_array(values)
    hists = [
        np.bincount(DEFAULT_BINS.index(section), minlength=DEFAULT_BINS.n_bins)
        for section in np.array_split(x, max(1, min(n_batches, x.size)))
    ]
    return batch_quantile_ci(hists, qs, n_batches=n_batches, confidence=confidence)


@functools.lru_cache(maxsize=256)
def _t_quantile(confidence: float, dof: int) -> float:
    """The two-sided Student-t quantile (cached: the engine asks for the same few)."""
    return float(stdtrit(dof, 0.5 + confidence / 2.0))


def _sections(rows: IntArray, k: int) -> IntArray:
    """``rows`` summed into ``k`` contiguous groups of nearly equal total counts."""
    counts = rows.sum(axis=1)
    cumulative = np.cumsum(counts)
    # Each row goes to the group its middle falls in: equal rows split exactly k ways.
    group = np.minimum((k * (cumulative - counts / 2) / cumulative[-1]).astype(np.int64), k - 1)
    starts = np.r_[0, np.nonzero(np.diff(group))[0] + 1]
    return np.add.reduceat(rows, starts, axis=0)


def replication_quantile_ci(
    values: Sequence[float] | npt.ArrayLike,
    bins: LogBins = DEFAULT_BINS,
    confidence: float = 0.95,
) -> MeanCI:
    """Student-t interval across replications for a percentile read off the sketch.

    Each value is a bin's representative, known only to its bin: a value ``v`` stands for
    anything in ``[v / (1 + α), v / (1 − α)]``. Replications that land in one bin have no
    spread at all, and a plain t-interval over them would have zero width, so the ends move
    out to the edges of their bins, as :func:`batch_quantile_ci`'s do.

    Examples
    --------
    >>> ci = replication_quantile_ci([101.76, 101.76, 101.76])
    >>> [round(x, 2) for x in ci.as_list()]
    [100.75, 102.79]
    """
    ci = replication_ci(values, confidence)
    if not (math.isfinite(ci.low) and math.isfinite(ci.high)):
        return ci
    alpha = bins.relative_accuracy
    low, high = ci.low / (1.0 + alpha), ci.high / (1.0 - alpha)
    method = f"{ci.method}, to the sketch's bins"
    return MeanCI(ci.mean, low, high, (high - low) / 2.0, ci.n, method)


def extra_observations_needed(ci: MeanCI, bound: float, n_observations: int) -> int | None:
    """Further observations after which the interval would no longer contain ``bound``.

    Assumes the half-width shrinks as ``1 / sqrt(n)`` (and ignores the small change in the
    t quantile): the smallest total ``N`` with ``half_width · sqrt(n / N) < |mean − bound|``,
    minus the ``n_observations`` already made. Returns 0 when the interval already excludes
    ``bound``, and None when ``mean == bound`` (no run length separates them) or the interval
    is undefined.

    Examples
    --------
    >>> ci = MeanCI(mean=10.0, low=8.0, high=12.0, half_width=2.0, n=20, method="batch means")
    >>> extra_observations_needed(ci, bound=11.0, n_observations=100)
    301
    >>> extra_observations_needed(ci, bound=13.0, n_observations=100)
    0
    >>> extra_observations_needed(ci, bound=10.0, n_observations=100) is None
    True
    """
    gap = abs(ci.mean - bound)
    if gap == 0.0 or math.isnan(gap) or math.isnan(ci.half_width):
        return None
    if ci.half_width < gap:
        return 0
    total = math.floor(n_observations * (ci.half_width / gap) ** 2) + 1
    return max(0, total - n_observations)
