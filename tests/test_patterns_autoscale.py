"""Tests for scaleplan.engine.autoscale: horizontal autoscaling as Kubernetes' HPA does it
(issue #3).

With an exact metric, HPA asks for ceil(ready · utilisation / target) replicas, and ready ·
utilisation is the offered load in replicas, a = λ·S/c, whatever the replicas: so the one
replica count it settles on is ceil(a/target), unless a count within its tolerance band of
the target holds it elsewhere. The parameters below are chosen so that neither the rounding
nor the band can move it (see the test), and the run is long enough to settle.
"""

from __future__ import annotations

import math

from _patterns import architecture, covers, exponential, run, series, t_interval, window_buckets

RATE = 40.0  # requests per second
SERVICE_S = 1.0
SLOTS = 32  # concurrency per replica
TARGET = 0.5
TOLERANCE = 0.1


def test_autoscaler_converges_to_the_replicas_that_meet_its_target() -> None:
    """a = 40 · 1 / 32 = 1.25 replicas of work; a/target = 2.5, so ceil gives 3, half a
    replica from either rounding boundary. The metric is sampled 10 times per 30 s interval,
    3 s apart (three service times, so nearly independent samples): the busy slots average
    40 ± 2 (Poisson), a/target 2.5 ± 0.125, and a flip to 2 or 4 is four standard deviations
    away. The tolerance band holds no other count: at 2 replicas the utilisation would be
    0.625 (ratio 1.25), at 4 it would be 0.31 (ratio 0.625), both outside ±10%.

    The run starts at one replica (overloaded: 40 busy slots wanted, 32 there) and must scale
    up, overshoot or not, and settle on 3. Over the last 300 s of the 900 s run every bucket
    must show exactly 3 replicas, with the utilisation below target·(1 + tolerance) and its
    t-interval over the buckets covering the exact a/3 = 0.417.
    """
    offered = RATE * SERVICE_S / SLOTS
    expected = math.ceil(offered / TARGET)
    assert expected == 3
    assert offered / TARGET - math.floor(offered / TARGET) == 0.5
    for neighbour in (expected - 1, expected + 1):
        assert abs(offered / (neighbour * TARGET) - 1) > TOLERANCE
    spec = architecture(
        {
            "api": {
                "kind": "service",
                "replicas": 1,
                "concurrency": SLOTS,
                "dispatch": "least_connections",
                "service_time": exponential(SERVICE_S * 1e3),
                "autoscale": {
                    "target": TARGET,
                    "tolerance": TOLERANCE,
                    "min_replicas": 1,
                    "max_replicas": 10,
                    "interval_s": 30,
                    "boot_s": 20,
                    "cooldown_s": 60,
                },
            }
        },
        entry="api",
        rate_per_s=RATE,
        duration_s=900,
        warmup="none",
    )
    result = run(spec)
    replicas = series(result, "api", "replicas")
    utilisation = series(result, "api", "utilization")
    late = window_buckets(result, 600, 900)
    assert len(late) == 20
    assert replicas[:3].tolist() == [1.0, 1.0, 1.0]  # it started where it was told
    assert replicas[late].tolist() == [float(expected)] * len(late)
    assert utilisation[late].max() < TARGET * (1 + TOLERANCE)
    interval = t_interval(utilisation[late])
    assert covers(interval, offered / expected), (interval, offered / expected)
