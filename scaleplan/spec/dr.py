"""Backups, disaster recovery and their objectives: the ``data/dr/*.yaml`` files.

A DR file describes one product's data and the recovery strategies under consideration; it is
its own document (not a key of a scenario file) because the same data and backups are weighed
against several strategies, independently of the candidate architectures of a scenario:

.. code-block:: yaml

    title: Online shop orders database
    data: {size_gb: 400, writes_per_s: 40, record_kb: 2, growth_percent_per_month: 8}
    backups:                        # periodic full backups to another region
      interval: 24h                 # one every day …
      duration: {mean: 40min, cv: 0.3}   # … usable once it completes
      retention_days: 30
      restore_gb_per_h: 250
      failure_probability: 0.02     # a backup that fails is skipped
      pitr: {archive_interval: 5min, replay_gb_per_h: 60}   # point-in-time recovery
    replication: {lag: {mean: 2s, cv: 1.5}}   # asynchronous, to the standby region
    detection: {mean: 5min, cv: 0.5}          # noticing the disaster and deciding to fail over
    strategies:
      - {name: backup-restore, kind: backup_restore, provision: 45min, switch: 5min}
      - {name: pilot-light, kind: pilot_light, promotion: 5min, provision: 20min, switch: 5min,
         cost_per_month: 350}
    disasters: {count: 10000, per_year: 0.2}
    nfrs: {rpo: {max: 15min, percentile: p99}, rto: {max: 4h, percentile: p99}}
    retention: {days: 730, horizon_months: 24, per_gb_month: 0.023}
    costs: {backup_per_gb_month: 0.023}

A duration is a string (``"30s"``, ``"5min"``, ``"2h"``: a constant) or a mapping
``{mean: 5min, cv: 0.5}`` (lognormal with that coefficient of variation; ``cv: 0`` is constant).
This module only describes; :func:`scaleplan.experiments.dr.recovery` simulates the disasters.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import (
    ConfigDict,
    Field,
    PositiveInt,
    ValidationError,
    model_validator,
)

from scaleplan.errors import Problem, SpecError
from scaleplan.spec.architecture import parse_duration_s, read_yaml, validation_problems
from scaleplan.spec.base import (
    MAX_DISASTERS,
    MAX_HORIZON_MONTHS,
    Amount,
    Days,
    GrowthPercent,
    NonNegativeRate,
    PositiveAmount,
    PositiveSeconds,
    Seconds,
    Seed,
    StrictModel,
)

__all__ = [
    "BackupSpec",
    "DRCostSpec",
    "DRNFRSpec",
    "DRSpec",
    "DataSpec",
    "DisasterSpec",
    "DurationSpec",
    "PITRSpec",
    "RecoveryObjective",
    "ReplicationSpec",
    "RetentionPlanSpec",
    "StrategySpec",
    "load_dr",
    "parse_dr",
]

StrategyKind = Literal["backup_restore", "pilot_light", "warm_standby", "active_active"]
STRATEGY_KINDS: tuple[str, ...] = ("backup_restore", "pilot_light", "warm_standby", "active_active")


def _seconds(value: Any) -> Any:
    """A duration string (``"5min"``) as seconds; numbers are taken as seconds already."""
    if isinstance(value, str):
        return parse_duration_s(value)
    return value


class DurationSpec(StrictModel):
    """A random duration in seconds: constant (``cv: 0``) or lognormal with mean and cv.

    Written as a string (``"5min"``: constant), a number of seconds, or a mapping
    ``{mean: 5min, cv: 0.5}``.

    Examples
    --------
    >>> DurationSpec.model_validate("5min").mean_s
    300.0
    >>> import numpy as np
    >>> d = DurationSpec.model_validate({"mean": "1h", "cv": 0.5})
    >>> bool(abs(d.sample(np.random.default_rng(1), 20000).mean() / 3600 - 1) < 0.02)
    True
    """

    mean_s: Seconds = Field(alias="mean")
    cv: float = Field(default=0.0, ge=0, le=100)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return {"mean": _seconds(value), "cv": 0.0}
        if isinstance(value, dict):
            value = dict(value)
            for key in ("mean", "mean_s"):
                if key in value:
                    value[key] = _seconds(value[key])
        return value

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` draws, in seconds."""
        if self.cv == 0 or self.mean_s == 0:
            return np.full(n, self.mean_s)
        sigma2 = math.log1p(self.cv**2)
        mu = math.log(self.mean_s) - sigma2 / 2
        return rng.lognormal(mu, math.sqrt(sigma2), n)

    def describe(self) -> str:
        text = _minutes(self.mean_s)
        return text if self.cv == 0 else f"{text} (cv {self.cv:g})"


