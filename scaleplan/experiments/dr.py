"""Backups and disaster recovery: RPO and RTO distributions per strategy, by Monte Carlo.

This module owns :func:`recovery` and its :class:`RecoveryResult`. It reads a
:class:`~scaleplan.spec.dr.DRSpec` (``data/dr/*.yaml``) and simulates many disasters — the
loss of the primary site at a random moment — against the same backup schedule, replication
and recovery steps for every strategy (common random numbers: the disasters, the backups, the
replication lag and the shared detection delays are the same draws for all strategies).

The model of one disaster, striking a uniform time into a backup interval (each disaster
draws a backup history of its own, so the disasters are independent samples and their
Student-t and order-statistic intervals are honest):

- **Backups** start every ``interval``; a backup holds the data as of its start and can be
  restored from once it completes (its ``duration`` is drawn per backup), unless it failed
  (``failure_probability``). Restoring from backups loses everything written since the start
  of the last completed, successful backup: with instant, reliable backups every ``T`` the loss
  is uniform on ``[0, T]``.
- **Point-in-time recovery** archives the write log every ``archive_interval``: the loss is
  then the time since the last archive, and the restore replays the log written since the
  base backup at ``replay_gb_per_h``.
- **Asynchronous replication** loses the replication lag at the moment of the disaster (drawn
  from its distribution); synchronous replication loses nothing.
- **RTO** = detection + provision + promotion + restore (size ÷ restore rate, plus replay) +
  traffic switch, each step drawn from its distribution.

Results per strategy: the RPO and RTO distributions (mean with a CI, p50/p90/p99 with
distribution-free order-statistic CIs, max), the mean of each recovery step, the cost per
month (the standby plus backup storage), the expected downtime and data loss per year from
the disaster rate, and verdicts against the RPO/RTO objectives — pass only when the CI of the
objective's statistic clears the bound. Data retention (storage growth under the write rate,
record size, growth and retention, and its cost) is computed in closed form.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import special

from scaleplan.engine.streams import generator
from scaleplan.experiments._common import clean
from scaleplan.experiments.nfr import Verdict, _decide
from scaleplan.metrics import MeanCI, replication_ci
from scaleplan.progress import Progress
from scaleplan.spec.dr import DRSpec, RecoveryObjective, StrategySpec

__all__ = [
    "DistributionSummary",
    "RecoveryResult",
    "RetentionMonth",
    "StrategyOutcome",
    "backup_loss_s",
    "recovery",
    "retention_growth",
]

QUANTILES = 101  # points of each distribution kept for the figures
SECONDS_PER_MONTH = 30 * 86_400.0
STEPS = ("detection", "provision", "promotion", "restore", "replay", "switch")


# --------------------------------------------------------------------------- summaries


def _binomial_quantile(prob: float, n: int, p: float) -> int:
    """The smallest k with P(Binomial(n, p) ≤ k) ≥ ``prob`` (``scipy.stats.binom.ppf``, equal
    to it on every n up to 3,000 and quantile tested; without importing scipy.stats, a second
    of start-up for every command and record kernel)."""
    guess = float(special.bdtrik(prob, n, p))  # the continuous inverse: a start near k
    k = min(n, max(0, math.floor(guess) - 1)) if math.isfinite(guess) else 0
    while k > 0 and special.bdtr(k - 1, n, p) >= prob:
        k -= 1
    while k < n and special.bdtr(k, n, p) < prob:
        k += 1
    return k


def _quantile_ci(sorted_values: np.ndarray, q: float) -> tuple[float, float]:
    """Distribution-free 95% CI of the q-quantile from order statistics (binomial ranks)."""
    n = len(sorted_values)
    low = _binomial_quantile(0.025, n, q) - 1
    high = _binomial_quantile(0.975, n, q)
    if low < 0 or high >= n:
        return math.nan, math.nan
    return float(sorted_values[low]), float(sorted_values[high])


@dataclass(frozen=True)
class DistributionSummary:
    """A distribution of seconds over the simulated disasters.

    ``p*_ci95`` are distribution-free (order-statistic) intervals; ``mean_ci95`` a Student-t
    interval; ``quantiles`` the values at 0%, 1%, … 100% for plotting the distribution.
    """

    count: int
    mean: float
    mean_ci95: tuple[float, float]
    p50: float
    p50_ci95: tuple[float, float]
    p90: float
    p90_ci95: tuple[float, float]
    p99: float
    p99_ci95: tuple[float, float]
    max: float
    quantiles: tuple[float, ...]
    # Every simulated value, when asked for (``recovery(..., keep_samples=True)``); left out
    # of ``to_dict``.
    samples: tuple[float, ...] = field(default=(), repr=False, compare=False)

    @classmethod
    def of(cls, values: np.ndarray, keep: bool = False) -> DistributionSummary:
        ordered = np.sort(np.asarray(values, dtype=float))
        ci = replication_ci(ordered) if len(ordered) > 1 else None
        percentiles: dict[str, Any] = {}
        for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99)):
            percentiles[name] = float(np.quantile(ordered, q))
            percentiles[f"{name}_ci95"] = _quantile_ci(ordered, q)
        return cls(
            count=len(ordered),
            mean=float(ordered.mean()),
            mean_ci95=(ci.low, ci.high) if ci is not None else (math.nan, math.nan),
            max=float(ordered[-1]),
            quantiles=tuple(float(v) for v in np.quantile(ordered, np.linspace(0, 1, QUANTILES))),
            samples=tuple(float(v) for v in values) if keep else (),
            **percentiles,
        )

    def statistic(self, name: str) -> MeanCI:
        """The objective's statistic (``mean``, ``p50``, ``p90``, ``p99``, ``max``) with its CI."""
        if name == "mean":
            low, high = self.mean_ci95
            return MeanCI(self.mean, low, high, (high - low) / 2, self.count, "Student-t")
        if name == "max":
            return MeanCI(self.max, self.max, self.max, 0.0, self.count, f"largest of {self.count}")
        value = float(getattr(self, name))
        low, high = getattr(self, f"{name}_ci95")
        return MeanCI(value, low, high, (high - low) / 2, self.count, "order statistics")

    def to_dict(self) -> dict[str, Any]:
        return clean(
            {
                "count": self.count,
                "mean": self.mean,
                "mean_ci95": list(self.mean_ci95),
                "p50": self.p50,
                "p50_ci95": list(self.p50_ci95),
                "p90": self.p90,
                "p90_ci95": list(self.p90_ci95),
                "p99": self.p99,
                "p99_ci95": list(self.p99_ci95),
                "max": self.max,
                "quantiles": list(self.quantiles),
            }
        )


