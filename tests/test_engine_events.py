"""The engine's event economy (docs/architecture.md, "The hot path") and the mechanisms
behind it: the detached driver of a request's life, the turn that starts its service, and the
flat rows the recorder reads.

The counts are exact, not timings: one SimPy event per arrival and one per service (plus the
event that stops the run), whatever the machine. A change that spends more events per request
fails here first; the analytic tests of tests/test_engine.py check that the numbers stay right.
"""

from __future__ import annotations

import numpy as np
import simpy
from simpy.events import Event, Timeout

from scaleplan.engine import HookContext, simulate
from scaleplan.engine.counting import count_events
from scaleplan.engine.detached import Detached
from scaleplan.engine.protocol import FAILED, Observer, Request
from scaleplan.engine.rows import Rows
from scaleplan.spec import ArchitectureSpec, parse_spec


def _tandem(rate: float, servers: tuple[int, ...], rho: float, requests: int) -> ArchitectureSpec:
    names = [f"s{i}" for i in range(len(servers))]
    components = {
        name: {
            "kind": "service",
            "concurrency": c,
            "hold_during_calls": False,
            "service_time": {"dist": "exponential", "mean_ms": 1000 * rho * c / rate},
            "calls": [{"to": names[i + 1]}] if i + 1 < len(names) else [],
        }
        for i, (name, c) in enumerate(zip(names, servers, strict=True))
    }
    return parse_spec(
        {
            "name": "tandem",
            "workload": {"rate_per_s": rate, "requests": requests},
            "entry": names[0],
            "components": components,
        }
    )


def _events(spec: ArchitectureSpec, seed: int = 1) -> tuple[int, int]:
    """(events processed, requests arrived) in one run of ``spec``."""
    return count_events(spec, seed)


def test_mmc_spends_one_event_per_arrival_and_one_per_service() -> None:
    # M/M/4 at rho 0.8: about 60% of the requests wait, and a wait costs no event of its own.
    count, arrived = _events(_tandem(320.0, (4,), 0.8, 5_000))
    assert arrived == 5_000
    assert count == 2 * arrived + 1  # + the event that stops the run


def test_tandem_spends_one_event_per_arrival_and_one_per_station() -> None:
    count, arrived = _events(_tandem(100.0, (2, 4, 1), 0.7, 5_000))
    assert count == 4 * arrived + 1


def test_a_detached_generator_runs_as_a_process_would() -> None:
    """Started at once, resumed by each event with its value, an already processed event
    goes on at once, a failed event is thrown into it, and its return value goes to done."""
    env = simpy.Environment()
    seen: list[object] = []
    finished: list[tuple[object, object, float]] = []
    processed = env.event()
    processed.succeed("early")
    env.run()  # `processed` is processed now: yielding it must not wait
    failing = env.event()

    def life() -> object:
        seen.append(("started", env.now))
        seen.append((yield Timeout(env, 2.0, value="slept")))
        seen.append((yield processed))
        env.process(_fail_later(env, failing))
        try:
            yield failing
        except ValueError as error:
            seen.append(("caught", str(error), env.now))
        return "answer"

    driver = Detached(
        life(), lambda subject, value: finished.append((subject, value, env.now)), "me"
    )
    assert seen == []  # built, not started
    driver.resume(None)
    assert seen == [("started", 0)]  # started in the caller's step, before any event
    env.run()
    assert seen == [("started", 0), "slept", "early", ("caught", "boom", 5.0)]
    assert finished == [("me", "answer", 5.0)]


def _fail_later(env: simpy.Environment, event: Event) -> object:
    yield Timeout(env, 3.0)
    event.fail(ValueError("boom"))


def test_a_request_waiting_for_a_service_turn_fails_when_its_replica_crashes() -> None:
    """The turn that starts its service at the hand-over is still a turn: a crash before the
    hand-over fails the waiting request at once, the one in service when its service ends."""
    spec = parse_spec(
        {
            "name": "crash-while-waiting",
            "workload": {"arrival": "constant", "rate_per_s": 10, "requests": 2},
            "entry": "s",
            "components": {
                "s": {"kind": "service", "service_time": {"dist": "constant", "mean_ms": 150}}
            },
        }
    )
    done: list[tuple[int, int, float]] = []
    env_of: list[simpy.Environment] = []

    class Watch(Observer):
        def on_request_done(self, request: Request, status: int) -> None:
            done.append((request.id, status, round(env_of[0].now, 9)))

    def crash_at_220ms(context: HookContext) -> None:
        env_of.append(context.env)
        station = context.stations["s"]

        def crash() -> object:
            yield Timeout(context.env, 0.22)
            station.crash(station.replicas[0])

        context.env.process(crash())

    # Request 0 arrives at 100 ms and is served until 250 ms; request 1 waits from 200 ms (the
    # run drains until 400 ms). Two requests at 1.5x the capacity: run anyway.
    simulate(spec, seed=1, hooks=[crash_at_220ms], observers=[Watch()], run_anyway=True)
    assert sorted(done) == [(0, FAILED, 0.25), (1, FAILED, 0.22)]