def _minutes(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:g}h"
    if seconds >= 60:
        return f"{seconds / 60:g}min"
    return f"{seconds:g}s"


ZERO = DurationSpec(mean_s=0.0)


class DataSpec(StrictModel):
    """The data at risk: how much there is, and how fast it is written."""

    size_gb: PositiveAmount = Field(description="what a restore has to bring back")
    writes_per_s: NonNegativeRate = Field(default=0.0, description="records written per second")
    record_kb: PositiveAmount = 1.0
    growth_percent_per_month: GrowthPercent = 0.0

    @property
    def write_gb_per_s(self) -> float:
        return self.writes_per_s * self.record_kb / 1e6


class PITRSpec(StrictModel):
    """Point-in-time recovery: the write log is archived every ``archive_interval`` and replayed
    on top of the last full backup at ``replay_gb_per_h``."""

    archive_interval_s: PositiveSeconds = Field(alias="archive_interval")
    replay_gb_per_h: PositiveAmount

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _durations(cls, value: Any) -> Any:
        if isinstance(value, dict) and "archive_interval" in value:
            value = {**value, "archive_interval": _seconds(value["archive_interval"])}
        return value


class BackupSpec(StrictModel):
    """Periodic full backups: one starts every ``interval`` and covers the data as of its start;
    it can be restored from once it completes (after ``duration``), unless it failed."""

    interval_s: PositiveSeconds = Field(alias="interval")
    duration: DurationSpec = ZERO
    retention_days: Days = 30.0
    restore_gb_per_h: PositiveAmount
    failure_probability: float = Field(default=0.0, ge=0, lt=1)
    pitr: PITRSpec | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _durations(cls, value: Any) -> Any:
        if isinstance(value, dict) and "interval" in value:
            value = {**value, "interval": _seconds(value["interval"])}
        return value

    @property
    def kept(self) -> int:
        """Full backups held at once under the retention."""
        return max(1, math.ceil(self.retention_days * 86_400 / self.interval_s))


class ReplicationSpec(StrictModel):
    """Asynchronous replication to the standby site: the standby trails by ``lag``."""

    lag: DurationSpec


class StrategySpec(StrictModel):
    """One DR strategy: how data survives (backups or replication) and the steps to recover.

    RTO = detection + provision + promotion + restore (backup_restore: size ÷ restore rate,
    plus log replay with PITR) + switch. Defaults by ``kind``: ``backup_restore`` restores from
    backups; the others keep an asynchronously replicated copy (``replication: sync`` for no
    loss at the price of write latency).
    """

    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]*$")
    kind: StrategyKind
    detection: DurationSpec | None = Field(
        default=None, description="defaults to the file's detection"
    )
    provision: DurationSpec = Field(default=ZERO, description="infrastructure / scale-up")
    promotion: DurationSpec = Field(default=ZERO, description="replica promoted to primary")
    switch: DurationSpec = Field(default=ZERO, description="DNS or traffic switch")
    replication: Literal["none", "async", "sync"] | None = None
    cost_per_month: Amount = Field(default=0.0, description="the standby's running cost")
    description: str = ""

    @property
    def replication_mode(self) -> str:
        if self.replication is not None:
            return self.replication
        return "none" if self.kind == "backup_restore" else "async"

    @property
    def restores_from_backup(self) -> bool:
        return self.replication_mode == "none"