@dataclass(frozen=True)
class StrategyOutcome:
    """One strategy over all simulated disasters (times in seconds)."""

    name: str
    kind: str
    replication: str
    rpo_s: DistributionSummary
    rto_s: DistributionSummary
    steps_mean_s: dict[str, float]
    cost_per_month: float
    standby_cost_per_month: float
    backup_cost_per_month: float
    downtime_min_per_year: float
    records_lost_per_year: float
    verdicts: tuple[Verdict, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "replication": self.replication,
            "rpo_s": self.rpo_s.to_dict(),
            "rto_s": self.rto_s.to_dict(),
            "steps_mean_s": clean(self.steps_mean_s),
            "cost_per_month": clean(self.cost_per_month),
            "standby_cost_per_month": clean(self.standby_cost_per_month),
            "backup_cost_per_month": clean(self.backup_cost_per_month),
            "downtime_min_per_year": clean(self.downtime_min_per_year),
            "records_lost_per_year": clean(self.records_lost_per_year),
            "verdicts": [verdict.to_dict() for verdict in self.verdicts],
        }

    def record(self) -> dict[str, Any]:
        """One flat row: the headline figures in minutes, each percentile with the ends of its
        95% CI (``rpo_p99_min_low``, ``rpo_p99_min_high``, …)."""
        percentiles: dict[str, float] = {}
        for figure, summary in (("rpo", self.rpo_s), ("rto", self.rto_s)):
            for name in ("p50", "p99"):
                low, high = getattr(summary, f"{name}_ci95")
                percentiles[f"{figure}_{name}_min_low"] = low / 60
                percentiles[f"{figure}_{name}_min_high"] = high / 60
        return clean(
            {
                "strategy": self.name,
                "kind": self.kind,
                "replication": self.replication,
                "rpo_mean_min": self.rpo_s.mean / 60,
                "rpo_p50_min": self.rpo_s.p50 / 60,
                "rpo_p99_min": self.rpo_s.p99 / 60,
                "rpo_max_min": self.rpo_s.max / 60,
                "rto_mean_min": self.rto_s.mean / 60,
                "rto_p50_min": self.rto_s.p50 / 60,
                "rto_p99_min": self.rto_s.p99 / 60,
                "rto_max_min": self.rto_s.max / 60,
                **percentiles,
                "cost_per_month": self.cost_per_month,
                "downtime_min_per_year": self.downtime_min_per_year,
                "records_lost_per_year": self.records_lost_per_year,
                "verdicts": "; ".join(f"{v.nfr}: {v.status}" for v in self.verdicts),
            }
        )