def test_flat_rows_give_the_recorder_the_array_a_list_of_tuples_would() -> None:
    rows = [(0, 0.25, 1.5, 1.5, 1.75), (2.0, 0.0, 3.0, 0.5, 3.0)]
    flat = Rows(5)
    assert not flat and flat.rows() == 0
    for row in rows:
        flat.append(row)
    assert flat and flat.rows() == 2 and flat.last() == rows[-1]
    array = np.asarray(flat)
    assert array.dtype == np.float64 and array.shape == (2, 5)
    assert np.array_equal(array, np.asarray(rows, dtype=float))
    flat.clear()
    assert not flat and np.asarray(flat).shape == (0, 5)


def test_the_inlined_run_loop_processes_events_as_simpy_does() -> None:
    """run_until takes events off the schedule in SimPy's order, stops once the stop event is
    processed (later events stay scheduled), and crashes on a failed event nobody defused."""
    from scaleplan.engine.run import run_until

    def trace(loop: str) -> list[tuple[str, float]]:
        env = simpy.Environment()
        seen: list[tuple[str, float]] = []
        stop = env.event()
        for name, delay in (("b", 2.0), ("a", 1.0), ("c", 2.0), ("late", 9.0)):
            Timeout(env, delay).callbacks.append(lambda _e, n=name: seen.append((n, env.now)))
        Timeout(env, 5.0).callbacks.append(lambda _e: stop.succeed())
        if loop == "simpy":
            env.run(until=stop)
        else:
            run_until(env, stop)
        seen.append(("end", env.now))
        return seen

    assert trace("inlined") == trace("simpy") == [("a", 1), ("b", 2), ("c", 2), ("end", 5)]
    env = simpy.Environment()
    env.event().fail(ValueError("nobody waits for this"))
    try:
        run_until(env, env.event())
    except ValueError as error:
        assert str(error) == "nobody waits for this"
    else:
        raise AssertionError("a failed event nobody defused must crash the run")


def test_the_recorder_spreads_intervals_over_buckets_bit_for_bit_as_a_loop_would() -> None:
    """The vectorised spread of waits and holding times over the time buckets adds exactly
    what the loop over intervals added, in the same order (equal floats, not close ones)."""
    from scaleplan.engine.recorder import StationSeries

    def loop(totals: np.ndarray, start: np.ndarray, end: np.ndarray, width: float) -> None:
        first = np.minimum((start / width).astype(np.int64), len(totals) - 1)
        last = np.minimum((end / width).astype(np.int64), len(totals) - 1)
        within = first == last
        totals += np.bincount(first[within], weights=(end - start)[within], minlength=len(totals))
        for low, high, a, b in zip(
            start[~within], end[~within], first[~within], last[~within], strict=True
        ):
            edges = np.arange(a, b + 2) * width
            overlap = np.minimum(edges[1:], high) - np.maximum(edges[:-1], low)
            overlap[-1] = high - max(edges[-2], low) if b == len(totals) - 1 else overlap[-1]
            totals[a : b + 1] += np.clip(overlap, 0.0, None)

    rng = np.random.default_rng(7)
    series = StationSeries(capacity=4, n_buckets=12, inv_width=1 / 0.5)
    start = rng.uniform(0.0, 6.5, 4000)
    end = start + rng.exponential(0.4, 4000)  # some cross several buckets, some run past 6 s
    got, expected = np.full(12, 0.125), np.full(12, 0.125)
    series._spread(got, start, end)
    loop(expected, start, end, 0.5)
    assert np.array_equal(got, expected)
    assert (end > 6.0).any() and ((end - start) > 1.0).any()


def test_per_bucket_quantiles_are_the_sketch_quantiles_of_each_bucket() -> None:
    from scaleplan.engine.run import _row_quantiles
    from scaleplan.metrics import DEFAULT_BINS

    rng = np.random.default_rng(3)
    rows = np.zeros((5, DEFAULT_BINS.n_bins), dtype=np.int64)
    for index in range(4):  # the last bucket stays empty
        values = rng.lognormal(np.log(20.0), 1.0, 50 * (index + 1))
        np.add.at(rows[index], DEFAULT_BINS.index(values), 1)
    for q in (0.0, 0.5, 0.99, 1.0):
        expected = [float(DEFAULT_BINS.quantiles(row, [q])[0]) for row in rows]
        got = [float(value) for value in _row_quantiles(rows, q)]
        assert got[:4] == expected[:4] and np.isnan(got[4]) and np.isnan(expected[4])


def test_a_run_leaves_no_garbage_cycle_per_request() -> None:
    """A request's objects are freed by their reference counts when it is done: what the
    cyclic collector (whose passes cost about a fifth of a run when every request left a
    cycle) finds after a run does not grow with its requests."""
    import gc

    def garbage(requests: int) -> int:
        spec = _tandem(100.0, (2, 4, 1), 0.7, requests)
        simulate(spec, seed=1)
        gc.collect()
        gc.disable()
        try:
            simulate(spec, seed=2)
            return gc.collect()
        finally:
            gc.enable()

    # A cycle per request would leave thousands of objects more in the longer run.
    assert garbage(4_000) <= garbage(1_000) + 50
