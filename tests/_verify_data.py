"""Plans and synthetic load-test results for the verify tests (no tool needed)."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from scaleplan.loadtest import Band, ClassRequest, LoadTestPlan, Step, write_plan

SCENARIO = Path(__file__).resolve().parent / "data" / "scenarios" / "tiny-shop.yaml"
STEP_S, SETTLE_S = 20.0, 5.0
T0 = 1_796_000_000  # the synthetic test's start, Unix seconds
HISTORY_HEADER = [
    *["Timestamp", "User Count", "Type", "Name", "Requests/s", "Failures/s"],
    *["50%", "66%", "75%", "80%", "90%", "95%", "98%", "99%", "99.9%", "99.99%", "100%"],
    *["Total Request Count", "Total Failure Count", "Total Median Response Time"],
    *["Total Average Response Time", "Total Min Response Time", "Total Max Response Time"],
    "Total Average Content Size",
]


@dataclass(frozen=True)
class Load:
    """What a synthetic system does at one step."""

    rate_per_s: float
    mean_ms: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    error_rate: float = 0.0
    busiest_utilization: float = 0.5

    def slower(self, factor: float) -> Load:
        return Load(
            self.rate_per_s,
            self.mean_ms * factor,
            self.p50_ms * factor,
            self.p95_ms * factor,
            self.p99_ms * factor,
            self.error_rate,
            self.busiest_utilization,
        )


LOADS = (
    Load(20.0, 25.0, 20.0, 60.0, 90.0, busiest_utilization=0.3),
    Load(40.0, 30.0, 24.0, 75.0, 110.0, busiest_utilization=0.6),
    Load(60.0, 45.0, 35.0, 110.0, 170.0, busiest_utilization=0.85),
)


def _band(value: float, spread: float = 0.05) -> Band:
    return Band(mean=value, low=value * (1 - spread), high=value * (1 + spread))


def make_plan(loads: Sequence[Load] = LOADS, *, candidate: str = "single") -> LoadTestPlan:
    return LoadTestPlan(
        scenario="tiny-shop.yaml",
        candidate=candidate,
        host="http://127.0.0.1:8000",
        classes=(ClassRequest(name="default", weight=1, path="/default"),),
        user_rate_per_s=1.0,
        slos=("p99<=150ms",),
        limit_per_s=70.0,
        limit_ci95=(66.0, 74.0),
        bottleneck="app",
        steps=tuple(
            Step(
                index=index,
                start_s=STEP_S * index,
                duration_s=STEP_S,
                settle_s=SETTLE_S,
                users=int(load.rate_per_s),
                rate_per_s=load.rate_per_s,
                predicted={
                    "throughput_per_s": _band(load.rate_per_s, 0.02),
                    "mean_ms": _band(load.mean_ms),
                    "p50_ms": _band(load.p50_ms),
                    "p95_ms": _band(load.p95_ms),
                    "p99_ms": _band(load.p99_ms),
                    "error_rate": Band(
                        mean=load.error_rate, low=load.error_rate, high=load.error_rate
                    ),
                },
                busiest="app",
                busiest_utilization=load.busiest_utilization,
                meets_slos=load.p99_ms <= 150,
            )
            for index, load in enumerate(loads)
        ),
    )


def write_locust(prefix: Path, loads: Sequence[Load], *, seconds: float = STEP_S) -> Path:
    """A Locust ``--csv-full-history`` history of a system doing ``loads``, one row a second."""
    path = prefix.with_name(prefix.name + "_stats_history.csv")
    count = failures = 0
    total_ms = 0.0
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(HISTORY_HEADER)
        out.writerow([T0, 0, "", "Aggregated", 0, 0] + ["N/A"] * 11 + [0, 0, 0, 0.0, 0, 0, 0])
        for index, load in enumerate(loads):
            for second in range(1, int(seconds) + 1):
                count += int(load.rate_per_s)
                failures += round(load.rate_per_s * load.error_rate)
                total_ms += load.rate_per_s * load.mean_ms
                percentiles = [load.p50_ms] + [load.p95_ms] * 5 + [load.p99_ms] * 5
                for kind, name in (("GET", "default"), ("", "Aggregated")):
                    out.writerow(
                        [
                            T0 + int(index * seconds) + second,
                            int(load.rate_per_s),
                            kind,
                            name,
                            load.rate_per_s,
                            0,
                            *percentiles,
                            *(count, failures, load.p50_ms, total_ms / count, 1, 500, 2.0),
                        ]
                    )
    return path


def write_k6_points(path: Path, loads: Sequence[Load], *, seconds: float = STEP_S) -> Path:
    """k6 ``--out json`` NDJSON of a system doing ``loads``: every request's duration is the
    step's mean (so percentiles equal it), errors spread evenly."""
    lines = [
        {"type": "Metric", "data": {"type": "gauge", "contains": "default"}, "metric": "vus"},
        {
            "type": "Point",
            "data": {"time": _iso(T0), "value": 1, "tags": None},
            "metric": "vus",
        },
    ]
    for index, load in enumerate(loads):
        n = int(load.rate_per_s * seconds)
        every = round(1 / load.error_rate) if load.error_rate else 0
        for k in range(n):
            moment = T0 + index * seconds + (k + 0.5) / load.rate_per_s
            tags = {"name": "default", "method": "GET", "status": "200"}
            lines.append(
                {
                    "type": "Point",
                    "data": {"time": _iso(moment), "value": load.mean_ms, "tags": tags},
                    "metric": "http_req_duration",
                }
            )
            lines.append(
                {
                    "type": "Point",
                    "data": {
                        "time": _iso(moment),
                        "value": 1 if every and k % every == 0 else 0,
                        "tags": tags,
                    },
                    "metric": "http_req_failed",
                }
            )
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat().replace("+00:00", "Z")


def write_plan_beside(folder: Path, plan: LoadTestPlan | None = None) -> Path:
    return write_plan(plan or make_plan(), folder / "plan.json")