@dataclass(frozen=True)
class RetentionMonth:
    """Storage held under the retention at the end of ``month``, and its monthly cost."""

    month: int
    writes_per_s: float
    stored_gb: float
    cost_per_month: float


@dataclass(frozen=True)
class RecoveryResult:
    """What :func:`recovery` measured: one :class:`StrategyOutcome` per strategy."""

    title: str
    seed: int
    disasters: int
    disasters_per_year: float
    currency: str
    strategies: tuple[StrategyOutcome, ...]
    backup_storage_gb: float
    retention: tuple[RetentionMonth, ...]
    retention_verdict: Verdict | None
    notes: tuple[str, ...] = ()

    def strategy(self, name: str) -> StrategyOutcome:
        for outcome in self.strategies:
            if outcome.name == name:
                return outcome
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (NaN written as ``null``)."""
        return {
            "title": self.title,
            "seed": self.seed,
            "disasters": self.disasters,
            "disasters_per_year": clean(self.disasters_per_year),
            "currency": self.currency,
            "strategies": [outcome.to_dict() for outcome in self.strategies],
            "backup_storage_gb": clean(self.backup_storage_gb),
            "retention": [clean(vars(month)) for month in self.retention],
            "retention_verdict": (
                self.retention_verdict.to_dict() if self.retention_verdict is not None else None
            ),
            "notes": list(self.notes),
        }

    def records(self) -> list[dict[str, Any]]:
        """One flat row per strategy."""
        return [outcome.record() for outcome in self.strategies]


# --------------------------------------------------------------------------- the model


def backup_loss_s(
    phase_s: np.ndarray,
    interval_s: float,
    durations_s: np.ndarray,
    succeeded: np.ndarray,
) -> np.ndarray:
    """Data lost (s) restoring from the last usable backup, one row per disaster.

    A disaster strikes ``phase_s`` after the start of the latest backup; column ``j`` of
    ``durations_s`` and ``succeeded`` describes the backup that started ``j`` intervals before
    that one. A backup is usable if it succeeded and completed before the disaster
    (``duration ≤ phase + j · interval``); the loss is ``phase + j · interval`` for the first
    usable one (or for the oldest column, if none is).

    Examples
    --------
    >>> import numpy as np
    >>> ok = np.ones((2, 3), bool)
    >>> backup_loss_s(np.array([5.0, 2.0]), 10.0, np.zeros((2, 3)), ok).tolist()
    [5.0, 2.0]
    >>> durations = np.array([[0.0, 0, 0], [3.0, 0, 0]])  # the second one is not done yet
    >>> backup_loss_s(np.array([5.0, 2.0]), 10.0, durations, ok).tolist()
    [5.0, 12.0]
    """
    lookback = durations_s.shape[1]
    ages = phase_s[:, None] + np.arange(lookback)[None, :] * interval_s
    usable = succeeded & (durations_s <= ages)
    first = np.where(usable.any(axis=1), usable.argmax(axis=1), lookback - 1)
    return ages[np.arange(len(phase_s)), first]


MAX_HISTORY_CELLS = 10_000_000  # disasters × backups looked back over, to bound the memory


def _lookback(failure_probability: float, duration_s: float, interval_s: float) -> int:
    """Backups to look back over so that running out of them has odds below 1e-12."""
    failing = (
        math.ceil(math.log(1e-12) / math.log(failure_probability)) if failure_probability else 1
    )
    return failing + math.ceil(10 * duration_s / interval_s) + 2


def _rng(seed: int, purpose: str) -> np.random.Generator:
    return generator(seed, 0, f"dr:{purpose}")


def recovery(
    spec: DRSpec,
    *,
    disasters: int | None = None,
    seed: int | None = None,
    keep_samples: bool = False,
    progress: Progress | None = None,
) -> RecoveryResult:
    """Simulate many disasters under each strategy of ``spec``: RPO, RTO, cost, verdicts.

    Parameters
    ----------
    spec : DRSpec
        The data, backups, replication and strategies (:func:`scaleplan.spec.dr.load_dr`).
    disasters : int, optional
        Disasters to simulate (default: the file's ``disasters.count``).
    seed : int, optional
        Default: the file's ``seed``. One seed gives identical results.
    keep_samples : bool
        Keep every simulated RPO and RTO (``DistributionSummary.samples``), e.g. for tests
        of their distribution.
    progress : callable, optional
        ``progress(done, total)`` after each strategy.

    Examples
    --------
    >>> from scaleplan.spec.dr import parse_dr
    >>> spec = parse_dr({"title": "t", "data": {"size_gb": 100},
    ...     "backups": {"interval": "24h", "restore_gb_per_h": 100},
    ...     "strategies": [{"name": "restore", "kind": "backup_restore"}]})
    >>> result = recovery(spec, disasters=20000)
    >>> round(result.strategy("restore").rpo_s.mean / 3600)  # about half of 24 hours
    12
    """
    count = int(disasters if disasters is not None else spec.disasters.count)
    if count < 2:
        raise ValueError(f"disasters must be at least 2 (got {count})")
    seed = spec.seed if seed is None else seed
    backups = spec.backups
    backup_loss = pitr_loss = replay_s = None
    notes: list[str] = []
    if backups is not None:
        # Every disaster gets a backup history of its own (independent draws), so that the
        # disasters are independent samples and the intervals below honest: a disaster strikes
        # a uniform time into the latest backup interval, and looks back over as many earlier
        # backups as it may need.
        interval = backups.interval_s
        phase = _rng(seed, "phase").uniform(0, interval, count)
        lookback = _lookback(backups.failure_probability, backups.duration.mean_s, interval)
        if lookback * count > MAX_HISTORY_CELLS:
            lookback = max(2, MAX_HISTORY_CELLS // count)
            notes.append(
                f"backups fail so often that the history was cut at {lookback} backups: the "
                "largest losses are understated"
            )
        durations = backups.duration.sample(
            _rng(seed, "backup-durations"), count * lookback
        ).reshape(count, lookback)
        succeeded = (
            _rng(seed, "backup-failures").random((count, lookback)) >= backups.failure_probability
        )
        backup_loss = backup_loss_s(phase, interval, durations, succeeded)
        if backups.pitr is not None:
            # The log is archived every archive interval, at a phase of its own.
            pitr_loss = _rng(seed, "archive-phase").uniform(
                0, backups.pitr.archive_interval_s, count
            )
            # Replay the log written between the base backup and the last archive.
            replay_gb = np.maximum(backup_loss - pitr_loss, 0.0) * spec.data.write_gb_per_s
            replay_s = replay_gb / backups.pitr.replay_gb_per_h * 3600
    lag = (
        spec.replication.lag.sample(_rng(seed, "replication-lag"), count)
        if spec.replication is not None
        else None
    )
    shared_detection = spec.detection.sample(_rng(seed, "detection"), count)
    outcomes = []
    backup_gb = _backup_storage_gb(spec)
    backup_cost = backup_gb * spec.costs.backup_per_gb_month
    for index, strategy in enumerate(spec.strategies):
        steps = _steps(spec, strategy, seed, count, shared_detection, replay_s)
        rto = np.sum([steps[name] for name in STEPS], axis=0)
        mode = strategy.replication_mode
        if mode == "sync":
            rpo = np.zeros(count)
        elif mode == "async":
            assert lag is not None  # checked when the spec was loaded
            rpo = lag
        else:
            assert backup_loss is not None
            rpo = np.minimum(pitr_loss, backup_loss) if pitr_loss is not None else backup_loss
        rpo_summary = DistributionSummary.of(rpo, keep_samples)
        rto_summary = DistributionSummary.of(rto, keep_samples)
        outcomes.append(
            StrategyOutcome(
                name=strategy.name,
                kind=strategy.kind,
                replication=mode,
                rpo_s=rpo_summary,
                rto_s=rto_summary,
                steps_mean_s={name: float(np.mean(steps[name])) for name in STEPS},
                cost_per_month=strategy.cost_per_month + backup_cost,
                standby_cost_per_month=strategy.cost_per_month,
                backup_cost_per_month=backup_cost,
                downtime_min_per_year=spec.disasters.per_year * rto_summary.mean / 60,
                records_lost_per_year=spec.disasters.per_year
                * rpo_summary.mean
                * spec.data.writes_per_s,
                verdicts=tuple(_verdicts(spec, rpo_summary, rto_summary, count)),
            )
        )
        if progress is not None:
            progress(index + 1, len(spec.strategies))
    retention = retention_growth(spec)
    retention_verdict = None
    plan = spec.retention
    if plan is not None and plan.max_storage_gb is not None and retention:
        last = retention[-1]
        point = MeanCI(last.stored_gb, last.stored_gb, last.stored_gb, 0.0, 1, "arithmetic")
        retention_verdict = _decide(
            f"retention {plan.days:g} days <= {plan.max_storage_gb:g}GB at month "
            f"{plan.horizon_months}",
            "retention",
            point,
            plan.max_storage_gb,
            "<=",
            "GB",
            None,
            f"{last.writes_per_s:.4g} writes/s × {spec.data.record_kb:g} kB × {plan.days:g} days",
        )
    if plan is not None and plan.max_storage_gb is not None:
        over = next((m for m in retention if m.stored_gb > plan.max_storage_gb), None)
        if over is not None:
            notes.append(
                f"retained data passes {plan.max_storage_gb:g} GB in month {over.month} "
                f"({over.stored_gb:,.0f} GB)"
            )
    if backups is not None and backups.duration.mean_s >= backups.interval_s:
        notes.append("backups last longer than their interval: they overlap")
    return RecoveryResult(
        title=spec.title,
        seed=seed,
        disasters=count,
        disasters_per_year=spec.disasters.per_year,
        currency=spec.costs.currency,
        strategies=tuple(outcomes),
        backup_storage_gb=backup_gb,
        retention=retention,
        retention_verdict=retention_verdict,
        notes=tuple(notes),
    )


def _steps(
    spec: DRSpec,
    strategy: StrategySpec,
    seed: int,
    count: int,
    shared_detection: np.ndarray,
    replay_s: np.ndarray | None,
) -> dict[str, np.ndarray]:
    """Seconds of each recovery step at each disaster."""

    def draw(purpose: str, duration: Any) -> np.ndarray:
        return np.asarray(duration.sample(_rng(seed, f"{strategy.name}:{purpose}"), count))

    detection = (
        shared_detection if strategy.detection is None else draw("detection", strategy.detection)
    )
    zeros = np.zeros(count)
    restore = replay = zeros
    if strategy.restores_from_backup:
        backups = spec.backups
        assert backups is not None  # checked when the spec was loaded
        restore = np.full(count, spec.data.size_gb / backups.restore_gb_per_h * 3600)
        if replay_s is not None:
            replay = replay_s
    return {
        "detection": detection,
        "provision": draw("provision", strategy.provision),
        "promotion": draw("promotion", strategy.promotion),
        "restore": restore,
        "replay": replay,
        "switch": draw("switch", strategy.switch),
    }


def _verdicts(
    spec: DRSpec, rpo: DistributionSummary, rto: DistributionSummary, count: int
) -> list[Verdict]:
    verdicts = []
    objectives: Sequence[tuple[str, RecoveryObjective | None, DistributionSummary]] = (
        ("RPO", spec.nfrs.rpo, rpo),
        ("RTO", spec.nfrs.rto, rto),
    )
    for name, objective, summary in objectives:
        if objective is None:
            continue
        statistic = summary.statistic(objective.percentile)
        minutes = MeanCI(
            statistic.mean / 60,
            statistic.low / 60,
            statistic.high / 60,
            statistic.half_width / 60,
            statistic.n,
            statistic.method,
        )
        verdicts.append(
            _decide(
                objective.describe(name),
                name.lower(),
                minutes,
                objective.max_s / 60,
                "<=",
                "min",
                None,
                f"{objective.percentile} over {count} simulated disasters ({statistic.method})",
            )
        )
    return verdicts


def _backup_storage_gb(spec: DRSpec) -> float:
    """Full backups kept under the retention, plus the archived write log if PITR."""
    backups = spec.backups
    if backups is None:
        return 0.0
    stored = backups.kept * spec.data.size_gb
    if backups.pitr is not None:
        stored += spec.data.write_gb_per_s * backups.retention_days * 86_400
    return stored


def retention_growth(spec: DRSpec) -> tuple[RetentionMonth, ...]:
    """Storage held under the retention at the end of each month, growth included.

    With writes growing by ``g`` a month (``w(t) = w₀ (1 + g)^{t/month}``, as before today
    too), the data kept at time ``t`` is ``∫_{t−D}^{t} w(u) du × record size`` for a retention
    of ``D``.

    Examples
    --------
    >>> from scaleplan.spec.dr import parse_dr
    >>> spec = parse_dr({"title": "t", "data": {"size_gb": 1, "writes_per_s": 10,
    ...     "record_kb": 1}, "retention": {"days": 30, "horizon_months": 1},
    ...     "replication": {"lag": "1s"}, "strategies": [{"name": "a", "kind": "warm_standby"}]})
    >>> [round(month.stored_gb, 3) for month in retention_growth(spec)]
    [25.92, 25.92]
    """
    plan = spec.retention
    if plan is None:
        return ()
    data = spec.data
    growth = data.growth_percent_per_month / 100
    beta = math.log1p(growth) / SECONDS_PER_MONTH
    keep_s = plan.days * 86_400
    rows = []
    for month in range(plan.horizon_months + 1):
        t = month * SECONDS_PER_MONTH
        rate = data.writes_per_s * math.exp(beta * t)
        if beta == 0:
            writes = data.writes_per_s * keep_s
        else:
            writes = data.writes_per_s * (math.exp(beta * t) - math.exp(beta * (t - keep_s))) / beta
        stored = writes * data.record_kb / 1e6
        rows.append(RetentionMonth(month, rate, stored, stored * plan.per_gb_month))
    return tuple(rows)
