"""The registry of component kinds: which station class simulates each ``kind``."""

from __future__ import annotations

from collections.abc import Callable

from scaleplan.engine.data import CacheStation, DatabaseStation, EdgeStation
from scaleplan.engine.messaging import QueueStation, TopicStation, WorkerPoolStation
from scaleplan.engine.stations import LoadBalancerStation, ServiceStation, Station

STATIONS: dict[str, Callable[..., Station]] = {
    "service": ServiceStation,
    "load_balancer": LoadBalancerStation,
    "database": DatabaseStation,
    "cache": CacheStation,
    "edge": EdgeStation,
    "queue": QueueStation,
    "topic": TopicStation,
    "worker_pool": WorkerPoolStation,
}