class DisasterSpec(StrictModel):
    """How many disasters to simulate, and how often one strikes (for downtime per year)."""

    count: PositiveInt = Field(default=10_000, le=MAX_DISASTERS)
    per_year: NonNegativeRate = Field(default=0.1, description="site losses a year")


class RecoveryObjective(StrictModel):
    """An upper bound on a recovery figure: ``{max: 15min, percentile: p99}``."""

    max_s: PositiveSeconds = Field(alias="max")
    percentile: Literal["mean", "p50", "p90", "p99", "max"] = "p99"

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _durations(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"max": _seconds(value)}
        if isinstance(value, dict) and "max" in value:
            value = {**value, "max": _seconds(value["max"])}
        return value

    def describe(self, name: str) -> str:
        return f"{name} {self.percentile}<={_minutes(self.max_s)}"


class DRNFRSpec(StrictModel):
    """The recovery point and recovery time objectives."""

    rpo: RecoveryObjective | None = None
    rto: RecoveryObjective | None = None


class RetentionPlanSpec(StrictModel):
    """Data kept for ``days``: storage follows the write rate, record size and growth."""

    days: Days
    horizon_months: int = Field(default=24, ge=1, le=MAX_HORIZON_MONTHS)
    per_gb_month: Amount = 0.0
    max_storage_gb: PositiveAmount | None = None


class DRCostSpec(StrictModel):
    currency: str = "USD"
    backup_per_gb_month: Amount = Field(default=0.0, description="backup and log-archive storage")


class DRSpec(StrictModel):
    """One DR study (see the module docstring for the keys)."""

    title: str = Field(min_length=1, description="the study, in a line")
    description: str = Field(default="", description="the data and what its loss costs, in words")
    data: DataSpec
    backups: BackupSpec | None = None
    replication: ReplicationSpec | None = None
    detection: DurationSpec = Field(default_factory=lambda: DurationSpec(mean_s=300.0, cv=0.5))
    strategies: tuple[StrategySpec, ...] = Field(min_length=1)
    disasters: DisasterSpec = DisasterSpec()
    nfrs: DRNFRSpec = DRNFRSpec()
    retention: RetentionPlanSpec | None = None
    costs: DRCostSpec = Field(default=DRCostSpec(), description="the currency and storage prices")
    seed: Seed = Field(default=1, description="one seed gives identical output")

    @model_validator(mode="after")
    def _strategies_have_their_data(self) -> DRSpec:
        names: set[str] = set()
        for strategy in self.strategies:
            if strategy.name in names:
                raise ValueError(f"two strategies are called {strategy.name!r}")
            names.add(strategy.name)
            mode = strategy.replication_mode
            if mode == "async" and self.replication is None:
                raise ValueError(
                    f"strategy {strategy.name!r} replicates asynchronously: give 'replication' "
                    "(its lag)"
                )
            if mode == "none" and self.backups is None:
                raise ValueError(
                    f"strategy {strategy.name!r} restores from backups: give 'backups'"
                )
        return self


def load_dr(path: str | Path) -> DRSpec:
    """Read and validate a DR file, with the file, line and key path of every problem.

    Examples
    --------
    >>> from pathlib import Path
    >>> import scaleplan
    >>> root = Path(scaleplan.__file__).parent.parent
    >>> spec = load_dr(root / "data/dr/online-shop-dr.yaml")
    >>> [s.kind for s in spec.strategies]
    ['backup_restore', 'pilot_light', 'warm_standby', 'active_active']
    """
    path = Path(path)
    data, lines = read_yaml(path)
    return parse_dr(data, source=path.name, lines=lines)


def parse_dr(
    data: Any, *, source: str = "<memory>", lines: dict[tuple[str | int, ...], int] | None = None
) -> DRSpec:
    """Validate already-parsed data (a dict as from YAML) into a :class:`DRSpec`."""
    if not isinstance(data, dict):
        found = "nothing" if data is None else type(data).__name__
        raise SpecError([Problem(source, "", f"must be a mapping of keys (got {found})")])
    try:
        return DRSpec.model_validate(data)
    except ValidationError as error:
        raise SpecError(
            validation_problems(error, data, source, lines or {}, root=DRSpec)
        ) from None
