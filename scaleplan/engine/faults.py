"""Crashes, repairs, health checks and scheduled chaos, as SimPy processes.

Each replica of a service with ``failures`` alternates up and down: a time to failure, then a
time to repair, drawn from their distributions (per replica, or for the whole component at
once). A crash fails what the replica was serving and what waited for it; until a health check
notices (``detection_s``) requests still reach it and fail at once; then it leaves the rotation
(load balancers stop sending to it), and it comes back ``detection_s`` after its repair.
Scheduled chaos events (``chaos:`` in the spec) kill replicas, take a zone down, slow a
component down or make it fail every request, for a while or for good.

:class:`Hook` is the extension point other experiments use to drive a running model (rollouts,
custom faults): a callable given the environment and the stations once they are connected.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import simpy
from scipy.special import gamma as gamma_function
from simpy.events import Timeout

from scaleplan.engine.protocol import Replica, Station
from scaleplan.engine.streams import buffered
from scaleplan.spec.architecture import ArchitectureSpec
from scaleplan.spec.components import BaseFailureSpec, ChaosEventSpec

DEFAULT_DETECTION_S = 10.0
Process = Generator[Timeout, Any, None]


@dataclass
class HookContext:
    """What a hook can reach: the running model, before the first arrival."""

    env: simpy.Environment
    spec: ArchitectureSpec
    stations: dict[str, Station]
    streams: Callable[[str], np.random.Generator]


Hook = Callable[[HookContext], None]


def times_to_failure(failures: BaseFailureSpec, rng: np.random.Generator) -> Iterator[float]:
    """Seconds of uptime, with mean ``mtbf_h`` hours."""
    mean = failures.mtbf_h * 3600
    if failures.distribution == "weibull":
        scale = mean / float(gamma_function(1 + 1 / failures.shape))
        return buffered(lambda n: scale * rng.weibull(failures.shape, n))
    if failures.distribution == "lognormal":
        sigma2 = math.log1p(failures.cv**2)
        mu = math.log(mean) - sigma2 / 2
        return buffered(lambda n: rng.lognormal(mu, math.sqrt(sigma2), n))
    return buffered(lambda n: rng.exponential(mean, n))


def times_to_repair(failures: BaseFailureSpec, rng: np.random.Generator) -> Iterator[float]:
    """Seconds of downtime, with mean ``mttr_min`` minutes."""
    mean = failures.mttr_min * 60
    if failures.repair_distribution == "constant":
        return buffered(lambda n: np.full(n, mean))
    if failures.repair_distribution == "lognormal":
        sigma2 = math.log1p(1.0)  # cv 1: repairs vary about as much as they last
        mu = math.log(mean) - sigma2 / 2
        return buffered(lambda n: rng.lognormal(mu, math.sqrt(sigma2), n))
    return buffered(lambda n: rng.exponential(mean, n))


class Faults:
    """Starts the failure processes and chaos events of one run.

    A unit is what fails as one: a replica (or every replica of the component, with
    ``scope: component``), a node of a database, a cache node, a broker node. Crashes, repairs
    and rotation go through the station (``crash``, ``repair``, ``set_rotation``), so each kind
    decides what they mean for it (a database fails over, a cache empties, a broker stops
    accepting). Replicas an autoscaler adds later get failure processes of their own; one it
    retires stops failing and never comes back.
    """

    def __init__(self, context: HookContext):
        self.env = context.env
        self.spec = context.spec
        self.stations = context.stations
        self.streams = context.streams

    def start(self) -> None:
        for name, component in self.spec.components.items():
            failures = getattr(component, "failures", None)
            if failures is None:
                continue
            station = self.stations[name]
            station.prepare_failures(component)
            # The up log starts with the run: a run in which nothing happens to strike still
            # measured the component's availability (all of it), and says so.
            if not station.up_log:
                station.log_up(station.logged_up())
            ttf = times_to_failure(failures, self.streams(f"failures:{name}"))
            ttr = times_to_repair(failures, self.streams(f"repairs:{name}"))
            for unit in station.failure_units(failures.scope):
                self.env.process(self.lifecycle(station, unit, ttf, ttr))
            if getattr(component, "autoscale", None) is not None:
                self.follow_scaling(station, failures, ttf, ttr)
        for event in self.spec.chaos:
            self.env.process(self.chaos(event))

    def follow_scaling(
        self,
        station: Station,
        failures: BaseFailureSpec,
        ttf: Iterator[float],
        ttr: Iterator[float],
    ) -> None:
        """Replicas an autoscaler adds fail too: alone (each gets its own failure process), or
        with the component (one added while the component is down starts down)."""
        known = {id(replica) for replica in station.all_replicas}
        logged = [station.replicas_up()]

        def changed() -> None:
            for replica in list(station.all_replicas):
                if id(replica) in known:
                    continue
                known.add(id(replica))
                if failures.scope == "replica":
                    self.env.process(self.lifecycle(station, _alone(replica), ttf, ttr))
                elif any(not other.up for other in station.all_replicas if other is not replica):
                    station.crash(replica)
                    station.set_rotation(replica, False)
            up = station.replicas_up()
            if up != logged[0]:  # a replica added or retired changes the count up
                logged[0] = up
                if not station.up_log or station.up_log[-1] != (self.env.now, up):
                    station.log_up(up)

        station.listeners.append(changed)

    def detection_s(self, station: Station) -> float:
        spec = self.spec.components.get(station.name)
        failures = getattr(spec, "failures", None)
        return failures.detection_s if failures is not None else DEFAULT_DETECTION_S

    def lifecycle(
        self,
        station: Station,
        unit: Callable[[], list[Replica]],
        ttf: Iterator[float],
        ttr: Iterator[float],
    ) -> Process:
        """Up for a time to failure, down for a time to repair, for as long as the unit runs."""
        while True:
            yield Timeout(self.env, next(ttf))
            replicas = unit()
            if not any(station.is_member(replica) for replica in replicas):
                return  # retired by a scale-down
            self.down(station, replicas)
            yield Timeout(self.env, next(ttr))
            self.up(station, unit())

    def down(self, station: Station, replicas: list[Replica]) -> None:
        crashed = [r for r in replicas if r.up and station.is_member(r)]
        for replica in crashed:
            station.crash(replica)
        if crashed:
            self.env.process(self.health_check(station, crashed, serving=False))

    def up(self, station: Station, replicas: list[Replica]) -> None:
        repaired = [r for r in replicas if not r.up and station.is_member(r)]
        for replica in repaired:
            station.repair(replica)
        if repaired:
            self.env.process(self.health_check(station, repaired, serving=True))

    def health_check(self, station: Station, replicas: list[Replica], serving: bool) -> Process:
        """After the detection delay, the rotation follows what the replicas' state is then."""
        yield Timeout(self.env, self.detection_s(station))
        for replica in replicas:
            if replica.up == serving and station.is_member(replica):
                station.set_rotation(replica, serving)

    def chaos(self, event: ChaosEventSpec) -> Process:
        yield Timeout(self.env, event.at_s)
        targets: list[tuple[Station, list[Replica]]]
        if event.action == "zone_outage":
            targets = [
                (station, [r for r in station.all_replicas if r.zone == event.zone])
                for station in self.stations.values()
            ]
            targets = [(station, replicas) for station, replicas in targets if replicas]
        else:
            assert event.component is not None
            station = self.stations[event.component]
            station.prepare_failures(self.spec.components[event.component])
            replicas = list(station.all_replicas or station.replicas)
            if event.action == "kill_replicas":
                replicas = [replica for replica in replicas if replica.up][: event.count]
            targets = [(station, replicas)]
        for station, replicas in targets:
            self.apply(event, station, replicas, on=True)
        if event.duration_s is None:
            return
        yield Timeout(self.env, event.duration_s)
        for station, replicas in targets:
            self.apply(event, station, replicas, on=False)

    def apply(
        self, event: ChaosEventSpec, station: Station, replicas: list[Replica], on: bool
    ) -> None:
        if event.action in ("kill_replicas", "zone_outage"):
            (self.down if on else self.up)(station, replicas)
        elif event.action == "add_latency":
            for replica in replicas:
                replica.slowdown = event.latency_factor if on else 1.0
        else:  # drop_dependency: every request to it fails
            for replica in replicas:
                replica.extra_error = 1.0 if on else 0.0


def start_faults(context: HookContext) -> None:
    """The hook every run gets: failures and chaos from the spec, if it has any."""
    if context.spec.chaos or any(
        getattr(c, "failures", None) is not None for c in context.spec.components.values()
    ):
        Faults(context).start()


def time_up(log: list[tuple[float, int]], start: float, end: float, replicas: int) -> float:
    """Seconds in [start, end] with at least one replica up, from the (time, up count) log."""
    up_count = replicas
    previous = start
    total = 0.0
    for time, count in log:
        if time > start:
            segment_end = min(time, end)
            if up_count > 0 and segment_end > previous:
                total += segment_end - previous
            previous = max(previous, segment_end)
        up_count = count
        if time >= end:
            break
    if up_count > 0 and end > previous:
        total += end - previous
    return total


def _alone(replica: Replica) -> Callable[[], list[Replica]]:
    return lambda: [replica]
