"""Request-class priorities in the engine: the waiting line, preemptive-resume, and each class's
mean latency against Cobham's closed forms (:mod:`scaleplan.analytic.priorities`).

Every statistical test runs fixed seeds and asserts that the 95% CI across replications of a
class's mean latency covers the closed form; classes share one entry and differ by weight and
priority.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
import simpy
from scipy import stats

from scaleplan.analytic.priorities import (
    PriorityClass,
    mg1_nonpreemptive,
    mg1_preemptive_resume,
    mmc_nonpreemptive,
)
from scaleplan.engine import simulate
from scaleplan.engine.preemption import Preemption
from scaleplan.engine.protocol import Observer, Replica, acquire, crash, release
from scaleplan.engine.waiting import PriorityLine
from scaleplan.formatting import json_safe
from scaleplan.spec import ArchitectureSpec, parse_spec

SEED = 2


def spec(
    rate: float,
    service: dict[str, Any],
    classes: list[dict[str, Any]],
    **component: Any,
) -> ArchitectureSpec:
    return parse_spec(
        {
            "name": "priorities",
            "entry": "api",
            "workload": {"rate_per_s": rate, "classes": classes},
            "components": {"api": {"kind": "service", "service_time": service, **component}},
        }
    )


def covers(interval: tuple[float, float], value: float) -> bool:
    return interval[0] <= value <= interval[1]


def assert_classes_cover(result: Any, expected_ms: dict[str, float]) -> None:
    for name, value in expected_ms.items():
        summary = result.classes[name]
        assert covers(summary.mean_ci95, value), (
            f"{name}: 95% CI {summary.mean_ci95} (mean {summary.mean:.4g} ms, "
            f"{summary.count} requests) misses the closed form {value:.4g} ms"
        )


EXP10 = {"dist": "exponential", "mean_ms": 10}
# 3 : 5 of 80/s (ρ = 0.8), gold before bronze.
TWO = [
    {"name": "gold", "weight": 3, "priority": 0},
    {"name": "bronze", "weight": 5, "priority": 2},
]
TWO_RATES = (0.030, 0.050)  # per ms


# --------------------------------------------------------------------------- the waiting line


def test_priority_line_serves_smallest_level_first_fifo_within_and_preempted_to_the_front() -> None:
    env = simpy.Environment()
    a, b, c, d, e = (env.event() for _ in range(5))
    line = PriorityLine()
    line.append(a, 2)
    line.append(b, 0)
    line.append(c, 2)
    line.append(d, 0)
    line.appendleft(e, 2)  # a preempted request of level 2: ahead of a and c
    assert len(line) == 5 and bool(line)
    assert list(line) == [b, d, e, a, c]
    assert line.pop() is d  # newest of the best level (a LIFO discipline)
    assert [line.popleft() for _ in range(4)] == [b, e, a, c]
    assert not line and len(line) == 0
    with pytest.raises(IndexError):
        line.popleft()


def test_a_replica_keeps_a_deque_until_a_non_zero_priority_waits() -> None:
    env = simpy.Environment()
    replica = Replica(1)
    assert acquire(replica, env) is None
    first = acquire(replica, env, 0)
    assert type(replica.queue).__name__ == "deque"
    urgent = acquire(replica, env, 0)
    later = acquire(replica, env, 3)
    assert isinstance(replica.queue, PriorityLine)
    best = acquire(replica, env, 1)
    release(replica)
    assert first is not None and first.triggered  # level 0 in arrival order
    release(replica)
    assert urgent is not None and urgent.triggered
    release(replica)
    assert best is not None and best.triggered and later is not None and not later.triggered
    crash(replica)
    assert later.value is False  # a crash fails whatever waits


# --------------------------------------------------------------------------- preemption


def test_preemptive_resume_mechanics_on_one_slot() -> None:
    """A 10 s job of priority 1 starts at 0; a 4 s job of priority 0 arrives at 3 and takes the
    slot; the first resumes at 7 with its 7 s left and ends at 14 (nothing lost, nothing
    repeated), having spent 4 s preempted."""
    env = simpy.Environment()
    replica = Replica(1)
    preemption = Preemption(env)
    done: dict[str, tuple[float, float | None]] = {}

    def job(name: str, at: float, priority: int, work: float) -> Any:
        yield env.timeout(at)
        turn = preemption.acquire(replica, priority)
        if turn is not None:
            assert (yield turn)
        paused = yield from preemption.serve(replica, priority, work)
        release(replica)
        done[name] = (env.now, paused)

    env.process(job("low", 0.0, 1, 10.0))
    env.process(job("high", 3.0, 0, 4.0))
    env.process(job("same", 5.0, 0, 1.0))  # not strictly better than "high": it waits
    env.run()
    assert done == {"high": (7.0, 0.0), "same": (8.0, 0.0), "low": (15.0, 5.0)}
    assert preemption.preemptions == 1 and replica.busy == 0


def test_a_crash_fails_a_preempted_request_waiting_to_resume() -> None:
    env = simpy.Environment()
    replica = Replica(1)
    preemption = Preemption(env)
    outcome: dict[str, float | None] = {}

    def low() -> Any:
        assert preemption.acquire(replica, 1) is None
        outcome["low"] = yield from preemption.serve(replica, 1, 10.0)

    def high() -> Any:
        yield env.timeout(2.0)
        assert preemption.acquire(replica, 0) is None
        yield from preemption.serve(replica, 0, 5.0)

    def fault() -> Any:
        yield env.timeout(4.0)
        crash(replica)

    for process in (low(), high(), fault()):
        env.process(process)
    env.run()
    assert outcome == {"low": None}


def test_equal_priorities_change_nothing() -> None:
    """Classes that all share one priority (and preemptive: true without distinct priorities)
    give the run without priorities, byte for byte."""
    plain = [{"name": "a", "weight": 1}, {"name": "b", "weight": 3}]
    same = [{**cls, "priority": 4} for cls in plain]
    results = []
    for candidate in (spec(60, EXP10, plain), spec(60, EXP10, same, preemptive=True)):
        data = json_safe(simulate(candidate, seed=SEED, requests=3000).to_dict())
        data.pop("wall_time_s", None)
        results.append(json.dumps(data, sort_keys=True))
    assert results[0] == results[1]


# --------------------------------------------------------------------------- vs Cobham


def test_mm1_nonpreemptive_each_class_ci_covers_cobham() -> None:
    result = simulate(spec(80, EXP10, TWO), seed=SEED, requests=20_000, replications=10)
    gold, bronze = (
        PriorityClass(rate, 10.0, 1.0, priority)
        for rate, priority in zip(TWO_RATES, (0, 2), strict=True)
    )
    waits = mg1_nonpreemptive([gold, bronze])
    assert_classes_cover(result, {"gold": waits[0] + 10, "bronze": waits[1] + 10})


def test_mg1_nonpreemptive_deterministic_three_classes_ci_covers_cobham() -> None:
    classes = [
        {"name": "checkout", "weight": 2, "priority": 0},
        {"name": "browse", "weight": 5, "priority": 1},
        {"name": "export", "weight": 1, "priority": 2},
    ]
    rate = 80.0  # ρ = 0.8 at 10 ms
    constant = {"dist": "constant", "mean_ms": 10}
    result = simulate(spec(rate, constant, classes), seed=SEED, requests=20_000, replications=10)
    refs = [
        PriorityClass(rate / 8 * cls["weight"] / 1000, 10.0, 0.0, cls["priority"])
        for cls in classes
    ]
    waits = mg1_nonpreemptive(refs)
    assert_classes_cover(
        result, {cls["name"]: w + 10 for cls, w in zip(classes, waits, strict=True)}
    )


@pytest.mark.parametrize(
    "service",
    [EXP10, {"dist": "gamma", "mean_ms": 10, "cv": 0.5}],  # M/M/1 and M/E4/1
    ids=["exponential", "erlang-4"],
)
def test_mg1_preemptive_resume_each_class_ci_covers_cobham(service: dict[str, Any]) -> None:
    scv = 1.0 if service["dist"] == "exponential" else 0.25
    result = simulate(
        spec(80, service, TWO, preemptive=True), seed=SEED, requests=20_000, replications=10
    )
    refs = [
        PriorityClass(rate, 10.0, scv, priority)
        for rate, priority in zip(TWO_RATES, (0, 2), strict=True)
    ]
    times = mg1_preemptive_resume(refs)
    assert_classes_cover(result, {"gold": times[0], "bronze": times[1]})
    assert result.components["api"].details["preemptions"] > 0


def test_mmc_nonpreemptive_three_servers_ci_covers_cobham() -> None:
    rate = 240.0  # three slots of 10 ms: ρ = 0.8
    result = simulate(
        spec(rate, EXP10, TWO, concurrency=3), seed=SEED, requests=20_000, replications=10
    )
    refs = [
        PriorityClass(rate * share / 1000, 10.0, 1.0, priority)
        for share, priority in ((3 / 8, 0), (5 / 8, 2))
    ]
    waits = mmc_nonpreemptive(refs, 3)
    assert_classes_cover(result, {"gold": waits[0] + 10, "bronze": waits[1] + 10})


class _JobTimes(Observer):
    """Each job's time from its request's arrival to the end of its work, per replication and
    class (a replication is told by its environment)."""

    def __init__(self) -> None:
        self.times: dict[tuple[int, int], list[float]] = {}
        self.envs: list[Any] = []  # kept alive, so that each replication is told apart

    def on_served(self, station: Any, replica: Any, request: Any, *_: Any) -> None:
        if station.name == "workers":
            if not self.envs or self.envs[-1] is not station.env:
                self.envs.append(station.env)
            key = (len(self.envs), request.class_index)
            self.times.setdefault(key, []).append(station.env.now - request.arrived)


def test_a_broker_backlog_is_served_by_priority() -> None:
    """Jobs published to a queue wait in their worker pool's line: one worker, exponential
    10 ms, 80 jobs/s (ρ = 0.8) make an M/M/1 non-preemptive priority queue of jobs."""
    data = {
        "name": "priority-jobs",
        "entry": "api",
        "workload": {"rate_per_s": 80, "classes": TWO},
        "components": {
            "api": {
                "kind": "service",
                "concurrency": 64,
                "service_time": {"dist": "constant", "mean_ms": 0.01},
                "calls": [{"to": "jobs"}],
            },
            "jobs": {"kind": "queue", "consumer": "workers"},
            "workers": {"kind": "worker_pool", "service_time": EXP10},
        },
    }
    watch = _JobTimes()
    simulate(parse_spec(data), seed=SEED, requests=8_000, replications=8, observers=[watch])
    refs = [
        PriorityClass(rate, 10.0, 1.0, priority)
        for rate, priority in zip(TWO_RATES, (0, 2), strict=True)
    ]
    # A job's time is the api's 0.01 ms, its wait for a worker and its service.
    expected = [w + 10 + 0.01 for w in mg1_nonpreemptive(refs)]
    for index, value in enumerate(expected):
        means = [
            1e3 * float(np.mean(times))
            for (_, class_index), times in watch.times.items()
            if class_index == index
        ]
        assert len(means) == 8
        interval = t_interval(means)
        assert covers(interval, value), (TWO[index]["name"], interval, value)


def t_interval(values: list[float]) -> tuple[float, float]:
    """Student-t 95% interval for the mean of independent replicate values."""
    x = np.asarray(values, dtype=float)
    half = float(stats.t.ppf(0.975, x.size - 1)) * float(x.std(ddof=1)) / math.sqrt(x.size)
    return float(x.mean()) - half, float(x.mean()) + half


def test_under_lifo_a_preempted_request_resumes_before_the_later_arrivals_of_its_level() -> None:
    """lifo takes the newest of the best level, so the preempted request goes back at that end:
    a 10 s job of priority 1 starts at 0, a priority-1 job arrives at 1 and waits, a priority-0
    job preempts at 3 and ends at 5; the preempted one resumes (ends at 12), then the waiting
    one (ends at 14)."""
    env = simpy.Environment()
    replica = Replica(1, lifo=True)
    preemption = Preemption(env)
    done: dict[str, float] = {}

    def job(name: str, at: float, priority: int, work: float) -> Any:
        yield env.timeout(at)
        turn = preemption.acquire(replica, priority)
        if turn is not None:
            assert (yield turn)
        yield from preemption.serve(replica, priority, work)
        release(replica)
        done[name] = env.now

    env.process(job("preempted", 0.0, 1, 10.0))
    env.process(job("waiting", 1.0, 1, 2.0))
    env.process(job("urgent", 3.0, 0, 2.0))
    env.run()
    assert done == {"urgent": 5.0, "preempted": 12.0, "waiting": 14.0}
