"""A synthetic OTLP JSON recording of a known model, for the calibrate tests: a gateway that
calls catalog (always) then orders (with a probability), in order or in parallel, each call
through a client span of the gateway with a network gap either side. Every own time is drawn
from a known distribution and returned, so a test can check what calibrate derives.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

GAP_NS = 200_000  # 0.2 ms of network each side of a call: the gateway's own time


@dataclass
class Truth:
    """What the generator drew, by service: own times in ms, and the calls made."""

    own_ms: dict[str, list[float]] = field(default_factory=dict)
    calls: dict[tuple[str, str], int] = field(default_factory=dict)
    requests: int = 0
    first_s: float = 0.0
    last_s: float = 0.0
    latency_ms: list[float] = field(default_factory=list)


def _span(
    trace: str,
    span: str,
    parent: str | None,
    name: str,
    start: int,
    end: int,
    kind: int,
    error: bool = False,
) -> dict:
    found = {
        "traceId": trace,
        "spanId": span,
        "name": name,
        "kind": kind,
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(end),
        "attributes": [{"key": "http.route", "value": {"stringValue": name}}],
    }
    if parent:
        found["parentSpanId"] = parent
    if error:
        found["status"] = {"code": 2}
    return found


def _request(service_spans: dict[str, list[dict]]) -> str:
    return json.dumps(
        {
            "resourceSpans": [
                {
                    "resource": {
                        "attributes": [{"key": "service.name", "value": {"stringValue": svc}}]
                    },
                    "scopeSpans": [{"scope": {"name": "test"}, "spans": spans}],
                }
                for svc, spans in service_spans.items()
            ]
        }
    )


def write_otlp(
    path: Path,
    *,
    requests: int = 2000,
    rate_per_s: float = 20.0,
    orders_probability: float = 0.5,
    parallel: bool = False,
    seed: int = 7,
    start_s: float = 1_800_000_000.0,
) -> Truth:
    """Write ``requests`` traces, one ExportTraceServiceRequest per line per request."""
    rng = np.random.default_rng(seed)
    truth = Truth(own_ms={"gateway": [], "catalog": [], "orders": []})
    arrivals = start_s + np.cumsum(rng.exponential(1 / rate_per_s, requests))
    lines = []
    for i, at in enumerate(arrivals):
        trace = f"{rng.integers(1, 2**63):016x}{i:016x}"
        ids = iter(f"{i:08x}{k:08x}" for k in range(1, 100))
        t0 = int(at * 1e9)
        before = int(rng.gamma(4.0, 0.25e6))  # gateway work before its calls, mean 1 ms
        after = int(rng.gamma(4.0, 0.05e6))  # and after them, mean 0.2 ms
        catalog_ns = int(rng.lognormal(np.log(8.0), 0.5) * 1e6)
        call_orders = rng.random() < orders_probability
        orders_ns = int(rng.gamma(2.0, 10.0) * 1e6) if call_orders else 0
        root = next(ids)
        spans: dict[str, list[dict]] = {"gateway": [], "catalog": [], "orders": []}
        cursor = t0 + before
        ends = []
        for svc, own in (("catalog", catalog_ns), ("orders", orders_ns)):
            if svc == "orders" and not call_orders:
                continue
            client, server = next(ids), next(ids)
            start = t0 + before if parallel else cursor
            s_start, s_end = start + GAP_NS, start + GAP_NS + own
            c_end = s_end + GAP_NS
            spans["gateway"].append(_span(trace, client, root, f"GET {svc}", start, c_end, 3))
            spans[svc].append(_span(trace, server, client, f"GET /{svc}", s_start, s_end, 2))
            truth.own_ms[svc].append(own / 1e6)
            truth.calls[("gateway", svc)] = truth.calls.get(("gateway", svc), 0) + 1
            cursor = c_end
            ends.append(c_end)
        end = max(ends) + after
        if parallel:
            # Own time: the gateway's span less the union of its callees (server spans).
            server_spans = [s for svc in ("catalog", "orders") for s in spans[svc]]
            starts = sorted(
                (int(s["startTimeUnixNano"]), int(s["endTimeUnixNano"])) for s in server_spans
            )
            covered, reached = 0, None
            for a, b in starts:
                if reached is None or a > reached:
                    covered += b - a
                    reached = b
                elif b > reached:
                    covered += b - reached
                    reached = b
            own_gateway = (end - t0) - covered
        else:
            n_calls = 2 if call_orders else 1
            own_gateway = before + after + 2 * GAP_NS * n_calls
        truth.own_ms["gateway"].append(own_gateway / 1e6)
        spans["gateway"].insert(0, _span(trace, root, None, "GET /order", t0, end, 2))
        truth.latency_ms.append((end - t0) / 1e6)
        lines.append(_request({k: v for k, v in spans.items() if v}))
    truth.requests = requests
    truth.first_s, truth.last_s = float(arrivals[0]), float(arrivals[-1])
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return truth
