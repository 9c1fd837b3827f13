"""Horizontal autoscaling of a service, the way Kubernetes' HPA does it.

Every ``interval_s`` the autoscaler averages the metric it sampled (utilisation of the ready
replicas' slots, or requests waiting per replica) and asks for
``desired = ceil(current · metric / target)`` replicas, within ``min_replicas … max_replicas``,
ignoring changes within the ``tolerance``. ``current`` counts every replica the component runs,
crashed ones included (HPA's ``currentReplicas`` is the Deployment's, not the ready pods'); the
metric is measured on the replicas in rotation. New replicas serve after ``boot_s``, in
rotation whatever the state of the others; scale-downs are at least ``cooldown_s`` apart (HPA's
stabilisation window) and retire crashed replicas first. The replica count is logged at each
change, and the result shows it as a time series.
"""

from __future__ import annotations

import math
from collections.abc import Generator

from simpy.events import Timeout

from scaleplan.engine.protocol import Scalable
from scaleplan.spec.components import AutoscaleSpec

SAMPLES_PER_INTERVAL = 10


class Autoscaler:
    def __init__(self, station: Scalable, spec: AutoscaleSpec):
        self.station = station
        self.spec = spec
        self.env = station.env
        self.booting = 0
        self.last_scale_down = -math.inf

    def start(self) -> None:
        self.env.process(self.run())

    def sample(self) -> float:
        station = self.station
        if self.spec.metric == "utilization":
            capacity = station.capacity
            return station.in_service() / capacity if capacity else 0.0
        return station.waiting() / max(station.replica_count, 1)

    def run(self) -> Generator[Timeout, None, None]:
        spec = self.spec
        step = spec.interval_s / SAMPLES_PER_INTERVAL
        while True:
            total = 0.0
            for _ in range(SAMPLES_PER_INTERVAL):
                yield Timeout(self.env, step)
                total += self.sample()
            self.decide(total / SAMPLES_PER_INTERVAL)

    def decide(self, metric: float) -> None:
        spec = self.spec
        current = self.station.members
        ratio = metric / spec.target
        if abs(ratio - 1) <= spec.tolerance:
            return
        desired = max(spec.min_replicas, min(spec.max_replicas, math.ceil(current * ratio)))
        if desired > current + self.booting:
            count = desired - current - self.booting
            self.booting += count
            self.env.process(self.boot(count))
        elif desired < current and self.booting == 0:
            if self.env.now - self.last_scale_down < spec.cooldown_s:
                return
            self.last_scale_down = self.env.now
            for _ in range(current - desired):
                self.station.remove_replica()

    def boot(self, count: int) -> Generator[Timeout, None, None]:
        yield Timeout(self.env, self.spec.boot_s)
        for _ in range(count):
            self.station.add_replica()
        self.booting -= count
