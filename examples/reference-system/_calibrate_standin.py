"""TEMPORARY stand-in for helper B's ``scaleplan calibrate`` (branch ``calibrate``).

Used by tests/test_calibrate_e2e.py and benchmarks/bench_calibrate.py only while
``scaleplan.calibrate`` does not exist in this tree; delete this file once the calibrate
branch is merged. It reads the reference system's OTLP JSON lines and writes a spec the way
the calibrator is specified to: each service's own time is a span's duration less the union of
its children's intervals; the wait in the FIFO (from the server span's start to its worker
span's start) is queueing, not service time.
Fitted distribution: a gamma with the sample's mean and cv (moments).
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

INTERNAL, SERVER, CLIENT = 1, 2, 3


def _spans(paths: list[Path]) -> list[dict[str, Any]]:
    spans = []
    for path in paths:
        for line in path.read_text().splitlines():
            for resource in json.loads(line)["resourceSpans"]:
                service = next(
                    a["value"]["stringValue"]
                    for a in resource["resource"]["attributes"]
                    if a["key"] == "service.name"
                )
                for scope in resource["scopeSpans"]:
                    for span in scope["spans"]:
                        span["service"] = service
                        span["start"] = int(span["startTimeUnixNano"])
                        span["end"] = int(span["endTimeUnixNano"])
                        spans.append(span)
    return spans


def _union_ns(intervals: list[tuple[int, int]]) -> int:
    total, reach = 0, None
    for start, end in sorted(intervals):
        if reach is None or start > reach:
            total += end - start
            reach = end
        elif end > reach:
            total += end - reach
            reach = end
    return total


def calibrate(paths: list[Path], output: Path) -> dict[str, Any]:
    spans = _spans(paths)
    children: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for span in spans:
        if span.get("parentSpanId"):
            children[span["parentSpanId"]].append(span)
    roots = [span for span in spans if not span.get("parentSpanId")]
    entry = roots[0]["service"]
    own: dict[str, list[float]] = defaultdict(list)
    calls: dict[str, set[str]] = defaultdict(set)
    for span in spans:
        if span["kind"] != SERVER:
            continue
        # From the worker's start until the answer is written, less the time the services it
        # called spent on their part (their server spans): the FIFO wait before the worker
        # span is queueing (the model's, not a service time); the HTTP client/server hops and
        # the hand-back to the connection thread stay in.
        worker = next(c for c in children[span["spanId"]] if c["kind"] == INTERNAL)
        downstream = [
            server for client in children[worker["spanId"]] for server in children[client["spanId"]]
        ]
        calls[span["service"]].update(server["service"] for server in downstream)
        away = _union_ns([(server["start"], server["end"]) for server in downstream])
        own[span["service"]].append((span["end"] - worker["start"] - away) / 1e6)
    first = min(span["start"] for span in roots)
    last = max(span["start"] for span in roots)
    rate = (len(roots) - 1) / ((last - first) / 1e9)
    components = {}
    for service, times in own.items():
        mean = statistics.fmean(times)
        cv = statistics.stdev(times) / mean
        component: dict[str, Any] = {
            "kind": "service",
            "concurrency": 1,  # the caller sets the pool sizes (configuration, not telemetry)
            "service_time": {"dist": "gamma", "mean_ms": round(mean, 3), "cv": round(cv, 3)},
        }
        order = ["catalog", "orders"]  # the gateway's calls, in the order it makes them
        targets = sorted(calls.get(service, ()), key=order.index)
        if targets:
            component["calls"] = [{"to": target} for target in targets]
        components[service] = component
    spec = {
        "name": "calibrated",
        "workload": {
            "arrival": "poisson",
            "rate_per_s": round(rate, 3),
            "classes": [{"name": "order", "weight": 1}],
        },
        "entry": entry,
        "components": components,
    }
    output.write_text(yaml.safe_dump(spec, sort_keys=False))
    return spec
