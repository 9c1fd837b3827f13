"""Deployments and rollouts: what each strategy costs in capacity, errors and exposure.

This module owns :func:`deploy` and its :class:`RolloutResult`. A rollout is a set of SimPy
processes started in a running model through the engine's hooks
(:class:`~scaleplan.engine.HookContext`): they take replicas of one service out of rotation,
stop them, boot new ones and move traffic, exactly as the load balancers and health checks of
the engine see it. What it measures it gets as an observer of the run
(:class:`~scaleplan.engine.protocol.Observer`): each visit to the service, and each request
when it is done, with the versions that served it recorded on the request itself. Nothing in
the engine knows about deployments, and nothing of the engine is replaced.

Strategies (knobs in :class:`~scaleplan.spec.rollout.RolloutSpec`):

- **rolling** — ``batch_size`` replicas at a time leave the rotation, drain (at most
  ``drain_s``; what is still in flight then fails), restart on the new version and rejoin
  after ``boot_s``; capacity dips by the batch;
- **all_at_once** — every replica at once: the service is down for ``boot_s``;
- **blue_green** — a full second set boots on the new version, traffic moves to it over
  ``switch_s`` (both serve meanwhile), the old set stays idle for ``keep_old_s`` so that a
  rollback is a switch back; double capacity (and cost) while both run;
- **canary** — new-version replicas are added beside the old ones, enough for each traffic
  step (``ceil(share × n)``), and the load balancers weight them to get exactly that share;
  each step bakes for ``bake_s``; at 100% the old replicas leave.

The release is bad with ``bad_probability`` (drawn once per seed, so every strategy under the
same seed deploys the same release): its replicas fail an extra ``error_rate`` of requests
(:attr:`Replica.extra_error`) and serve ``latency_factor`` times slower (:attr:`Replica.slowdown`).
An automatic rollback (for every strategy) watches the new version's requests as an alert
would: over a sliding window, an error rate or a p99 (against the p99 before the deploy) past
its threshold, held for a pending period (``for_s``). The rollback during the deploy undoes it
the way it was done (a canary simply loses its weight); after the deploy it redeploys the old
version. Because detection takes about the same time whatever the strategy, what a strategy
changes is how much traffic the bad version gets meanwhile — the case for canaries.

Measured per run: deploy duration (to the end of any rollback), the in-rotation capacity
sampled at fine resolution (the dip), latency and failed requests during the deploy, the
detection time, the blast radius (the share of requests arriving since the deploy began that
reached a bad replica, and the share of active users who sent one) and the extra
replica-hours (the cost). Over several seeds, means with Student-t CIs; strategies are paired
by seed (common random numbers).
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy

from scaleplan.engine import HookContext, simulate
from scaleplan.engine.protocol import OK, Observer, Replica, Request, Station
from scaleplan.errors import SimulationError
from scaleplan.experiments._common import clean, hold_autoscaled
from scaleplan.kinds.load_balancer import LoadBalancerStation
from scaleplan.kinds.service import ServiceStation
from scaleplan.metrics import MeanCI, replication_ci, sample_quantile_ci
from scaleplan.progress import Progress
from scaleplan.result import SimulationResult
from scaleplan.runsize import check_rollout
from scaleplan.spec import ArchitectureSpec, LoadBalancerSpec, ServiceSpec
from scaleplan.spec.rollout import STRATEGIES, RolloutSpec

__all__ = ["RolloutResult", "RolloutRun", "StrategyResult", "default_component", "deploy"]

OLD, NEW = 0, 1
SAMPLE_S = 0.5  # resolution of the capacity samples
BASELINE_S = 60.0  # latency before the deploy, for the latency threshold
SERIES_BUCKETS = 120


def default_component(spec: ArchitectureSpec) -> str:
    """The service a rollout updates when none is named: the entry's only target behind a
    load balancer, the entry itself if it is a service, else the service with most replicas.

    Examples
    --------
    >>> from scaleplan.spec import example_spec
    >>> default_component(example_spec())
    'api'
    """
    entry = spec.components.get(spec.entry or "")
    if isinstance(entry, LoadBalancerSpec) and len(entry.to) == 1:
        target = entry.to[0].to
        if spec.components[target].kind == "service":
            return target
    if entry is not None and entry.kind == "service":
        return spec.entry or ""
    services = [
        (component.replicas, name)
        for name, component in spec.components.items()
        if isinstance(component, ServiceSpec) and component.kind == "service"
    ]
    if not services:
        raise SimulationError(f"{spec.name}: no service to roll out")
    return max(services)[1]


# --------------------------------------------------------------------------- the controller


@dataclass
class _Log:
    """What the observer and the sampler record during one run."""

    # per visit at the component: (done, latency s, version, ok)
    visits: list[tuple[float, float, int, bool]] = field(default_factory=list)
    # per system request: (arrived, latency s, ok, touched the bad version, user, id)
    requests: list[tuple[float, float, bool, bool, int, int]] = field(default_factory=list)
    # The requests whose work reached the bad version, by id: a queued job (it shares its
    # request's id) may reach it after its request was answered.
    touched_ids: set[int] = field(default_factory=set)
    # (time, replicas in rotation and up, replicas running incl. booting, new-version share)
    capacity: list[tuple[float, int, int]] = field(default_factory=list)


class _Rollout(Observer):
    """The deploy, its monitor and its measurements, inside one running model.

    It is made before the run; :meth:`attach` is the hook that reaches the model and starts
    the deploy's processes, and as an observer of the run it logs the component's visits
    (:meth:`on_served`) and every request's outcome (:meth:`on_request_done`). Whether a
    request reached the bad version is read from the request (the versions that served it),
    whatever SimPy process served it: a call with a timeout or a parallel call runs in a
    process of its own. A job a queue delivers is a request of its own (its publisher got its
    answer already): what a worker does with it does not count for the request's blast radius.
    """

    env: simpy.Environment
    station: ServiceStation

    def __init__(self, plan: RolloutSpec, component: str):
        self.plan = plan
        self.component = component
        self.share: float | None = None
        self.booting = 0
        self.exposed_at = math.nan
        self.detected_at = math.nan
        self.finished_at = math.nan
        self.deployed = False
        self.rolled_back = False
        self.bad = False
        self.log = _Log()
        # (done, ok, latency s) of the new version's visits within the monitor's window
        self.recent: deque[tuple[float, bool, float]] = deque()
        self.baseline_p99 = math.nan
        self._user_block: list[int] = []

    def attach(self, context: HookContext) -> None:
        """The hook: find the component and its balancers, draw the release, start the
        sampler, the deploy and the monitor."""
        self.env = context.env
        station = context.stations[self.component]
        assert isinstance(station, ServiceStation)
        self.station = station
        self.old = list(station.all_replicas)
        self.n = len(self.old)
        release = self.plan.release
        draw = float(context.streams("rollout:release").random())
        self.bad = release.bad if release.bad is not None else draw < release.bad_probability
        self.abort = self.env.event()
        self._users_rng = context.streams("rollout:users")
        self.balancers = [
            lb
            for lb in context.stations.values()
            if isinstance(lb, LoadBalancerStation)
            and any(target is station for target, _ in lb.targets)
        ]
        watched: list[Station] = [station]
        for lb in self.balancers:
            watched.extend(target for target, _ in lb.targets if target not in watched)
        for target in watched:
            target.listeners.append(self.reweight)
        self.env.process(self.sampler())
        self.env.process(self.run())
        self.env.process(self.monitor())

    # -- observation --------------------------------------------------------------------

    def _next_user(self) -> int:
        if not self._user_block:
            self._user_block = self._users_rng.integers(0, self.plan.users, 4096).tolist()
        return self._user_block.pop()

    def on_served(
        self,
        station: Station,
        replica: Replica,
        request: Request,
        version: int,
        status: int,
        arrived: float,
    ) -> None:
        if station is not self.station:
            return
        now = self.env.now
        ok = status == OK
        latency = now - arrived
        self.log.visits.append((now, latency, version, ok))
        if self.bad and version == NEW:
            self.log.touched_ids.add(request.id)
        if version == NEW:
            self.recent.append((now, ok, latency))

    def on_request_done(self, request: Request, status: int) -> None:
        now = self.env.now
        touched = self.bad and request.served_by(NEW)
        self.log.requests.append(
            (
                request.arrived,
                now - request.arrived,
                status == OK,
                touched,
                self._next_user(),
                request.id,
            )
        )

    def in_rotation(self) -> int:
        return sum(1 for replica in self.station.replicas if replica.up)

    def running(self) -> int:
        return sum(1 for replica in self.station.all_replicas if replica.up) + self.booting

    def new_share(self) -> float:
        replicas = self.station.replicas
        new = [r for r in replicas if r.version == NEW]
        if not new:
            return 0.0
        if self.share is not None and len(new) < len(replicas):
            return self.share
        return len(new) / len(replicas)

    def sample(self) -> None:
        self.log.capacity.append((self.env.now, self.in_rotation(), self.running()))

    def sampler(self) -> Generator[Any, Any, None]:
        while True:
            self.sample()
            yield self.env.timeout(SAMPLE_S)

    def reweight(self) -> None:
        """After any change of rotation: give the canary group exactly its traffic share."""
        self.sample()
        share = self.share
        station = self.station
        if share is None or not 0 < share < 1:  # one version only: the engine's equal weights
            return
        replicas = station.replicas
        new = [r for r in replicas if r.version == NEW]
        old = [r for r in replicas if r.version != NEW]
        if not new or not old:
            return
        weight = {
            id(r): share / len(new) if r.version == NEW else (1 - share) / len(old)
            for r in replicas
        }
        station.dispatch.resize([weight[id(r)] for r in replicas])
        for lb in self.balancers:
            if not lb.endpoints or lb.policy is None:
                continue
            targets = {id(target): w for target, w in lb.targets}
            weights = [
                targets[id(target)] * weight[id(replica)]
                if target is station
                else targets[id(target)]
                if replica is None  # a whole component is one endpoint (no replicas of its own)
                else targets[id(target)] / len(target.replicas)
                for target, replica in lb.endpoints
            ]
            lb.policy.resize(weights)

    # -- steps --------------------------------------------------------------------------

    def set_version(self, replica: Replica, version: int) -> None:
        release = self.plan.release
        bad = version == NEW and self.bad
        replica.version = version
        replica.extra_error = release.error_rate if bad else 0.0
        replica.slowdown = release.latency_factor if bad else 1.0

    def exposed(self) -> None:
        if math.isnan(self.exposed_at):
            self.exposed_at = self.env.now

    def wait(self, seconds: float, interruptible: bool = True) -> Any:
        timeout = self.env.timeout(seconds)
        return timeout | self.abort if interruptible else timeout

    def drain(self, replicas: Sequence[Replica]) -> Generator[Any, Any, None]:
        """Wait until the replicas are idle, at most ``drain_s``."""
        deadline = self.env.now + self.plan.drain_s
        step = max(min(0.05, self.plan.drain_s / 10), 1e-3)
        while self.env.now < deadline and any(r.busy or r.queue for r in replicas):
            yield self.env.timeout(min(step, deadline - self.env.now))

    def replace(self, batch: Sequence[Replica], version: int) -> Generator[Any, Any, None]:
        """Restart replicas in place on ``version``: out, drain, stop, boot, back in."""
        station = self.station
        for replica in batch:
            station.set_rotation(replica, False)
        yield from self.drain(batch)
        for replica in batch:
            if replica.up:
                station.crash(replica)  # stopped: whatever is still in flight fails
            self.set_version(replica, version)
        self.booting += len(batch)
        yield self.wait(self.plan.boot_s, interruptible=False)
        self.booting -= len(batch)
        if version == NEW and self.abort.triggered:
            # Rolled back while these were starting: they start on the old version instead
            # (the boot of a batch is not cut short, and the old image boots as fast).
            version = OLD
            for replica in batch:
                self.set_version(replica, OLD)
        for replica in batch:
            station.repair(replica)
            station.set_rotation(replica, True)
        if version == NEW:
            self.exposed()

    def in_place(self, targets: Sequence[Replica], version: int, batch_size: int) -> Any:
        done: list[Replica] = []
        for start in range(0, len(targets), batch_size):
            if version == NEW and self.abort.triggered:
                break
            batch = targets[start : start + batch_size]
            yield from self.replace(batch, version)
            done.extend(batch)
        return done

    def boot_set(self, count: int, version: int) -> Generator[Any, Any, list[Replica]]:
        """Start ``count`` new replicas (not yet in rotation) and wait for them to boot."""
        zones = [replica.zone for replica in self.old] or [""]
        fresh = [self.station.new_replica(zones[index % len(zones)]) for index in range(count)]
        for replica in fresh:
            self.set_version(replica, version)
        self.booting += count
        yield self.wait(self.plan.boot_s, interruptible=False)
        self.booting -= count
        self.station.all_replicas.extend(fresh)
        return fresh

    def retire(self, replicas: Sequence[Replica]) -> Generator[Any, Any, None]:
        station = self.station
        for replica in replicas:
            station.set_rotation(replica, False)
        yield from self.drain(replicas)
        for replica in replicas:
            if replica in station.all_replicas:
                station.all_replicas.remove(replica)
        self.sample()

    def switch(self, to: Sequence[Replica], away: Sequence[Replica]) -> Generator[Any, Any, None]:
        """Move traffic: both sets serve for ``switch_s``, then the old set leaves."""
        for replica in to:
            if replica.up:
                self.station.set_rotation(replica, True)
        if any(r.version == NEW for r in to):
            self.exposed()
        yield self.wait(self.plan.switch_s, interruptible=False)
        for replica in away:
            self.station.set_rotation(replica, False)

    # -- strategies ---------------------------------------------------------------------

    def run(self) -> Generator[Any, Any, None]:
        yield self.env.timeout(self.plan.start_s)
        self.baseline_p99 = self._baseline_p99()
        strategy = self.plan.strategy
        if strategy in ("rolling", "all_at_once"):
            size = self.plan.batch_size if strategy == "rolling" else self.n
            yield from self.in_place(self.old, NEW, size)
            if self.abort.triggered:
                self.rolled_back = True
                updated = [r for r in self.station.all_replicas if r.version == NEW]
                yield from self.in_place(updated, OLD, size)
        elif strategy == "blue_green":
            yield from self.blue_green()
        else:
            yield from self.canary()
        self.deployed = True
        self.finished_at = self.env.now

    def blue_green(self) -> Generator[Any, Any, None]:
        greens = yield from self.boot_set(self.n, NEW)
        yield from self.switch(greens, self.old)
        if not self.abort.triggered:
            yield self.wait(self.plan.keep_old_s)
        if self.abort.triggered:
            self.rolled_back = True
            yield from self.switch(self.old, greens)
            yield from self.retire(greens)
        else:
            yield from self.retire(self.old)

    def canary(self) -> Generator[Any, Any, None]:
        canaries: list[Replica] = []
        for share in self.plan.canary.steps:
            if self.abort.triggered:
                break
            need = min(self.n, math.ceil(share * self.n - 1e-9))
            if need > len(canaries):
                fresh = yield from self.boot_set(need - len(canaries), NEW)
                canaries.extend(fresh)
                self.share = share
                for replica in fresh:
                    self.station.set_rotation(replica, True)
            else:
                self.share = share
                self.reweight()
            self.exposed()
            if share >= 1.0:
                self.share = None
                for replica in self.old:
                    self.station.set_rotation(replica, False)
            if self.abort.triggered:
                break
            yield self.wait(self.plan.canary.bake_s)
        if self.abort.triggered:
            self.rolled_back = True
            for replica in self.old:
                if replica.up:
                    self.station.set_rotation(replica, True)
            self.share = None
            yield from self.retire(canaries)
        else:
            yield from self.retire(self.old)

    def late_rollback(self) -> Generator[Any, Any, None]:
        """The bad release was found after the deploy finished: put the old version back."""
        self.rolled_back = True
        self.finished_at = math.nan  # the deploy lasts until the old version is back
        strategy = self.plan.strategy
        updated = [r for r in self.station.all_replicas if r.version == NEW]
        if strategy in ("rolling", "all_at_once"):
            size = self.plan.batch_size if strategy == "rolling" else self.n
            yield from self.in_place(updated, OLD, size)
        else:  # a fresh set of the old version, then a switch
            olds = yield from self.boot_set(len(updated), OLD)
            yield from self.switch(olds, updated)
            yield from self.retire(updated)
        self.finished_at = self.env.now

    # -- the automatic rollback ---------------------------------------------------------

    def _baseline_p99(self) -> float:
        since = self.env.now - BASELINE_S
        latencies = [lat for done, lat, _, ok in self.log.visits if ok and done >= since]
        return float(np.quantile(latencies, 0.99)) if latencies else math.nan

    def breached(self) -> bool:
        """Whether the new version's last ``window_s`` crosses a threshold."""
        rule = self.plan.rollback
        assert rule is not None
        recent = self.recent
        since = self.env.now - rule.window_s
        while recent and recent[0][0] < since:
            recent.popleft()
        if len(recent) < rule.min_requests:
            return False
        if rule.max_error_rate is not None:
            failed = sum(1 for _, ok, _ in recent if not ok)
            if failed / len(recent) >= rule.max_error_rate:
                return True
        if rule.max_latency_ratio is not None and math.isfinite(self.baseline_p99):
            latencies = [latency for _, ok, latency in recent if ok]
            if latencies:
                p99 = float(np.quantile(latencies, 0.99))
                return p99 >= rule.max_latency_ratio * self.baseline_p99
        return False

    def monitor(self) -> Generator[Any, Any, None]:
        """Checks every ``check_interval_s``; rolls back once a breach has lasted ``for_s``
        (as an alert with a pending period does)."""
        rule = self.plan.rollback
        if rule is None:
            return
        breach_since = math.nan
        while True:
            yield self.env.timeout(rule.check_interval_s)
            if math.isnan(self.exposed_at) or self.rolled_back or self.abort.triggered:
                continue
            if not self.breached():
                breach_since = math.nan
                continue
            if math.isnan(breach_since):
                breach_since = self.env.now
            if self.env.now - breach_since >= rule.for_s:
                self.detected_at = self.env.now
                if self.deployed:
                    self.env.process(self.late_rollback())
                else:
                    self.abort.succeed()
                return


# --------------------------------------------------------------------------- results


#: What :func:`_latency_ms` gives.
LATENCY_FIGURES = ("mean", "p50", "p50_low", "p50_high", "p99", "p99_low", "p99_high")


def _latency_ms(latencies: Sequence[float]) -> dict[str, float]:
    """Mean, p50 and p99 of latencies in the order they came, each percentile with the ends
    of its 95% interval (``p99_low``, ``p99_high``: sectioning over the window,
    :func:`scaleplan.metrics.sample_quantile_ci`)."""
    if not latencies:
        return {name: math.nan for name in LATENCY_FIGURES}
    values = np.asarray(latencies) * 1e3
    p50, p99 = sample_quantile_ci(values, [0.5, 0.99])
    return {
        "mean": float(values.mean()),
        "p50": float(np.quantile(values, 0.5)),
        "p50_low": p50.low,
        "p50_high": p50.high,
        "p99": float(np.quantile(values, 0.99)),
        "p99_low": p99.low,
        "p99_high": p99.high,
    }


@dataclass(frozen=True)
class RolloutRun:
    """One strategy under one seed.

    Times are seconds of simulated time; ``min_capacity_share`` is the least in-rotation
    capacity (replicas up and in rotation) over the deploy as a share of the replicas before
    it; ``blast_radius`` the share of requests arriving since the deploy began that reached
    the bad version (0 for a good release); ``users_hit_share`` the share of users with a
    request since then who sent at least one such request.
    """

    strategy: str
    seed: int
    bad: bool
    rolled_back: bool
    start_s: float
    exposed_at_s: float
    detection_s: float
    deploy_duration_s: float
    min_capacity_share: float
    mean_capacity_share: float
    peak_replicas: int
    extra_replica_hours: float
    cost_per_deploy: float
    requests_during: int
    failed_during: int
    failed_total: int
    latency_before_ms: dict[str, float]
    latency_during_ms: dict[str, float]
    bad_visits: int
    blast_radius: float
    users_hit_share: float
    timeseries: dict[str, list[float]] = field(default_factory=dict)

    @property
    def error_rate_during(self) -> float:
        return self.failed_during / self.requests_during if self.requests_during else math.nan

    def to_dict(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["error_rate_during"] = self.error_rate_during
        return clean(data)

    def record(self) -> dict[str, Any]:
        row = self.to_dict()
        row.pop("timeseries")
        for key in ("latency_before_ms", "latency_during_ms"):
            for name, value in row.pop(key).items():
                # p99 → latency_during_p99_ms; p99_low → latency_during_p99_ms_low
                figure, _, end = name.partition("_")
                row[f"{key[:-3]}_{figure}_ms" + (f"_{end}" if end else "")] = value
        return row


def _ci(values: Sequence[float]) -> MeanCI:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return MeanCI(math.nan, math.nan, math.nan, math.nan, 0, "none")
    return replication_ci(finite)


def _ci_dict(ci: MeanCI) -> dict[str, Any]:
    return {"mean": clean(ci.mean), "ci95": [clean(ci.low), clean(ci.high)], "n": ci.n}


@dataclass(frozen=True)
class StrategyResult:
    """One strategy over all seeds: its runs and their means with CIs (over the runs where the
    figure exists: detection only where a bad release was caught)."""

    strategy: str
    runs: tuple[RolloutRun, ...]

    def ci(self, name: str) -> MeanCI:
        return _ci([float(getattr(run, name)) for run in self.runs])

    @property
    def min_capacity_share(self) -> float:
        return min(run.min_capacity_share for run in self.runs)

    @property
    def bad_runs(self) -> int:
        return sum(run.bad for run in self.runs)

    @property
    def rollbacks(self) -> int:
        return sum(run.rolled_back for run in self.runs)

    def summary(self) -> dict[str, Any]:
        figures = (
            "deploy_duration_s",
            "detection_s",
            "blast_radius",
            "users_hit_share",
            "failed_during",
            "error_rate_during",
            "mean_capacity_share",
            "extra_replica_hours",
            "cost_per_deploy",
        )
        summary: dict[str, Any] = {
            name: _ci_dict(_ci([float(getattr(run, name)) for run in self.runs]))
            for name in figures
        }
        summary["min_capacity_share"] = clean(self.min_capacity_share)
        summary["p99_during_ms"] = _ci_dict(
            _ci([run.latency_during_ms["p99"] for run in self.runs])
        )
        summary["p99_before_ms"] = _ci_dict(
            _ci([run.latency_before_ms["p99"] for run in self.runs])
        )
        summary["bad_runs"] = self.bad_runs
        summary["rollbacks"] = self.rollbacks
        return summary

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "summary": self.summary(),
            "runs": [run.to_dict() for run in self.runs],
        }


@dataclass(frozen=True)
class RolloutResult:
    """What :func:`deploy` measured: one :class:`StrategyResult` per strategy, paired by seed."""

    spec: str
    component: str
    replicas: int
    rate_per_s: float
    horizon_s: float
    seeds: tuple[int, ...]
    plan: dict[str, Any]
    strategies: tuple[StrategyResult, ...]
    deploys_per_month: float
    notes: tuple[str, ...] = ()

    def strategy(self, name: str) -> StrategyResult:
        for item in self.strategies:
            if item.strategy == name:
                return item
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (NaN written as ``null``)."""
        return {
            "spec": self.spec,
            "component": self.component,
            "replicas": self.replicas,
            "rate_per_s": clean(self.rate_per_s),
            "horizon_s": clean(self.horizon_s),
            "seeds": list(self.seeds),
            "plan": clean(self.plan),
            "deploys_per_month": clean(self.deploys_per_month),
            "strategies": [item.to_dict() for item in self.strategies],
            "notes": list(self.notes),
        }

    def records(self) -> list[dict[str, Any]]:
        """One flat row per strategy and seed."""
        return [run.record() for item in self.strategies for run in item.runs]


# --------------------------------------------------------------------------- the verb


def _measure(rollout: _Rollout, result: SimulationResult, seed: int, end_s: float) -> RolloutRun:
    plan = rollout.plan
    start = plan.start_s
    finished = rollout.finished_at if math.isfinite(rollout.finished_at) else end_s
    log = rollout.log
    during = [r for r in log.requests if start <= r[0] < finished]
    before = [r for r in log.requests if start - BASELINE_S <= r[0] < start]
    since = [r for r in log.requests if r[0] >= start]
    capacity = [(t, up, running) for t, up, running in log.capacity if start <= t <= finished]
    # The rotation can change between samples: the sampler runs every SAMPLE_S and at every
    # change (reweight is called on each), so the minimum below sees every dip.
    shares = [up / rollout.n for _, up, _ in capacity] or [1.0]
    extra_s = 0.0
    points = [(t, running) for t, _, running in log.capacity if t >= start]
    for (t0, running), (t1, _) in itertools.pairwise(points):
        extra_s += max(running - rollout.n, 0) * (min(t1, finished) - t0) if t0 < finished else 0
    extra_h = extra_s / 3600
    # Sets of the users seen: memory follows the requests, not the plan's count of users.
    users_active: set[int] = set()
    users_hit: set[int] = set()
    touched = 0
    for _, _, _, answered_hit, user, request_id in since:
        users_active.add(user)
        if answered_hit or request_id in log.touched_ids:
            users_hit.add(user)
            touched += 1
    active = len(users_active)
    detection = (
        rollout.detected_at - rollout.exposed_at
        if math.isfinite(rollout.detected_at) and math.isfinite(rollout.exposed_at)
        else math.nan
    )
    bad_visits = sum(1 for _, _, version, _ in log.visits if version == NEW) if rollout.bad else 0
    return RolloutRun(
        strategy=plan.strategy,
        seed=seed,
        bad=rollout.bad,
        rolled_back=rollout.rolled_back,
        start_s=start,
        exposed_at_s=rollout.exposed_at,
        detection_s=detection,
        deploy_duration_s=finished - start,
        min_capacity_share=min(shares),
        mean_capacity_share=float(np.mean(shares)),
        peak_replicas=max((running for _, _, running in capacity), default=rollout.n),
        extra_replica_hours=extra_h,
        cost_per_deploy=extra_h * plan.cost_per_replica_hour,
        requests_during=len(during),
        failed_during=sum(1 for r in during if not r[2]),
        failed_total=result.requests.failed + result.requests.rejected,
        latency_before_ms=_latency_ms([r[1] for r in before if r[2]]),
        latency_during_ms=_latency_ms([r[1] for r in during if r[2]]),
        bad_visits=bad_visits,
        blast_radius=touched / len(since) if since else math.nan,
        users_hit_share=len(users_hit) / active if active else math.nan,
        timeseries={**_series(rollout, end_s), **_engine_replicas(result, rollout)},
    )


def _engine_replicas(result: SimulationResult, rollout: _Rollout) -> dict[str, list[float]]:
    """The engine's own per-bucket mean of the component's replicas in rotation."""
    series = result.timeseries
    component = series.components.get(rollout.station.name) if series is not None else None
    return {
        "engine_t_s": list(series.t_s) if series is not None else [],
        "engine_replicas": list(component.replicas) if component is not None else [],
    }


def _series(rollout: _Rollout, end_s: float) -> dict[str, list[float]]:
    """Per time bucket: arrivals and failures per second, the share of visits served by the
    new version, the in-rotation capacity share and the p99."""
    width = end_s / SERIES_BUCKETS
    edges = np.arange(SERIES_BUCKETS + 1) * width
    requests = rollout.log.requests
    arrived = np.array([r[0] for r in requests], dtype=float)
    failed = np.array([not r[2] for r in requests], dtype=bool)
    latency = np.array([r[1] for r in requests], dtype=float) * 1e3
    index = np.minimum((arrived / width).astype(int), SERIES_BUCKETS - 1)
    counts = np.bincount(index, minlength=SERIES_BUCKETS)[:SERIES_BUCKETS]
    errors = np.bincount(index, weights=failed, minlength=SERIES_BUCKETS)[:SERIES_BUCKETS]
    p99 = [
        float(np.quantile(latency[(index == b) & ~failed], 0.99))
        if np.any((index == b) & ~failed)
        else math.nan
        for b in range(SERIES_BUCKETS)
    ]
    visits = rollout.log.visits
    done = np.array([v[0] for v in visits], dtype=float)
    new = np.array([v[2] == NEW for v in visits], dtype=bool)
    vindex = np.minimum((done / width).astype(int), SERIES_BUCKETS - 1)
    vcount = np.bincount(vindex, minlength=SERIES_BUCKETS)[:SERIES_BUCKETS]
    vnew = np.bincount(vindex, weights=new, minlength=SERIES_BUCKETS)[:SERIES_BUCKETS]
    samples = rollout.log.capacity
    times = np.array([s[0] for s in samples])
    ups = np.array([s[1] for s in samples], dtype=float)
    capacity = [
        float(ups[(times >= lo) & (times < hi)].min() / rollout.n)
        if np.any((times >= lo) & (times < hi))
        else math.nan
        for lo, hi in itertools.pairwise(edges)
    ]
    return {
        "t_s": [float(v) for v in (edges[:-1] + width / 2)],
        "arrivals_per_s": [float(v) for v in counts / width],
        "errors_per_s": [float(v) for v in errors / width],
        "new_share": [float(n / c) if c else math.nan for n, c in zip(vnew, vcount, strict=True)],
        "min_capacity_share": capacity,
        "p99_ms": p99,
    }


def deploy(
    spec: ArchitectureSpec,
    plans: RolloutSpec | Sequence[RolloutSpec],
    *,
    seed: int = 1,
    replications: int = 1,
    rate_per_s: float | None = None,
    progress: Progress | None = None,
    hooks: Sequence[Callable[[HookContext], None]] = (),
    keep_chaos: bool = False,
) -> RolloutResult:
    """Simulate deploying a release with each plan (strategy), paired by seed.

    Parameters
    ----------
    spec : ArchitectureSpec
        The architecture; the plan's ``component`` (default :func:`default_component`) must be
        a ``service``.
    plans : RolloutSpec or sequence of them
        One per strategy to compare (``plan.with_strategy(name)`` makes variants).
    seed, replications : int
        Seeds ``seed … seed + replications − 1``; every plan runs under every seed (the same
        arrivals and the same release: good or bad).
    rate_per_s : float, optional
        Override the workload's rate. The run lasts long enough for the slowest plan to
        finish twice (a rollback) and be observed.
    progress : callable, optional
        ``progress(done, total)`` after each run.
    hooks : sequence of callables
        Further hooks for every run (e.g. a test's own probe).
    keep_chaos : bool
        Play the spec's chaos events during the deploy too (by default they are left out: a
        game day is not a release day). Failures from ``failures:`` always stay.

    Examples
    --------
    >>> from scaleplan.spec import example_spec
    >>> from scaleplan.spec.rollout import RolloutSpec
    >>> spec = example_spec().with_changes({"components.api.replicas": 3})
    >>> plan = RolloutSpec(strategy="rolling", start_s=5, boot_s=2, drain_s=1, observe_s=5)
    >>> result = deploy(spec, plan, rate_per_s=20)
    >>> run = result.strategy("rolling").runs[0]
    >>> run.min_capacity_share, run.rolled_back
    (0.6666666666666666, False)
    """
    plans = [plans] if isinstance(plans, RolloutSpec) else list(plans)
    if not plans:
        raise ValueError("deploy needs at least one plan")
    if replications < 1:
        raise ValueError(f"replications must be at least 1 (got {replications})")
    unknown = [plan.strategy for plan in plans if plan.strategy not in STRATEGIES]
    if unknown:
        raise ValueError(f"unknown strategy {unknown[0]!r}")
    components = {plan.component or default_component(spec) for plan in plans}
    if len(components) > 1:
        raise ValueError(f"all plans must update the same component (got {sorted(components)})")
    component = components.pop()
    target = spec.components.get(component)
    if target is None or not isinstance(target, ServiceSpec) or target.kind != "service":
        found = "nothing" if target is None else f"a {target.kind}"
        raise SimulationError(
            f"{spec.name}: components.{component}: a rollout updates a service (got {found})"
        )
    if spec.chaos and not keep_chaos:
        spec = spec.with_changes({"chaos": []})
    closed = spec.workload.closed
    if closed:
        # A closed workload's users send what the system lets them: the run is sized by the
        # throughput Mean Value Analysis predicts, and the users drive the simulation.
        from scaleplan.analytic import estimate

        if rate_per_s is not None:
            raise SimulationError(
                f"{spec.name}: workload: a closed workload has users, not a rate to deploy at "
                f"(got rate_per_s {rate_per_s}); change workload.users"
            )
        rate = float(estimate(spec).throughput_per_s)
        notes: list[str] = []
    else:
        rate = float(rate_per_s if rate_per_s is not None else spec.workload.mean_rate_per_s)
        # A deploy swaps the target's replicas one by one against a steady count: an autoscaled
        # target is held at the replicas its policy keeps at the deploy's rate (said in the
        # notes); the other components scale as they would.
        spec, notes = hold_autoscaled(spec, rate, [component])
    target = spec.components[component]
    assert isinstance(target, ServiceSpec)
    longest = max(plan.planned_s(target.replicas) for plan in plans)
    horizon = max(plan.start_s for plan in plans) + 2 * longest + max(p.observe_s for p in plans)
    requests = max(1, round(rate * horizon))
    total = len(plans) * replications
    intervals = [plan.rollback.check_interval_s for plan in plans if plan.rollback is not None]
    check_rollout(
        spec,
        requests=requests,
        runs=total,
        horizon_s=horizon,
        check_interval_s=min(intervals) if intervals else None,
    )
    results: dict[str, list[RolloutRun]] = {plan.strategy: [] for plan in plans}
    done = 0
    for index in range(replications):
        run_seed = seed + index
        for plan in plans:
            rollout = _Rollout(plan, component)
            result = simulate(
                spec,
                seed=run_seed,
                requests=requests,
                rate_per_s=None if closed else rate,
                run_anyway=True,
                hooks=[rollout.attach, *hooks],
                observers=[rollout],
            )
            results[plan.strategy].append(_measure(rollout, result, run_seed, rollout.env.now))
            done += 1
            if progress is not None:
                progress(done, total)
    first = plans[0]
    return RolloutResult(
        spec=spec.name,
        component=component,
        replicas=target.replicas,
        rate_per_s=rate,
        horizon_s=horizon,
        seeds=tuple(seed + index for index in range(replications)),
        plan=first.model_dump(mode="json", exclude={"strategy"}),
        strategies=tuple(
            StrategyResult(strategy, tuple(runs)) for strategy, runs in results.items()
        ),
        deploys_per_month=first.deploys_per_month,
        notes=tuple(notes),
    )
